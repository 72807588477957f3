"""dlws fleet gather: real ansible-playbook runs against localhost and hosts over real SSH on loopback addresses."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

from provision import __version__
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE
from provision.fleet.collection import cached_collections
from provision.errors import UsageError
from provision.fleet.gather import Progress, _gather, playbooks_dir
from provision.host import LiveHost
from provision.inventory import collect
from provision.snapshot import open_snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAPSHOTS = os.path.join(ROOT, "tests", "snapshots")
BIN = os.path.dirname(sys.executable)
SSHD = "/usr/sbin/sshd"
ADDRESSES = ("127.0.0.2", "127.0.0.3")
REPLAYED = {"127.0.0.2": "h100-sxm-server", "gtx1080": "gtx1080-pascal", "mi250x": "mi250x-rocm-server"}
LIVE = ("localhost", "127.0.0.3")


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, **kwargs)


def free_port(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def wait_listening(port, seconds=10.0):
    deadline = time.monotonic() + seconds
    for address in ADDRESSES:
        while True:
            try:
                socket.create_connection((address, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory):
    """XDG_CACHE_HOME of every gather here, and a short folder for SSH's control sockets (a socket path has at
    most 108 bytes): the collection is built once per session, then reused."""
    home = str(tmp_path_factory.mktemp("cache"))
    cached_collections(os.path.join(home, "dlws"))
    control = tempfile.mkdtemp(prefix="cp", dir="/tmp")
    os.symlink(control, os.path.join(home, "control"))
    yield home
    shutil.rmtree(control, ignore_errors=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """sshd as root on a free high port of 127.0.0.2 and 127.0.0.3, with a host key and a client key made here."""
    if not os.path.exists(SSHD) or os.geteuid() != 0:
        pytest.skip("needs root and openssh-server (%s)" % SSHD)
    base = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)], check=True)
    shutil.copy(str(base / "client_key.pub"), str(base / "authorized_keys"))
    port = free_port(ADDRESSES[0])
    config = base / "sshd_config"
    config.write_text("\n".join([
        "Port %d" % port, "ListenAddress 127.0.0.2", "ListenAddress 127.0.0.3",
        "HostKey %s" % (base / "host_key"), "PidFile %s" % (base / "sshd.pid"),
        "AuthorizedKeysFile %s" % (base / "authorized_keys"), "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "StrictModes no", "UsePAM no",
        "Subsystem sftp internal-sftp", ""]))
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation folder
    log = open(str(base / "sshd.log"), "w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port)
        yield {"port": port, "key": str(base / "client_key")}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def ansible_env(tmp_path, cache_home, **extra):
    """Ansible's config, home and temp folders inside tmp_path."""
    control = os.path.realpath(os.path.join(cache_home, "control"))
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(config), ANSIBLE_HOME=str(tmp_path / "ansible"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"), ANSIBLE_REMOTE_TMP=str(tmp_path / "ansible-remote"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=control, ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=10s",
               ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1",
               XDG_CACHE_HOME=cache_home, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.update(extra)
    return env


def write_inventory(path, sshd, homes, tmp_path):
    """Localhost over the local connection, 127.0.0.2 and 127.0.0.3 over SSH (two more names for them), a dead
    port; three replay recorded machines (a fixture folder, and a .tar.gz of one)."""
    # The modules' Python is named: discovery over SSH could meet a shell profile's shims that cannot run.
    ssh = {"ansible_port": sshd["port"], "ansible_user": "root", "ansible_ssh_private_key_file": sshd["key"],
           "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
           "ansible_python_interpreter": sys.executable}
    mi250x = str(tmp_path / "mi250x.tar.gz")
    with tarfile.open(mi250x, "w:gz") as tar:
        tar.add(os.path.join(SNAPSHOTS, REPLAYED["mi250x"]), arcname="mi250x")
    hosts = {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "127.0.0.2": dict(ssh, dlws_snapshot=os.path.join(SNAPSHOTS, REPLAYED["127.0.0.2"])),
        "127.0.0.3": dict(ssh),
        "gtx1080": dict(ssh, ansible_host="127.0.0.3", dlws_snapshot=os.path.join(SNAPSHOTS, REPLAYED["gtx1080"])),
        "mi250x": dict(ssh, ansible_host="127.0.0.2", dlws_snapshot=mi250x),
        # A recorded machine of the live hosts' class (no GPU, x86_64) with JAX installed: drift in the report.
        "epyc": dict(ssh, ansible_host="127.0.0.2", dlws_snapshot=os.path.join(SNAPSHOTS, "debian12-docker-epyc-dev")),
        "dead": dict(ssh, ansible_host="127.0.0.2", ansible_port=free_port("127.0.0.2")),
        "broken": dict(ssh, ansible_host="127.0.0.3", dlws_snapshot=str(tmp_path / "no-such-snapshot")),
    }
    for name, variables in hosts.items():  # one machine under several names: one dlws home each
        variables["dlws_home"] = homes[name]
    path.write_text(json.dumps({"all": {"hosts": hosts}}, indent=2))
    return sorted(hosts)


def gather(inventory, out, env):
    return run([sys.executable, "-m", "provision", "fleet", "gather", "-i", str(inventory), "-o", str(out),
                "--forks", "8"], env=env)


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def gpu_names(inventory):
    return [gpu["name"] for gpu in inventory["gpus"]]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, sshd, cache_home):
    tmp_path = tmp_path_factory.mktemp("fleet")
    # localhost's dlws home is where the gather puts it by default for a HOME here: dlws_facts finds it by default.
    homes = {name: str(tmp_path / "homes" / name)
             for name in ("127.0.0.2", "127.0.0.3", "gtx1080", "mi250x", "epyc", "dead", "broken")}
    homes["localhost"] = str(tmp_path / "fakehome" / ".cache" / "dlws")
    inventory = tmp_path / "hosts.yml"
    names = write_inventory(inventory, sshd, homes, tmp_path)
    env = ansible_env(tmp_path, cache_home)
    started = time.monotonic()
    first = gather(inventory, tmp_path / "out", env)
    return {"tmp": tmp_path, "inventory": inventory, "names": names, "homes": homes, "env": env, "first": first,
            "out": tmp_path / "out", "seconds": time.monotonic() - started}


