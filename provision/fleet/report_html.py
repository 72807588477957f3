"""The fleet report as one self-contained HTML page: inline CSS, no script, nothing fetched from anywhere.

A Content-Security-Policy of default-src 'none' makes the browser refuse any fetch even if a value in the data
looked like markup (every value is escaped anyway).
"""

from __future__ import annotations

from html import escape
from typing import Any, Callable, Dict, List, Optional, Tuple

from provision import __version__
from provision.fleet.cells import cpu_cell, framework_cells, gpu_cells, item_label, value_label, verdict

CSS = """
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5f6b7a; --bg: #fff; --line: #dfe3ea; --head: #f3f5f8;
  --err: #b42318; --err-bg: #fde8e6; --warn: #8a5a00; --warn-bg: #fff3d6; --ok: #1a7f37; --ok-bg: #e3f5e8;
  --drift-bg: #fff0c2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ef; --muted: #9aa4b2; --bg: #14171c; --line: #2c323c; --head: #1c2028;
    --err: #ff8f85; --err-bg: #3b1714; --warn: #f5c26b; --warn-bg: #3a2c0c; --ok: #6fd08c; --ok-bg: #12301c;
    --drift-bg: #4a3b0c; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; }
p.note { color: var(--muted); margin: 0 0 8px; }
.verdict { display: inline-block; padding: 4px 10px; border-radius: 6px; font-weight: 600; margin: 8px 0; }
.verdict.fail { color: var(--err); background: var(--err-bg); }
.verdict.ok { color: var(--ok); background: var(--ok-bg); }
ul.stats { list-style: none; display: flex; flex-wrap: wrap; gap: 8px; padding: 0; margin: 8px 0 0; }
ul.stats li { border: 1px solid var(--line); border-radius: 8px; padding: 6px 12px; min-width: 96px; }
ul.stats b { display: block; font-size: 20px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { background: var(--head); position: sticky; top: 0; font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.host, td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
td.id { white-space: nowrap; }
td.host { max-width: 28ch; overflow-wrap: anywhere; }
td .line { display: block; overflow-wrap: break-word; }
td .env { color: var(--muted); font-size: 12px; }
tr.silent td { color: var(--muted); font-style: italic; overflow-wrap: anywhere; }
tr.failing td.host { border-left: 3px solid var(--err); }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.error, .badge.unreachable, .badge.failed { color: var(--err); background: var(--err-bg); }
.badge.warning { color: var(--warn); background: var(--warn-bg); }
.badge.info, .badge.ok { color: var(--ok); background: var(--ok-bg); }
.zero { color: var(--muted); }
.drift { background: var(--drift-bg); border-radius: 4px; padding: 0 4px; }
.hosts { color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _lines(lines: List[Tuple[str, Optional[str]]]) -> str:
    """One line per entry; a line with a note is highlighted as drift, the note as its tooltip."""
    return "".join('<span class="line"><span class="drift" title="%s">%s</span></span>' % (_e(note), _e(line))
                   if note else '<span class="line">%s</span>' % _e(line) for line, note in lines)


def _count(value: int, severity: str) -> str:
    return '<span class="badge %s">%d</span>' % (severity, value) if value else '<span class="zero">0</span>'


def _drift_marks(report: Dict[str, Any]) -> Dict[str, Dict[str, str]]:
    """host -> item -> what its class mostly runs, for every outlier."""
    marks: Dict[str, Dict[str, str]] = {}
    for item in report["drift"]:
        majority = item["majority"]
        note = ("most common in its class: %s" % value_label(majority["value"]) if majority
                else "no most common value in its class")
        for outlier in item["outliers"]:
            marks.setdefault(outlier["host"], {})[item["item"]] = note
    return marks


def _cuda_lines(row: Dict[str, Any], note: Callable[[str], Optional[str]]) -> List[Tuple[str, Optional[str]]]:
    cuda = row["cuda"]
    lines: List[Tuple[str, Optional[str]]] = [("driver " + cuda["driver"], None)] if cuda["driver"] else []
    if cuda["toolkits"] or note("cuda_toolkit"):
        lines.append(("toolkit " + (" + ".join(cuda["toolkits"]) or "none"), note("cuda_toolkit")))
    if row["cudnn"] or note("cudnn"):
        lines.append(("cuDNN " + (" + ".join(row["cudnn"]) or "none"), note("cudnn")))
    return lines or [("none", None)]


def _framework_lines(row: Dict[str, Any], note: Callable[[str], Optional[str]],
                     marked: List[str]) -> List[Tuple[str, Optional[str]]]:
    """Each framework installed, and each drifting one (marked) that this host lacks."""
    names = [fw["name"] for fw in row["frameworks"]]
    lines = [(cell, note("framework:" + name)) for cell, name in zip(framework_cells(row), names)]
    lines += [("no " + name, note("framework:" + name)) for name in marked if name not in names]
    return lines or [("none", None)]


def _environment_line(row: Dict[str, Any], note: Optional[str]) -> str:
    """The judged environment, whose frameworks the cell lists; how many others were found, as its tooltip."""
    env, others = row["environment"], len(row["environments"]) - (1 if row["environment"] else 0)
    said = "%s (%s, Python %s)" % (env["path"], env["kind"], env["python"] or "?") if env else "no environment judged"
    title = "the judged environment; %d other%s found (JSON lists each)" % (others, "" if others == 1 else "s")
    if note:
        return '<span class="line env"><span class="drift" title="%s">%s</span></span>' % (_e(note), _e(said))
    return '<span class="line env" title="%s">%s</span>' % (_e(title), _e(said))


def _host_row(row: Dict[str, Any], marks: Dict[str, str]) -> str:
    """One row of the hosts table; marks: item -> note for the items where this host is a drift outlier."""
    head = '<td class="host">%s</td>' % _e(row["host"])
    if row["status"] != "ok":
        return ('<tr class="host silent failing">%s<td><span class="badge %s">%s</span></td>'
                '<td colspan="7">%s</td></tr>' % (head, _e(row["status"]), _e(row["status"]), _e(row["message"] or "")))
    marked_frameworks = sorted(item.split(":", 1)[1] for item in marks if item.startswith("framework:"))
    counts = row["counts"]
    return ('<tr class="host%s">%s<td><span class="badge ok">ok</span></td><td>%s</td><td>%s</td><td>%s</td>'
            '<td>%s</td><td>%s</td><td class="num">%s</td><td class="num">%s</td></tr>') % (
        " failing" if row["failing"] else "", head, _e(cpu_cell(row)), _lines([(g, None) for g in gpu_cells(row)]),
        _lines([(row["driver"] or "none", marks.get("driver"))]), _lines(_cuda_lines(row, marks.get)),
        _environment_line(row, marks.get("python")) + _lines(_framework_lines(row, marks.get, marked_frameworks)),
        _count(counts["error"], "error"), _count(counts["warning"], "warning"))


def _hosts_table(report: Dict[str, Any]) -> str:
    marks = _drift_marks(report)
    head = "".join("<th>%s</th>" % h for h in ("Host", "Status", "CPU", "GPUs", "Driver", "CUDA", "Frameworks",
                                              "Errors", "Warnings"))
    rows = "\n".join(_host_row(row, marks.get(row["host"], {})) for row in report["hosts"])
    return ('<div class="scroll"><table id="hosts"><thead><tr>%s</tr></thead>\n<tbody>\n%s\n</tbody></table></div>'
            % (head, rows))


def _drift_table(report: Dict[str, Any]) -> str:
    if not report["drift"]:
        return '<p class="note" id="drift-none">None: hosts of the same hardware class run the same versions.</p>'
    rows = []
    for item in report["drift"]:
        majority = item["majority"]
        common = ("%s <span class=\"hosts\">(%d host%s)</span>" % (
            _e(value_label(majority["value"])), len(majority["hosts"]), "" if len(majority["hosts"]) == 1 else "s")
            if majority else "<em>no majority</em>")
        outliers = "".join('<span class="line">%s: <span class="drift">%s</span></span>'
                           % (_e(o["host"]), _e(value_label(o["value"]))) for o in item["outliers"])
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>"
                    % (_e(item["class"]), _e(item_label(item["item"])), common, outliers))
    return ('<div class="scroll"><table id="drift"><thead><tr><th>Hardware class</th><th>What</th>'
            '<th>Most common</th><th>Differs on</th></tr></thead>\n<tbody>\n%s\n</tbody></table></div>'
            % "\n".join(rows))


def _findings_table(report: Dict[str, Any]) -> str:
    if not report["findings"]:
        return '<p class="note">No findings on any host.</p>'
    rows = ['<tr><td><span class="badge %s">%s</span></td><td class="id">%s</td><td>%s</td>'
            '<td class="num">%d</td><td class="hosts">%s</td></tr>'
            % (_e(f["severity"]), _e(f["severity"]), _e(f["id"]), _e(f["title"]), len(f["hosts"]),
               _e(", ".join(f["hosts"]))) for f in report["findings"]]
    return ('<div class="scroll"><table id="findings"><thead><tr><th>Severity</th><th>Id</th><th>Finding</th>'
            '<th>Hosts</th><th>Which</th></tr></thead>\n<tbody>\n%s\n</tbody></table></div>' % "\n".join(rows))


def _classes_table(report: Dict[str, Any]) -> str:
    rows = ['<tr><td>%s</td><td class="num">%d</td><td class="hosts">%s</td></tr>'
            % (_e(c["class"]), len(c["hosts"]), _e(", ".join(c["hosts"]))) for c in report["classes"]]
    return ('<div class="scroll"><table id="classes"><thead><tr><th>Hardware class</th><th>Hosts</th><th>Which</th>'
            '</tr></thead>\n<tbody>\n%s\n</tbody></table></div>' % "\n".join(rows))


def render(report: Dict[str, Any]) -> str:
    summary = report["summary"]
    stats = "".join("<li><b>%d</b>%s</li>" % (summary[key], label) for key, label in (
        ("hosts", "hosts"), ("ok", "answered"), ("unreachable", "unreachable"), ("failed", "failed"),
        ("failing", "failing at " + summary["fail_on"]), ("classes", "hardware classes"), ("drift", "drift")))
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>dlws fleet report: %(hosts)d hosts</title>
<style>%(css)s</style>
</head>
<body>
<header>
<h1>dlws fleet report</h1>
<p class="verdict %(state)s">%(verdict)s</p>
<ul class="stats">%(stats)s</ul>
</header>
<h2>Hosts</h2>
<p class="note">Highlighted: a version that differs from what most hosts of the same hardware class run.</p>
%(hosts_table)s
<h2>Drift</h2>
<p class="note">Among hosts of the same hardware class (GPU models &times; count, CPU architecture): the driver,
CUDA toolkit, cuDNN, and the Python and framework versions of each host's judged environment, that are not the same
on all of them.</p>
%(drift)s
<h2>Findings</h2>
%(findings)s
<h2>Hardware classes</h2>
%(classes)s
<footer>dlws %(version)s &middot; %(schema)s</footer>
</body>
</html>
""" % {"hosts": summary["hosts"], "css": CSS, "state": "fail" if summary["failing"] else "ok",
       "verdict": _e(verdict(report)), "stats": stats, "hosts_table": _hosts_table(report),
       "drift": _drift_table(report), "findings": _findings_table(report), "classes": _classes_table(report),
       "version": _e(__version__), "schema": _e(report["schema"])}
