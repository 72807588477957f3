"""`nvidia-smi -q -x`, the NVIDIA probe's fallback where NVML does not answer: its XML as the model's GPUs.

Every value is optional (drivers from 410 to 580 name their fields differently), and garbage gives an error, never
an exception.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from provision.inventory.common import MAX_DIGITS, MAX_GPUS
from provision.inventory.model import Ecc, Gpu, GpuProcess, Pcie

if TYPE_CHECKING:  # parsing XML is the fallback only: imported where it parses
    import xml.etree.ElementTree as ET

#: Throttle reasons in the order host_nvml.THROTTLE_REASONS lists them; the XML names them clocks_throttle_reason_<x>
#: (drivers before 535) or clocks_event_reason_<x>, and says display_clocks_setting.
THROTTLE_NAMES = ("gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost",
                  "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting")



def _value(node: Optional[ET.Element], path: str) -> Optional[str]:
    """The text at path, None where missing, empty or 'N/A' (and its other spellings of unknown)."""
    found = node.find(path) if node is not None else None
    text = (found.text or "").strip() if found is not None else ""
    if not text or text in ("N/A", "Unknown Error", "[N/A]") or text.startswith(("Requested functionality", "Not")):
        return None
    return text


def _number(text: Optional[str]) -> Optional[float]:
    """'81920 MiB', '16x', '27 C', '500.00 W' -> the leading number."""
    match = re.match(r"\s*(-?\d+(?:\.\d+)?)", text or "")
    if not match or len(match.group(1)) > MAX_DIGITS:  # a longer one is no reading, and may be inf as a float
        return None
    return float(match.group(1))


def _int(text: Optional[str]) -> Optional[int]:
    number = _number(text)
    return int(number) if number is not None else None


def _mib(text: Optional[str]) -> Optional[int]:
    number = _number(text)
    return int(number * 1024 * 1024) if number is not None else None


def _yes(text: Optional[str]) -> Optional[bool]:
    return {"yes": True, "no": False}.get((text or "").lower())


def _mode(text: Optional[str]) -> Optional[str]:
    return {"enabled": "enabled", "disabled": "disabled"}.get((text or "").lower())


def _flag(text: Optional[str]) -> Optional[bool]:
    mode = _mode(text)
    return None if mode is None else mode == "enabled"


def _sum(node: Optional[ET.Element], paths: Tuple[str, ...]) -> Optional[int]:
    """The sum of the counters present; None when none is."""
    values = [_int(_value(node, path)) for path in paths]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


#: ECC counters: drivers up to 525 report single_bit (corrected) / double_bit (uncorrected) totals, newer ones
#: SRAM and DRAM counts (the SRAM uncorrectable count split into parity and SEC-DED from 550 on).
_UNCORRECTED = ("double_bit/total", "sram_uncorrectable", "sram_uncorrectable_parity", "sram_uncorrectable_secded",
                "dram_uncorrectable")
_CORRECTED = ("single_bit/total", "sram_correctable", "dram_correctable")


def _ecc(gpu: ET.Element) -> Ecc:
    errors = gpu.find("ecc_errors")
    volatile = errors.find("volatile") if errors is not None else None
    aggregate = errors.find("aggregate") if errors is not None else None
    rows = gpu.find("remapped_rows")
    return Ecc(
        mode=_mode(_value(gpu, "ecc_mode/current_ecc")),
        volatile_uncorrected=_sum(volatile, _UNCORRECTED),
        aggregate_uncorrected=_sum(aggregate, _UNCORRECTED),
        volatile_corrected=_sum(volatile, _CORRECTED),
        aggregate_corrected=_sum(aggregate, _CORRECTED),
        retired_pages_pending=_yes(_value(gpu, "retired_pages/pending_retirement")),
        remapped_rows_pending=_yes(_value(rows, "remapped_row_pending")),
        remapped_rows_failure=_yes(_value(rows, "remapped_row_failure")),
    )


def _throttle(gpu: ET.Element) -> Optional[List[str]]:
    block = gpu.find("clocks_event_reasons")
    prefix = "clocks_event_reason_"
    if block is None:
        block, prefix = gpu.find("clocks_throttle_reasons"), "clocks_throttle_reason_"
    if block is None:
        return None
    active = set()
    for child in block:
        name = child.tag[len(prefix):] if child.tag.startswith(prefix) else child.tag
        if (child.text or "").strip() == "Active":
            active.add(name.replace("display_clocks_setting", "display_clock_setting"))
    return [name for name in THROTTLE_NAMES if name in active]


def _processes(gpu: ET.Element) -> Optional[int]:
    """Compute processes (type C or C+G); None where the XML has no process list."""
    block = gpu.find("processes")
    if block is None:
        return None
    return sum(1 for p in block.findall("process_info") if "C" in (_value(p, "type") or ""))


#: The most processes kept per GPU (each is looked up in /proc).
MAX_PROCESSES = 64


def _process_list(gpu: ET.Element) -> Optional[List[GpuProcess]]:
    """Every process_info (pid, type C/G/C+G, the program's name without its folder, used memory)."""
    block = gpu.find("processes")
    if block is None:
        return None
    listed = []
    for proc in block.findall("process_info")[:MAX_PROCESSES]:
        pid = _int(_value(proc, "pid"))
        if pid is None or pid < 0:
            continue
        name = _value(proc, "process_name")
        listed.append(GpuProcess(pid=pid, type=_value(proc, "type"),
                                 name=name.replace("\\", "/").rsplit("/", 1)[-1] if name else None,
                                 used_memory_bytes=_mib(_value(proc, "used_memory"))))
    return listed


def _mig_devices(gpu: ET.Element) -> Optional[int]:
    """MIG devices listed under mig_devices, where MIG is on."""
    if _mode(_value(gpu, "mig_mode/current_mig")) != "enabled":
        return None
    block = gpu.find("mig_devices")
    return None if block is None else len(block.findall("mig_device"))


def _mig_uuids(gpu: ET.Element) -> Optional[List[str]]:
    """The MIG devices' UUIDs where every mig_device names one (some drivers leave <uuid> out: then None)."""
    if _mode(_value(gpu, "mig_mode/current_mig")) != "enabled":
        return None
    uuids = [_value(device, "uuid") for device in gpu.findall("mig_devices/mig_device")[:MAX_PROCESSES]]
    return [u for u in uuids if u] if uuids and all(uuids) else None


_LISTED_GPU = re.compile(r"^GPU (\d+): .*\(UUID: (GPU-[0-9A-Za-z-]{1,64})\)\s*$")
_LISTED_MIG = re.compile(r"^\s+MIG .*Device\s+\d+: \(UUID: (MIG-[0-9A-Za-z/-]{1,96})\)\s*$")


def parse_mig_listing(text: str) -> Dict[str, List[str]]:
    """`nvidia-smi -L` -> the MIG device UUIDs under each GPU's UUID: 'GPU 0: NVIDIA A100 80GB PCIe (UUID: GPU-...)'
    followed by indented '  MIG 3g.40gb     Device  0: (UUID: MIG-...)' lines (pre-R470: MIG-GPU-<uuid>/<gi>/<ci>)."""
    listed: Dict[str, List[str]] = {}
    current: Optional[str] = None
    for line in text.splitlines()[:4096]:
        gpu, mig = _LISTED_GPU.match(line), _LISTED_MIG.match(line)
        if gpu:
            current = gpu.group(2)
            listed.setdefault(current, [])
        elif mig and current is not None and len(listed[current]) < MAX_PROCESSES:
            listed[current].append(mig.group(1))
    return listed


def _power_limit(gpu: ET.Element) -> Optional[float]:
    for path in ("gpu_power_readings/current_power_limit", "power_readings/enforced_power_limit",
                 "power_readings/power_limit"):
        watts = _number(_value(gpu, path))
        if watts is not None:
            return watts
    return None


def _xml_gpu(index: int, gpu: ET.Element) -> Gpu:
    device_id = _value(gpu, "pci/pci_device_id")  # "20B210DE": device id, then vendor id
    link = gpu.find("pci/pci_gpu_link_info")
    return Gpu(
        index=index,
        vendor="nvidia",
        name=_value(gpu, "product_name"),
        uuid=_value(gpu, "uuid"),
        pci_bus_id=_value(gpu, "pci/pci_bus_id") or gpu.get("id"),
        pci_device_id="0x%s" % device_id[:4].lower() if device_id and len(device_id) == 8 else None,
        memory_total_bytes=_mib(_value(gpu, "fb_memory_usage/total")),
        memory_used_bytes=_mib(_value(gpu, "fb_memory_usage/used")),
        compute_capability=_value(gpu, "compute_cap"),
        architecture=_value(gpu, "product_architecture"),
        pcie=Pcie(gen_current=_int(_value(link, "pcie_gen/current_link_gen")),
                  gen_max=_int(_value(link, "pcie_gen/max_link_gen")),
                  width_current=_int(_value(link, "link_widths/current_link_width")),
                  width_max=_int(_value(link, "link_widths/max_link_width"))),
        power_limit_watts=_power_limit(gpu),
        temperature_c=_number(_value(gpu, "temperature/gpu_temp")),
        ecc=_ecc(gpu),
        mig_mode=_mode(_value(gpu, "mig_mode/current_mig")),
        persistence_mode=_mode(_value(gpu, "persistence_mode")),
        display_active=_flag(_value(gpu, "display_active")),
        throttle_reasons=_throttle(gpu),
        processes=_processes(gpu),
        process_list=_process_list(gpu),
        mig_devices=_mig_devices(gpu),
        mig_uuids=_mig_uuids(gpu),
    )


def parse_nvidia_smi_xml(text: str) -> Tuple[Optional[str], Optional[str], List[Gpu], Optional[str]]:
    """`nvidia-smi -q -x` -> (driver version, CUDA version, GPUs, error); garbage gives an error, never raises."""
    import xml.etree.ElementTree as ET

    try:
        # The output names an external DTD (nvsmi_device_v12.dtd); ElementTree never fetches it.
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        return None, None, [], "nvidia-smi -q -x printed unreadable XML (%s)" % exc
    if root.tag != "nvidia_smi_log":
        return None, None, [], "nvidia-smi -q -x printed <%s>, not <nvidia_smi_log>" % root.tag
    nodes = root.findall("gpu")
    if len(nodes) > MAX_GPUS:
        return None, None, [], "nvidia-smi -q -x lists more than %d GPUs" % MAX_GPUS
    gpus = [_xml_gpu(i, gpu) for i, gpu in enumerate(nodes)]
    return _value(root, "driver_version"), _value(root, "cuda_version"), gpus, None
