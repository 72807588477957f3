"""The only seam between dlws and a machine.

Probes never call ``open``, ``subprocess`` or ``pynvml`` themselves: they ask a Host. A LiveHost reads this machine,
a RecordingHost reads it and keeps every answer for a snapshot, a SnapshotHost answers from a recorded snapshot.
Every method answers "unknown" (None, or a failed CommandResult) instead of raising.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Sequence

from provision.untrusted import read_regular

if TYPE_CHECKING:
    import subprocess

DEFAULT_TIMEOUT = 5.0
#: Longer than any --timeout: a command that needs an hour is no probe.
MAX_TIMEOUT = 3600.0
#: The most of a file, and of each of a command's stdout and stderr, that is kept (8 MiB).
MAX_READ_BYTES = 8 * 1024 * 1024
#: Pipes are read in chunks of this size, so that an endless writer is stopped at MAX_READ_BYTES.
_CHUNK = 64 * 1024

#: Return codes for a command that could not run to completion (as coreutils' timeout and the shells use them).
RC_TIMEOUT = 124
RC_CANNOT_EXECUTE = 126
RC_NOT_FOUND = 127
#: A command whose output went past MAX_READ_BYTES: killed, as a shell reports a writer whose reader stopped reading
#: (128 + SIGPIPE); its output up to the cap is kept, and stderr ends with a line saying where it was cut.
RC_OUTPUT_CUT = 141

#: The most GPUs one machine is taken to have: a driver in a bad state may report any count.
MAX_GPUS = 1024

#: Environment variables the probes may read; only these are recorded in a snapshot.
ENV_VARS = (
    "PATH", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "KUBERNETES_SERVICE_HOST", "container", "WSL_DISTRO_NAME",
    "ROCM_PATH", "HIP_VISIBLE_DEVICES",
)


class CommandResult(NamedTuple):
    stdout: str
    stderr: str
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def command_key(argv: Sequence[str]) -> str:
    """The command line as recorded in commands.json."""
    return shlex.join(argv)


def cut_note(stream: str) -> str:
    """The line that ends the stderr of a command whose stream went past MAX_READ_BYTES."""
    return "dlws: %s cut at %d bytes" % (stream, MAX_READ_BYTES)


class Host:
    """What a probe may ask of a machine. Subclasses answer; none of these methods raise."""

    #: A local directory that mirrors the machine's filesystem ("/" for this machine), for readers such as distro.
    root: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT

    def read(self, path: str) -> Optional[str]:
        """The text of a file, or None when it is missing or unreadable."""
        raise NotImplementedError

    def listdir(self, path: str) -> Optional[List[str]]:
        """The sorted entries of a directory, or None when it is missing or unreadable."""
        raise NotImplementedError

    def realpath(self, path: str) -> Optional[str]:
        """The path with every link resolved, or None when nothing is there."""
        raise NotImplementedError

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        """Run a command with a timeout; a missing binary or a timeout is a result, not an exception."""
        raise NotImplementedError

    def fact(self, name: str, arg: str = "") -> Any:
        """A fact that is not a file nor a command (see LIVE_FACTS), as plain JSON data; None when unknown."""
        raise NotImplementedError

    def env(self, name: str) -> Optional[str]:
        return self.fact("env", name)

    def exists(self, path: str) -> bool:
        return self.realpath(path) is not None


# --- this machine -------------------------------------------------------------------------------------------------


def _call_with_deadline(func: Callable[[], Any], timeout: float) -> Any:
    """Run func in a daemon thread; after timeout give up with {"error": ...} (statvfs on a dead NFS mount, NVML on
    a GPU that fell off the bus), so that a snapshot records the failure, not just an absent fact."""
    import threading  # only for these two facts: keep start-up light

    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except Exception as exc:
            box["error"] = "%s: %s" % (type(exc).__name__, exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {"error": "timed out after %gs" % timeout}
    if "error" in box:
        return {"error": box["error"]}
    return box.get("value")


def _fact_platform(_: str) -> Dict[str, Any]:
    import platform

    try:  # "glibc 2.36"; platform.libc_ver() would scan the interpreter binary instead
        libc, _, libc_version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):
        libc, libc_version = "", ""
    return {
        "system": platform.system().lower(),
        "machine": platform.machine(),
        "release": platform.release(),
        "node": platform.node(),
        "libc": libc or None,
        "libc_version": libc_version or None,
        "mac_version": platform.mac_ver()[0] or None,
    }


def _fact_python(_: str) -> Dict[str, Any]:
    import sys

    return {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "path": [p for p in sys.path if p],
    }


def _fact_statvfs(path: str) -> Optional[Dict[str, int]]:
    st = os.statvfs(path)
    return {
        "total_bytes": st.f_blocks * st.f_frsize,
        "free_bytes": st.f_bavail * st.f_frsize,
    }


def _fact_which(name: str) -> Optional[str]:
    import shutil

    return shutil.which(name)


def _fact_nvml(_: str) -> Dict[str, Any]:
    from provision.host_nvml import query_nvml  # most machines have no NVIDIA GPU: keep start-up light

    return query_nvml(MAX_GPUS)


def _fact_cpuinfo(_: str) -> Dict[str, Any]:
    import cpuinfo  # py-cpuinfo: slow (it probes in a subprocess), so only where no /proc/cpuinfo or sysctl exists

    info = cpuinfo.get_cpu_info()
    return {key: info.get(key) for key in ("vendor_id_raw", "brand_raw", "count", "flags", "arch")}


def _fact_memory(_: str) -> Dict[str, int]:
    import psutil  # only off Linux, where /proc/meminfo is missing

    vm, swap = psutil.virtual_memory(), psutil.swap_memory()
    return {"total_bytes": vm.total, "available_bytes": vm.available, "swap_total_bytes": swap.total,
            "swap_free_bytes": swap.free}


def _fact_disks(_: str) -> List[Dict[str, Any]]:
    import psutil  # only off Linux, where /proc/mounts is missing

    return [{"device": p.device, "mountpoint": p.mountpoint, "fstype": p.fstype} for p in psutil.disk_partitions()]


#: Facts a LiveHost can answer; each takes one string argument and returns JSON data.
LIVE_FACTS: Dict[str, Callable[[str], Any]] = {
    "platform": _fact_platform,
    "python": _fact_python,
    "env": lambda name: os.environ.get(name) if name in ENV_VARS else None,
    "statvfs": _fact_statvfs,
    "which": _fact_which,
    "nvml": _fact_nvml,
    "cpuinfo": _fact_cpuinfo,
    "memory": _fact_memory,
    "disks": _fact_disks,
}


class LiveHost(Host):
    root = "/"

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def read(self, path: str) -> Optional[str]:
        try:
            return read_regular(path, MAX_READ_BYTES).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return None

    def listdir(self, path: str) -> Optional[List[str]]:
        try:
            return sorted(os.listdir(path))
        except (OSError, ValueError):
            return None

    def realpath(self, path: str) -> Optional[str]:
        try:
            if not os.path.lexists(path):
                return None
            return os.path.realpath(path)
        except (OSError, ValueError):
            return None

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        import subprocess  # most inventories run no command at all

        limit = self.timeout if timeout is None else timeout
        env = dict(os.environ, LC_ALL="C", LANG="C")
        try:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult("", "%s: command not found" % argv[0], RC_NOT_FOUND)
        except OSError as exc:
            return CommandResult("", "%s: %s" % (argv[0], exc.strerror or exc), RC_CANNOT_EXECUTE)
        return _collect(proc, argv[0], limit)

    def fact(self, name: str, arg: str = "") -> Any:
        func = LIVE_FACTS.get(name)
        if func is None:
            return None
        if name in ("statvfs", "nvml"):  # these can block on a dead mount or a GPU that fell off the bus
            return _call_with_deadline(lambda: func(arg), self.timeout)
        try:
            return func(arg)
        except Exception:
            return None


def _collect(proc: "subprocess.Popen[bytes]", name: str, limit: float) -> CommandResult:
    """The command's output, read as it comes: it is killed at the timeout, or once stdout or stderr goes past
    MAX_READ_BYTES (an nvidia-smi that prints forever would otherwise fill the memory)."""
    import subprocess
    import threading  # both imported by subprocess already
    import time

    cut: List[str] = []
    streams = {"stdout": proc.stdout, "stderr": proc.stderr}
    chunks: Dict[str, List[bytes]] = {key: [] for key in streams}

    def drain(key: str) -> None:
        # The reader closes its pipe itself: closed under a blocked read, the descriptor could be reused meanwhile.
        with streams[key] as stream:  # type: ignore[union-attr]
            fd, size = stream.fileno(), 0
            while size <= MAX_READ_BYTES:
                try:
                    chunk = os.read(fd, _CHUNK)
                except OSError:
                    return
                if not chunk:
                    return
                chunks[key].append(chunk)
                size += len(chunk)
        cut.append(key)
        _kill_group(proc)

    readers = [threading.Thread(target=drain, args=(key,), daemon=True) for key in streams]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + limit
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
    timed_out = any(reader.is_alive() for reader in readers)
    if not timed_out:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # it closed its output but runs on
            timed_out = True
    if timed_out:
        _kill_group(proc)
    for reader in readers:
        reader.join(1)  # the group is dead, so the pipes close; a stray writer outside it is left behind
    if timed_out and not cut:
        return CommandResult("", "%s: timed out after %gs" % (name, limit), RC_TIMEOUT)
    out, err = (b"".join(chunks[key])[:MAX_READ_BYTES].decode("utf-8", "replace") for key in streams)
    if cut:
        return CommandResult(out, _with_cut_notes(err, sorted(cut)), RC_OUTPUT_CUT)
    return CommandResult(out, err, proc.returncode)


def _with_cut_notes(stderr: str, streams: List[str]) -> str:
    lines = [stderr.rstrip("\n")] if stderr.strip() else []
    return "\n".join(lines + [cut_note(stream) for stream in streams]) + "\n"


def _kill_group(proc: "subprocess.Popen[bytes]") -> None:
    """Kill a command and whatever it started, so no grandchild keeps the pipes open."""
    import signal
    import subprocess

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # gone already, or no process groups (Windows)
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(1)
    except subprocess.TimeoutExpired:  # an unkillable (D state) process is left to the kernel
        pass


class RecordingHost(Host):
    """A LiveHost that keeps every answer, so that a snapshot replays exactly what the probes saw."""

    def __init__(self, live: LiveHost) -> None:
        self.live = live
        self.root = live.root
        self.timeout = live.timeout
        self.files: Dict[str, Optional[str]] = {}
        self.listings: Dict[str, Optional[List[str]]] = {}
        self.links: Dict[str, Optional[str]] = {}
        self.commands: Dict[str, Dict[str, Any]] = {}
        self.facts: Dict[str, Any] = {}

    def read(self, path: str) -> Optional[str]:
        if path not in self.files:
            self.files[path] = self.live.read(path)
        return self.files[path]

    def listdir(self, path: str) -> Optional[List[str]]:
        if path not in self.listings:
            self.listings[path] = self.live.listdir(path)
        return self.listings[path]

    def realpath(self, path: str) -> Optional[str]:
        if path not in self.links:
            self.links[path] = self.live.realpath(path)
        return self.links[path]

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        key = command_key(argv)
        if key not in self.commands:
            result = self.live.run(argv, timeout)
            self.commands[key] = result._asdict()
        return CommandResult(**self.commands[key])

    def fact(self, name: str, arg: str = "") -> Any:
        key = fact_key(name, arg)
        if key not in self.facts:
            # Round-trip through JSON so the live run sees exactly what a replay will.
            self.facts[key] = json.loads(json.dumps(self.live.fact(name, arg)))
        return self.facts[key]


def fact_key(name: str, arg: str) -> str:
    return "%s:%s" % (name, arg) if arg else name


class SnapshotHost(Host):
    """Answers from a snapshot folder (see DESIGN.md); what the snapshot lacks is unknown, never an error."""

    root: str  # always set, to the snapshot's files/ folder

    def __init__(self, folder: str, commands: Dict[str, Dict[str, Any]], extra: Dict[str, Any],
                 nvml: Optional[Dict[str, Any]]) -> None:
        self.folder = os.path.realpath(folder)
        self.root = os.path.join(self.folder, "files")
        self.commands = commands
        self.listings: Dict[str, Any] = extra.get("listdir", {})
        self.links: Dict[str, Any] = extra.get("realpath", {})
        self.facts: Dict[str, Any] = extra.get("facts", {})
        if nvml is not None:
            self.facts["nvml"] = nvml

    def _local(self, path: str) -> Optional[str]:
        """Where path lies inside files/, refusing anything that a link would lead outside it."""
        local = os.path.realpath(os.path.join(self.root, path.lstrip("/")))
        if local != self.root and not local.startswith(self.root + os.sep):
            return None
        return local

    def read(self, path: str) -> Optional[str]:
        local = self._local(path)
        if local is None:
            return None
        try:
            return read_regular(local, MAX_READ_BYTES).decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return None

    def listdir(self, path: str) -> Optional[List[str]]:
        if path in self.listings:
            listing = self.listings[path]
            if not isinstance(listing, list) or len(listing) > MAX_LISTING:
                return None  # not a listing a directory gives: unknown
            return sorted(name for name in listing if _is_file_name(name))
        local = self._local(path)
        if local is None or not os.path.isdir(local):
            return None
        return sorted(os.listdir(local))

    def realpath(self, path: str) -> Optional[str]:
        if path in self.links:
            target = self.links[path]
            return target if isinstance(target, str) and target.startswith("/") and len(target) <= MAX_PATH \
                and "\0" not in target else None
        local = self._local(path)
        if path in self.listings or (local is not None and os.path.exists(local)):
            return path
        return None

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        entry = self.commands.get(command_key(argv))
        if entry is None:
            return CommandResult("", "%s: command not found" % argv[0], RC_NOT_FOUND)
        out, err = (text if isinstance(text, str) else "" for text in (entry.get("stdout"), entry.get("stderr")))
        # A recorded output past the live cap is cut the same way (the cap counts characters here, not bytes).
        cut = [name for name, text in (("stdout", out), ("stderr", err)) if len(text) > MAX_READ_BYTES]
        if cut:
            return CommandResult(out[:MAX_READ_BYTES], _with_cut_notes(err[:MAX_READ_BYTES], cut), RC_OUTPUT_CUT)
        return CommandResult(out, err, int(entry.get("returncode", 0)))

    def fact(self, name: str, arg: str = "") -> Any:
        value = self.facts.get(fact_key(name, arg))
        return value if isinstance(value, FACT_TYPES.get(name, object)) else None


#: The JSON type of each fact's answer (LIVE_FACTS); a recorded answer of another type is unknown.
FACT_TYPES: Dict[str, type] = {"platform": dict, "python": dict, "env": str, "statvfs": dict, "which": str,
                               "nvml": dict, "cpuinfo": dict, "memory": dict, "disks": list}
#: Entries of one recorded directory listing, and the length of a recorded path: no machine comes near either.
MAX_LISTING = 65_536
MAX_PATH = 4096


def _is_file_name(name: Any) -> bool:
    """A name a directory listing can hold: nothing that joins into another path."""
    return isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name \
        and "\0" not in name
