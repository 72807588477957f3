"""The only seam between dlws and a machine.

Probes never call ``open``, ``subprocess`` or ``pynvml`` themselves: they ask a Host. A LiveHost reads this machine,
a RecordingHost reads it and keeps every answer for a snapshot, a SnapshotHost answers from a recorded snapshot.
Every method answers "unknown" (None, or a failed CommandResult) instead of raising.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from typing import Any, Dict, List, Optional, Sequence

# The live facts and the command runner have modules of their own; their names are imported from here.
from provision.host_facts import ENV_VARS, FACT_TYPES, LIVE_FACTS, MAX_GPUS, fact_key, live_fact  # noqa: F401
from provision.host_run import (MAX_READ_BYTES, RC_CANNOT_EXECUTE, RC_NOT_FOUND, RC_OUTPUT_CUT,  # noqa: F401
                                RC_TIMEOUT, CommandResult, cut_note, run_command, with_cut_notes)
from provision.untrusted import read_regular

DEFAULT_TIMEOUT = 5.0
#: Longer than any --timeout: a command that needs an hour is no probe.
MAX_TIMEOUT = 3600.0


def command_key(argv: Sequence[str]) -> str:
    """The command line as recorded in commands.json."""
    return shlex.join(argv)


class Host:
    """What a probe may ask of a machine. Subclasses answer; none of these methods raise."""

    #: A local directory that mirrors the machine's filesystem ("/" for this machine), for readers such as distro.
    root: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    #: Whether a read can block (a hung NFS mount): readers that walk folders of users' give up at a deadline.
    can_block: bool = True
    #: The environment `dlws snapshot --env` named, judged again when the snapshot is replayed without --env.
    recorded_env: Optional[str] = None

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
        return run_command(argv, self.timeout if timeout is None else timeout)

    def fact(self, name: str, arg: str = "") -> Any:
        return live_fact(name, arg, self.timeout)


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


class SnapshotHost(Host):
    """Answers from a snapshot folder (see DESIGN.md); what the snapshot lacks is unknown, never an error."""

    root: str  # always set, to the snapshot's files/ folder
    can_block = False  # local files of a recorded machine, read the same way every time

    def __init__(self, folder: str, commands: Dict[str, Dict[str, Any]], extra: Dict[str, Any],
                 nvml: Optional[Dict[str, Any]], recorded_env: Optional[str] = None) -> None:
        self.folder = os.path.realpath(folder)
        self.recorded_env = recorded_env
        self.root = os.path.join(self.folder, "files")
        self.commands = commands
        self.listings: Dict[str, Any] = extra.get("listdir", {})
        self.links: Dict[str, Any] = extra.get("realpath", {})
        self.facts: Dict[str, Any] = extra.get("facts", {})
        if nvml is not None:
            self.facts["nvml"] = nvml

    def _local(self, path: str) -> Optional[str]:
        """Where path lies inside files/, refusing anything that a link would lead outside it."""
        local = os.path.realpath(os.path.join(self.root, member_path(path)))
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
            return CommandResult(out[:MAX_READ_BYTES], with_cut_notes(err[:MAX_READ_BYTES], cut), RC_OUTPUT_CUT)
        return CommandResult(out, err, int(entry.get("returncode", 0)))

    def fact(self, name: str, arg: str = "") -> Any:
        value = self.facts.get(fact_key(name, arg))
        return value if isinstance(value, FACT_TYPES.get(name, object)) else None


#: Entries of one recorded directory listing, and the length of a recorded path: no machine comes near either.
MAX_LISTING = 65_536
MAX_PATH = 4096
#: A Windows absolute path: a drive (C:\ or C:/) or a UNC share (\\server\share).
_WINDOWS_ABSOLUTE = re.compile(r"([A-Za-z]:[\\/]|\\\\[^\\/])")


def windows_path(path: str) -> bool:
    """Whether path is a Windows absolute path, as a Windows machine's sys.path and variables name folders."""
    return bool(_WINDOWS_ABSOLUTE.match(path))


def member_path(path: str) -> str:
    """Where a file read at path lies under a snapshot's files/: the absolute path without its leading '/'; a Windows
    path with '/' for its separators (C:\\Users\\u\\x -> C:/Users/u/x), so that its folders are folders there."""
    return path.replace("\\", "/").lstrip("/") if windows_path(path) else path.lstrip("/")


def _is_file_name(name: Any) -> bool:
    """A name a directory listing can hold: nothing that joins into another path."""
    return isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name \
        and "\0" not in name
