"""NVIDIA driver and GPUs: from NVML where it answers, else from `nvidia-smi -q -x`; failures named precisely.

A broken driver stack is what a doctor is run on, so every way it breaks gets its own status (see model.Nvidia):
the message the driver stack itself printed is kept, and the PCI bus says whether a GPU is there at all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from provision.host import RC_NOT_FOUND, CommandResult, Host
from provision.inventory import pci
from provision.inventory.common import MAX_DIGITS, MAX_GPUS, first_version
from provision.inventory.model import Ecc, Gpu, Inventory, Nvidia, Pcie

if TYPE_CHECKING:  # parsing XML is the nvidia-smi fallback only: import it there
    import xml.etree.ElementTree as ET

SMI_ARGS = ("-q", "-x")
#: Where WSL 2 mounts the Windows driver's tools; a distro's PATH often lacks it.
WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi"

#: (status, what the driver stack says) in order of precedence: the tool's words and NVML's error class names.
FAILURES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("version-mismatch", ("Driver/library version mismatch", "NVMLError_LibRmVersionMismatch",
                          "NVML/RM version mismatch")),
    # A handle that fails for one GPU ("Unable to determine the device handle for GPU ...: Unknown Error") is a GPU
    # gone; "Failed to initialize NVML: Unknown Error" alone is not (a container that lost its cgroup device access
    # after a systemd reload: NVIDIA/nvidia-container-toolkit#48), so it stays an nvml-error.
    ("gpu-lost", ("GPU is lost", "NVMLError_GpuIsLost", "Unable to determine the device handle")),
    ("no-driver", ("couldn't communicate with the NVIDIA driver", "NVMLError_DriverNotLoaded",
                   "Driver Not Loaded")),
)

#: The most of what nvidia-smi printed that goes into a message (its output may be megabytes of garbage).
MAX_MESSAGE = 4096

#: Throttle reasons in the order host_nvml.THROTTLE_REASONS lists them; the XML names them clocks_throttle_reason_<x>
#: (drivers before 535) or clocks_event_reason_<x>, and says display_clocks_setting.
THROTTLE_NAMES = ("gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost",
                  "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting")


def classify_failure(text: str) -> Optional[str]:
    """The status a driver-stack error message means, or None when it is none of the known failures."""
    for status, markers in FAILURES:
        if any(marker in text for marker in markers):
            return status
    return None


def cuda_version_string(value: Any) -> Optional[str]:
    """NVML's CUDA driver version (12040) as nvidia-smi prints it ("12.4")."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return "%d.%d" % (value // 1000, (value % 1000) // 10)


_MODULE_VERSION = re.compile(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d+(?:\.\d+)+)")


def parse_proc_driver_version(text: Optional[str]) -> Optional[str]:
    """'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ...' (or '... Open Kernel Module for
    x86_64  535.104.05 ...') -> the loaded kernel module's version."""
    match = _MODULE_VERSION.search(text or "")
    return match.group(1) if match else None


# --- nvidia-smi -q -x ---------------------------------------------------------------------------------------------


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


# --- NVML (the "nvml" fact, see provision/host_nvml.py) -------------------------------------------------------------


def _sub(data: Any, cls: Any) -> Any:
    """A nested dataclass from the fact's dict, keeping only the fields the model has."""
    data = data if isinstance(data, dict) else {}
    return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def _error_text(error: Any) -> str:
    """'NVMLError_GpuIsLost: GPU is lost' from the fact's {"name", "message"}."""
    if isinstance(error, dict):
        return "%s: %s" % (error.get("name"), error.get("message"))
    return str(error)


def nvml_gpus(fact: Dict[str, Any]) -> Tuple[List[Gpu], List[str]]:
    """GPUs from the NVML fact, and the error message of each GPU NVML could not read."""
    gpus: List[Gpu] = []
    lost: List[str] = []
    for entry in fact.get("gpus") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("error"):
            lost.append("GPU %s: %s" % (entry.get("index"), _error_text(entry["error"])))
            continue
        simple: Dict[str, Any] = {k: entry.get(k) for k in Gpu.__dataclass_fields__
                                  if k not in ("vendor", "pcie", "ecc")}
        simple["index"] = entry.get("index", len(gpus))
        gpus.append(Gpu(vendor="nvidia", pcie=_sub(entry.get("pcie"), Pcie), ecc=_sub(entry.get("ecc"), Ecc),
                        **simple))
    return gpus, lost


# --- the probe ------------------------------------------------------------------------------------------------------


def _fill_from_table(gpu: Gpu) -> None:
    from provision.knowledge import gpus as gpu_table  # only where there is a GPU to look up

    row = gpu_table.nvidia_row(gpu.name)
    if row is None:
        return
    gpu.compute_capability = gpu.compute_capability or row["compute_capability"]
    gpu.architecture = gpu.architecture or row["architecture"]


def _run_smi(host: Host, inv: Inventory) -> CommandResult:
    result = host.run(["nvidia-smi", *SMI_ARGS])
    if result.returncode == RC_NOT_FOUND and inv.os.wsl == 2:
        result = host.run([WSL_SMI, *SMI_ARGS])
    return result


def _nouveau(host: Host, devices: List[pci.PciDevice]) -> bool:
    modules = host.read("/proc/modules") or ""
    loaded = any(line.split(" ", 1)[0] == "nouveau" for line in modules.splitlines())
    return loaded or any(d.driver == "nouveau" for d in devices)


