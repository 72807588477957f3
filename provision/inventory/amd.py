"""AMD GPUs from sysfs, named from their PCI ids, and the installed ROCm release.

An AMD GPU's own strings seldom name the product (an MI250X calls itself "Aldebaran" or a board part number), so the
name, gfx target and architecture come from the PCI device and revision ids through the amd_gpus table. An MI250X is two
PCI devices (two GCDs): each is reported as a GPU, as rocm-smi does.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional

from provision import knowledge
from provision.host import Host
from provision.inventory import pci
from provision.inventory.common import read_int, read_line
from provision.inventory.model import Gpu, Inventory, Rocm

GIB = 1024 ** 3
DEFAULT_ROCM = "/opt/rocm"


def lookup(device_id: str, revision: Optional[str] = None) -> Dict[str, Any]:
    """What the amd_gpus table says of a PCI device id ('0x740c'), refined by the revision id when it names the product.

    Empty when the id is not in the table.
    """
    row = knowledge.load("amd_gpus")["devices"].get(device_id.lower())
    if row is None:
        return {}
    facts = {key: row.get(key) for key in ("name", "gfx_target", "architecture", "memory_gib", "integrated")}
    facts.update((row.get("revisions") or {}).get((revision or "").lower(), {}))
    return facts


_ROCM_VERSION = re.compile(r"^\s*(\d+\.\d+(?:\.\d+)?)")


def parse_rocm_version(text: str) -> Optional[str]:
    """'6.0.2-115' (/opt/rocm/.info/version) -> '6.0.2': the build number after '-' is not part of the release."""
    match = _ROCM_VERSION.match(text or "")
    return match.group(1) if match else None


#: The kernel's KFD topology: one folder per CPU and GPU node the ROCm runtime enumerates.
KFD_NODES = "/sys/class/kfd/kfd/topology/nodes"
#: More nodes than any machine has: a listing beyond it is not read.
MAX_KFD_NODES = 256


def parse_kfd_properties(text: Optional[str]) -> Dict[str, int]:
    """A KFD node's properties file ('gfx_target_version 110501' per line, amdkfd kfd_topology.c node_show) as
    name -> number; lines that are not a name and a decimal are skipped."""
    props: Dict[str, int] = {}
    for line in (text or "").splitlines()[:200]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and len(parts[1]) <= 20:
            props[parts[0]] = int(parts[1])
    return props


def gfx_name(version: int) -> Optional[str]:
    """KFD's gfx_target_version (major * 10000 + minor * 100 + stepping) as the LLVM target: 110501 -> 'gfx1151',
    90010 -> 'gfx90a'; None for 0 (a CPU node) or a value no target has."""
    major, minor, stepping = version // 10000, version // 100 % 100, version % 100
    if not 6 <= major <= 99 or minor > 15 or stepping > 15:
        return None
    return "gfx%d%x%x" % (major, minor, stepping)


def kfd_gfx_targets(host: Host) -> Dict[str, str]:
    """PCI address ('0000:c6:00.0') -> gfx target of each GPU node KFD lists: what the ROCm runtime itself reads
    (HSA_OVERRIDE_GFX_VERSION changes the runtime's view, not this), for any GPU the amd_gpus table may lack (an
    APU, a new chip). location_id is the PCI bus and devfn (pci_dev_id), bits 28-31 a partition's node."""
    names = host.listdir(KFD_NODES) or []
    found: Dict[str, str] = {}
    for node in names[:MAX_KFD_NODES]:
        props = parse_kfd_properties(host.read("%s/%s/properties" % (KFD_NODES, node)))
        gfx = gfx_name(props.get("gfx_target_version", 0)) if props.get("simd_count") else None
        location = props.get("location_id")
        if gfx and location is not None:
            address = "%04x:%02x:%02x.%x" % (props.get("domain", 0) & 0xFFFF, location >> 8 & 0xFF,
                                             location >> 3 & 0x1F, location & 0x7)
            found.setdefault(address, gfx)
    return found


def amd_gpu(host: Host, index: int, device: pci.PciDevice, kfd: Optional[Dict[str, str]] = None) -> Gpu:
    base = "%s/%s/" % (pci.PCI_DEVICES, device.address)
    facts = lookup(device.device_id, read_line(host, base + "revision"))
    memory = read_int(host, base + "mem_info_vram_total")  # amdgpu's own count, in bytes
    if memory is None and facts.get("memory_gib"):
        memory = int(facts["memory_gib"] * GIB)
    integrated = facts.get("integrated")
    if facts and integrated is None:
        integrated = False  # every table row is a discrete GPU unless it says otherwise
    # the kernel's own answer wins over the PCI id table
    gfx_target = (kfd or {}).get(device.address.lower()) or facts.get("gfx_target")
    return Gpu(index=index, vendor="amd", name=facts.get("name"), pci_bus_id=device.address,
               pci_device_id=device.device_id or None, gfx_target=gfx_target,
               architecture=facts.get("architecture"), memory_total_bytes=memory, kernel_driver=device.driver,
               integrated=integrated)


def rocm(host: Host) -> Rocm:
    """The ROCm release under ROCM_PATH, else /opt/rocm (a link to /opt/rocm-X.Y.Z where the packages install it)."""
    for root in (host.env("ROCM_PATH"), DEFAULT_ROCM):
        if not root:
            continue
        text = host.read(os.path.join(root, ".info", "version"))
        if text is not None:
            return Rocm(version=parse_rocm_version(text), path=host.realpath(root) or root)
    return Rocm()


def parse_rocm_smi_names(text: str) -> List[Optional[str]]:
    """Product names from `rocm-smi --showproductname --json`, in card order ("Card series", or "Card Series" in
    newer releases); [] for anything that is not that JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    cards = sorted((k for k in data if re.fullmatch(r"card\d{1,9}", k)), key=lambda k: int(k[4:]))
    names = []
    for card in cards:
        fields = {str(k).lower(): v for k, v in (data[card] or {}).items()} if isinstance(data[card], dict) else {}
        names.append(fields.get("card series") or None)
    return names


def _names_from_rocm_smi(host: Host, gpus: List[Gpu]) -> None:
    """Name the GPUs the table does not know from rocm-smi, where it is installed and lists as many cards."""
    if all(g.name for g in gpus) or not host.fact("which", "rocm-smi"):
        return
    names = parse_rocm_smi_names(host.run(["rocm-smi", "--showproductname", "--json"]).stdout)
    if len(names) == len(gpus):
        for gpu, name in zip(gpus, names):
            gpu.name = gpu.name or name


def probe(host: Host, inv: Inventory) -> None:
    devices = pci.gpu_devices(host, "amd")
    kfd = kfd_gfx_targets(host) if devices else {}  # read only where there is an AMD GPU to name
    gpus = [amd_gpu(host, index, device, kfd) for index, device in enumerate(devices)]
    _names_from_rocm_smi(host, gpus)
    inv.gpus.extend(gpus)
    inv.rocm = rocm(host)
