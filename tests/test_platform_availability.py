"""Platform availability: macOS wheel floors (their macosx_X_Y tags), PyTorch's MPS floors (DLWS-FW-009), Windows
paths in the environment scan, and the CPU-only framework on native Windows (DLWS-FW-002). Each check fires and
stays quiet."""

import os

import pytest

from provision import compat
from provision.doctor import diagnose
from provision.host import member_path, windows_path
from provision.inventory import collect
from provision.inventory.environments import clean_path, prefix_of
from provision.inventory.system import mac_version
from provision.knowledge import queries
from provision.knowledge import refresh
from provision.planner.select import make_choice
from provision.snapshot import open_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOTS = os.path.join(ROOT, "tests", "snapshots")


def mac(version="14.5", arch="arm64", python="3.12.4", torch=None):
    inv = {"os": {"system": "darwin", "id": "macos", "version": version}, "cpu": {"arch": arch, "model": "Apple M1"},
           "python": {"version": python}, "gpus": [], "nvidia": {"status": "no-gpu"}, "frameworks": {}}
    if torch:
        inv["frameworks"]["torch"] = {"version": torch, "build": "metal", "package": "torch"}
    return inv


# --- the refresh pipeline derives the floors from the tags

@pytest.mark.parametrize("tag,expected", [("macosx_11_0_arm64", (["arm64"], (11, 0))),
                                          ("macosx_10_9_x86_64", (["x86_64"], (10, 9))),
                                          ("macosx_10_9_universal2", (["arm64", "x86_64"], (10, 9))),
                                          ("manylinux_2_28_x86_64", None), ("win_amd64", None)])
def test_macosx_tags_to_architectures_and_floors(tag, expected):
    assert refresh.macos_of(tag) == expected


def test_a_python_whose_wheels_need_a_newer_macos_is_kept_apart():
    files = [{"filename": "torch-2.10.0-cp312-none-macosx_11_0_arm64.whl"},
             {"filename": "torch-2.10.0-cp314-cp314-macosx_14_0_arm64.whl"},
             {"filename": "torch-2.10.0-cp312-none-macosx_10_9_x86_64.whl"}]
    derived = refresh.derive(files)
    assert derived["macos"] == {"arm64": {"3.12": "11.0", "3.14": "14.0"}, "x86_64": {"3.12": "10.9"}}
    row, report = {}, refresh.Report()
    assert refresh._write_macos(row, "macos_min_arm64", derived["macos"]["arm64"], "t", report)
    assert row == {"macos_min_arm64": "11.0", "macos_min_arm64_by_python": {"3.14": "14.0"}}
    assert not refresh._write_macos(row, "macos_min_arm64", derived["macos"]["arm64"], "t", report)  # unchanged
    refresh._write_macos(row, "macos_min_arm64", {"3.12": "11.0"}, "t", report)
    assert row == {"macos_min_arm64": "11.0"}  # no Python apart any more: the column goes


def test_the_shipped_floors_are_the_wheels():
    assert queries.macos_floor("pytorch", "2.10.0", "arm64", "3.12") == "11.0"
    assert queries.macos_floor("pytorch", "2.10.0", "arm64", "3.14.1") == "14.0"
    assert queries.macos_floor("pytorch", "2.10.0", "arm64", None) is None  # floors differ by Python
    assert queries.macos_floor("pytorch", "2.12", "arm64", "3.12") == "14.0"
    assert queries.macos_floor("tensorflow", "2.16", "arm64", "3.11") == "12.0"
    assert queries.macos_floor("pytorch", "2.2", "x86_64", "3.11") == "10.9"


# --- the judgment: a release with no wheel for this macOS is not ready

@pytest.mark.parametrize("version,ok", [("13.6.1", False), ("14.0", True), ("26.1", True)])
def test_a_macos_older_than_the_wheels_is_a_problem(version, ok):
    judged = compat.judge(mac(version), compat.Build("pytorch", "2.12", "cpu"))
    assert ("its macOS arm64 wheels for Python 3.12 need macOS >= 14.0 (this Mac has %s)" % version
            in judged.problems) is not ok


def test_the_floor_is_the_pythons():
    assert compat.macos_verdict(mac("13.6", python="3.12.4"), "pytorch", "2.10")[0] == compat.MACOS_OK
    assert compat.macos_verdict(mac("13.6", python="3.14.0"), "pytorch", "2.10")[0] == compat.MACOS_TOO_OLD


@pytest.mark.parametrize("version", [None, "10.16"])
def test_an_unknown_macos_is_unknown_not_fine(version):
    kind, why = compat.macos_verdict(mac(version), "pytorch", "2.12")
    assert kind == compat.MACOS_UNKNOWN and "macOS >= 14.0" in why
    assert compat.macos_verdict({"os": {"system": "linux"}, "cpu": {"arch": "x86_64"}}, "pytorch", "2.12")[0] == \
        compat.MACOS_NOT_MAC


# --- MPS floors

