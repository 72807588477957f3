"""Framework releases in the frameworks table: names and aliases, the row a release belongs to, the GPUs a
torch build has kernels for, the Pythons a release has wheels for, AVX and retirement.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Tuple, Union

from packaging.specifiers import InvalidSpecifier, SpecifierSet
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


def stack_version(version: Any) -> Tuple[int, ...]:
    """The CUDA or ROCm version a build was made with, as numbers to rank a release's builds by: ROCm 7.14 is newer
    than 7.2 and 6.2.4 than 6.2, CUDA 10.2 than 9.2, which their names as strings ('rocm7.14' < 'rocm7.2', 'cu92' >
    'cu102') get backwards; () for none or an unreadable one."""
    parsed = parse_version(version)
    return parsed.release if parsed is not None else ()


def variants_newest_first(row: Any) -> List[str]:
    """A release row's variant names, the newest CUDA or ROCm first (stack_version; CPU last, then by name)."""
    variants = (row.get("variants") if isinstance(row, dict) else None) or {}

    def rank(name: str) -> Tuple[bool, Tuple[int, ...], str]:
        info = variants[name] if isinstance(variants[name], dict) else {}
        stack = stack_version(info.get("cuda") or info.get("rocm"))
        return not stack, tuple(-part for part in stack), name

    return sorted(variants, key=rank)


def torch_release(version: str) -> Optional[Row]:
    return framework_release("pytorch", version)


def torch_arch_list(version: str, variant: str) -> Optional[List[str]]:
    """TORCH_CUDA_ARCH_LIST of a torch CUDA build, e.g. ('2.0', 'cu118') -> ['3.7', ..., '9.0']."""
    row = torch_release(version)
    info = row["variants"].get(variant) if row and isinstance(variant, str) else None
    return list(info["arch_list"]) if info and "arch_list" in info else None


def variant_platforms(framework: str, version: str, variant: str) -> Dict[str, bool]:
    """Wheel platform -> whether a build is published there, where the table says so per build (torch 2.9's cu129:
    {'windows_amd64': False, 'linux_aarch64': True}); a platform it does not name is not in the result."""
    row = framework_release(framework, version)
    info = (row.get("variants") or {}).get(variant) if row and isinstance(variant, str) else None
    shown = info.get("platforms") if isinstance(info, dict) else None
    return {str(k): v for k, v in shown.items() if isinstance(v, bool)} if isinstance(shown, dict) else {}


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


def python_supported(framework: str, version: str, python: str, platform: Optional[str] = None) -> Optional[bool]:
    """Whether wheels of this release exist for the Python major.minor: the CPython tags of its wheels for the
    platform where the table has them (the files win over classifiers), else its Python span (experimental ones
    count as supported)."""
    row = framework_release(framework, version)
    want = minor_of(python)
    if row is None or want is None:
        return None
    tags = wheel_pythons(framework, version, platform)
    judged = _tag_supports(tags, want) if tags else None
    if judged is not None:
        return judged
    if _requires_python(row.get("requires_python"), want) is False:
        return False
    span = row.get("python") or {}
    low, high = parse_version(span.get("min")), parse_version(span.get("max"))
    if low is None or high is None:
        return None
    if any(minor_of(extra.rstrip("t")) == want for extra in span.get("experimental", [])):
        return True
    return low <= Version(want) <= high


#: (system, cpu arch) as the inventory reports them -> the platform names of the table's 'platforms'.
_PLATFORMS = {("linux", "x86_64"): "linux_x86_64", ("linux", "aarch64"): "linux_aarch64",
              ("linux", "arm64"): "linux_aarch64", ("darwin", "x86_64"): "macos_x86_64",
              ("darwin", "arm64"): "macos_arm64", ("darwin", "aarch64"): "macos_arm64",
              ("windows", "amd64"): "windows_amd64", ("windows", "x86_64"): "windows_amd64",
              ("windows", "arm64"): "windows_arm64"}


def wheel_platform(system: Any, arch: Any) -> Optional[str]:
    """('linux', 'x86_64') -> 'linux_x86_64', ('darwin', 'arm64') -> 'macos_arm64'; None for what is unknown."""
    if not isinstance(system, str) or not isinstance(arch, str):
        return None
    return _PLATFORMS.get((system.lower(), arch.lower()))


def wheel_pythons(framework: str, version: str, platform: Optional[str]) -> Optional[List[str]]:
    """The CPython versions a release has wheels for on a platform (PyPI's tags); [] for a platform without wheels;
    None where the row has no wheel data (or the platform is unknown)."""
    row = framework_release(framework, version)
    wheels = row.get("platforms") if row else None
    if not isinstance(wheels, dict) or platform is None:
        return None
    return list(wheels.get(platform) or [])


