"""DLWS-CTR-005: the docker on PATH is the snap's, whose dockerd the host's NVIDIA Container Toolkit does not reach
(NVIDIA/nvidia-docker#1637: 'could not select device driver "" with capabilities: [[gpu]]'); DLWS-OS-004 then does
not ask for the host toolkit."""

from provision.inventory import containers
from provision.inventory.model import Inventory
from tests.test_doctor_rules import CASES, fired, mutate
from tests.test_nvidia import FakeHost


def test_the_probe_tells_the_snap_from_a_package():
    for path, snap in (("/snap/bin/docker", True), ("/usr/bin/docker", False)):
        inv = Inventory()
        inv.os.system = "linux"
        containers.probe(FakeHost(facts={"which:docker": path}), inv)
        assert inv.containers.docker_snap is snap
    inv = Inventory()
    inv.os.system = "linux"
    containers.probe(FakeHost(), inv)
    assert inv.containers.docker_snap is None


def test_the_snap_on_a_gpu_host_is_named_and_the_host_toolkit_not_asked_for():
    inv = mutate(CASES["DLWS-CTR-005"])
    (found,) = fired(inv, "DLWS-CTR-005")
    assert "sudo snap remove docker" in found.fix and "--runtime nvidia" in found.fix
    assert "driver=nvidia.runtime-hook" not in found.fix  # 24.0.5: before the snap's conflict with it
    inv["nvidia"]["container_toolkit"] = None
    assert not fired(inv, "DLWS-OS-004")
    inv["containers"]["docker_snap"] = False
    assert fired(inv, "DLWS-OS-004")


def test_from_29_2_the_host_toolkit_is_named_as_breaking_it():
    inv = mutate(CASES["DLWS-CTR-005"])
    inv["containers"]["docker"] = "29.2.1"
    assert "driver=nvidia.runtime-hook" in fired(inv, "DLWS-CTR-005")[0].fix
    inv["nvidia"]["container_toolkit"] = None  # no host toolkit: nothing to remove
    assert "driver=nvidia.runtime-hook" not in fired(inv, "DLWS-CTR-005")[0].fix


def test_quiet_for_a_packaged_docker_no_nvidia_gpu_or_a_container():
    for change in (lambda i: i["containers"].update(docker_snap=False),
                   lambda i: i["containers"].update(docker_snap=None),
                   lambda i: i.update(gpus=[]),
                   lambda i: i["os"].update(container="docker")):
        quiet = mutate(CASES["DLWS-CTR-005"])
        change(quiet)
        assert not fired(quiet, "DLWS-CTR-005")
