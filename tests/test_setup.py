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
    ("macos-m2-max", ("pytorch",), {}),
    ("rtx4090-ryzen-workstation", ("pytorch",), {"version": "2.4"}),
    ("driver-not-loaded", ("pytorch",), {}),
    ("gtx1080-pascal", ("pytorch",), {"driver": "keep"}),  # driver 430 (CUDA 10.2): torch 1.12 cu102
    ("cpu-without-avx", ("pytorch",), {}),
    ("graviton3-arm64-server", ("jax",), {}),
    ("mi250x-rocm-server", ("pytorch",), {}),
    ("wsl2-rtx4070-laptop", ("pytorch",), {}),
    ("docker-no-gpu", ("jax",), {"variant": "cpu", "env": "/opt/dl env/$HOME's \"jax\""}),
    ("centos7-k80", ("pytorch",), {}),
    ("jetson-agx-orin", ("pytorch",), {}),  # NVIDIA's JetPack 6 wheel, never PyTorch's generic aarch64 CUDA index
    # the dnf variant: the same driverless RTX 2070 on Rocky Linux 9 (no recorded RHEL-family fixture lacks a driver)
    ("driver-not-loaded", ("pytorch",), {"os": "rocky-9.4"}),
]
#: The glibc of each release an "os" option names (Rocky Linux 9: glibc 2.34, as RHEL 9).
GLIBC = {"rocky-9.4": "2.34"}
#: Requests that cannot be met: the plan says why and what works instead.
IMPOSSIBLE = [
    ("cpu-without-avx", ("tensorflow",), {}),
    ("gtx1080-pascal", ("pytorch",), {"driver": "upgrade"}),  # dlws cannot install a driver on Ubuntu 18.04
    ("debian12-docker-epyc-dev", ("mxnet",), {}),  # MXNet 1.9.1 stops at Python 3.8
    ("dgx-a100-8gpu", ("jax",), {}),  # driver 450 (CUDA 11.0) and --driver install keeps a present driver
    ("h100-sxm-server", ("keras", "jax"), {}),  # Keras 3.15 needs Python >= 3.11; Ubuntu 22.04's python3 is 3.10
    ("dgx-a100-8gpu", ("jax",), {"driver": "upgrade"}),  # no JAX row has wheels for Ubuntu 20.04's Python 3.8
    ("jetson-agx-orin", ("tensorflow",), {}),  # no JetPack TensorFlow wheel in the table; generic ones are SBSA
]


def inventory(fixture):
    return collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()


def build(fixture, frameworks, options):
    inv = inventory(fixture)
    if "os" in options:  # "ID-VERSION": the machine as if it ran that release (its glibc the release's)
        os_id, _, version = options["os"].partition("-")
        inv["os"].update(id=os_id, version=version, glibc=GLIBC[options["os"]])
    request = make_request(frameworks, options.get("version"), options.get("variant", "auto"), options.get("python"),
                           options.get("env", "/opt/dlws/env"), options.get("driver", "install"),
                           options.get("with_cuda_toolkit", False))
    return make_plan(inv, request)


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
    ("driver-not-loaded--pytorch--os-rocky-9.4",
     {"repo_key": ("D42D0685.pub", "EB693B3035CD5710E231E123A4B469963BF863CC")}, "repo_key:"),
    ("driver-not-loaded--pytorch", {"repo_key": None}, "repo_key:"),
    ("h100-sxm-server--pytorch", {"toolkit": True}, "toolkit:"),
    ("h100-sxm-server--pytorch--with_cuda_toolkit-True", {"toolkit": False}, "toolkit:"),
    ("h100-sxm-server--pytorch", {"impossible": ["no AVX"], "alternatives": []}, "expected impossible"),
    ("cpu-without-avx--tensorflow", {"picks": [("tensorflow", NEWEST, "cpu")]}, "expected a plan"),
    ("cpu-without-avx--tensorflow", {"impossible": ["glibc"]}, "impossible: no reason says"),
    ("gtx1080-pascal--pytorch--driver-upgrade", {"alternatives": [("pytorch", NEWEST, "cpu")]}, "alternatives:"),
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


