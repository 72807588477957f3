"""A fleet whose hosts lie: results that a host wrote (doctor.json, status.json) and inventory names that are not
folder names. Nothing a host wrote runs on the controller, nothing is written outside -o, and one bad host leaves
the rest of the fleet's report and plan intact.

The emitted playbooks run with ansible-playbook -c local --check; a marker that a templated lookup would create
must not exist, and no play other than the planned ones may run.
"""

import copy
import json
import os
import re
import sys
import threading
from xml.etree import ElementTree as ET

import pytest

from fleet_results import fixture, record
from provision.fleet import DOCTOR_FILE, STATUS_FILE, host_folder
from provision.inventory import collect
from provision.snapshot import open_snapshot
from test_hostile_ansible import check_run, load, marker_lookup, run

BIN = os.path.dirname(sys.executable)
NAMES = ["../victim", "a/b", "-rf", ".hidden", "..", ".", "x" * 200, "host\nname", "émile", "a~b", "C:\\x",
         "{{ lookup('pipe', 'id') }}", "gpu01", "gpu01.example.com", "a[1:3]", ""]


def dlws(*args, **kwargs):
    return run([sys.executable, "-m", "provision"] + list(args), **kwargs)


def inventory(name):
    return collect(open_snapshot(fixture(name))).to_dict()


# --- host folders ---------------------------------------------------------------------------------------------------


def test_host_folders_are_safe_unique_and_plain_names_stay():
    folders = [host_folder(name) for name in NAMES]
    assert len(set(folders)) == len(NAMES)
    for folder in folders:
        assert folder and "/" not in folder and "\\" not in folder and "\0" not in folder and "\n" not in folder
        assert folder[0] not in ".-" and len(folder) <= 128 and folder.isascii()
    assert host_folder("gpu01.example.com") == "gpu01.example.com" and host_folder("a_b-1") == "a_b-1"
    assert host_folder("../victim").startswith("_victim~")


# --- fleet report and plan on hosts that wrote garbage --------------------------------------------------------------


@pytest.fixture()
def lying_fleet(tmp_path):
    """Good hosts under hostile names, and hosts whose files would crash, hang or inject."""
    folder = tmp_path / "results"
    docker = inventory("docker-no-gpu")
    record(folder, "good-1", docker)
    record(folder, "../victim\n\x1b[31mred", docker)
    deep = record(folder, "deep")
    with open(os.path.join(deep, DOCTOR_FILE), "w") as handle:
        handle.write("[" * 100000 + "]" * 100000)
    typed = copy.deepcopy(inventory("h100-sxm-server"))
    typed["gpus"][0]["compute_capability"] = 9
    typed["gpus"][1]["name"] = ["a", {"b": 1}]
    typed["cpu"]["model"] = {"x": 1}
    record(folder, "typed", typed)
    fifo_doctor = record(folder, "fifo-doctor")
    os.mkfifo(os.path.join(fifo_doctor, DOCTOR_FILE))
    fifo_status = os.path.join(str(folder), "fifo-status")
    os.makedirs(fifo_status)
    os.mkfifo(os.path.join(fifo_status, STATUS_FILE))
    record(folder, "liar", docker)  # a status.json that claims another host's name: the folder's name is shown
    with open(os.path.join(str(folder), "liar", STATUS_FILE), "w") as handle:
        json.dump({"host": "good-1", "status": "ok"}, handle)
    return str(folder)


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "html"])
def test_report_survives_every_lying_host_in_every_format(lying_fleet, fmt):
    result = dlws("fleet", "report", lying_fleet, "--format", fmt, timeout=120)
    assert result.returncode == 1, result.stderr  # failed hosts, not dlws failing (3) or hanging
    out = result.stdout
    if fmt == "json":
        hosts = {row["host"]: row for row in json.loads(out)["hosts"]}
        assert set(hosts) == {"good-1", "../victim\n\x1b[31mred", "deep", "typed", "fifo-doctor", "fifo-status",
                              "liar"}
        assert hosts["good-1"]["status"] == hosts["liar"]["status"] == "ok"
        for bad, said in (("deep", "nested"), ("typed", "inventory.cpu.model: a JSON object where str belongs"),
                          ("fifo-doctor", "not a regular file"),
                          ("fifo-status", "not a regular file")):
            assert hosts[bad]["status"] == "failed" and said in hosts[bad]["message"], hosts[bad]
    elif fmt == "text":
        assert "\x1b" not in out and "\\x1b[31mred" in out and "../victim\\n" in out
    elif fmt == "junit":
        cases = ET.fromstring(out).findall(".//testcase")
        assert {case.get("name") for case in cases} >= {"good-1", "../victim\\n\\x1b[31mred", "deep", "typed"}
    else:
        assert "../victim" in out and "<script" not in out.lower()


