"""JetPack releases in the jetson table: what an L4T release brings (JetPack, CUDA, cuDNN, TensorRT, Ubuntu) and
NVIDIA's JetPack-matched framework wheels for it.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

from typing import Any, List, Optional

from provision.knowledge import load
from provision.knowledge.versions import Row, parse_version


def jetpack_release(l4t: Any) -> Optional[Row]:
    """The row of an L4T release ('36.4.3', as /etc/nv_tegra_release names it; '36.4' reads as '36.4.0'), or None
    for a release the table does not know."""
    wanted = parse_version(l4t) if isinstance(l4t, str) else None
    if wanted is None:
        return None
    for key, row in load("jetson").get("l4t_releases", {}).items():
        have = parse_version(key)
        padded = wanted.release + (0,) * (len(have.release) - len(wanted.release)) if have else ()
        if have is not None and padded == have.release:
            return dict(row, l4t=key)
    return None


def jetpack_wheel(l4t: Any, framework: str) -> Optional[Row]:
    """NVIDIA's wheel of a framework ('pytorch') for an L4T release: version, python, cuda, url; None if unknown."""
    wheel = (jetpack_release(l4t) or {}).get(framework)
    return dict(wheel) if isinstance(wheel, dict) else None


def jetpack_label(l4t: Any) -> Optional[str]:
    """'JetPack 6.2 (L4T R36.4.3: CUDA 12.6, cuDNN 9.3, TensorRT 10.3, Ubuntu 22.04)', None for an unknown release."""
    row = jetpack_release(l4t)
    if row is None:
        return None
    return "JetPack %s (L4T R%s: CUDA %s, cuDNN %s, TensorRT %s, Ubuntu %s)" % (
        row["jetpack"], row["l4t"], row["cuda"], row["cudnn"], row["tensorrt"], row["ubuntu"])


def generic_cuda_wheels() -> Row:
    """Why the generic (PyPI, download.pytorch.org) aarch64 CUDA wheels do not run on the Jetsons the table knows."""
    return dict(load("jetson").get("generic_cuda_wheels") or {})


def jetpack_built_for(cuda: Any) -> Optional[Row]:
    """What a JetPack wheel recording CUDA X.Y ('12.6') was built with: NVIDIA builds each JetPack's wheels with its
    own CUDA and cuDNN, so the releases bringing that CUDA say which. {'jetpack': '6.1, 6.2, 6.2.1', 'cuda': ...,
    'cudnn_major': 9}; None where no release brings it, or those that do disagree on the cuDNN major."""
    if not isinstance(cuda, str):
        return None
    rows = [dict(row, l4t=key) for key, row in load("jetson").get("l4t_releases", {}).items()
            if isinstance(row, dict) and row.get("cuda") == cuda]
    majors = {str(row.get("cudnn") or "").split(".")[0] for row in rows}
    if not rows or len(majors) != 1 or not next(iter(majors)).isdigit():
        return None
    return {"jetpack": ", ".join(str(row.get("jetpack")) for row in rows), "cuda": cuda,
            "cudnn_major": int(next(iter(majors))),
            "verified": all(row.get("verified") and "cudnn" not in (row.get("unverified_fields") or [])
                            for row in rows)}


def system_libraries(framework: str) -> List[Row]:
    """The libraries a framework's Jetson builds load from the system that JetPack does not install (cuDSS)."""
    rows = (load("jetson").get("system_libraries") or {}).get("libraries") or []
    return [dict(row) for row in rows if isinstance(row, dict) and row.get("framework") == framework]
