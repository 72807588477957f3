"""Findings and the check registry: each check has a stable id, a severity, a title and a long explanation."""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

SEVERITIES = ("error", "warning", "info")


def word(value: Any) -> str:
    """A machine's own value (a folder, a kernel release, a module name) as one shell word of a fix: users paste
    fixes into a root shell, and a snapshot or a fleet host may be hostile. Plain words stay as they are."""
    return shlex.quote(str(value))


def at_least(severity: str, level: str) -> bool:
    """Whether severity is at or above level (error > warning > info)."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(level)


@dataclass
class Finding:
    id: str
    severity: str
    title: str
    evidence: Dict[str, Any]
    fix: str
    subject: Optional[str] = None  # what it is about when a rule fires more than once: "GPU 1", "/data"
    explains_error: bool = False  # it explains the error given with --error (doctor_command marks it)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form; explains_error only where true (the contract gains a key, no finding changes)."""
        found = dataclasses.asdict(self)
        if not self.explains_error:
            del found["explains_error"]
        return found


Result = Union[None, Finding, Iterable[Finding]]


@dataclass
class Check:
    """What the doctor can report under one id: the rules, and the findings of --require, --target and --deep."""

    id: str
    severity: str
    title: str
    area: str
    explain: str  # the long form `dlws doctor --explain ID` prints

    def finding(self, evidence: Dict[str, Any], fix: str, title: Optional[str] = None,
                severity: Optional[str] = None, subject: Optional[str] = None) -> Finding:
        return Finding(self.id, severity or self.severity, title or self.title, evidence, fix, subject)


@dataclass
class Rule(Check):
    """A check that runs on every inventory: check(inv), or check(inv, today=...) when it asks for the date."""

    check: Callable[..., Result]
    takes_today: bool = False

    def run(self, inv: Dict[str, Any], today: datetime.date) -> List[Finding]:
        result = self.check(inv, today=today) if self.takes_today else self.check(inv)
        if result is None:
            return []
        if isinstance(result, Finding):
            return [result]
        return list(result)


#: Every id the doctor can print; RULES are the ones diagnose() runs.
CHECKS: Dict[str, Check] = {}
RULES: Dict[str, Rule] = {}


def _register(check: Check) -> None:
    if check.severity not in SEVERITIES:
        raise ValueError("unknown severity %r for %s" % (check.severity, check.id))
    if check.id in CHECKS:
        raise ValueError("duplicate check id %s" % check.id)
    CHECKS[check.id] = check


def declare(check_id: str, severity: str, title: str, area: str, explain: str) -> Check:
    """Register a check whose findings are made outside the rules; explain is what --explain prints."""
    check = Check(check_id, severity, title, area, inspect.cleandoc(explain))
    _register(check)
    return check


def rule(rule_id: str, severity: str, title: str) -> Callable[[Callable[..., Result]], Rule]:
    """Register a check function as a Rule; its docstring is the long form `dlws doctor --explain ID` prints.

    The decorated name is the Rule, so the function's body makes its findings with NAME.finding(...)."""

    def register_rule(func: Callable[..., Result]) -> Rule:
        found = Rule(rule_id, severity, title, func.__module__.rsplit(".", 1)[-1],
                     inspect.cleandoc(func.__doc__ or ""), func, "today" in inspect.signature(func).parameters)
        _register(found)
        RULES[rule_id] = found
        return found

    return register_rule


def ordered(findings: Iterable[Finding]) -> Tuple[Finding, ...]:
    """Those that explain the --error first, then errors first, then by id and subject, so reports are stable."""
    return tuple(sorted(findings, key=lambda f: (not f.explains_error, SEVERITIES.index(f.severity), f.id,
                                                 f.subject or "")))


@dataclass
class Case:
    """One check as it ran (a rule, one --require, one --target, one framework of --deep): a JUnit test case."""

    name: str
    findings: List[Finding]


@dataclass
class Report:
    inventory: Dict[str, Any]
    fail_on: str = "error"
    cases: List[Case] = field(default_factory=list)
    error: Optional[Dict[str, Any]] = None  # with --error: what was read and matched (error_text.explain)

    def add(self, name: str, findings: Iterable[Finding]) -> None:
        self.cases.append(Case(name, list(findings)))

    @property
    def checks(self) -> List[str]:
        return [case.name for case in self.cases]

    @property
    def findings(self) -> Tuple[Finding, ...]:
        """Every finding, in order (add() adds them)."""
        return ordered(f for case in self.cases for f in case.findings)

    @property
    def failing(self) -> List[Finding]:
        return [f for f in self.findings if at_least(f.severity, self.fail_on)]

    def counts(self) -> Dict[str, int]:
        return {sev: sum(1 for f in self.findings if f.severity == sev) for sev in SEVERITIES}
