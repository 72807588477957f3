"""`dlws fleet gather`: run playbooks/gather.yml through ansible-playbook and follow it host by host.

The playbook runs one task per host, dlws.fleet.doctor from the collection built for this dlws (cached under the
dlws cache, put on ANSIBLE_COLLECTIONS_PATH): nothing is installed on the hosts. The dlws_events callback plugin
prints one JSON line per task result, which this module reads as it arrives: the host's report and snapshot are
written to DIR/<host>/, a progress line is printed, and DIR/<host>/status.json says how it went.

Every host has a time limit (the task's timeout), and so has ansible-playbook as a whole (killed past it, the hosts
not done reported): a hung host is reported, never waited for without bound. What ansible-playbook leaves running
on the controller (a module past its timeout under the local connection, its workers' SSH clients) is killed when
it ends (Orphans); a module hung on a remote host is that host's to end. Each host's folder is
host_folder(inventory_hostname), which cannot climb out of the output folder; what a host returns is untrusted
data, bounded and checked before it is written.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set

import click

import provision
from provision import __version__
from provision.errors import UsageError
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE, host_folder
from provision.fleet.collection import cached_collections
from provision.fleet.results import printable, read_json
from provision.untrusted import parse_json

EVENT_PREFIX = "DLWS-EVENT "
DONE_TASK = "Diagnose the host"  # the gather's one task on a host
HOST_TIMEOUT = 300  # seconds a host may take, by default
#: A snapshot is tens of KiB; a host that returns far more is not returning one.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
#: Seconds ansible-playbook may take beyond its hosts' limits (inventory parsing, connections, the first play).
SLACK_SECONDS = 120


def playbooks_dir() -> str:
    """The playbooks shipped inside the package (provision/playbooks, the repository's playbooks/)."""
    return os.path.join(os.path.dirname(os.path.abspath(provision.__file__)), "playbooks")


def find_ansible_playbook() -> str:
    """ansible-playbook beside this Python (its virtual environment) first, then on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    found = beside if os.access(beside, os.X_OK) else shutil.which("ansible-playbook")
    if not found:
        raise UsageError("ansible-playbook not found: install ansible-core (pip install ansible-core)")
    return found


def _check_inputs(inventory_path: str, forks: int, output: str) -> None:
    if not os.path.exists(inventory_path) and "," not in inventory_path:
        raise UsageError("inventory not found: %s" % inventory_path)
    if forks < 1:
        raise UsageError("--forks must be 1 or more, not %d" % forks)
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError("output %s exists and is not a folder" % output)


def _host_summary(folder: str) -> str:
    """'8 GPUs, 0 errors, 9 warnings' from the host's doctor.json (which the host wrote: any content)."""
    doctor, problem = read_json(os.path.join(folder, DOCTOR_FILE), dict)
    try:
        if problem:
            raise ValueError(problem)
        summary = doctor.get("summary") or {}
        return "%d GPUs, %d errors, %d warnings" % (len((doctor.get("inventory") or {}).get("gpus") or []),
                                                    summary.get("error", 0), summary.get("warning", 0))
    except (ValueError, AttributeError, TypeError):
        return "doctor.json unreadable"


class Progress:
    """Follows the event stream: one line per host when it is done, and its status.json."""

    def __init__(self, output: str, echo: Callable[[str], None]) -> None:
        self.output = output
        self.echo = echo
        self.hosts: List[str] = []
        self.status: Dict[str, Dict[str, Any]] = {}
        self.last_failure: Optional[str] = None
        self.stats_seen = False
        self.no_hosts = False

    def handle(self, event: Dict[str, Any]) -> None:
        kind, host = event.get("event"), event.get("host")
        if kind == "stats":
            self.stats_seen = True
            for name in event.get("hosts") or {}:
                self._add(name)
        elif kind == "no_hosts":
            self.no_hosts = True
        elif host is not None:
            for name in event.get("hosts") or []:
                self._add(name)
            self._add(host)
            self._result(kind, host, event)

    def _add(self, host: str) -> None:
        if host not in self.hosts:
            self.hosts.append(host)
            for name in (STATUS_FILE, DOCTOR_FILE, SNAPSHOT_FILE):  # no stale results from an earlier gather
                path = os.path.join(self.output, host_folder(host), name)
                if os.path.isfile(path):
                    os.remove(path)

    def _result(self, kind: Optional[str], host: str, event: Dict[str, Any]) -> None:
        if host in self.status:
            return
        task = event.get("task") or "?"
        if kind == "unreachable":
            self._done(host, "unreachable", event.get("message") or "unreachable")
        elif kind == "failed" and not event.get("ignored"):
            self.last_failure = "%s: %s" % (task, event.get("message") or "failed")
            self._done(host, "failed", self.last_failure)
        elif kind in ("ok", "changed") and task == DONE_TASK:
            problem = self._write_results(host, event)
            if problem:
                self._done(host, "failed", problem)
            else:
                self._done(host, "ok", "dlws %s; %s" % (__version__,
                                                       _host_summary(os.path.join(self.output, host_folder(host)))))

    def _write_results(self, host: str, event: Dict[str, Any]) -> Optional[str]:
        """DIR/<host>/doctor.json and snapshot.tar.gz from what the host returned; why not, where it returned
        something else."""
        report, encoded = event.get("report"), event.get("snapshot_b64")
        if not isinstance(report, dict) or not isinstance(encoded, str):
            return "the host returned no doctor report and snapshot"
        if len(encoded) > MAX_SNAPSHOT_BYTES * 4 // 3 + 4:
            return "the host returned a snapshot larger than %d MiB" % (MAX_SNAPSHOT_BYTES // (1024 * 1024))
        try:
            snapshot = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return "the host returned a snapshot that is not base64"
        folder = os.path.join(self.output, host_folder(host))
        os.makedirs(folder, exist_ok=True)
        _write_file(os.path.join(folder, SNAPSHOT_FILE), snapshot)
        _write_file(os.path.join(folder, DOCTOR_FILE), (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
        return None

    def _done(self, host: str, status: str, message: str) -> None:
        self.status[host] = {"host": host, "status": status, "message": message}
        folder = os.path.join(self.output, host_folder(host))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, STATUS_FILE), "w", encoding="utf-8") as handle:
            json.dump(self.status[host], handle, indent=2, sort_keys=True)
            handle.write("\n")
        total = len(self.hosts)
        self.echo(printable("[%d/%d] %s: %s: %s" % (len(self.status), total, host, status, message)))

    def finish(self, why: Optional[str] = None) -> None:
        """Hosts the stream left without a result (the run stopped early, or ran past its limit) failed, saying
        why."""
        for host in self.hosts:
            if host not in self.status:
                said = why or "the gather stopped before this host was done"
                self._done(host, "failed", said + (" (%s)" % self.last_failure if self.last_failure else ""))


def _write_file(path: str, data: bytes) -> None:
    """Write data whole or not at all (a reader never sees half a doctor.json)."""
    fd, staging = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


def run_gather(inventory_path: str, limit: Optional[str], forks: int, output: str,
               host_timeout: int = HOST_TIMEOUT) -> int:
    """Gather every host of the inventory into output/<host>/; 0 when every host answered, else 1."""
    _check_inputs(inventory_path, forks, output)
    if host_timeout < 1:
        raise UsageError("--host-timeout must be 1 second or more, not %d" % host_timeout)
    ansible_playbook = find_ansible_playbook()
    output = os.path.abspath(output)
    os.makedirs(output, exist_ok=True)
    echo = functools.partial(click.echo, err=True)
    collections = cached_collections()
    echo("dlws fleet gather: dlws %s, collection dlws.fleet from %s" % (__version__, collections))
    argv = [ansible_playbook, "-i", inventory_path, os.path.join(playbooks_dir(), "gather.yml"), "--forks",
            str(forks), "-e", json.dumps({"dlws_host_timeout": host_timeout})]
    if limit:
        argv += ["--limit", limit]
    return _gather(argv, inventory_path, limit, output, echo, _Limits(forks, host_timeout), collections)


class _Limits:
    """How long ansible-playbook may run: its hosts' limits, batch after batch of --forks, plus some slack; known
    once the first event names the hosts."""

    def __init__(self, forks: int, host_timeout: int) -> None:
        self.forks = forks
        self.host_timeout = host_timeout
        self.started = time.monotonic()

    def seconds(self, hosts: int) -> float:
        return math.ceil(max(hosts, 1) / self.forks) * (self.host_timeout + 30) + SLACK_SECONDS


def _gather(argv: List[str], inventory_path: str, limit: Optional[str], output: str,
            echo: Callable[[str], None], limits: _Limits, collections: str) -> int:
    playbooks = playbooks_dir()
    env = dict({"ANSIBLE_PIPELINING": "True"}, **os.environ)  # fewer SSH round trips per task; no become here
    env.update(ANSIBLE_STDOUT_CALLBACK="dlws_events", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=os.pathsep.join(
                   p for p in (os.path.join(playbooks, "callback_plugins"),
                               os.environ.get("ANSIBLE_CALLBACK_PLUGINS")) if p),
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
                   p for p in (collections, os.environ.get("ANSIBLE_COLLECTIONS_PATH")) if p))
    progress = Progress(output, echo)
    with tempfile.TemporaryFile(mode="w+") as errors:
        returncode, late = _stream(argv, env, errors, progress, limits)
        errors.seek(0)
        error_lines = [line.strip() for line in errors.read().splitlines() if line.strip()]
    if late:
        progress.finish("the gather ran past its limit of %d s (--host-timeout %d)" % (late, limits.host_timeout))
        if not progress.hosts:
            raise UsageError("ansible-playbook ran past its limit of %d s before naming a host" % late)
        return _report(progress, output, echo)
    if progress.no_hosts or (progress.stats_seen and not progress.hosts):
        raise UsageError("no host of %s matches%s" % (inventory_path, " --limit " + limit if limit else ""))
    if not progress.stats_seen:
        said = [line for line in error_lines if line.startswith("[ERROR]")] or error_lines[-1:] or ["no output"]
        raise UsageError("ansible-playbook failed (exit code %d): %s" % (returncode, said[0]))
    progress.finish()
    return _report(progress, output, echo)


def _stream(argv: List[str], env: Dict[str, str], errors: Any, progress: Progress, limits: _Limits) -> Any:
    """Run ansible-playbook, handing each event line to progress as it comes; (its exit code, the limit in
    seconds it was killed past or 0). It runs in a session of its own, killed with what it left running (Orphans)
    past its limit, and once it exited (what it left may hold its output open)."""
    orphans = Orphans()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=env,
                            text=True, bufsize=1, start_new_session=True)
    state = {"limit": limits.seconds(0), "killed": 0.0}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(1.0):
            exited = proc.poll() is not None
            if exited or time.monotonic() - limits.started > state["limit"]:
                state["killed"] = 0.0 if exited else state["limit"]
                _kill(proc)
                orphans.kill(proc.pid)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(EVENT_PREFIX):
                try:
                    event = parse_json(line[len(EVENT_PREFIX):].encode("utf-8", "surrogateescape"))
                except ValueError:
                    continue
                if isinstance(event, dict):
                    progress.handle(event)
                    state["limit"] = limits.seconds(len(progress.hosts))
        return proc.wait(), int(state["killed"])
    finally:
        done.set()
        _kill(proc)
        watcher.join()
        orphans.kill(proc.pid)
        orphans.stop()


