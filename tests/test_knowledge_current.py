"""Issue 11, knowledge current: on a current machine (H100, driver 595, Ubuntu 24.04, Python 3.12) `dlws setup
--dry-run --format json` plans the newest release PyPI serves for PyPI's CPython 3.12 Linux x86_64, for PyTorch,
TensorFlow and JAX. "Newest" is read from the recorded PyPI answers (tests/data/pypi, what scripts/refresh-knowledge
replays), so a re-recording that brings a release the frameworks table has no row for fails here."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "pypi")
H100 = os.path.join(ROOT, "tests", "snapshots", "h100-sxm-server")
TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")
#: framework -> the PyPI package whose wheels carry its binaries (JAX's: jaxlib), as scripts/refresh-knowledge reads.
BINARIES = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jaxlib"}


def newest_cp312_linux_x86_64(package):
    """The newest final release in the recording with a non-yanked CPython 3.12 Linux x86_64 wheel."""
    with open(os.path.join(DATA, package + ".json"), encoding="utf-8") as handle:
        releases = json.load(handle)["releases"]
    found = []
    for version, files in releases.items():
        parsed = Version(version)
        if parsed.is_prerelease or parsed.is_devrelease:
            continue
        for item in files:
            try:
                tags = parse_wheel_filename(item["filename"])[3]
            except InvalidWheelFilename:
                continue
            if not item.get("yanked") and any(t.interpreter == "cp312" and t.abi == "cp312" and (
                    t.platform.startswith("manylinux") or t.platform.startswith("linux_"))
                    and t.platform.endswith("_x86_64") for t in tags):
                found.append(parsed)
                break
    return str(max(found))


@pytest.fixture(scope="module")
def current_h100(tmp_path_factory):
    """The H100 fixture as if upgraded: Ubuntu 24.04 (glibc 2.39, its libc6 on packages.ubuntu.com/noble) and driver
    595.71.05 (CUDA 13.2, the cuda table's 13.2 Update 2 driver); GPUs, CPU and kernel as recorded."""
    folder = str(tmp_path_factory.mktemp("h100") / "h100-sxm-server")
    shutil.copytree(H100, folder)

    def edit(path, *pairs):
        with open(os.path.join(folder, path), encoding="utf-8") as handle:
            text = handle.read()
        for old, new in pairs:
            assert old in text, (path, old)
            text = text.replace(old, new)
        with open(os.path.join(folder, path), "w", encoding="utf-8") as handle:
            handle.write(text)

    edit("files/etc/os-release", ('VERSION_ID="22.04"', 'VERSION_ID="24.04"'), ("22.04.3 LTS", "24.04.3 LTS"),
         ("Jammy Jellyfish", "Noble Numbat"), ("=jammy", "=noble"))
    edit("host.json", ('"libc_version": "2.35"', '"libc_version": "2.39"'))
    edit("nvml.json", ('"driver_version": "570.195.03"', '"driver_version": "595.71.05"'),
         ('"cuda_driver_version": 12080', '"cuda_driver_version": 13020'))
    edit("files/proc/driver/nvidia/version", ("570.195.03", "595.71.05"))
    return folder


def plan(snapshot, framework, tmp_path, knowledge=None):
    env = dict(os.environ, DLWS_CACHE_DIR=str(tmp_path / "cache"))  # no `dlws knowledge update` cache of the user's
    env.pop("DLWS_KNOWLEDGE_DIR", None)
    if knowledge:
        env["DLWS_KNOWLEDGE_DIR"] = knowledge
    run = subprocess.run([sys.executable, "-m", "provision", "setup", "-f", framework, "--python", "3.12",
                          "--dry-run", "--format", "json", "--snapshot", snapshot],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_the_recordings_name_the_newest_releases():
    """Read by hand from tests/data/pypi: torch 2.15.0, tensorflow 2.21.0, jaxlib 0.12.0.1 (uploaded 2026-10-21)."""
    assert [newest_cp312_linux_x86_64(p) for p in ("torch", "tensorflow", "jaxlib")] == ["2.15.0", "2.21.0",
                                                                                         "0.12.0.1"]


@pytest.mark.parametrize("framework", sorted(BINARIES))
def test_a_current_machine_gets_the_newest_release_pypi_serves(current_h100, framework, tmp_path):
    data = plan(current_h100, framework, tmp_path)
    assert data["machine"]["os"] == "ubuntu 24.04.3" and data["machine"]["driver"] == "595.71.05"
    assert data["request"]["python"] == "3.12" and not data["impossible"]
    (picked,) = data["frameworks"]
    package = BINARIES[framework]
    assert picked["packages"][package] == newest_cp312_linux_x86_64(package), picked
    assert picked["variant"] != "cpu" and picked["cuda"]  # an H100 with driver 595 gets a CUDA build


def test_a_table_that_lags_the_recordings_fails_the_check(current_h100, tmp_path):
    """The same plans from a table without each framework's newest row: the check above would fail."""
    with open(TABLE, encoding="utf-8") as handle:
        table = json.load(handle)
    for framework in BINARIES:
        table["frameworks"][framework]["releases"].pop()  # rows are oldest first
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "frameworks.json").write_text(json.dumps(table), encoding="utf-8")
    for framework, package in BINARIES.items():
        (picked,) = plan(current_h100, framework, tmp_path, str(knowledge))["frameworks"]
        assert Version(picked["packages"][package]) < Version(newest_cp312_linux_x86_64(package)), picked
