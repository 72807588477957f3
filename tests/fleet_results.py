"""Build `dlws fleet gather` results folders from snapshot fixtures, for the fleet tests and scripts/bench.py.

A host made from a fixture gets what the gather would fetch: doctor.json (the doctor run over the fixture, in
process), snapshot.tar.gz (the fixture tarred) and status.json. The doctor runs once per fixture; more hosts of the
same fixture are file copies.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Dict, List, Optional

from provision.doctor import diagnose
from provision.doctor.report import to_json
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE, host_folder
from provision.inventory import collect
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots")
#: Fixtures of several hardware classes, for the 1,000-host fleet.
BENCH_FIXTURES = ("dgx-a100-8gpu", "h100-sxm-server", "rtx4090-driver535-cuda13-mixed-venv",
                  "rtx4090-ryzen-workstation", "graviton3-arm64-server", "cuda-multi-toolkit-torch",
                  "tf212-torch21-mxnet-cu112-venv", "mi250x-rocm-server", "nixos-4x-rtx2070-one-missing",
                  "driver-not-loaded")


def fixture(name: str) -> str:
    return os.path.join(SNAPSHOTS, name)


def doctor_json(snapshot: str) -> str:
    """What `dlws doctor --snapshot SNAPSHOT --format json` prints."""
    inv = collect(open_snapshot(snapshot)).to_dict()
    return to_json(diagnose(inv))


def write_status(folder: str, host: str, status: str, message: Optional[str] = None) -> str:
    path = os.path.join(folder, host)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, STATUS_FILE), "w") as handle:
        json.dump({"host": host, "status": status, "message": message}, handle)
    return path


def write_host(folder: str, host: str, snapshot: str, with_snapshot: bool = True) -> str:
    """A host that answered, recorded from a snapshot fixture (a folder)."""
    path = write_status(folder, host, "ok")
    with open(os.path.join(path, DOCTOR_FILE), "w") as handle:
        handle.write(doctor_json(snapshot))
    if with_snapshot:
        with tarfile.open(os.path.join(path, SNAPSHOT_FILE), "w:gz") as tar:
            tar.add(snapshot, arcname="snapshot")
    return path


def written_by_host(inv: Dict) -> str:
    """doctor.json as a host (or a hand editing it) may write it: the doctor's report around inv exactly as given,
    where the doctor itself would have held it to the model's types."""
    report = json.loads(to_json(diagnose(inv)))
    report["inventory"] = inv
    return json.dumps(report)


def record(folder, host: str, inv: Optional[Dict] = None, status: str = "ok", message: Optional[str] = None,
           doctor: Optional[str] = None) -> str:
    """A host's folder as the gather writes it: under host_folder(host), status.json naming the host, doctor.json
    (given as text, or the report around inv) where given."""
    path = os.path.join(str(folder), host_folder(host))
    os.makedirs(path)
    with open(os.path.join(path, STATUS_FILE), "w") as handle:
        json.dump({"host": host, "status": status, "message": message}, handle)
    if inv is not None or doctor is not None:
        with open(os.path.join(path, DOCTOR_FILE), "w") as handle:
            handle.write(doctor if doctor is not None else written_by_host(inv))
    return path


def edited_fixture(name: str, dest: str, replacements: Dict[str, Dict[str, str]]) -> str:
    """A copy of a fixture with text replaced in its files ({"commands.json": {"old": "new"}}); each must hit."""
    target = os.path.join(dest, name + "-edited")
    shutil.copytree(fixture(name), target)
    for member, pairs in replacements.items():
        path = os.path.join(target, member)
        with open(path) as handle:
            content = handle.read()
        for old, new in pairs.items():
            assert old in content, "%s not in %s" % (old, path)
            content = content.replace(old, new)
        with open(path, "w") as handle:
            handle.write(content)
    return target


def copy_host(source: str, folder: str, host: str) -> None:
    """Another host with the same results as the host folder source (status.json names the new host)."""
    path = os.path.join(folder, host)
    os.makedirs(path)
    for name in (DOCTOR_FILE, SNAPSHOT_FILE):
        if os.path.exists(os.path.join(source, name)):
            shutil.copyfile(os.path.join(source, name), os.path.join(path, name))
    write_status(folder, host, "ok")


def build_many(folder: str, count: int, fixtures=BENCH_FIXTURES, with_snapshot: bool = True) -> List[str]:
    """count hosts (node0001, ...) cycling through fixtures; every 50th is unreachable. Returns the host names."""
    with tempfile.TemporaryDirectory() as seeds:
        for name in fixtures:
            write_host(seeds, name, fixture(name), with_snapshot)
        hosts = []
        for i in range(count):
            host = "node%04d" % (i + 1)
            if i % 50 == 49:
                write_status(folder, host, "unreachable", "Failed to connect to the host via ssh: Connection refused")
            else:
                copy_host(os.path.join(seeds, fixtures[i % len(fixtures)]), folder, host)
            hosts.append(host)
    return hosts


def bench_fleet_report(dlws: List[str], runs: int = 5, hosts: int = 1000) -> Dict[str, float]:
    """Median seconds of `dlws fleet report` (text and html) over hosts results; for scripts/bench.py."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "fleet")
        build_many(folder, hosts)
        for fmt in ("text", "html"):
            label = "dlws fleet report --format %s (%d hosts)" % (fmt, hosts)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                code = subprocess.run(dlws + ["fleet", "report", folder, "--format", fmt, "-o",
                                              os.path.join(tmp, "report." + fmt)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                times.append(time.perf_counter() - start)
                if code not in (0, 1):  # 1: some hosts did not answer or have errors, a result
                    raise SystemExit("dlws fleet report exited with %d" % code)
            results[label] = statistics.median(times)
            print("  %-60s %7.3f s" % (label, results[label]), file=sys.stderr, flush=True)
    return results
