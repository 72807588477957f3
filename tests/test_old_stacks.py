"""Old stacks: torch 1.x with CUDA 10.x, drivers before CUDA 11, GPUs the current drivers dropped. Expectations are
written by hand from NVIDIA's Table 3 (CUDA toolkit -> driver), the torch builds' architecture lists and NVIDIA's
legacy driver branches, so that a machine of any age gets a verdict, not "cannot judge"."""

import os

import pytest

from provision import compat
from provision.doctor import diagnose
from provision.inventory import collect
from provision.knowledge import queries as q
from provision.snapshot import open_snapshot

from test_doctor_rules import TODAY, fired, gpu0, healthy

HERE = os.path.dirname(__file__)


def machine(cc, name, driver, cuda_driver=None, torch=None, python="3.7.9"):
    """The healthy test server with one GPU of that compute capability, that driver (and the CUDA version it
    reports, None where nvidia-smi did not say), a Python old torch has wheels for and, optionally, an installed
    torch 'version+cuXYZ'."""
    inv = healthy()
    inv["gpus"] = inv["gpus"][:1]
    gpu0(inv, compute_capability=cc, name=name)
    inv["nvidia"].update(driver_version=driver, cuda_driver_version=cuda_driver, pci_gpus=1)
    inv["cuda"]["toolkits"] = []
    inv["python"]["version"] = python
    if torch:
        label = torch.split("+cu")[1]
        cuda = "%s.%s" % (label[:-1], label[-1])
        inv["frameworks"]["torch"].update(version=torch, build="cuda " + cuda, cuda=cuda)
    return inv


def judged(inv, release, variant):
    """compat.judge of one torch build; its unknowns, less the glibc floor the old torch rows lack."""
    build = next(b for b in compat.builds("pytorch", release) if b.variant == variant)
    found = compat.judge(inv, build)
    return found, [u for u in found.unknowns if "glibc" not in u]


# --- the tables: CUDA 9.0-10.2 and the rule before minor-version compatibility ------------------------------------

def test_old_toolkits_need_the_driver_of_their_release():
    # Table 3: 10.1.105 (and updates) >= 418.39 / >= 418.96; 10.0.130 >= 410.48 / >= 411.31; 10.2.89 >= 440.33
    assert q.min_driver_for_cuda("10.1") == "418.39" and q.min_driver_for_cuda("10.1", "windows") == "418.96"
    assert q.min_driver_for_cuda("10.1.243") == "418.39"
    assert q.min_driver_for_cuda("10.0") == "410.48" and q.min_driver_for_cuda("10.2") == "440.33"
    assert q.min_driver_for_cuda("9.2.148") == "396.37" and q.min_driver_for_cuda("9.0") == "384.81"
    # no minor-version compatibility before CUDA 11: the floor is the toolkit's own driver
    assert q.minor_compat_floor("10.1") == "418.39" and q.min_driver_for_cuda("10.1", compat=True) == "418.39"
    assert q.has_minor_version_compatibility("10.2") is False and q.has_minor_version_compatibility("11.0") is True
    assert q.minor_compat_floor("11.8") == "450.80.02"  # CUDA 11 on: unchanged
    assert q.max_cuda_for_driver("410.48") == "10.0" and q.max_cuda_for_driver("418.39") == "10.1"
    assert q.max_cuda_for_driver("396.26") == "9.2" and q.max_cuda_for_driver("384.81") == "9.0"


def test_old_toolkits_compute_capabilities():
    # CMake's CMakeCUDAArchitecturesAll.cmake: 9.x builds 30..72, 10.x adds 75, 11.0 drops 30 and adds 80
    assert q.cuda_supports_cc("10.2", "7.5") is True and q.cuda_supports_cc("10.2", "8.6") is False
    assert q.cuda_supports_cc("9.2", "7.5") is False and q.cuda_supports_cc("10.2", "3.0") is True
    assert q.cuda_supports_cc("9.0", "2.1") is False  # Fermi dropped in 9.0


def test_legacy_driver_branches():
    # NVIDIA's legacy releases: 470.239.06 Kepler, 390.157 Fermi, 340.108 GeForce 8/9; 580 last for Maxwell-Volta
    kepler, fermi, tesla, pascal = (q.legacy_driver_branch(cc) for cc in ("3.7", "2.1", "1.1", "6.1"))
    assert (kepler["branch"], kepler["last_release"], kepler["max_cuda"], kepler["maintained"]) == \
        ("470", "470.239.06", "11.4", False)
    assert (fermi["branch"], fermi["max_cuda"]) == ("390", "9.1") and tesla["branch"] == "340"
    assert (pascal["branch"], pascal["max_cuda"], pascal["maintained"]) == ("580", "13.0", True)
    assert q.legacy_driver_branch("7.5") is None and q.legacy_driver_branch("8.6") is None  # current drivers
    assert q.legacy_driver_branch("no") is None
    for row in (kepler, fermi, pascal):  # max_cuda agrees with Table 3: the newest toolkit the last driver meets
        assert q.max_cuda_for_driver(row["last_release"] or "580.65.06") == row["max_cuda"]


# --- the judgment ----------------------------------------------------------------------------------------------

