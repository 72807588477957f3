"""The doctor's text report reads like a report: evidence in words, one finding for identical GPUs, short lines."""

import json

import pytest

from provision.doctor.model import Finding, Report
from provision.doctor.report import to_json, to_text
from test_doctor_fixtures import FIXTURES, doctor

TARGETS = ("pytorch", "tensorflow", "jax", "mxnet", "pytorch==2.4")


def text(name):
    return to_text(doctor(name, targets=TARGETS), colour=False)


@pytest.mark.parametrize("name", FIXTURES)
def test_no_line_is_longer_than_120_characters_and_no_value_is_a_python_repr(name):
    report = text(name)
    long = [line for line in report.splitlines() if len(line) > 120]
    assert not long, long
    assert "{'" not in report and "['" not in report


def test_identical_findings_on_identical_gpus_are_one_in_the_text_and_stay_one_per_gpu_in_json():
    report = doctor("h100-sxm-server")
    busy = [line for line in to_text(report, colour=False).splitlines() if "[DLWS-GPU-007]" in line]
    assert busy == ["  [DLWS-GPU-007] GPU memory is already taken by other processes — GPUs 0–7 "
                    "(NVIDIA H100 80GB HBM3)"]
    assert len([f for f in json.loads(to_json(report))["findings"] if f["id"] == "DLWS-GPU-007"]) == 8


def _gpu_finding(index, fix="reseat it", model="NVIDIA A100"):
    label = "GPU %d (%s)" % (index, model)
    return Finding("DLWS-GPU-004", "warning", "narrow", {"gpu": label, "width_current": 8}, fix, subject=label)


def test_only_identical_findings_group_and_the_gpus_read_as_ranges():
    report = Report(inventory={}, fail_on="error")
    report.add("DLWS-GPU-004", [_gpu_finding(0), _gpu_finding(1), _gpu_finding(2), _gpu_finding(5),
                                _gpu_finding(3, fix="another fix"), _gpu_finding(4, model="NVIDIA H100")])
    lines = [line for line in to_text(report, colour=False).splitlines() if "[DLWS-GPU-004]" in line]
    assert lines == ["  [DLWS-GPU-004] narrow — GPUs 0–2, 5 (NVIDIA A100)", "  [DLWS-GPU-004] narrow — GPU 3 "
                     "(NVIDIA A100)", "  [DLWS-GPU-004] narrow — GPU 4 (NVIDIA H100)"]


def test_evidence_reads_in_words():
    report = Report(inventory={}, fail_on="error")
    report.add("DLWS-FW-002", [Finding("DLWS-FW-002", "warning", "cpu build", {
        "framework": "torch", "build": "cuda 12.1", "majors": {"torch": 12, "jax": 11}, "flags": ["avx", "fma"],
        "secure_boot": True, "none": None}, "fix it", subject="torch")])
    evidence = [line for line in to_text(report, colour=False).splitlines() if "evidence:" in line]
    assert evidence == ["      evidence: framework: torch, build: cuda 12.1, majors (torch: 12; jax: 11), "
                        "flags: avx, fma, secure_boot: yes"]


def test_a_long_fix_wraps_at_words_under_its_text():
    report = Report(inventory={}, fail_on="error")
    fix = " ".join("word%d" % i for i in range(60))
    report.add("DLWS-SYS-003", [Finding("DLWS-SYS-003", "warning", "low disk", {}, fix)])
    lines = to_text(report, colour=False).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("      fix: "))
    wrapped = [lines[start]] + [line for line in lines[start + 1:] if line.startswith(" " * 11)]
    assert len(wrapped) > 1 and all(len(line) <= 120 for line in wrapped)
    assert " ".join(line.strip() for line in wrapped)[len("fix: "):] == fix


def test_a_long_evidence_value_is_cut_in_the_text_and_whole_in_the_json():
    source = "https://wiki.example/lifecycle " + "a source read from many pages; " * 60
    report = Report(inventory={}, fail_on="error")
    report.add("DLWS-OS-001", [Finding("DLWS-OS-001", "warning", "past its end of support",
                                       {"os": "Example 1", "source": source}, "upgrade")])
    shown = to_text(report, colour=False)
    assert "... (--format json: all)" in shown and source not in shown
    assert len([line for line in shown.splitlines() if "evidence" in line or line.startswith(" " * 16)]) <= 5
    assert json.loads(to_json(report))["findings"][0]["evidence"]["source"] == source