def test_gather_writes_one_folder_per_host_and_exits_1_for_the_unreachable_one(fleet):
    first, out = fleet["first"], fleet["out"]
    assert first.returncode == 1, first.stdout + first.stderr
    assert sorted(os.listdir(str(out))) == fleet["names"]
    statuses = {name: read_json(str(out / name / STATUS_FILE)) for name in fleet["names"]}
    assert {name: s["status"] for name, s in statuses.items()} == dict(
        {name: "ok" for name in fleet["names"]}, dead="unreachable", broken="failed")
    # Ansible's words vary with timing ("Connection refused", or "Broken pipe" through a control socket): the
    # status is the contract, the message only has to say something.
    assert statuses["dead"]["message"].strip()
    assert "no-such-snapshot: no such file or folder" in statuses["broken"]["message"]
    for name in fleet["names"]:
        assert statuses[name]["host"] == name
        if name in ("dead", "broken"):
            assert os.listdir(str(out / name)) == [STATUS_FILE]
        else:
            assert sorted(os.listdir(str(out / name))) == sorted([DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE])
            assert statuses[name]["message"].startswith("dlws %s; " % __version__)
    # A progress line per host as it finished, then the hosts that did not answer.
    progress = [line for line in first.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 8 and progress[-1].startswith("[8/8] ")
    assert "  unreachable dead: " in first.stderr and "  failed broken: " in first.stderr
    assert "gathered 6 of 8 hosts" in first.stderr


def test_replayed_hosts_report_their_fixtures_gpus(fleet):
    out = fleet["out"]
    for name, fixture in REPLAYED.items():
        doctor = read_json(str(out / name / DOCTOR_FILE))
        assert doctor["schema"] == "dlws.doctor/1"
        expected = gpu_names(collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict())
        assert expected and gpu_names(doctor["inventory"]) == expected
        # The host's snapshot is the fixture it replayed.
        assert gpu_names(collect(open_snapshot(str(out / name / SNAPSHOT_FILE))).to_dict()) == expected
    assert all("H100" in n for n in gpu_names(read_json(str(out / "127.0.0.2" / DOCTOR_FILE))["inventory"]))
    assert all("MI250X" in n for n in gpu_names(read_json(str(out / "mi250x" / DOCTOR_FILE))["inventory"]))


def test_live_hosts_record_this_machine(fleet):
    here = collect(LiveHost()).to_dict()
    for name in LIVE:
        snapshot = open_snapshot(str(fleet["out"] / name / SNAPSHOT_FILE))
        recorded = collect(snapshot).to_dict()
        doctor = read_json(str(fleet["out"] / name / DOCTOR_FILE))["inventory"]
        assert recorded["cpu"]["model"] == doctor["cpu"]["model"] == here["cpu"]["model"]
        assert doctor["cpu"]["logical_cores"] == here["cpu"]["logical_cores"]
        assert not os.path.exists(fleet["homes"][name])  # nothing installed or left on the host


def test_second_gather_answers_the_same(fleet):
    again = gather(fleet["inventory"], fleet["out"], fleet["env"])
    assert again.returncode == 1, again.stdout + again.stderr
    for name in fleet["names"]:
        status = read_json(str(fleet["out"] / name / STATUS_FILE))
        assert status["status"] == ("ok" if name not in ("dead", "broken") else status["status"])
        if status["status"] == "ok":
            assert os.path.isfile(str(fleet["out"] / name / DOCTOR_FILE))
    assert not any(os.path.exists(home) for home in fleet["homes"].values())


FACTS_PLAYBOOK = """\
- name: Read the dlws facts
  hosts: all
  gather_facts: false
  tasks:
    - name: Read this machine
      dlws_facts:
    - name: Check the facts of this machine
      ansible.builtin.assert:
        that:
          - ansible_facts.dlws.schema == 'dlws.inventory/1'
          - ansible_facts.dlws.cpu.logical_cores >= 1
          - ansible_facts.dlws.cpu.flags | length > 0
    - name: Read a recorded H100 server
      dlws_facts:
        snapshot: {h100}
    - name: Check the recorded GPUs and driver
      ansible.builtin.assert:
        that:
          - ansible_facts.dlws.gpus | length == 8
          - ansible_facts.dlws.nvidia.driver_version == '570.195.03'
    - name: Ask a dlws that is not there
      dlws_facts:
        dlws: /nonexistent/bin/dlws
      register: missing
      ignore_errors: true
    - name: Check that it failed and said why
      ansible.builtin.assert:
        that:
          - missing is failed
          - "'dlws not found at /nonexistent/bin/dlws' in missing.msg"
"""


@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_dlws_facts_module_on_localhost(fleet, check):
    playbook = fleet["tmp"] / "facts.yml"
    playbook.write_text(FACTS_PLAYBOOK.format(h100=os.path.join(SNAPSHOTS, "h100-sxm-server")))
    # HOME whose ~/.cache/dlws holds the gather's environment: the module's default finds it.
    env = dict(fleet["env"], HOME=str(fleet["tmp"] / "fakehome"), ANSIBLE_LIBRARY=os.path.join(playbooks_dir(),
                                                                                              "library"))
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
            "-e", "ansible_python_interpreter=" + sys.executable] + (["--check"] if check else [])
    result = run(argv, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "ok=6" in result.stdout and "failed=0" in result.stdout and "ignored=1" in result.stdout


def test_gather_playbook_passes_syntax_check_and_ansible_lint(tmp_path, cache_home):
    playbook = os.path.join(playbooks_dir(), "gather.yml")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", NO_COLOR="1", HOME=str(tmp_path), ANSIBLE_HOME=str(tmp_path / "a"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path),
               ANSIBLE_COLLECTIONS_PATH=cached_collections(os.path.join(cache_home, "dlws")))
    syntax = run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", playbook], env=env)
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    lint = run([os.path.join(BIN, "ansible-lint"), "--offline", "--profile", "production", "--nocolor", playbook],
               env=env, cwd=str(tmp_path))
    assert lint.returncode == 0, lint.stdout[-5000:] + lint.stderr[-5000:]


