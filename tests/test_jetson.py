"""Jetson: JetPack knowledge (L4T -> JetPack -> CUDA -> NVIDIA's wheels), the one judgment on a Jetson (the driver is
L4T's, generic aarch64 CUDA wheels are SBSA builds, an unknown L4T release cannot be chosen for), the plan that
installs NVIDIA's wheel by its URL, and DLWS-JET-001 on a torch from the generic indexes."""

import copy
import json
import os
import subprocess
import sys

import pytest

from provision import compat, compat_jetson
from provision.doctor import diagnose
from provision.doctor.target import check_target
from provision.inventory import collect
from provision.knowledge import queries
from provision.planner import plan as make_plan
from provision.planner.model import Request
from provision.snapshot import open_snapshot

ORIN = os.path.join(os.path.dirname(__file__), "snapshots", "jetson-agx-orin")
V61 = queries.jetpack_wheel("36.4.3", "pytorch")["url"]


def orin():
    return collect(open_snapshot(ORIN)).to_dict()


def xavier(l4t="35.4.1", python="3.8"):
    """A Jetson AGX Xavier on JetPack 5 (Ubuntu 20.04), as the Jetson probe records one."""
    return {"cpu": {"arch": "aarch64"}, "os": {"system": "linux", "id": "ubuntu", "version": "20.04", "glibc": "2.31"},
            "jetson": {"l4t": l4t, "model": "Jetson-AGX"}, "python": {"version": python},
            "nvidia": {"source": "jetson", "status": "ok"},
            "gpus": [{"index": 0, "vendor": "nvidia", "name": "Xavier", "integrated": True,
                      "compute_capability": "7.2"}]}


def variants(inv, release):
    return {v.build.variant: v for v in compat.best_build(inv, "pytorch", release)}


# --- knowledge ------------------------------------------------------------------------------------------------------

def test_an_l4t_release_names_its_jetpack_and_what_it_brings():
    row = queries.jetpack_release("36.4.3")
    assert (row["jetpack"], row["cuda"], row["ubuntu"]) == ("6.2", "12.6", "22.04")
    assert queries.jetpack_release("36.4")["jetpack"] == "6.1"  # REVISION: 4 reads as 36.4.0
    assert queries.jetpack_release("35.4.1")["cuda"] == "11.4"
    assert "cuDNN 9.3" in queries.jetpack_label("36.4.3")
    for unknown in ("38.2.0", "36.4.3.1", "36", "garbage", None, 36.4):
        assert queries.jetpack_release(unknown) is None and queries.jetpack_label(unknown) is None


def test_every_jetpack_wheel_is_nvidias_for_its_python_and_cuda():
    for l4t in ("35.2.1", "35.3.1", "35.4.1", "36.3.0", "36.4.0", "36.4.3", "36.4.4"):
        row, wheel = queries.jetpack_release(l4t), queries.jetpack_wheel(l4t, "pytorch")
        assert wheel["url"].startswith("https://developer.download.nvidia.com/compute/redist/jp/v")
        assert "-cp%s-" % wheel["python"].replace(".", "") in wheel["url"]
        assert wheel["cuda"] == row["cuda"] and wheel["version"] in wheel["url"]
    assert queries.jetpack_wheel("38.2.0", "pytorch") is None and queries.jetpack_wheel("36.4.3", "jax") is None


# --- judgment -------------------------------------------------------------------------------------------------------

def test_on_a_known_jetpack_the_jetpack_wheel_works_and_generic_cuda_wheels_do_not():
    inv = orin()
    found = variants(inv, "2.5")
    assert found["jetpack"].ok and found["jetpack"].build.wheel == ("2.5.0a0+872d972e41.nv24.08", V61)
    assert all(not v.ok and "SBSA" in v.problems[0] for name, v in found.items() if name.startswith("cu"))
    assert found["cpu"].ok
    assert "jetpack" not in variants(inv, "2.4")  # NVIDIA's JetPack 6.2 wheel is of torch 2.5 only


def test_the_driver_of_a_jetson_is_l4ts_never_no_working_driver():
    inv = orin()
    kind, why = compat.cuda_on_driver(inv, "12.6")
    assert kind == compat.NATIVE and "JetPack 6.2" in why and "L4T" in why
    assert compat.cuda_on_driver(inv, "13.0")[0] == compat.CANNOT
    broken = copy.deepcopy(inv)
    broken["nvidia"].update(status="nvml-error", source="nvidia-smi")  # L4T 36's nvidia-smi said something odd
    assert compat.cuda_on_driver(broken, "12.6")[0] == compat.NATIVE
    gone = copy.deepcopy(broken)
    gone["gpus"] = []  # no GPU in the inventory: the ordinary verdict again
    assert "no working NVIDIA driver" in compat.cuda_on_driver(gone, "12.6")[1]


def test_a_jetsons_gpu_has_no_driver_branch_to_keep():
    nano = collect(open_snapshot(os.path.join(os.path.dirname(ORIN),
                                              "jetson-nano-jp44-torch140-jp42-wheel-no-libcudart100"))).to_dict()
    assert nano["gpus"][0]["integrated"] and nano["gpus"][0]["compute_capability"] == "5.3"
    assert "DLWS-DRV-011" not in {f.id for f in diagnose(nano).findings}
    discrete = copy.deepcopy(nano)
    discrete["gpus"][0]["integrated"] = False  # a Maxwell card of the same capability: R580 is its last branch
    assert "DLWS-DRV-011" in {f.id for f in diagnose(discrete).findings}


