"""`dlws fleet gather`: run playbooks/gather.yml through ansible-playbook and follow it host by host.

The controller builds dlws and its dependencies as a wheelhouse once per dlws build (cached), the playbook carries it
to every host, and the dlws_events callback plugin prints one JSON line per task result, which this module reads as
it arrives: a progress line per host, and DIR/<host>/status.json as soon as the host is done.

Paths reach Ansible as !unsafe extra variables from a file (a "{{ ... }}" in -o stays part of the path), and each
host's folder is host_folder(inventory_hostname), which cannot climb out of the output folder.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

import click

import provision
from provision import __version__
from provision.emit.yaml import Unsafe, dump
from provision.errors import DlwsError, UsageError
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE, host_folder
from provision.fleet.results import printable, read_json

EVENT_PREFIX = "DLWS-EVENT "
DONE_TASK = "Fetch the doctor report"  # the gather's last step of a host that answered
INSTALL_TASK = "Install dlws into the environment without an index"


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


def _source_root() -> Optional[str]:
    """The source tree dlws runs from (a checkout or an editable install), or None for an installed wheel."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(provision.__file__)))
    try:
        with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as handle:
            return root if 'name = "dlws"' in handle.read() else None
    except OSError:
        return None


def build_key() -> str:
    """Version plus a digest of the package's files: a changed checkout gets a new wheel, not a stale cached one."""
    package = os.path.dirname(os.path.abspath(provision.__file__))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(package, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, package).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return "%s-%s" % (__version__, digest.hexdigest()[:12])


def _marker_requirements() -> List[str]:
    """dlws's dependencies that only some Pythons need (tomli below 3.11): a host's Python may be one of them."""
    from importlib import metadata

    from packaging.requirements import Requirement

    wanted = []
    for text in metadata.requires("dlws") or []:
        req = Requirement(text)
        if req.marker is not None and "extra" not in str(req.marker):
            wanted.append(req.name + str(req.specifier))
    return wanted


def wheelhouse(cache_root: Optional[str] = None) -> str:
    """The folder of wheels the hosts install from (dlws, its dependencies, pip); built once per dlws build."""
    cache_root = cache_root or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "dlws")
    folder = os.path.join(cache_root, "wheelhouse-" + build_key())
    if glob.glob(os.path.join(folder, "dlws-*.whl")) and glob.glob(os.path.join(folder, "pip-*.whl")):
        return folder
    os.makedirs(cache_root, exist_ok=True)
    root = _source_root()
    building = tempfile.mkdtemp(prefix=".building-", dir=cache_root)
    argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "-w", building,
            root or "dlws==" + __version__, "pip"] + _marker_requirements()
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise DlwsError("cannot build the wheelhouse for the hosts (%s): %s"
                        % (" ".join(argv[3:]), lines[-1] if lines else "pip exit code %d" % result.returncode))
    try:
        os.rename(building, folder)  # atomic: a concurrent gather sees a whole wheelhouse or none
    except OSError:
        shutil.rmtree(building, ignore_errors=True)  # another gather finished the same build first
    _prune(cache_root, folder)
    return folder


