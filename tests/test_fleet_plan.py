"""dlws fleet plan: a results folder of recorded machines grouped into classes, one play per class, golden outputs
linted like the single-machine playbooks, and the class key checked against the planner itself.

Regenerate the goldens after a deliberate change with: DLWS_UPDATE_GOLDEN=1 scripts/test tests/test_fleet_plan.py
"""

import copy
import json
import os
import shutil
import subprocess
import sys

import pytest

from fleet_results import record
from provision.emit import ansible
from provision.emit.yaml import dump
from provision.fleet.plan import class_key, inventory_name, plan_classes, run_fleet_plan
from provision.fleet.results import load_results
from provision.inventory import collect
from provision.planner import plan as make_plan
from provision.setup_command import make_request
from provision.snapshot import open_snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")
GOLDEN = os.path.join(HERE, "golden", "fleet")
BIN = os.path.dirname(sys.executable)
UPDATE = os.environ.get("DLWS_UPDATE_GOLDEN") == "1"
REQUEST = make_request(("tensorflow",), None, "auto", None, "/opt/dlws/env", "install", False)


def inventory(fixture):
    return collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()


def with_python(inv, version):
    """The fixtures record no interpreter; a gathered host has one (the venv dlws ran from)."""
    inv = copy.deepcopy(inv)
    inv["python"]["version"] = version
    return inv


