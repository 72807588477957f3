"""CUDA toolkits and NVIDIA drivers in the cuda table: the driver a toolkit needs (and the floor of
minor-version compatibility), the newest toolkit a driver runs, the compute capabilities nvcc builds for.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

import datetime
from typing import Any, List, Optional, Tuple, Union

from packaging.version import Version

from provision.knowledge import load
from provision.knowledge.versions import Row, minor_of, parse_cc, parse_version


def _os_key(os: str) -> Optional[str]:
    return {"linux": "linux_x86_64", "windows": "windows_x86_64"}.get(os.lower() if isinstance(os, str) else "")


def _toolkit(cuda: Any) -> Optional[Row]:
    minor = minor_of(cuda)
    return next((row for row in load("cuda")["toolkits"] if row["version"] == minor), None)


def _ga(row: Row) -> Row:
    """The Table 3 line of a toolkit's first release, labelled 'GA' (its updates 'Update 1', ...)."""
    return next((rel for rel in row["releases"] if rel.get("label") == "GA"), row["releases"][0])


def _release(row: Row, cuda: str) -> Optional[Row]:
    """The Table 3 line of a toolkit: the GA one for '12.4', the exact update for '12.4.1'."""
    version = parse_version(cuda)
    if version is None:
        return None
    if len(version.release) < 3:
        return _ga(row)
    wanted = "%d.%d.%d" % version.release[:3]
    return next((rel for rel in row["releases"] if rel["release"] == wanted), None)


def min_driver_for_cuda(cuda: str, os: str = "linux", compat: bool = False) -> Optional[str]:
    """The driver a CUDA toolkit release was published with (Table 3), e.g. '12.4' -> '550.54.14'.

    With compat=True, the lower floor at which the release still runs through minor-version compatibility
    (e.g. '12.4' -> '525.60.13'), which lacks some features (PTX JIT of newer PTX among them).
    """
    key = _os_key(os)
    row = _toolkit(cuda)
    if key is None or row is None:
        return None
    if compat:
        return minor_compat_floor(cuda, os)
    release = _release(row, cuda)
    return release.get(key) if release else None


def minor_compat_floor(cuda: str, os: str = "linux") -> Optional[str]:
    """The oldest driver that runs this toolkit: for CUDA 11 on, any toolkit of its major ('12.x' -> '525.60.13' on
    Linux); before CUDA 11, which had no minor-version compatibility, the toolkit's own driver ('10.1' -> '418.39')."""
    key = _os_key(os)
    version = parse_version(cuda)
    if key is None or version is None:
        return None
    if version.major < load("cuda")["minor_version_compatibility_from"]["major"]:
        return min_driver_for_cuda(cuda, os)
    row = next((r for r in load("cuda")["minor_version_compatibility"] if r["major"] == version.major), None)
    return row.get(key) if row else None


def has_minor_version_compatibility(cuda: str) -> Optional[bool]:
    """Whether toolkits of this CUDA major run on an older driver of the major (CUDA 11 on); None if no version."""
    version = parse_version(cuda)
    return None if version is None else version.major >= load("cuda")["minor_version_compatibility_from"]["major"]


def legacy_driver_branch(cc: Union[str, float, Tuple[int, int]]) -> Optional[Row]:
    """The legacy driver branch that is the last to support a GPU of compute capability cc (a Kepler's 3.7 -> the
    470 row: branch, architectures, last_release, max_cuda, maintained, eol); None for a GPU current drivers support,
    or an unknown capability."""
    want = parse_cc(cc)
    if want is None:
        return None
    for row in load("cuda")["legacy_driver_branches"]:  # oldest first
        low, high = parse_version(row["cc_min"]), parse_version(row["cc_max"])
        if low is not None and high is not None and low <= want <= high:
            return row
    return None


def legacy_branch(branch: str) -> Optional[Row]:
    """The legacy_driver_branches row of a branch ('470'), as NVRM names it; None for a branch not in the table."""
    return next((row for row in load("cuda")["legacy_driver_branches"] if row["branch"] == branch), None)


def branch_of(driver: Any) -> Optional[str]:
    """A Linux driver version's branch: '535.86.05' -> '535'; None for one that is not a version."""
    version = parse_version(driver)
    return str(version.release[0]) if version is not None and version.release[0] >= 100 else None


def driver_branch_support(branch: str, today: datetime.date) -> Optional[Row]:
    """Whether NVIDIA still supports a data center driver branch on this day: {'branch', 'ended' (bool), 'eol'
    ('2026-06'), 'designation'} from its row; for a branch without one, older than every current branch, ended with
    eol None; None for a branch this table cannot date (a New Feature Branch newer than that)."""
    if not isinstance(branch, str):
        return None
    lifecycle = load("cuda")["driver_branch_lifecycle"]
    row = next((r for r in lifecycle["branches"] if r["branch"] == branch), None)
    if row is not None:
        year, month = (int(part) for part in row["eol"].split("-"))
        first_after = datetime.date(year + month // 12, month % 12 + 1, 1)  # the eol month is the last with fixes
        return {"branch": branch, "ended": today >= first_after, "eol": row["eol"],
                "designation": row["designation"]}
    if branch.isdigit() and all(int(branch) < int(current) for current in lifecycle["current"]):
        return {"branch": branch, "ended": True, "eol": None, "designation": None}
    return None


def current_driver_branches() -> List[Row]:
    """The branches NVIDIA supports now, as the newest page read lists them, with their designation and end."""
    lifecycle = load("cuda")["driver_branch_lifecycle"]
    return [r for current in lifecycle["current"] for r in lifecycle["branches"] if r["branch"] == current]


def max_cuda_for_driver(driver: str, os: str = "linux") -> Optional[str]:
    """The newest toolkit (major.minor) whose GA driver requirement this driver meets: '550.54.14' -> '12.4'.

    None when the driver is older than every toolkit in the table, or is not a version.
    """
    key = _os_key(os)
    have = parse_version(driver)
    if key is None or have is None:
        return None
    best: Optional[Tuple[Version, str]] = None
    for row in load("cuda")["toolkits"]:
        need = parse_version(_ga(row).get(key))
        if need is not None and have >= need:
            candidate = (Version(row["version"]), row["version"])
            if best is None or candidate[0] > best[0]:
                best = candidate
    return best[1] if best else None


def cuda_supports_cc(cuda: str, cc: Union[str, float, Tuple[int, int]]) -> Optional[bool]:
    """Whether this toolkit's nvcc can build native code (SASS) for compute capability cc.

    False below the toolkit's oldest architecture and above its newest; None when unknown.
    """
    row = _toolkit(cuda)
    want = parse_cc(cc)
    if row is None or want is None:
        return None
    low, high = parse_version(row.get("cc_min")), parse_version(row.get("cc_max"))
    if low is not None and want < low:
        return False
    if high is None:
        return None
    return want <= high
