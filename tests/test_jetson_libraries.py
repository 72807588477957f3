"""DLWS-JET-002: a Jetson torch that links system libraries this JetPack lacks. A wheel built for another JetPack
(the one whose CUDA it records) asks for that JetPack's libcublas/libcudnn majors; torch 2.8's Jetson builds link
cuDSS, which no JetPack installs (NVIDIA/Isaac-GR00T#343), judged on the loader's folders."""

import copy
import os

from provision import compat_jetson
from provision.doctor import diagnose
from provision.inventory import collect
from provision.knowledge import queries
from provision.snapshot import open_snapshot

HERE = os.path.dirname(__file__)
GR00T = os.path.join(HERE, "snapshots", "jetson-orin-jp62-torch280-jetson-ai-lab-no-cudss")
NANO = os.path.join(HERE, "snapshots", "jetson-nano-jp44-torch140-jp42-wheel-no-libcudart100")
ORIN = os.path.join(HERE, "snapshots", "jetson-agx-orin")
V61 = queries.jetpack_wheel("36.4.3", "pytorch")["url"]


def gr00t():
    return collect(open_snapshot(GR00T)).to_dict()


def with_torch(inv, version, cuda, build=None):
    inv = copy.deepcopy(inv)
    inv["frameworks"]["torch"] = {"version": version, "build": build or "cuda %s" % cuda, "cuda": cuda}
    return inv


def finding(inv):
    return {f.id: f for f in diagnose(inv).findings}.get("DLWS-JET-002")


# --- knowledge ------------------------------------------------------------------------------------------------------

def test_the_jetpack_a_wheel_was_built_for_comes_from_its_cuda():
    assert queries.jetpack_built_for("11.4")["cudnn_major"] == 8 and "5.1.2" in queries.jetpack_built_for("11.4")["jetpack"]
    assert queries.jetpack_built_for("12.6")["cudnn_major"] == 9
    assert queries.jetpack_built_for("12.2")["verified"] is False  # JetPack 6.0's cuDNN is unverified in the table
    for unknown in ("13.0", "12.8", None, 12.6, ""):
        assert queries.jetpack_built_for(unknown) is None
    assert [row["soname"] for row in queries.system_libraries("pytorch")] == ["libcudss.so.0"]
    assert queries.system_libraries("tensorflow") == []


def test_the_cuda_runtime_soname_carries_the_minor_before_cuda_11():
    assert compat_jetson.cudart_soname("10.0") == ("libcudart.so.10.0", "10.0")
    assert compat_jetson.cudart_soname("10.2")[0] == "libcudart.so.10.2"
    assert compat_jetson.cudart_soname("11.4") == ("libcudart.so.11.0", "11")
    assert compat_jetson.cudart_soname("12.6") == ("libcudart.so.12", "12")


def test_the_loader_probe_records_cudss():
    inv = gr00t()
    folder = next(f for f in inv["loader_path"] if f["path"] == "/usr/lib/aarch64-linux-gnu")
    assert "libcudss" not in folder["libraries"] and folder["libraries"]["libcudnn"] == ["9"]


# --- cuDSS ----------------------------------------------------------------------------------------------------------

def test_torch_28_without_cudss_on_the_loader_path_is_an_error_naming_the_apt_package():
    found = finding(gr00t())
    assert found.severity == "error" and found.evidence["missing"] == ["libcudss.so.0"]
    assert "sudo apt-get -y install cudss" in found.fix and "repos/ubuntu2204/arm64/cuda-keyring" in found.fix
    assert V61 in found.fix  # or NVIDIA's torch for this JetPack, which links no cuDSS


def test_cudss_installed_where_the_loader_looks_is_quiet():
    inv = gr00t()
    for folder in inv["loader_path"]:
        if folder["path"] == "/usr/lib/aarch64-linux-gnu":
            folder["libraries"]["libcudss"] = ["0.6.0"]
    assert finding(inv) is None
    inv = gr00t()
    inv["loader_path"].insert(0, {"path": "/opt/cudss/lib", "source": "LD_LIBRARY_PATH",
                                  "libraries": {"libcudss": ["0"]}})
    assert finding(inv) is None


def test_an_unread_loader_path_is_a_warning_that_cannot_tell():
    inv = gr00t()
    inv["loader_path"] = [f for f in inv["loader_path"] if f["source"] != "default"]
    found = finding(inv)
    assert found.severity == "warning" and "libcudss.so.0" in found.evidence["cannot_judge"][0]


def test_a_torch_before_28_needs_no_cudss():
    assert finding(with_torch(gr00t(), "2.7.0", "12.6")) is None
    assert finding(with_torch(gr00t(), "2.8.0a0+5228986c39.nv25.06", "12.6")) is not None  # a pre-release is of 2.8


# --- a wheel built for another JetPack ------------------------------------------------------------------------------

def test_a_jetpack_5_wheel_on_jetpack_6_misses_cuda_11_and_cudnn_8():
    found = finding(with_torch(gr00t(), "2.1.0a0+41361538.nv23.06", "11.4"))
    assert found.severity == "error" and found.evidence["missing"] == ["libcudart.so.11.0", "libcudnn.so.8"]
    assert "JetPack 5.1" in found.evidence["why"][0] and "JetPack 6.2" in found.evidence["why"][0]
    assert V61 in found.fix and "apt-get" not in found.fix


