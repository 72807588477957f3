"""The one compatibility judgment (provision/compat.py): driver floors, derived driver CUDA, PTX-only GPUs, unknowns,
and doctor rules, --target and setup agreeing on every recorded machine."""

import copy
import json
import os
from functools import lru_cache

import pytest

from provision import compat
from provision.doctor import diagnose
from provision.doctor.target import check_target
from provision.inventory import collect
from provision.knowledge import queries
from provision.planner import plan as make_plan
from provision.planner.model import Request
from provision.planner.select import make_choice
from provision.snapshot import open_snapshot


def machine(driver="550.54.14", cuda="12.4", cc="8.0", glibc="2.35"):
    """A Linux x86_64 box with one NVIDIA GPU; None leaves a fact out."""
    return {"nvidia": {"status": "ok", "driver_version": driver, "cuda_driver_version": cuda},
            "gpus": [{"vendor": "nvidia", "index": 0, "name": "GPU", "compute_capability": cc}],
            "python": {"version": "3.10"}, "cpu": {"arch": "x86_64", "flags": ["avx", "avx2"]},
            "os": {"system": "linux", "id": "ubuntu", "version": "22.04", "glibc": glibc}}


def verdict(inv, framework, release, variant):
    return next(compat.judge(inv, b) for b in compat.builds(framework, release) if b.variant == variant)


def test_same_major_below_the_minor_version_floor_cannot_run():
    # 450.51.06 is CUDA 11.0's launch driver; CUDA 11.x minor-version compatibility starts at 450.80.02.
    floor = queries.minor_compat_floor("11.0")
    old = machine("450.51.06", "11.0")
    assert not verdict(old, "pytorch", "2.4", "cu118").ok
    assert floor in verdict(old, "pytorch", "2.4", "cu118").problems[0]
    assert not verdict(old, "tensorflow", "2.14", "cuda").ok
    fixed = verdict(machine(floor, "11.0"), "pytorch", "2.4", "cu118")
    assert fixed.ok and "minor-version compatibility; PTX JIT" in fixed.notes[0]


def test_native_and_cross_major():
    assert verdict(machine(), "pytorch", "2.4", "cu124").ok
    assert not verdict(machine(), "pytorch", "2.4", "cu124").notes
    assert "needs CUDA 12" in verdict(machine("470.57.02", "11.4"), "pytorch", "2.4", "cu121").problems[0]


def test_driver_cuda_is_derived_from_the_driver_version_when_not_reported():
    inv = machine("550.54.14", None)
    assert compat.driver_cuda(inv) == (queries.max_cuda_for_driver("550.54.14"), True)
    assert compat.driver_cuda(machine()) == ("12.4", False)
    kind, why = compat.cuda_on_driver(inv, "12.4")
    assert kind == compat.NATIVE and "derived" in why
    kind, why = compat.cuda_on_driver(machine("450.51.06", None), "11.8")
    assert kind == compat.CANNOT and "derived" in why


def test_a_driver_cuda_neither_reported_nor_derivable_is_unknown_not_fine():
    for inv in (machine(None, None), machine("garbage", None)):
        judged = verdict(inv, "pytorch", "2.4", "cu121")
        assert judged.ok and not judged.certain and judged.unknowns
    assert compat.cuda_on_driver(machine(None, None), "12.1")[0] == compat.UNKNOWN


def test_the_planner_ranks_judged_builds_before_unknown_ones():
    inv = machine()
    ranked = compat.best_build(inv, "pytorch", "2.4")
    assert ranked[0].certain and ranked[0].build.variant != "cpu"


def test_a_broken_driver_is_still_a_problem():
    inv = copy.deepcopy(machine())
    inv["nvidia"]["status"] = "no-driver"
    assert not verdict(inv, "pytorch", "2.4", "cu121").ok


@pytest.mark.parametrize("driver,cuda,kind", [
    ("550.54.14", "12.4", compat.NATIVE), ("525.60.13", "12.0", compat.MINOR_VERSION),
    ("520.61.05", "11.8", compat.CANNOT)])
def test_cuda_on_driver_kinds_for_a_cuda_12_4_build(driver, cuda, kind):
    assert compat.cuda_on_driver(machine(driver, cuda), "12.4")[0] == kind