@pytest.mark.parametrize("args,message", [
    (["-i", "/nonexistent/hosts.ini"], "inventory not found: /nonexistent/hosts.ini"),
    (["-i", "{inventory}", "--limit", "no-such-host"], "no hosts"),
    (["-i", "{inventory}", "-o", "{file}"], "is not a folder"),
])
def test_bad_input_is_a_one_line_usage_error(tmp_path, cache_home, args, message):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("localhost ansible_connection=local\n")
    (tmp_path / "file").write_text("x")
    args = [a.format(inventory=inventory, file=tmp_path / "file") for a in args]
    result = run([sys.executable, "-m", "provision", "fleet", "gather"] + args, env=ansible_env(tmp_path, cache_home))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("dlws: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.stderr


def test_progress_follows_the_event_stream(tmp_path):
    lines = []
    progress = Progress(str(tmp_path), lines.append)
    stale = tmp_path / "b" / DOCTOR_FILE  # left by an earlier gather of a host that is unreachable now
    stale.parent.mkdir()
    stale.write_text("{}")
    progress.handle({"event": "ok", "host": "a", "task": "Name the hosts of this gather",
                     "hosts": ["a", "b", "c", "d"]})
    assert not stale.exists()
    report = {"inventory": {"gpus": [{}, {}]}, "summary": {"error": 1, "warning": 2}}
    for event in [
        {"event": "unreachable", "host": "b", "task": "Diagnose the host", "message": "refused"},
        {"event": "failed", "host": "c", "task": "Diagnose the host", "message": "boom", "ignored": True},
        {"event": "ok", "host": "a", "task": "Diagnose the host", "report": report,
         "snapshot_b64": base64.b64encode(b"archive").decode()},
        {"event": "ok", "host": "d", "task": "Diagnose the host", "report": report, "snapshot_b64": "not base64!"},
        {"event": "stats", "hosts": {"a": {}, "b": {}, "c": {}, "d": {}}},
    ]:
        progress.handle(event)
    progress.finish()
    assert lines == ["[1/4] b: unreachable: refused",
                     "[2/4] a: ok: dlws %s; 2 GPUs, 1 errors, 2 warnings" % __version__,
                     "[3/4] d: failed: the host returned a snapshot that is not base64",
                     "[4/4] c: failed: the gather stopped before this host was done"]
    assert (tmp_path / "a" / SNAPSHOT_FILE).read_bytes() == b"archive"
    assert read_json(str(tmp_path / "a" / DOCTOR_FILE)) == report
    assert not (tmp_path / "d" / DOCTOR_FILE).exists()
    assert read_json(str(tmp_path / "c" / STATUS_FILE)) == {
        "host": "c", "status": "failed", "message": "the gather stopped before this host was done"}


def test_report_of_the_gathered_fleet(fleet):
    """The gathered folder reads as a fleet: several hardware classes, drift, and the hosts that did not answer."""
    result = run([sys.executable, "-m", "provision", "fleet", "report", str(fleet["out"]), "--format", "json"],
                 env=fleet["env"])
    assert result.returncode == 1  # two hosts did not answer
    report = json.loads(result.stdout)
    classes = {entry["class"] for entry in report["classes"]}
    assert len(classes) >= 4  # 8x H100, the GTX 1080 box, the MI250X server, this machine
    assert any("H100" in c for c in classes) and any("MI250X" in c for c in classes)
    status = {host["host"]: host["status"] for host in report["hosts"]}
    assert status["dead"] == "unreachable" and status["broken"] == "failed"
    assert report["summary"]["hosts"] == 8 and report["summary"]["ok"] == 6
    # Each host judges its activated or PATH Python. localhost (the local connection) inherits this test's PATH,
    # whose first python3 is this virtual environment, with JAX; 127.0.0.3 (over SSH) gets sshd's PATH, whose
    # python3 has no JAX, and lists this environment (its module's interpreter) as one more, not judged. The
    # recorded machine of their class has JAX: 127.0.0.3 is the outlier of its class.
    jax = [d for d in report["drift"] if d["item"] == "framework:jax"]
    assert jax and [o["host"] for o in jax[0]["outliers"]] == ["127.0.0.3"]
    assert sorted(jax[0]["majority"]["hosts"]) == ["epyc", "localhost"]
    here = os.path.dirname(BIN)
    for name, judged in (("localhost", True), ("127.0.0.3", False)):
        inventory = read_json(str(fleet["out"] / name / DOCTOR_FILE))["inventory"]
        venv = [env for env in inventory["environments"] if env["path"] == here]
        assert venv and "jax" in venv[0]["frameworks"] and venv[0]["active"] is judged
        assert ("jax" in inventory["frameworks"]) is judged
    # The report names each host's judged environment, and lists every one with its frameworks.
    rows = {host["host"]: host for host in report["hosts"]}
    assert rows["localhost"]["environment"]["path"] == here
    assert rows["127.0.0.3"]["environment"]["path"] != here
    listed = [env for env in rows["127.0.0.3"]["environments"] if env["path"] == here]
    assert listed and listed[0]["active"] is False and "jax" in [fw["name"] for fw in listed[0]["frameworks"]]


# --- time limits: a hung host, a hung ansible-playbook ---------------------------------------------------------------

HUNG = """#!/bin/sh
echo $$ >> {pids}
exec sleep 120
"""


def alive(pid):
    """Whether pid runs (a zombie, killed and not yet reaped by init, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pids, seconds=10.0):
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def test_a_hung_host_is_reported_as_timed_out_within_host_timeout(tmp_path, sshd, cache_home):
    """A host whose module never returns (its Python is a script that sleeps 120 s), over the local connection and
    over SSH, fails as timed out after --host-timeout; the other host is gathered; the gather returns in seconds.
    The hung module the gather ran here (local connection) is killed when ansible-playbook ends; the one on the
    SSH host is that host's (this test ends it)."""
    scripts = {}
    for name in ("local", "ssh"):
        script = tmp_path / ("hung-python-" + name)
        script.write_text(HUNG.format(pids=tmp_path / ("pid-" + name)))
        script.chmod(0o755)
        scripts[name] = str(script)
    ssh = {"ansible_host": "127.0.0.3", "ansible_port": sshd["port"], "ansible_user": "root",
           "ansible_ssh_private_key_file": sshd["key"],
           "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"}
    hosts = {"hung-local": {"ansible_connection": "local", "ansible_python_interpreter": scripts["local"]},
             "hung-ssh": dict(ssh, ansible_python_interpreter=scripts["ssh"]),
             "fine": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                      "dlws_snapshot": os.path.join(SNAPSHOTS, "h100-sxm-server")}}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": hosts}}))
    started = time.monotonic()
    try:
        result = run([sys.executable, "-m", "provision", "fleet", "gather", "-i", str(inventory), "-o",
                      str(tmp_path / "out"), "--host-timeout", "5"], env=ansible_env(tmp_path, cache_home))
        seconds = time.monotonic() - started
        assert result.returncode == 1, result.stdout + result.stderr
        assert seconds < 60, seconds  # 5 s for the hung hosts and Ansible's own start, far from their 120 s
        statuses = {name: read_json(str(tmp_path / "out" / name / STATUS_FILE)) for name in hosts}
        assert statuses["fine"]["status"] == "ok"
        for name in ("hung-local", "hung-ssh"):
            assert statuses[name]["status"] == "failed"
            assert "Timed out after 5 second" in statuses[name]["message"], statuses[name]
        local = int((tmp_path / "pid-local").read_text())
        assert gone([local], seconds=2), "the hung local module still runs"
    finally:
        if (tmp_path / "pid-ssh").exists():  # started by sshd for this test
            remote = int((tmp_path / "pid-ssh").read_text())
            if alive(remote):
                os.kill(remote, 9)


