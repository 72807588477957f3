"""Small readers of the inventory JSON, shared by the doctor rules, the compatibility judgment and the planner."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

GiB = 2 ** 30
#: The loader_path sources whose folders the dynamic loader searches for a soname (provision/inventory/loader.py):
#: LD_LIBRARY_PATH, then its cache of ld.so.conf's folders, then its default folders.
LOADER_SEARCHED = ("LD_LIBRARY_PATH", "ld.so.conf", "default")


def version(text: Optional[str]) -> Optional[Version]:
    if not text:
        return None
    try:
        return Version(str(text).split("+")[0])
    except InvalidVersion:
        return None


def major_minor(text: Optional[str]) -> Optional[Tuple[int, int]]:
    parsed = version(text)
    if parsed is None:
        return None
    release = parsed.release + (0,)
    return release[0], release[1]


def gib(value: Optional[int]) -> str:
    return "?" if value is None else "%.1f GiB" % (value / GiB)


def nvidia(inv: Dict[str, Any]) -> Dict[str, Any]:
    return inv.get("nvidia") or {}


def gpus(inv: Dict[str, Any], vendor: Optional[str] = None) -> List[Dict[str, Any]]:
    return [g for g in inv.get("gpus") or [] if vendor is None or g.get("vendor") == vendor]


def gpu_label(gpu: Dict[str, Any]) -> str:
    return "GPU %s (%s)" % (gpu.get("index"), gpu.get("name") or gpu.get("vendor"))


def frameworks(inv: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return inv.get("frameworks") or {}


def build_kind(entry: Dict[str, Any]) -> Optional[str]:
    """'cuda' | 'rocm' | 'cpu' | 'metal' from a framework's build string."""
    build = entry.get("build") or ""
    return build.split(" ")[0] or None


def os_info(inv: Dict[str, Any]) -> Dict[str, Any]:
    return inv.get("os") or {}


def driver_os(inv: Dict[str, Any]) -> str:
    """Whose numbering the NVIDIA driver version follows: 'windows' natively and inside WSL 2 (where the GPU is
    driven by the Windows driver and nvidia-smi reports its version, e.g. 566.36), else 'linux'."""
    info = os_info(inv)
    return "windows" if info.get("system") == "windows" or info.get("wsl") == 2 else "linux"


def headless(inv: Dict[str, Any]) -> bool:
    """Linux outside WSL where no NVIDIA GPU is known to drive a display."""
    return os_info(inv).get("system") == "linux" and not os_info(inv).get("wsl") \
        and not any(g.get("display_active") for g in gpus(inv, "nvidia"))