def test_a_gpu_covered_only_by_ptx_needs_a_driver_for_the_builds_cuda():
    # torch 2.8 cu129 carries SASS up to sm_120 and PTX for 12.0: a (hypothetical) cc 13.0 GPU runs only its PTX.
    assert queries.torch_kernels_for_cc("2.8", "cu129", "13.0") == "ptx"
    assert queries.torch_kernels_for_cc("2.8", "cu129", "12.0") == "sass"
    minor = verdict(machine("570.26", "12.8", cc="13.0"), "pytorch", "2.8", "cu129")
    assert not minor.ok and "PTX JIT" in minor.problems[0]
    assert verdict(machine("575.51.03", "12.9", cc="13.0"), "pytorch", "2.8", "cu129").ok
    # with SASS for the GPU, minor-version compatibility is enough
    assert verdict(machine("570.26", "12.8", cc="12.0"), "pytorch", "2.8", "cu129").ok
    installed = compat.judge_installed(machine("570.26", "12.8", cc="13.0"), "torch",
                                       {"version": "2.8.0+cu129", "cuda": "12.9"})
    assert installed is not None and "PTX JIT" in installed.problems[0]


@pytest.mark.parametrize("changes,missing", [
    (dict(cc=None), "compute capability"), (dict(glibc=None), "glibc"), (dict(driver=None, cuda=None), "CUDA version")])
def test_unknown_facts_are_named_never_fine(changes, missing):
    judged = verdict(machine(**changes), "pytorch", "2.4", "cu121")
    assert judged.ok and not judged.certain and any(missing in u for u in judged.unknowns)
    choice = make_choice(judged)
    assert any(n.startswith("could not judge") and missing in n for n in choice.notes)
    finding = check_target(machine(**changes), "pytorch==2.4")[0]
    assert finding.severity == "warning" and "cannot judge" in finding.title and finding.evidence["unknowns"]
    assert all(not b or b[0] != "works" for v, b in finding.evidence["builds"].items() if v != "cpu")


def test_a_build_without_an_architecture_list_cannot_be_judged(monkeypatch):
    monkeypatch.setattr(queries, "torch_variant_supports_cc", lambda *args: None)
    judged = verdict(machine(), "pytorch", "2.4", "cu121")
    assert judged.ok and any("has kernels for" in u for u in judged.unknowns)


def test_a_fully_known_machine_is_certain():
    assert verdict(machine(), "pytorch", "2.4", "cu121").certain
    assert check_target(machine(), "pytorch==2.4")[0].id == "DLWS-TGT-002"


# --- one judgment: setup and --target agree on every recorded machine -------------------------------------------

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
FIXTURES = sorted(d for d in os.listdir(SNAPSHOTS) if os.path.isdir(os.path.join(SNAPSHOTS, d)))
AGREEING = ("pytorch", "tensorflow", "jax")  # MXNet is refused as retired by --target, by policy, not judgment
INSTALLED = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax"}  # the inventory's framework names


@lru_cache(maxsize=None)
def recorded_json(fixture):
    return json.dumps(collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict())


def recorded(fixture):
    return json.loads(recorded_json(fixture))


def unfit(findings):
    return [f for f in findings if f.id == "DLWS-TGT-001" and f.severity == "error"]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_what_setup_plans_target_accepts_and_what_target_rejects_setup_never_plans(fixture):
    inv = recorded(fixture)
    python = (inv.get("python") or {}).get("version")
    for framework in AGREEING:
        # driver keep: setup judges the machine as it is, as --target does
        chosen = make_plan(inv, Request((framework,), python=python, driver="keep"))
        if chosen.ok:
            choice = chosen.choices[0]
            if compat.releases(framework):  # JAX without release rows is judged by its extras alone
                assert not unfit(check_target(inv, "%s==%s" % (framework, choice.release))), (framework, choice)
            if choice.cuda:  # the doctor does not call the planned build, once installed, too new for the driver
                installed = copy.deepcopy(inv)
                installed.setdefault("frameworks", {})[INSTALLED[framework]] = {
                    "version": next(iter(choice.packages.values()), choice.release), "build": "cuda " + choice.cuda,
                    "cuda": choice.cuda}
                severities = {f.severity for f in diagnose(installed).findings if f.id == "DLWS-FW-003"
                              and f.subject == INSTALLED[framework]}
                assert severities <= {"info"}, (framework, choice.release, choice.variant, severities)
        for release in compat.releases(framework):
            if unfit(check_target(inv, "%s==%s" % (framework, release))):
                planned = make_plan(inv, Request((framework,), version=release, python=python, driver="keep"))
                assert not planned.ok, (framework, release, [c.variant for c in planned.choices])


def amd_machine(gfx="gfx803"):
    """A Linux x86_64 box with one AMD GPU of that gfx target (None: a GPU the table does not know)."""
    inv = machine()
    inv["nvidia"] = {"status": "no-gpu"}
    inv["gpus"] = [{"vendor": "amd", "index": 0, "name": "AMD Radeon RX 580", "gfx_target": gfx}]
    return inv


