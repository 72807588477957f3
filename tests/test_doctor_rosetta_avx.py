"""An x86_64 Python under Rosetta 2 with a framework whose wheels need AVX: Rosetta translates no AVX before macOS 15
(Apple, "About the Rosetta translation environment"), and runs AVX and AVX2 from macOS 15 without sysctl saying so
(Go's src/internal/cpu/cpu_x86_darwin.go). The error texts of tensorflow/tensorflow#46178 (zsh) and #52972 (qemu)."""

import copy

import pytest

from provision.doctor import diagnose
from provision.doctor.error_input import read_error
from provision.doctor.error_text import explain
from provision.compat import Build, judge, rosetta_runs_avx
from provision.doctor.rules.emulation import rosetta
from test_doctor_fixtures import TODAY, inventory

TF24 = "macos11-m1-x86-64-python38-rosetta-tensorflow24-illegal-instruction"


@pytest.mark.parametrize("version, runs", [("11.0.1", False), ("14.7", False), ("15.0", True), ("26.1", True),
                                           ("10.16", None), (None, None), ("garbage", None)])
def test_rosetta_runs_avx_from_macos_15(version, runs):
    assert rosetta_runs_avx(version) is runs


def severity(inv):
    return [(f.severity, f.evidence.get("needs AVX", "")[:20]) for f in rosetta.run(inv, TODAY)]


def test_the_first_macos_whose_rosetta_runs_avx_is_the_tables(monkeypatch):
    from provision.knowledge import queries

    assert queries.rosetta_avx_from() == 15  # distributions.json, the macos row
    monkeypatch.setattr(queries, "rosetta_avx_from", lambda: None)
    assert rosetta_runs_avx("14.5") is None and rosetta_runs_avx("15.1") is None  # a table without it: unknown


def test_tensorflow_under_rosetta_before_macos_15_is_an_error():
    inv = inventory(TF24)
    assert severity(inv) == [("error", "tensorflow 2.4.0: Ro")]
    assert [f.id for f in diagnose(inv, today=TODAY).findings if f.id == "DLWS-FW-005"] == []  # EMU-001 says it


def test_from_macos_15_or_an_unknown_version_it_stays_a_warning():
    inv = inventory(TF24)
    later, unknown, without = copy.deepcopy(inv), copy.deepcopy(inv), copy.deepcopy(inv)
    later["os"]["version"], unknown["os"]["version"] = "15.3", "10.16"
    without["frameworks"] = {}
    assert [s for s, _ in severity(later)] == ["warning"] and "runs AVX from macOS 15" in rosetta.run(
        later, TODAY)[0].evidence["needs AVX"]
    assert [s for s, _ in severity(unknown)] == ["warning"]
    assert severity(without) == [("warning", "")]  # no framework needing AVX: the plain Rosetta warning
    native = copy.deepcopy(inv)
    native["os"]["emulation"] = None
    assert severity(native) == []


def run(name, text):
    report = diagnose(inventory(name), today=TODAY)
    explain(report, read_error([text], None))
    return sorted({f.id for f in report.findings if f.explains_error})


def test_the_errors_point_at_the_emulation():
    assert run(TF24, ">>> import tensorflow\nzsh: illegal hardware instruction  python") == ["DLWS-EMU-001"]
    assert run("m1-docker-amd64-qemu-tensorflow27-no-avx", "The TensorFlow library was compiled to use AVX "
               "instructions, but these aren't available on your machine.") == ["DLWS-EMU-004"]
    assert run("core2duo-tensorflow114-no-avx", "Illegal instruction (core dumped)") == ["DLWS-FW-005"]


def test_the_judgment_of_a_tensorflow_build_follows_the_macos_version():
    inv = inventory(TF24)
    verdict = judge(inv, Build("tensorflow", "2.4", "cpu"))
    assert any("Rosetta 2 translates no AVX" in p for p in verdict.problems)
    later = copy.deepcopy(inv)
    later["os"]["version"] = "15.3"
    assert not any("AVX" in p for p in judge(later, Build("tensorflow", "2.4", "cpu")).problems)
    unknown = copy.deepcopy(inv)
    unknown["os"]["version"] = "10.16"
    assert any("whether Rosetta 2 runs AVX" in u for u in judge(unknown, Build("tensorflow", "2.4", "cpu")).unknowns)
    assert not any("AVX" in p for p in judge(inv, Build("pytorch", "2.2", "cpu")).problems)  # torch needs no AVX
