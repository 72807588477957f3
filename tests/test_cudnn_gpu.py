"""The cuDNN a framework loads against the GPU (compat.cudnn_gpu_verdict, DLWS-FW-001's cuDNN findings): NVIDIA's
support matrices (provision/knowledge/data/cudnn.json) list the compute capabilities of each release's CUDA build."""

import copy

import pytest

from provision import compat
from provision.doctor.rules.frameworks import cudnn_loaded
from provision.knowledge.cudnn import cudnn_newest_for_cc

from test_doctor_rules import fired, healthy


@pytest.mark.parametrize("cudnn,cuda,cc,kind", [
    ("9.17.0.29", "12.6", "6.1", compat.CUDNN_GPU_UNSUPPORTED),  # 9.17 lists 7.5 and up: Pascal dropped
    ("9.17.0.29", "12.6", "7.0", compat.CUDNN_GPU_UNSUPPORTED),  # and Volta
    ("9.17.0.29", "13.0", "7.5", compat.CUDNN_GPU_OK),
    ("9.10.2.21", "12.6", "6.1", compat.CUDNN_GPU_OK),  # the last row that still lists Pascal
    ("8.9.6", "11.8", "3.7", compat.CUDNN_GPU_UNSUPPORTED),  # 8.9.5-8.9.6 list 5.0 and up: no Kepler
    ("8.9.6", "12.2", "12.0", compat.CUDNN_GPU_UNKNOWN),  # above the newest it lists (9.0): not in the matrix
    ("9.14.0.64", "12.6", "6.1", compat.CUDNN_GPU_UNKNOWN),  # between the table's rows: never "fine"
    ("9.17.0.29", "11.8", "8.0", compat.CUDNN_GPU_UNKNOWN),  # 9.17 has no CUDA 11 build
    ("9.17.0.29", "12.6", None, compat.CUDNN_GPU_UNKNOWN),
])
def test_the_support_matrix_decides(cudnn, cuda, cc, kind):
    found, why = compat.cudnn_gpu_verdict(cudnn, cuda, cc)
    assert found == kind and (why == "") is (kind == compat.CUDNN_GPU_OK)


def test_the_newest_release_for_a_gpu():
    assert cudnn_newest_for_cc(9, "12.6", "6.1") == "9.10.2"
    assert cudnn_newest_for_cc(9, "12.6", "8.0") == "9.17.0"
    assert cudnn_newest_for_cc(8, "11.8", "3.7") is None  # 8.5.0, the last listing Kepler, builds for 11.0-11.7
    assert cudnn_newest_for_cc(7, "10.1", "3.7") == "7.6.5"


def pascal_box(cudnn="9.17.0.29"):
    """torch 2.7.1+cu126 (its kernels include sm_61) on a GTX 1080, with an nvidia-cudnn-cu12 upgraded past it."""
    inv = healthy()
    for gpu in inv["gpus"]:
        gpu.update(name="NVIDIA GeForce GTX 1080", compute_capability="6.1")
    inv["frameworks"]["torch"].update(version="2.7.1+cu126", build="cuda 12.6", cuda="12.6")
    inv["cudnn"] = [{"version": cudnn, "source": "pip:nvidia-cudnn-cu12", "path": None}]
    return inv


def cudnn_findings(inv):
    return [f for f in fired(inv, "DLWS-FW-001") if "cudnn" in f.evidence]


def test_a_cudnn_that_dropped_the_gpu_fires_once_per_gpu():
    found = cudnn_findings(pascal_box())
    assert len(found) == 2 and found[0].severity == "error"
    assert found[0].title == "The cuDNN torch loads (9.17.0.29) does not support this GPU"
    assert found[0].evidence["cudnn_from"] == "pip:nvidia-cudnn-cu12"
    assert found[0].evidence["judgment"] == "cuDNN 9.17.0.29 for CUDA 12.6 supports compute capability 7.5 to 12.0, " \
                                            "not 6.1"
    assert "pip install 'nvidia-cudnn-cu12==9.10.2.*'" in found[0].fix
    assert not [f for f in fired(pascal_box(), "DLWS-FW-001") if "cudnn" not in f.evidence]  # torch's kernels fit


@pytest.mark.parametrize("cudnn", ["9.10.2.21", "9.14.0.64"])  # supported; not in the table (cannot judge)
def test_a_cudnn_the_table_lists_for_the_gpu_or_does_not_know_is_quiet(cudnn):
    assert cudnn_findings(pascal_box(cudnn)) == []


def test_a_gpu_the_cudnn_supports_is_quiet():
    inv = pascal_box()
    for gpu in inv["gpus"]:
        gpu.update(name="NVIDIA GeForce RTX 3090", compute_capability="8.6")
    assert cudnn_findings(inv) == []
    assert cudnn_findings(healthy()) == []


def test_a_cudnn_on_ld_library_path_is_the_one_judged():
    inv = pascal_box("9.10.2.21")
    inv["loader_path"] = [{"path": "/usr/local/cuda-12.6/lib64", "source": "LD_LIBRARY_PATH",
                           "libraries": {"libcudnn": ["9.17.0"]}}]
    assert cudnn_loaded(inv, "torch", inv["frameworks"]["torch"]) == ("9.17.0", "/usr/local/cuda-12.6/lib64")
    (first, _) = cudnn_findings(inv)
    assert first.evidence["cudnn_from"] == "/usr/local/cuda-12.6/lib64"
    quiet = copy.deepcopy(inv)
    quiet["loader_path"][0]["source"] = "ld.so.conf"  # the wheel comes before the system's folders
    assert cudnn_loaded(quiet, "torch", quiet["frameworks"]["torch"]) == ("9.10.2.21", "pip:nvidia-cudnn-cu12")
    assert cudnn_findings(quiet) == []
