"""The command line: help with examples, version, exit codes, one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from provision import __version__


SNAPSHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots")


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def dlws_bytes(args, **locale):
    """dlws's raw stdout and stderr under the given locale variables alone (no PYTHONIOENCODING, PYTHONUTF8)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANG", "LANGUAGE", "PYTHONIOENCODING", "PYTHONUTF8") and not k.startswith("LC_")}
    result = subprocess.run([sys.executable, "-m", "provision"] + args, capture_output=True, timeout=120,
                            stdin=subprocess.DEVNULL, env=dict(env, **locale))
    return result.stdout, result.stderr


def test_version():
    result = dlws("--version")
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize("command", [[], ["inventory"], ["snapshot"]])
def test_help_has_examples_and_exit_codes(command):
    result = dlws(*command, "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout
    assert "Exit codes:" in result.stdout


def test_inventory_json_has_the_contract_keys():
    result = dlws("inventory", "--json")
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert inv["schema"] == "dlws.inventory/1"
    for section, keys in {
        "cpu": ["vendor", "model", "arch", "physical_cores", "logical_cores", "flags", "x86_64_level"],
        "memory": ["total_bytes", "available_bytes", "swap_total_bytes"],
        "os": ["system", "id", "version", "kernel", "glibc", "wsl", "container"],
        "nvidia": ["driver_version", "cuda_driver_version"],
        "python": ["version", "executable"],
    }.items():
        for key in keys:
            assert key in inv[section], (section, key)
    assert inv["cpu"]["flags"] == sorted(inv["cpu"]["flags"])
    for key in ("disks", "gpus", "cudnn", "errors"):
        assert isinstance(inv[key], list)
    assert isinstance(inv["cuda"]["toolkits"], list) and isinstance(inv["frameworks"], dict)
    for disk in inv["disks"]:
        assert set(disk) >= {"mountpoint", "device", "fstype", "total_bytes", "free_bytes", "media"}


def test_inventory_text_summary():
    result = dlws("inventory")
    assert result.returncode == 0, result.stderr
    for label in ("CPU", "Memory", "OS", "GPUs", "Python"):
        assert label in result.stdout


def test_unknown_option_is_usage_error():
    result = dlws("inventory", "--no-such-option")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_snapshot_needs_an_output():
    assert dlws("snapshot").returncode == 2


def test_snapshot_of_a_snapshot_is_refused(tmp_path):
    (tmp_path / "files").mkdir()
    result = dlws("snapshot", "-o", str(tmp_path / "x.tar.gz"), "--snapshot", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_unwritable_snapshot_output_is_a_one_line_error(tmp_path):
    result = dlws("snapshot", "-o", "/proc/forbidden/box.tar.gz")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("dlws: error: cannot write snapshot")
    assert len(result.stderr.strip().splitlines()) == 1


COMMANDS = [["inventory"], ["doctor", "--snapshot", os.path.join(SNAPSHOTS, "h100-sxm-server")],
            ["setup", "-f", "pytorch", "--dry-run", "--snapshot", os.path.join(SNAPSHOTS, "h100-sxm-server")]]


@pytest.mark.parametrize("locale", [{"LANG": "C", "LC_ALL": "C"}, {"LANG": "C.UTF-8", "LC_ALL": "POSIX"}, {}],
                         ids=["C", "LC_ALL-wins", "unset"])
def test_a_locale_without_utf8_gets_ascii(locale):
    for args in COMMANDS:
        stdout, stderr = dlws_bytes(args, **locale)
        assert stdout and stdout.isascii() and stderr.isascii(), args


def test_a_utf8_locale_keeps_utf8_and_the_script_is_the_same_bytes_in_any_locale():
    stdout, _ = dlws_bytes(["inventory"], LANG="en_US.UTF-8")  # installed here or not
    assert " \u00b7 ".encode() in stdout  # the summary's separator
    setup = COMMANDS[2] + ["--env", "/opt/caf\u00e9"]  # a script is exact bytes, never transliterated
    script = dlws_bytes(setup, LANG="C", LC_ALL="C")[0]
    assert "/opt/caf\u00e9".encode() in script and script == dlws_bytes(setup, LANG="C.UTF-8")[0]