def test_a_jetpack_60_wheel_on_jetpack_62_misses_cudnn_8_only():
    found = finding(with_torch(gr00t(), "2.4.0a0+07cecf4168.nv24.05", "12.2"))
    assert found.evidence["missing"] == ["libcudnn.so.8"] and "unverified" in found.evidence["why"][0]
    inv = with_torch(gr00t(), "2.4.0a0+07cecf4168.nv24.05", "12.2")
    for folder in inv["loader_path"]:
        if folder["path"] == "/usr/lib/aarch64-linux-gnu":
            folder["libraries"]["libcudnn"] = ["8.9.4", "9"]  # libcudnn8 installed beside JetPack's cuDNN 9
    assert finding(inv) is None


def test_the_wheel_of_this_jetpack_and_other_builds_are_left_alone():
    inv = gr00t()
    assert finding(with_torch(inv, "2.5.0a0+872d972e41.nv24.08", "12.6")) is None
    assert finding(with_torch(inv, "2.7.1+cpu", None, build="cpu")) is None  # DLWS-JET-001's
    assert finding(with_torch(inv, "2.8.0+cu128", "12.8")) is None  # a generic SBSA wheel: DLWS-JET-001's
    assert finding(with_torch(inv, "2.8.0", "13.0")) is None  # a newer CUDA major: the driver's verdict (FW-003)
    jp5 = copy.deepcopy(inv)
    jp5["jetson"]["l4t"] = "35.4.1"
    assert finding(with_torch(jp5, "2.5.0a0+872d972e41.nv24.08", "12.6")) is None
    unknown = copy.deepcopy(inv)
    unknown["jetson"]["l4t"] = "38.2.0"
    assert finding(unknown) is None and compat_jetson.missing_libraries(unknown, "pytorch", "2.8.0", "12.6") == ([], [])
    assert finding(collect(open_snapshot(ORIN)).to_dict()) is None  # no torch


def test_a_jetpack_42_wheel_on_jetpack_44_misses_cuda_100_and_cudnn_7():
    inv = collect(open_snapshot(NANO)).to_dict()
    found = finding(inv)
    assert found.severity == "error" and found.evidence["missing"] == ["libcudart.so.10.0", "libcudnn.so.7"]
    assert "JetPack 4.2.2, 4.3" in found.evidence["why"][0] and "JetPack 4.4" in found.evidence["why"][0]
    assert all("JetPack 4.4" in why for why in found.evidence["why"]) and "unverified" in found.evidence["why"][-1]
    assert "pytorch-for-jetson" in found.fix and "another JetPack" in found.fix
    assert finding(with_torch(inv, "1.6.0", "10.2")) is None  # JetPack 4.4's own
    for folder in inv["loader_path"]:  # CUDA 10.0 and cuDNN 7 installed beside JetPack 4.4's
        if folder["path"] == "/usr/lib/aarch64-linux-gnu":
            folder["libraries"].update(libcudart=["10.0.326"], libcudnn=["7.6.3", "8.0.0"])
    assert finding(inv) is None


def test_a_newer_jetpack_wheel_of_the_same_cuda_major_misses_its_cudnn():
    inv = gr00t()
    inv["jetson"]["l4t"] = "36.3.0"  # JetPack 6.0: CUDA 12.2, cuDNN 8.9
    for folder in inv["loader_path"]:
        if folder["path"] == "/usr/lib/aarch64-linux-gnu":
            folder["libraries"]["libcudnn"] = ["8"]
    found = finding(with_torch(inv, "2.5.0a0+872d972e41.nv24.08", "12.6"))
    assert found.evidence["missing"] == ["libcudnn.so.9"]


def test_the_import_errors_point_at_this_check():
    from provision.knowledge.error_signatures import error_signatures

    for text in ("ImportError: libcudss.so.0: cannot open shared object file: No such file or directory",
                 "ImportError: libcudart.so.10.0: cannot open shared object file: No such file or directory"):
        checks = {check for sig in error_signatures() if sig.regex.search(text)
                  for cause in sig.causes for check in cause.checks}
        assert "DLWS-JET-002" in checks, text


def test_an_sbsa_cuda_torch_on_an_l4t_release_dlws_does_not_know_cannot_be_judged():
    """JetPack 7 (L4T R38, Thor) runs SBSA CUDA (agentculture/microduck-cli docs/verification/2026-09-04-thor-sanity.md:
    torch 2.9.1 from pypi.jetson-ai-lab.io/sbsa/cu130 'cuda 13.0 available True' on L4T R38.2.2)."""
    thor = collect(open_snapshot(ORIN)).to_dict()
    thor["jetson"]["l4t"] = "38.2.2"
    found = {f.id: f for f in diagnose(with_torch(thor, "2.9.1+cu130", "13.0")).findings}["DLWS-JET-001"]
    assert found.severity == "info" and "sbsa/cu130" in found.fix
    cpu = {f.id: f for f in diagnose(with_torch(thor, "2.9.1+cpu", None, build="cpu")).findings}["DLWS-JET-001"]
    assert cpu.severity == "warning"  # a CPU build has no CUDA anywhere
    known = {f.id: f for f in diagnose(with_torch(gr00t(), "2.7.0+cu126", "12.6")).findings}["DLWS-JET-001"]
    assert known.severity == "warning" and V61 in known.fix  # JetPack 6.2: the SBSA wheel does not run