# --- real runs on this machine: the CPU JAX plan, as a bash script, through Ansible, and by dlws setup itself --------

HOSTILE_NAME = "env with space $HOME 'q'"


def live_plan(env):
    from provision.host import LiveHost

    request = make_request(("jax",), None, "cpu", None, env, "keep", False)
    plan = make_plan(collect(LiveHost()).to_dict(), request)
    assert plan.ok, plan.impossible
    return plan


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL, **kwargs)


def jax_product(env):
    code = "import jax.numpy as jnp; print(float((jnp.ones((8, 8)) @ jnp.ones((8, 8))).sum()))"
    return run([os.path.join(env, "bin", "python"), "-c", code]).stdout.strip()


def test_bash_script_installs_jax_and_is_idempotent(tmp_path):
    env = str(tmp_path / HOSTILE_NAME)
    script = tmp_path / "setup.sh"
    script.write_text(render(live_plan(env), "shell"))
    first = run(["bash", str(script)])
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "jax matmul on cpu 16777216.0" in first.stdout
    assert jax_product(env) == "512.0"
    again = run(["bash", str(script)])
    assert again.returncode == 0 and again.stdout.count("already done") >= 2  # environment and jax are there
    # A pinned version is a variable: another makes the check fail and pip ask for it (PyPI has no such jax)
    other = run(["bash", str(script)], env=dict(os.environ, DLWS_JAX_VERSION="0.0.0.post999"))
    assert other.returncode != 0 and "jax==0.0.0.post999" in other.stdout + other.stderr


def test_ansible_playbook_installs_jax_locally(tmp_path):
    env = str(tmp_path / HOSTILE_NAME)
    playbook = tmp_path / "setup.yml"
    playbook.write_text(render(live_plan(env), "ansible"))
    ansible_env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                       ANSIBLE_HOME=str(tmp_path / "ansible"))
    command = [tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
               "-e", "ansible_python_interpreter=" + sys.executable]
    check = run(command + ["--check"], env=ansible_env)
    assert check.returncode == 0, check.stdout[-3000:]
    assert not os.path.exists(env)  # --check changes nothing
    first = run(command, env=ansible_env)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert jax_product(env) == "512.0"
    again = run(command, env=ansible_env)
    assert again.returncode == 0 and "changed=0" in again.stdout  # idempotent
    # -e dlws_jax_version reaches the check and the pip line: the check fails, pip asks PyPI for that jax
    other = run(command + ["-e", "dlws_jax_version=0.0.0.post999"], env=ansible_env)
    assert other.returncode != 0 and "jax==0.0.0.post999" in other.stdout, other.stdout[-9000:]


def dlws(*args, **kwargs):
    return run([sys.executable, "-m", "provision"] + list(args), **kwargs)


def test_dlws_setup_runs_the_plan_and_picks_up_where_it_stopped(tmp_path):
    env = str(tmp_path / "env")
    log = str(tmp_path / "setup.log")
    # A file where the environment should go: the venv step fails, and says so with its output and a hint.
    with open(env, "w") as handle:
        handle.write("in the way")
    failed = dlws("setup", "--framework", "jax", "--variant", "cpu", "--driver", "keep", "--env", env, "--yes",
                  "--log", log)
    assert failed.returncode == 1
    assert "failed with exit code" in failed.stderr and "run the same command again" in failed.stderr
    assert "### step" in open(log).read()
    os.remove(env)
    done = dlws("setup", "--framework", "jax", "--variant", "cpu", "--driver", "keep", "--env", env, "--yes",
                "--log", log)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dlws setup: done" in done.stderr and jax_product(env) == "512.0"
    again = dlws("setup", "-f", "jax", "--variant", "cpu", "--driver", "keep", "--env", env, "--yes", "--log", log)
    assert again.returncode == 0 and again.stderr.count("already done") >= 2


def test_setup_without_a_terminal_or_yes_refuses(tmp_path):
    result = dlws("setup", "--framework", "jax", "--variant", "cpu", "--env", str(tmp_path / "env"))
    assert result.returncode == 2 and "--yes" in result.stderr
    assert not os.path.exists(str(tmp_path / "env"))


