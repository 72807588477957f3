"""dlws fleet gather over mixed architectures: this x86_64 machine and an aarch64 Debian 12 root whose Python runs
under qemu-user (scripts/arm64-host builds it; .ci/run does, as root). Both hosts use the local connection; the
arm64 host's ansible_python_interpreter is the script's wrapper, so the modules run on an aarch64 Python.

Skipped without a root built by scripts/arm64-host at the default path (${XDG_CACHE_HOME:-~/.cache}/dlws/
arm64-bookworm); DLWS_ARM64_ROOT names another one, and fails the test if it is not such a root."""

import json
import os
import platform
import subprocess
import sys

import pytest

from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE
from provision.snapshot import open_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "arm64-host")
QEMU = "/usr/bin/qemu-aarch64-static"
STAMP = ".dlws-arm64-root"  # scripts/arm64-host writes it once a root's Python ran


def default_root():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "dlws", "arm64-bookworm")


def arm64_root():
    """The built root, or skip (none at the default path) or fail (DLWS_ARM64_ROOT names no built root)."""
    named = os.environ.get("DLWS_ARM64_ROOT")
    root = os.path.realpath(named or default_root())
    built = os.path.isfile(os.path.join(root, STAMP))
    if named and not built:
        pytest.fail("DLWS_ARM64_ROOT=%s is no root scripts/arm64-host built (no %s there)" % (named, STAMP))
    if not built:
        pytest.skip("no arm64 Debian root at %s: build one with scripts/arm64-host (root and apt, about 2.5 min) "
                    "or name one with DLWS_ARM64_ROOT" % root)
    if platform.machine() != "x86_64":
        pytest.skip("mixed architectures need an x86_64 controller; this one is %s" % platform.machine())
    if not os.access(QEMU, os.X_OK):
        pytest.skip("%s is missing (apt-get install qemu-user-static)" % QEMU)
    return root


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, **kwargs)


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = arm64_root()
    made = run([SCRIPT, root])  # a built root is only checked; prints the interpreter's wrapper
    assert made.returncode == 0, made.stderr
    wrapper = made.stdout.strip().splitlines()[-1]
    tmp = tmp_path_factory.mktemp("arm64")
    hosts = {"x86": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
             "arm64": {"ansible_connection": "local", "ansible_python_interpreter": wrapper}}
    inventory = tmp / "hosts.json"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    (tmp / "ansible.cfg").write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp / "ansible.cfg"), ANSIBLE_HOME=str(tmp / "ansible"),
               ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"), ANSIBLE_REMOTE_TMP=str(tmp / "ansible-remote"),
               ANSIBLE_NOCOLOR="1", XDG_CACHE_HOME=str(tmp / "cache"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    out = tmp / "out"
    gathered = run([sys.executable, "-m", "provision", "fleet", "gather", "-i", str(inventory), "-o", str(out)],
                   env=env)
    return {"root": root, "out": out, "gathered": gathered}


def test_both_architectures_are_gathered(fleet):
    gathered, out = fleet["gathered"], fleet["out"]
    assert gathered.returncode == 0, gathered.stdout + gathered.stderr
    assert "gathered 2 of 2 hosts" in gathered.stderr
    for name in ("x86", "arm64"):
        assert read_json(str(out / name / STATUS_FILE))["status"] == "ok"
        assert read_json(str(out / name / DOCTOR_FILE))["schema"] == "dlws.doctor/1"


def test_the_arm64_host_ran_on_an_aarch64_python_and_knew_it_was_emulated(fleet):
    doctor = read_json(str(fleet["out"] / "arm64" / DOCTOR_FILE))
    inventory = doctor["inventory"]
    assert inventory["cpu"]["arch"] == "aarch64"
    # /proc/cpuinfo is this kernel's (x86_64) under qemu-user: that mismatch is what os.emulation reads.
    assert inventory["os"]["emulation"] == "qemu-user"
    assert "DLWS-EMU-004" in [finding["id"] for finding in doctor["findings"]]
    # Files are the root's where it has them: its Debian point release, not this machine's.
    with open(os.path.join(fleet["root"], "etc", "debian_version"), encoding="utf-8") as handle:
        assert inventory["os"]["version"] == handle.read().strip()
    snapshot = open_snapshot(str(fleet["out"] / "arm64" / SNAPSHOT_FILE))
    assert snapshot.fact("platform")["machine"] == "aarch64"
    assert snapshot.fact("python")["executable"] == os.path.join(fleet["root"], "usr", "bin", "python3")


def test_the_x86_host_is_native(fleet):
    doctor = read_json(str(fleet["out"] / "x86" / DOCTOR_FILE))
    assert doctor["inventory"]["cpu"]["arch"] == "x86_64"
    assert doctor["inventory"]["os"]["emulation"] is None
    assert "DLWS-EMU-004" not in [finding["id"] for finding in doctor["findings"]]
    assert open_snapshot(str(fleet["out"] / "x86" / SNAPSHOT_FILE)).fact("platform")["machine"] == "x86_64"
