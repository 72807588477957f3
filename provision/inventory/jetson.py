"""NVIDIA Jetson: the L4T release, the module, and its integrated GPU.

A Jetson's GPU is not on PCI and older L4T releases have no nvidia-smi, so the NVIDIA probe finds nothing there: this
probe adds the GPU from the SoC named in the device tree, with the module's RAM as its (unified) memory.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from provision import knowledge
from provision.host import Host
from provision.inventory.common import read_line
from provision.inventory.model import Gpu, Inventory, Jetson

TEGRA_RELEASE = "/etc/nv_tegra_release"
DT_MODEL = "/proc/device-tree/model"
DT_COMPATIBLE = "/proc/device-tree/compatible"

_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)")


def parse_l4t_release(text: str) -> Optional[str]:
    """'# R35 (release), REVISION: 4.1, GCID: ...' -> '35.4.1'."""
    match = _RELEASE.search(text or "")
    return "%s.%s" % match.groups() if match else None


def parse_compatible(text: str) -> List[str]:
    """The device tree's NUL-separated compatible list: 'nvidia,p3701-0005\\0nvidia,tegra234\\0' -> its entries."""
    return [entry.strip() for entry in (text or "").split("\x00") if entry.strip()]


def soc_facts(compatible: List[str]) -> Dict[str, Any]:
    """The jetson table's row for the first 'nvidia,tegraNNN' entry it knows, {} when none."""
    socs = knowledge.load("jetson")["socs"]
    for entry in compatible:
        vendor, _, name = entry.partition(",")
        if vendor == "nvidia" and name in socs:
            return dict(socs[name], tegra=name)
    return {}


def _integrated_gpu(inv: Inventory, facts: Dict[str, Any]) -> Gpu:
    return Gpu(index=0, vendor="nvidia", name=facts.get("gpu_name"), integrated=True,
               compute_capability=facts.get("compute_capability"), architecture=facts.get("architecture"),
               memory_total_bytes=inv.memory.total_bytes)


def probe(host: Host, inv: Inventory) -> None:
    release = host.read(TEGRA_RELEASE)
    compatible = parse_compatible(host.read(DT_COMPATIBLE) or "")
    facts = soc_facts(compatible)
    if release is None and not facts:
        return  # not a Jetson
    inv.jetson = Jetson(l4t=parse_l4t_release(release or ""), model=read_line(host, DT_MODEL))
    if release is not None and inv.jetson.l4t is None:
        inv.error("jetson", "unrecognised %s: %r" % (TEGRA_RELEASE, release.splitlines()[0] if release else ""))
    if not facts or any(gpu.vendor == "nvidia" for gpu in inv.gpus):
        return  # an unknown SoC, or the NVIDIA probe already reported the GPU (nvidia-smi on L4T 36)
    inv.gpus.append(_integrated_gpu(inv, facts))
    inv.nvidia.source = "jetson"
    if inv.nvidia.status in (None, "no-gpu"):
        inv.nvidia.status = "ok"
