"""The cells and labels of the fleet report that its text and HTML renderings both show (one wording for both)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


def size(value: Optional[int]) -> str:
    """Bytes in GiB, as GPU memory is usually quoted ("80 GiB", "39.6 GiB")."""
    if value is None:
        return ""
    gib = value / 1024 ** 3
    return ("%.0f GiB" if abs(gib - round(gib)) < 0.05 else "%.1f GiB") % gib


def cpu_cell(row: Dict[str, Any]) -> str:
    cpu = row["cpu"] or {}
    threads = "%s threads" % cpu["threads"] if cpu.get("threads") else None
    detail = ", ".join(p for p in (cpu.get("arch"), threads) if p)
    return (cpu.get("model") or "unknown CPU") + (" (%s)" % detail if detail else "")


def gpu_cells(row: Dict[str, Any]) -> List[str]:
    return ["%dx %s%s" % (g["count"], g["model"], " " + size(g["memory_bytes"]) if g["memory_bytes"] else "")
            for g in row["gpus"]] or ["none"]


def framework_cells(row: Dict[str, Any]) -> List[str]:
    return ["%s %s%s" % (fw["name"], fw["version"] or "?", " (%s)" % fw["build"] if fw["build"] else "")
            for fw in row["frameworks"]] or ["none"]


def item_label(item: str) -> str:
    return ({"driver": "driver", "cuda_toolkit": "CUDA toolkit", "cudnn": "cuDNN", "python": "Python"}.get(item)
            or item.split(":", 1)[-1])


def value_label(value: Optional[str]) -> str:
    return value if value is not None else "none"


def verdict(report: Dict[str, Any]) -> str:
    summary = report["summary"]
    status = "FAIL" if summary["failing"] else "OK"
    return "%s: %d hosts (%d ok, %d unreachable, %d failed), %d hardware classes, %d drift, %d failing at %s" % (
        status, summary["hosts"], summary["ok"], summary["unreachable"], summary["failed"], summary["classes"],
        summary["drift"], summary["failing"], summary["fail_on"])
