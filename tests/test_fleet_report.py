"""dlws fleet report over a results folder made from snapshot fixtures: the table, findings, drift, the formats
(JUnit parsed, HTML opened in headless Chromium with its network log checked), exit codes and broken host folders.
"""

import json
import os
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import pytest

from fleet_results import build_many, bench_fleet_report, edited_fixture, fixture, write_host, write_status
from provision.errors import UsageError
from provision.fleet import DOCTOR_FILE, STATUS_FILE
from provision.fleet.report import (SCHEMA, TEXT_FLOORS, build_report, cell_lines, column_widths, find_drift,
                                    host_row, run_report, to_html, to_json, to_text, trimmed)
from provision.fleet.results import HostResult, hardware_class, load_host, load_results

CHROMIUM = "/usr/bin/chromium"
RTX4090 = "1x NVIDIA GeForce RTX 4090 / x86_64"
#: ws3 is ws1's machine after someone updated its driver and torch by hand.
DRIFTED = {"commands.json": {"<driver_version>535.86.05</driver_version>": "<driver_version>550.54.14</driver_version>",
                             "<cuda_version>12.2</cuda_version>": "<cuda_version>12.4</cuda_version>"},
           "host.json": {"torch-2.3.1+cpu.dist-info": "torch-2.4.0+cpu.dist-info"}}


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Ten hosts: three hardware classes with more than one host, drift in the RTX 4090 class, two that failed."""
    tmp = tmp_path_factory.mktemp("fleet")
    folder = str(tmp / "results")
    write_host(folder, "a100", fixture("dgx-a100-8gpu"))
    write_host(folder, "h100", fixture("h100-sxm-server"), with_snapshot=False)
    write_host(folder, "ws1", fixture("rtx4090-driver535-cuda13-mixed-venv"))
    write_host(folder, "ws2", fixture("rtx4090-driver535-cuda13-mixed-venv"))
    write_host(folder, "ws3", edited_fixture("rtx4090-driver535-cuda13-mixed-venv", str(tmp), DRIFTED))
    write_host(folder, "ws4", fixture("rtx4090-ryzen-workstation"))
    write_host(folder, "arm", fixture("graviton3-arm64-server"))
    write_host(folder, "cpu", fixture("cuda-multi-toolkit-torch"))
    write_status(folder, "down", "unreachable", "Failed to connect to the host via ssh: Connection refused")
    broken = write_status(folder, "broken", "ok")
    with open(os.path.join(broken, DOCTOR_FILE), "w") as handle:
        handle.write('{"schema": "dlws.doctor/1", "inventory": {"cpu": ')  # a fetch cut short
    os.makedirs(os.path.join(folder, "not-a-host"))  # holds no result file: not a host
    return folder


@pytest.fixture(scope="module")
def report(fleet, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("json") / "fleet.json")
    assert run_report(fleet, "json", out, "error") == 1
    with open(out) as handle:
        return json.load(handle)


def doctor_findings(folder, host):
    with open(os.path.join(folder, host, DOCTOR_FILE)) as handle:
        return json.load(handle)["findings"]


def row(report, host):
    return next(r for r in report["hosts"] if r["host"] == host)


def drift(report, cls, item):
    return next(d for d in report["drift"] if d["class"] == cls and d["item"] == item)


# --- results folder -----------------------------------------------------------------------------------------------


def test_results_folder_is_read_into_hosts(fleet):
    results = {r.host: r for r in load_results(fleet)}
    assert sorted(results) == sorted(["a100", "h100", "ws1", "ws2", "ws3", "ws4", "arm", "cpu", "down", "broken"])
    assert results["down"].status == "unreachable" and "Connection refused" in results["down"].message
    assert results["broken"].status == "failed" and "doctor.json is not valid JSON" in results["broken"].message
    assert results["a100"].answered and results["a100"].inventory["schema"] == "dlws.inventory/1"
    assert results["a100"].snapshot_path == os.path.join(fleet, "a100", "snapshot.tar.gz")
    assert results["h100"].snapshot_path is None
    assert [f["id"] for f in results["ws1"].findings] == [f["id"] for f in doctor_findings(fleet, "ws1")]


@pytest.mark.parametrize("files,words", [
    ({}, "status.json is missing"),
    ({STATUS_FILE: "{not json"}, "status.json is not valid JSON"),
    ({STATUS_FILE: "[1, 2]"}, "status.json should hold a JSON object"),
    ({STATUS_FILE: b"\xff\xfe garbage"}, "status.json is not valid JSON"),
    ({STATUS_FILE: '{"status": "great"}'}, "unknown status 'great'"),
    ({STATUS_FILE: '{"status": "ok"}'}, "doctor.json is missing"),
    ({STATUS_FILE: '{"status": "ok"}', DOCTOR_FILE: '{"schema": "dlws.inventory/1"}'}, "not a dlws doctor report"),
    ({STATUS_FILE: '{"status": "ok"}', DOCTOR_FILE: '{"schema": "dlws.doctor/1", "findings": []}'}, "no inventory"),
    ({STATUS_FILE: '{"status": "ok"}',
      DOCTOR_FILE: '{"schema": "dlws.doctor/1", "inventory": {}, "findings": [{"id": "X", "severity": "fatal"}]}'},
     "findings should be a list"),
    ({STATUS_FILE: '{"status": "failed"}'}, "no message from the gather"),
])
def test_broken_host_folder_is_a_failed_host(tmp_path, files, words):
    (tmp_path / "h").mkdir()
    for name, content in files.items():
        path = tmp_path / "h" / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    result = load_host(str(tmp_path / "h"))
    assert result.host == "h" and result.status == "failed" and words in result.message
    assert result.inventory is None and result.findings == []


@pytest.mark.parametrize("make", ["missing", "empty", "file", "snapshot-folder"])
def test_not_a_results_folder_is_a_usage_error(tmp_path, make):
    target = tmp_path / "x"
    if make == "empty":
        target.mkdir()
    elif make == "file":
        target.write_text("hello")
    elif make == "snapshot-folder":
        target = fixture("dgx-a100-8gpu")  # has files/ but no host results
    with pytest.raises(UsageError):
        load_results(str(target))
    result = dlws("fleet", "report", str(target))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("dlws: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_hosts_sort_naturally(tmp_path):
    for name in ("node10", "node9", "node1"):
        write_status(str(tmp_path), name, "unreachable", "down")
    assert [r.host for r in load_results(str(tmp_path))] == ["node1", "node9", "node10"]


# --- hardware classes and drift -----------------------------------------------------------------------------------


def test_hardware_class(fleet):
    classes = {r.host: hardware_class(r.inventory) for r in load_results(fleet) if r.answered}
    assert classes["h100"] == "8x NVIDIA H100 80GB HBM3 / x86_64"
    # driver 450 names it "A100-SXM4-40GB"; newer drivers say "NVIDIA A100-SXM4-40GB": one class either way
    assert classes["a100"] == "8x NVIDIA A100-SXM4-40GB / x86_64"
    assert classes["arm"] == "no GPU / aarch64"
    assert classes["ws1"] == classes["ws3"] == classes["ws4"] == RTX4090
    mixed = {"cpu": {"arch": "x86_64"}, "gpus": [{"vendor": "nvidia", "name": "NVIDIA GeForce RTX 2080"},
                                                 {"vendor": "nvidia", "name": "GeForce RTX 3090"},
                                                 {"vendor": "nvidia", "name": "NVIDIA GeForce RTX 3090"},
                                                 {"vendor": "amd", "name": None, "pci_device_id": "0x740c"}]}
    assert hardware_class(mixed) == ("2x NVIDIA GeForce RTX 3090 + 1x NVIDIA GeForce RTX 2080"
                                     " + 1x unknown amd GPU 0x740c / x86_64")
    assert hardware_class({"cpu": [], "gpus": "lots"}) == "no GPU / unknown arch"


def test_drift_names_the_majority_and_each_outlier(report):
    driver = drift(report, RTX4090, "driver")
    assert driver["majority"] == {"value": "535.86.05", "hosts": ["ws1", "ws2", "ws4"]}
    assert driver["outliers"] == [{"host": "ws3", "value": "550.54.14"}]
    torch = drift(report, RTX4090, "framework:torch")
    assert torch["majority"] == {"value": "2.3.1+cpu (cpu)", "hosts": ["ws1", "ws2"]}
    assert torch["outliers"] == [{"host": "ws3", "value": "2.4.0+cpu (cpu)"}, {"host": "ws4", "value": None}]
    toolkit = drift(report, RTX4090, "cuda_toolkit")
    assert toolkit["majority"]["value"] == "13.0" and toolkit["outliers"] == [{"host": "ws4", "value": None}]
    # tensorflow is the same on ws1-3 and absent on ws4; one-host classes have no drift
    assert drift(report, RTX4090, "framework:tensorflow")["outliers"] == [{"host": "ws4", "value": None}]
    assert {d["class"] for d in report["drift"]} == {RTX4090}
    assert report["summary"]["drift"] == len(report["drift"])


def test_drift_tie_has_no_majority():
    rows = [host_row(HostResult(host, "ok", inventory={"cpu": {"arch": "x86_64"}, "nvidia": {"driver_version": v},
                                                        "gpus": [{"vendor": "nvidia", "name": "Tesla T4"}]}), "error")
            for host, v in (("a", "535.54.03"), ("b", "550.54.15"), ("c", "550.54.15"), ("d", "535.54.03"))]
    (item,) = find_drift(rows)
    assert item["item"] == "driver" and item["majority"] is None
    assert [o["host"] for o in item["outliers"]] == ["a", "b", "c", "d"]
    assert find_drift(rows[1:3]) == []


def judged_host(host, judged, other, python="3.11.4"):
    """A T4 host whose judged environment (/opt/venv) has torch judged and whose system Python has other."""
    envs = [{"path": "/opt/venv", "kind": "venv", "python": python, "active": True,
             "frameworks": {"torch": {"version": judged, "build": "cuda 12.1"}}},
            {"path": "/usr", "kind": "system", "python": "3.10.12", "active": False,
             "frameworks": {"torch": {"version": other}} if other else {}}]
    inventory = {"cpu": {"arch": "x86_64"}, "gpus": [{"vendor": "nvidia", "name": "Tesla T4"}],
                 "nvidia": {"driver_version": "550.54.15"}, "python": {"version": python},
                 "frameworks": {"torch": {"version": judged, "build": "cuda 12.1"}}, "environments": envs}
    return HostResult(host, "ok", inventory=inventory)


def test_frameworks_are_the_judged_environments_and_json_lists_every_one():
    report = build_report([judged_host("a", "2.4.0", "1.13.1"), judged_host("b", "2.4.0", None)], "error")
    a = report["hosts"][0]
    assert a["frameworks"] == [{"name": "torch", "version": "2.4.0", "build": "cuda 12.1"}] and a["python"] == "3.11.4"
    assert a["environment"] == {"path": "/opt/venv", "kind": "venv", "python": "3.11.4"}
    assert a["environments"] == [
        {"path": "/opt/venv", "kind": "venv", "python": "3.11.4", "active": True, "error": None,
         "frameworks": [{"name": "torch", "version": "2.4.0", "build": "cuda 12.1"}]},
        {"path": "/usr", "kind": "system", "python": "3.10.12", "active": False, "error": None,
         "frameworks": [{"name": "torch", "version": "1.13.1", "build": None}]}]
    # the other environments differ (torch 1.13.1, none): no drift, the judged ones agree
    assert report["drift"] == []
    text = to_text(report)
    assert "  /opt/venv (venv, Python 3.11.4): 2 hosts (a, b)" in text.splitlines()
    # an older dlws's inventory has no environments: none judged, nothing listed, no crash
    old = HostResult("old", "ok", inventory={"cpu": {"arch": "x86_64"}, "frameworks": {"jax": {"version": "0.4.30"}}})
    row = build_report([old], "error")["hosts"][0]
    assert row["environment"] is None and row["environments"] == [] and row["frameworks"][0]["name"] == "jax"


def test_drift_compares_the_judged_environments():
    hosts = [judged_host("a", "2.4.0", "1.13.1"), judged_host("b", "2.4.0", None), judged_host("c", "2.1.0", "2.4.0"),
             judged_host("d", "2.4.0", None, python="3.10.14")]
    drift = {d["item"]: d for d in build_report(hosts, "error")["drift"]}
    assert sorted(drift) == ["framework:torch", "python"]
    assert drift["framework:torch"]["outliers"] == [{"host": "c", "value": "2.1.0 (cuda 12.1)"}]
    assert drift["python"]["majority"]["value"] == "3.11.4"
    assert drift["python"]["outliers"] == [{"host": "d", "value": "3.10.14"}]


def test_inventory_of_odd_shape_does_not_crash():
    inv = {"cpu": [], "gpus": [1, {"name": 5, "memory_total_bytes": "big"}], "nvidia": {"driver_version": {"x": 1}},
           "cuda": {"toolkits": "12.4"}, "cudnn": [{"version": None}], "frameworks": {"torch": "2.0", "jax": {}}}
    result = HostResult("odd", "ok", inventory=inv, findings=[{"id": "DLWS-X", "severity": "info"}])
    report = build_report([result], "error")
    (odd,) = report["hosts"]
    assert odd["driver"] is None and odd["cuda"]["toolkits"] == [] and odd["cudnn"] == []
    assert odd["gpus"] == [{"model": "5", "count": 1, "memory_bytes": None}]
    assert odd["frameworks"] == [{"name": "jax", "version": None, "build": None}]
    assert odd["failing"] is False and report["findings"][0]["title"] == "DLWS-X"


# --- formats ------------------------------------------------------------------------------------------------------


def test_json_report(fleet, report):
    assert report["schema"] == SCHEMA == "dlws.fleet-report/1"
    assert [r["host"] for r in report["hosts"]] == ["a100", "arm", "broken", "cpu", "down", "h100", "ws1", "ws2",
                                                    "ws3", "ws4"]
    summary = report["summary"]
    assert (summary["hosts"], summary["ok"], summary["unreachable"], summary["failed"]) == (10, 8, 1, 1)
    h100 = row(report, "h100")
    (gpus,) = h100["gpus"]
    assert gpus["model"] == "NVIDIA H100 80GB HBM3" and gpus["count"] == 8 and gpus["memory_bytes"] > 80 * 10 ** 9
    assert h100["driver"] == "570.195.03"
    assert h100["cuda"]["driver"] == "12.8" and h100["snapshot"] is None
    cpu = row(report, "cpu")
    assert cpu["cuda"]["toolkits"] == ["12.4", "11.8"] and cpu["cuda"]["toolkit"] == "12.4"
    assert {"name": "torch", "version": "2.3.1+cu121", "build": "cuda 12.1"} in cpu["frameworks"]
    ws3 = row(report, "ws3")
    assert ws3["driver"] == "550.54.14" and ws3["cuda"] == {"driver": "12.4", "toolkit": "13.0", "toolkits": ["13.0"]}
    assert row(report, "down")["status"] == "unreachable" and row(report, "down")["cpu"] is None
    # counts and failing come from each host's own doctor.json
    for host in ("a100", "h100", "ws1", "ws4", "arm", "cpu"):
        found = doctor_findings(fleet, host)
        assert row(report, host)["counts"] == {s: sum(f["severity"] == s for f in found)
                                               for s in ("error", "warning", "info")}
        assert row(report, host)["failing"] == any(f["severity"] == "error" for f in found)
    assert row(report, "down")["failing"] and row(report, "broken")["failing"]
    # findings by id, with the hosts they hit
    hits = {}
    for host in ("a100", "h100", "ws1", "ws2", "ws3", "ws4", "arm", "cpu"):
        for f in doctor_findings(fleet, host):
            hits.setdefault(f["id"], set()).add(host)
    assert {f["id"]: set(f["hosts"]) for f in report["findings"]} == hits
    severities = [f["severity"] for f in report["findings"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert {c["class"]: c["hosts"] for c in report["classes"]}[RTX4090] == ["ws1", "ws2", "ws3", "ws4"]


def host_lines(table):
    """host -> its lines in the text table (a row that does not fit on one line goes on under it)."""
    hosts = {}
    for line in table:
        if not line.startswith(" "):
            current = line.split()[0]
            hosts[current] = []
        hosts[current].append(line)
    return hosts


def cell_text(lines):
    """The row's lines as one text: a cell broken over lines reads whole (words joined by a space)."""
    return " ".join(" ".join(line.split()) for line in lines)