def test_setup_cli_dry_run_formats(tmp_path):
    snapshot = os.path.join(SNAPSHOTS, "h100-sxm-server")
    shell = dlws("setup", "-f", "torch", "--dry-run", "--snapshot", snapshot)
    assert shell.returncode == 0 and shell.stdout.startswith("#!/usr/bin/env bash")
    assert "dlws setup plan for pytorch" in shell.stderr  # the plan for people goes to stderr
    out = tmp_path / "plan.json"
    assert dlws("setup", "-f", "pytorch", "--dry-run", "--format", "json", "-o", str(out), "--snapshot",
                snapshot).returncode == 0
    data = json.loads(out.read_text())
    torch = data["frameworks"][0]
    assert torch["index_url"].startswith("https://download.pytorch.org/whl/cu")
    assert all("==" in requirement for requirement in torch["requirements"])


@pytest.mark.parametrize("args,words", [
    (["-f", "caffe"], "unknown framework"),
    (["-f", "torch", "--variant", "cu99x"], "unknown --variant"),
    (["-f", "torch", "--python", "three"], "--python takes"),
])
def test_setup_usage_errors(args, words):
    result = dlws("setup", *args, "--dry-run")
    assert result.returncode == 2 and words in result.stderr


@pytest.mark.parametrize("args", [["--format", "ansible", "-o", "x.yml"], ["--format", "json", "-o", "x.yml"],
                                  ["-o", "x.yml"], ["--format", "shell"]])
def test_format_and_output_without_dry_run_are_a_usage_error(tmp_path, args):
    """Without --dry-run nothing is printed: -o or --format is a mistake, refused before anything runs."""
    (tmp_path / "file").write_text("")
    env = tmp_path / "file" / "env"  # were it to run anyway, the environment step fails at once: nothing installed
    result = dlws("setup", "-f", "jax", "--variant", "cpu", "--driver", "keep", "--env", str(env), "--yes", *args,
                  cwd=str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "dlws: error: --format and -o print the plan, and only with --dry-run (without it setup installs on this "
        "machine and writes no file): add --dry-run"]
    assert not (tmp_path / "x.yml").exists() and not (tmp_path / "dlws-setup.log").exists()


def test_setup_of_a_snapshot_needs_dry_run():
    result = dlws("setup", "-f", "jax", "--snapshot", os.path.join(SNAPSHOTS, "h100-sxm-server"), "--yes")
    assert result.returncode == 2 and "--dry-run" in result.stderr


def test_impossible_setup_exits_1_with_the_reasons():
    result = dlws("setup", "-f", "tensorflow", "--dry-run", "--snapshot", os.path.join(SNAPSHOTS, "cpu-without-avx"))
    assert result.returncode == 1 and "AVX" in result.stderr and result.stdout == ""


