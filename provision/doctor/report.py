"""Doctor reports: text (colour on a terminal only, NO_COLOR respected), JSON and JUnit XML."""

from __future__ import annotations

import json
from typing import List
from xml.etree import ElementTree as ET

from provision.doctor.model import SEVERITIES, Case, Finding, Report, at_least, ordered

COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
RESET = "\033[0m"
SCHEMA = "dlws.doctor/1"


def to_json(report: Report) -> str:
    return json.dumps({
        "schema": SCHEMA,
        "inventory": report.inventory,
        "findings": [f.to_dict() for f in report.findings],
        "summary": dict(report.counts(), checks=len(report.checks), fail_on=report.fail_on,
                        failed=bool(report.failing)),
    }, indent=2, sort_keys=True)


def _evidence(finding: Finding) -> str:
    return ", ".join("%s=%s" % (k, v) for k, v in finding.evidence.items() if v not in (None, "", []))


def to_text(report: Report, colour: bool) -> str:
    from provision.summary import render

    lines: List[str] = [render(report.inventory), ""]
    for severity in SEVERITIES:
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        head = "%s (%d)" % ({"error": "ERRORS", "warning": "WARNINGS", "info": "INFO"}[severity], len(group))
        lines.append(COLOURS[severity] + head + RESET if colour else head)
        for finding in group:
            mark = "  [%s] %s" % (finding.id, finding.title)
            lines.append(mark + (" — %s" % finding.subject if finding.subject else ""))
            if finding.evidence:
                lines.append("      evidence: " + _evidence(finding))
            lines.append("      fix: " + finding.fix)
        lines.append("")
    counts = report.counts()
    verdict = "FAIL" if report.failing else "OK"
    summary = "%s: %d errors, %d warnings, %d info from %d checks (failing at %s)" % (
        verdict, counts["error"], counts["warning"], counts["info"], len(report.checks), report.fail_on)
    if colour:
        summary = ("\033[31m" if report.failing else "\033[32m") + summary + RESET
    lines.append(summary)
    return "\n".join(lines)


def _headline(finding: Finding) -> str:
    return "[%s] %s" % (finding.id, finding.title) + (" (%s)" % finding.subject if finding.subject else "")


def _junit_case(suite: ET.Element, case: Case, fail_on: str) -> bool:
    """Add one check's test case; whether it failed (it found something at or above the failing level)."""
    element = ET.SubElement(suite, "testcase", classname="dlws.doctor", name=case.name)
    found = ordered(case.findings)
    failing = [f for f in found if at_least(f.severity, fail_on)]
    if failing:
        failure = ET.SubElement(element, "failure", type=failing[0].severity,
                                message="; ".join(_headline(f) for f in failing))
        failure.text = "\n".join("[%s] %s\nevidence: %s\nfix: %s" % (f.id, f.title, _evidence(f), f.fix)
                                 for f in failing)
    elif found:
        out = ET.SubElement(element, "system-out")
        out.text = "\n".join("%s: [%s] %s (fix: %s)" % (f.severity, f.id, f.title, f.fix) for f in found)
    return bool(failing)


def to_junit(report: Report) -> str:
    """One test case per check (each --require, --target and --deep framework is a check of its own)."""
    suite = ET.Element("testsuite", name="dlws doctor", tests=str(len(report.cases)))
    failures = sum(_junit_case(suite, case, report.fail_on) for case in report.cases)
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suites = ET.Element("testsuites", name="dlws", tests=str(len(report.cases)), failures=str(failures))
    suites.append(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
