"""`dlws fleet report`: one table of the fleet, the findings by id, and drift within hardware classes.

Everything is read from each host's doctor.json (nothing is replayed or re-diagnosed) and turned into one plain
structure; the text, JUnit and HTML formats are renderings of it, and --format json prints it as it is. That JSON is
a public contract (add keys, never rename them):

    {"schema": "dlws.fleet-report/1",
     "summary": {"hosts": N, "ok": N, "unreachable": N, "failed": N,
                 "failing": N,            # hosts that did not answer or have findings at/above fail_on
                 "classes": N, "drift": N, "findings": {"error": N, "warning": N, "info": N}, "fail_on": "error"},
     "hosts": [{"host": "gpu01", "status": "ok" | "unreachable" | "failed", "message": str | null,
                "class": "8x NVIDIA H100 80GB HBM3 / x86_64" | null,
                "cpu": {"model", "arch", "cores", "threads"} | null,
                "gpus": [{"model": str, "count": N, "memory_bytes": N | null}],
                "driver": "550.54.15" | null,
                "cuda": {"driver": "12.4" | null,        # the highest CUDA the driver supports
                         "toolkit": "12.1" | null,       # the highest toolkit installed
                         "toolkits": ["12.1", "11.8"]},  # every toolkit version, highest first
                "cudnn": ["8.9.2.26"],
                "frameworks": [{"name": "torch", "version": "2.4.0+cu121", "build": "cuda 12.1" | null}],  # judged env's
                "python": "3.11.4" | null,                  # the judged environment's Python
                "environment": {"path", "kind", "python"} | null,    # the judged environment (the doctor's)
                "environments": [{"path": str, "kind": str, "python": str | null, "active": bool,  # every one found
                                  "frameworks": [{"name", "version", "build"}], "error": str | null}],
                "counts": {"error": N, "warning": N, "info": N},
                "failing": bool, "snapshot": "DIR/gpu01/snapshot.tar.gz" | null}],   # sorted by host name
     "classes": [{"class": str, "hosts": [str]}],                                   # largest first
     "findings": [{"id": "DLWS-DRV-001", "severity": str, "title": str, "hosts": [str]}],   # errors first
     "drift": [{"class": str,
                "item": "driver" | "cuda_toolkit" | "cudnn" | "python" | "framework:<name>",
                "majority": {"value": str | null, "hosts": [str]} | null,   # null: two values tie for most common
                "outliers": [{"host": str, "value": str | null}]}]}       # value null: not installed / unknown

Drift compares hosts of one hardware class (GPU models × count and CPU architecture, see results.hardware_class)
that answered; several toolkits or cuDNN libraries compare as their versions joined by " + ", highest first. The
Python and frameworks compared are each host's judged environment's (the one its doctor judged: --env, the activated
one, else python3 on PATH), never the other environments found there.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple
from xml.etree import ElementTree as ET

from provision.doctor.model import SEVERITIES, at_least
from provision.output import write_output
from provision.fleet.cells import cpu_cell, framework_cells, gpu_cells, item_label, value_label, verdict
from provision.fleet.results import (HostResult, entries, gpu_models, gpu_name, hardware_class, load_results,
                                     printable, section, text)

SCHEMA = "dlws.fleet-report/1"
#: The versions compared within a hardware class, besides one item per framework ("framework:torch").
DRIFT_ITEMS = ("driver", "cuda_toolkit", "cudnn", "python")
#: Hosts named per line in the text report; JSON and HTML name them all.
TEXT_HOSTS = 8
#: Columns of the text report: a wider cell is broken onto more lines. TEXT_FLOORS: the narrowest each column of
#: the host table gets (its heading, or its widest cell where narrower): 108 with the gaps between them.
TEXT_WIDTH = 120
TEXT_FLOORS = (20, 11, 14, 14, 12, 16, 3, 4)


def printable_report(value: Any) -> Any:
    """The report with every string printable() (the text and JUnit renderings: a host's newline must not start a
    line of its own, an escape sequence must not reach the terminal, XML has no control characters)."""
    if isinstance(value, dict):
        return {key: printable_report(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable_report(item) for item in value]
    return printable(value) if isinstance(value, str) else value


def run_report(folder: str, fmt: str, output: Optional[str], fail_on: str) -> int:
    """Render the report of a results folder; 1 when a host failed to answer or has findings at/above fail_on."""
    report = build_report(load_results(folder), fail_on)
    write_output(RENDERERS[fmt](report), output)
    return 1 if report["summary"]["failing"] else 0


# --- the structure ------------------------------------------------------------------------------------------------


def version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


def _versions(items: List[Dict[str, Any]]) -> List[str]:
    """Distinct versions, highest first."""
    found = {v for v in (text(item.get("version")) for item in items) if v}
    return sorted(found, key=lambda v: (version_key(v), v), reverse=True)


def host_row(result: HostResult, fail_on: str) -> Dict[str, Any]:
    """One host as the report shows it; the inventory is read defensively (it may come from another dlws)."""
    counts = {sev: sum(1 for f in result.findings if f["severity"] == sev) for sev in SEVERITIES}
    row: Dict[str, Any] = {
        "host": result.host, "status": result.status, "message": result.message, "class": None, "cpu": None,
        "gpus": [], "driver": None, "cuda": {"driver": None, "toolkit": None, "toolkits": []}, "cudnn": [],
        "frameworks": [], "python": None, "environment": None, "environments": [], "counts": counts,
        "snapshot": result.snapshot_path,
        "failing": not result.answered or any(at_least(f["severity"], fail_on) for f in result.findings),
    }
    if not result.answered:
        return row
    inv = result.inventory
    cpu, nvidia = section(inv, "cpu"), section(inv, "nvidia")
    memory: Dict[str, int] = {}
    for gpu in entries(inv, "gpus"):
        total, name = _int(gpu.get("memory_total_bytes")), gpu_name(gpu)
        if total is not None:
            memory[name] = max(memory.get(name, 0), total)
    toolkits = _versions(entries(section(inv, "cuda"), "toolkits"))
    row.update({
        "class": hardware_class(inv),
        "cpu": {"model": text(cpu.get("model")), "arch": text(cpu.get("arch")),
                "cores": _int(cpu.get("physical_cores")), "threads": _int(cpu.get("logical_cores"))},
        "gpus": [{"model": name, "count": count, "memory_bytes": memory.get(name)}
                 for name, count in gpu_models(inv)],
        "driver": text(nvidia.get("driver_version")),
        "cuda": {"driver": text(nvidia.get("cuda_driver_version")), "toolkit": toolkits[0] if toolkits else None,
                 "toolkits": toolkits},
        "cudnn": _versions(entries(inv, "cudnn")),
        "frameworks": _framework_rows(section(inv, "frameworks")),
        "python": text(section(inv, "python").get("version")),
    })
    row["environments"] = [_environment_row(env) for env in entries(inv, "environments")]
    judged = [env for env in row["environments"] if env["active"]]
    row["environment"] = {key: judged[0][key] for key in ("path", "kind", "python")} if judged else None
    return row


def _framework_rows(frameworks: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [{"name": name, "version": text(fw.get("version")), "build": text(fw.get("build"))}
            for name, fw in sorted(frameworks.items()) if isinstance(fw, dict)]


def _environment_row(env: Dict[str, Any]) -> Dict[str, Any]:
    return {"path": text(env.get("path")) or "?", "kind": text(env.get("kind")) or "?",
            "python": text(env.get("python")), "active": env.get("active") is True,
            "frameworks": _framework_rows(section(env, "frameworks")), "error": text(env.get("error"))}


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _framework_value(fw: Dict[str, Any]) -> Optional[str]:
    if not fw["version"]:
        return None
    return fw["version"] + (" (%s)" % fw["build"] if fw["build"] else "")


def drift_values(row: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """The versions drift compares, as text (None: not installed or unknown)."""
    values: Dict[str, Optional[str]] = {
        "driver": row["driver"],
        "cuda_toolkit": " + ".join(row["cuda"]["toolkits"]) or None,
        "cudnn": " + ".join(row["cudnn"]) or None,
        "python": row["python"],
    }
    for fw in row["frameworks"]:
        values["framework:" + fw["name"]] = _framework_value(fw)
    return values


def find_drift(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Within each hardware class of two or more answering hosts, every item whose value is not the same on all:
    the most common value (None where two values tie for it) and the hosts that differ from it."""
    classes: Dict[str, List[Dict[str, Any]]] = {}
    for row in rows:
        if row["status"] == "ok":
            classes.setdefault(row["class"], []).append(row)
    drift = []
    for name in sorted(classes, key=lambda c: (-len(classes[c]), c)):
        members = [(row["host"], drift_values(row)) for row in classes[name]]
        if len(members) < 2:
            continue
        frameworks = sorted({item for _, values in members for item in values if item.startswith("framework:")})
        for item in DRIFT_ITEMS + tuple(frameworks):
            per_host = [(host, values.get(item)) for host, values in members]
            tally = Counter(value for _, value in per_host).most_common()
            if len(tally) < 2:
                continue
            tie = tally[0][1] == tally[1][1]
            majority = None if tie else tally[0][0]
            drift.append({
                "class": name, "item": item,
                "majority": None if tie else {"value": majority,
                                              "hosts": [host for host, value in per_host if value == majority]},
                "outliers": [{"host": host, "value": value} for host, value in per_host
                             if tie or value != majority],
            })
    return drift