def test_text_report(fleet):
    result = dlws("fleet", "report", fleet)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["HOST", "STATUS", "CPU", "GPUS"]
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    table = host_lines(lines[2:lines.index("")])
    assert list(table) == ["a100", "arm", "broken", "cpu", "down", "h100", "ws1", "ws2", "ws3", "ws4"]
    h100 = table["h100"][0]
    assert "8x NVIDIA H100" in h100 and "570.195.03" in h100 and "CUDA 12.8" in cell_text(table["h100"])
    assert [w for w in cell_text(table["ws3"]).split() if w.startswith("2.4.0")] == ["2.4.0+cpu"]  # torch
    text = result.stdout
    assert "FINDINGS" in text and "DLWS-DRV-005" in text
    assert "  %s (4 hosts)" % RTX4090 in text
    assert "driver: 535.86.05 on 3 hosts (ws1, ws2, ws4); differs: 550.54.14 on ws3" in text
    assert "torch: 2.3.1+cpu (cpu) on 2 hosts (ws1, ws2); differs: 2.4.0+cpu (cpu) on ws3; none on ws4" in text
    judged = text[text.index("PYTHON ENVIRONMENTS JUDGED"):].splitlines()
    assert "  /home/dev/ml (system, Python 3.11.0): 3 hosts (ws1, ws2, ws3)" in judged
    silent = text[text.index("UNREACHABLE OR FAILED"):].splitlines()
    assert "Connection refused" in next(line for line in silent if line.split()[0] == "down")
    assert "doctor.json is not valid JSON" in next(line for line in silent if line.split()[0] == "broken")
    assert lines[-1].startswith("FAIL: 10 hosts (8 ok, 1 unreachable, 1 failed)")


