"""PCI display and accelerator devices from sysfs: how a GPU is seen even when no driver claims it."""

from __future__ import annotations

import os
import re
from typing import List, NamedTuple, Optional, Tuple

from provision.host import Host
from provision.inventory.common import MAX_GPUS, read_line

PCI_DEVICES = "/sys/bus/pci/devices"
#: 256 buses of 32 devices of 8 functions: more entries is no real PCI bus (each costs three reads).
MAX_PCI_DEVICES = 65536
VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}
#: PCI base classes of GPUs: 0x03 display controller (VGA 0x0300, 3D 0x0302, other 0x0380), 0x12 accelerator.
GPU_CLASSES = ("0x03", "0x12")


class PciDevice(NamedTuple):
    address: str  # "0000:3b:00.0"
    vendor: str  # "nvidia" | "amd" | "intel"
    device_id: str  # "0x20b0"
    pci_class: str  # "0x030200"
    driver: Optional[str]  # the kernel driver bound to it, None when none is


def gpu_devices(host: Host, vendor: Optional[str] = None) -> List[PciDevice]:
    """Every PCI GPU (optionally of one vendor), in bus order; ValueError (the probe's error) past the limits."""
    found: List[PciDevice] = []
    addresses = host.listdir(PCI_DEVICES) or []
    if len(addresses) > MAX_PCI_DEVICES:
        raise ValueError("%s lists more than %d devices" % (PCI_DEVICES, MAX_PCI_DEVICES))
    for address in addresses:
        base = "%s/%s/" % (PCI_DEVICES, address)
        pci_class = read_line(host, base + "class") or ""
        if not pci_class.startswith(GPU_CLASSES):
            continue
        name = VENDORS.get((read_line(host, base + "vendor") or "").lower())
        if name is None or (vendor and name != vendor):
            continue
        driver = host.realpath(base + "driver")
        found.append(PciDevice(address, name, (read_line(host, base + "device") or "").lower(), pci_class,
                               os.path.basename(driver) if driver else None))
        if len(found) > MAX_GPUS:
            raise ValueError("%s lists more than %d GPUs" % (PCI_DEVICES, MAX_GPUS))
    return found


_CHIP = re.compile(r"^([A-Z]{2}\d+)")
_MARKETING = re.compile(r"\[([^\]]+)\]")


def nvidia_pci_name(device_id: str) -> Optional[Tuple[str, Optional[str], Optional[str]]]:
    """(name, architecture, compute capability) of an NVIDIA PCI device id from the PCI ID database
    (knowledge table nvidia_pci_ids, loaded only when asked): 'GP104 [GeForce GTX 1080]' -> ('GeForce GTX 1080',
    'Pascal', '6.1'), by its chip; architecture and capability are None where the chip is not in the table. None for
    an id the table lacks (not a GPU dlws knows)."""
    from provision.knowledge import load  # only for a GPU no driver names

    table = load("nvidia_pci_ids")
    entry = table["devices"].get(device_id.lower())
    if not isinstance(entry, str):
        return None
    marketing = _MARKETING.search(entry)
    chip = _CHIP.match(entry)
    base = chip.group(1) if chip else ""
    return (marketing.group(1).strip() if marketing else entry, table["families"].get(base[:2]),
            table["chips"].get(base))
