"""DLWS-CTR-004: the NVIDIA Container Toolkit's hook runs the host ldconfig config.toml names ("@" path); one the host
lacks (Ubuntu's ldconfig.real on Debian: NVIDIA/nvidia-docker#614) fails every GPU container."""

import json

from provision.inventory import containers
from provision.inventory.model import Inventory
from provision.snapshot import open_snapshot
from tests.test_doctor_rules import CASES, fired, mutate

CONFIG = """[nvidia-container-cli]
#ldconfig = "@/usr/sbin/ldconfig"
ldcache = "/etc/ld.so.cache"
ldconfig = "%s"
"""


def snapshot(tmp_path, ldconfig, listings):
    """A host with the toolkit's config.toml naming that ldconfig, and those folder listings."""
    folder = tmp_path / "snap"
    (folder / "files/etc/nvidia-container-runtime").mkdir(parents=True)
    (folder / "files/etc/nvidia-container-runtime/config.toml").write_text(CONFIG % ldconfig)
    (folder / "MANIFEST.json").write_text(json.dumps({"format": "dlws-snapshot/1"}))
    (folder / "host.json").write_text(json.dumps({"facts": {"platform": {"system": "linux"}}, "listdir": listings}))
    inv = Inventory()
    inv.os.system = "linux"
    containers.probe(open_snapshot(str(folder)), inv)
    return inv.containers


def test_the_probe_reads_the_ldconfig_and_whether_the_host_has_it(tmp_path):
    c = snapshot(tmp_path, "@/sbin/ldconfig.real", {"/sbin": ["ldconfig", "mkfs"], "/usr/sbin": ["ldconfig"]})
    assert (c.toolkit_ldconfig, c.toolkit_ldconfig_exists) == ("@/sbin/ldconfig.real", False)
    assert c.host_ldconfigs == ["/sbin/ldconfig", "/usr/sbin/ldconfig"]
    c = snapshot(tmp_path / "ubuntu", "@/sbin/ldconfig.real", {"/sbin": ["ldconfig", "ldconfig.real"]})
    assert c.toolkit_ldconfig_exists is True and c.host_ldconfigs == ["/sbin/ldconfig.real", "/sbin/ldconfig"]


def test_an_unread_folder_or_a_container_path_is_unknown(tmp_path):
    """A snapshot without the folder's listing (an older one) cannot say the file is missing; a path without "@"
    is the container's, not the host's."""
    c = snapshot(tmp_path, "@/sbin/ldconfig.real", {})
    assert c.toolkit_ldconfig == "@/sbin/ldconfig.real" and c.toolkit_ldconfig_exists is None
    assert c.host_ldconfigs is None
    c = snapshot(tmp_path / "inside", "/sbin/ldconfig", {"/sbin": []})
    assert c.toolkit_ldconfig == "/sbin/ldconfig" and c.toolkit_ldconfig_exists is None


def test_a_missing_host_ldconfig_is_named_with_the_one_the_host_has():
    inv = mutate(CASES["DLWS-CTR-004"])
    (found,) = fired(inv, "DLWS-CTR-004")
    assert 'ldconfig = "@/sbin/ldconfig"' in found.fix and found.evidence["ldconfig"] == "@/sbin/ldconfig.real"
    inv["containers"]["host_ldconfigs"] = ["/sbin/ldconfig", "/sbin/ldconfig.real"]  # Ubuntu's real one first
    assert 'ldconfig = "@/sbin/ldconfig.real"' in fired(inv, "DLWS-CTR-004")[0].fix
    inv["containers"]["host_ldconfigs"] = []
    assert "command -v ldconfig" in fired(inv, "DLWS-CTR-004")[0].fix


def test_quiet_where_the_ldconfig_is_there_unknown_or_the_containers():
    for fields in ({"toolkit_ldconfig_exists": True}, {"toolkit_ldconfig_exists": None},
                   {"toolkit_ldconfig": "/sbin/ldconfig"}, {"toolkit_ldconfig": None}):
        quiet = mutate(CASES["DLWS-CTR-004"])
        quiet["containers"].update(fields)
        assert not fired(quiet, "DLWS-CTR-004"), fields
    inside = mutate(CASES["DLWS-CTR-004"])
    inside["os"]["container"] = "docker"
    assert not fired(inside, "DLWS-CTR-004")

