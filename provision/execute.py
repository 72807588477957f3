"""Run a plan on this machine, step by step: the only code of dlws that changes a machine.

Each step runs as its own bash script (the same text the shell emitter writes), so a re-run skips what its check
finds done and picks up where a failure or a reboot stopped it. Every command's output goes to a log file.
Each step is a process group of its own, stopped as a whole when it runs too long or dlws is interrupted; it keeps
the terminal, so the sudo credentials dlws asks for first serve the steps that need root.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import IO, Any, Callable, Deque, Dict, Iterator, List, Optional, TextIO

from provision.emit.shell import EXIT_REBOOT, step_script
from provision.planner.model import Plan

#: A pip install of a CUDA framework downloads gigabytes: steps get an hour each.
STEP_TIMEOUT = 3600.0
#: Seconds a stopped step has between SIGTERM and SIGKILL (pip and apt clean up on SIGTERM).
KILL_GRACE = 5.0
TAIL_LINES = 20
#: A group of its own (not a session: sudo keys cached credentials by terminal); process_group needs Python 3.11.
_OWN_GROUP: Dict[str, Any] = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}


class StepFailed(Exception):
    def __init__(self, number: int, step_id: str, reason: str, tail: str) -> None:
        super().__init__("step %d (%s) %s" % (number, step_id, reason))
        self.number, self.step_id, self.tail = number, step_id, tail


class RebootNeeded(Exception):
    pass


class NoRoot(Exception):
    """Steps need root, dlws is not root, and sudo would not give it."""


class Interrupted(Exception):
    """SIGINT or SIGTERM reached dlws while a plan ran; the running step's processes were stopped first."""

    def __init__(self, signum: int, where: str) -> None:
        super().__init__("interrupted by %s %s" % (signal.Signals(signum).name, where))
        self.signum = signum


class _Terminated(BaseException):
    """SIGTERM as an exception, so it unwinds like Ctrl-C does (a BaseException: no `except Exception` eats it)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _Terminated()


@contextmanager
def _signals_held() -> Iterator[Callable[[], None]]:
    """Hold SIGINT and SIGTERM until the returned release() is called, then deliver the first held: one arriving
    inside Popen would leave the step running with no pid to stop it by."""
    held: List[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: held.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}

    def release() -> None:  # once: the finally below calls it again
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        previous.clear()
        pending = held[:1]
        held.clear()
        for number in pending:
            os.kill(os.getpid(), number)

    try:
        yield release
    finally:
        release()


def _copy(stdout: IO[bytes], log: TextIO, tail: Deque[str]) -> None:
    for raw in stdout:
        line = raw.decode("utf-8", "replace")
        log.write(line)
        tail.append(line.rstrip("\n"))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # only processes of another user (sudo's command) are left: still running
        pass
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    """SIGTERM to the step's whole process group, SIGKILL to whatever is left of it after KILL_GRACE; returns when
    the group is gone (or after a second KILL_GRACE, for a process stuck in the kernel)."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        _signal_group(proc.pid, signum)
        deadline = time.monotonic() + KILL_GRACE
        while time.monotonic() < deadline:
            proc.poll()  # reap the group's leader, or the group never looks empty
            if not _group_alive(proc.pid):
                return
            time.sleep(0.05)


def _stream(script: str, log: TextIO, tail: Deque[str]) -> Optional[int]:
    """Run one step script, copying its output to the log and keeping the last lines for an error report.

    Returns its exit code, or None when it ran past STEP_TIMEOUT and was stopped. Output is read by a thread so the
    deadline holds for a step that prints nothing.
    """
    with _signals_held() as release:
        proc = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=dict(os.environ, LC_ALL="C.UTF-8"), **_OWN_GROUP)
        assert proc.stdout is not None
        reader = threading.Thread(target=_copy, args=(proc.stdout, log, tail), daemon=True)
        reader.start()
        code: Optional[int] = None
        try:
            release()  # a signal held since before Popen is delivered here, where it stops the step
            code = proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(proc)
        except BaseException:  # Ctrl-C or SIGTERM: nothing of the step may outlive dlws
            _stop(proc)
            raise
        finally:
            # The pipe closes when the group is gone; a process the step left behind must not hold dlws up.
            reader.join(KILL_GRACE)
            if not reader.is_alive():
                proc.stdout.close()
            log.flush()
    return code


def _sudo_first(plan: Plan) -> None:
    """At a terminal, ask for sudo's password now, in the foreground: a step's sudo runs in a background process
    group, where it cannot ask. Without a terminal sudo could not ask anyway: a step that needs it says so."""
    if os.geteuid() == 0 or not any(step.become for step in plan.steps) or not (sys.stdin and sys.stdin.isatty()):
        return
    try:
        asked = subprocess.run(["sudo", "-v"]).returncode
    except OSError:  # no sudo: the steps whose checks find work to do fail with their own message
        return
    if asked != 0:
        raise NoRoot("steps need root and sudo -v failed: run dlws setup as root, or fix sudo for this user")


def run_plan(plan: Plan, log: TextIO, say: Callable[[str], None]) -> None:
    """Run every step in order, logging to log; StepFailed at the first failure, RebootNeeded when a reboot must
    come first, Interrupted on SIGINT or SIGTERM, NoRoot when steps need root that sudo will not give."""
    _sudo_first(plan)
    total = len(plan.steps)
    where = "before the first step"
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        for number, step in enumerate(plan.steps, 1):
            where = "during step %d (%s)" % (number, step.title)
            say("[%d/%d] %s ..." % (number, total, step.title))
            log.write("\n### step %d/%d %s: %s\n" % (number, total, step.id, step.title))
            tail: Deque[str] = deque(maxlen=TAIL_LINES)
            start = time.monotonic()
            code = _stream(step_script(plan, number), log, tail)
            if code is None:
                tail.append("dlws: the step ran past %g s and was stopped" % STEP_TIMEOUT)
                raise StepFailed(number, step.id, "ran past %g s and was stopped" % STEP_TIMEOUT, "\n".join(tail))
            if code == EXIT_REBOOT:
                raise RebootNeeded(step.why)
            if code != 0:
                raise StepFailed(number, step.id, "failed with exit code %d" % code, "\n".join(tail))
            done = any("already done" in line for line in tail)
            say("      %s (%.1f s)" % ("already done" if done else "done", time.monotonic() - start))
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT, where) from None
    except _Terminated:
        raise Interrupted(signal.SIGTERM, where) from None
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
