"""The framework checks, run for every Python environment found (issue 13): each finding names its environment.

The rules read the top-level python and frameworks; for each environment they run over a view of the inventory in
which those are the environment's, so one judgment serves them all.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List

from provision.doctor.model import Finding, Rule

#: The rules about an environment's frameworks: those of rules/frameworks.py, and DLWS-JET-001 (a generic torch).
AREAS = ("frameworks",)
IDS = ("DLWS-JET-001",)


def per_environment(rule: Rule) -> bool:
    return rule.area in AREAS or rule.id in IDS


def view(inv: Dict[str, Any], env: Dict[str, Any]) -> Dict[str, Any]:
    """The inventory as the rules see it for one environment."""
    python = dict(inv.get("python") or {}, version=env.get("python"), executable=env.get("executable"))
    return dict(inv, python=python, frameworks=env.get("frameworks") or {})


def tagged(findings: List[Finding], path: str) -> List[Finding]:
    """Each finding with its environment: in its subject ("torch in /home/ana/venv") and its evidence."""
    return [dataclasses.replace(f, subject="%s in %s" % (f.subject, path) if f.subject else path,
                                evidence=dict(f.evidence, environment=path)) for f in findings]


def findings(rule: Rule, inv: Dict[str, Any], run: Callable[[Dict[str, Any]], List[Finding]]) -> List[Finding]:
    """run(inventory) for the judged environment (the top level as it is) and for every other one with a framework;
    a rule of another kind runs once."""
    envs = inv.get("environments") or []
    judged = next((env for env in envs if env.get("active")), None)
    if not per_environment(rule) or not envs:
        return run(inv)
    out = tagged(run(inv), judged["path"]) if judged else run(inv)
    for env in envs:
        if env is not judged and env.get("frameworks"):
            out += tagged(run(view(inv, env)), env["path"])
    return out
