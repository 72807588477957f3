"""Typed questions over the knowledge tables (cuda, frameworks, distributions), including the exact pins and
package index the setup planner installs from.

Every function is pure and total: bad or unknown input answers None (or an empty list), never an exception,
because doctor rules feed them whatever a broken machine reported.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any, Dict, List, Optional, Tuple, Union

from packaging.version import InvalidVersion, Version

from provision.knowledge import load

Row = Dict[str, Any]


def _version(text: Any) -> Optional[Version]:
    """A packaging Version of text, or None for anything that is not one (local tags like +cu121 dropped)."""
    if not isinstance(text, str):
        return None
    public, plus, local = text.strip().partition("+")
    if not public or (plus and not local):
        return None
    try:
        return Version(public)
    except InvalidVersion:
        return None


def _minor(text: Any) -> Optional[str]:
    """'12.4.1' -> '12.4'; None where text is no version."""
    version = _version(text)
    if version is None:
        return None
    return "%d.%d" % (version.major, version.minor)


def _os_key(os: str) -> Optional[str]:
    return {"linux": "linux_x86_64", "windows": "windows_x86_64"}.get(os.lower() if isinstance(os, str) else "")


# --- CUDA ---------------------------------------------------------------------------------------------------------


def _toolkit(cuda: Any) -> Optional[Row]:
    minor = _minor(cuda)
    return next((row for row in load("cuda")["toolkits"] if row["version"] == minor), None)


def _release(row: Row, cuda: str) -> Optional[Row]:
    """The Table 3 line of a toolkit: the GA one for '12.4', the exact update for '12.4.1'."""
    version = _version(cuda)
    if version is None:
        return None
    if len(version.release) < 3:
        return row["releases"][0]
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
    """The oldest driver that runs any toolkit of this CUDA major ('12.x' -> '525.60.13' on Linux)."""
    key = _os_key(os)
    version = _version(cuda)
    if key is None or version is None:
        return None
    row = next((r for r in load("cuda")["minor_version_compatibility"] if r["major"] == version.major), None)
    return row.get(key) if row else None


def max_cuda_for_driver(driver: str, os: str = "linux") -> Optional[str]:
    """The newest toolkit (major.minor) whose GA driver requirement this driver meets: '550.54.14' -> '12.4'.

    None when the driver is older than every toolkit in the table, or is not a version.
    """
    key = _os_key(os)
    have = _version(driver)
    if key is None or have is None:
        return None
    best: Optional[Tuple[Version, str]] = None
    for row in load("cuda")["toolkits"]:
        need = _version(row["releases"][0].get(key))
        if need is not None and have >= need:
            candidate = (Version(row["version"]), row["version"])
            if best is None or candidate[0] > best[0]:
                best = candidate
    return best[1] if best else None


def _cc(cc: Any) -> Optional[Version]:
    """A compute capability as a Version: '8.6', 8.6, (8, 6) and 'sm_86' all read as 8.6."""
    if isinstance(cc, tuple) and len(cc) == 2 and all(isinstance(part, int) for part in cc):
        return _version("%d.%d" % cc)
    if isinstance(cc, (int, float)) and not isinstance(cc, bool):
        return _version(str(cc))
    if isinstance(cc, str) and cc.lower().startswith(("sm_", "sm")):
        digits = cc.lower().lstrip("sm_").rstrip("af")
        if digits.isdigit() and len(digits) >= 2:
            return _version("%s.%s" % (digits[:-1], digits[-1]))
        return None
    return _version(cc)


def cuda_supports_cc(cuda: str, cc: Union[str, float, Tuple[int, int]]) -> Optional[bool]:
    """Whether this toolkit's nvcc can build native code (SASS) for compute capability cc.

    False below the toolkit's oldest architecture and above its newest; None when unknown.
    """
    row = _toolkit(cuda)
    want = _cc(cc)
    if row is None or want is None:
        return None
    low, high = _version(row.get("cc_min")), _version(row.get("cc_max"))
    if low is not None and want < low:
        return False
    if high is None:
        return None
    return want <= high



# --- frameworks -------------------------------------------------------------------------------------------------


def normalize_framework(name: Any) -> Optional[str]:
    """'torch' / 'PyTorch' -> 'pytorch', 'tf' -> 'tensorflow', ...; None for names the table does not know."""
    if not isinstance(name, str):
        return None
    return load("frameworks")["aliases"].get(name.strip().lower())


def framework_release(framework: str, version: str) -> Optional[Row]:
    """The row a release belongs to: the longest row version that prefixes it ('2.1.2+cu121' -> the torch 2.1 row,
    '0.4.30' -> the jax 0.4.30 row, '0.9.0.1' -> 0.9.0.1 rather than 0.9.0), or None."""
    name = normalize_framework(framework)
    wanted = _version(version)
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


def torch_variant_supports_cc(version: str, variant: str, cc: Union[str, float, Tuple[int, int]]) -> Optional[bool]:
    """Whether a torch build has kernels for this GPU: SASS for cc's major with cc >= the listed minor, or PTX older."""
    arch = torch_arch_list(version, variant)
    want = _cc(cc)
    row = torch_release(version)
    if arch is None or want is None or row is None:
        return None
    for entry in arch:
        have = _version(entry)
        # SASS runs on the same major with an equal or higher minor (8.0 code runs on 8.6).
        if have is not None and have.major == want.major and have <= want:
            return True
    ptx = _version(row["variants"][variant].get("ptx"))
    return bool(ptx is not None and ptx <= want)


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
    since, have = _version(avx.get("since")), _version(version)
    return bool(avx.get("required")) and (since is None or have is None or have >= since)


