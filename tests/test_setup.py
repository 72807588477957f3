"""dlws setup: golden plans for recorded machines, linted as users' code, and real runs of the CPU JAX plan.

Regenerate the goldens after a deliberate change with: DLWS_UPDATE_GOLDEN=1 scripts/test tests/test_setup.py
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
    request = make_request(frameworks, options.get("version"), options.get("variant", "auto"), None,
                           options.get("env", "/opt/dlws/env"), options.get("driver", "install"), False)
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


@pytest.mark.parametrize("fixture,frameworks,options", CASES, ids=[name(*c) for c in CASES])
def test_golden_plans(fixture, frameworks, options):
    plan = build(fixture, frameworks, options)
    assert plan.ok, plan.impossible
    base = os.path.join(GOLDEN, name(fixture, frameworks, options))
    for fmt, ext in (("shell", "sh"), ("ansible", "yml"), ("json", "json")):
        text = render(plan, fmt)
        assert render(build(fixture, frameworks, options), fmt) == text  # same input, byte-identical output
        check_golden("%s.%s" % (base, ext), text)


@pytest.mark.parametrize("fixture,frameworks,options", IMPOSSIBLE, ids=[name(*c) for c in IMPOSSIBLE])
def test_impossible_plans_say_why(fixture, frameworks, options):
    plan = build(fixture, frameworks, options)
    assert not plan.ok and plan.impossible
    check_golden(os.path.join(GOLDEN, name(fixture, frameworks, options) + ".json"),
                 json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n")


def goldens(ext):
    return sorted(os.path.join(GOLDEN, f) for f in os.listdir(GOLDEN) if f.endswith("." + ext)) \
        if os.path.isdir(GOLDEN) else []


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else shutil.which(name)


def test_every_golden_script_passes_shellcheck():
    scripts = goldens("sh")
    assert scripts
    result = subprocess.run([tool("shellcheck"), "--shell=bash", "--severity=style"] + scripts,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_golden_playbook_passes_syntax_check():
    for playbook in goldens("yml"):
        result = subprocess.run([tool("ansible-playbook"), "--syntax-check", "-i", "localhost,", playbook],
                                capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
        assert result.returncode == 0, playbook + "\n" + result.stdout + result.stderr


def test_every_golden_playbook_passes_ansible_lint_production(tmp_path):
    playbooks = goldens("yml")
    assert playbooks
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", HOME=str(tmp_path), ANSIBLE_LOCAL_TEMP=str(tmp_path))
    result = subprocess.run([tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"] + playbooks,
                            capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