def findings_by_id(results: List[HostResult]) -> List[Dict[str, Any]]:
    """Each finding id once, with the hosts it hit (errors first, then by id)."""
    by_id: Dict[str, Dict[str, Any]] = {}
    for result in results:
        for finding in result.findings:
            entry = by_id.setdefault(finding["id"], {"id": finding["id"], "severity": finding["severity"],
                                                     "title": text(finding.get("title")) or finding["id"],
                                                     "hosts": []})
            if SEVERITIES.index(finding["severity"]) < SEVERITIES.index(entry["severity"]):
                entry["severity"] = finding["severity"]
            if not entry["hosts"] or entry["hosts"][-1] != result.host:
                entry["hosts"].append(result.host)
    return sorted(by_id.values(), key=lambda e: (SEVERITIES.index(e["severity"]), e["id"]))


def build_report(results: List[HostResult], fail_on: str) -> Dict[str, Any]:
    """The whole report as plain data: the JSON format, and what every other format renders."""
    rows = [host_row(result, fail_on) for result in results]
    classes: Dict[str, List[str]] = {}
    for row in rows:
        if row["class"]:
            classes.setdefault(row["class"], []).append(row["host"])
    drift = find_drift(rows)
    totals = {sev: sum(row["counts"][sev] for row in rows) for sev in SEVERITIES}
    return {
        "schema": SCHEMA,
        "summary": {
            "hosts": len(rows),
            "ok": sum(1 for row in rows if row["status"] == "ok"),
            "unreachable": sum(1 for row in rows if row["status"] == "unreachable"),
            "failed": sum(1 for row in rows if row["status"] == "failed"),
            "failing": sum(1 for row in rows if row["failing"]),
            "classes": len(classes),
            "drift": len(drift),
            "findings": totals,
            "fail_on": fail_on,
        },
        "hosts": rows,
        "classes": [{"class": name, "hosts": hosts}
                    for name, hosts in sorted(classes.items(), key=lambda c: (-len(c[1]), c[0]))],
        "findings": findings_by_id(results),
        "drift": drift,
    }


