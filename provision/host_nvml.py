"""What NVML (through pynvml, the nvidia-ml-py package) says about the driver and each GPU, as plain JSON data.

Part of the host layer: only the LiveHost calls this (the "nvml" fact, imported when first asked); probes read its
answer through host.fact("nvml"), so a snapshot replays it from nvml.json. Never raises: a failure to load or
initialise NVML is an "error" entry, a metric a GPU does not support is None, and a GPU whose handle fails (fallen off
the bus) is an entry with its own "error".
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

#: Active clock throttle ("clocks event") reasons: our name -> the pynvml constant holding its bit.
THROTTLE_REASONS: Tuple[Tuple[str, str], ...] = (
    ("gpu_idle", "nvmlClocksThrottleReasonGpuIdle"),
    ("applications_clocks_setting", "nvmlClocksThrottleReasonApplicationsClocksSetting"),
    ("sw_power_cap", "nvmlClocksThrottleReasonSwPowerCap"),
    ("hw_slowdown", "nvmlClocksThrottleReasonHwSlowdown"),
    ("sync_boost", "nvmlClocksThrottleReasonSyncBoost"),
    ("sw_thermal_slowdown", "nvmlClocksThrottleReasonSwThermalSlowdown"),
    ("hw_thermal_slowdown", "nvmlClocksThrottleReasonHwThermalSlowdown"),
    ("hw_power_brake_slowdown", "nvmlClocksThrottleReasonHwPowerBrakeSlowdown"),
    ("display_clock_setting", "nvmlClocksThrottleReasonDisplayClockSetting"),
)


def _error(exc: BaseException) -> Dict[str, str]:
    """pynvml raises one subclass per NVML return code (NVMLError_GpuIsLost, ...): its name is the diagnosis."""
    return {"name": type(exc).__name__, "message": str(exc)}


def _failed(exc: BaseException) -> Dict[str, Any]:
    return {"error": _error(exc), "driver_version": None, "cuda_driver_version": None, "gpus": []}


def _text(value: Any) -> Any:
    """Older pynvml releases return bytes where newer ones return str."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _state(value: Optional[int], enabled: int = 1) -> Optional[str]:
    if value is None:
        return None
    return "enabled" if value == enabled else "disabled"


def decode_throttle_reasons(pynvml: Any, mask: Optional[int]) -> Optional[List[str]]:
    """The names of the bits set in a throttle-reason mask, using pynvml's own constants."""
    if mask is None:
        return None
    return [name for name, const in THROTTLE_REASONS if mask & int(getattr(pynvml, const, 0) or 0)]


def _gpu(pynvml: Any, call: Callable[..., Any], index: int, handle: Any) -> Dict[str, Any]:
    pci = call("nvmlDeviceGetPciInfo", handle)
    memory = call("nvmlDeviceGetMemoryInfo", handle)
    cc = call("nvmlDeviceGetCudaComputeCapability", handle)
    power_mw = call("nvmlDeviceGetEnforcedPowerLimit", handle)
    ecc = call("nvmlDeviceGetEccMode", handle)
    mig = call("nvmlDeviceGetMigMode", handle)
    rows = call("nvmlDeviceGetRemappedRows", handle)
    pending_pages = call("nvmlDeviceGetRetiredPagesPendingStatus", handle)
    processes = call("nvmlDeviceGetComputeRunningProcesses", handle)
    graphics = call("nvmlDeviceGetGraphicsRunningProcesses", handle)
    display = call("nvmlDeviceGetDisplayActive", handle)
    unc, cor = pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED
    volatile, aggregate = pynvml.NVML_VOLATILE_ECC, pynvml.NVML_AGGREGATE_ECC
    return {
        "index": index,
        "error": None,
        "name": _text(call("nvmlDeviceGetName", handle)),
        "uuid": _text(call("nvmlDeviceGetUUID", handle)),
        "pci_bus_id": _text(pci.busId) if pci is not None else None,
        # pciDeviceId packs device id (high 16 bits) and vendor id (low 16 bits, 0x10de).
        "pci_device_id": "0x%04x" % (pci.pciDeviceId >> 16) if pci is not None else None,
        "memory_total_bytes": memory.total if memory is not None else None,
        "memory_used_bytes": memory.used if memory is not None else None,
        "compute_capability": "%d.%d" % tuple(cc) if cc is not None else None,
        "pcie": {
            "gen_current": call("nvmlDeviceGetCurrPcieLinkGeneration", handle),
            "gen_max": call("nvmlDeviceGetMaxPcieLinkGeneration", handle),
            "width_current": call("nvmlDeviceGetCurrPcieLinkWidth", handle),
            "width_max": call("nvmlDeviceGetMaxPcieLinkWidth", handle),
        },
        "power_limit_watts": power_mw / 1000.0 if power_mw is not None else None,
        "temperature_c": call("nvmlDeviceGetTemperature", handle, pynvml.NVML_TEMPERATURE_GPU),
        "ecc": {
            "mode": _state(ecc[0]) if ecc is not None else None,
            "volatile_uncorrected": call("nvmlDeviceGetTotalEccErrors", handle, unc, volatile),
            "aggregate_uncorrected": call("nvmlDeviceGetTotalEccErrors", handle, unc, aggregate),
            "volatile_corrected": call("nvmlDeviceGetTotalEccErrors", handle, cor, volatile),
            "aggregate_corrected": call("nvmlDeviceGetTotalEccErrors", handle, cor, aggregate),
            "retired_pages_pending": bool(pending_pages) if pending_pages is not None else None,
            # (corrected rows, uncorrected rows, remapping pending, remapping failed)
            "remapped_rows_pending": bool(rows[2]) if rows is not None else None,
            "remapped_rows_failure": bool(rows[3]) if rows is not None else None,
        },
        "mig_mode": _state(mig[0], pynvml.NVML_DEVICE_MIG_ENABLE) if mig is not None else None,
        "persistence_mode": _state(call("nvmlDeviceGetPersistenceMode", handle)),
        "display_active": bool(display) if display is not None else None,
        "throttle_reasons": decode_throttle_reasons(
            pynvml, call("nvmlDeviceGetCurrentClocksThrottleReasons", handle)),
        "processes": len(processes) if processes is not None else None,
        "process_list": _process_list(call, processes, graphics),
        **_mig_devices(call, handle if mig is not None and mig[0] == pynvml.NVML_DEVICE_MIG_ENABLE else None),
    }