def test_rocm_build_without_code_objects_for_the_gpu_is_a_problem():
    polaris = verdict(amd_machine("gfx803"), "pytorch", "2.4", "rocm6.1")
    assert not polaris.ok and polaris.problems[0].startswith("no code objects for gfx803 in pytorch 2.4 (rocm6.1)")
    mi250x = verdict(amd_machine("gfx90a"), "pytorch", "2.4", "rocm6.1")
    assert mi250x.ok and not mi250x.notes
    # gfx900 is in the wheel but not among the targets ROCm 6.1 officially supports: it runs, with a note.
    vega = verdict(amd_machine("gfx900"), "pytorch", "2.4", "rocm6.1")
    assert vega.ok and "does not officially support" in vega.notes[0]
    # The kernel driver's support for the wheel's ROCm is never read: every ROCm verdict says so.
    assert any("amdgpu kernel driver" in u for u in mi250x.unknowns)


def test_rocm_build_with_a_missing_fact_is_not_judged():
    unknown_gpu = verdict(amd_machine(None), "pytorch", "2.4", "rocm6.1")
    assert unknown_gpu.ok and unknown_gpu.unknowns[0] == "the gfx target of GPU 0 (AMD Radeon RX 580)"
    no_list = verdict(amd_machine("gfx803"), "pytorch", "2.10", "rocm7.1")  # the table has no list for it yet
    assert no_list.ok and "which gfx targets pytorch 2.10 (rocm7.1) has code objects for" in no_list.unknowns[0]
    assert verdict(machine(), "pytorch", "2.4", "rocm6.1").problems == ["no AMD GPU here"]


# --- translation and emulation: the wheels pip can take here -------------------------------------------------------

def test_a_32_bit_python_on_windows_takes_win32_wheels_which_no_framework_publishes():
    inv = machine()
    inv["os"], inv["python"] = {"system": "windows", "emulation": "wow64"}, {"version": "3.10.11", "bits": 32}
    assert compat.python_platform(inv) == "windows_x86"
    judged = verdict(inv, "pytorch", "2.4", "cpu")
    assert not judged.ok and "32-bit Windows (win32)" in judged.problems[0]
    inv["python"]["bits"] = 64
    assert compat.python_platform(inv) == "windows_amd64" and verdict(inv, "pytorch", "2.4", "cpu").ok


def test_wsl_1_gets_no_gpu_build():
    inv = machine()
    inv["os"]["wsl"] = 1
    assert "WSL 1" in verdict(inv, "pytorch", "2.4", "cu121").problems[0]
    assert verdict(inv, "pytorch", "2.4", "cpu").ok
    inv["os"]["wsl"] = 2
    assert verdict(inv, "pytorch", "2.4", "cu121").ok


def test_under_rosetta_setup_promises_no_apple_gpu():
    mac = {"python": {"version": "3.12.8"}, "cpu": {"arch": "x86_64"}, "os": {"system": "darwin", "id": "macos"},
           "nvidia": {"status": "no-gpu"}, "gpus": []}
    native = make_choice(verdict(mac, "pytorch", "2.2", "cpu"), "darwin")
    assert any("MPS" in n for n in native.notes) and compat.ROSETTA_NOTE not in native.notes
    mac["os"]["emulation"] = "rosetta"
    translated = make_choice(verdict(mac, "pytorch", "2.2", "cpu"), "darwin")
    assert compat.ROSETTA_NOTE in translated.notes and not any("MPS" in n for n in translated.notes)
    assert not verdict(mac, "pytorch", "2.4", "cpu").ok  # no macOS x86_64 wheels after 2.2


def test_under_qemu_user_the_hosts_cpu_flags_judge_no_avx():
    inv = machine()
    inv["cpu"]["flags"] = ["fp", "asimd"]  # what /proc/cpuinfo says: the arm64 host's
    assert "no AVX" in verdict(inv, "tensorflow", "2.15", "cpu").problems[0]
    inv["os"]["emulation"] = "qemu-user"
    judged = verdict(inv, "tensorflow", "2.15", "cpu")
    assert judged.ok and any("qemu-user" in u for u in judged.unknowns)


def test_unknown_cpu_flags_leave_avx_unjudged_never_fine():
    """No /proc/cpuinfo read: TensorFlow's AVX need is "cannot judge", not passed; with flags it is judged."""
    inv = machine()
    inv["cpu"]["flags"] = []
    judged = verdict(inv, "tensorflow", "2.15", "cpu")
    assert judged.ok and not judged.certain and any("AVX" in u and "unknown" in u for u in judged.unknowns)
    inv["cpu"]["flags"] = ["sse2", "avx", "avx2"]
    assert not any("AVX" in u for u in verdict(inv, "tensorflow", "2.15", "cpu").unknowns)
    inv["cpu"]["flags"] = ["sse2", "sse4_2"]
    assert "no AVX" in verdict(inv, "tensorflow", "2.15", "cpu").problems[0]
    inv["cpu"]["flags"] = []
    assert not any("AVX" in u for u in verdict(inv, "pytorch", "2.4", "cpu").unknowns)  # torch needs no AVX
