"""Run a plan on this machine, step by step: the only code of dlws that changes a machine.

Each step runs as its own bash script (the same text the shell emitter writes), so a re-run skips what its check
finds done and picks up where a failure or a reboot stopped it. Every command's output goes to a log file.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import deque
from typing import Callable, Deque, TextIO

from provision.emit.shell import EXIT_REBOOT, step_script
from provision.planner.model import Plan

#: A pip install of a CUDA framework downloads gigabytes: steps get an hour each.
STEP_TIMEOUT = 3600
TAIL_LINES = 20


class StepFailed(Exception):
    def __init__(self, number: int, step_id: str, returncode: int, tail: str) -> None:
        super().__init__("step %d (%s) failed with exit code %d" % (number, step_id, returncode))
        self.number, self.step_id, self.returncode, self.tail = number, step_id, returncode, tail


class RebootNeeded(Exception):
    pass


def _stream(script: str, log: TextIO, tail: Deque[str]) -> int:
    """Run one step script, copying its output to the log and keeping the last lines for an error report."""
    proc = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert proc.stdout is not None
    deadline = time.monotonic() + STEP_TIMEOUT
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        log.write(line)
        tail.append(line.rstrip("\n"))
        if time.monotonic() > deadline:
            proc.kill()
            tail.append("dlws: the step ran past %d s and was stopped" % STEP_TIMEOUT)
            break
    log.flush()
    return proc.wait()


def run_plan(plan: Plan, log_path: str, say: Callable[[str], None]) -> None:
    """Run every step in order; StepFailed at the first failure, RebootNeeded when a reboot must come first."""
    total = len(plan.steps)
    with open(log_path, "a", encoding="utf-8") as log:
        for number, step in enumerate(plan.steps, 1):
            say("[%d/%d] %s ..." % (number, total, step.title))
            log.write("\n### step %d/%d %s: %s\n" % (number, total, step.id, step.title))
            tail: Deque[str] = deque(maxlen=TAIL_LINES)
            start = time.monotonic()
            code = _stream(step_script(plan, number), log, tail)
            if code == EXIT_REBOOT:
                raise RebootNeeded(step.why)
            if code != 0:
                raise StepFailed(number, step.id, code, "\n".join(tail))
            done = any("already done" in line for line in tail)
            say("      %s (%.1f s)" % ("already done" if done else "done", time.monotonic() - start))
