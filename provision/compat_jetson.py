"""The Jetson part of the one judgment (compat asks it): on a Jetson the driver is part of L4T, the CUDA is the one
its JetPack brings, and the CUDA wheels that run are NVIDIA's JetPack-matched ones. PyPI's and PyTorch's generic
aarch64 CUDA wheels are SBSA (server Arm) builds: they do not run CUDA there. An L4T release the jetson table does not
know leaves dlws unable to choose a CUDA build, and says so.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from provision.inventory import facts
from provision.knowledge import queries
from provision.knowledge.versions import Row

#: The variant name of NVIDIA's JetPack-matched wheel of a framework.
JETPACK = "jetpack"


def jetson(inv: Dict[str, Any]) -> Dict[str, Any]:
    return inv.get("jetson") or {}


def is_jetson(inv: Dict[str, Any]) -> bool:
    """The Jetson probe found an L4T release or a Tegra SoC (it records nothing on other machines)."""
    return bool(jetson(inv).get("l4t") or jetson(inv).get("model") or facts.nvidia(inv).get("source") == "jetson")


def _release(inv: Dict[str, Any]) -> str:
    l4t = jetson(inv).get("l4t")
    return queries.jetpack_label(l4t) or ("L4T R%s" % l4t if l4t else "an L4T release dlws could not read")


def on_jetson_gpu(inv: Dict[str, Any]) -> bool:
    """A Jetson whose integrated GPU the inventory has: its driver is L4T's, whatever nvidia-smi said."""
    return is_jetson(inv) and bool(facts.gpus(inv, "nvidia"))


def cuda_on_l4t(inv: Dict[str, Any], cuda: Optional[str]) -> Tuple[Optional[bool], str]:
    """How code built with CUDA X.Y runs on this Jetson's L4T driver: True (it supports the CUDA its JetPack brings,
    and older), False (a newer CUDA major), None where dlws cannot tell, with why."""
    l4t = jetson(inv).get("l4t")
    row = queries.jetpack_release(l4t)
    needs = facts.major_minor(cuda)
    if row is None:
        return None, "which CUDA %s brings (dlws's Jetson table does not know it)" % _release(inv)
    if needs is None:
        return None, "the CUDA version the build was made with"
    have = facts.major_minor(row["cuda"]) or (0, 0)
    brings = "%s; the driver is part of L4T" % queries.jetpack_label(l4t)
    if needs <= have:
        return True, brings
    if needs[0] > have[0]:
        return False, "%s, the build needs CUDA %d.%d" % ((brings,) + needs)
    # JetPack 5 lets a newer CUDA of the same major run through NVIDIA's CUDA upgrade packages; not judged here
    return None, "whether CUDA %d.%d runs on %s (a CUDA upgrade for Jetson, not judged)" % (needs + (brings,))


def wheel(inv: Dict[str, Any], framework: str) -> Optional[Row]:
    """NVIDIA's JetPack-matched wheel of framework for this Jetson's L4T release; None elsewhere or where unknown."""
    return queries.jetpack_wheel(jetson(inv).get("l4t"), framework) if is_jetson(inv) else None


def judge_build(inv: Dict[str, Any], framework: str, variant: str,
                python: Optional[str]) -> Tuple[List[str], List[str]]:
    """(problems, unknowns) of a CUDA build on a Jetson; nothing elsewhere (compat calls it for CUDA builds only)."""
    if not is_jetson(inv):
        return [], []
    l4t = jetson(inv).get("l4t")
    if variant != JETPACK:
        if queries.jetpack_release(l4t) is None:
            return ["dlws cannot choose a CUDA build for %s: its Jetson table does not know this release (the CUDA it "
                    "brings, and which wheels run on it)" % _release(inv)], []
        return ["a generic aarch64 CUDA wheel is an SBSA (server Arm) build: it does not run CUDA on %s, where "
                "NVIDIA's JetPack-matched wheels do" % _release(inv)], []
    found = wheel(inv, framework) or {}
    problems: List[str] = []
    if python and facts.major_minor(python) != facts.major_minor(found.get("python")):
        problems.append("NVIDIA's %s wheel for %s is for Python %s, not %s" % (
            framework, _release(inv), found.get("python"), ".".join(python.split(".")[:2])))
    unknowns = [] if found.get("verified") else [
        "whether NVIDIA's %s wheel for %s is as dlws's table says (unverified: %s)" % (
            framework, _release(inv), ", ".join(found.get("unverified_fields") or ["the row"]))]
    return problems, unknowns