def test_an_unknown_l4t_release_cannot_be_chosen_for_and_says_why():
    inv = orin()
    inv["jetson"]["l4t"] = "38.2.0"
    for verdict in compat.best_build(inv, "pytorch", "2.10"):
        assert verdict.ok == (verdict.build.variant == "cpu")
    plan = make_plan(inv, Request(("pytorch",)))
    assert not plan.ok and "does not know this release" in plan.impossible[0] and "R38.2.0" in plan.impossible[0]
    assert any("--variant cpu" in alt for alt in plan.alternatives)
    assert compat.cuda_on_driver(inv, "13.0")[0] == compat.UNKNOWN


def test_jetpack_5_gets_its_cp38_wheel_and_another_python_is_a_problem():
    plan = make_plan(xavier(), Request(("pytorch",)))
    assert plan.ok and plan.choices[0].variant == "jetpack" and plan.choices[0].release == "2.1"
    assert plan.choices[0].requirements == [queries.jetpack_wheel("35.4.1", "pytorch")["url"]]
    wrong = variants(xavier(python="3.10"), "2.1")["jetpack"]
    assert not wrong.ok and "Python 3.8" in wrong.problems[0]


def test_machines_that_are_no_jetson_are_judged_as_before():
    inv = {"nvidia": {"status": "ok", "driver_version": "550.54.14", "cuda_driver_version": "12.4"},
           "gpus": [{"vendor": "nvidia", "index": 0, "name": "GPU", "compute_capability": "8.0"}],
           "python": {"version": "3.10"}, "cpu": {"arch": "x86_64", "flags": ["avx"]},
           "os": {"system": "linux", "id": "ubuntu", "version": "22.04", "glibc": "2.35"}, "jetson": {}}
    assert not compat_jetson.is_jetson(inv)
    assert "jetpack" not in variants(inv, "2.5") and variants(inv, "2.5")["cu124"].ok


def test_doctor_target_and_setup_agree_on_the_jetson():
    inv = orin()
    plan = make_plan(inv, Request(("pytorch",), driver="keep"))
    assert plan.ok and plan.choices[0].variant == "jetpack"
    assert not [f for f in check_target(inv, "pytorch==2.5") if f.severity == "error"]


# --- the plan -------------------------------------------------------------------------------------------------------

def test_the_plan_installs_nvidias_wheel_by_url_and_checks_that_url():
    plan = make_plan(orin(), Request(("pytorch",)))
    step = next(s for s in plan.steps if s.id == "install-pytorch")
    assert step.actions[0].requirements == [V61] and step.actions[0].index_url is None
    folder, _, wheel = V61.rpartition("/")
    assert json.dumps(folder + "/") in step.check and json.dumps(wheel) in step.check  # one string, on two lines
    assert "direct_url.json" in step.check
    assert not any(s.id.startswith("nvidia") for s in plan.steps)  # no driver: it is part of L4T
    assert "download.pytorch.org" not in json.dumps(plan.to_dict())


# --- DLWS-JET-001 ---------------------------------------------------------------------------------------------------

def with_torch(inv, version, build, cuda=None):
    inv = copy.deepcopy(inv)
    inv["frameworks"] = {"torch": {"version": version, "build": build, "cuda": cuda}}
    return inv


def ids(inv):
    return {f.id: f for f in diagnose(inv).findings}


def test_a_cpu_or_generic_cuda_torch_on_a_jetson_points_at_the_jetpack_wheel():
    for version, build, cuda in (("2.10.0", "cpu", None), ("2.5.1+cpu", "cpu", None),
                                 ("2.7.0+cu126", "cuda 12.6", "12.6")):
        found = ids(with_torch(orin(), version, build, cuda))
        assert "DLWS-JET-001" in found and V61 in found["DLWS-JET-001"].fix, version
        assert "DLWS-FW-002" not in found  # one finding, the Jetson's


def test_nvidias_own_wheel_or_a_machine_that_is_no_jetson_is_left_alone():
    assert "DLWS-JET-001" not in ids(with_torch(orin(), "2.5.0a0+872d972e41.nv24.08", "cuda 12.6", "12.6"))
    assert "DLWS-JET-001" not in ids(with_torch(orin(), "2.8.0", "cuda 12.6", "12.6"))  # a source build
    unknown = with_torch(orin(), "2.10.0", "cpu")
    unknown["jetson"]["l4t"] = "38.2.0"
    assert "has no NVIDIA torch wheel for L4T R38.2.0" in ids(unknown)["DLWS-JET-001"].fix


@pytest.mark.parametrize("url, ok", [(V61, True), (V61.replace("v61", "v60"), False), (None, False)])
def test_the_wheel_check_passes_only_for_the_wheel_pip_installed_from_that_url(tmp_path, url, ok):
    """Run for real, as the script does: the check reads pip's PEP 610 record of where torch came from."""
    step = next(s for s in make_plan(orin(), Request(("pytorch",))).steps if s.id == "install-pytorch")
    info = tmp_path / "site" / "torch-2.5.0a0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.5.0a0+872d972e41.nv24.8\n")
    if url:
        (info / "direct_url.json").write_text(json.dumps({"url": url, "archive_info": {}}))
    env = tmp_path / "env" / "bin"
    env.mkdir(parents=True)
    os.symlink(sys.executable, str(env / "python"))
    done = subprocess.run(["bash", "-c", step.check], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, DLWS_ENV=str(tmp_path / "env"), PYTHONPATH=str(tmp_path / "site"),
                                   PYTHONNOUSERSITE="1"))
    assert (done.returncode == 0) is ok, done.stderr
