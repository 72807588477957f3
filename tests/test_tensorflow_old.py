"""TensorFlow 1.13-2.11: the rows old labs still run. Expectations written by hand from tensorflow/docs
site/en/install/source.md (Tested build configurations, Linux GPU), PyPI's wheel filenames of tensorflow and
tensorflow-gpu, TensorFlow's RELEASE.md (2.1.0: tensorflow includes GPU support) and NVIDIA's Table 3."""

import json
import os

import pytest

from provision import compat
from provision.doctor.target import check_target
from provision.knowledge import queries as q
from provision.planner import plan as make_plan
from provision.planner.model import Pip, Request

from test_doctor_fixtures import doctor, inventory
from test_old_stacks import machine

HERE = os.path.dirname(__file__)


def recorded_wheels(version):
    """The recorded wheel filenames of tensorflow VERSION (tests/data/pypi, PyPI's JSON API)."""
    with open(os.path.join(HERE, "data", "pypi", "tensorflow.json"), encoding="utf-8") as handle:
        return [f["filename"] for f in json.load(handle)["releases"][version]]


@pytest.mark.parametrize("release,cuda,cudnn", [
    ("1.13", "10.0", "7.4"), ("1.14", "10.0", "7.4"), ("1.15", "10.0", "7.4"), ("2.0", "10.0", "7.4"),
    ("2.1", "10.1", "7.6"), ("2.3", "10.1", "7.6"), ("2.4", "11.0", "8.0"), ("2.5", "11.2", "8.1"),
    ("2.11", "11.2", "8.1")])
def test_tested_build_configurations(release, cuda, cudnn):
    row = q.framework_release("tensorflow", release)
    assert (row["cuda"], row["cudnn"]) == (cuda, cudnn)
    assert [b.cuda for b in compat.builds("tensorflow", release)] == [cuda, None]


def test_python_spans_and_the_pinned_wheels():
    # the table: tensorflow_gpu-1.15.0 2.7, 3.3-3.7; 1.15.5 (the pin) has cp36/cp37 wheels only
    assert q.framework_release("tf", "1.15")["python"] == {"min": "2.7", "max": "3.7", "experimental": []}
    linux = "linux_x86_64"  # the wheels' tags decide; the span only where a platform has none
    assert q.python_supported("tensorflow", "1.15", "3.7", linux) is True
    assert q.python_supported("tensorflow", "1.15", "3.5", linux) is False
    assert q.python_supported("tf", "1.15", "3.8", linux) is False and q.python_supported("tf", "1.15", "3.8") is False
    assert q.python_supported("tensorflow", "1.14", "2.7", linux) is True  # cp27mu wheels
    assert q.python_supported("tensorflow", "2.11", "3.7", linux) is False  # 2.11.1 dropped cp37 (2.11.0 had it)
    assert q.python_supported("tensorflow", "2.11", "3.10", linux) is True
    assert not any("cp35" in name for name in recorded_wheels("1.15.5"))
    assert any("cp37-cp37m-manylinux2010_x86_64" in name for name in recorded_wheels("1.15.5"))


@pytest.mark.parametrize("release,cpu,gpu", [
    ("1.13", "tensorflow==1.13.2", "tensorflow-gpu==1.13.2"), ("1.15", "tensorflow==1.15.5", "tensorflow-gpu==1.15.5"),
    ("2.0", "tensorflow==2.0.4", "tensorflow-gpu==2.0.4"), ("2.1", "tensorflow==2.1.4", "tensorflow==2.1.4"),
    ("2.11", "tensorflow==2.11.1", "tensorflow==2.11.1")])
def test_the_gpu_build_before_2_1_is_tensorflow_gpu(release, cpu, gpu):
    assert q.pip_requirements("tensorflow", release, "cpu") == [cpu]
    assert q.pip_requirements("tensorflow", release, "cuda") == [gpu]
    assert q.pip_index_url("tensorflow", release, "cuda") is None and q.installable("tensorflow", release, "cuda")


def test_a_plan_for_tf115_gpu_installs_tensorflow_gpu():
    inv = machine("6.1", "TITAN Xp", "410.48", "10.0", python="3.7.9")
    inv["os"]["version"] = "18.04"
    for variant, wanted in (("cuda", ["tensorflow-gpu==1.15.5"]), ("cpu", ["tensorflow==1.15.5"])):
        plan = make_plan(inv, Request(("tensorflow",), version="1.15", variant=variant, driver="keep"))
        pips = [a.requirements for s in plan.steps for a in s.actions if isinstance(a, Pip)]
        assert wanted in pips, pips


def _judged(inv, release):
    """The CUDA build of a release, judged; its unknowns less the glibc floor (none written from manylinux2010)."""
    verdict = compat.judge(inv, compat.builds("tensorflow", release)[0])
    return verdict, [u for u in verdict.unknowns if "glibc" not in u]


def test_driver_410_runs_tf115_gpu_and_not_tf24_or_tf21():
    for reported in ("10.0", None):  # R410's nvidia-smi says CUDA 10.0; without it, derived from 410.48
        inv = machine("6.1", "TITAN Xp", "410.48", reported, python="3.7.9")
        found, unknowns = _judged(inv, "1.15")
        assert found.ok and not unknowns, (found.problems, unknowns)
        found, _ = _judged(inv, "2.4")
        assert found.problems == ["driver 410.48 supports CUDA 10.0%s, the build needs CUDA 11 (driver >= "
                                  "450.80.02)" % ("" if reported else " (derived from its version)")]
        found, _ = _judged(inv, "2.1")  # CUDA 10.1 needs 418.39: no minor-version compatibility before 11
        assert len(found.problems) == 1 and "CUDA 10.1 needs driver >= 418.39" in found.problems[0]
    inv = machine("6.1", "TITAN Xp", "418.39", None, python="3.7.9")
    assert _judged(inv, "2.1")[0].ok


def test_no_gpu_build_of_tf111_on_native_windows_but_up_to_2_10():
    assert q.cuda_wheels("tensorflow", "1.15", "windows_amd64") == "yes"
    assert q.cuda_wheels("tensorflow", "2.10", "windows_amd64") == "yes"
    assert q.cuda_wheels("tensorflow", "2.11", "windows_amd64") == "none"


def test_every_old_release_needs_avx():
    for release in compat.releases("tensorflow"):
        assert q.needs_avx("tensorflow", release)
    assert not q.needs_avx("tensorflow", "1.5")


def test_core2duo_tf114_is_judged_and_no_avx_is_named():
    inv = inventory("core2duo-tensorflow114-no-avx")
    assert compat.match_release("tensorflow", "1.14.0") == "1.14"
    (finding,) = check_target(inv, "tensorflow==1.14")
    assert finding.id == "DLWS-TGT-001"
    assert "the CPU has no AVX, which TensorFlow's wheels need" in finding.evidence["builds"]["cpu"]
    ids = {f.id for f in doctor("core2duo-tensorflow114-no-avx").findings}
    assert "DLWS-FW-005" in ids  # the installed 1.14 on a CPU without AVX


def test_an_avx_cpu_gets_tf114_cpu():
    inv = machine("6.1", "TITAN Xp", "410.48", "10.0", python="3.6.9")
    verdict = compat.judge(inv, compat.builds("tensorflow", "1.14")[1])
    assert verdict.ok and [u for u in verdict.unknowns if "glibc" not in u] == []
    inv["cpu"]["flags"] = ["sse4_1", "lm"]
    assert compat.judge(inv, compat.builds("tensorflow", "1.14")[1]).problems == [
        "the CPU has no AVX, which TensorFlow's wheels need"]
