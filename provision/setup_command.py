"""`dlws setup`: turn the options into a request, plan it, then print the plan or run it."""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Dict, Optional, Tuple

import click

from provision.errors import UsageError
from provision.knowledge import queries
from provision.output import printable, write_output
from provision.planner import is_wheel_choice, plan as make_plan
from provision.planner.model import Plan, Request

VARIANT = re.compile(r"^(auto|cpu|cuda|rocm|metal|cu\d{3}|cuda1\d|rocm\d+(\.\d+)*)$")


#: The config file of mirrors (one FROM=TO per line), read by setup and fleet plan before their --mirror options.
MIRRORS_FILE = "mirrors"


def mirrors_file() -> str:
    """$DLWS_CONFIG_DIR/mirrors, else $XDG_CONFIG_HOME/dlws/mirrors, else ~/.config/dlws/mirrors."""
    folder = os.environ.get("DLWS_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "dlws")
    return os.path.join(folder, MIRRORS_FILE)


def load_mirrors(options: Tuple[str, ...]) -> Tuple[Tuple[str, str], ...]:
    """The config file's mirrors (none where it does not exist), then the --mirror options, which win."""
    from provision.planner import mirrors
    from provision.untrusted import read_regular

    path = mirrors_file()
    try:
        raw = read_regular(path, 64 * 1024 + 1)
    except FileNotFoundError:
        raw = b""
    except OSError as exc:
        raise UsageError("cannot read the mirrors file %s: %s" % (path, exc.strerror or exc)) from None
    if len(raw) > 64 * 1024:
        raise UsageError("the mirrors file %s is over 64 KiB" % path)
    configured = mirrors.parse_file(raw.decode("utf-8", "replace"), path)
    return mirrors.combine(configured, [mirrors.parse(text) for text in options])


def make_request(frameworks: Tuple[str, ...], version: Optional[str], variant: str, python: Optional[str],
                 env: str, driver: str, with_cuda_toolkit: bool, mirror: Tuple[str, ...] = ()) -> Request:
    names = []
    for name in frameworks:
        normalized = "keras" if name.strip().lower() == "keras" else queries.normalize_framework(name)
        if normalized is None:
            raise UsageError("unknown framework %r: use pytorch (torch), tensorflow, jax, mxnet or keras" % name)
        if normalized not in names:
            names.append(normalized)
    if not VARIANT.match(variant):
        raise UsageError("unknown --variant %r: auto, cpu, cuda, cuXYZ, rocm or metal" % variant)
    if python is not None and not re.match(r"^3\.\d+$", python):
        raise UsageError("--python takes a version like 3.11, not %r" % python)
    if not env.strip():
        raise UsageError("--env needs a path")
    return Request(tuple(names), version, variant, python, env, driver, with_cuda_toolkit, load_mirrors(mirror))


def summary(plan: Plan) -> str:
    """The plan for a person: what was chosen and why, each step, or why nothing works."""
    lines = ["dlws setup plan for %s" % ", ".join(plan.request.frameworks)]
    lines += ["  machine: %s" % ", ".join("%s=%s" % (k, v) for k, v in plan.machine.items() if v)]
    if not plan.ok:
        lines.append("  cannot be done here:")
        lines += ["    - " + reason for reason in plan.impossible]
        lines += ["  what works instead:"] + ["    - " + alt for alt in plan.alternatives] if plan.alternatives else []
        return "\n".join(lines)
    for choice in plan.choices:
        lines.append("  %s %s (%s): %s%s" % (choice.framework, choice.release, choice.variant,
                                             " ".join(choice.requirements),
                                             " from " + choice.index_url if choice.index_url else
                                             "" if is_wheel_choice(choice) else " from PyPI"))
        lines += ["    note: " + note for note in choice.notes]
    for number, step in enumerate(plan.steps, 1):
        lines.append("  %d. %s%s" % (number, step.title, " (root)" if step.become else ""))
        lines.append("     why: " + step.why)
    lines += ["  note: " + note for note in plan.notes]
    return "\n".join(lines)


def render(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n"
    if fmt == "ansible":
        from provision.emit import ansible

        return ansible.render(plan)
    from provision.emit import shell

    return shell.render(plan)


def check_printing(dry_run: bool, fmt: Optional[str], output: Optional[str]) -> None:
    """--format and -o say how to print the plan, which only --dry-run does: without it they are a mistake."""
    if not dry_run and (fmt is not None or output is not None):
        raise UsageError("--format and -o print the plan, and only with --dry-run (without it setup installs on "
                         "this machine and writes no file): add --dry-run")


def run_setup(inv: Dict[str, Any], request: Request, dry_run: bool, fmt: str, output: Optional[str], yes: bool,
              log_path: Optional[str]) -> int:
    result = make_plan(inv, request)
    if dry_run and fmt == "json":  # the JSON plan says why an impossible request fails, for scripts to read
        write_output(render(result, fmt), output, verbatim=True)
        return 0 if result.ok else 1
    click.echo(printable(summary(result)), err=True)
    if not result.ok:
        return 1
    if dry_run:
        write_output(render(result, fmt), output, verbatim=True)
        return 0
    return _run(result, yes, log_path or "dlws-setup.log")


def _run(result: Plan, yes: bool, log_path: str) -> int:
    from provision.emit.shell import EXIT_REBOOT
    from provision.execute import Interrupted, NoRoot, RebootNeeded, StepFailed, run_plan

    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to ask on: review the plan with --dry-run, then run with --yes")
        if not click.confirm("Run these steps on this machine?", default=False, err=True):
            click.echo("nothing changed", err=True)
            return 0
    try:  # before any step runs: a log that cannot be written must not cost a half-done install
        log = open(log_path, "a", encoding="utf-8")
    except OSError as exc:
        raise UsageError("cannot write the log %s: %s; choose another with --log FILE"
                         % (log_path, exc.strerror or exc)) from None
    click.echo("logging every command's output to %s" % log_path, err=True)
    try:
        with log:
            run_plan(result, log, lambda line: click.echo(line, err=True))
    except RebootNeeded as why:
        click.echo("reboot needed (%s): sudo reboot, then run the same command again; it resumes here" % why,
                   err=True)
        return EXIT_REBOOT  # as the script: a caller must not take a pending reboot for a finished install
    except StepFailed as failure:
        click.echo("dlws setup: %s\n--- last lines of its output ---\n%s\n---\nhint: see %s for the whole output; "
                   "fix the cause and run the same command again: finished steps are skipped"
                   % (failure, failure.tail, log_path), err=True)
        return 1
    except NoRoot as why:
        click.echo("dlws setup: %s" % why, err=True)
        return 1
    except Interrupted as stop:
        click.echo("dlws setup: aborted: %s; its processes were stopped; run the same command again to pick up "
                   "where it stopped" % stop, err=True)
        return 128 + stop.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    click.echo("dlws setup: done", err=True)
    return 0
