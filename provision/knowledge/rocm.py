"""The rocm table: the gfx targets each ROCm release supports and each torch ROCm wheel carries code objects for.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

from typing import Any, List, Optional

from packaging.version import Version

from provision.knowledge import load
from provision.knowledge.frameworks import torch_release
from provision.knowledge.versions import parse_version


def torch_rocm_gfx_targets(version: Any, variant: Any) -> Optional[List[str]]:
    """The gfx targets a torch ROCm wheel was built for: ('2.4.1', 'rocm6.1') -> ['gfx900', ..., 'gfx1100'];
    None when the table has no list for that release and variant."""
    row = torch_release(version) if isinstance(version, str) else None
    builds = load("rocm")["torch_builds"].get(row["version"]) if row else None
    info = (builds or {}).get(variant) if isinstance(variant, str) else None
    return list(info["gfx_targets"]) if info else None


def rocm_release_gfx_targets(release: Any) -> Optional[List[str]]:
    """The gfx targets AMD officially supports in a ROCm release: '6.1' reads as its newest known patch release
    (6.1.2), '6.0.2' as itself; None for a release the table lacks."""
    wanted = parse_version(release)
    if wanted is None:
        return None
    rows = load("rocm")["releases"]
    matching = [key for key in rows if Version(key).release[:len(wanted.release)] == wanted.release]
    if not matching:
        return None
    return list(rows[max(matching, key=Version)]["gfx_targets"])



def gfx_generic_family(gfx: Any) -> Optional[str]:
    """The LLVM generic processor whose ISA a gfx target shares ('gfx1031' -> 'gfx10-3-generic'); None for a target
    in no family (gfx908, gfx90a) or one the table lacks."""
    for family, row in load("rocm").get("generic_families", {}).items():
        if gfx in row["gfx_targets"]:
            return str(family)
    return None
