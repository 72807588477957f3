"""GPU health: ECC errors, retired pages and row remaps, throttling, PCIe links, persistence, MIG, busy memory."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

from provision.inventory import facts
from provision.doctor.model import Finding, rule

#: NVML clock throttle reasons that mean lost performance (idle, application clocks and the software power cap
#: under load are normal operation).
BAD_THROTTLES = ("hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown")


@rule("DLWS-GPU-001", "error", "GPU has uncorrectable ECC errors")
def ecc_errors(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Uncorrectable (double-bit) ECC errors corrupt results and crash jobs (Xid 48/94/95). A few after a long
    uptime can be retired by a reset; counts that keep growing mean the GPU needs an RMA."""
    for gpu in facts.gpus(inv, "nvidia"):
        ecc = gpu.get("ecc") or {}
        volatile, aggregate = ecc.get("volatile_uncorrected") or 0, ecc.get("aggregate_uncorrected") or 0
        evidence = {"gpu": facts.gpu_label(gpu), "volatile_uncorrected": volatile, "aggregate_uncorrected": aggregate}
        if volatile:
            yield ecc_errors.finding(
                evidence, "drain the GPU and reset it (sudo nvidia-smi -r -i %s); if the aggregate count grows, run "
                "dcgmi diag -r 3 and contact the vendor" % gpu.get("index"), subject=facts.gpu_label(gpu))
        elif aggregate:  # only in the lifetime count: repaired (remapped/retired) unless DLWS-GPU-002 says otherwise
            yield ecc_errors.finding(
                evidence, "watch the count: if it grows, run dcgmi diag -r 3 and contact the vendor",
                title="GPU has had uncorrectable ECC errors in its lifetime", severity="info",
                subject=facts.gpu_label(gpu))