@pytest.mark.parametrize("torch,version,kind", [
    ("1.13.0.dev20220525", "12.2.1", compat.MPS_TOO_OLD),  # pytorch/pytorch#78343
    ("2.4.1", "12.7.6", compat.MPS_OK),
    ("2.5.1", "12.7.6", compat.MPS_TOO_OLD),  # pytorch/pytorch#139425
    ("2.9.1", "13.5", compat.MPS_UNKNOWN),  # 13.0 or 14.0: the sources leave it open
    ("2.9.1", "14.2", compat.MPS_OK),
    ("2.10.0", "13.7.4", compat.MPS_TOO_OLD),  # pytorch/pytorch#164943
    ("1.11.0", "12.4", compat.MPS_NONE),
])
def test_mps_floors_by_release(torch, version, kind):
    assert compat.mps_verdict(mac(version), torch)[0] == kind


def test_mps_is_not_judged_off_apple_silicon_or_without_the_real_version():
    assert compat.mps_verdict(mac("12.0", arch="x86_64"), "2.5.1")[0] == compat.MPS_NOT_APPLE
    assert compat.mps_verdict(mac("10.16"), "2.5.1")[0] == compat.MPS_UNKNOWN


def fw009(inv):
    return [f for f in diagnose(inv).findings if f.id == "DLWS-FW-009"]


def test_fw009_fires_with_an_upgrade_and_the_newest_torch_that_takes_this_macos():
    (found,) = fw009(mac("12.7.6", python="3.11.9", torch="2.5.1"))
    assert found.evidence["macos_needed"] == "13.0"
    assert found.fix.startswith("upgrade macOS to 13.0 or later")
    assert "pip install torch==2.4.1 torchvision==0.19.1 torchaudio==2.4.1" in found.fix
    assert "not judged" not in found.fix


@pytest.mark.parametrize("inv", [mac("12.7.6", torch="2.4.1"), mac("26.1", torch="2.10.0"),
                                 mac("13.5", torch="2.9.1"), mac("12.0", arch="x86_64", torch="2.2.2"), mac("12.7")])
def test_fw009_is_quiet_where_mps_works_or_cannot_be_judged(inv):
    assert fw009(inv) == []


def test_setup_promises_no_mps_where_the_macos_refuses_it():
    verdict = compat.judge(mac("12.7.6"), compat.Build("pytorch", "2.5", "cpu"))
    assert not any("uses the Apple GPU" in note for note in make_choice(verdict, "darwin").notes)
    verdict = compat.judge(mac("14.5"), compat.Build("pytorch", "2.5", "cpu"))
    assert any("uses the Apple GPU" in note for note in make_choice(verdict, "darwin").notes)


class _Host:
    def __init__(self, answer, rc=0):
        self.answer, self.rc, self.asked = answer, rc, []

    def run(self, argv, timeout=None):
        self.asked.append(list(argv))
        return type("R", (), {"ok": self.rc == 0, "stdout": self.answer})()


def test_pythons_10_16_answer_is_replaced_by_sw_vers():
    assert mac_version(_Host("15.3\n"), "10.16") == "15.3"
    assert mac_version(_Host("garbage"), "10.16") == "10.16"  # then the judgment calls it unknown
    host = _Host("15.3\n")
    assert mac_version(host, "14.5") == "14.5" and host.asked == []


# --- Windows paths and the CPU-only torch of PyPI on native Windows

def test_windows_paths_are_paths():
    assert windows_path("C:\\Users\\u") and windows_path("\\\\server\\share") and not windows_path("/home/u")
    assert clean_path("C:\\Users\\u\\anaconda3\\") == "C:\\Users\\u\\anaconda3"
    assert clean_path("C:/Users/u") == "C:\\Users\\u"
    assert clean_path("relative\\path") is None and clean_path("C:rel") is None
    assert prefix_of("C:\\u\\venv\\Scripts\\python.exe") == "C:\\u\\venv"
    assert prefix_of("C:\\u\\anaconda3\\python.exe") == "C:\\u\\anaconda3"
    assert member_path("C:\\Users\\u\\x/torch/version.py") == "C:/Users/u/x/torch/version.py"
    assert member_path("/etc/os-release") == "etc/os-release"


def test_the_windows_environment_is_read_through_the_host():
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "windows11-rtx4080-laptop-torch222-pypi-cpu"))).to_dict()
    assert inv["frameworks"]["torch"]["version"] == "2.2.2" and inv["frameworks"]["torch"]["build"] == "cpu"
    (env,) = inv["environments"]
    assert env["path"] == "C:\\Users\\user\\anaconda3" and env["active"]


def windows_gpu(framework, version):
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "windows11-rtx4080-laptop-torch222-pypi-cpu"))).to_dict()
    inv["frameworks"] = {framework: {"version": version, "build": "cpu", "package": framework}}
    return [f for f in diagnose(inv).findings if f.id == "DLWS-FW-002"]


def test_fw002_on_windows_installs_from_pytorchs_cuda_index_with_pip():
    (found,) = windows_gpu("torch", "2.2.2")
    assert found.fix.startswith("pip install --force-reinstall torch==")
    assert "--index-url https://download.pytorch.org/whl/cu" in found.fix
    assert "sudo" not in found.fix and "apt" not in found.fix


def test_tensorflow_after_2_10_on_native_windows_is_sent_to_wsl2_or_2_10():
    (found,) = windows_gpu("tensorflow", "2.15.0")
    assert found.fix.startswith("TensorFlow 2.15.0 publishes no CUDA build for this platform (windows_amd64); 2.10 "
                                "was the last that did: run it in WSL2, or ")
    (old,) = windows_gpu("tensorflow", "2.10.0")
    assert "WSL2" not in old.fix  # 2.10 has a Windows CUDA build: only the reinstall