def _prune(cache_root: str, keep: str) -> None:
    """Drop the wheelhouses of older builds (each edit of a checkout makes one), and their archives."""
    for path in glob.glob(os.path.join(cache_root, "wheelhouse-*")):
        if path not in (keep, keep + ".tar"):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


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
        self.installed: Dict[str, bool] = {}
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
        if event.get("task") == INSTALL_TASK:
            self.installed[host] = kind == "changed"
        if kind == "unreachable":
            self._done(host, "unreachable", event.get("message") or "unreachable")
        elif kind == "failed" and not event.get("ignored"):
            self.last_failure = "%s: %s" % (task, event.get("message") or "failed")
            self._done(host, "failed", self.last_failure)
        elif kind in ("ok", "changed") and task == DONE_TASK:
            how = "installed" if self.installed.get(host) else "reused"
            self._done(host, "ok", "dlws %s %s; %s" % (__version__, how,
                                                        _host_summary(os.path.join(self.output, host_folder(host)))))

    def _done(self, host: str, status: str, message: str) -> None:
        self.status[host] = {"host": host, "status": status, "message": message}
        folder = os.path.join(self.output, host_folder(host))
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, STATUS_FILE), "w", encoding="utf-8") as handle:
            json.dump(self.status[host], handle, indent=2, sort_keys=True)
            handle.write("\n")
        total = len(self.hosts)
        self.echo(printable("[%d/%d] %s: %s: %s" % (len(self.status), total, host, status, message)))

    def finish(self) -> None:
        """Hosts the stream left without a result (the run stopped early) failed, saying why."""
        for host in self.hosts:
            if host not in self.status:
                why = "the gather stopped before this host was done"
                self._done(host, "failed", why + (" (%s)" % self.last_failure if self.last_failure else ""))


def run_gather(inventory_path: str, limit: Optional[str], forks: int, output: str) -> int:
    """Gather every host of the inventory into output/<host>/; 0 when every host answered, else 1."""
    _check_inputs(inventory_path, forks, output)
    ansible_playbook = find_ansible_playbook()
    output = os.path.abspath(output)
    os.makedirs(output, exist_ok=True)
    echo = functools.partial(click.echo, err=True)
    folder = wheelhouse()
    echo("dlws fleet gather: dlws %s from %s" % (__version__, folder))
    private = tempfile.mkdtemp(prefix="dlws-gather-")
    try:
        argv = [ansible_playbook, "-i", inventory_path, os.path.join(playbooks_dir(), "gather.yml"), "--forks",
                str(forks),
                "-e", "@" + _extra_vars(private, {"dlws_wheelhouse": folder, "dlws_results": output})]
        if limit:
            argv += ["--limit", limit]
        return _gather(argv, inventory_path, limit, output, echo)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _extra_vars(folder: str, variables: Dict[str, str]) -> str:
    """A file of extra variables whose values Ansible never templates (!unsafe): a path is only a path. On the
    command line (-e '{"...": ...}') they would be templated."""
    path = os.path.join(folder, "extra-vars.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(dump({name: Unsafe(value) for name, value in variables.items()}))
    return path


def _gather(argv: List[str], inventory_path: str, limit: Optional[str], output: str,
            echo: Callable[[str], None]) -> int:
    playbooks = playbooks_dir()
    env = dict({"ANSIBLE_PIPELINING": "True"}, **os.environ)  # fewer SSH round trips per task; no become here
    env.update(ANSIBLE_STDOUT_CALLBACK="dlws_events", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CALLBACK_PLUGINS=os.pathsep.join(
                   p for p in (os.path.join(playbooks, "callback_plugins"),
                               os.environ.get("ANSIBLE_CALLBACK_PLUGINS")) if p))
    progress = Progress(output, echo)
    with tempfile.TemporaryFile(mode="w+") as errors:
        returncode = _stream(argv, env, errors, progress)
        errors.seek(0)
        error_lines = [line.strip() for line in errors.read().splitlines() if line.strip()]
    if progress.no_hosts or (progress.stats_seen and not progress.hosts):
        raise UsageError("no host of %s matches%s" % (inventory_path, " --limit " + limit if limit else ""))
    if not progress.stats_seen:
        said = [line for line in error_lines if line.startswith("[ERROR]")] or error_lines[-1:] or ["no output"]
        raise UsageError("ansible-playbook failed (exit code %d): %s" % (returncode, said[0]))
    progress.finish()
    return _report(progress, output, echo)


def _stream(argv: List[str], env: Dict[str, str], errors: Any, progress: Progress) -> int:
    """Run ansible-playbook, handing each event line to progress as it comes; its exit code."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=env,
                            text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(EVENT_PREFIX):
                try:
                    event = json.loads(line[len(EVENT_PREFIX):])
                except ValueError:
                    continue
                progress.handle(event)
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