def test_rhel9_pascal_enables_the_driver_module_stream_first(tmp_path):
    """On RHEL 8/9 NVIDIA's driver packages come from dnf module streams (Driver Installation Guide): a Pascal GPU
    gets the 580 proprietary stream enabled before cuda-drivers-580 installs."""
    inv = inventory("gtx1080-pascal")
    inv["os"].update(id="rhel", version="9.4", glibc="2.34")
    inv["nvidia"].update(status="no-driver", driver_version=None, cuda_driver_version=None)
    request = make_request(("pytorch",), None, "auto", "3.11", "/opt/dlws/env", "install", False)
    plan = make_plan(inv, request)
    assert plan.ok, plan.impossible
    driver = [s for s in plan.steps if s.id == "nvidia-driver"][0]
    kinds = [type(a).__name__ for a in driver.actions]
    assert kinds == ["DnfModule", "Packages"] and driver.actions[0].stream == "nvidia-driver:580-dkms"
    script, playbook = tmp_path / "rhel9.sh", tmp_path / "rhel9.yml"
    script.write_text(render(plan, "shell"))
    playbook.write_text(render(plan, "ansible"))
    assert "as_root dnf -y module enable nvidia-driver:580-dkms" in script.read_text()
    assert '"@nvidia-driver:580-dkms"' in playbook.read_text()
    checked = subprocess.run([tool("shellcheck"), "--shell=bash", "--severity=style", str(script)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", HOME=str(tmp_path), ANSIBLE_LOCAL_TEMP=str(tmp_path))
    linted = subprocess.run([tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor", str(playbook)],
                            capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert linted.returncode == 0, linted.stdout[-3000:]


# --- the Python of a machine whose inventory names none -------------------------------------------------------------


@pytest.mark.parametrize("frameworks,variant", [(("pytorch",), "auto"), (("jax",), "auto"), (("jax",), "cpu"),
                                                (("tensorflow",), "auto"), (("pytorch", "jax"), "auto")])
def test_no_python_on_ubuntu_2004_picks_for_its_python3_38(frameworks, variant):
    """driver-not-loaded records no Python; the plan installs Ubuntu 20.04's python3 (3.8, packages.ubuntu.com focal)
    and creates the venv with it, so every pinned release has wheels for 3.8, or the plan is impossible and says so."""
    from provision.knowledge import queries

    inv = inventory("driver-not-loaded")
    assert inv["python"]["version"] is None and inv["os"]["id"] == "ubuntu" and inv["os"]["version"].startswith("20.04")
    plan = make_plan(inv, make_request(frameworks, None, variant, None, "/opt/dlws/env", "install", False))
    assert any("Python 3.8" in note for note in plan.notes), plan.notes
    if not plan.ok:
        assert all("Python 3.8" in reason for reason in plan.impossible), plan.impossible
        return
    assert plan.choices and all(queries.python_supported(c.framework, c.release, "3.8") for c in plan.choices)
    python = [a for s in plan.steps if s.id == "python" for a in s.actions]
    assert [a.names for a in python] == [["python3", "python3-venv"]]  # the distribution's python3, not a guess
    assert [a.python for s in plan.steps for a in s.actions if hasattr(a, "python")] == ["python3"]


def test_no_python_on_ubuntu_2004_torch_is_the_last_for_38():
    plan = make_plan(inventory("driver-not-loaded"), make_request(("pytorch",), None, "auto", None, "/opt/dlws/env",
                                                                  "install", False))
    assert [(c.framework, c.release) for c in plan.choices] == [("pytorch", "2.4")]
    assert not make_plan(inventory("dgx-a100-8gpu"), make_request(("jax",), None, "auto", None, "/opt/dlws/env",
                                                                  "upgrade", False)).ok  # no JAX row supports 3.8


@pytest.mark.parametrize("os_id,version", [("ubuntu", "26.04"), ("debian", "14"), ("fedora", "41")])
def test_no_python_where_dlws_does_not_know_the_python3_is_impossible(os_id, version):
    """A release dlws installs packages on but whose python3 the distributions table does not know (no row; Fedora's
    row names no python3): the plan does not guess, it asks for --python; with it the plan is made."""
    inv = inventory("driver-not-loaded")
    inv["os"].update(id=os_id, version=version)
    request = make_request(("pytorch",), None, "auto", None, "/opt/dlws/env", "install", False)
    plan = make_plan(inv, request)
    assert not plan.ok and not plan.steps and not plan.choices
    assert plan.impossible == ["the Python of the environment is unknown (the inventory has none and dlws does not "
                               "know %s %s's python3): give --python X.Y" % (os_id, version)]
    assert plan.alternatives == ["name the Python: dlws setup --framework pytorch --python X.Y (the version of "
                                 "python3 on %s %s)" % (os_id, version)]
    # the CPU build: the GPU one needs a driver, which dlws cannot install where it knows no NVIDIA repository
    named = make_plan(inv, make_request(("pytorch",), None, "cpu", "3.12", "/opt/dlws/env", "install", False))
    assert named.ok, named.impossible
    assert [a.python for s in named.steps for a in s.actions if hasattr(a, "python")] == ["python3.12"]


# --- NVIDIA's repository key, per folder ----------------------------------------------------------------------------


@pytest.mark.parametrize("os_id,version,folder,key,fingerprint", [
    # NVIDIA signs debian13 with a new key (NVIDIA/cuda-repo-management#39 and its README 'GPG keys' table): 3bf863cc's
    # SHA-1 binding signature is rejected by Debian 13's apt since 2026-02-01, so a plan pinning it fails at update.
    ("debian", "13", "debian13", "8793F200.pub", "02182E60104FCDC26EAE1B8597A5D4CB8793F200"),
    # Existing folders keep 3bf863cc: NVIDIA avoids rotating keys of existing repositories (#39, about ubuntu2404).
    ("debian", "12", "debian12", "3bf863cc.pub", "EB693B3035CD5710E231E123A4B469963BF863CC"),
    ("ubuntu", "24.04", "ubuntu2404", "3bf863cc.pub", "EB693B3035CD5710E231E123A4B469963BF863CC"),
])
def test_each_repository_folder_is_trusted_with_its_own_key(os_id, version, folder, key, fingerprint):
    inv = inventory("driver-not-loaded")  # an NVIDIA GPU and no driver: the plan adds NVIDIA's repository
    inv["os"].update(id=os_id, version=version)
    plan = make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/dlws/env", "install", False))
    assert plan.ok, plan.impossible
    repo = [a for s in plan.steps if s.id == "nvidia-repo" for a in s.actions if type(a).__name__ == "AptRepo"]
    url = "https://developer.download.nvidia.com/compute/cuda/repos/%s/x86_64/" % folder
    assert [(r.key_url, r.key_fingerprint) for r in repo] == [(url + key, fingerprint)]
    pinned = "cut -d: -f10)\" = %s ]" % fingerprint
    script, playbook = render(plan, "shell"), render(plan, "ansible")
    assert "curl -fsSL --proto '=https' %s%s" % (url, key) in script and pinned in script
    assert 'url: !unsafe "%s%s"' % (url, key) in playbook and pinned in playbook
    other = "EB693B3035CD5710E231E123A4B469963BF863CC" if key != "3bf863cc.pub" else "8793F200"
    assert other not in script and other not in playbook


# --- GPUs no driver names: the PCI bus and the PCI ID database decide the driver branch -----------------------------


def driverless(tmp_path, device):
    """The driver-not-loaded fixture (Ubuntu 20.04, no NVIDIA module) with another NVIDIA device id on its bus."""
    folder = tmp_path / "snapshot"
    shutil.copytree(os.path.join(SNAPSHOTS, "driver-not-loaded"), str(folder))
    (folder / "files/sys/bus/pci/devices/0000:01:00.0/device").write_text(device + "\n")
    return collect(open_snapshot(str(folder))).to_dict()


def driver_packages(plan):
    return [a.names for s in plan.steps if s.id == "nvidia-driver" for a in s.actions if hasattr(a, "names")]


#: torch 2.15 publishes only cu132 (sm_75 and newer); 2.14's cu126 is the newest build with Maxwell to Volta code.
@pytest.mark.parametrize("device, name, packages, release, variant", [
    ("0x1b80", "GeForce GTX 1080", ["cuda-drivers-580"], "2.14", "cu126"),  # Pascal sm_61: R580, sm_60 SASS
    ("0x1db1", "Tesla V100 SXM2 16GB", ["cuda-drivers-580"], "2.14", "cu126"),  # Volta sm_70: cu130 lacks it
    ("0x1db4", "Tesla V100 PCIe 16GB", ["cuda-drivers-580"], "2.14", "cu126"),
    ("0x13c2", "GeForce GTX 970", ["cuda-drivers-580"], "2.14", "cu126"),  # Maxwell sm_52
    ("0x2684", "GeForce RTX 4090", ["nvidia-open"], "2.15", "cu132"),  # Ada: the open modules, the newest build
])
def test_driverless_gpu_gets_the_driver_branch_of_its_architecture(tmp_path, device, name, packages, release,
                                                                   variant):
    inv = driverless(tmp_path, device)
    assert [g["name"] for g in inv["gpus"]] == [name]
    plan = make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/dlws/env", "install", False))
    assert plan.ok, plan.impossible
    assert driver_packages(plan) == [packages]
    [choice] = plan.choices
    assert (choice.release, choice.variant) == (release, variant)


def test_driverless_kepler_is_impossible_with_the_reason(tmp_path):
    inv = driverless(tmp_path, "0x102d")  # GK210GL [Tesla K80]
    assert [(g["name"], g["architecture"], g["compute_capability"]) for g in inv["gpus"]] == [
        ("Tesla K80", "Kepler", "3.7")]
    plan = make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/dlws/env", "install", False))
    assert not plan.ok and not driver_packages(plan)
    assert plan.impossible[0] == (
        "no NVIDIA driver branch dlws installs supports GPU 0 (Tesla K80), compute capability 3.7 (Kepler): the "
        "oldest, 580, needs compute capability 5.0 or newer (a GPU this old needs a legacy NVIDIA driver, installed "
        "by hand)")
    assert any("--variant cpu" in alternative for alternative in plan.alternatives)


def test_a_python_the_distribution_does_not_package_is_the_users_to_provide(tmp_path):
    """Debian 12 packages Python 3.11 only: a plan for 3.8 (MXNet's last) must not apt-get install python3.8, which
    does not exist; its python step says what to do and fails until a python3.8 is on PATH, then is done."""
    inv = inventory("debian12-docker-epyc-dev")
    plan = make_plan(inv, make_request(("mxnet",), None, "auto", "3.8", str(tmp_path / "env"), "keep", False))
    assert plan.ok, plan.impossible
    step = plan.steps[0]
    assert step.id == "python" and [type(a).__name__ for a in step.actions] == ["Manual"]
    assert "no package of Python 3.8 that dlws knows of for debian 12.11 (its python3 is 3.11)" in plan.notes[-1]
    script = "set -euo pipefail\nstep() { :; }\n" + "\n".join(_step_lines(step)) + "\n"
    missing = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, PATH="%s:/usr/bin:/bin" % tmp_path))  # no python3.8 there
    assert missing.returncode == 1 and "uv python install 3.8" in missing.stderr
    fake = tmp_path / "python3.8"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    found = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PATH="%s:/usr/bin:/bin" % tmp_path))
    assert found.returncode == 0 and "already done" in found.stdout
    own = make_plan(inv, make_request(("jax",), None, "cpu", "3.11", str(tmp_path / "env"), "keep", False))
    assert [type(a).__name__ for a in own.steps[0].actions] == ["Packages"]  # its own python3: apt installs it