def varied(inv, python, memory, kernel):
    """The same machine as another host of its class would report it: facts the planner does not read differ."""
    inv = with_python(inv, python)
    inv["memory"]["available_bytes"] = memory
    inv["os"]["kernel"] = kernel
    for gpu in inv["gpus"]:
        gpu.update(uuid="GPU-%s-%d" % (kernel, gpu["index"]), temperature_c=30.0 + gpu["index"], memory_used_bytes=0)
    return inv


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Four classes (one of them impossible for TensorFlow: no AVX), hosts copied from fixtures under other names,
    an unreachable host and one whose doctor.json is garbage."""
    folder = tmp_path_factory.mktemp("fleet") / "results"
    h100 = inventory("h100-sxm-server")
    for host, python, memory, kernel in (("gpu-h100-01", "3.10.12", 2 ** 40, "5.15.0-78-generic"),
                                         ("gpu-h100-02", "3.10.14", 2 ** 40, "5.15.0-91-generic"),
                                         ("gpu-h100-10", "3.10.12", 2 ** 39, "5.15.0-78-generic")):
        record(folder, host, varied(h100, python, memory, kernel))
    record(folder, "gpu-h100-py312", with_python(h100, "3.12.3"))  # another Python: another class
    rtx = inventory("rtx4090-ryzen-workstation")
    record(folder, "ws-4090-a", with_python(rtx, "3.10.12"))
    record(folder, "ws-4090-b", varied(rtx, "3.10.6", 2 ** 35, "6.5.0-15-generic"))
    for host in ("ci-runner-1", "ci-runner-2"):
        record(folder, host, with_python(inventory("docker-no-gpu"), "3.11.2"))
    for host in ("old-xeon-1", "old-xeon-2"):
        record(folder, host, with_python(inventory("cpu-without-avx"), "3.9.2"))
    record(folder, "gpu-down", status="unreachable",
           message="Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused")
    record(folder, "gpu-garbage", doctor='{"schema": "something else"}')
    return str(folder)


def check_golden(name, text):
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    with open(path) as handle:
        assert handle.read() == text, "%s differs; if the change is deliberate: DLWS_UPDATE_GOLDEN=1" % path


def read(path):
    with open(path) as handle:
        return handle.read()


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else shutil.which(name)


def answered(folder):
    return [(r.host, r.inventory) for r in load_results(folder) if r.answered]


# --- the command --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(fleet, tmp_path_factory):
    """The playbook and its group inventory, as `dlws fleet plan DIR -f tensorflow -o site.yml` writes them."""
    out = tmp_path_factory.mktemp("plan")
    playbook = str(out / "site.yml")
    assert run_fleet_plan(fleet, REQUEST, "ansible", playbook) == 1  # a class cannot be planned
    return playbook, inventory_name(playbook)


def test_goldens_playbook_inventory_and_json(fleet, written, tmp_path, capsys):
    playbook, hosts = written
    assert hosts.endswith("site.hosts.yml")
    check_golden("site.yml", read(playbook))
    check_golden("site.hosts.yml", read(hosts))
    assert run_fleet_plan(fleet, REQUEST, "json", str(tmp_path / "plan.json")) == 1
    check_golden("plan.json", read(str(tmp_path / "plan.json")))


def test_same_input_byte_identical_output(fleet, written, tmp_path, capsys):
    playbook, hosts = written
    again = str(tmp_path / "again.yml")
    run_fleet_plan(fleet, REQUEST, "ansible", again)
    assert read(again) == read(playbook) and read(inventory_name(again)) == read(hosts)
    capsys.readouterr()
    run_fleet_plan(fleet, REQUEST, "ansible", None)  # to stdout: the same playbook
    out = capsys.readouterr()
    assert out.out == read(playbook)
    assert "-o FILE" in out.err and "ansible_inventory" in out.err


def test_classes_hosts_and_what_is_skipped(fleet, tmp_path, capsys):
    assert run_fleet_plan(fleet, REQUEST, "json", None) == 1
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["schema"] == "dlws.fleet-plan/1"
    groups = {c["group"]: c["hosts"] for c in data["classes"]}
    assert groups == {"dlws_class_1": ["ci-runner-1", "ci-runner-2"],
                      "dlws_class_2": ["gpu-h100-01", "gpu-h100-02", "gpu-h100-10"],
                      "dlws_class_3": ["gpu-h100-py312"],
                      "dlws_class_4": ["old-xeon-1", "old-xeon-2"],
                      "dlws_class_5": ["ws-4090-a", "ws-4090-b"]}
    assert data["ansible_inventory"]["all"]["children"]["dlws_class_2"]["hosts"] == {
        "gpu-h100-01": {}, "gpu-h100-02": {}, "gpu-h100-10": {}}
    by_group = {c["group"]: c for c in data["classes"]}
    # Ubuntu 22.04 packages Python 3.10 only: the hosts' 3.12 is theirs to have on PATH, never an apt install
    python_step = by_group["dlws_class_3"]["plan"]["steps"][0]
    assert python_step["actions"][0]["kind"] == "manual" and "Python 3.12" in python_step["actions"][0]["message"]
    assert python_step["check"].startswith("command -v python3.12")
    assert by_group["dlws_class_2"]["plan"]["frameworks"][0]["variant"] == "cuda"
    assert by_group["dlws_class_1"]["plan"]["frameworks"][0]["variant"] == "cpu"
    assert [c["group"] for c in data["classes"] if not c["playbook"]] == ["dlws_class_4"]
    [impossible] = data["impossible"]
    assert impossible["hosts"] == ["old-xeon-1", "old-xeon-2"]
    assert any("no AVX" in reason for reason in impossible["reasons"])
    assert {s["host"]: s["status"] for s in data["skipped"]} == {"gpu-down": "unreachable", "gpu-garbage": "failed"}
    assert "skipped gpu-down (unreachable): Failed to connect" in out.err
    assert "dlws_class_4 cannot be planned, no play for old-xeon-1, old-xeon-2" in out.err
    assert "the CPU has no AVX" in out.err


def test_every_host_planned_alone_gets_its_class_play(fleet, written):
    """The class key's promise: planning any host of a class by itself gives the play (and plan) of the class."""
    text = read(written[0])
    inventories = dict(answered(fleet))
    classes = plan_classes(answered(fleet), REQUEST)
    for host_class in classes:
        first = host_class.plan.to_dict()
        for host in host_class.hosts:
            alone = make_plan(inventories[host], REQUEST)
            assert dict(alone.to_dict(), machine=None) == dict(first, machine=None), host
            if alone.ok:
                play = dump([dict(ansible.play(alone, host_class.group),
                                          name=ansible.play(alone)["name"] + " on " + host_class.group)])
                assert play[len("---\n"):] in text, host
    h100 = next(c for c in classes if "gpu-h100-01" in c.hosts)
    assert len({json.dumps(inventories[h], sort_keys=True) for h in h100.hosts}) == 3  # the hosts do differ
    assert text.count("\n- name: ") == 4 and "old-xeon" not in text