LONG_HOST = "gpu-node-0001.rack-17.very-long-cluster-name.datacenter.example.internal"
LONG_GPU = ("NVIDIA GeForce RTX 4090 D Founders Edition Laptop GPU With A Very Long Marketing Name "
            "That Nobody Needs")


@pytest.fixture(scope="module")
def long_names(tmp_path_factory):
    """Long host and GPU names, a long CPU model, many frameworks, a long message."""
    tmp = tmp_path_factory.mktemp("long")
    folder = str(tmp / "results")
    long_gpu = edited_fixture("rtx4090-driver535-cuda13-mixed-venv", str(tmp),
                              {"commands.json": {"NVIDIA GeForce RTX 4090": LONG_GPU}})
    write_host(folder, LONG_HOST, long_gpu, with_snapshot=False)
    drifted = dict(DRIFTED, **{"commands.json": dict(DRIFTED["commands.json"], **{"NVIDIA GeForce RTX 4090": LONG_GPU})})
    write_host(folder, LONG_HOST.replace("0001", "0002"),
               edited_fixture("rtx4090-driver535-cuda13-mixed-venv", str(tmp / "drifted"), drifted),
               with_snapshot=False)
    write_host(folder, "dgx", fixture("dgx-a100-8gpu"), with_snapshot=False)
    write_host(folder, "legacy", fixture("tf212-torch21-mxnet-cu112-venv"), with_snapshot=False)
    write_status(folder, "down-" + "x" * 150, "unreachable", "Failed to connect to the host via ssh: " + "y" * 300)
    return folder


