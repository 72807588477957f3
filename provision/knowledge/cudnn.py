"""cuDNN releases in the cudnn table: the build of a release for a CUDA version, its minimum driver and the compute
capabilities it supports, as NVIDIA's support matrices list them.

Every function is total: a release between the table's rows, an unknown CUDA or garbage answers None (cannot
judge), never an exception and never "fine".
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from packaging.version import Version

from provision.knowledge import load
from provision.knowledge.versions import Row, minor_of, parse_cc, parse_version


def _release3(text: Any) -> Optional[Tuple[int, ...]]:
    """'9.1.0.70' (a wheel's version) -> (9, 1, 0): the matrices name releases by three numbers."""
    version = parse_version(text)
    return (version.release + (0, 0))[:3] if version is not None else None


def cudnn_release(version: Any) -> Optional[Row]:
    """The table row ('first'..'last') a cuDNN release falls in: '8.9.6' -> the 8.9.5-8.9.6 row; None between rows."""
    wanted = _release3(version)
    if wanted is None:
        return None
    return next((row for row in load("cudnn")["releases"]
                 if (_release3(row["first"]) or ()) <= wanted <= (_release3(row["last"]) or ())), None)


def cudnn_build(version: Any, cuda: Any) -> Optional[Row]:
    """The build of a cuDNN release for CUDA X.Y (its cuda_min..cuda_max span), the first the matrix lists."""
    row, minor = cudnn_release(version), minor_of(cuda)
    if row is None or minor is None:
        return None
    return next((build for build in row["builds"]
                 if Version(build["cuda_min"]) <= Version(minor) <= Version(build["cuda_max"])), None)


def cudnn_cuda_majors(version: Any) -> Optional[List[int]]:
    """The CUDA majors a cuDNN release has builds for: [11, 12] for 9.0.0; None for a release the table lacks."""
    row = cudnn_release(version)
    if row is None:
        return None
    return sorted({Version(build["cuda_min"]).major for build in row["builds"]})


def cudnn_min_driver(version: Any, cuda: Any, os: str = "linux") -> Optional[str]:
    """The driver the matrix names for a release's CUDA build ('525.60.13', or a branch '450'); None where it
    names none or the build is unknown."""
    build = cudnn_build(version, cuda)
    key = {"linux": "linux_x86_64", "windows": "windows_x86_64"}.get(os)
    return build.get(key) if build is not None and key else None


def cudnn_supports_cc(version: Any, cuda: Any, cc: Any) -> Optional[bool]:
    """Whether a release's CUDA build supports a GPU: False below its oldest compute capability (cuDNN 9.17 on a
    Pascal), True up to its newest (or any newer where the matrix says 'SM x and later'), None above the newest it
    lists (not in the matrix: cannot judge) and for anything unknown."""
    build, have = cudnn_build(version, cuda), parse_cc(cc)
    if build is None or have is None:
        return None
    if have < Version(build["cc_min"]):
        return False
    top = build.get("cc_max")
    return True if top is None or have <= Version(top) else None


def cudnn_newest_for_cc(major: Any, cuda: Any, cc: Any) -> Optional[str]:
    """The newest release of a cuDNN major the table lists with a build for CUDA X.Y that supports this compute
    capability ('9.10.2' for a Pascal on CUDA 12.6); None where no row does."""
    fits = [row for row in load("cudnn")["releases"] if str(row.get("major")) == str(major)
            and cudnn_supports_cc(row["last"], cuda, cc) is True]
    return max((row["last"] for row in fits), key=lambda text: _release3(text) or (), default=None)