def glibc_floor(framework: str, version: str, arch: Any) -> Optional[str]:
    """The glibc a release's Linux wheels for this CPU architecture need ('2.28'), or None."""
    row = framework_release(framework, version) or {}
    field = {"x86_64": "glibc_min_linux_x86_64", "aarch64": "glibc_min_linux_aarch64",
             "arm64": "glibc_min_linux_aarch64"}.get(arch) if isinstance(arch, str) else None
    value = row.get(field) if field else None
    return value if isinstance(value, str) else None


#: CPU architecture -> the row's macOS floor column and its per-Python exceptions (scripts/refresh-knowledge).
_MACOS_FIELDS = {"arm64": ("macos_min_arm64", "macos_min_arm64_by_python"),
                 "aarch64": ("macos_min_arm64", "macos_min_arm64_by_python"),
                 "x86_64": ("macos_min_x86_64", "macos_min_x86_64_by_python")}


def macos_floor(framework: str, version: str, arch: Any, python: Optional[str]) -> Optional[str]:
    """The oldest macOS a release's wheels for this CPU (arm64, x86_64) and Python (X.Y) install on ('11.0'); the
    column's floor for a Python it does not list apart; None where the table has none, or the Python is unknown
    and the floors differ by Python."""
    row = framework_release(framework, version) or {}
    fields = _MACOS_FIELDS.get(arch) if isinstance(arch, str) else None
    lowest = row.get(fields[0]) if fields else None
    if not isinstance(lowest, str) or not fields:
        return None
    by_python = row.get(fields[1]) or {}
    if python is None:
        return None if by_python else lowest
    value = by_python.get(minor_of(python) or "", lowest)
    return value if isinstance(value, str) else None


def mps_floor(version: str) -> Optional[Row]:
    """The MPS row of a torch release: {'since', 'macos', 'up_to'?, 'source'} (the macOS its MPS backend needs),
    {'none': True, 'since': '1.12'} before the first release with MPS, None for an unreadable version."""
    have = parse_version(version)
    rows = (load("frameworks")["frameworks"]["pytorch"].get("mps") or {}).get("floors") or []
    if have is None or not rows:
        return None
    found: Optional[Row] = None
    for row in rows:
        since = parse_version(row.get("since"))
        if since is not None and Version(minor_of(version) or version) >= since:
            found = row
    return found if found is not None else {"none": True, "since": rows[0].get("since")}


def cuda_wheels_entry(framework: str, platform: Optional[str]) -> Row:
    """The table's cuda_wheels entry of a framework on a platform ({'last': '2.10', 'instead': 'WSL2', ...}); {}
    where it has none."""
    name = normalize_framework(framework)
    entry = ((load("frameworks")["frameworks"][name].get("cuda_wheels") or {}).get(platform or "")) if name else None
    return dict(entry) if isinstance(entry, dict) else {}


def cuda_wheels(framework: str, version: str, platform: Optional[str]) -> Optional[str]:
    """Whether a release publishes a CUDA build on a platform, where the table says: 'yes', 'none' or 'unknown';
    None where it says nothing for that platform."""
    name = normalize_framework(framework)
    entry = ((load("frameworks")["frameworks"][name].get("cuda_wheels") or {}).get(platform or "")) if name else None
    have = parse_version(version)
    if not isinstance(entry, dict) or have is None:
        return None
    if entry.get("never"):  # no release publishes one there (MXNet's mxnet-cuXYZ wheels are Linux x86_64 only)
        return "none"
    since, last = parse_version(entry.get("since")), parse_version(entry.get("last"))
    inside = (since is None or have >= since) and (last is None or Version(minor_of(version) or version) <= last)
    return "yes" if inside else str(entry.get("outside") or "unknown")


def _tag_supports(tags: List[str], want: str) -> Optional[bool]:
    """Whether wheel Python tags ('3.12', '3.13t', '3.8+', 'py3') cover a major.minor; None when they name none."""
    concrete = [tag for tag in tags if tag[:1].isdigit()]
    if not concrete:
        return None
    for tag in concrete:
        low = parse_version(tag.rstrip("+"))
        if tag == want or (tag.endswith("+") and low is not None and low <= Version(want)):
            return True
    return False


def _requires_python(spec: Any, want: str) -> Optional[bool]:
    """Whether a Requires-Python ('>=3.9') admits a major.minor; None for no or an unreadable specifier."""
    try:
        return SpecifierSet(spec).contains(want) if isinstance(spec, str) and spec else None
    except InvalidSpecifier:
        return None