def test_text_report_fits_120_columns_with_long_names(long_names):
    """Every line within 120 columns; the table keeps one first line per host, a long host cut at its end; JSON
    keeps every value whole."""
    folder = long_names
    text = to_text(build_report(load_results(folder), "error"))
    lines = text.splitlines()
    assert all(len(line) <= 120 for line in lines), [line for line in lines if len(line) > 120]
    table = host_lines(lines[2:lines.index("")])
    assert [host[:12] for host in table] == ["dgx", "down-xxxxxxx", "gpu-node-000", "gpu-node-000", "legacy"]
    long_rows = [host for host in table if host.startswith("gpu-node")]
    assert sorted(long_rows) == ["gpu-node-0001.rack-…", "gpu-node-0002.rack-…"]
    assert "Long Marketing Name" in cell_text(table[long_rows[0]])  # broken over lines, not cut
    assert "tensorflow 2.12.0" in cell_text(table["legacy"]) and "mxnet 1.9.1" in cell_text(table["legacy"])
    assert LONG_HOST in text  # the findings and drift name it whole
    report = json.loads(to_json(build_report(load_results(folder), "error")))
    assert LONG_HOST in [r["host"] for r in report["hosts"]]
    assert any(LONG_GPU in g["model"] for r in report["hosts"] for g in r["gpus"])


