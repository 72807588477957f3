"""Linux distributions (and macOS) in the distributions table: a release's row and end of support, and how
dlws setup provisions it (package manager, oldest release managed, driver module streams).

Every function is pure and total: bad or unknown input answers None (or False), never an exception.
"""

from __future__ import annotations

import datetime
from typing import Any, Dict, Optional

from provision.knowledge import load
from provision.knowledge.versions import Row


def distribution(id: str, version: str) -> Optional[Row]:
    """The row for an os-release ID and VERSION_ID; '9.4' falls back to '9', Fedora matches any version."""
    if not isinstance(id, str) or not isinstance(version, str) or not version.strip():
        return None
    rows = [row for row in load("distributions")["distributions"] if row["id"] == id.strip().lower()]
    parts = version.strip().split(".")
    for end in range(len(parts), 0, -1):
        wanted = ".".join(parts[:end])
        match = next((row for row in rows if row["version"] == wanted), None)
        if match:
            return match
    return next((row for row in rows if row["version"] == "*"), None)


def _date(text: Any) -> Optional[datetime.date]:
    """'2024-06-30' -> that day; '2027-04' -> its first day (only the month is published: warn early, not late)."""
    if not isinstance(text, str):
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def distribution_eol(id: str, version: str) -> Optional[datetime.date]:
    """End of standard support of a distribution release, or None when unknown."""
    row = distribution(id, version)
    return _date(row.get("eol")) if row else None


def cuda_repo_folder(id: str, version: str, arch: Any) -> Optional[str]:
    """The folder of NVIDIA's CUDA repository for this release on this CPU ('x86_64', 'aarch64'), or None where
    NVIDIA publishes none that the table knows of (Debian 13 has no aarch64 one in NVIDIA's guide)."""
    row = distribution(id, version)
    if not row or not row.get("cuda_repo") or arch not in (row.get("cuda_repo_arches") or []):
        return None
    return row["cuda_repo"]


def support_end(id: str, version: str) -> Optional[Dict[str, Any]]:
    """What ends at the release's eol and when, and the extended support after it: {'ends', 'date', 'extended',
    'extended_until'} (the last two None where the table names none); None when the end date is unknown."""
    row = distribution(id, version)
    eol = _date(row.get("eol")) if row else None
    if row is None or eol is None:
        return None
    extended = row.get("extended_support") or {}
    return {"ends": row.get("eol_ends") or "support", "date": eol, "extended": extended.get("name"),
            "extended_until": _date(extended.get("until"))}


def setup_family(id: Any) -> Optional[Row]:
    """How dlws setup provisions an os-release ID (macOS too): its package manager (None: pip only), the oldest major
    release it manages and the releases whose driver comes from dnf module streams; None where it cannot."""
    if not isinstance(id, str):
        return None
    return next((row for row in load("distributions")["setup"] if row["id"] == id.strip().lower()), None)


def rosetta_avx_from() -> Optional[int]:
    """The first macOS major release whose Rosetta 2 runs AVX and AVX2 (none before: Apple); None where unknown."""
    value = (setup_family("macos") or {}).get("rosetta_avx_from")
    return value if isinstance(value, int) else None


def package_manager(id: Any, major: Optional[int]) -> Optional[str]:
    """apt or dnf where dlws setup manages this release's system packages; None elsewhere (CentOS 7, macOS)."""
    row = setup_family(id)
    if row is None or not row["package_manager"] or major is None or row["oldest_major"] is None:
        return None
    return row["package_manager"] if major >= row["oldest_major"] else None


def provisionable(id: Any, major: Optional[int]) -> bool:
    """Whether dlws setup provisions this release: its package manager is one dlws drives, or (macOS) pip is all."""
    row = setup_family(id)
    return row is not None and (row["package_manager"] is None or package_manager(id, major) is not None)


def driver_module_streams(id: Any, major: Optional[int]) -> bool:
    """Whether NVIDIA's dnf driver packages of this release come from module streams to enable first."""
    return major in ((setup_family(id) or {}).get("driver_module_streams") or [])
