"""DLWS-CTR-006: a Kubernetes node whose containerd registers NVIDIA's runtime but does not run it by default
(NVIDIA/nvidia-container-runtime#147: pods without a RuntimeClass get no GPU; default_runtime_name = "nvidia" fixed
it); the probe reads /etc/containerd/config.toml (versions 1-3) and its conf.d drop-ins."""

from provision.inventory import containers
from tests.test_doctor_rules import CASES, fired, mutate
from tests.test_nvidia import FakeHost

V2 = """version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "%s"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
      BinaryName = "/usr/bin/nvidia-container-runtime"
"""
#: containerd 2.x (config version 3), as nvidia-ctk writes it (NVIDIA/gpu-operator#1374 shows this form).
V3 = """version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia.options]
  BinaryName = '/usr/local/nvidia/toolkit/nvidia-container-runtime'
"""


def config(files):
    return containers.containerd_config(FakeHost(files=files))


def test_the_probe_reads_runtimes_the_nvidia_ones_and_the_default():
    assert config({"/etc/containerd/config.toml": V2 % "runc"}) == {
        "runtimes": ["runc", "nvidia"], "nvidia": ["nvidia"], "default": "runc"}
    assert config({"/etc/containerd/config.toml": V3}) == {"runtimes": ["nvidia"], "nvidia": ["nvidia"],
                                                           "default": None}
    assert config({}) is None


def test_drop_ins_of_an_imported_folder_are_folded_in_and_other_imports_are_unknown():
    main = 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'
    merged = config({"/etc/containerd/config.toml": main, "/etc/containerd/conf.d/99-nvidia.toml": V2 % "nvidia"})
    assert merged == {"runtimes": ["runc", "nvidia"], "nvidia": ["nvidia"], "default": "nvidia"}
    assert config({"/etc/containerd/config.toml": 'imports = ["/opt/containerd.toml"]\n'}) is None


def test_a_node_whose_default_is_not_nvidias_is_named():
    (found,) = fired(mutate(CASES["DLWS-CTR-006"]), "DLWS-CTR-006")
    assert "--set-as-default" in found.fix and "handler: nvidia" in found.fix
    unset = mutate(CASES["DLWS-CTR-006"])
    unset["containers"]["containerd_default_runtime"] = None
    assert fired(unset, "DLWS-CTR-006")[0].evidence["default_runtime_name"] == "runc (not set)"


def test_quiet_with_nvidia_the_default_no_nvidia_runtime_no_kubelet_or_inside_a_container():
    for change in (lambda i: i["containers"].update(containerd_default_runtime="nvidia"),
                   lambda i: i["containers"].update(containerd_nvidia_runtimes=[]),
                   lambda i: i["containers"].update(containerd_nvidia_runtimes=None),
                   lambda i: i["containers"].update(kubelet=False),
                   lambda i: i["os"].update(container="kubernetes")):
        quiet = mutate(CASES["DLWS-CTR-006"])
        change(quiet)
        assert not fired(quiet, "DLWS-CTR-006")
