"""Small readers shared by the probes."""

from __future__ import annotations

import re
from typing import Dict, Optional

from provision.host import MAX_GPUS, Host

#: Counts no real machine reaches (Linux builds for at most 8,192 CPUs): past them the input is corrupt or hostile,
#: and the count is unknown, with an entry in errors, instead of a loop, a set or a list that size.
MAX_CPUS = 65536
MAX_CPU_FLAGS = 4096
MAX_MOUNTS = 10000
#: Digits of the longest number dlws parses (2**64 has 20): int() of a longer string is slow before Python 3.11 and
#: refused after it.
MAX_DIGITS = 32


def to_int(text: Optional[str], base: int = 10) -> Optional[int]:
    """An integer from text, None when it is none or too long to be a real count, size or id."""
    text = (text or "").strip()
    if not text or len(text) > MAX_DIGITS:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


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
    return to_int(host.read(path), base)


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


#: Not inside a run of digits: a long run with no dot would otherwise be tried from each of its digits (quadratic).
_VERSION = re.compile(r"(?<!\d)\d+(?:\.\d+)+")


def first_version(text: str) -> Optional[str]:
    match = _VERSION.search(text or "")
    return match.group(0) if match else None
