"""Read a folder of fleet results (the layout in provision.fleet) into one typed record per host.

The API `fleet report` and `fleet plan` share:

    load_results(folder) -> List[HostResult]   every host folder, sorted by host name (host2 before host10)
    hardware_class(inventory) -> str           "8x NVIDIA H100 80GB HBM3 / x86_64", "no GPU / aarch64"

A host folder that holds garbage or misses a file becomes a HostResult with status "failed" and a message saying
what was wrong; only a folder that is not a results folder at all raises UsageError. Nothing here replays a
snapshot or re-runs the doctor: doctor.json already carries the inventory and the findings.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from provision.doctor.model import SEVERITIES
from provision.errors import UsageError
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE

STATUSES = ("ok", "unreachable", "failed")
#: doctor.json is a few tens of KiB; anything far larger is not one, and is not read whole.
MAX_DOCTOR_BYTES = 16 * 1024 * 1024


@dataclass
class HostResult:
    host: str  # the inventory_hostname (the folder's name)
    status: str  # ok | unreachable | failed
    message: Optional[str] = None  # why it is not ok (or what the gather said)
    inventory: Optional[Dict[str, Any]] = None  # the dlws.inventory/1 JSON, where status is ok
    findings: List[Dict[str, Any]] = field(default_factory=list)  # the doctor's findings (id, severity, title, ...)
    snapshot_path: Optional[str] = None  # DIR/<host>/snapshot.tar.gz where it exists

    @property
    def answered(self) -> bool:
        return self.status == "ok"


def natural_key(name: str) -> List[Any]:
    """Sort key that puts host2 before host10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def load_results(folder: str) -> List[HostResult]:
    """Every host folder under folder (a subfolder holding status.json, doctor.json or snapshot.tar.gz)."""
    try:
        entries = os.listdir(folder)
    except FileNotFoundError:
        raise UsageError("no such results folder: %s" % folder) from None
    except NotADirectoryError:
        raise UsageError("not a folder: %s (dlws fleet gather writes one folder per host)" % folder) from None
    except OSError as exc:
        raise UsageError("cannot read %s: %s" % (folder, exc.strerror or exc)) from None
    hosts = [name for name in entries if not name.startswith(".") and _is_host_folder(os.path.join(folder, name))]
    if not hosts:
        raise UsageError("no host results in %s (expected %s/<host>/%s from dlws fleet gather)"
                         % (folder, folder.rstrip("/"), STATUS_FILE))
    return [load_host(os.path.join(folder, name)) for name in sorted(hosts, key=natural_key)]


def _is_host_folder(path: str) -> bool:
    return os.path.isdir(path) and any(os.path.exists(os.path.join(path, name))
                                       for name in (STATUS_FILE, DOCTOR_FILE, SNAPSHOT_FILE))


def load_host(path: str) -> HostResult:
    """One host's folder; never raises on its content."""
    host = os.path.basename(os.path.normpath(path))
    snapshot = os.path.join(path, SNAPSHOT_FILE)
    result = HostResult(host, "failed", snapshot_path=snapshot if os.path.isfile(snapshot) else None)
    status, problem = _read_json(os.path.join(path, STATUS_FILE), dict)
    if problem:
        result.message = problem
        return result
    if status.get("status") not in STATUSES:
        result.message = "%s: unknown status %r" % (STATUS_FILE, status.get("status"))
        return result
    message = status.get("message")
    result.message = message if isinstance(message, str) and message else None
    if status["status"] != "ok":
        result.status = status["status"]
        result.message = result.message or "no message from the gather"
        return result
    doctor, problem = _read_json(os.path.join(path, DOCTOR_FILE), dict)
    problem = problem or _doctor_problem(doctor)
    if problem:
        result.message = problem
        return result
    result.status, result.inventory, result.findings = "ok", doctor["inventory"], doctor["findings"]
    return result


def _read_json(path: str, kind: type) -> Tuple[Any, Optional[str]]:
    """(data, None), or (None, a one-line reason)."""
    name = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_DOCTOR_BYTES + 1)
    except FileNotFoundError:
        return None, "%s is missing" % name
    except OSError as exc:
        return None, "%s cannot be read: %s" % (name, exc.strerror or exc)
    if len(raw) > MAX_DOCTOR_BYTES:
        return None, "%s is larger than %d MiB" % (name, MAX_DOCTOR_BYTES // (1024 * 1024))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        return None, "%s is not valid JSON (%s)" % (name, exc)
    if not isinstance(data, kind):
        return None, "%s should hold a JSON %s" % (name, "object" if kind is dict else kind.__name__)
    return data, None


def _doctor_problem(doctor: Dict[str, Any]) -> Optional[str]:
    """Why doctor.json is not a dlws doctor report, or None."""
    if not str(doctor.get("schema", "")).startswith("dlws.doctor/"):
        return "%s: not a dlws doctor report (schema %r)" % (DOCTOR_FILE, doctor.get("schema"))
    if not isinstance(doctor.get("inventory"), dict):
        return "%s: no inventory" % DOCTOR_FILE
    findings = doctor.get("findings")
    if not isinstance(findings, list) or not all(
            isinstance(f, dict) and isinstance(f.get("id"), str) and f.get("severity") in SEVERITIES
            for f in findings):
        return "%s: findings should be a list of {id, severity, ...}" % DOCTOR_FILE
    return None


# --- reading an inventory defensively (a results folder may come from another dlws version, or be hand-edited) ----


def section(inv: Any, key: str) -> Dict[str, Any]:
    value = inv.get(key) if isinstance(inv, dict) else None
    return value if isinstance(value, dict) else {}


def entries(inv: Any, key: str) -> List[Dict[str, Any]]:
    value = inv.get(key) if isinstance(inv, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text(value: Any) -> Optional[str]:
    """A scalar as text; None for unknown or anything that is not a scalar."""
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def gpu_name(gpu: Dict[str, Any]) -> str:
    """The model name, with NVIDIA's prefix that older drivers leave out, so a driver update keeps the class."""
    name = " ".join((text(gpu.get("name")) or "").split())
    vendor = text(gpu.get("vendor")) or "unknown"
    if not name:
        device = text(gpu.get("pci_device_id"))
        return "unknown %s GPU%s" % (vendor, " " + device if device else "")
    if vendor == "nvidia" and not name.upper().startswith("NVIDIA"):
        return "NVIDIA " + name
    return name


def gpu_models(inv: Any) -> List[Tuple[str, int]]:
    """(model, count), most numerous first, then by name."""
    counts = Counter(gpu_name(gpu) for gpu in entries(inv, "gpus"))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def hardware_class(inv: Any) -> str:
    """A stable key from the GPU models × count and the CPU architecture: "8x NVIDIA H100 80GB HBM3 / x86_64"."""
    gpus = " + ".join("%dx %s" % (count, name) for name, count in gpu_models(inv)) or "no GPU"
    return "%s / %s" % (gpus, text(section(inv, "cpu").get("arch")) or "unknown arch")
