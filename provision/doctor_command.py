"""`dlws doctor`: the options checked into a request, --explain, the run over an inventory, and the report's text.

provision/cli.py only wires the options to these; each import is deferred to the job that needs it, so that a
doctor run loads no more than before.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from provision.errors import UsageError
from provision.host import Host

if TYPE_CHECKING:
    from provision.doctor.error_input import ErrorText
    from provision.doctor.model import Report
    from provision.doctor.require import Requirement


@dataclass
class DoctorRequest:
    requirements: List[Requirement]
    targets: Tuple[str, ...]
    deep: bool
    fail_on: str
    error: Optional[ErrorText] = None  # --error / --error-file


def make_request(requires: Sequence[str], require_file: Optional[str], targets: Sequence[str], deep: bool,
                 fail_on: str, errors: Sequence[str] = (), error_file: Optional[str] = None) -> DoctorRequest:
    """Check every option before the machine is read: a bad --require or --target is a usage error first; the
    --error text is read (bounded) here too."""
    from provision.compat import parse_target
    from provision.doctor.require import parse_all

    texts = list(requires)
    if require_file:
        from provision.doctor.requirefile import read_require_file

        texts.extend(read_require_file(require_file))
    parsed = parse_all(texts)
    for target in targets:
        parse_target(target)
    error = None
    if errors or error_file:
        from provision.doctor.error_input import read_error

        error = read_error(errors, error_file)
    return DoctorRequest(parsed, tuple(targets), deep, fail_on, error)


def explain(check_id: str) -> str:
    """The long form of a check, for --explain; a usage error naming the known ids otherwise."""
    from provision.doctor import all_checks

    checks = all_checks()
    found = checks.get(check_id.upper())
    if found is None:
        raise UsageError("unknown check %r; known: %s" % (check_id, ", ".join(checks)))
    return "%s (%s, %s): %s\n\n%s" % (found.id, found.severity, found.area, found.title, found.explain)


def run_doctor(host: Host, inv: Dict[str, Any], request: DoctorRequest, debug: bool) -> Report:
    """The rules, then each --require, each --target and (with --deep) each framework's run, as checks; with
    --error, the findings that explain it marked."""
    from provision.doctor import diagnose
    from provision.doctor.require import evaluate

    report = diagnose(inv, [evaluate(req, inv) for req in request.requirements], fail_on=request.fail_on,
                      debug=debug)
    if request.targets:
        from provision.doctor.target import add_targets

        add_targets(report, request.targets)
    if request.deep:
        from provision.doctor.deep import add_deep
        from provision.inventory.deep import run_deep

        _check_replayable(host, inv)
        add_deep(report, run_deep(host, inv), inv)
    if request.error is not None:  # last: it ties the error to every finding above
        from provision.doctor.error_text import explain

        explain(report, request.error)
    return report


def _check_replayable(host: Host, inv: Dict[str, Any]) -> None:
    """A snapshot recorded without --deep has no runs to replay: say so, rather than call every framework broken."""
    from provision.host import SnapshotHost, command_key
    from provision.inventory.deep import deep_runs

    runs = deep_runs(inv).values()
    if isinstance(host, SnapshotHost) and runs and not any(command_key(argv) in host.commands for argv in runs):
        raise UsageError("snapshot %s has no deep runs: record it with dlws snapshot --deep" % host.folder)


def record_deep(host: Host, inv: Dict[str, Any]) -> None:
    """Run the deep checks only for what they ask the host (dlws snapshot --deep keeps it), not for findings."""
    from provision.inventory.deep import run_deep

    run_deep(host, inv)


def render(report: Report, fmt: str, output: Optional[str]) -> str:
    """The report as text (colour only on a terminal, NO_COLOR respected), JSON or JUnit XML."""
    from provision.doctor import report as reports

    if fmt == "json":
        return reports.to_json(report)
    if fmt == "junit":
        return reports.to_junit(report)
    colour = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return reports.to_text(report, colour)
