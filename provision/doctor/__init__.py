"""The doctor: rules over an inventory (a pure function of its JSON form), and reports of what they found."""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any, Dict, List, Optional

from provision.doctor.model import RULES, Finding, Report, Rule

#: The rule modules, one per area; importing one registers its rules.
RULE_MODULES = ("driver", "health", "sizing", "system", "frameworks", "cuda")


def all_rules() -> Dict[str, Rule]:
    for name in RULE_MODULES:
        importlib.import_module("provision.doctor.rules." + name)
    return RULES


def _as_list(result: Any) -> List[Finding]:
    if result is None:
        return []
    if isinstance(result, Finding):
        return [result]
    return list(result)


def diagnose(inv: Dict[str, Any], requirements: Optional[List[Any]] = None, fail_on: str = "error",
             debug: bool = False) -> Report:
    """Run every rule (and each --require) over an inventory; a rule that raises becomes an error finding."""
    report = Report(inventory=inv, fail_on=fail_on)
    for rule in all_rules().values():
        report.checks.append(rule.id)
        try:
            report.findings.extend(_as_list(rule.check(inv)))
        except Exception as exc:  # a broken rule must not hide the others
            if debug:
                traceback.print_exc(file=sys.stderr)
            report.findings.append(rule.finding({"exception": "%s: %s" % (type(exc).__name__, exc)},
                                                "report this as a dlws bug (rerun with --debug for the traceback)",
                                                title="dlws check %s failed" % rule.id, severity="warning"))
    for outcome in requirements or []:
        report.checks.append("require: " + outcome.requirement.text)
        if not outcome.met:
            report.findings.append(Finding(
                "DLWS-REQ-001", "error", "requirement not met: %s" % outcome.requirement.text,
                {"requirement": outcome.requirement.text, "found": outcome.actual},
                "run on a machine that meets it, or change the requirement", subject=outcome.requirement.text))
    report.sort()
    return report
