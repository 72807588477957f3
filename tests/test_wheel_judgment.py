"""The judgment on what PyPI's wheels say (provision/compat.py): glibc floors per CPU architecture, whether a release
has wheels (and a CUDA build) for this OS and CPU at all, and Pythons from the wheels' tags; --target, setup and
DLWS-FW-006 asking the same question."""

import os

import pytest

from provision import compat
from provision.doctor import diagnose
from provision.doctor.target import check_target
from provision.inventory import collect
from provision.knowledge import queries as q
from provision.planner import plan
from provision.planner.model import Request
from provision.snapshot import open_snapshot

HERE = os.path.join(os.path.dirname(__file__), "snapshots")


def centos7(python):
    """CentOS 7.9 (glibc 2.17, x86_64, no GPU) with a Python the user built."""
    inv = collect(open_snapshot(os.path.join(HERE, "centos7-k80"))).to_dict()
    assert inv["os"]["glibc"] == "2.17" and inv["cpu"]["arch"] == "x86_64"
    inv["python"]["version"] = python
    return inv


def box(system="linux", arch="x86_64", glibc="2.35", python="3.12", gpu=None):
    inv = {"os": {"system": system, "glibc": glibc if system == "linux" else None},
           "cpu": {"arch": arch, "flags": ["avx", "avx2"]}, "python": {"version": python}, "gpus": [], "nvidia": {}}
    if gpu:
        inv["gpus"] = [{"vendor": "nvidia", "index": 0, "name": gpu[0], "compute_capability": gpu[1]}]
        inv["nvidia"] = {"status": "ok", "driver_version": "580.95.05", "cuda_driver_version": "13.0"}
    return inv


def verdict(inv, framework, release, variant):
    return next(compat.judge(inv, b) for b in compat.builds(framework, release) if b.variant == variant)


@pytest.mark.parametrize("python", ["3.9.18", "3.10.14"])
def test_centos7_gets_no_tensorflow_2_21_and_setup_picks_an_older_one(python):
    inv = centos7(python)
    finding = check_target(inv, "tensorflow==2.21")[0]
    assert (finding.id, finding.severity) == ("DLWS-TGT-001", "error")
    assert "glibc >= 2.27 (this machine has 2.17)" in finding.fix
    picked = [(c.release, c.variant) for c in plan(inv, Request(("tensorflow",))).choices]
    assert picked == [("2.20", "cpu")]  # manylinux2014 (glibc 2.17) wheels, Python 3.9-3.13
    assert verdict(inv, "tensorflow", "2.20", "cpu").ok


def test_centos7_gets_no_jaxlib_from_0_7_1_and_setup_picks_an_older_jax():
    inv = centos7("3.11.9")
    finding = check_target(inv, "jax==0.7.1")[0]
    assert finding.severity == "error" and "glibc >= 2.27 (this machine has 2.17)" in finding.fix
    assert verdict(inv, "jax", "0.7.0", "cpu").ok  # the last manylinux2014 x86_64 jaxlib
    picked = [(c.release, c.variant) for c in plan(inv, Request(("jax",))).choices]
    assert picked == [("0.7.0", "cpu")]
    older = centos7("3.10.14")  # JAX 0.7 needs Python 3.11: 0.6.2 is the newest for 3.10, and it loads on 2.17
    assert [(c.release, c.variant) for c in plan(older, Request(("jax",))).choices] == [("0.6.2", "cpu")]
    assert "no wheels for Python 3.10" in verdict(older, "jax", "0.7.1", "cpu").problems


def test_glibc_floors_are_per_cpu_architecture():
    # jaxlib 0.7.1: manylinux_2_27 on x86_64, still manylinux2014 on aarch64; 0.7.2 is 2.27 on both
    arm = box(arch="aarch64", glibc="2.26")
    assert verdict(arm, "jax", "0.7.1", "cpu").ok
    assert "glibc >= 2.27 (this machine has 2.26)" in verdict(arm, "jax", "0.7.2", "cpu").problems[0]
    assert not verdict(box(glibc="2.26"), "jax", "0.7.1", "cpu").ok
    assert compat.glibc_verdict(box(system="darwin", arch="arm64"), "jax", "0.7.2")[0] == compat.GLIBC_NOT_LINUX


def test_an_unknown_glibc_or_floor_is_unknown_not_fine():
    judged = verdict(box(glibc=None), "tensorflow", "2.21", "cpu")
    assert judged.ok and "the glibc version (its Linux wheels need glibc >= 2.27)" in judged.unknowns
    old = verdict(box(python="3.7"), "tensorflow", "1.14", "cpu")  # manylinux1 wheels built on Ubuntu 14.04
    assert "the glibc its Linux x86_64 wheels need (the table has no floor)" in old.unknowns
    assert not verdict(box(python="3.10"), "pytorch", "2.4", "cpu").unknowns