def _fail(inv: Inventory, status: str, message: str) -> None:
    inv.nvidia.status, inv.nvidia.message = status, message
    inv.error("nvidia", "%s: %s" % (status, message))


def _no_answer(host: Host, inv: Inventory, devices: List[pci.PciDevice], nvml_text: str, smi_text: str) -> None:
    """Neither NVML nor nvidia-smi gave GPUs: say why. smi_text is empty when nvidia-smi is not installed."""
    status = classify_failure(smi_text + "\n" + nvml_text)
    if status in (None, "no-driver") and devices and _nouveau(host, devices):
        _fail(inv, "nouveau", "the nouveau driver holds the NVIDIA GPU at %s" % devices[0].address)
    elif status is not None:
        _fail(inv, status, smi_text or nvml_text)
    elif not smi_text and not devices:
        inv.nvidia.status = "no-gpu"  # nothing NVIDIA on the bus and no driver: not a failure
    elif not smi_text:
        _fail(inv, "no-driver", "NVIDIA GPU at %s but no NVIDIA driver: nvidia-smi not found" % devices[0].address)
    else:
        _fail(inv, "nvml-error", smi_text)


def _from_smi(host: Host, inv: Inventory, devices: List[pci.PciDevice], nvml_text: str) -> List[Gpu]:
    result = _run_smi(host, inv)
    if result.ok:
        driver, cuda, gpus, error = parse_nvidia_smi_xml(result.stdout)
        if error is None and (gpus or driver):
            inv.nvidia.source = "nvidia-smi"
            inv.nvidia.driver_version, inv.nvidia.cuda_driver_version = driver, cuda
            return gpus
        _fail(inv, "nvml-error", error or "nvidia-smi -q -x listed no GPUs")
        return []
    smi_text = ""
    if result.returncode != RC_NOT_FOUND:
        smi_text = "\n".join(t for t in (result.stdout.strip(), result.stderr.strip()) if t)
        smi_text = smi_text[:MAX_MESSAGE] or "nvidia-smi exited with status %d" % result.returncode
    _no_answer(host, inv, devices, nvml_text, smi_text)
    return []


#: Where a Linux driver package puts its libraries; inside WSL 2 only /usr/lib/wsl/lib may provide them.
LINUX_DRIVER_LIBS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu")
DRIVER_LIB = re.compile(r"^lib(cuda|nvidia-ml)\.so\.\d+\.\d+")


def wsl_linux_driver(host: Host) -> List[str]:
    """Driver libraries (libcuda.so.535.104.05, ...) that a Linux driver install left inside WSL 2."""
    found: List[str] = []
    for folder in LINUX_DRIVER_LIBS:
        found.extend("%s/%s" % (folder, name) for name in host.listdir(folder) or [] if DRIVER_LIB.match(name))
    return found


def _container_toolkit(host: Host) -> Optional[str]:
    if not host.fact("which", "nvidia-ctk"):
        return None
    result = host.run(["nvidia-ctk", "--version"])
    return first_version(result.stdout) if result.ok else None


def probe(host: Host, inv: Inventory) -> None:
    nv = inv.nvidia = Nvidia()
    nv.kernel_module_version = parse_proc_driver_version(host.read("/proc/driver/nvidia/version"))
    devices = pci.gpu_devices(host, "nvidia")
    nv.pci_gpus = len(devices) if host.listdir(pci.PCI_DEVICES) is not None else None
    if inv.os.wsl == 2:
        nv.wsl_linux_driver = wsl_linux_driver(host)
    if not devices and nv.kernel_module_version is None and inv.os.wsl != 2 \
            and host.listdir(pci.PCI_DEVICES) is not None:
        nv.status = "no-gpu"  # nothing NVIDIA on a readable PCI bus, no driver: spare NVML's import and nvidia-smi
        nv.container_toolkit = _container_toolkit(host)
        return
    fact = host.fact("nvml")
    fact = fact if isinstance(fact, dict) else {}
    if isinstance(fact.get("gpus"), list) and len(fact["gpus"]) > MAX_GPUS:  # a corrupt or hostile nvml.json: ask nvidia-smi instead
        inv.error("nvidia", "NVML lists more than %d GPUs: its answer is unknown" % MAX_GPUS)
        fact = {}
    lost: List[str] = []
    if not fact.get("error") and (fact.get("gpus") or fact.get("driver_version")):
        nv.source = "nvml"  # NVML answered: no command needed
        nv.driver_version = fact.get("driver_version")
        nv.cuda_driver_version = cuda_version_string(fact.get("cuda_driver_version"))
        gpus, lost = nvml_gpus(fact)
    else:
        gpus = _from_smi(host, inv, devices, _error_text(fact["error"]) if fact.get("error") else "")
    for gpu in gpus:
        _fill_from_table(gpu)
    inv.gpus.extend(gpus)
    nv.container_toolkit = _container_toolkit(host)
    if nv.source is None:
        return
    if lost:
        _fail(inv, classify_failure(" ".join(lost)) or "gpu-lost", "; ".join(lost))  # a GPU without a handle
    elif nv.status is None:
        nv.status = "ok"
    # In a container NVIDIA_VISIBLE_DEVICES may hide GPUs that sysfs still lists: no conclusion there.
    if len(devices) > len(gpus) + len(lost) and not inv.os.container:
        inv.error("nvidia", "PCI lists %d NVIDIA GPUs but the driver reports %d: a GPU may have fallen off the bus "
                  "(look for Xid 79 in dmesg)" % (len(devices), len(gpus) + len(lost)))
