"""Read a folder of fleet results (the layout in provision.fleet) into one typed record per host.

The API `fleet report` and `fleet plan` share:

    load_results(folder) -> List[HostResult]   every host folder, sorted by host name (host2 before host10)
    hardware_class(inventory) -> str           "8x NVIDIA H100 80GB HBM3 / x86_64", "no GPU / aarch64"

A host folder that holds garbage or misses a file becomes a HostResult with status "failed" and a message saying
what was wrong; only a folder that is not a results folder at all raises UsageError. Nothing here replays a
snapshot or re-runs the doctor: doctor.json already carries the inventory and the findings.

A host's files are written by that host: they are read as untrusted data. Only regular files are opened (a FIFO
would block), JSON nested deeper than untrusted.MAX_JSON_DEPTH is refused (it would exhaust the stack of whatever walks it), and
lone surrogates (which no file can be written with) become U+FFFD.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from provision.doctor.model import SEVERITIES
from provision.errors import UsageError
from provision.inventory.conform import conform_inventory
from provision.fleet import DOCTOR_FILE, SNAPSHOT_FILE, STATUS_FILE, host_folder
from provision.untrusted import parse_json, read_regular

STATUSES = ("ok", "unreachable", "failed")
#: doctor.json is a few tens of KiB; anything far larger is not one, and is not read whole.
MAX_DOCTOR_BYTES = 16 * 1024 * 1024
#: Unicode categories printable() escapes: controls, format characters, surrogates, line and paragraph separators.
UNPRINTABLE = ("Cc", "Cf", "Cs", "Zl", "Zp")


@dataclass
class HostResult:
    host: str  # the inventory_hostname (status.json's, or the folder's name)
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


def host_name(folder: str, status: Any) -> str:
    """The inventory_hostname status.json records, where it is the one this folder is for; else the folder's name
    (so two folders never claim one host)."""
    host = status.get("host") if isinstance(status, dict) else None
    if isinstance(host, str) and host_folder(host) == folder:
        return host
    return os.fsencode(folder).decode("utf-8", "backslashreplace")  # a folder name that is not UTF-8, readable


def load_host(path: str) -> HostResult:
    """One host's folder; never raises on its content."""
    snapshot = os.path.join(path, SNAPSHOT_FILE)
    status, problem = read_json(os.path.join(path, STATUS_FILE), dict)
    result = HostResult(host_name(os.path.basename(os.path.normpath(path)), status), "failed",
                        snapshot_path=snapshot if os.path.isfile(snapshot) else None)
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
    doctor, problem = read_json(os.path.join(path, DOCTOR_FILE), dict)
    problem = problem or _doctor_problem(doctor)
    if problem:
        result.message = problem
        return result
    inventory, problems = conform_inventory(doctor["inventory"])
    if problems:  # every reader of it (report, drift, plan) may rely on the model's types
        result.message = "%s: not a dlws inventory (%s)" % (DOCTOR_FILE, problems[0])
        return result
    result.status, result.inventory, result.findings = "ok", inventory.to_dict(), doctor["findings"]
    return result


def read_json(path: str, kind: type) -> Tuple[Any, Optional[str]]:
    """(data, None), or (None, a one-line reason)."""
    name = os.path.basename(path)
    try:
        raw = read_regular(path, MAX_DOCTOR_BYTES + 1)
    except FileNotFoundError:
        return None, "%s is missing" % name
    except OSError as exc:
        return None, "%s cannot be read: %s" % (name, exc.strerror or exc)
    if len(raw) > MAX_DOCTOR_BYTES:
        return None, "%s is larger than %d MiB" % (name, MAX_DOCTOR_BYTES // (1024 * 1024))
    try:
        data = parse_json(raw)
    except ValueError as exc:
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


def printable(value: str, keep: str = "") -> str:
    """value for a terminal, a text report or XML: control and format characters and line or paragraph separators
    (a newline that starts a fake line, an escape sequence that rewrites the screen) spelled as escapes; keep: the
    characters left as they are (the newlines of a multi-line message dlws wrote)."""
    return "".join(char.encode("unicode_escape").decode("ascii") if char not in keep and _unprintable(char) else char
                   for char in value)


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in UNPRINTABLE or char in "\ufffe\uffff"  # the last two: not XML either


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