def test_torch171_cu102_has_no_kernels_for_an_rtx3070():
    inv = machine("8.6", "GeForce RTX 3070", "460.39", "11.2")
    found, unknowns = judged(inv, "1.7", "cu102")
    assert found.problems == ["no kernels for GPU 0 (GeForce RTX 3070) (compute capability 8.6)"] and not unknowns


def test_torch171_cu110_runs_on_an_rtx3070_from_its_sm80_code():
    inv = machine("8.6", "GeForce RTX 3070", "460.39", "11.2")
    found, unknowns = judged(inv, "1.7", "cu110")
    assert found.ok and not unknowns
    assert q.torch_kernels_for_cc("1.7", "cu110", "8.6") == "sass"


@pytest.mark.parametrize("cc,name", [("6.0", "Tesla P100-PCIE-16GB"), ("7.0", "Tesla V100-SXM2-16GB")])
def test_torch214_cu130_has_no_kernels_for_pascal_or_volta(cc, name):
    inv = machine(cc, name, "580.65.06", "13.0", python="3.12.3")
    found, unknowns = judged(inv, "2.14", "cu130")
    assert found.problems == ["no kernels for GPU 0 (%s) (compute capability %s)" % (name, cc)] and not unknowns


def test_torch13_cu101_on_driver_410_is_driver_too_old():
    # driver 410.48 is CUDA 10.0's; CUDA 10.1 needs 418.39 and had no minor-version compatibility
    for reported in ("10.0", None):  # nvidia-smi of R410 says CUDA 10.0; without it, derived from the version
        inv = machine("6.1", "TITAN Xp", "410.48", reported)
        kind, why = compat.cuda_on_driver(inv, "10.1")
        assert kind == compat.CANNOT and "CUDA 10.1 needs driver >= 418.39" in why, why
        found, unknowns = judged(inv, "1.3", "cu101")
        assert found.problems == [why] and not unknowns


def test_old_builds_on_a_driver_new_enough_run_natively():
    inv = machine("6.1", "TITAN Xp", "418.39", None)
    assert compat.cuda_on_driver(inv, "10.1")[0] == compat.NATIVE
    found, unknowns = judged(inv, "1.3", "cu101")
    assert found.ok and not unknowns
    inv = machine("6.1", "TITAN Xp", "440.33", None)  # no reported CUDA: derived 10.2
    assert compat.driver_cuda(inv) == ("10.2", True)
    assert compat.cuda_on_driver(inv, "10.2")[0] == compat.NATIVE


def test_installed_torch171_cu102_on_driver_440_is_fine():
    inv = machine("7.5", "GeForce RTX 2080 Ti", "440.33", None, torch="1.7.1+cu102")
    installed = compat.judge_installed(inv, "torch", inv["frameworks"]["torch"])
    assert installed.ok and installed.certain and not installed.notes
    ids = {f.id for f in diagnose(inv, today=TODAY).findings}
    assert not {"DLWS-FW-001", "DLWS-FW-003", "DLWS-DRV-011"} & ids


def test_installed_torch13_cu101_on_driver_410_fires_driver_too_old():
    inv = machine("6.1", "TITAN Xp", "410.48", "10.0", torch="1.3.1+cu101")
    (found,) = fired(inv, "DLWS-FW-003")
    assert found.severity == "error" and "needs driver >= 418.39" in " ".join(found.evidence["judgment"])
    assert "the NVIDIA driver 418.39 or newer (CUDA 10.1's)" in found.fix


# --- GPUs the current drivers dropped ---------------------------------------------------------------------------

def test_a_kepler_gpu_is_named_with_its_last_driver_and_cuda():
    inv = machine("3.7", "Tesla K80", "470.239.06", "11.4")
    (found,) = fired(inv, "DLWS-DRV-011")
    assert found.severity == "warning"
    assert found.evidence["last_driver_branch"] == "470" and found.evidence["branch_max_cuda"] == "11.4"
    assert "470" in found.fix and "CUDA up to 11.4" in found.fix and "no more fixes" in found.fix


def test_a_pascal_gpu_is_information_its_branch_is_maintained():
    inv = machine("6.1", "TITAN Xp", "580.65.06", "13.0")
    (found,) = fired(inv, "DLWS-DRV-011")
    assert found.severity == "info" and found.evidence["last_driver_branch"] == "580"
    assert "supported until 2028-06" in found.fix and "no more fixes" not in found.fix
    assert not fired(machine("7.5", "GeForce RTX 2080 Ti", "580.65.06", "13.0"), "DLWS-DRV-011")


# --- a real machine: pytorch/pytorch#52736 ------------------------------------------------------------------------

def test_fixture_rtx3070_torch171_cu102_names_the_missing_kernels():
    inv = collect(open_snapshot(os.path.join(HERE, "snapshots", "rtx3070-torch171-cu102-no-kernel-image"))).to_dict()
    findings = {f.id: f for f in diagnose(inv, today=TODAY).findings}
    found = findings["DLWS-FW-001"]
    # the report's own warning: "The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75"
    assert found.evidence["arch_list"] == ["3.7", "5.0", "6.0", "7.0", "7.5"]
    assert found.evidence["variant"] == "cu102" and found.evidence["compute_capability"] == "8.6"
    assert "sm_86" in found.fix
    assert "DLWS-FW-003" not in findings  # the report gives no driver: no driver verdict is made up