@rule("DLWS-GPU-002", "warning", "GPU memory repair is pending: reset the GPU")
def pending_repairs(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Page retirement (up to Volta) and row remapping (Ampere on) take effect only after a GPU reset; until then
    the bad memory is still in use. A row-remap failure means the GPU ran out of spare rows: replace it."""
    for gpu in facts.gpus(inv, "nvidia"):
        ecc = gpu.get("ecc") or {}
        evidence = {"gpu": facts.gpu_label(gpu), "retired_pages_pending": ecc.get("retired_pages_pending"),
                    "remapped_rows_pending": ecc.get("remapped_rows_pending"),
                    "remapped_rows_failure": ecc.get("remapped_rows_failure")}
        if ecc.get("remapped_rows_failure"):
            yield pending_repairs.finding(evidence, "the GPU has no spare rows left: contact the vendor for an RMA",
                                          title="GPU row remapping failed", severity="error",
                                          subject=facts.gpu_label(gpu))
        elif ecc.get("retired_pages_pending") or ecc.get("remapped_rows_pending"):
            yield pending_repairs.finding(evidence, "drain the GPU, then sudo nvidia-smi -r -i %s (or reboot)"
                                          % gpu.get("index"), subject=facts.gpu_label(gpu))


@rule("DLWS-GPU-003", "warning", "GPU is throttled by a thermal, power-brake or hardware slowdown")
def throttled(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Hardware slowdown, thermal slowdown and power brake cut the clocks far below normal: blocked airflow, a
    failing fan, an overheated room, or a power supply that asserts the brake signal."""
    for gpu in facts.gpus(inv, "nvidia"):
        active = [r for r in gpu.get("throttle_reasons") or [] if r in BAD_THROTTLES]
        if active:
            yield throttled.finding(
                {"gpu": facts.gpu_label(gpu), "throttle_reasons": active, "temperature_c": gpu.get("temperature_c")},
                "check cooling and power: nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER -i %s" % gpu.get("index"),
                subject=facts.gpu_label(gpu))


@rule("DLWS-GPU-004", "warning", "GPU's PCIe link is narrower than it can be")
def narrow_link(inv: Dict[str, Any]) -> Iterator[Finding]:
    """A GPU running at x8 or x4 instead of x16 moves data at half or a quarter of the speed: a slot wired
    narrower than it looks, a riser, or a badly seated card. (The link generation drops at idle to save power,
    so only the width is judged here; inside a virtual machine the reported link is the hypervisor's, so it is
    not judged.)"""
    for gpu in facts.gpus(inv):
        pcie = gpu.get("pcie") or {}
        current, widest = pcie.get("width_current"), pcie.get("width_max")
        if current and widest and current < widest and not facts.os_info(inv).get("virtual_machine"):
            yield narrow_link.finding(
                {"gpu": facts.gpu_label(gpu), "width_current": current, "width_max": widest},
                "reseat the GPU in a slot wired x%d (see the board manual), without a narrower riser" % widest,
                subject=facts.gpu_label(gpu))


@rule("DLWS-GPU-005", "info", "Persistence mode is off on a headless Linux machine")
def persistence_off(inv: Dict[str, Any]) -> Any:
    """Without persistence mode the driver tears the GPU state down whenever no process uses it, so every job
    start pays seconds of re-initialisation. NVIDIA recommends the persistence daemon on servers. GPUs that
    drive a display (a desktop) keep their state anyway and are not judged."""
    off = [facts.gpu_label(g) for g in facts.gpus(inv, "nvidia")
           if g.get("persistence_mode") == "disabled" and g.get("display_active") is False]
    if off and facts.headless(inv):
        return persistence_off.finding({"gpus": off},
                                       "sudo systemctl enable --now nvidia-persistenced")


@rule("DLWS-GPU-006", "info", "MIG is enabled: frameworks see MIG instances, not whole GPUs")
def mig_enabled(inv: Dict[str, Any]) -> Any:
    """With Multi-Instance GPU on, a process sees at most one MIG instance (chosen with CUDA_VISIBLE_DEVICES=MIG-
    <uuid>), never the whole GPU, and multi-GPU training across instances is not supported. Fine for inference
    and small jobs; turn it off for full-GPU training. With MIG on and no instance created, CUDA sees no device
    on that GPU ("no CUDA-capable device is detected"): an error."""
    gpus = facts.gpus(inv, "nvidia")
    enabled = [g for g in gpus if g.get("mig_mode") == "enabled"]
    empty = [g for g in enabled if g.get("mig_devices") == 0]
    if empty:  # MIG on with no instance: CUDA sees no device on that GPU at all
        return _mig_without_instances(gpus, empty)
    on = [facts.gpu_label(g) for g in enabled]
    if on:
        return mig_enabled.finding({"gpus": on, "mig_devices": [g.get("mig_devices") for g in enabled]},
                                   "to use whole GPUs: sudo nvidia-smi -mig 0 (needs the GPUs idle)")


def _mig_without_instances(gpus: List[Dict[str, Any]], empty: List[Dict[str, Any]]) -> Finding:
    """Where every other GPU has MIG off, CUDA counts those alone, numbered from 0: a tool that lists the GPUs with
    nvidia-smi or NVML and opens CUDA's device of that index misses or fails even on a GPU without MIG (what
    wilicc/gpu-burn#122 shows: its run on GPU 2 fails once GPU 0 has MIG on). With MIG devices elsewhere CUDA's
    count depends on the driver (the MIG user guide: with CUDA 11/R450 and CUDA 12/R525 a process enumerates a single
    MIG device), so it is not given."""
    indices = ",".join(str(g.get("index")) for g in empty)
    evidence: Dict[str, Any] = {"gpus": [facts.gpu_label(g) for g in empty], "mig_devices": 0}
    fix = ("create MIG instances (nvidia-smi mig -lgip lists the profiles; sudo nvidia-smi mig -cgi <profile ids> "
           "-C), or turn MIG off: sudo nvidia-smi -i %s -mig 0 (needs the GPU idle)" % indices)
    others = [g for g in gpus if all(g is not e for e in empty)]
    if others and all(g.get("mig_mode") != "enabled" for g in others):
        evidence["cuda_devices"] = "%d of the %d GPUs nvidia-smi lists" % (len(others), len(gpus))
        fix += ("; until then CUDA numbers only the other %d GPUs from 0, so nvidia-smi's GPU indices are not CUDA's "
                "device indices" % len(others))
    return mig_enabled.finding(
        evidence, fix, title="MIG is on but no MIG instances exist: CUDA sees no device on these GPUs",
        severity="error")


@rule("DLWS-GPU-007", "warning", "GPU memory is already taken by other processes")
def busy_memory(inv: Dict[str, Any]) -> Iterator[Finding]:
    """More than half of the GPU's memory is used by running processes: a new job will run out of memory, or a
    stale process (a crashed notebook kernel) still holds it."""
    for gpu in facts.gpus(inv):
        total, used = gpu.get("memory_total_bytes"), gpu.get("memory_used_bytes")
        if total and used and used > total / 2 and (gpu.get("processes") or 0) > 0:
            yield busy_memory.finding(
                {"gpu": facts.gpu_label(gpu), "memory_used": facts.gib(used), "memory_total": facts.gib(total),
                 "processes": gpu.get("processes")},
                "see who holds it: nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv",
                subject=facts.gpu_label(gpu))


@rule("DLWS-GPU-008", "info", "GPU without Tensor Cores or without BF16")
def no_tensor_cores(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Tensor Cores arrived with Volta (and are absent from the GTX 16 series), BF16 with Ampere. Without Tensor
    Cores, mixed precision saves memory but gains little speed; without BF16, use FP16 autocast with a loss scaler
    (torch.autocast(dtype=torch.float16) and GradScaler) instead of bfloat16. Read from the knowledge base's GPU
    table; GPUs it does not know are not judged."""
    from provision.knowledge import gpus as gpu_table

    for gpu in facts.gpus(inv):
        spec = gpu_table.gpu_spec(gpu.get("vendor") or "", gpu.get("name") or "")
        tensor, bf16 = gpu_table.has_tensor_cores(spec), gpu_table.has_bf16(spec)
        if tensor is None or (tensor and bf16 is not False):
            continue
        yield no_tensor_cores.finding(
            {"gpu": facts.gpu_label(gpu), "architecture": (spec or {}).get("architecture"),
             "tensor_core_precisions": (spec or {}).get("tensor_core_precisions")},
            "use FP16 autocast with a gradient scaler, not bfloat16" if tensor else
            "expect little speed-up from mixed precision; FP32 (or FP16 for memory) on this GPU",
            title="GPU has Tensor Cores but no BF16" if tensor else "GPU has no Tensor Cores",
            subject=facts.gpu_label(gpu))


#: Memory a GPU reports used with no process is the driver's own below this (a few MiB to a few hundred).
STRAY_MEMORY_FLOOR = 2 ** 30


@rule("DLWS-GPU-009", "warning", "GPU memory is in use but no process visible here holds it")
def memory_without_process(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The GPU reports memory used (at least 1 GiB and a tenth of it) but no process of this machine's PID
    namespace is listed, or those listed have no /proc entry here. The driver names processes by the host's PIDs
    (NVIDIA/nvidia-docker#179, #1460): inside a container nvidia-smi cannot show them, the container's own
    processes included; on the host the holder is a process that died without releasing the GPU (a zombie, or one
    stuck in the driver). Under MIG memory is per instance and not judged; in WSL the Windows processes that hold
    it are never listed."""
    container = facts.os_info(inv).get("container")
    if facts.os_info(inv).get("wsl"):
        return
    for gpu in facts.gpus(inv, "nvidia"):
        total, used, listed = gpu.get("memory_total_bytes"), gpu.get("memory_used_bytes"), gpu.get("process_list")
        if not total or not used or listed is None or gpu.get("mig_mode") == "enabled":
            continue
        if used < STRAY_MEMORY_FLOOR or used < total / 10 or any(p.get("visible") is not False for p in listed):
            continue
        evidence = {"gpu": facts.gpu_label(gpu), "memory_used": facts.gib(used), "memory_total": facts.gib(total),
                    "processes": [{"pid": p.get("pid"), "name": p.get("name"), "visible": p.get("visible")}
                                  for p in listed], "container": container}
        if container:
            fix = ("the driver lists the holders by host PID, which this container does not see (its own processes "
                   "included): run nvidia-smi on the host, or in a container started with --pid=host, to see who "
                   "holds it")
        else:
            fix = ("see who holds the device files: sudo fuser -v /dev/nvidia* (or sudo lsof /dev/nvidia*), and "
                   "docker ps for GPU containers; end that process; if none does, reset the GPU (sudo nvidia-smi "
                   "-r -i %s) or reboot" % gpu.get("index"))
        yield memory_without_process.finding(evidence, fix, subject=facts.gpu_label(gpu))