def test_column_widths_fit_and_keep_their_floors():
    assert column_widths([10, 20, 30], [4, 4, 4], width=100) == [10, 20, 30]  # fits: as they are
    widths = column_widths([10, 60, 80], [8, 12, 12], width=60)
    assert sum(widths) + 4 <= 60 and widths[0] == 10 and min(widths[1:]) >= 12
    assert column_widths([50, 50], [40, 45], width=60) == [40, 45]  # floors win over the width (never below)
    assert sum(TEXT_FLOORS) + 2 * (len(TEXT_FLOORS) - 1) <= 120
    assert cell_lines(["torch 2.4.0", "jax 0.4.30"], 30) == ["torch 2.4.0, jax 0.4.30"]
    assert cell_lines(["torch 2.4.0", "jax 0.4.30"], 15) == ["torch 2.4.0,", "jax 0.4.30"]
    assert cell_lines(["x" * 12], 5) == ["xxxxx", "xxxxx", "xx"]
    assert trimmed("gpu-node-0001.example.internal", 16) == "gpu-node-0001.e…" and trimmed("a", 16) == "a"


def test_junit_one_case_per_host(fleet, report, tmp_path):
    out = tmp_path / "fleet.xml"
    assert run_report(fleet, "junit", str(out), "error") == 1
    suites = ET.parse(str(out)).getroot()
    suite = suites.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert sorted(cases) == sorted(r["host"] for r in report["hosts"]) and int(suite.get("tests")) == 10
    failed = sorted(name for name, c in cases.items() if c.find("failure") is not None)
    expected = sorted(["down", "broken"] + [h for h in ("a100", "h100", "ws1", "ws2", "ws3", "ws4", "arm", "cpu")
                                            if any(f["severity"] == "error" for f in doctor_findings(fleet, h))])
    assert failed == expected and int(suite.get("failures")) == int(suites.get("failures")) == len(expected)
    assert cases["down"].find("failure").get("type") == "unreachable"
    assert "drift: driver 550.54.14" in cases["ws3"].find("system-out").text
    # at warning, the hosts with only warnings fail too
    out_warn = tmp_path / "warn.xml"
    run_report(fleet, "junit", str(out_warn), "warning")
    warn_failed = [c.get("name") for c in ET.parse(str(out_warn)).getroot().iter("testcase")
                   if c.find("failure") is not None]
    assert "a100" not in failed and "a100" in warn_failed  # a100: warnings and info, no errors