@pytest.mark.parametrize("glibc,ok", [("2.12", False), ("2.17", True)])
def test_torch_1_7_needs_centos_7_though_its_wheels_say_manylinux1(glibc, ok):
    """torch 1.7.1's x86_64 wheels are tagged manylinux1 (glibc 2.5), built on CentOS 7: CentOS 6 (2.12) cannot load
    them; TensorFlow 2.3's manylinux2010 wheels do load there."""
    judged = verdict(box(glibc=glibc, python="3.8"), "pytorch", "1.7", "cpu")
    assert judged.ok is ok and not judged.unknowns
    assert ("its Linux wheels need glibc >= 2.17 (this machine has 2.12)" in judged.problems) is not ok
    assert compat.glibc_verdict(box(glibc="2.12"), "tensorflow", "2.3") == (compat.GLIBC_OK, "")


def test_no_wheels_for_the_os_and_cpu_is_a_problem():
    mac = box(system="darwin", arch="x86_64", python="3.11")
    assert "no PyTorch 2.3 wheels for macOS x86_64 on PyPI" in verdict(mac, "pytorch", "2.3", "cpu").problems
    assert verdict(mac, "pytorch", "2.2", "cpu").ok
    assert "no TensorFlow 2.21 wheels for macOS x86_64 on PyPI" in verdict(mac, "tensorflow", "2.21", "cpu").problems
    assert verdict(box(system="darwin", arch="arm64"), "tensorflow", "2.21", "cpu").ok


def test_no_native_windows_gpu_tensorflow_after_2_10():
    windows = box(system="windows", arch="AMD64", python="3.11", gpu=("NVIDIA GeForce RTX 4090", "8.9"))
    assert "TensorFlow 2.15 publishes no CUDA build for Windows x86_64" in \
        verdict(windows, "tensorflow", "2.15", "cuda").problems
    assert verdict(windows, "tensorflow", "2.15", "cpu").ok
    linux = box(python="3.11", gpu=("NVIDIA GeForce RTX 4090", "8.9"))
    assert not [p for p in verdict(linux, "tensorflow", "2.15", "cuda").problems if "publishes" in p]
    assert q.cuda_wheels("tensorflow", "2.10.1", "windows_amd64") == "yes"


def test_torch_cuda_on_linux_aarch64_before_2_11_is_judged_where_the_build_matrix_lists_it():
    gh200 = box(arch="aarch64", gpu=("NVIDIA GH200 480GB", "9.0"))
    # release/2.10's CUDA_AARCH64_ARCHES lists 12.8-aarch64: the cu128 index carries that build
    listed = verdict(gh200, "pytorch", "2.10", "cu128")
    assert not [u for u in listed.unknowns if "publishes a CUDA build" in u]
    # release/2.7's lists only 12.8-aarch64: whether cu126 has an aarch64 build stays unknown (never "none")
    before = verdict(gh200, "pytorch", "2.7", "cu126")
    assert "whether PyTorch 2.7 publishes a CUDA build (cu126) for Linux aarch64" in before.unknowns
    after = verdict(gh200, "pytorch", "2.11", "cu130")
    assert not [u for u in after.unknowns if "publishes a CUDA build" in u]
    x86 = verdict(box(gpu=("NVIDIA H100 80GB HBM3", "9.0")), "pytorch", "2.10", "cu128")
    assert not [u for u in x86.unknowns if "publishes a CUDA build" in u]


def test_the_wheels_python_tags_win_over_classifiers():
    # jax 0.7.1 declares classifiers up to 3.13, but jaxlib 0.7.1 has cp314 wheels (and jax is pure Python)
    assert q.python_supported("jax", "0.7.1", "3.14", "linux_x86_64") is True
    assert q.python_supported("jax", "0.7.1", "3.10", "linux_x86_64") is False
    assert q.python_supported("jax", "0.4.24", "3.11", "windows_amd64") is False  # only a cp310 Windows wheel
    assert q.python_supported("jax", "0.4.24", "3.11", "linux_x86_64") is True
    assert q.python_supported("mxnet", "1.9.1", "3.9", "linux_x86_64") is False  # py3 tags: the classifiers decide


@pytest.mark.parametrize("glibc,fires", [("2.26", True), ("2.27", False)])
def test_fw006_says_what_the_judgment_says(glibc, fires):
    inv = box(arch="aarch64", glibc=glibc)
    inv["frameworks"] = {"jax": {"version": "0.7.2"}}
    found = [f for f in diagnose(inv).findings if f.id == "DLWS-FW-006" and "glibc" in f.title]
    assert bool(found) is fires
    assert (compat.glibc_verdict(inv, "jax", "0.7.2")[0] == compat.GLIBC_TOO_OLD) is fires
    if fires:
        assert found[0].evidence["glibc_needed"] == "2.27"
