"""dlws setup: golden plans for recorded machines, linted as users' code, and real runs of the CPU JAX plan.

Each golden case is first held to its hand-written expectation in tests/setup_expectations.py (release, build,
driver, repository, and why), then compared byte for byte. Regenerate the goldens after a deliberate change with:
DLWS_UPDATE_GOLDEN=1 scripts/test tests/test_setup.py
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from provision.inventory import collect
from provision.planner import plan as make_plan
from provision.setup_command import make_request, render
from provision.snapshot import open_snapshot
from setup_expectations import EXPECTED, NEWEST, mismatches

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")
GOLDEN = os.path.join(HERE, "golden", "setup")
BIN = os.path.dirname(sys.executable)
UPDATE = os.environ.get("DLWS_UPDATE_GOLDEN") == "1"

#: (fixture, frameworks, options) -> golden files <fixture>--<frameworks>[--<tag>].{sh,yml,json}
CASES = [
    ("h100-sxm-server", ("pytorch",), {}),
    ("h100-sxm-server", ("pytorch", "jax"), {}),
    ("h100-sxm-server", ("tensorflow",), {}),
    ("h100-sxm-server", ("pytorch",), {"with_cuda_toolkit": True}),
    ("h100-sxm-server", ("keras", "jax"), {}),
    ("macos-m2-max", ("pytorch",), {}),
    ("rtx4090-ryzen-workstation", ("pytorch",), {"version": "2.4"}),
    ("dgx-a100-8gpu", ("jax",), {"driver": "upgrade"}),
    ("driver-not-loaded", ("pytorch",), {}),
    ("gtx1080-pascal", ("pytorch",), {"driver": "upgrade"}),
    ("cpu-without-avx", ("pytorch",), {}),
    ("graviton3-arm64-server", ("jax",), {}),
    ("mi250x-rocm-server", ("pytorch",), {}),
    ("wsl2-rtx4070-laptop", ("pytorch",), {}),
    ("docker-no-gpu", ("jax",), {"variant": "cpu", "env": "/opt/dl env/$HOME's \"jax\""}),
    ("centos7-k80", ("pytorch",), {}),
]
#: Requests that cannot be met: the plan says why and what works instead.
IMPOSSIBLE = [
    ("cpu-without-avx", ("tensorflow",), {}),
    ("gtx1080-pascal", ("pytorch",), {"driver": "keep"}),
    ("debian12-docker-epyc-dev", ("mxnet",), {}),  # MXNet 1.9.1 stops at Python 3.8
    ("dgx-a100-8gpu", ("jax",), {}),  # driver 450 (CUDA 11.0) and --driver install keeps a present driver
]


def inventory(fixture):
    return collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()


def build(fixture, frameworks, options):
    request = make_request(frameworks, options.get("version"), options.get("variant", "auto"), options.get("python"),
                           options.get("env", "/opt/dlws/env"), options.get("driver", "install"),
                           options.get("with_cuda_toolkit", False))
    return make_plan(inventory(fixture), request)


def name(fixture, frameworks, options):
    tag = "--".join("%s-%s" % (k, v) for k, v in sorted(options.items()) if k != "env")
    return "--".join([fixture, "+".join(frameworks)] + ([tag] if tag else []))


def check_golden(path, text):
    if UPDATE:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert handle.read() == text, "%s differs; if the change is deliberate: DLWS_UPDATE_GOLDEN=1" % path


def check_expectation(key, plan):
    """Hold the plan to its hand-written expectation (before any byte comparison). A case whose golden is believed
    wrong must still miss its expectation; its xfail reason is returned."""
    expected = EXPECTED[key]
    found = mismatches(plan.to_dict(), expected)
    if "golden_wrong" not in expected:
        assert not found, "%s: %s (%s)" % (key, "; ".join(found), expected["why"])
        return None
    assert found, "%s now picks what its expectation says: drop its golden_wrong" % key
    return "golden believed wrong: %s [%s]" % (expected["golden_wrong"], "; ".join(found))


@pytest.mark.parametrize("fixture,frameworks,options", CASES, ids=[name(*c) for c in CASES])
def test_golden_plans(fixture, frameworks, options):
    plan = build(fixture, frameworks, options)
    wrong = check_expectation(name(fixture, frameworks, options), plan)
    assert plan.ok, plan.impossible
    base = os.path.join(GOLDEN, name(fixture, frameworks, options))
    for fmt, ext in (("shell", "sh"), ("ansible", "yml"), ("json", "json")):
        text = render(plan, fmt)
        assert render(build(fixture, frameworks, options), fmt) == text  # same input, byte-identical output
        check_golden("%s.%s" % (base, ext), text)
    if wrong:  # the bytes still guard the rest of the plan; the pick itself is reported as an expected failure
        pytest.xfail(wrong)


@pytest.mark.parametrize("fixture,frameworks,options", IMPOSSIBLE, ids=[name(*c) for c in IMPOSSIBLE])
def test_impossible_plans_say_why(fixture, frameworks, options):
    plan = build(fixture, frameworks, options)
    wrong = check_expectation(name(fixture, frameworks, options), plan)
    assert not plan.ok and plan.impossible
    check_golden(os.path.join(GOLDEN, name(fixture, frameworks, options) + ".json"),
                 json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n")
    if wrong:
        pytest.xfail(wrong)


def test_every_golden_has_an_expectation():
    cases = {name(*c) for c in CASES + IMPOSSIBLE}
    files = {f.rsplit(".", 1)[0] for f in os.listdir(GOLDEN)}
    assert files - set(EXPECTED) == set(), "goldens without a hand-written expectation in setup_expectations.py"
    assert set(EXPECTED) == cases, "expectations and cases differ: %s" % (set(EXPECTED) ^ cases)
    assert all(e["why"] and ("picks" in e) != ("impossible" in e) for e in EXPECTED.values())


@pytest.mark.parametrize("fixture,frameworks,options",
                         [c for c in CASES + IMPOSSIBLE if "golden_wrong" in EXPECTED[name(*c)]],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_believed_wrong_goldens_meet_their_expectation_once_the_python_is_known(fixture, frameworks, options):
    """The right picks are the planner's own once it plans for the Python the plan installs (the distro's)."""
    expected = EXPECTED[name(fixture, frameworks, options)]
    plan = build(fixture, frameworks, dict(options, python=expected["python"]))
    assert mismatches(plan.to_dict(), expected) == []


#: A deliberately wrong expectation per kind of check, held against a golden plan: each must be reported.
WRONG_EXPECTATIONS = [
    ("h100-sxm-server--pytorch", {"picks": [("pytorch", "2.4", "cu<=12.8")]}, "picks:"),
    ("h100-sxm-server--pytorch", {"picks": [("pytorch", NEWEST, "cu<=13.0")]}, "picks:"),
    ("h100-sxm-server--pytorch+jax", {"picks": [("pytorch", NEWEST, "cu<=12.8")]}, "picks:"),
    ("h100-sxm-server--pytorch", {"driver": "open"}, "driver:"),
    ("driver-not-loaded--pytorch", {"driver": "580"}, "driver:"),
    ("gtx1080-pascal--pytorch--driver-upgrade", {"driver": "keep"}, "driver:"),
    ("h100-sxm-server--pytorch", {"repo": "ubuntu2204"}, "repo:"),
    ("driver-not-loaded--pytorch", {"repo": "ubuntu2204"}, "repo:"),
    ("h100-sxm-server--pytorch", {"toolkit": True}, "toolkit:"),
    ("h100-sxm-server--pytorch--with_cuda_toolkit-True", {"toolkit": False}, "toolkit:"),
    ("h100-sxm-server--pytorch", {"impossible": ["no AVX"], "alternatives": []}, "expected impossible"),
    ("cpu-without-avx--tensorflow", {"picks": [("tensorflow", NEWEST, "cpu")]}, "expected a plan"),
    ("cpu-without-avx--tensorflow", {"impossible": ["no wheels for Python"]}, "impossible: no reason says"),
    ("gtx1080-pascal--pytorch--driver-keep", {"alternatives": [("pytorch", NEWEST, "cpu")]}, "alternatives:"),
]


def right_plan(key):
    """A plan (JSON form) that meets key's expectation: its golden, or for a believed-wrong golden the plan made for
    the Python the plan installs."""
    expected = EXPECTED[key]
    if "golden_wrong" not in expected:
        with open(os.path.join(GOLDEN, key + ".json")) as handle:
            return json.load(handle)
    fixture, frameworks, options = next(c for c in CASES + IMPOSSIBLE if name(*c) == key)
    return build(fixture, frameworks, dict(options, python=expected["python"])).to_dict()


@pytest.mark.parametrize("key,change,words", WRONG_EXPECTATIONS, ids=lambda v: v if isinstance(v, str) else "")
def test_each_expectation_check_can_fail(key, change, words):
    plan, expected = right_plan(key), dict(EXPECTED[key])
    assert mismatches(plan, expected) == []  # the mismatch below is the change's, not the case's
    if "picks" in change:
        expected.pop("impossible", None), expected.pop("alternatives", None)
    if "impossible" in change:
        expected.pop("picks", None)
    found = mismatches(plan, dict(expected, **change))
    assert any(line.startswith(words) for line in found), found
