"""CUDA 13.4 (GA = 13.4.1, driver 615.71.09 from third-party evidence, unverified) and no 13.5 row: its driver was
not read, so a 13.5 question stays unknown."""

from provision.knowledge import load
from provision.knowledge import queries as q


def test_cuda_134_row_is_marked_and_used():
    row = next(t for t in load("cuda")["toolkits"] if t["version"] == "13.4")
    assert row["verified"] is False and row["releases"][0]["release"] == "13.4.1"
    assert q.min_driver_for_cuda("13.4") == "615.71.09"
    assert q.max_cuda_for_driver("615.71.09") == "13.4"
    assert q.max_cuda_for_driver("610.43.02") == "13.3"  # below 13.4's driver
    assert q.cuda_supports_cc("13.4", "6.1") is False  # CUDA 13 dropped Pascal


def test_no_cuda_135_row_until_its_driver_is_read():
    assert q.min_driver_for_cuda("13.5") is None
