"""dlws setup running a plan: step deadlines, stopping a step's whole process group, the log file.

The steps here are trivial shell (execute.step_script is replaced), so nothing is installed.
"""

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from provision import execute
from provision.planner.model import Plan, Request, Step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def alive(pid):
    """Whether pid runs (a zombie waiting for its parent to reap it has stopped)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_for(path, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not (os.path.exists(path) and open(path).read().strip()):
        assert time.monotonic() < deadline, "%s never appeared" % path
        time.sleep(0.05)
    return int(open(path).read())


def one_step_plan():
    return Plan(Request(("jax",)), {}, steps=[Step("quiet", "a step that prints nothing", "a test", [])])


@pytest.mark.parametrize("ignore_term", [False, True], ids=["stops-on-sigterm", "needs-sigkill"])
def test_a_silent_step_is_stopped_at_its_deadline_with_its_whole_group(tmp_path, monkeypatch, ignore_term):
    pid_file = tmp_path / "pid"
    # The background sleep is the step's child, in its process group: it must go too, and it prints nothing.
    script = "%ssleep 60 & echo $! > '%s'; wait" % ("trap '' TERM; " if ignore_term else "", pid_file)
    monkeypatch.setattr(execute, "step_script", lambda plan, number: script)
    monkeypatch.setattr(execute, "STEP_TIMEOUT", 1.0)
    monkeypatch.setattr(execute, "KILL_GRACE", 0.5)
    log = io.StringIO()
    start = time.monotonic()
    with pytest.raises(execute.StepFailed) as failed:
        execute.run_plan(one_step_plan(), log, lambda line: None)
    assert time.monotonic() - start < 15
    assert "ran past 1 s and was stopped" in str(failed.value)
    assert "ran past 1 s" in failed.value.tail
    assert not alive(int(pid_file.read_text()))


def test_a_step_that_finishes_in_time_is_not_stopped(monkeypatch):
    monkeypatch.setattr(execute, "step_script", lambda plan, number: "sleep 0.2; echo already done")
    monkeypatch.setattr(execute, "STEP_TIMEOUT", 30.0)
    said = []
    log = io.StringIO()
    execute.run_plan(one_step_plan(), log, said.append)
    assert "already done" in log.getvalue() and "already done" in said[-1]


#: dlws setup on this machine, every step replaced by a script that records its child's pid and waits.
DRIVER = textwrap.dedent("""\
    import sys
    from provision import cli, execute
    execute.step_script = lambda plan, number: "sleep 60 & echo $! > %r; wait"
    cli.main(["setup", "-f", "jax", "--variant", "cpu", "--driver", "keep", "--env", %r, "--yes", "--log", %r])
    """)


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_dlws_alone_stops_the_running_step(tmp_path, signum, code):
    pid_file, log = str(tmp_path / "pid"), str(tmp_path / "setup.log")
    driver = DRIVER % (pid_file, str(tmp_path / "env"), log)
    proc = subprocess.Popen([sys.executable, "-c", driver], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        child = wait_for(pid_file)
        proc.send_signal(signum)  # to dlws only, not its process group: as `kill -INT <pid>` does
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "dlws setup: aborted: interrupted by %s during step 1" % signum.name in stderr
    assert "Traceback" not in stderr
    assert not alive(child)  # dlws waited for the step's group to go before it said so


def test_a_signal_while_the_step_starts_still_stops_it(monkeypatch):
    """Ctrl-C landing inside Popen, before dlws holds the step's pid, must not leave the step running."""
    started, popen = [], subprocess.Popen

    def popen_then_interrupt(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGINT)
        return started[-1]

    monkeypatch.setattr(execute, "step_script", lambda plan, number: "exec sleep 60")
    monkeypatch.setattr(execute.subprocess, "Popen", popen_then_interrupt)
    with pytest.raises(execute.Interrupted, match="SIGINT during step 1"):
        execute.run_plan(one_step_plan(), io.StringIO(), lambda line: None)
    assert not alive(started[0].pid)