# --- text ---------------------------------------------------------------------------------------------------------


def _hosts(hosts: List[str]) -> str:
    more = len(hosts) - TEXT_HOSTS
    return ", ".join(hosts[:TEXT_HOSTS]) + (" and %d more" % more if more > 0 else "")


def _counted(hosts: List[str]) -> str:
    return hosts[0] if len(hosts) == 1 else "%d hosts (%s)" % (len(hosts), _hosts(hosts))


def value_groups(outliers: List[Dict[str, Any]]) -> List[Tuple[Optional[str], List[str]]]:
    """The outliers by value, the most common value first."""
    groups: Dict[Optional[str], List[str]] = {}
    for outlier in outliers:
        groups.setdefault(outlier["value"], []).append(outlier["host"])
    return sorted(groups.items(), key=lambda g: -len(g[1]))


def _text_cells(row: Dict[str, Any]) -> Tuple[List[str], ...]:
    """Each cell as its parts (a cell too wide for its column breaks between them)."""
    if row["status"] != "ok":
        return ([row["host"]], [row["status"]], [], [], [], [], ["-"], ["-"])
    cpu = cpu_cell(row).split(" (", 1)  # the model, then "(arch, N threads)"
    return ([row["host"]], [row["status"]], cpu[:1] + ["(" + p for p in cpu[1:]], gpu_cells(row),
            _driver_cell(row), framework_cells(row), [str(row["counts"]["error"])], [str(row["counts"]["warning"])])


