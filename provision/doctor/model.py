"""Findings and the rule registry: each rule is a small function with a stable id, a severity and a fix."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

SEVERITIES = ("error", "warning", "info")


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

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


Result = Union[None, Finding, Iterable[Finding]]


@dataclass
class Rule:
    id: str
    severity: str
    title: str
    area: str
    check: Callable[..., Result]
    explain: str = ""

    def finding(self, evidence: Dict[str, Any], fix: str, title: Optional[str] = None,
                severity: Optional[str] = None, subject: Optional[str] = None) -> Finding:
        return Finding(self.id, severity or self.severity, title or self.title, evidence, fix, subject)


RULES: Dict[str, Rule] = {}


def rule(rule_id: str, severity: str, title: str) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Register a check; its docstring is the long form `dlws doctor --explain ID` prints."""
    if severity not in SEVERITIES:
        raise ValueError("unknown severity %r for %s" % (severity, rule_id))

    def register(func: Callable[..., Result]) -> Callable[..., Result]:
        if rule_id in RULES:
            raise ValueError("duplicate rule id %s" % rule_id)
        area = func.__module__.rsplit(".", 1)[-1]
        RULES[rule_id] = Rule(rule_id, severity, title, area, func, inspect.cleandoc(func.__doc__ or ""))
        func.rule = RULES[rule_id]  # type: ignore[attr-defined]
        return func

    return register


@dataclass
class Report:
    inventory: Dict[str, Any]
    findings: List[Finding] = field(default_factory=list)
    checks: List[str] = field(default_factory=list)  # every rule id that ran, for JUnit
    fail_on: str = "error"

    @property
    def failing(self) -> List[Finding]:
        return [f for f in self.findings if at_least(f.severity, self.fail_on)]

    def sort(self) -> None:
        """Errors first, then by id and subject, so reports are stable."""
        self.findings.sort(key=lambda f: (SEVERITIES.index(f.severity), f.id, f.subject or ""))

    def counts(self) -> Dict[str, int]:
        return {sev: sum(1 for f in self.findings if f.severity == sev) for sev in SEVERITIES}
