"""Memory: RAM total and available, swap."""

from __future__ import annotations

from typing import Dict, Optional

from provision.host import Host
from provision.inventory.common import parse_key_values, system, to_int
from provision.inventory.cpu import parse_sysctl
from provision.inventory.model import Inventory, Memory


def parse_meminfo(text: str) -> Dict[str, int]:
    """/proc/meminfo into bytes ('MemTotal: 16318480 kB')."""
    out = {}
    for key, value in parse_key_values(text).items():
        number, _, unit = value.partition(" ")
        count = to_int(number) if number.isdigit() else None
        if count is not None:
            out[key] = count * (1024 if unit.strip().lower() == "kb" else 1)
    return out


def linux_memory(text: str) -> Memory:
    info = parse_meminfo(text)
    available = info.get("MemAvailable")
    if available is None and "MemFree" in info:  # kernels before 3.14 have no MemAvailable
        available = info["MemFree"] + info.get("Buffers", 0) + info.get("Cached", 0)
    return Memory(total_bytes=info.get("MemTotal"), available_bytes=available,
                  swap_total_bytes=info.get("SwapTotal"), swap_free_bytes=info.get("SwapFree"))


def _darwin_swap(text: str) -> Dict[str, Optional[int]]:
    """'total = 2048.00M  used = 1024.50M  free = 1023.50M  (encrypted)' from vm.swapusage."""
    out: Dict[str, Optional[int]] = {}
    parts = text.replace("=", " ").split()
    for key in ("total", "free"):
        if key in parts and parts.index(key) + 1 < len(parts):
            value = parts[parts.index(key) + 1]
            scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(value[-1:].upper(), 1)
            try:
                out[key] = int(float(value.rstrip("KMGkmg")) * scale)
            except (ValueError, OverflowError):  # "inf" is a float, not a size
                out[key] = None
    return out


def probe(host: Host, inv: Inventory) -> None:
    meminfo = host.read("/proc/meminfo")
    if meminfo is not None:
        inv.memory = linux_memory(meminfo)
        return
    if system(host) == "darwin":
        values = parse_sysctl(host.run(["sysctl", "hw.memsize", "vm.swapusage"]).stdout)
        swap = _darwin_swap(values.get("vm.swapusage", ""))
        total = values.get("hw.memsize", "")
        inv.memory = Memory(total_bytes=to_int(total) if total.isdigit() else None,
                            swap_total_bytes=swap.get("total"), swap_free_bytes=swap.get("free"))
        return
    facts = host.fact("memory")
    if facts:
        inv.memory = Memory(**{k: facts.get(k) for k in Memory.__dataclass_fields__})
    else:
        inv.error("memory", "no /proc/meminfo and no other source of memory facts")
