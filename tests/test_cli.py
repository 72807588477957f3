"""The command line: help with examples, version, exit codes, one-line errors."""

import json
import subprocess
import sys

import pytest

from provision import __version__


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


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
