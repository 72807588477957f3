"""The GPU of an Apple Silicon Mac: chip name, GPU core count, and the unified memory it shares with the CPU.

The GPU driver (class AGXAccelerator, subclassed per generation as AGXAcceleratorG13X, G14X, ...) publishes "model" and
"gpu-core-count" in the IORegistry; PyTorch's MPS backend reads the core count from the same place.
"""

from __future__ import annotations

import re
from typing import Dict, Optional

from provision.host import Host
from provision.inventory.common import machine, system, to_int
from provision.inventory.model import Gpu, Inventory

IOREG = ["ioreg", "-rd1", "-c", "AGXAccelerator"]

#: The value is stripped afterwards: "(.+?)\s*$" would try the line's end from every character of it (quadratic).
_PROPERTY = re.compile(r'\s*"([^"]+)"\s*=\s*(\S.*)')


def parse_ioreg(text: str) -> Dict[str, str]:
    """The top-level '"key" = value' properties of the first entry `ioreg -r` prints, string values unquoted."""
    props: Dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("+-o") and props:
            break  # the next registry entry
        match = _PROPERTY.match(line)
        if match and match.group(1) not in props:
            value = match.group(2).rstrip()
            props[match.group(1)] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return props


def apple_gpu(props: Dict[str, str], chip: Optional[str], unified_memory: Optional[int]) -> Gpu:
    cores = props.get("gpu-core-count", "")
    return Gpu(index=0, vendor="apple", name=props.get("model") or chip, integrated=True,
               cores=to_int(cores) if cores.isdigit() else None, memory_total_bytes=unified_memory)


def probe(host: Host, inv: Inventory) -> None:
    if system(host) != "darwin" or machine(host) != "arm64":
        return  # Intel Macs carry AMD or Intel GPUs, which Metal reports but these probes do not
    result = host.run(IOREG)
    props = parse_ioreg(result.stdout) if result.ok else {}
    if not props:
        inv.error("apple", "no GPU in `%s`: %s" % (" ".join(IOREG), result.stderr.strip() or result.returncode))
    # The CPU probe read machdep.cpu.brand_string ("Apple M2 Max"), which names the chip the GPU is part of.
    chip = inv.cpu.model if (inv.cpu.model or "").startswith("Apple") else None
    inv.gpus.append(apple_gpu(props, chip, inv.memory.total_bytes))
