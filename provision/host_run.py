"""Running a command on this machine for a LiveHost: with a timeout, its output read as it comes and cut at
MAX_READ_BYTES, the command and whatever it started killed at the end. A missing binary, a timeout or an endless
writer is a CommandResult with its own return code, never an exception.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Sequence

if TYPE_CHECKING:
    import subprocess

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


class CommandResult(NamedTuple):
    stdout: str
    stderr: str
    returncode: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def cut_note(stream: str) -> str:
    """The line that ends the stderr of a command whose stream went past MAX_READ_BYTES."""
    return "dlws: %s cut at %d bytes" % (stream, MAX_READ_BYTES)


def run_command(argv: Sequence[str], limit: float) -> CommandResult:
    """Run a command on this machine (C locale, a session of its own) for at most limit seconds."""
    import subprocess  # most inventories run no command at all

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
        return CommandResult(out, with_cut_notes(err, sorted(cut)), RC_OUTPUT_CUT)
    return CommandResult(out, err, proc.returncode)


def with_cut_notes(stderr: str, streams: List[str]) -> str:
    """stderr ending with a cut_note for each stream that went past MAX_READ_BYTES."""
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