def _step_lines(step):
    from provision.emit.shell import _step

    return _step(1, 1, step)


def test_every_check_of_every_golden_plan_is_one_shell_command_that_parses():
    """A check is used as `if CHECK; then` and a verification as `if ! { VERIFY; }; then`: each must parse on its
    own, so that a compound (`A && B`) is judged whole, never cut by the negation or a stray quote."""
    checked = 0
    for path in goldens("json"):
        with open(path) as handle:
            plan = json.load(handle)
        for step in plan["steps"]:
            for command in filter(None, (step.get("check"), step.get("verify"))):
                for wrapped in ("if %s; then :; fi" % command, "if ! { %s; }; then :; fi" % command):
                    parsed = subprocess.run(["bash", "-n", "-c", wrapped], capture_output=True, text=True,
                                            timeout=30)
                    assert parsed.returncode == 0, (path, step["id"], parsed.stderr)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize("driver,cuda,variant", [
    ("460.32.03", "11.2", "cu112"),  # cu113..cu117 would run only under minor-version compatibility: the native one
    ("470.57.02", "11.4", "cu114"),
    ("515.65.01", "11.7", "cu117"),  # the newest MXNet CUDA build
    ("440.33.01", "10.2", "cu102"),  # before CUDA 11 no minor-version compatibility: nothing newer runs
    ("418.39", "10.1", "cu101"),
])
def test_mxnet_plans_the_cuda_build_its_driver_runs_natively(driver, cuda, variant):
    inv = inventory("dgx-a100-8gpu")  # Ubuntu 20.04, Python 3.8: MXNet 1.9.1's last
    inv["nvidia"].update(driver_version=driver, cuda_driver_version=cuda)
    plan = make_plan(inv, make_request(("mxnet",), None, "auto", "3.8", "/opt/dlws/env", "keep", False))
    assert plan.ok, plan.impossible
    (choice,) = plan.choices
    assert (choice.variant, choice.packages) == (variant, {"mxnet-" + variant: "1.9.1", "numpy": "1.23.5"})