#: The most processes listed per GPU: more is no real machine's, and each is looked up in /proc.
MAX_PROCESSES = 64


def _process_list(call: Callable[..., Any], compute: Any, graphics: Any) -> Optional[List[Dict[str, Any]]]:
    """Compute (C) and graphics (G) processes as nvidia-smi lists them: pid, type, program name, memory used (None
    where NVML cannot say, as under MIG or on Windows)."""
    if compute is None and graphics is None:
        return None
    listed: Dict[int, Dict[str, Any]] = {}
    for kind, processes in (("C", compute or []), ("G", graphics or [])):
        for proc in list(processes)[:MAX_PROCESSES]:
            pid = getattr(proc, "pid", None)
            if not isinstance(pid, int):
                continue
            if pid in listed:
                listed[pid]["type"] = "C+G"
                continue
            name = _text(call("nvmlSystemGetProcessName", pid))
            used = getattr(proc, "usedGpuMemory", None)
            listed[pid] = {"pid": pid, "type": kind, "name": name.rsplit("/", 1)[-1] if isinstance(name, str)
                           else None, "used_memory_bytes": used if isinstance(used, int) else None}
    return list(listed.values())[:MAX_PROCESSES]


def _mig_devices(call: Callable[..., Any], handle: Any) -> Dict[str, Any]:
    """How many MIG devices (GPU instance + compute instance) exist on a GPU with MIG on (handle None: MIG off or
    unknown), and their UUIDs as CUDA_VISIBLE_DEVICES names them (None where one cannot be read)."""
    slots = call("nvmlDeviceGetMaxMigDeviceCount", handle) if handle is not None else None
    if not isinstance(slots, int):
        return {"mig_devices": None, "mig_uuids": None}
    handles = [h for h in (call("nvmlDeviceGetMigDeviceHandleByIndex", handle, i)
                           for i in range(min(slots, MAX_PROCESSES))) if h is not None]
    uuids = [_text(call("nvmlDeviceGetUUID", h)) for h in handles]
    return {"mig_devices": len(handles), "mig_uuids": uuids if all(isinstance(u, str) for u in uuids) else None}


def query_nvml(max_gpus: int) -> Dict[str, Any]:
    """Initialise NVML, read the driver and the first max_gpus GPUs, shut NVML down; see the module docstring."""
    try:
        import pynvml
    except ImportError as exc:  # ModuleNotFoundError included: one name for "nvidia-ml-py is not installed"
        return {"error": {"name": "ImportError", "message": str(exc)}, "driver_version": None,
                "cuda_driver_version": None, "gpus": []}

    def call(func: str, *args: Any) -> Any:
        """One metric; None where NVML lacks it (NotSupported, NoPermission, ...) or pynvml is too old to have it."""
        try:
            return getattr(pynvml, func)(*args)
        except (pynvml.NVMLError, AttributeError):
            return None

    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, _LibRmVersionMismatch, or an OSError
        return _failed(exc)
    try:
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as exc:
            return _failed(exc)
        gpus = []
        for index in range(min(count, max_gpus)):  # a driver in a bad state may report any count
            try:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            except pynvml.NVMLError as exc:  # GPU is lost, unknown error: the others still report
                gpus.append({"index": index, "error": _error(exc)})
                continue
            gpus.append(_gpu(pynvml, call, index, handle))
        return {
            "error": None,
            "driver_version": _text(call("nvmlSystemGetDriverVersion")),
            "cuda_driver_version": call("nvmlSystemGetCudaDriverVersion"),
            "gpus": gpus,
        }
    finally:
        call("nvmlShutdown")
