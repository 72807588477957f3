"""Small readers shared by the probes."""

from __future__ import annotations

import re
from typing import Dict, Optional

from provision.host import Host


def system(host: Host) -> Optional[str]:
    """linux | darwin | windows, from what the host recorded, else from the evidence itself."""
    platform = host.fact("platform") or {}
    if platform.get("system"):
        return str(platform["system"])
    if any(host.read(path) is not None for path in ("/proc/cpuinfo", "/proc/version", "/etc/os-release")):
        return "linux"
    return None


def machine(host: Host) -> Optional[str]:
    return (host.fact("platform") or {}).get("machine") or None


def read_int(host: Host, path: str, base: int = 10) -> Optional[int]:
    text = host.read(path)
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def read_line(host: Host, path: str) -> Optional[str]:
    text = host.read(path)
    if text is None:
        return None
    text = text.replace("\x00", "").strip()
    return text or None


def parse_key_values(text: str, sep: str = ":") -> Dict[str, str]:
    """'Key : value' lines (/proc/meminfo, version.txt, ...) into a dict; first occurrence wins."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        key, found, value = line.partition(sep)
        if found and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


_VERSION = re.compile(r"\d+(?:\.\d+)+")


def first_version(text: str) -> Optional[str]:
    match = _VERSION.search(text or "")
    return match.group(0) if match else None