def test_keras_on_a_tensorflow_before_216_is_the_keras_2_it_requires():
    inv = inventory("h100-sxm-server")  # Ubuntu 22.04, Python 3.10: below Keras 3.15's 3.11
    plan = make_plan(inv, make_request(("keras", "tensorflow"), "2.15", "auto", None, "/opt/dlws/env", "keep", False))
    assert plan.ok, plan.impossible
    keras = plan.choices[-1]
    assert (keras.framework, keras.release, keras.packages) == ("keras", "2.15", {"keras": "2.15.0"})
    assert "keras.backend.dot" in render(plan, "shell") and "keras.ops" not in render(plan, "shell")  # no Keras 3 API
    newer = make_plan(inv, make_request(("keras", "tensorflow"), "2.16", "auto", "3.11", "/opt/dlws/env", "keep",
                                        False))
    assert newer.ok and newer.choices[-1].packages == {"keras": "3.15.1"}
    assert any("tf-keras==2.16.0 and set TF_USE_LEGACY_KERAS=1" in note for note in newer.choices[-1].notes)
    from provision.planner.model import Choice
    from provision.planner.select import keras_choice

    tf214 = Choice("tensorflow", "2.14", "cpu", {"tensorflow": "2.14.1"})
    assert keras_choice([tf214], "3.9")[0].packages == {"keras": "2.14.0"}
    assert keras_choice([tf214], "3.8") == (None, ["Keras 2.14 needs Python >=3.9 (the environment has 3.8)"])


