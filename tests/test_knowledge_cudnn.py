"""The cudnn table (NVIDIA's cuDNN support matrices): a release's CUDA builds, their drivers and the GPUs each
supports; what the table lacks is unknown (None), never fine."""

import pytest

from provision.knowledge import load
from provision.knowledge import queries as q


def test_each_major_and_its_cuda_majors():
    assert q.cudnn_cuda_majors("7.6.5") == [9, 10]
    assert q.cudnn_cuda_majors("8.2.2") == [10, 11]
    assert q.cudnn_cuda_majors("8.9.7") is None  # between the rows read: not judged
    assert q.cudnn_cuda_majors("9.0.0") == [11, 12]
    assert q.cudnn_cuda_majors("9.17.0") == [12, 13]  # CUDA 11 left
    assert q.cudnn_release("8.9.6")["first"] == "8.9.5" and q.cudnn_release("9.1.0.70") is None
    assert {row["major"] for row in load("cudnn")["releases"]} == {7, 8, 9}


@pytest.mark.parametrize("version,cuda,cc,supported", [
    ("7.6.0", "10.1", "3.0", True),  # Kepler (3.x) in cuDNN 7
    ("8.2.2", "10.2", "3.0", True),  # SM 3.0 and later with CUDA 10.2
    ("8.2.2", "11.4", "3.0", False),  # SM 3.5 and later with CUDA 11
    ("8.2.2", "11.4", "3.7", True),  # a K80 on cuDNN 8.2
    ("8.9.6", "11.8", "3.7", False),  # Kepler is gone from 8.9
    ("9.0.0", "12.3", "5.2", True),  # Maxwell still in cuDNN 9.0
    ("9.17.0", "12.9", "6.1", False),  # no Pascal in 9.17
    ("9.17.0", "13.0", "7.5", True),
    ("9.10.2", "12.8", "12.0", True),  # Blackwell with CUDA 12.8
    ("9.10.2", "12.4", "12.0", None),  # above the newest the CUDA 12.0-12.9 build lists: not judged
    ("9.17.0", "11.8", "8.0", None),  # no CUDA 11 build in the table
    ("8.7.0", "11.8", "8.0", None),  # a release the table lacks
    ("9.0.0", "12.3", "garbage", None),
])
def test_compute_capability_support(version, cuda, cc, supported):
    assert q.cudnn_supports_cc(version, cuda, cc) is supported


def test_minimum_drivers():
    assert q.cudnn_min_driver("9.10.2", "12.8") == "570.26"  # the Blackwell build needs the 570 driver
    assert q.cudnn_min_driver("9.10.2", "12.4") == "525.60.13"
    assert q.cudnn_min_driver("9.10.2", "12.8", "windows") == "570.65"
    assert q.cudnn_min_driver("9.17.0", "13.1") == "580.65.06"
    assert q.cudnn_min_driver("9.17.0", "13.1", "windows") is None  # N/A in the matrix
    assert q.cudnn_min_driver("8.5.0", "11.7") is None  # the matrix names none
    assert q.cudnn_min_driver("8.2.2", "11.3") == "465"  # a branch where the matrix says r465
    assert q.cudnn_min_driver(None, "11.3") is None and q.cudnn_min_driver("9.0.0", "garbage") is None


def test_every_cuda_13_build_supports_only_what_cuda_13_compiles_for():
    floor = next(t["cc_min"] for t in load("cuda")["toolkits"] if t["version"] == "13.0")
    for row in load("cudnn")["releases"]:
        for build in row["builds"]:
            if build["cuda_min"].startswith("13."):
                assert build["cc_min"] == floor, row["first"]