def python_supported(framework: str, version: str, python: str) -> Optional[bool]:
    """Whether wheels of this release exist for the Python major.minor (experimental ones count as supported)."""
    row = framework_release(framework, version)
    want = _minor(python)
    if row is None or want is None:
        return None
    span = row.get("python") or {}
    low, high = _version(span.get("min")), _version(span.get("max"))
    if low is None or high is None:
        return None
    if any(_minor(extra.rstrip("t")) == want for extra in span.get("experimental", [])):
        return True
    return low <= Version(want) <= high


# --- distributions ----------------------------------------------------------------------------------------------


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



def setup_family(id: Any) -> Optional[Row]:
    """How dlws setup provisions an os-release ID (macOS too): its package manager (None: pip only), the oldest major
    release it manages and the releases whose driver comes from dnf module streams; None where it cannot."""
    if not isinstance(id, str):
        return None
    return next((row for row in load("distributions")["setup"] if row["id"] == id.strip().lower()), None)


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


# --- pins: what the setup planner installs ----------------------------------------------------------------------


def framework_pins(framework: str, release: str, variant: str) -> Dict[str, str]:
    """package -> exact version for one build: ('pytorch', '2.4', 'cu121') -> {'torch': '2.4.1', 'torchvision':
    '0.19.1', 'torchaudio': '2.4.1'}; ('jax', '0.4.30', 'cuda12') -> {'jax': '0.4.30', 'jaxlib': '0.4.30'};
    ('mxnet', '1.9', 'cu112') -> {'mxnet-cu112': '1.9.1', 'numpy': '1.23.5'}.

    Empty when the release or the variant is unknown, or the release has no such build (jax[cuda13] before 0.7.2).
    """
    row = framework_release(framework, release)
    if row is None or not isinstance(variant, str) or not _has_variant(normalize_framework(framework), row, variant):
        return {}
    return dict((row.get("variant_pins") or {}).get(variant) or row.get("pins") or {})


def _has_variant(name: Optional[str], row: Row, variant: str) -> bool:
    if name == "jax":
        return variant == "cpu" or variant in row.get("cuda_extras", [])
    if name == "tensorflow":
        return variant == "cpu" or (variant == "cuda" and bool(row.get("cuda")))
    return variant in (row.get("variants") or {})


def pip_requirements(framework: str, release: str, variant: str) -> List[str]:
    """The pip requirement strings of a build, extras included: ['jax[cuda12]==0.4.30', 'jaxlib==0.4.30'],
    ['tensorflow[and-cuda]==2.15.1'] (the extra only from 2.14 on), ['torch==2.4.1', ...]. Empty when unknown."""
    pins = framework_pins(framework, release, variant)
    name = normalize_framework(framework)
    row = framework_release(framework, release) or {}
    extra = ""
    if name == "jax" and variant != "cpu":
        extra = "[%s]" % variant
    elif name == "tensorflow" and variant == "cuda" and row.get("and_cuda_extra"):
        extra = "[and-cuda]"
    main = (load("frameworks")["frameworks"].get(name or "") or {}).get("package")
    return ["%s%s==%s" % (package, extra if package == main else "", version) for package, version in pins.items()]


def pip_index_url(framework: str, release: str, variant: str, system: str = "linux") -> Optional[str]:
    """The index a build comes from: PyTorch's per-variant index on Linux and Windows
    ('https://download.pytorch.org/whl/cu126'); None for PyPI (TensorFlow, JAX, MXNet, torch on macOS), for builds
    the release does not have and for systems other than 'linux' and 'windows'."""
    row = framework_release(framework, release)
    if not framework_pins(framework, release, variant) or not isinstance(system, str):
        return None
    template = row.get("index_url") if row else None
    if not template or system.strip().lower() not in ("linux", "windows"):
        return None
    return template.format(variant=variant)




def jax_cuda_extras(release: str) -> List[str]:
    """The CUDA extras that install from PyPI for a JAX release: ['cuda12', 'cuda13'] for 0.7.2 on, [] before
    0.4.22 (its CUDA jaxlibs came from Google's find-links page)."""
    row = framework_release("jax", release)
    return list(row.get("cuda_extras", [])) if row else []


def keras_info() -> Row:
    """The Keras 3 entry: pins, Python floor, backends with their minimum framework versions, KERAS_BACKEND."""
    return load("frameworks")["keras"]


def keras_pins() -> Dict[str, str]:
    """{'keras': '3.15.1'}: the Keras 3 release dlws installs on top of a backend framework."""
    return dict(keras_info().get("pins") or {})


def keras_backend(framework: Any) -> Optional[str]:
    """The KERAS_BACKEND value for a framework dlws installs: 'pytorch' -> 'torch', 'jax' -> 'jax', 'tf' ->
    'tensorflow'; None for frameworks Keras 3 cannot run on (MXNet) and for garbage."""
    name = normalize_framework(framework)
    backends = keras_info().get("backends") or {}
    return next((key for key, info in sorted(backends.items()) if name and info.get("framework") == name), None)