def test_mxnet_on_an_aarch64_gpu_has_no_cuda_build_but_the_cpu_one():
    inv = inventory("gh200-aggregate-uncorrectable-ecc")  # Grace Hopper: aarch64 with an NVIDIA GPU
    plan = make_plan(inv, make_request(("mxnet",), None, "auto", "3.8", "/opt/dlws/env", "keep", False))
    assert not plan.ok and "MXNet 1.9 publishes no CUDA build for Linux aarch64" in plan.impossible[0]
    cpu = make_plan(inv, make_request(("mxnet",), None, "cpu", "3.8", "/opt/dlws/env", "keep", False))
    assert cpu.ok and cpu.choices[0].packages == {"mxnet": "1.9.1", "numpy": "1.23.5"}  # its manylinux2014_aarch64


@pytest.mark.parametrize("os_release, variant, toolkit", [
    ("ubuntu-20.04", "auto", None),  # torch's CUDA 13 build: CUDA 13.0 dropped Ubuntu 20.04, no toolkit there
    ("ubuntu-20.04", "cu126", "cuda-toolkit-12-6"),
    ("ubuntu-22.04", "auto", "cuda-toolkit-13-"),
])
def test_the_toolkit_step_stops_where_nvidias_repository_for_the_release_does(os_release, variant, toolkit):
    """--with-cuda-toolkit asks NVIDIA's repository for the builds' CUDA: where that CUDA dropped the release (the
    distributions table's cuda_dropped_in), the plan says so instead of naming a package the repository lacks."""
    inv = inventory("h100-sxm-server")
    os_id, _, version = os_release.partition("-")
    inv["os"].update(id=os_id, version=version)
    inv["nvidia"].update(driver_version="595.71.05", cuda_driver_version="13.2")  # runs torch's CUDA 13 builds
    plan = make_plan(inv, make_request(("pytorch",), None, variant, "3.12", "/opt/dlws/env", "keep", True))
    assert plan.ok, plan.impossible
    packages = [n for s in plan.steps if s.id == "cuda-toolkit" for a in s.actions for n in a.names]
    if toolkit is None:
        assert packages == [] and any("CUDA 13.0 dropped it" in n and "Ubuntu 20.04" in n for n in plan.notes)
    else:
        assert len(packages) == 1 and packages[0].startswith(toolkit) and not any("dropped it" in n for n in plan.notes)