def test_exit_codes(tmp_path):
    clean = str(tmp_path / "clean")
    write_host(clean, "ws", fixture("rtx4090-ryzen-workstation"), with_snapshot=False)
    write_host(clean, "laptop", fixture("wsl2-rtx4070-laptop"), with_snapshot=False)
    assert dlws("fleet", "report", clean).returncode == 0
    warned = str(tmp_path / "warned")
    write_host(warned, "a100", fixture("dgx-a100-8gpu"), with_snapshot=False)  # a warning and an info
    assert dlws("fleet", "report", warned).returncode == 0
    assert dlws("fleet", "report", warned, "--fail-on", "warning").returncode == 1
    write_status(clean, "down", "unreachable", "timed out")
    assert dlws("fleet", "report", clean, "--format", "json").returncode == 1
    assert dlws("fleet", "report", clean, "--format", "pdf").returncode == 2
    assert dlws("fleet", "report", clean, "-o", str(tmp_path / "no" / "such" / "dir" / "r.txt")).returncode == 2


# --- HTML in a real browser ---------------------------------------------------------------------------------------


class HostRows(HTMLParser):
    """The first cell of every body row of table#hosts."""

    def __init__(self):
        super().__init__()
        self.table = self.body = self.cell = False
        self.hosts, self.tables = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
            self.table = dict(attrs).get("id") == "hosts"
        self.body = self.body or (self.table and tag == "tbody")
        if self.body and tag == "tr":
            self.hosts.append("")
            self.cell = True
        elif tag == "td" and self.hosts and self.hosts[-1]:
            self.cell = False

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = False
        if tag == "table":
            self.table = self.body = False

    def handle_data(self, data):
        if self.body and self.cell:
            self.hosts[-1] += data.strip()


