"""Intel discrete GPUs (Arc A-series, Data Center GPU Flex and Max) from sysfs, named from their PCI ids.

Integrated Intel graphics is left out: it is no deep-learning accelerator, and naming every iGPU id would need a table
ten times the size. On Intel platforms the integrated GPU is always PCI device 0000:00:02.0, so an id the table does not
know is skipped there and reported (unnamed) anywhere else, where it can only be a discrete card newer than the table.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from provision import knowledge
from provision.host import Host
from provision.inventory import pci
from provision.inventory.model import Gpu, Inventory

#: Where Intel platforms put the integrated graphics device (bus 0, device 2, function 0).
IGPU_ADDRESS = "0000:00:02.0"


def lookup(device_id: str) -> Dict[str, Any]:
    return knowledge.load("intel_gpus")["devices"].get(device_id.lower(), {})


def intel_gpu(index: int, device: pci.PciDevice) -> Optional[Gpu]:
    """The GPU for a PCI device, or None for the integrated GPU."""
    row = lookup(device.device_id)
    if not row and device.address == IGPU_ADDRESS:
        return None
    return Gpu(index=index, vendor="intel", name=row.get("name"), pci_bus_id=device.address,
               pci_device_id=device.device_id or None, architecture=row.get("architecture"),
               integrated=False if row else None, kernel_driver=device.driver)


def probe(host: Host, inv: Inventory) -> None:
    index = 0
    for device in pci.gpu_devices(host, "intel"):
        gpu = intel_gpu(index, device)
        if gpu is not None:
            inv.gpus.append(gpu)
            index += 1
