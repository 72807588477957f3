"""dlws doctor --error: the error a user pasted, matched against the error_signatures table, tied to the findings that
explain it on this machine.

A cause of a matched signature is confirmed when one of its checks found something at warning or above here; those
findings are marked explains_error and come first. A signature no check confirms becomes DLWS-ERR-001 (info: its
candidate causes and what to check); a paste that matches nothing becomes DLWS-ERR-002, never a guessed cause. Only
the decisive lines are quoted, each cut to MAX_LINE characters, at most MAX_MATCHES of them.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set

from provision.doctor.error_input import HEAD_BYTES, TAIL_BYTES, ErrorText, unwrapped
from provision.doctor.model import Report, at_least, declare

if TYPE_CHECKING:
    from provision.knowledge.error_signatures import Signature

MAX_LINE = 160
MAX_MATCHES = 8
#: Occurrences of one signature counted, at most (a log repeating one warning a million times).
MAX_COUNT = 1000
#: The last line that reads as an error, quoted when no signature matches: "RuntimeError: ...", "ERROR: ...", "E: ...".
ERROR_LINE = re.compile(r"^[ \t]*(?:[A-Za-z_][\w.]*(?:Error|Exception)\b|error\b|fatal\b|E:)[^\n]*",
                        re.MULTILINE | re.IGNORECASE)

UNCONFIRMED = declare("DLWS-ERR-001", "info", "Your error is a known one, but no check confirms its cause here",
                      "error_text", """
    With --error, the pasted text matched a known error signature (the table error_signatures, each row citing
    public reports of that text), but none of the doctor checks that test its causes found anything on this
    machine. The finding lists the candidate causes and, for each, what to check by hand. Common reasons: the error
    came from another machine, container or Python environment than the one dlws read, or its cause is one no
    check can see (a program's own bug, a batch too large).""")
NO_MATCH = declare("DLWS-ERR-002", "info", "No known error signature in the text", "error_text", """
    With --error, nothing in the pasted text matched a known error signature. dlws says so rather than guess: the
    finding quotes the last line that reads as an error. Paste the whole output (python train.py 2>&1 | dlws doctor
    --error -), or report the text so that its signature can be added to the table.""")


@dataclass
class Match:
    signature: Signature
    line: str  # the decisive line, white space collapsed, at most MAX_LINE characters
    position: int
    count: int


def find_matches(text: str) -> List[Match]:
    """The signatures found in the text, or else in it with a terminal's hard wrap undone, in the order they first
    appear, at most MAX_MATCHES."""
    from provision.knowledge.error_signatures import error_signatures

    unwrap = unwrapped(text)
    found = []
    for signature in error_signatures():
        match = _match(signature, text)
        if match is None and unwrap is not None:
            match = _match(signature, unwrap[0])
            if match is not None:
                # where it starts in the text as pasted: add back the line breaks removed before it
                joined_at = [offset - number for number, offset in enumerate(unwrap[1])]
                match.position += bisect.bisect_right(joined_at, match.position)
        if match is not None:
            found.append(match)
    return sorted(found, key=lambda m: m.position)[:MAX_MATCHES]


def _match(signature: Signature, text: str) -> Optional[Match]:
    first = signature.regex.search(text)
    if not first:
        return None
    count = sum(1 for _ in itertools.islice(signature.regex.finditer(text), MAX_COUNT))
    return Match(signature, decisive_line(text, first.start(), first.end()), first.start(), count)


def decisive_line(text: str, start: int, end: int) -> str:
    """The line(s) a match spans, white space collapsed, cut to MAX_LINE characters around the match."""
    begin = text.rfind("\n", 0, start) + 1
    stop = text.find("\n", end)
    before = " ".join(text[begin:start].split())
    rest = " ".join(text[start:stop if stop >= 0 else len(text)].split())
    if len(before) + 1 + len(rest) <= MAX_LINE:
        return (before + " " + rest).strip()
    keep = max(0, MAX_LINE - len(rest) - 4)
    line = ("... " + before[len(before) - keep:] + " " if keep and before else "") + rest
    return line[:MAX_LINE - 4] + " ..." if len(line) > MAX_LINE else line


def last_error_line(text: str) -> Optional[str]:
    found = None
    for found in ERROR_LINE.finditer(text):
        pass
    return decisive_line(text, found.start(), found.end()) if found else None


def explain(report: Report, error: ErrorText) -> None:
    """Match the error, mark the findings that explain it, add DLWS-ERR-001/002, and set report.error."""
    from provision.knowledge.error_signatures import error_signatures

    matches = find_matches(error.text)
    found = {f.id for f in report.findings if at_least(f.severity, "warning")}
    noted = {f.id for f in report.findings} - found  # info findings: named, never confirming
    explaining: Set[str] = set()
    entries = []
    for match in matches:
        confirmed = sorted({check for cause in match.signature.causes for check in cause.checks if check in found})
        explaining.update(confirmed)
        entries.append(_entry(match, found, confirmed))
        if not confirmed:
            report.add("error: " + match.signature.id, [_unconfirmed(match, noted)])
    if not matches:
        report.add("error", [_no_match(error)])
    for finding in report.findings:
        if finding.id in explaining and at_least(finding.severity, "warning"):
            finding.explains_error = True
    report.error = {"sources": error.sources, "read_bytes": error.read_bytes, "searched_bytes": error.kept_bytes,
                    "truncated": error.truncated, "signatures_known": len(error_signatures()), "matches": entries}


def _entry(match: Match, found: Set[str], confirmed: List[str]) -> Dict[str, Any]:
    signature = match.signature
    return {"signature": signature.id, "family": signature.family, "title": signature.title, "line": match.line,
            "occurrences": match.count, "explained_by": confirmed,
            "causes": [{"cause": c.cause, "checks": list(c.checks), "what_to_check": c.what_to_check,
                        "confirmed": bool(set(c.checks) & found)} for c in signature.causes]}


def _checked(checks: Sequence[str], noted: Set[str]) -> str:
    """What the cause's checks saw: an info finding of one is named (it is a lead, not a confirmation)."""
    if not checks:
        return "no check can see it"
    leads = [check for check in checks if check in noted]
    return "checked by %s: %s" % (", ".join(checks), "only an info finding, %s (see it below)" % ", ".join(leads)
                                  if leads else "nothing found")


def _unconfirmed(match: Match, noted: Set[str]) -> Any:
    signature = match.signature
    evidence = {"error": signature.title, "line": match.line,
                "candidate causes": ["%s (%s)" % (c.cause, _checked(c.checks, noted)) for c in signature.causes]}
    fix = "check by hand: " + "; ".join(c.what_to_check for c in signature.causes)
    return UNCONFIRMED.finding(evidence, fix, subject=signature.id)


def _no_match(error: ErrorText) -> Any:
    evidence = {"searched": _size(error.kept_bytes), "last error line": last_error_line(error.text)}
    return NO_MATCH.finding(evidence, "paste the whole output (python train.py 2>&1 | dlws doctor --error -), or "
                                      "report the text to dlws so that its signature can be added")


def _size(count: int) -> str:
    if count < 1024:
        return "%d bytes" % count
    return "%.1f KiB" % (count / 1024) if count < 1024 * 1024 else "%.1f MiB" % (count / 1024 / 1024)


def text_lines(summary: Dict[str, Any]) -> List[str]:
    """The report's "YOUR ERROR" section: each error found, its decisive line and what explains it."""
    matches = summary["matches"]
    head = "YOUR ERROR (%s read from %s; %s)" % (_size(summary["read_bytes"]), ", ".join(summary["sources"]),
                                                 "%d known error%s found" % (len(matches), "s"[:len(matches) != 1])
                                                 if matches else "no known error found")
    lines = [head]
    if summary["truncated"]:
        lines.append("  (long input: only its first %s and last %s were searched)"
                     % (_size(HEAD_BYTES), _size(TAIL_BYTES)))
    for number, match in enumerate(matches, 1):
        lines.append("  %d. %s [%s]%s" % (number, match["title"], match["signature"],
                                          " (%d times)" % match["occurrences"] if match["occurrences"] > 1 else ""))
        lines.append("       line: %s" % match["line"])
        if match["explained_by"]:
            lines.append("       explains it here: %s (below)" % ", ".join(match["explained_by"]))
        else:
            lines.append("       no check confirms a cause on this machine: candidates under DLWS-ERR-001 below")
    return lines
