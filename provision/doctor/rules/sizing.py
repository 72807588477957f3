"""Sizing: RAM against GPU memory, swap, free disk space, where the data lives, cores per GPU, power."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional

from provision.inventory import facts
from provision.doctor.model import Finding, rule, word

#: Free space below which a disk is a problem (checkpoints, wheels of several GB, pip and dataset caches).
LOW_FREE_ERROR = 5 * facts.GiB
LOW_FREE_WARNING = 20 * facts.GiB
#: Smaller mounts are not data disks (/boot, EFI partitions, small scratch volumes).
MIN_DATA_DISK = 32 * facts.GiB
#: Physical cores per GPU below which data loading usually starves the GPU.
MIN_CORES_PER_GPU = 4


@rule("DLWS-SYS-001", "warning", "RAM is smaller than the GPUs' total memory")
def ram_below_gpu_memory(inv: Dict[str, Any]) -> Any:
    """Loading a checkpoint, pinned-memory data loaders and DeepSpeed/FSDP CPU offload stage tensors in RAM; with
    less RAM than GPU memory, large models cannot even be loaded. The usual advice is at least as much RAM as
    GPU memory, better twice."""
    ram = (inv.get("memory") or {}).get("total_bytes")
    gpu_memory = sum(g.get("memory_total_bytes") or 0 for g in facts.gpus(inv) if not g.get("integrated"))
    if ram and gpu_memory and ram < gpu_memory:
        return ram_below_gpu_memory.finding({"ram": facts.gib(ram), "gpu_memory_total": facts.gib(gpu_memory)},
                                            "add RAM to at least %s" % facts.gib(gpu_memory))


@rule("DLWS-SYS-002", "warning", "No swap space")
def no_swap(inv: Dict[str, Any]) -> Any:
    """Without swap, a brief spike of memory use (a checkpoint save, a data-loader worker fork) kills the job
    through the OOM killer instead of slowing it down for a moment."""
    memory = inv.get("memory") or {}
    if memory.get("swap_total_bytes") == 0 and facts.os_info(inv).get("system") == "linux" \
            and not facts.os_info(inv).get("container"):
        return no_swap.finding({"swap_total": "0"},
                               "sudo fallocate -l 16G /swapfile && sudo chmod 600 /swapfile && sudo mkswap "
                               "/swapfile && sudo swapon /swapfile && echo '/swapfile none swap sw 0 0' | "
                               "sudo tee -a /etc/fstab")


def _watched_disks(inv: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The root, the home folder's mount and the largest other data disk."""
    disks = [d for d in inv.get("disks") or [] if d.get("total_bytes")]
    chosen = [d for d in disks if d.get("mountpoint") in ("/", "/home")]
    others = [d for d in disks if d not in chosen and d.get("media") != "network" and d.get("fstype") != "vfat"
              and not (d.get("mountpoint") or "").startswith("/boot") and d["total_bytes"] >= MIN_DATA_DISK]
    if others:
        chosen.append(max(others, key=lambda d: d["total_bytes"]))
    return chosen


@rule("DLWS-SYS-003", "warning", "Little free disk space")
def low_disk(inv: Dict[str, Any]) -> Iterator[Finding]:
    """A framework install pulls several GB of CUDA wheels, and checkpoints and caches fill disks fast; a full
    root disk breaks package managers and logins alike."""
    for disk in _watched_disks(inv):
        free = disk.get("free_bytes")
        if free is None or free >= LOW_FREE_WARNING:
            continue
        yield low_disk.finding(
            {"mountpoint": disk.get("mountpoint"), "free": facts.gib(free), "total": facts.gib(disk.get("total_bytes"))},
            "free space on %s: pip cache purge; conda clean -a; docker system prune; remove old checkpoints "
            "(du -xh %s | sort -h | tail)" % (word(disk.get("mountpoint")), word(disk.get("mountpoint"))),
            severity="error" if free < LOW_FREE_ERROR else "warning", subject=disk.get("mountpoint"))


def _largest(disks: List[Dict[str, Any]], media: str) -> Optional[Dict[str, Any]]:
    matching = [d for d in disks if d.get("media") == media and d.get("total_bytes")]
    return max(matching, key=lambda d: d["total_bytes"]) if matching else None


@rule("DLWS-SYS-004", "info", "The largest data disk is a spinning disk while an NVMe drive has room")
def data_on_hdd(inv: Dict[str, Any]) -> Any:
    """Random reads of many small files (image datasets) on a hard disk run at a few MB/s and starve the GPUs; an
    NVMe drive serves them a hundred times faster."""
    disks = inv.get("disks") or []
    hdd, nvme = _largest(disks, "hdd"), _largest(disks, "nvme")
    if hdd and nvme and hdd.get("total_bytes", 0) > nvme.get("total_bytes", 0) \
            and (nvme.get("free_bytes") or 0) >= 100 * facts.GiB:
        return data_on_hdd.finding(
            {"hdd": hdd.get("mountpoint"), "nvme": nvme.get("mountpoint"), "nvme_free": facts.gib(nvme.get("free_bytes"))},
            "keep the active dataset on %s (the NVMe drive); use %s for archives" % (word(nvme.get("mountpoint")),
                                                                                   word(hdd.get("mountpoint"))))


@rule("DLWS-SYS-005", "warning", "Few CPU cores per GPU")
def few_cores(inv: Dict[str, Any]) -> Any:
    """Data loading, augmentation and the Python side of training need CPU: with fewer than 4 physical cores per
    GPU the GPUs wait for data."""
    cores = (inv.get("cpu") or {}).get("physical_cores")
    count = len([g for g in facts.gpus(inv) if not g.get("integrated")])
    if cores and count and cores / count < MIN_CORES_PER_GPU:
        return few_cores.finding({"physical_cores": cores, "gpus": count},
                                 "use fewer data-loader workers per GPU, preprocess datasets offline, or move "
                                 "to a CPU with at least %d cores" % (MIN_CORES_PER_GPU * count))


@rule("DLWS-SYS-006", "info", "Power budget of the GPUs")
def power_budget(inv: Dict[str, Any]) -> Any:
    """The GPUs' power limits add up; transient spikes of modern GPUs exceed them for milliseconds. A common sizing
    rule for a workstation is a PSU rated for 1.5x the GPUs' total power limit plus 300 W for the CPU and the rest;
    servers have their own PSU sizing by the vendor."""
    limits: List[float] = [g["power_limit_watts"] for g in facts.gpus(inv) if g.get("power_limit_watts")]
    if len(limits) >= 1 and not facts.os_info(inv).get("virtual_machine"):
        total = sum(limits)
        return power_budget.finding({"gpu_power_limits_w": total, "gpus": len(limits)},
                                    "for a workstation: a PSU of at least %d W" % round(total * 1.5 + 300, -1))