@pytest.mark.parametrize("where", ["under-a-file", "default-is-a-folder"])
def test_a_log_that_cannot_be_written_is_a_usage_error_before_anything_runs(tmp_path, where):
    env = tmp_path / "env"
    argv = [sys.executable, "-m", "provision", "setup", "-f", "jax", "--variant", "cpu", "--driver", "keep",
            "--env", str(env), "--yes"]
    if where == "under-a-file":  # ENOTDIR, which stops root too (root ignores a read-only folder's mode)
        (tmp_path / "file").write_text("")
        log, reason = str(tmp_path / "file" / "setup.log"), "Not a directory"
        argv += ["--log", log]
    else:  # the default log, in the current folder
        (tmp_path / "dlws-setup.log").mkdir()
        log, reason = "dlws-setup.log", "Is a directory"
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                            cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last == "dlws: error: cannot write the log %s: %s; choose another with --log FILE" % (log, reason)
    assert "Traceback" not in result.stderr and not env.exists()


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("at_a_terminal", [True, False], ids=["terminal", "no-terminal"])
def test_steps_that_need_root_ask_sudo_first_at_a_terminal(tmp_path, monkeypatch, at_a_terminal):
    """A step's sudo runs in a background process group, where it cannot ask for a password: dlws asks first, and
    stops when sudo says no. Without a terminal nothing can ask: the steps run and say what they lack."""
    fake = tmp_path / "sudo"
    fake.write_text("#!/bin/sh\necho \"$@\" > '%s'\nexit 1\n" % (tmp_path / "asked"))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(sys, "stdin", Terminal() if at_a_terminal else io.StringIO())
    monkeypatch.setattr(execute, "step_script", lambda plan, number: "touch '%s'" % (tmp_path / "ran"))
    plan = Plan(Request(("jax",)), {}, steps=[Step("root", "a step as root", "a test", [], become=True)])
    if at_a_terminal:
        with pytest.raises(execute.NoRoot, match="sudo -v failed"):
            execute.run_plan(plan, io.StringIO(), lambda line: None)
        assert (tmp_path / "asked").read_text().strip() == "-v" and not (tmp_path / "ran").exists()
    else:
        execute.run_plan(plan, io.StringIO(), lambda line: None)
        assert not (tmp_path / "asked").exists() and (tmp_path / "ran").exists()


def test_a_verification_of_several_commands_fails_when_its_last_one_does(tmp_path):
    # `if ! A && B` negates A alone: a verification `command -v python3.8 && python3.8 -c ...` then passed when
    # python3.8 existed but lacked venv. The emitted script groups it.
    from provision.emit.shell import _step
    from provision.planner.model import Step

    step = Step("demo", "Demo", "shows the grouping", [], check="false", verify="true && false")
    script = "set -euo pipefail\n" + "step() { :; }\n" + "\n".join(_step(1, 1, step)) + "\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "did not verify" in result.stderr
    passing = Step("demo", "Demo", "shows the grouping", [], check="false", verify="true && true")
    script = "set -euo pipefail\n" + "step() { :; }\n" + "\n".join(_step(1, 1, passing)) + "\n"
    assert subprocess.run(["bash", "-c", script], capture_output=True, timeout=30).returncode == 0


def test_run_mode_exits_3_when_a_reboot_must_come_first_as_the_script_does(tmp_path, monkeypatch):
    from provision.planner.model import Reboot
    from provision.setup_command import _run

    done = tmp_path / "first"
    plan = Plan(Request(("jax",)), {}, steps=[
        Step("first", "a step", "a test", [], check="test -e '%s'" % done),
        Step("reboot", "Reboot to load the new driver", "a test", [Reboot("the driver was installed")],
             check="false"),
        Step("after", "never reached", "a test", [], check="false")])
    monkeypatch.setattr(execute, "step_script", lambda plan, number: "touch '%s'" % done if number == 1 else "exit 3")
    assert _run(plan, True, str(tmp_path / "setup.log")) == 3 and done.exists()
    monkeypatch.setattr(execute, "step_script", lambda plan, number: "true")
    assert _run(Plan(Request(("jax",)), {}, steps=[Step("only", "a step", "a test", [])]), True,
                str(tmp_path / "setup.log")) == 0