def chromium(page, tmp_path):
    """Open page headless with DNS mapped to nowhere; the DOM it rendered and the URLs the page asked for."""
    netlog = tmp_path / ("%s.netlog.json" % os.path.basename(page))
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                             "--no-first-run", "--disable-background-networking", "--disable-component-update",
                             "--disable-sync", "--user-data-dir=%s" % (tmp_path / "profile"),
                             "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=%s" % netlog,
                             "--dump-dom", "file://" + page],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    log = json.loads(netlog.read_text())
    names = {value: name for name, value in log["constants"]["logEventTypes"].items()}
    # Chromium's own background requests have no initiator ("not an origin"); the page's have its (opaque) origin.
    starts = [e.get("params") or {} for e in log["events"] if names.get(e["type"]) == "URL_REQUEST_START_JOB"]
    fetched = [p["url"] for p in starts if "url" in p and p.get("initiator") != "not an origin"]
    return result.stdout, fetched


def test_html_renders_in_chromium_and_fetches_nothing(fleet, report, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), "the HTML test needs Chromium (apt-get install chromium)"
    page = str(tmp_path / "fleet.html")
    assert run_report(fleet, "html", page, "error") == 1
    with open(page) as handle:
        html = handle.read()
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I)
    assert not re.search(r"<script|<link|<img|<iframe|<object|@import|url\(", html, re.I)
    assert not [v for v in re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"' >]*)""", html, re.I)
                if not v.startswith(("data:", "#"))]
    dom, fetched = chromium(page, tmp_path)
    assert fetched == []
    rows = HostRows()
    rows.feed(dom)
    assert rows.hosts == [r["host"] for r in report["hosts"]]  # one row per host, in order
    assert rows.tables >= 3  # hosts, drift, findings
    assert "Connection refused" in dom and "dlws fleet report" in dom
    # the outliers are highlighted in the table, with what their class mostly runs
    assert '<span class="drift" title="most common in its class: 535.86.05">550.54.14</span>' in dom
    assert '<span class="drift" title="most common in its class: 2.3.1+cpu (cpu)">no torch</span>' in dom
    # the check above can fail: a page that does load something from the network shows up in the log
    canary = tmp_path / "canary.html"
    canary.write_text('<!DOCTYPE html><html><body><img src="http://canary.invalid/x.png"></body></html>')
    assert chromium(str(canary), tmp_path)[1] == ["http://canary.invalid/x.png"]


