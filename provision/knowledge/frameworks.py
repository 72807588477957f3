"""Framework releases in the frameworks table: names and aliases, the row a release belongs to, the GPUs a
torch build has kernels for, the Pythons a release has wheels for, AVX and retirement.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

import functools
from typing import Any, List, Optional, Tuple, Union

from packaging.version import Version

from provision.knowledge import load
from provision.knowledge.versions import Row, minor_of, parse_cc, parse_version


def normalize_framework(name: Any) -> Optional[str]:
    """'torch' / 'PyTorch' -> 'pytorch', 'tf' -> 'tensorflow', ...; None for names the table does not know."""
    if not isinstance(name, str):
        return None
    return load("frameworks")["aliases"].get(name.strip().lower())


def framework_release(framework: str, version: str) -> Optional[Row]:
    """The row a release belongs to: the longest row version that prefixes it ('2.1.2+cu121' -> the torch 2.1 row,
    '0.4.30' -> the jax 0.4.30 row, '0.9.0.1' -> 0.9.0.1 rather than 0.9.0), or None."""
    name = normalize_framework(framework)
    wanted = parse_version(version)
    if name is None or wanted is None:
        return None
    best: Optional[Row] = None
    for row in load("frameworks")["frameworks"][name].get("releases", []):
        have = _release_tuple(row["version"])
        padded = wanted.release + (0,) * (len(have) - len(wanted.release))  # '2' reads as '2.0'
        if padded[: len(have)] == have and (best is None or len(have) > len(_release_tuple(best["version"]))):
            best = row
    return best


@functools.lru_cache(maxsize=None)
def _release_tuple(text: str) -> Tuple[int, ...]:
    """A table row's version as numbers, parsed once: the planner asks about every JAX release row."""
    return Version(text).release


def torch_release(version: str) -> Optional[Row]:
    return framework_release("pytorch", version)


def torch_arch_list(version: str, variant: str) -> Optional[List[str]]:
    """TORCH_CUDA_ARCH_LIST of a torch CUDA build, e.g. ('2.0', 'cu118') -> ['3.7', ..., '9.0']."""
    row = torch_release(version)
    info = row["variants"].get(variant) if row and isinstance(variant, str) else None
    return list(info["arch_list"]) if info and "arch_list" in info else None


def torch_kernels_for_cc(version: str, variant: str, cc: Union[str, float, Tuple[int, int]]) -> Optional[str]:
    """How a torch build runs on a GPU: 'sass' (machine code for cc's major with cc >= the listed minor), 'ptx' (only
    by JIT-compiling its PTX for an older cc, which needs a driver for the build's CUDA) or 'none'."""
    arch = torch_arch_list(version, variant)
    want = parse_cc(cc)
    row = torch_release(version)
    if arch is None or want is None or row is None:
        return None
    for entry in arch:
        have = parse_version(entry)
        # SASS runs on the same major with an equal or higher minor (8.0 code runs on 8.6).
        if have is not None and have.major == want.major and have <= want:
            return "sass"
    ptx = parse_version(row["variants"][variant].get("ptx"))
    return "ptx" if ptx is not None and ptx <= want else "none"


def torch_variant_supports_cc(version: str, variant: str, cc: Union[str, float, Tuple[int, int]]) -> Optional[bool]:
    """Whether a torch build has kernels for this GPU, as SASS or as PTX (torch_kernels_for_cc)."""
    kind = torch_kernels_for_cc(version, variant, cc)
    return None if kind is None else kind != "none"


def display_name(framework: Any) -> Optional[str]:
    """'mxnet' -> 'MXNet', as messages name it; None for an unknown framework."""
    name = normalize_framework(framework)
    return load("frameworks")["frameworks"][name]["name"] if name else None


def retirement(framework: Any) -> Optional[Row]:
    """{'last_release', 'attic'} of a retired framework (MXNet); None for a maintained or unknown one."""
    name = normalize_framework(framework)
    entry = load("frameworks")["frameworks"][name] if name else {}
    return {"last_release": entry.get("last_release"), "attic": entry.get("attic")} if entry.get("retired") else None


def needs_avx(framework: Any, version: Any) -> bool:
    """Whether the framework's x86_64 wheels need AVX (TensorFlow from 1.6 on); an unreadable version counts as new."""
    name = normalize_framework(framework)
    avx = (load("frameworks")["frameworks"][name].get("avx") or {}) if name else {}
    since, have = parse_version(avx.get("since")), parse_version(version)
    return bool(avx.get("required")) and (since is None or have is None or have >= since)


def python_supported(framework: str, version: str, python: str) -> Optional[bool]:
    """Whether wheels of this release exist for the Python major.minor (experimental ones count as supported)."""
    row = framework_release(framework, version)
    want = minor_of(python)
    if row is None or want is None:
        return None
    span = row.get("python") or {}
    low, high = parse_version(span.get("min")), parse_version(span.get("max"))
    if low is None or high is None:
        return None
    if any(minor_of(extra.rstrip("t")) == want for extra in span.get("experimental", [])):
        return True
    return low <= Version(want) <= high