def _driver_cell(row: Dict[str, Any]) -> List[str]:
    """The driver, the highest CUDA it supports, and the highest toolkit installed."""
    cuda = row["cuda"]
    return [row["driver"] or "no driver"] + [label + version for label, version in (
        ("CUDA ", cuda["driver"]), ("toolkit ", cuda["toolkit"])) if version]


def _wrap(text: str, width: int, indent: str = "") -> List[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=True, break_on_hyphens=False,
                         replace_whitespace=False) or [""]


def cell_lines(parts: List[str], width: int) -> List[str]:
    """A cell's parts joined by ", " on lines of at most width, a part wider than that broken."""
    lines: List[str] = []
    for index, part in enumerate(parts):
        part += "," if index < len(parts) - 1 and not parts[index + 1].startswith("(") else ""
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += " " + part
        else:
            lines += _wrap(part, width)
    return lines or [""]


def column_widths(natural: List[int], floors: List[int], width: int = TEXT_WIDTH) -> List[int]:
    """Each column's width: its natural one where the table fits width; else the widest column above its floor
    narrowed, one character at a time, until the table fits (the floors fit within TEXT_WIDTH)."""
    widths = list(natural)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        wide = [i for i in range(len(widths)) if widths[i] > floors[i]]
        if not wide:
            break
        widths[max(wide, key=lambda i: widths[i])] -= 1
    return widths


def trimmed(name: str, width: int) -> str:
    """name within width, cut at its end ("gpu-node-0001.rack…"): a host keeps one line, and the start of a host
    name (its own label, before the domain its neighbours share) tells it from the others."""
    return name if len(name) <= width else name[:width - 1] + "…"