FAKE_PLAYBOOK = """#!{python}
import subprocess, sys, time
child = subprocess.Popen(["sleep", "120"])  # an SSH client of ansible-playbook, say
with open({pids!r}, "w") as handle:
    handle.write("%d\\n" % child.pid)
if {name_hosts}:
    print('DLWS-EVENT {{"event": "ok", "host": "a", "task": "Name the hosts of this gather", "hosts": ["a", "b"]}}')
    print('DLWS-EVENT {{"event": "unreachable", "host": "a", "task": "Diagnose the host", "message": "refused"}}')
    sys.stdout.flush()
time.sleep({sleep})
"""


class ShortLimits:
    """_Limits with a limit of a few seconds, whatever the hosts."""

    def __init__(self, seconds):
        self.host_timeout = 1
        self.started = time.monotonic()
        self.limit = seconds

    def seconds(self, hosts):
        return self.limit


def fake_gather(tmp_path, name_hosts, sleep, limit=3):
    script = tmp_path / "ansible-playbook"
    pids = tmp_path / "pids"
    script.write_text(FAKE_PLAYBOOK.format(python=sys.executable, pids=str(pids), name_hosts=name_hosts, sleep=sleep))
    script.chmod(0o755)
    lines = []
    started = time.monotonic()
    try:
        code = _gather([str(script)], "hosts", None, str(tmp_path / "out"), lines.append, ShortLimits(limit), "")
    except UsageError as exc:
        code = exc
    child = int(pids.read_text())
    return code, lines, time.monotonic() - started, child


def test_ansible_playbook_past_its_limit_is_killed_with_its_children(tmp_path):
    code, lines, seconds, child = fake_gather(tmp_path, True, 600)
    assert code == 1 and seconds < 15, (code, seconds)
    assert read_json(str(tmp_path / "out" / "a" / STATUS_FILE))["status"] == "unreachable"
    said = read_json(str(tmp_path / "out" / "b" / STATUS_FILE))
    assert said["status"] == "failed" and "ran past its limit of 3 s" in said["message"]
    assert gone([child])


def test_ansible_playbook_that_names_no_host_before_its_limit_is_a_usage_error(tmp_path):
    code, _, seconds, child = fake_gather(tmp_path, False, 600)
    assert isinstance(code, UsageError) and "ran past its limit of 3 s before naming a host" in str(code)
    assert seconds < 15 and gone([child])


def test_what_ansible_playbook_leaves_running_is_killed_when_it_exits(tmp_path):
    """It exits in time (no stats: it failed), but a child it started still runs: killed with its group."""
    code, _, seconds, child = fake_gather(tmp_path, False, 0, limit=60)
    assert isinstance(code, UsageError) and "ansible-playbook failed" in str(code)
    assert seconds < 15 and gone([child], seconds=5)
