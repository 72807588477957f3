"""The facts a LiveHost answers that are neither a file nor a command (platform, python, env, statvfs, which, nvml,
cpuinfo, memory, disks, cwd): how each is asked of this machine, the JSON type each answers (a recorded answer of another
type is unknown), and the deadline on those that can block.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable, Dict, List, Optional

#: The most GPUs one machine is taken to have: a driver in a bad state may report any count.
MAX_GPUS = 1024

#: Environment variables the probes may read; only these are recorded in a snapshot.
ENV_VARS = (
    "PATH", "LD_LIBRARY_PATH", "CUDA_HOME", "CUDA_PATH", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
    "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "KUBERNETES_SERVICE_HOST", "container", "WSL_DISTRO_NAME",
    "ROCM_PATH", "HIP_VISIBLE_DEVICES",
    # what a framework sees of the GPUs and which libraries it loads (provision/inventory/envvars.py)
    "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HSA_OVERRIDE_GFX_VERSION", "CUDA_DEVICE_ORDER", "LD_PRELOAD",
    # where Python environments live (provision/inventory/environments.py)
    "HOME", "PIPX_HOME", "PYENV_ROOT", "PYENV_VERSION", "CONDA_EXE", "MAMBA_ROOT_PREFIX", "USERPROFILE",
    # the ptxas Triton compiles with (provision/inventory/ptxas.py)
    "TRITON_PTXAS_PATH", "TRITON_PTXAS_BLACKWELL_PATH",
)


def _env(name: str) -> Optional[str]:
    """An allowed variable's value; LD_PRELOAD's paths as their file names only (a folder may name the user)."""
    value = os.environ.get(name) if name in ENV_VARS else None
    if name == "LD_PRELOAD" and value is not None:
        # ld.so(8): the list is separated by spaces or colons
        return " ".join(os.path.basename(item) for item in re.split(r"[:\s]+", value) if item)
    return value


def _call_with_deadline(func: Callable[[], Any], timeout: float) -> Any:
    """Run func in a daemon thread; after timeout give up with {"error": ...} (statvfs on a dead NFS mount, NVML on
    a GPU that fell off the bus), so that a snapshot records the failure, not just an absent fact."""
    import threading  # only for these two facts: keep start-up light

    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except Exception as exc:
            box["error"] = "%s: %s" % (type(exc).__name__, exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return {"error": "timed out after %gs" % timeout}
    if "error" in box:
        return {"error": box["error"]}
    return box.get("value")


def _fact_platform(_: str) -> Dict[str, Any]:
    import platform

    try:  # "glibc 2.36"; platform.libc_ver() would scan the interpreter binary instead
        libc, _, libc_version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
    except (AttributeError, ValueError, OSError):
        libc, libc_version = "", ""
    return {
        "system": platform.system().lower(),
        "machine": platform.machine(),
        "release": platform.release(),
        "node": platform.node(),
        "libc": libc or None,
        "libc_version": libc_version or None,
        "mac_version": platform.mac_ver()[0] or None,
    }


def _fact_python(_: str) -> Dict[str, Any]:
    import sys

    return {
        "version": "%d.%d.%d" % sys.version_info[:3],
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "path": [p for p in sys.path if p],
        "bits": 64 if sys.maxsize > 2 ** 32 else 32,  # a 32-bit Python on 64-bit Windows runs under WOW64
    }


def _fact_statvfs(path: str) -> Optional[Dict[str, int]]:
    st = os.statvfs(path)
    return {
        "total_bytes": st.f_blocks * st.f_frsize,
        "free_bytes": st.f_bavail * st.f_frsize,
    }


def _fact_which(name: str) -> Optional[str]:
    import shutil

    return shutil.which(name)


def _fact_nvml(_: str) -> Dict[str, Any]:
    from provision.host_nvml import query_nvml  # most machines have no NVIDIA GPU: keep start-up light

    return query_nvml(MAX_GPUS)


def _fact_cpuinfo(_: str) -> Dict[str, Any]:
    import cpuinfo  # py-cpuinfo: slow (it probes in a subprocess), so only where no /proc/cpuinfo or sysctl exists

    info = cpuinfo.get_cpu_info()
    return {key: info.get(key) for key in ("vendor_id_raw", "brand_raw", "count", "flags", "arch")}


def _fact_memory(_: str) -> Dict[str, int]:
    import psutil  # only off Linux, where /proc/meminfo is missing

    vm, swap = psutil.virtual_memory(), psutil.swap_memory()
    return {"total_bytes": vm.total, "available_bytes": vm.available, "swap_total_bytes": swap.total,
            "swap_free_bytes": swap.free}


def _fact_disks(_: str) -> List[Dict[str, Any]]:
    import psutil  # only off Linux, where /proc/mounts is missing

    return [{"device": p.device, "mountpoint": p.mountpoint, "fstype": p.fstype} for p in psutil.disk_partitions()]


#: Facts a LiveHost can answer; each takes one string argument and returns JSON data.
LIVE_FACTS: Dict[str, Callable[[str], Any]] = {
    "platform": _fact_platform,
    "python": _fact_python,
    "env": _env,
    "statvfs": _fact_statvfs,
    "which": _fact_which,
    "nvml": _fact_nvml,
    "cpuinfo": _fact_cpuinfo,
    "memory": _fact_memory,
    "disks": _fact_disks,
    "cwd": lambda _: os.getcwd(),  # where a project's .venv is looked for
}

#: The JSON type of each fact's answer (LIVE_FACTS); a recorded answer of another type is unknown.
FACT_TYPES: Dict[str, type] = {"platform": dict, "python": dict, "env": str, "statvfs": dict, "which": str,
                               "nvml": dict, "cpuinfo": dict, "memory": dict, "disks": list, "cwd": str}


def live_fact(name: str, arg: str, timeout: float) -> Any:
    """A fact of this machine (LIVE_FACTS) as JSON data; None when unknown, {"error": ...} when it blocked."""
    func = LIVE_FACTS.get(name)
    if func is None:
        return None
    if name in ("statvfs", "nvml"):  # these can block on a dead mount or a GPU that fell off the bus
        return _call_with_deadline(lambda: func(arg), timeout)
    try:
        return func(arg)
    except Exception:
        return None


def fact_key(name: str, arg: str) -> str:
    """How a fact and its argument are keyed in a snapshot's host.json ("statvfs:/", "platform")."""
    return "%s:%s" % (name, arg) if arg else name