def host_table(rows: List[Dict[str, Any]]) -> List[str]:
    """The hosts table within TEXT_WIDTH: a column narrowed breaks its cells between their parts first (a
    framework, a GPU model a line each), then within them; a host name too long is cut at its end."""
    head = ("HOST", "STATUS", "CPU", "GPUS", "DRIVER, CUDA", "FRAMEWORKS", "ERR", "WARN")
    cells = [tuple([name] for name in head)] + [_text_cells(row) for row in rows]
    natural = [max(len(" ".join(line[i])) + len(line[i]) - 1 for line in cells) for i in range(len(head))]
    parts = [max(len(part) + 1 for line in cells for part in line[i] or [""]) for i in range(len(head))]
    floors = [max(len(name), min(natural[i], floor)) for i, (name, floor) in enumerate(zip(head, TEXT_FLOORS))]
    widths = column_widths(column_widths(natural, [max(f, p) for f, p in zip(floors, parts)]), floors)
    lines = []
    for index, line in enumerate(cells):
        wrapped = [cell_lines(parts, width) for parts, width in zip(line[1:], widths[1:])]
        wrapped.insert(0, [trimmed(line[0][0], widths[0])])
        for row in range(max(len(cell) for cell in wrapped)):
            lines.append("  ".join((cell[row] if row < len(cell) else "").ljust(width)
                                   for cell, width in zip(wrapped, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def _environments(rows: List[Dict[str, Any]]) -> List[str]:
    """The judged environments (the ones whose frameworks the table shows), each once with its hosts."""
    groups: Dict[str, List[str]] = {}
    for row in rows:
        if row["status"] == "ok":
            env = row["environment"]
            said = ("%s (%s, Python %s)" % (env["path"], env["kind"], env["python"] or "?") if env
                    else "no environment judged")
            groups.setdefault(said, []).append(row["host"])
    return ["  %s: %s" % (said, _counted(hosts)) for said, hosts in sorted(groups.items(), key=lambda g: -len(g[1]))]


def to_text(report: Dict[str, Any]) -> str:
    """The report in lines of at most TEXT_WIDTH (the verdict, the last line, whole); JSON and HTML have every
    value whole."""
    report = printable_report(report)
    lines = host_table(report["hosts"])
    table = len(lines)
    judged = _environments(report["hosts"])
    if judged:
        lines += ["", "PYTHON ENVIRONMENTS JUDGED (the frameworks above are theirs; --format json lists every one)"]
        lines += judged
    lines += ["", "FINDINGS"]
    if not report["findings"]:
        lines.append("  none on any host that answered")
    else:
        width = max(len(f["id"]) for f in report["findings"])
        for finding in report["findings"]:
            lines.append("  %-7s  %s  %s — %d host%s: %s" % (
                finding["severity"], finding["id"].ljust(width), finding["title"], len(finding["hosts"]),
                "" if len(finding["hosts"]) == 1 else "s", _hosts(finding["hosts"])))
    lines += ["", "DRIFT (within each hardware class, against its most common value)"]
    if not report["drift"]:
        lines.append("  none: hosts of the same hardware class run the same versions")
    current = None
    for item in report["drift"]:
        if item["class"] != current:
            current = item["class"]
            size_of = next(len(c["hosts"]) for c in report["classes"] if c["class"] == current)
            lines.append("  %s (%d hosts)" % (current, size_of))
        groups = value_groups(item["outliers"])
        majority = item["majority"]
        if majority:
            said = "%s on %s; differs: " % (value_label(majority["value"]), _counted(majority["hosts"]))
        else:
            said = "no majority: "
        lines.append("    %s: %s%s" % (item_label(item["item"]), said, "; ".join(
            "%s on %s" % (value_label(value), _counted(hosts)) for value, hosts in groups)))
    silent = [row for row in report["hosts"] if row["status"] != "ok"]
    if silent:
        lines += ["", "UNREACHABLE OR FAILED"]
        width = max(len(row["host"]) for row in silent)
        lines += ["  %s  %-11s  %s" % (row["host"].ljust(width), row["status"], row["message"] or "") for row in silent]
    lines = lines[:table] + [fitted for line in lines[table:] for fitted in _fit(line)]
    return "\n".join(lines + ["", verdict(report)])


def _fit(line: str) -> List[str]:
    """line, broken into lines of at most TEXT_WIDTH indented under it."""
    if len(line) <= TEXT_WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip(" ")) + 4)
    return _wrap(line, TEXT_WIDTH, indent)


# --- JSON and JUnit -----------------------------------------------------------------------------------------------


def to_json(report: Dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True)


def to_junit(report: Dict[str, Any]) -> str:
    """One test case per host: failing when it did not answer or has findings at or above the failing level."""
    report = printable_report(report)
    fail_on = report["summary"]["fail_on"]
    by_host: Dict[str, List[Dict[str, Any]]] = {}
    for finding in report["findings"]:
        for host in finding["hosts"]:
            by_host.setdefault(host, []).append(finding)
    drift_by_host: Dict[str, List[str]] = {}
    for item in report["drift"]:
        majority = item["majority"]
        for outlier in item["outliers"]:
            drift_by_host.setdefault(outlier["host"], []).append("drift: %s %s (class %s: %s)" % (
                item_label(item["item"]), value_label(outlier["value"]), item["class"],
                "most common %s" % value_label(majority["value"]) if majority else "no majority"))
    count = str(len(report["hosts"]))
    failures = str(report["summary"]["failing"])
    suites = ET.Element("testsuites", name="dlws fleet", tests=count, failures=failures, errors="0")
    suite = ET.SubElement(suites, "testsuite", name="dlws fleet report", tests=count, failures=failures, errors="0")
    for row in report["hosts"]:
        case = ET.SubElement(suite, "testcase", classname="dlws.fleet", name=row["host"])
        found = by_host.get(row["host"], [])
        failing = [f for f in found if at_least(f["severity"], fail_on)]
        if row["status"] != "ok":
            ET.SubElement(case, "failure", type=row["status"], message="%s: %s" % (row["status"], row["message"]))
        elif failing:
            failure = ET.SubElement(case, "failure", type=failing[0]["severity"],
                                    message="; ".join("%s %s" % (f["id"], f["title"]) for f in failing))
            failure.text = "\n".join("%s: %s %s" % (f["severity"], f["id"], f["title"]) for f in failing)
        notes = ["%s: %s %s" % (f["severity"], f["id"], f["title"]) for f in found if f not in failing]
        notes += drift_by_host.get(row["host"], [])
        if notes:
            ET.SubElement(case, "system-out").text = "\n".join(notes)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def to_html(report: Dict[str, Any]) -> str:
    from provision.fleet.report_html import render

    return render(report)


RENDERERS: Dict[str, Callable[[Dict[str, Any]], str]] = {
    "text": to_text, "json": to_json, "junit": to_junit, "html": to_html,
}
