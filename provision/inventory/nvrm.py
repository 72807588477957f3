"""The nvidia module's own words in the kernel log (NVRM lines): which GPUs it refused to drive, and why.

A driver that does not support a GPU loads, prints why and gives up on it ("NVRM: No NVIDIA GPU found"), so
nvidia-smi can only say it "couldn't communicate with the NVIDIA driver"; the reason is in the kernel log alone.
Two messages name a cause, both from NVIDIA's driver and quoted in public reports:
- "The NVIDIA GeForce GTX 1050 GPU installed in this system is supported through the NVIDIA 580.xx Legacy drivers.
  ... The 595.71.05 NVIDIA driver will ignore this GPU." (NixOS/nixos-hardware#1880; 470.xx in siderolabs/talos#8764;
  "The GeForce 9400M GPU installed is supported by the 340.xx Legacy drivers ... The 379.39 driver will ignore this
  GPU" in trueos/trueos-core#397)
- "The NVIDIA GPU 0000:09:00.0 (PCI ID: 10de:1d01) installed in this system is not supported by open nvidia.ko
  because it does not include the required GPU System Processor (GSP)." (negativo17/nvidia-driver#158,
  NVIDIA/open-gpu-kernel-modules#322, #587)
"""

from __future__ import annotations

import re
from typing import List, Optional

from provision.host import Host
from provision.inventory.model import RefusedGpu

#: Bounds: the NVRM lines kept, each line's length, and the log read (dmesg's ring buffer is 256 KiB-16 MiB).
MAX_LINES = 64
MAX_LINE = 300
MAX_LOG = 2 * 1024 * 1024
MAX_REFUSED = 16

_TIMESTAMP = re.compile(r"^\s*(?:<\d+>)?\s*\[\s*[\d.]+\]\s*")
_LEGACY = re.compile(
    r"The (?:NVIDIA )?(?P<name>[^.]{1,80}?) GPU installed (?:in this system )?is supported (?:through|by) the "
    r"(?:NVIDIA )?(?P<branch>\d{3})\.xx Legacy drivers.{0,300}?The (?P<driver>\d+(?:\.\d+)+) (?:NVIDIA )?driver "
    r"will ignore this GPU")
_OPEN = re.compile(
    r"The NVIDIA GPU (?P<bus>[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.\d) \(PCI ID: 10de:(?P<device>[0-9a-fA-F]{4})"
    r"\) installed in this system is not supported by open nvidia\.ko")


def nvrm_lines(text: str) -> List[str]:
    """The kernel log's NVRM lines, timestamps cut, the last MAX_LINES of them (the latest load is what counts).
    A message continues on lines that repeat 'NVRM:' after spaces, which is kept."""
    lines = [_TIMESTAMP.sub("", line)[:MAX_LINE] for line in text[-MAX_LOG:].splitlines() if "NVRM" in line]
    return lines[-MAX_LINES:]


def _joined(lines: List[str]) -> str:
    """The lines as one text without the NVRM: prefixes, so that a message broken over lines reads whole."""
    words = (re.sub(r"^.*?NVRM:?\s*", "", line) for line in lines)
    return re.sub(r"\s+", " ", " ".join(words))


def refused_gpus(lines: List[str]) -> List[RefusedGpu]:
    """The GPUs the log says the module refused, each once (a module loaded twice says it twice)."""
    text = _joined(lines)
    found: List[RefusedGpu] = []
    for match in _LEGACY.finditer(text):
        found.append(RefusedGpu(reason="legacy-branch", name=match.group("name").strip(),
                                legacy_branch=match.group("branch"), driver_version=match.group("driver"),
                                message=match.group(0)[:MAX_LINE]))
    for match in _OPEN.finditer(text):
        found.append(RefusedGpu(reason="open-module", pci_bus_id=match.group("bus").lower(),
                                pci_device_id="0x" + match.group("device").lower(), message=match.group(0)[:MAX_LINE]))
    unique: List[RefusedGpu] = []
    for gpu in found:
        if gpu not in unique:
            unique.append(gpu)
    return unique[:MAX_REFUSED]


def read_kernel_log(host: Host) -> Optional[List[str]]:
    """The NVRM lines of `dmesg`; None where it cannot be read (kernel.dmesg_restrict without root, no dmesg)."""
    result = host.run(["dmesg"])
    if not result.ok:
        return None
    return nvrm_lines(result.stdout)
