"""DLWS-DRV-015: the installed Linux driver's branch is past its end of life, from NVIDIA's data center driver
lifecycle table (cuda.json driver_branch_lifecycle). Fires and stays quiet; the fix names only the branches the GPUs
here can run."""

import datetime

import pytest

from provision.doctor import diagnose
from provision.knowledge import queries

TODAY = datetime.date(2026, 11, 25)


def box(driver="535.86.05", gpu=("NVIDIA GeForce RTX 4090", "8.9"), system="linux", **os_extra):
    os_info = {"system": system, "id": "ubuntu", "version": "22.04", "glibc": "2.35"}
    os_info.update(os_extra)
    return {"os": os_info, "cpu": {"arch": "x86_64", "flags": ["avx", "avx2"], "model": "x"},
            "python": {"version": "3.10.12"},
            "nvidia": {"status": "ok", "driver_version": driver, "cuda_driver_version": "12.2"},
            "gpus": [{"index": 0, "vendor": "nvidia", "name": gpu[0], "compute_capability": gpu[1]}],
            "frameworks": {}}


def fired(inv, today=TODAY):
    return [f for f in diagnose(inv, today=today).findings if f.id == "DLWS-DRV-015"]


def test_a_branch_past_its_end_of_life_is_named_with_the_branches_to_move_to():
    (found,) = fired(box())
    assert found.severity == "warning"
    assert found.title == "NVIDIA driver branch R535 ended in June 2026 (Long Term Support Branch)"
    assert found.fix.startswith("move to a supported driver branch: R580 (Long Term Support Branch, fixes until "
                                "June 2028), R595 (Production Branch, fixes until March 2027), R620 (Long Term "
                                "Support Branch, fixes until September 2029)")
    assert found.evidence["branch_eol"] == "2026-06" and found.evidence["current_branches"] == ["580", "595", "620"]


@pytest.mark.parametrize("driver,today,fires", [
    ("535.86.05", datetime.date(2026, 6, 30), False),  # June 2026 is the last month with fixes
    ("535.86.05", datetime.date(2026, 7, 1), True),
    ("580.95.05", TODAY, False),  # LTSB until June 2028
    ("595.45.04", datetime.date(2027, 3, 31), False),
    ("595.45.04", datetime.date(2027, 4, 1), True),  # Production Branch: March 2027
    ("610.43.02", TODAY, True),  # a New Feature Branch NVIDIA dated: August 2026
    ("615.71.09", TODAY, False),  # a New Feature Branch the table cannot date: not judged
    ("450.51.06", TODAY, True),  # older than every current branch: out of support without a row
])
def test_the_end_of_life_is_judged_by_month_and_branch(driver, today, fires):
    assert bool(fired(box(driver), today)) is fires


def test_an_inferred_end_says_so():
    (found,) = fired(box("450.51.06", ("NVIDIA A100-SXM4-40GB", "8.0")))
    assert found.title == "NVIDIA driver branch R450 is out of support" and found.evidence["branch_eol"] is None


def test_the_fix_names_only_what_the_gpus_run():
    (pascal,) = fired(box("535.86.05", ("NVIDIA GeForce GTX 1080", "6.1")))
    assert "R580" in pascal.fix and "R595" not in pascal.fix and "R620" not in pascal.fix
    assert pascal.evidence["last_branch_of_these_gpus"] == "580"
    # a Kepler on 470, its last branch: DLWS-DRV-011 says it, and no current branch drives it
    assert not fired(box("470.239.06", ("Tesla K80", "3.7")))
    assert not fired(box("450.51.06", ("Tesla K80", "3.7")))


@pytest.mark.parametrize("inv", [
    box("566.36", system="windows"),  # Windows numbers its drivers apart
    box("566.36", wsl=2),  # WSL 2 runs the Windows driver
    box(container="docker"),  # the host's driver
])
def test_not_judged_where_the_number_or_the_driver_is_not_this_linux_hosts(inv):
    assert not fired(inv)


def test_not_judged_on_a_jetson():
    inv = box("540.4.0", ("Orin", "8.7"))
    inv["nvidia"]["source"] = "jetson"
    assert not fired(inv)


def test_the_queries_are_total():
    assert queries.branch_of("535.86.05") == "535" and queries.branch_of("garbage") is None
    assert queries.branch_of(None) is None and queries.branch_of("96.43.23") is None
    assert queries.driver_branch_support(None, TODAY) is None
    assert queries.driver_branch_support("615", TODAY) is None
    assert queries.driver_branch_support("620", TODAY) == {"branch": "620", "ended": False, "eol": "2029-09",
                                                          "designation": "Long Term Support Branch"}
