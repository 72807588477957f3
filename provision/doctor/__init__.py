"""The doctor: rules over an inventory (a pure function of its JSON form), and reports of what they found."""

from __future__ import annotations

import datetime
import importlib
import sys
import traceback
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from provision.doctor import environments, model
from provision.doctor.model import Check, Finding, Report, Rule
from provision.inventory.conform import typed

if TYPE_CHECKING:
    from provision.doctor.require import Outcome

#: The modules that register the checks made outside the rules (--require, --target, --deep, --error), for --explain.
CHECK_MODULES = ("require", "target", "deep", "error_text")


def rule_modules() -> List[str]:
    """Every module of provision.doctor.rules, sorted: a new one is loaded without being listed anywhere."""
    import pkgutil  # only when the doctor runs

    from provision.doctor import rules

    return sorted("provision.doctor.rules." + found.name for found in pkgutil.iter_modules(rules.__path__))


def all_rules() -> Dict[str, Rule]:
    """The rules diagnose() runs, by id (importing a rule module registers its rules)."""
    for name in rule_modules():
        importlib.import_module(name)
    return {rule_id: model.RULES[rule_id] for rule_id in sorted(model.RULES)}


def all_checks() -> Dict[str, Check]:
    """Every id the doctor can print, by id."""
    all_rules()
    for name in CHECK_MODULES:
        importlib.import_module("provision.doctor." + name)
    return {check_id: model.CHECKS[check_id] for check_id in sorted(model.CHECKS)}


def _run(rule: Rule, inv: Dict[str, Any], today: datetime.date, debug: bool) -> List[Finding]:
    try:
        return rule.run(inv, today)
    except Exception as exc:  # a broken rule must not hide the others
        if debug:
            traceback.print_exc(file=sys.stderr)
        return [rule.finding({"exception": "%s: %s" % (type(exc).__name__, exc)},
                             "report this as a dlws bug (rerun with --debug for the traceback)",
                             title="dlws check %s failed" % rule.id, severity="warning")]


def _unmet(outcome: Outcome) -> List[Finding]:
    from provision.doctor.require import UNMET

    if outcome.met:
        return []
    text = outcome.requirement.text
    return [UNMET.finding({"requirement": text, "found": outcome.actual}, "run on a machine that meets it, or "
                          "change the requirement", title="requirement not met: %s" % text, subject=text)]


def diagnose(inv: Dict[str, Any], requirements: Optional[List[Outcome]] = None, fail_on: str = "error",
             debug: bool = False, today: Optional[datetime.date] = None) -> Report:
    """Run every rule (and each --require) over an inventory, as of today unless told another day (tests pin
    it); a rule that raises becomes a warning finding."""
    inv = typed(inv).to_dict()  # the rules may rely on the model's types, whoever wrote the inventory
    report = Report(inventory=inv, fail_on=fail_on)
    day = today or datetime.date.today()
    for rule in all_rules().values():
        report.add(rule.id, environments.findings(rule, inv, lambda view: _run(rule, view, day, debug)))
    for outcome in requirements or []:
        report.add("require: " + outcome.requirement.text, _unmet(outcome))
    return report
