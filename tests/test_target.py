"""doctor --target and the build judgement behind it, on replayed fixtures of real machines."""

import json
import os
import re

import pytest
from packaging.version import Version

from provision import compat, knowledge
from provision.doctor.target import check_target
from provision.errors import UsageError
from provision.inventory import collect
from provision.snapshot import open_snapshot

HERE = os.path.join(os.path.dirname(__file__), "snapshots")


def fixture(name):
    return collect(open_snapshot(os.path.join(HERE, name))).to_dict()


@pytest.mark.parametrize("text,expected", [
    ("pytorch", ("pytorch", None)), ("torch==2.4", ("pytorch", "2.4")), ("tf", ("tensorflow", None)),
    ("jax==0.4.30", ("jax", "0.4.30")), ("mxnet", ("mxnet", None)),
])
def test_parse_target_accepts_both_spellings(text, expected):
    assert compat.parse_target(text) == expected


@pytest.mark.parametrize("text", ["caffe", "torch==two", ""])
def test_bad_targets_are_usage_errors(text):
    with pytest.raises(UsageError):
        compat.parse_target(text)


def test_unknown_release_is_a_usage_error():
    rows = knowledge.load("frameworks")["frameworks"]["pytorch"]["releases"]
    known = ", ".join(sorted((row["version"] for row in rows), key=Version, reverse=True))  # newest first
    with pytest.raises(UsageError, match=re.escape("known: %s" % known)):
        check_target({}, "torch==0.4")


def test_h100_is_ready_for_the_newest_torch_on_a_cuda_build():
    finding = check_target(fixture("h100-sxm-server"), "pytorch")[0]
    assert finding.id == "DLWS-TGT-002" and finding.severity == "info"
    assert "(cu" in finding.title


def test_old_driver_pascal_box_only_gets_the_cpu_build():
    finding = check_target(fixture("gtx1080-pascal"), "torch==2.4")[0]
    assert (finding.id, finding.severity) == ("DLWS-TGT-001", "warning")
    assert "driver 430.26 supports CUDA 10.2" in finding.fix


def test_torch_cuda_12_8_build_drops_pascal():
    inv = fixture("gtx1080-pascal")
    inv["nvidia"].update(driver_version="570.86.10", cuda_driver_version="12.8")
    inv["os"]["glibc"] = "2.35"  # the fixture's Ubuntu 18.04 (glibc 2.27) is below torch 2.9's manylinux floor
    verdicts = {v.build.variant: v for v in compat.best_build(inv, "pytorch", "2.9")}
    assert verdicts["cu126"].ok
    assert any("no kernels" in p for p in verdicts["cu128"].problems)
    assert compat.best_build(inv, "pytorch", "2.9")[0].build.variant == "cu126"


def test_tensorflow_needs_avx():
    finding = check_target(fixture("cpu-without-avx"), "tensorflow")[0]
    assert (finding.id, finding.severity) == ("DLWS-TGT-001", "error") and "AVX" in finding.fix


def test_mxnet_is_retired():
    finding = check_target(fixture("docker-no-gpu"), "mxnet")[0]
    assert finding.severity == "error" and "retired" in finding.title


def test_cli_target(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "provision", "doctor", "--snapshot",
                          os.path.join(HERE, "cpu-without-avx"), "--target", "tensorflow", "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert any(f["id"] == "DLWS-TGT-001" for f in json.loads(out.stdout)["findings"])
    bad = subprocess.run([sys.executable, "-m", "provision", "doctor", "--target", "caffe"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "unknown framework" in bad.stderr


def test_glibc_below_the_wheels_floor():
    finding = check_target(fixture("centos7-k80"), "torch==2.9")[0]
    assert finding.severity == "error" and "glibc >= 2.28 (this machine has 2.17)" in finding.fix


def test_gpu_without_a_working_driver_is_not_ready_for_the_gpu():
    finding = check_target(fixture("driver-not-loaded"), "pytorch")[0]
    assert (finding.id, finding.severity) == ("DLWS-TGT-001", "warning")
    assert "no working NVIDIA driver" in finding.fix


def test_without_a_version_the_newest_release_that_fits_is_judged_and_named():
    """CentOS 7's glibc 2.17 loads no torch wheel after 2.5 (manylinux2014): the newest release fails, an older one
    fits. Without a version the verdict is about the release dlws setup picks, named with why the newest is not it."""
    from provision.planner import plan
    from provision.planner.model import Request

    inv = fixture("centos7-k80")
    unknown = check_target(inv, "pytorch")[0]  # the report shows no Python: wheels cannot be judged for it
    assert (unknown.id, unknown.severity) == ("DLWS-TGT-001", "warning") and "the Python version" in unknown.title
    inv["python"]["version"] = "3.11.9"  # a Python the user built: now the glibc decides
    newest = compat.releases("pytorch")[0]
    finding = check_target(inv, "pytorch")[0]
    picked = [(c.release, c.variant) for c in plan(inv, Request(("pytorch",))).choices]
    assert picked == [("2.5", "cpu")]  # setup's choice (tests/setup_expectations.py: centos7-k80--pytorch)
    assert (finding.id, finding.severity) == ("DLWS-TGT-002", "info")
    assert finding.title == ("pytorch: the newest release that fits is 2.5 (cpu); %s does not: its Linux wheels "
                             "need glibc >= 2.28 (this machine has 2.17)" % newest)
    assert finding.evidence["release"] == "2.5" and list(finding.evidence["newest"]) == [newest]
    named = check_target(inv, "torch==%s" % newest)[0]  # a version named: that release is judged, as before
    assert (named.id, named.severity) == ("DLWS-TGT-001", "error") and "cannot work" in named.title


def test_without_a_version_a_gpu_machine_whose_gpu_builds_all_fail_names_the_cpu_release():
    inv = fixture("gtx1080-pascal")  # glibc 2.27; its driver 430 (CUDA 10.2) runs torch 1.12 cu102: make it older
    inv["nvidia"].update(driver_version="340.108", cuda_driver_version="6.5")  # the Tesla branch: below every build
    finding = check_target(inv, "pytorch")[0]
    assert (finding.id, finding.severity) == ("DLWS-TGT-001", "warning")
    assert finding.title.startswith("pytorch: the newest release that fits is 2.5 (cpu); %s does not: "
                                    % compat.releases("pytorch")[0]) and finding.title.endswith("only on the CPU here")
    assert "driver 340.108 supports CUDA 6.5" in finding.fix


def test_a_machine_without_python_is_judged_for_the_python_setup_installs():
    # Ubuntu 20.04 recorded without a Python: setup installs its python3 (3.8), for which JAX has no wheels; --target
    # must say so too, not call the CPU build ready.
    inv = collect(open_snapshot(os.path.join(HERE, "ubuntu2004-driver-library-mismatch"))).to_dict()
    assert inv["python"]["version"] is None
    finding = check_target(inv, "jax")[0]
    assert finding.severity == "error" and "no wheels for Python 3.8" in finding.fix
