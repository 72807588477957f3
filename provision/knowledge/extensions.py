"""How torch.utils.cpp_extension builds CUDA extensions (flash-attn, apex, mmcv, a project's setup.py): where it looks
for the CUDA toolkit and what of that toolkit's release it checks against torch's own CUDA (the frameworks table,
pytorch.cpp_extension).

Every function is pure and total: bad or unknown input answers None (or an empty list), never an exception.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from provision.knowledge import load
from provision.knowledge.versions import minor_of, parse_version


def _cpp_extension() -> Dict[str, Any]:
    entry = load("frameworks")["frameworks"]["pytorch"].get("cpp_extension")
    return entry if isinstance(entry, dict) else {}


def torch_cuda_home_order() -> List[str]:
    """Where cpp_extension looks for the toolkit, in order: ['CUDA_HOME', 'CUDA_PATH', 'PATH', '/usr/local/cuda']."""
    order = _cpp_extension().get("cuda_home")
    return [str(name) for name in order] if isinstance(order, list) else []


def torch_extension_cuda_check(version: Any) -> Optional[str]:
    """What of nvcc's release a torch release's extension builds compare with torch's CUDA before compiling: 'major'
    (another major stops the build, another minor only warns) or 'none' (no check: older releases); None for a
    release after the newest one read, or an unreadable version."""
    check = _cpp_extension().get("cuda_check") or {}
    have, since, through = (parse_version(minor_of(value))
                            for value in (version, check.get("since"), check.get("read_through")))
    if have is None or since is None or through is None:
        return None
    if have < since:
        return "none" if check.get("outside") == "none" else None
    return str(check.get("compares")) if have <= through and check.get("compares") else None