LAYOUT_SCRIPT = """<script>
const out = {viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth, tables: {}};
for (const table of document.querySelectorAll("table")) {
  const box = table.parentElement, heads = table.querySelectorAll("thead th");
  out.tables[table.id] = {last: heads[heads.length - 1].getBoundingClientRect().right,
    box: box.getBoundingClientRect().right, scroll: box.scrollWidth, client: box.clientWidth,
    overflow: getComputedStyle(box).overflowX};
}
document.body.setAttribute("data-layout", JSON.stringify(out));
</script>"""


def layout(html, tmp_path, width):
    """Where each table's last column ends in Chromium at a window width, and whether its box scrolls: the page
    with a script that measures it (the test's copy only: its policy lets that one inline script run)."""
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    assert policy in html
    page = tmp_path / "layout.html"
    page.write_text(html.replace(policy, policy + "; script-src 'unsafe-inline'").replace("</body>",
                                                                                          LAYOUT_SCRIPT + "</body>"))
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--window-size=%d,900" % width, "--user-data-dir=%s" % (tmp_path / "layout-profile"),
                             "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", "file://%s" % page],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    found = re.search(r'data-layout="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    return json.loads(unescape(found.group(1)))


def clipped(measured):
    """The tables whose last column ends past the viewport with no scrolling box to reach it."""
    view = measured["viewport"]
    return sorted(name for name, t in measured["tables"].items() if t["last"] > view + 0.5 and not (
        t["overflow"] in ("auto", "scroll") and t["scroll"] > t["client"] and t["box"] <= view + 0.5))


def test_html_keeps_every_column_in_view_at_1280_px(long_names, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), "the HTML test needs Chromium (apt-get install chromium)"
    measured = layout(to_html(build_report(load_results(long_names), "error")), tmp_path, 1280)
    assert 1200 <= measured["viewport"] <= 1280 and set(measured["tables"]) >= {"hosts", "drift", "findings"}
    assert clipped(measured) == [] and measured["page"] <= measured["viewport"]
    assert measured["tables"]["hosts"]["last"] <= measured["viewport"]  # Errors and Warnings in view, no scrolling
    # the check can fail: a table wider than the window, in no scrolling box, is clipped
    wide = ("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\"></head><body><div><table id=\"wide\"><thead><tr>"
            "<th style=\"min-width: 2000px\">x</th><th>last</th></tr></thead></table></div></body></html>")
    assert clipped(layout(wide, tmp_path, 1280)) == ["wide"]


# --- scale --------------------------------------------------------------------------------------------------------


def test_many_hosts_from_copies(tmp_path):
    """The bench's folder builder (the 1,000-host timing itself is in scripts/bench.py)."""
    folder = str(tmp_path / "many")
    hosts = build_many(folder, 60, with_snapshot=False)
    report = build_report(load_results(folder), "error")
    assert [r["host"] for r in report["hosts"]] == hosts
    assert report["summary"]["unreachable"] == 1 and report["summary"]["ok"] == 59


def test_bench_fleet_report_runs(tmp_path):
    timings = bench_fleet_report([sys.executable, "-m", "provision"], runs=1, hosts=20)
    assert sorted(timings) == ["dlws fleet report --format %s (20 hosts)" % fmt for fmt in ("html", "text")]
    assert all(0 < t < 60 for t in timings.values())
