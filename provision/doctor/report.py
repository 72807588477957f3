"""Doctor reports: text (colour on a terminal only, NO_COLOR respected), JSON and JUnit XML."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any, Dict, List, Tuple
from xml.etree import ElementTree as ET

from provision.doctor.model import SEVERITIES, Case, Finding, Report, at_least, ordered
from provision.summary import WIDTH, render

COLOURS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m"}
RESET = "\033[0m"
SCHEMA = "dlws.doctor/1"
#: A finding's subject when it is one GPU: facts.gpu_label's "GPU 3 (NVIDIA H100 80GB HBM3)".
GPU_SUBJECT = re.compile(r"^GPU (\d+) \((.*)\)$")


def to_json(report: Report) -> str:
    out = {
        "schema": SCHEMA,
        "inventory": report.inventory,
        "findings": [f.to_dict() for f in report.findings],
        "summary": dict(report.counts(), checks=len(report.checks), fail_on=report.fail_on,
                        failed=bool(report.failing)),
    }
    if report.error is not None:  # --error: what was read and matched
        out["error"] = report.error
    return json.dumps(out, indent=2, sort_keys=True)


def _evidence(finding: Finding) -> str:
    return ", ".join("%s=%s" % (k, v) for k, v in finding.evidence.items() if v not in (None, "", []))


def _words(value: Any) -> str:
    """A value of the evidence as a person writes it (`cu121: needs driver >= 525; cpu: works`), never a repr."""
    if isinstance(value, dict):
        return "; ".join("%s: %s" % (k, _words(v)) for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(_words(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


#: An evidence value longer than this is cut in the text report (a table row's whole source); JSON keeps it whole.
VALUE_CHARS = 240


def _short(text: str) -> str:
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS].rsplit(" ", 1)[0] + " ... (--format json: all)"


def _evidence_words(evidence: Dict[str, Any]) -> str:
    """`framework: torch, build: cuda 12.1`; a nested fact (each build's problems) in parentheses."""
    return ", ".join(("%s (%s)" if isinstance(v, dict) else "%s: %s") % (k, _short(_words(v)))
                     for k, v in evidence.items() if v not in (None, "", [], {}))


def _wrapped(head: str, text: str) -> List[str]:
    """head + text, wrapped at words to WIDTH, the continuation lines aligned under the text."""
    return textwrap.wrap(text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
                         break_on_hyphens=False) or [head.rstrip()]


def _ranges(indices: List[int]) -> str:
    """[0, 1, 2, 3, 5] -> '0–3, 5'."""
    runs: List[List[int]] = []
    for index in indices:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(str(r[0]) if len(r) == 1 else "%d–%d" % (r[0], r[-1]) for r in runs)


def _grouped(findings: List[Finding]) -> List[Tuple[Finding, str]]:
    """Each finding with the subject to print; identical findings on GPUs of one model (same id, title, fix and
    evidence but the GPU) become one, "GPUs 0–7 (NVIDIA H100 80GB HBM3)", in the place of the first."""
    groups: Dict[Any, List[Tuple[int, Finding]]] = {}
    order: List[Any] = []
    for number, finding in enumerate(findings):
        match = GPU_SUBJECT.match(finding.subject or "")
        rest = {k: v for k, v in finding.evidence.items() if k != "gpu"}
        key: Any = (finding.id, finding.severity, finding.title, finding.fix, match.group(2),
                    json.dumps(rest, sort_keys=True, default=str)) if match else number
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((int(match.group(1)) if match else -1, finding))
    out = []
    for key in order:
        members = groups[key]
        first = members[0][1]
        if len(members) == 1:
            out.append((first, first.subject or ""))
        else:
            model = GPU_SUBJECT.match(first.subject or "").group(2)  # type: ignore[union-attr]
            out.append((first, "GPUs %s (%s)" % (_ranges(sorted(i for i, _ in members)), model)))
    return out


def _groups(report: Report) -> List[Tuple[str, str, List[Finding]]]:
    """(heading, its colour's severity, findings): those that explain the --error first, then by severity."""
    explaining = [f for f in report.findings if f.explains_error]
    groups = [("EXPLAINS YOUR ERROR", "error", explaining)] if explaining else []
    heads = {"error": "ERRORS", "warning": "WARNINGS", "info": "INFO"}
    return groups + [(heads[severity], severity, [f for f in report.findings
                                                  if f.severity == severity and not f.explains_error])
                     for severity in SEVERITIES]


def to_text(report: Report, colour: bool) -> str:
    lines: List[str] = [render(report.inventory), ""]
    if report.error is not None:
        from provision.doctor.error_text import text_lines

        lines.extend(text_lines(report.error) + [""])
    for heading, severity, group in _groups(report):
        if not group:
            continue
        head = "%s (%d)" % (heading, len(group))
        lines.append(COLOURS[severity] + head + RESET if colour else head)
        for finding, subject in _grouped(group):
            evidence = dict(finding.evidence)
            if subject.startswith("GPUs "):
                evidence.pop("gpu", None)  # the heading names them
            mark = " (%s; explains your error)" % finding.severity if finding.explains_error else ""
            lines.extend(_wrapped("  ", "[%s] %s" % (finding.id, finding.title) + mark
                                  + (" — %s" % subject if subject else "")))
            if _evidence_words(evidence):
                lines.extend(_wrapped("      evidence: ", _evidence_words(evidence)))
            lines.extend(_wrapped("      fix: ", finding.fix))
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