def test_plan_survives_every_lying_host(lying_fleet, tmp_path):
    out = str(tmp_path / "site.yml")
    result = dlws("fleet", "plan", lying_fleet, "--framework", "jax", "--variant", "cpu", "--driver", "keep",
                  "-o", out, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr
    for host in ("deep", "fifo-doctor", "fifo-status", "typed"):
        assert "skipped %s (failed)" % host in result.stderr
    hosts = load(open(out[:-len(".yml")] + ".hosts.yml").read())["all"]["children"]
    planned = {host for group in hosts.values() for host in group["hosts"]}
    assert planned == {"good-1", "../victim\n\x1b[31mred", "liar"}


# --- fleet plan: the playbook of hosts with hostile facts runs nothing else ---------------------------------------


def hostile_text(marker):
    return "X\n- hosts: localhost\n  tasks:\n    - ansible.builtin.shell: touch %s\n%s $(touch %s) {%% raw %%}'\"" % (
        marker, marker_lookup(marker), marker)


def test_fleet_plan_with_hostile_facts_runs_only_its_plays(tmp_path):
    marker = tmp_path / "MARKER"
    folder = tmp_path / "results"
    gpu = copy.deepcopy(inventory("h100-sxm-server"))
    gpu["python"]["version"] = None  # "python3": present here, so nothing is installed under --check
    for entry in gpu["gpus"]:
        entry["name"] = hostile_text(marker)
    gpu["os"]["pretty_name"] = hostile_text(marker)
    gpu["cpu"]["model"] = hostile_text(marker)
    record(folder, "gpu-%s" % marker_lookup(marker), gpu)
    record(folder, "../%s" % hostile_text(marker), gpu)
    cpu = copy.deepcopy(inventory("docker-no-gpu"))
    record(folder, "cpu\n- hosts: localhost", cpu)
    driver = copy.deepcopy(gpu)
    driver["nvidia"]["driver_version"] = "550; touch %s" % marker
    record(folder, "bad-driver", driver)
    os_id = copy.deepcopy(cpu)
    os_id["os"]["id"] = "debian\n- hosts: localhost"
    record(folder, "bad-os", os_id)
    record(folder, "gpu[1:3]", cpu)
    playbook = tmp_path / "site.yml"
    made = dlws("fleet", "plan", str(folder), "--framework", "jax", "--variant", "cpu", "--driver", "keep",
                "-o", str(playbook))
    assert made.returncode == 0, made.stderr
    assert "skipped bad-driver (failed): doctor.json: nvidia.driver_version" in made.stderr
    assert "skipped bad-os (failed): doctor.json: os.id" in made.stderr
    assert "skipped gpu[1:3] (failed): not an inventory host name" in made.stderr
    plays = load(playbook.read_text())
    assert [play["hosts"] for play in plays] == ["dlws_class_1", "dlws_class_2"]
    comments = [line for line in playbook.read_text().splitlines() if line.startswith("#")]
    assert comments and all(re.fullmatch(r"# [A-Za-z0-9 .,:;()/+_?-]*", line) for line in comments)
    hosts_file = str(tmp_path / "site.hosts.yml")
    groups = load(open(hosts_file).read())["all"]["children"]
    assert sorted(host for group in groups.values() for host in group["hosts"]) == sorted(
        ["gpu-%s" % marker_lookup(marker), "../%s" % hostile_text(marker), "cpu\n- hosts: localhost"])
    result = check_run(playbook, tmp_path, hosts_file)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.count("PLAY [") == 2 and "PLAY [localhost]" not in result.stdout
    assert not marker.exists()


# --- the gather: hostile inventory names and a hostile -o ---------------------------------------------------------


def test_gather_keeps_hostile_names_inside_o_and_templates_nothing(tmp_path, cache_home):
    marker = tmp_path / "MARKER"
    out = tmp_path / ("out %s" % marker_lookup(marker))
    snapshot = fixture("docker-no-gpu")
    names = ["../victim", "a/b", "-rf", ".hidden", "gpu-%s" % marker_lookup(marker), "plain"]
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "dlws_snapshot": snapshot}
    inventory_file = tmp_path / "hosts.json"  # one machine under several names: one dlws home each (pip races)
    inventory_file.write_text(json.dumps({"all": {"hosts": {
        name: dict(local, dlws_home=str(tmp_path / ("home%d" % number))) for number, name in enumerate(names)}}}))
    (tmp_path / "victim").mkdir()  # what ../victim would have written into (or deleted from)
    (tmp_path / "victim" / STATUS_FILE).write_text("keep")
    from test_fleet_gather import ansible_env, gather

    result = gather(inventory_file, out, ansible_env(tmp_path, cache_home))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not marker.exists()
    assert (tmp_path / "victim" / STATUS_FILE).read_text() == "keep"
    assert sorted(os.listdir(str(out))) == sorted(host_folder(name) for name in names)
    for name in names:
        with open(str(out / host_folder(name) / STATUS_FILE)) as handle:
            assert json.load(handle)["host"] == name
    report = dlws("fleet", "report", str(out), "--format", "json")
    assert sorted(row["host"] for row in json.loads(report.stdout)["hosts"]) == sorted(names)
    assert not marker.exists()


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    from provision.fleet.collection import cached_collections

    home = str(tmp_path_factory.mktemp("cache"))
    cached_collections(os.path.join(home, "dlws"))
    os.makedirs(os.path.join(home, "control"))
    return home


def test_reading_a_fifo_does_not_block(tmp_path):
    """The reader in process: a FIFO with no writer is refused at once (no thread left waiting)."""
    from provision.fleet.results import load_host

    os.makedirs(str(tmp_path / "h"))
    os.mkfifo(str(tmp_path / "h" / STATUS_FILE))
    done = []
    thread = threading.Thread(target=lambda: done.append(load_host(str(tmp_path / "h"))), daemon=True)
    thread.start()
    thread.join(10)
    assert done and done[0].status == "failed" and "not a regular file" in done[0].message