def _kill(proc: "subprocess.Popen[str]") -> None:
    """SIGKILL ansible-playbook's process group, whatever is left of it (its pid stays that group's id, never
    reused, while any member lives)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


class Orphans:
    """What ansible-playbook leaves running: its workers call setsid(), out of its process group, and a module
    past its task timeout keeps running under the local connection (a hung host replayed or on localhost). On
    Linux this process is the subreaper of its descendants while ansible-playbook runs (prctl
    PR_SET_CHILD_SUBREAPER): those orphans become its children, and kill() ends them, and reaps them. Elsewhere
    only the process group is killed."""

    def __init__(self) -> None:
        self.adopting = _subreaper(True)
        self.before = set(_children()) if self.adopting else set()  # this process's own: not ansible-playbook's
        self.stuck: Set[int] = set()  # killed, and not gone within REAP_SECONDS
        self.lock = threading.Lock()

    def kill(self, spared: int) -> None:
        """SIGKILL every child this process adopted and their descendants, until none is left (a killed
        process's own children are adopted next); spared: ansible-playbook, which Popen reaps."""
        if not self.adopting:
            return
        with self.lock:
            for _ in range(ORPHAN_ROUNDS):
                adopted = [pid for pid in _children() if pid not in self.before | self.stuck and pid != spared]
                if not adopted:
                    return
                for pid in _descendants(adopted):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.stuck.update(_reap(adopted, time.monotonic() + REAP_SECONDS))

    def stop(self) -> None:
        if self.adopting:
            _subreaper(False)


#: Rounds of Orphans.kill: each ends one generation more of what ansible-playbook left.
ORPHAN_ROUNDS = 10
#: Seconds a round waits for its killed processes to end: one stuck in the kernel (a hung driver call, a dead NFS
#: server) cannot be killed, and is left to init rather than waited for.
REAP_SECONDS = 2.0


def _reap(pids: List[int], deadline: float) -> List[int]:
    """Reap pids (children of this process) as they end, until deadline; those still there then."""
    left = list(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    left.remove(pid)
            except ChildProcessError:
                left.remove(pid)
        if left:
            time.sleep(0.02)
    return left
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _subreaper(on: bool) -> bool:
    """Whether this process is (or, on False, stopped being) its descendants' subreaper; False off Linux."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _parents() -> Dict[int, int]:
    """pid -> parent pid of every process, from /proc (one that ends while read is left out)."""
    parents: Dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return parents
    for name in names:
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as handle:
                    parents[int(name)] = int(handle.read(4096).rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return parents


def _children() -> List[int]:
    me = os.getpid()
    return [pid for pid, parent in _parents().items() if parent == me]


def _descendants(roots: List[int]) -> List[int]:
    """roots and every process below them."""
    below: Dict[int, List[int]] = {}
    for pid, parent in _parents().items():
        below.setdefault(parent, []).append(pid)
    found: List[int] = []
    seen, frontier = set(), list(roots)
    while frontier:
        pid = frontier.pop()
        if pid not in seen:
            seen.add(pid)
            found.append(pid)
            frontier += below.get(pid, [])
    return found


def _report(progress: Progress, output: str, echo: Callable[[str], None]) -> int:
    by_status: Dict[str, List[str]] = {}
    for host in progress.hosts:
        by_status.setdefault(progress.status[host]["status"], []).append(host)
    ok = by_status.get("ok", [])
    echo("gathered %d of %d hosts into %s" % (len(ok), len(progress.hosts), output))
    for status in ("unreachable", "failed"):
        for host in by_status.get(status, []):
            echo(printable("  %s %s: %s" % (status, host, progress.status[host]["message"])))
    return 0 if len(ok) == len(progress.hosts) else 1