def test_playbook_passes_syntax_check_with_the_group_inventory(written, tmp_path):
    playbook, hosts = written
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path), ANSIBLE_HOME=str(tmp_path))
    result = subprocess.run([tool("ansible-playbook"), "--syntax-check", "-i", hosts, playbook],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_play_targets_exactly_its_class(written, tmp_path):
    """With the inventory the hosts came from (their connection settings) plus the group inventory, as documented."""
    playbook, hosts = written
    users = tmp_path / "hosts.ini"
    users.write_text("[gpu]\ngpu-h100-01 ansible_host=127.0.0.2\ngpu-h100-02\ngpu-h100-10\ngpu-h100-py312\n"
                     "gpu-down ansible_port=9\n[other]\nws-4090-a\nws-4090-b\nci-runner-1\nci-runner-2\n"
                     "old-xeon-1\nold-xeon-2\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path), ANSIBLE_HOME=str(tmp_path))
    result = subprocess.run([tool("ansible-playbook"), "-i", str(users), "-i", hosts, "--list-hosts", playbook],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    plays = {}
    for block in result.stdout.split("  play #")[1:]:
        group = block.split("(", 1)[1].split(")", 1)[0]
        plays[group] = sorted(line.strip() for line in block.split("hosts (", 1)[1].splitlines()[1:] if line.strip())
    assert plays == {"dlws_class_1": ["ci-runner-1", "ci-runner-2"],
                     "dlws_class_2": ["gpu-h100-01", "gpu-h100-02", "gpu-h100-10"],
                     "dlws_class_3": ["gpu-h100-py312"], "dlws_class_5": ["ws-4090-a", "ws-4090-b"]}


def test_playbook_and_inventory_pass_ansible_lint_production(written, tmp_path):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", HOME=str(tmp_path), ANSIBLE_LOCAL_TEMP=str(tmp_path))
    result = subprocess.run([tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor"] + list(written),
                            capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "2 files processed" in result.stdout + result.stderr


def test_cli_exit_codes_and_usage_errors(fleet, tmp_path):
    def dlws(*args):
        return subprocess.run([sys.executable, "-m", "provision", "fleet", "plan"] + list(args),
                              capture_output=True, text=True, cwd=str(tmp_path))

    planned = tmp_path / "planned"
    shutil.copytree(fleet, str(planned))
    for host in ("old-xeon-1", "old-xeon-2"):
        shutil.rmtree(str(planned / host))
    ok = dlws(str(planned), "--framework", "tensorflow", "-o", "site.yml")
    assert ok.returncode == 0, ok.stderr
    assert "run: ansible-playbook -i INVENTORY -i site.hosts.yml site.yml" in ok.stderr
    assert (tmp_path / "site.hosts.yml").exists()
    missing = dlws(str(tmp_path / "nowhere"), "--framework", "tensorflow")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "no such results folder" in missing.stderr
    unknown = dlws(fleet, "--framework", "caffe")
    assert unknown.returncode == 2 and "unknown framework" in unknown.stderr and "Traceback" not in unknown.stderr


def test_no_plannable_class_writes_no_playbook(tmp_path, capsys):
    record(tmp_path / "results", "old-xeon-1", with_python(inventory("cpu-without-avx"), "3.9.2"))
    output = str(tmp_path / "site.yml")
    assert run_fleet_plan(str(tmp_path / "results"), REQUEST, "ansible", output) == 1
    assert not os.path.exists(output) and "no playbook written" in capsys.readouterr().err


def test_an_inventory_the_planner_cannot_read_is_listed_not_fatal(tmp_path, capsys):
    bad = with_python(inventory("docker-no-gpu"), "3.11.2")
    bad["python"]["version"] = 3.11  # a hand-edited doctor.json: a number where the planner expects text
    record(tmp_path / "results", "edited", bad)
    record(tmp_path / "results", "fine", with_python(inventory("docker-no-gpu"), "3.11.2"))
    assert run_fleet_plan(str(tmp_path / "results"), REQUEST, "ansible", str(tmp_path / "site.yml")) == 0
    err = capsys.readouterr().err
    assert "skipped edited (failed): doctor.json: not a dlws inventory (inventory.python.version: the number" in err
    assert "hosts: \"dlws_class_1\"" in read(str(tmp_path / "site.yml"))
    assert "edited" not in read(str(tmp_path / "site.hosts.yml"))


# --- the class key against the planner ---------------------------------------------------------------------------

FIXTURES = sorted(os.listdir(SNAPSHOTS))
REQUESTS = [make_request(f, v, variant, None, "/opt/dlws/env", driver, toolkit) for f, v, variant, driver, toolkit in (
    (("pytorch",), None, "auto", "install", False),
    (("pytorch",), "2.4", "auto", "keep", True),
    (("tensorflow",), None, "auto", "install", False),
    (("jax",), None, "auto", "upgrade", False),
    (("keras", "jax"), None, "auto", "install", False),
    (("mxnet",), None, "cuda", "install", False),
)]


def transplant(key, other):
    """other's inventory carrying a class key, built from the key alone: every fact outside it (memory, disks,
    frameworks, toolkits, GPU health, CPU flags other than AVX, the Python patch release, ...) is other's."""
    inv = copy.deepcopy(other)
    inv["os"].update({name: key["os"][name] for name in ("system", "id", "version", "glibc", "emulation")},
                     wsl=2 if key["os"]["wsl"] else None, container="kubernetes" if key["os"]["container"] else None)
    inv["cpu"]["arch"] = key["arch"]
    inv["cpu"]["flags"] = {True: ["sse2", "avx"], False: ["sse2", "sse4_2"], None: []}[key["avx"]]
    inv["python"]["version"] = key["python"] + ".99" if key["python"] else None
    inv["python"]["bits"] = key["python_bits"]
    nvidia = key["nvidia"]
    inv["nvidia"].update({name: nvidia[name] for name in ("status", "driver_version", "cuda_driver_version")},
                         source="jetson" if nvidia["jetson"] else "nvml",
                         pci_gpus=len(key["gpus"]) + 1 if nvidia["pci_gpus"] else None)
    inv["jetson"] = {"l4t": key["jetson"]["l4t"], "model": "Jetson" if key["jetson"]["found"] else None}
    inv["env_vars"] = dict(other.get("env_vars") or {}, HSA_OVERRIDE_GFX_VERSION=key["hsa_override_gfx_version"])
    donor = other["gpus"] or [{}]
    inv["gpus"] = [dict(copy.deepcopy(donor[i % len(donor)]), **gpu) for i, gpu in enumerate(key["gpus"])]
    return inv


def comparable(plan):
    return json.dumps(dict(plan.to_dict(), machine=None), sort_keys=True)


#: Each machine's key is carried into the machines this far after it in FIXTURES (wrapping): every fixture is a
#: donor and a body eight times, with partners of every kind, at a ninth of the cost of all pairs (which grows with
#: the square of the fixtures).
PARTNER_OFFSETS = (1, 2, 3, 5, 8, 13, 21, 34)


def test_the_class_key_holds_every_fact_the_planner_reads():
    """For pairs of recorded machines: the second's inventory with the first's key plans exactly like the first.
    A planner change that reads a new fact fails here until class_key holds it."""
    inventories = {name: inventory(name) for name in FIXTURES}
    expected = {(name, i): comparable(make_plan(inventories[name], request))
                for name in FIXTURES for i, request in enumerate(REQUESTS)}
    assert len(set(expected.values())) > 20  # the machines and requests do plan differently
    for n, name in enumerate(FIXTURES):
        for other in {FIXTURES[(n + offset) % len(FIXTURES)] for offset in PARTNER_OFFSETS} - {name}:
            moved = transplant(class_key(inventories[name]), inventories[other])
            assert class_key(moved) == class_key(inventories[name]), (name, other)
            for i, request in enumerate(REQUESTS):
                assert comparable(make_plan(moved, request)) == expected[(name, i)], (name, other, request)


def test_the_class_key_separates_what_the_planner_tells_apart():
    h100 = with_python(inventory("h100-sxm-server"), "3.10.12")
    keys = {json.dumps(class_key(inv), sort_keys=True) for inv in (
        h100, with_python(h100, "3.11.4"),
        dict(h100, nvidia=dict(h100["nvidia"], driver_version="535.104.05", cuda_driver_version="12.2")),
        dict(h100, os=dict(h100["os"], id="debian", version="12", glibc="2.36")),
        dict(h100, gpus=h100["gpus"][:4]))}
    assert len(keys) == 5
    assert class_key(with_python(h100, "3.10.14")) == class_key(h100)
