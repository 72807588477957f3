"""Which published framework builds work on a machine: the shared judgement behind `doctor --target` and setup.

A pure function of the inventory JSON and the knowledge base. Each build is judged on the facts it needs (Python
version, GPU architectures, driver, CPU flags); a build with no problems works here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from provision import compat_jetson
from provision.inventory import facts
from provision.errors import UsageError
from provision.knowledge import load, queries


@dataclass
class Build:
    framework: str  # pytorch | tensorflow | jax | mxnet
    release: str  # "2.9" (the knowledge base's release row)
    variant: str  # "cu128", "cpu", "rocm6.4" (torch); "cuda12" (jax extra); "cuda" / "cpu" (tensorflow)
    cuda: Optional[str] = None
    rocm: Optional[str] = None
    wheel: Optional[Tuple[str, str]] = None  # (version, URL) of a direct wheel: NVIDIA's JetPack-matched ones


@dataclass
class Verdict:
    build: Build
    problems: List[str] = field(default_factory=list)  # why it cannot work here
    notes: List[str] = field(default_factory=list)  # works, but worth knowing
    unknowns: List[str] = field(default_factory=list)  # facts it needs that are missing: not judged, never "fine"

    @property
    def ok(self) -> bool:
        """No problems found (which is not "works" while unknowns remain)."""
        return not self.problems

    @property
    def certain(self) -> bool:
        """Judged on every fact it needs: ok or not, nothing was left unknown."""
        return not self.unknowns


def parse_target(text: str) -> tuple:
    """'pytorch==2.4' -> ('pytorch', '2.4'); 'jax' -> ('jax', None). UsageError for an unknown framework."""
    name, _, given = text.partition("==")
    framework = queries.normalize_framework(name.strip())
    if framework is None:
        raise UsageError("unknown framework %r: use pytorch (torch), tensorflow, jax or mxnet" % name.strip())
    version = given.strip() or None
    if version is not None:
        try:
            Version(version)
        except InvalidVersion:
            raise UsageError("bad version %r in %r" % (version, text)) from None
    return framework, version


def _rows(framework: str) -> List[Dict[str, Any]]:
    return list(load("frameworks")["frameworks"][framework].get("releases") or [])


def releases(framework: str) -> List[str]:
    """Known releases, newest first."""
    return sorted((row["version"] for row in _rows(framework)), key=Version, reverse=True)


def match_release(framework: str, version: Optional[str]) -> Optional[str]:
    """The knowledge base's row for a requested version ('2.4.1' -> '2.4'); the newest when version is None."""
    known = releases(framework)
    if framework == "jax" and not known:  # JAX is judged by its extras (jax[cuda12]), the same for every release
        return version or "latest"
    if version is None:
        return known[0] if known else None
    wanted = Version(version).release
    for release in known:
        if Version(release).release == wanted[:len(Version(release).release)]:
            return release
    return None


def builds(framework: str, release: str) -> List[Build]:
    row = queries.framework_release(framework, release) or {}
    if row.get("variants"):  # PyTorch and MXNet publish one wheel per CUDA/ROCm variant
        return [Build(framework, release, name, info.get("cuda"), info.get("rocm"))
                for name, info in sorted(row["variants"].items())]
    if framework == "tensorflow":
        out = [Build(framework, release, "cpu")]
        if row.get("cuda"):
            out.insert(0, Build(framework, release, "cuda", cuda=row["cuda"]))
        return out
    if framework == "jax":
        extras = load("frameworks")["frameworks"]["jax"].get("extras") or []
        published = queries.jax_cuda_extras(release) if row else [e["extra"] for e in extras]
        return [Build(framework, release, e["extra"], cuda="%d.0" % e["cuda_major"]) for e in extras
                if e["extra"] in published] + [Build(framework, release, "cpu")]
    return [Build(framework, release, "cpu")]


def nvidia_hardware(inv: Dict[str, Any]) -> bool:
    """NVIDIA GPUs that the driver reports, or that sit on the PCI bus without a working driver."""
    return bool(facts.gpus(inv, "nvidia") or facts.nvidia(inv).get("pci_gpus"))


def _judge_gpu(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    gpus = facts.gpus(inv, "nvidia")
    if facts.os_info(inv).get("wsl") == 1:  # WSL 1 runs Linux calls on the NT kernel: no GPU device at all
        verdict.problems.append("WSL 1 gives Linux no GPU: CUDA needs WSL 2")
        return
    if not nvidia_hardware(inv):
        verdict.problems.append("no NVIDIA GPU here")
        return
    for gpu in gpus:
        cc = gpu.get("compute_capability")
        if not cc:
            verdict.unknowns.append("the compute capability of %s" % facts.gpu_label(gpu))
            continue
        if build.variant == compat_jetson.JETPACK:  # NVIDIA builds it for the JetPack, which runs on its modules only
            continue
        supported: Optional[bool] = None
        if build.framework == "pytorch":
            supported = queries.torch_variant_supports_cc(build.release, build.variant, cc)
        elif build.framework == "jax":
            extra = next(e for e in load("frameworks")["frameworks"]["jax"]["extras"] if e["extra"] == build.variant)
            have = facts.version(cc)  # a malformed capability is as unknown as a missing one
            supported = None if have is None else have >= Version(extra["min_cc"])
        if supported is False:
            verdict.problems.append("no kernels for %s (compute capability %s)" % (facts.gpu_label(gpu), cc))
        elif supported is None and build.framework in ("pytorch", "jax"):  # the tables carry their architectures
            verdict.unknowns.append("whether %s %s (%s) has kernels for %s (compute capability %s)" % (
                build.framework, build.release, build.variant, facts.gpu_label(gpu), cc))
    _judge_driver(inv, build, verdict)
    _judge_ptx(inv, build, verdict)


#: How a CUDA version runs on the machine's driver (cuda_on_driver).
NATIVE, MINOR_VERSION, CANNOT, UNKNOWN = "native", "minor-version", "cannot", "unknown"


def driver_cuda(inv: Dict[str, Any]) -> Tuple[Optional[str], bool]:
    """The CUDA version the driver supports and whether it was derived: the one NVML or nvidia-smi reported, else
    the newest toolkit whose GA driver the driver version meets (older drivers and some reports do not say)."""
    nv = facts.nvidia(inv)
    if facts.major_minor(nv.get("cuda_driver_version")):
        return nv["cuda_driver_version"], False
    derived = queries.max_cuda_for_driver(nv.get("driver_version") or "", facts.driver_os(inv))
    return derived, derived is not None


def cuda_on_driver(inv: Dict[str, Any], cuda: Optional[str]) -> Tuple[str, str]:
    """How code built with CUDA X.Y (a framework build, a toolkit) runs on this machine's driver D, and why:
    NATIVE where D supports >= X.Y; MINOR_VERSION where X is D's major and D meets X's minor-version compatibility
    floor (everything but PTX JIT of newer code runs); CANNOT otherwise; UNKNOWN where a fact is missing."""
    nv = facts.nvidia(inv)
    if compat_jetson.on_jetson_gpu(inv):  # the driver is L4T's: what nvidia-smi says (or not) does not decide
        runs, why = compat_jetson.cuda_on_l4t(inv, cuda)
        return {True: NATIVE, False: CANNOT, None: UNKNOWN}[runs], why
    if nv.get("status") != "ok":
        return CANNOT, "no working NVIDIA driver (status %s)" % nv.get("status")
    needs = facts.major_minor(cuda)
    supported, derived = driver_cuda(inv)
    have = facts.major_minor(supported)
    if needs is None:
        return UNKNOWN, "the CUDA version the build was made with"
    if have is None:
        return UNKNOWN, ("which CUDA version driver %s supports" % nv["driver_version"] if nv.get("driver_version")
                         else "which CUDA version the driver supports (no driver version either)")
    driver = "%sdriver %s supports CUDA %s%s" % ("Windows " if facts.driver_os(inv) == "windows" else "",
                                                 nv.get("driver_version"), supported,
                                                 " (derived from its version)" if derived else "")
    if needs <= have:
        return NATIVE, driver
    # CUDA 11 on: the major's floor; before it (no minor-version compatibility) the toolkit's own driver (10.1: 418.39)
    wanted = "%d.%d" % needs
    floor = queries.minor_compat_floor(wanted, facts.driver_os(inv))
    if queries.has_minor_version_compatibility(wanted) is False:
        return _before_minor_version_compatibility(nv.get("driver_version"), driver, wanted, floor)
    if needs[0] != have[0]:
        return CANNOT, "%s, the build needs CUDA %d (driver >= %s)" % (driver, needs[0], floor or "?")
    have_driver, floor_version = facts.version(nv.get("driver_version")), facts.version(floor)
    if have_driver is None or floor_version is None:
        return UNKNOWN, "whether %s runs CUDA %d.%d under minor-version compatibility (driver version %s, floor %s)" \
            % (driver, needs[0], needs[1], nv.get("driver_version"), floor)
    if have_driver < floor_version:
        return CANNOT, "%s, CUDA %d.%d needs driver >= %s (CUDA %d's minor-version compatibility floor)" % (
            driver, needs[0], needs[1], floor, needs[0])
    return MINOR_VERSION, "CUDA %d.%d on a CUDA %s driver%s runs under minor-version compatibility; PTX JIT of " \
        "newer code fails" % (needs + (supported, " (derived from its version)" if derived else ""))


def _before_minor_version_compatibility(version: Optional[str], driver: str, cuda: str,
                                        floor: Optional[str]) -> Tuple[str, str]:
    """A toolkit older than CUDA 11 runs only on a driver at least as new as its own release's (Table 3)."""
    have_driver, floor_version = facts.version(version), facts.version(floor)
    if have_driver is None or floor_version is None:
        return UNKNOWN, "whether %s runs CUDA %s (driver version %s, CUDA %s's driver %s)" % (
            driver, cuda, version, cuda, floor)
    if have_driver < floor_version:
        return CANNOT, "%s, CUDA %s needs driver >= %s (before CUDA 11 a toolkit needs its own release's driver: " \
            "no minor-version compatibility)" % (driver, cuda, floor)
    return NATIVE, "driver %s meets CUDA %s's driver %s" % (version, cuda, floor)


def _judge_ptx(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """A GPU newer than a torch build's newest SASS runs its PTX, JIT-compiled by the driver: minor-version
    compatibility does not cover that, the driver must support the build's CUDA itself."""
    if build.framework != "pytorch" or cuda_on_driver(inv, build.cuda)[0] != MINOR_VERSION:
        return
    for gpu in facts.gpus(inv, "nvidia"):
        cc = gpu.get("compute_capability")
        if cc and queries.torch_kernels_for_cc(build.release, build.variant, cc) == "ptx":
            verdict.problems.append("%s (compute capability %s) runs this build only through PTX JIT, which needs a "
                                    "driver for CUDA %s (this one supports CUDA %s)" % (
                                        facts.gpu_label(gpu), cc, build.cuda, driver_cuda(inv)[0]))


def _judge_driver(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    kind, why = cuda_on_driver(inv, build.cuda)
    {CANNOT: verdict.problems, MINOR_VERSION: verdict.notes, UNKNOWN: verdict.unknowns}.get(kind, []).append(why)


def installed_cuda(inv: Dict[str, Any], name: str, entry: Dict[str, Any]) -> Tuple[Optional[str], str]:
    """The CUDA an installed framework build runs, and where that was read: the build's own record (a wheel's local
    label, torch/version.py, TensorFlow's build_info.py). A TensorFlow GPU build that records none (tensorflow-gpu
    before 2.1 writes only is_cuda_build) loads the CUDA of the conda environment it lies in (its cudatoolkit,
    ContinuumIO/anaconda-issues#10224: TF 1.11 'compiled against CUDA 9.2'), else the release's tested build
    configuration, which PyPI's wheels were built with (the frameworks table)."""
    if entry.get("cuda"):
        return str(entry["cuda"]), "build"
    framework = queries.normalize_framework(name) or name
    if framework != "tensorflow" or not str(entry.get("build") or "").startswith("cuda"):
        return None, ""
    location = str(entry.get("location") or "")
    for toolkit in (inv.get("cuda") or {}).get("toolkits") or []:
        prefix = str(toolkit.get("path") or "").rstrip("/")
        if toolkit.get("source") == "conda" and prefix and location.startswith(prefix + "/"):
            return (str(toolkit["version"]), "conda cudatoolkit") if toolkit.get("version") else (None, "")
    version = (entry.get("version") or "").split("+")[0]
    row = queries.framework_release(framework, version) or {}
    return (str(row["cuda"]), "release table") if row.get("cuda") else (None, "")


def judge_installed(inv: Dict[str, Any], name: str, entry: Dict[str, Any]) -> Optional[Verdict]:
    """How an installed framework's CUDA build (an inventory entry: version, cuda) runs on this machine's driver:
    the driver and PTX parts of judge(), for DLWS-FW-003. None for a build without CUDA, or whose CUDA is unknown
    (installed_cuda)."""
    cuda_version, _ = installed_cuda(inv, name, entry)
    if not cuda_version:
        return None
    framework = queries.normalize_framework(name) or name
    version = (entry.get("version") or "").split("+")[0]
    release = (queries.framework_release(framework, version) or {}).get("version") or version
    cuda = facts.major_minor(cuda_version)
    variant = "cu%d%d" % cuda if framework == "pytorch" and cuda else "cuda"
    verdict = Verdict(Build(framework, release, variant, cuda=cuda_version))
    _judge_driver(inv, verdict.build, verdict)
    _judge_ptx(inv, verdict.build, verdict)
    return verdict


#: How the machine's glibc meets a release's Linux wheels (glibc_verdict).
GLIBC_OK, GLIBC_TOO_OLD, GLIBC_UNKNOWN, GLIBC_NOT_LINUX = "ok", "too-old", "unknown", "not-linux"


def glibc_verdict(inv: Dict[str, Any], framework: str, release: str) -> Tuple[str, str]:
    """Whether a release's Linux wheels for this CPU (x86_64, aarch64) load on this glibc: their manylinux floor
    (PyPI's tags, or a higher floor a source shows) against the machine's. A missing floor or glibc is unknown."""
    arch = (inv.get("cpu") or {}).get("arch")
    if facts.os_info(inv).get("system") != "linux" or arch not in ("x86_64", "aarch64", "arm64"):
        return GLIBC_NOT_LINUX, ""
    platform = queries.wheel_platform("linux", arch)
    if queries.wheel_pythons(framework, release, platform) == []:
        return GLIBC_NOT_LINUX, ""  # no Linux wheels for this CPU at all: the platform check says so
    floor = queries.glibc_floor(framework, release, arch)
    glibc = facts.os_info(inv).get("glibc")
    have, needed = facts.version(glibc), facts.version(floor)
    if needed is None:
        return GLIBC_UNKNOWN, "the glibc its Linux %s wheels need (the table has no floor)" % arch
    if have is None:
        return GLIBC_UNKNOWN, "the glibc version (its Linux wheels need glibc >= %s)" % floor
    if have < needed:
        return GLIBC_TOO_OLD, "its Linux wheels need glibc >= %s (this machine has %s)" % (floor, glibc)
    return GLIBC_OK, ""


#: How a cuDNN release meets a GPU (cudnn_gpu_verdict).
CUDNN_GPU_OK, CUDNN_GPU_UNSUPPORTED, CUDNN_GPU_UNKNOWN = "ok", "unsupported", "unknown"


def cudnn_gpu_verdict(cudnn: Any, cuda: Any, cc: Any) -> Tuple[str, str]:
    """Whether the build of a cuDNN release for CUDA X.Y runs on a GPU of this compute capability, as NVIDIA's
    support matrix lists it (the cudnn table): below the oldest capability it lists it does not (cuDNN 9.17 dropped
    Maxwell, Pascal and Volta, 8.9.5 Kepler); a release, a CUDA build or a capability above the newest listed that
    the table lacks is unknown."""
    build = queries.cudnn_build(cudnn, cuda)
    supported = queries.cudnn_supports_cc(cudnn, cuda, cc)
    if build is None:
        return CUDNN_GPU_UNKNOWN, "the GPUs cuDNN %s for CUDA %s supports (the cudnn table lacks it)" % (cudnn, cuda)
    span = "%s to %s" % (build["cc_min"], build.get("cc_max") or "any newer")
    if supported is None:
        return CUDNN_GPU_UNKNOWN, "whether cuDNN %s for CUDA %s supports compute capability %s (its support matrix " \
            "lists %s)" % (cudnn, cuda, cc, span)
    if supported is False:
        return CUDNN_GPU_UNSUPPORTED, "cuDNN %s for CUDA %s supports compute capability %s, not %s" % (
            cudnn, cuda, span, cc)
    return CUDNN_GPU_OK, ""


def _judge_glibc(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """Linux wheels are built for a manylinux glibc floor; an older glibc cannot load them."""
    kind, why = glibc_verdict(inv, build.framework, build.release)
    {GLIBC_TOO_OLD: verdict.problems, GLIBC_UNKNOWN: verdict.unknowns}.get(kind, []).append(why)


#: How the machine's macOS meets a release's macOS wheels (macos_verdict).
MACOS_OK, MACOS_TOO_OLD, MACOS_UNKNOWN, MACOS_NOT_MAC = "ok", "too-old", "unknown", "not-macos"
#: How a torch release's MPS (Apple GPU) backend meets this Mac (mps_verdict).
MPS_OK, MPS_TOO_OLD, MPS_NONE, MPS_UNKNOWN, MPS_NOT_APPLE = "ok", "too-old", "none", "unknown", "not-apple-silicon"
#: In every note of a verdict whose torch cannot use the Apple GPU (the planner then promises no MPS).
MPS_WORDS = "MPS backend"
#: What platform.mac_ver() says on every macOS from 11 on in a Python built against an older SDK
#: (SYSTEM_VERSION_COMPAT), where sw_vers did not answer either: not the machine's version.
MAC_COMPAT_VERSION = "10.16"


def mac_version(inv: Dict[str, Any]) -> Optional[str]:
    """The macOS version of a Mac, where it is the real one; None elsewhere and for Python's 10.16 answer."""
    info = facts.os_info(inv)
    version = info.get("version") if info.get("system") == "darwin" else None
    if not isinstance(version, str) or facts.version(version) is None or version == MAC_COMPAT_VERSION:
        return None
    return version


def macos_verdict(inv: Dict[str, Any], framework: str, release: str) -> Tuple[str, str]:
    """Whether a release has macOS wheels for this Mac's version: the floor of its macosx_X_Y tags for the CPU the
    Python runs as and its version (PyPI's tags) against the machine's macOS. A missing floor or version is unknown."""
    arch = (inv.get("cpu") or {}).get("arch")
    platform = queries.wheel_platform("darwin", arch)
    if facts.os_info(inv).get("system") != "darwin" or platform is None:
        return MACOS_NOT_MAC, ""
    if queries.wheel_pythons(framework, release, platform) == []:
        return MACOS_NOT_MAC, ""  # no wheels for this CPU at all: the platform check says so
    python = (inv.get("python") or {}).get("version")
    floor = queries.macos_floor(framework, release, arch, python)
    have, needed = facts.version(mac_version(inv)), facts.version(floor)
    where = _PLATFORM_WORDS.get(platform, platform)
    if needed is None:
        return MACOS_UNKNOWN, "the macOS its %s wheels need (the table has no floor%s)" % (
            where, "" if python else " for an unknown Python")
    if have is None:
        return MACOS_UNKNOWN, "the macOS version (its %s wheels need macOS >= %s)" % (where, floor)
    if have < needed:
        return MACOS_TOO_OLD, "its %s wheels%s need macOS >= %s (this Mac has %s)" % (
            where, " for Python %s" % ".".join(str(python).split(".")[:2]) if python else "", floor, mac_version(inv))
    return MACOS_OK, ""


def _judge_macos(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """macOS wheels are built for a deployment target (their macosx_X_Y tag): pip installs none on an older macOS."""
    kind, why = macos_verdict(inv, build.framework, build.release)
    {MACOS_TOO_OLD: verdict.problems, MACOS_UNKNOWN: verdict.unknowns}.get(kind, []).append(why)


def mps_verdict(inv: Dict[str, Any], version: str) -> Tuple[str, str]:
    """Whether torch `version` (a release or an installed version) can use this Mac's GPU through MPS: the macOS
    its release needs (the mps floors) against the machine's. Judged for an arm64 Python on Apple silicon only: an
    Intel Mac's GPU is not probed, and an x86_64 Python there is DLWS-EMU-001's."""
    arch = (inv.get("cpu") or {}).get("arch")
    if facts.os_info(inv).get("system") != "darwin" or arch not in ("arm64", "aarch64"):
        return MPS_NOT_APPLE, ""
    row = queries.mps_floor(version)
    if row is None:
        return MPS_UNKNOWN, "which macOS torch %s's MPS backend needs" % version
    if row.get("none"):
        return MPS_NONE, "torch %s has no MPS backend (it came with torch %s)" % (version, row.get("since"))
    have, needed, upper = (facts.version(mac_version(inv)), facts.version(row.get("macos")),
                           facts.version(row.get("up_to")))
    if have is None or needed is None:
        return MPS_UNKNOWN, "the macOS version (torch %s's MPS backend needs macOS >= %s)" % (version, row.get("macos"))
    if have < needed:
        return MPS_TOO_OLD, "torch %s's MPS backend needs macOS >= %s (this Mac has %s): " \
            "torch.backends.mps.is_available() is False and torch runs on the CPU" % (version, row["macos"],
                                                                                      mac_version(inv))
    if upper is not None and have < upper:
        return MPS_UNKNOWN, "whether torch %s's MPS backend takes macOS %s (it needs >= %s, perhaps >= %s)" % (
            version, mac_version(inv), row["macos"], row["up_to"])
    return MPS_OK, ""


def _judge_mps(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """A torch whose MPS backend refuses this macOS installs and runs, on the CPU only: worth knowing."""
    if build.framework != "pytorch":
        return
    kind, why = mps_verdict(inv, build.release)
    {MPS_TOO_OLD: verdict.notes, MPS_NONE: verdict.notes, MPS_UNKNOWN: verdict.unknowns}.get(kind, []).append(why)


#: Platform names as messages spell them.
_PLATFORM_WORDS = {"linux_x86_64": "Linux x86_64", "linux_aarch64": "Linux aarch64", "macos_x86_64": "macOS x86_64",
                   "macos_arm64": "macOS arm64", "windows_amd64": "Windows x86_64", "windows_arm64": "Windows arm64",
                   "windows_x86": "32-bit Windows (win32)"}
#: The note on every verdict for a Python that Rosetta 2 translates (os.emulation "rosetta"); setup's choice reads it.
ROSETTA_NOTE = "this Python is x86_64 code that Rosetta 2 translates on Apple Silicon: it installs only macOS x86_64 " \
    "wheels and runs them translated; an arm64 Python gets the arm64 wheels, natively"


def python_platform(inv: Dict[str, Any]) -> Optional[str]:
    """The wheel platform pip asks for: the CPU's, except under a 32-bit Python on Windows (WOW64), whose pip takes
    win32 wheels only (refresh.platform_of names them windows_x86)."""
    system = facts.os_info(inv).get("system")
    if system == "windows" and (inv.get("python") or {}).get("bits") == 32:
        return "windows_x86"
    return queries.wheel_platform(system, (inv.get("cpu") or {}).get("arch"))


def _judge_platform(inv: Dict[str, Any], build: Build, verdict: Verdict) -> Optional[str]:
    """Whether the release publishes wheels (and, for a CUDA build, a CUDA build) for this OS and CPU; the
    platform's name, for the Python check."""
    platform = python_platform(inv)
    if facts.os_info(inv).get("emulation") == "rosetta":
        verdict.notes.append(ROSETTA_NOTE)
    name = queries.display_name(build.framework)
    if queries.wheel_pythons(build.framework, build.release, platform) == []:
        verdict.problems.append("no %s %s wheels for %s on PyPI" % (name, build.release, _PLATFORM_WORDS.get(
            platform or "", platform)))
        return platform
    if (build.cuda or build.variant.startswith("cu")) and facts.nvidia(inv).get("source") != "jetson":
        where = _PLATFORM_WORDS.get(platform or "", platform)
        # what the table says of this build on this platform comes before what it says of the release's
        listed = queries.variant_platforms(build.framework, build.release, build.variant).get(platform or "")
        published = queries.cuda_wheels(build.framework, build.release, platform) if listed is None else None
        if listed is False:
            verdict.problems.append("%s %s publishes no %s build for %s" % (name, build.release, build.variant,
                                                                           where))
        elif published == "none":
            verdict.problems.append("%s %s publishes no CUDA build for %s" % (name, build.release, where))
        elif published == "unknown":
            verdict.unknowns.append("whether %s %s publishes a CUDA build (%s) for %s" % (
                name, build.release, build.variant, where))
    return platform


def _judge_rocm(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """A ROCm build carries code objects for a list of gfx targets: a GPU outside it fails at its first kernel with
    hipErrorNoBinaryForGpu. HSA_OVERRIDE_GFX_VERSION makes every GPU load the code objects of the target it names
    instead. The amdgpu kernel driver must also support the build's ROCm user space; dlws does not read the
    driver's version, so that stays unknown."""
    gpus = facts.gpus(inv, "amd")
    if not gpus:
        verdict.problems.append("no AMD GPU here")
        return
    label = "%s %s (%s)" % (build.framework, build.release, build.variant)
    targets = queries.torch_rocm_gfx_targets(build.release, build.variant) if build.framework == "pytorch" else None
    official = queries.rocm_release_gfx_targets(build.rocm)
    if targets is None and any(gpu.get("gfx_target") for gpu in gpus):
        verdict.unknowns.append("which gfx targets %s has code objects for (this machine needs %s)" % (
            label, ", ".join(sorted({gpu["gfx_target"] for gpu in gpus if gpu.get("gfx_target")}))))
    for gpu in gpus:
        gfx = gpu.get("gfx_target")
        override = hsa_override(inv)
        if gfx and override is not None:
            gfx = _judge_override(gpu, verdict, override)
        if not gfx:
            if gpu.get("gfx_target") is None:
                verdict.unknowns.append("the gfx target of %s" % facts.gpu_label(gpu))
        elif targets is None:
            continue
        elif gfx not in targets:
            verdict.problems.append("no code objects for %s in %s: %s fails with hipErrorNoBinaryForGpu (the build "
                                    "has %s)" % (gfx, label, facts.gpu_label(gpu), ", ".join(targets)))
        elif official is not None and gfx not in official:
            verdict.notes.append("%s (%s) has code objects in %s, but ROCm %s does not officially support it" % (
                facts.gpu_label(gpu), gfx, label, build.rocm))
    verdict.unknowns.append("whether the amdgpu kernel driver supports ROCm %s's user space (its version is not "
                            "read)" % build.rocm)


def hsa_override(inv: Dict[str, Any]) -> Optional[str]:
    """HSA_OVERRIDE_GFX_VERSION as set where dlws ran (None: unset)."""
    value = (inv.get("env_vars") or {}).get("HSA_OVERRIDE_GFX_VERSION")
    return value if isinstance(value, str) and value.strip() else None


def override_target(value: str) -> Optional[str]:
    """The gfx target HSA_OVERRIDE_GFX_VERSION names: 'major.minor.stepping' -> gfx<major><minor><stepping>
    ('10.3.0' -> 'gfx1030', '9.0.0' -> 'gfx900'); None for another form, or a stepping past 9 (gfx90a is written
    with a letter, and dlws has no source for how the runtime spells it)."""
    parts = value.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 2 for p in parts) or int(parts[2]) > 9:
        return None
    return "gfx%d%d%d" % tuple(int(p) for p in parts)


def override_effect(gfx: str, value: str) -> Tuple[str, str, Optional[str]]:
    """What HSA_OVERRIDE_GFX_VERSION=value does to a GPU of target gfx: (kind, why, the target it loads) with kind
    'problem' (another ISA family's code objects), 'unknown', 'note' (its own family: runs, unsupported by AMD) or
    'same' (the GPU's own target)."""
    loaded = override_target(value)
    if loaded is None:
        return "unknown", "which gfx target HSA_OVERRIDE_GFX_VERSION=%r names (not major.minor.stepping)" % value, None
    if loaded == gfx:
        return "same", "HSA_OVERRIDE_GFX_VERSION=%s names the GPU's own target %s" % (value, gfx), loaded
    own, theirs = queries.gfx_generic_family(gfx), queries.gfx_generic_family(loaded)
    if _gfx_major(gfx) != _gfx_major(loaded):  # no generic family spans two: gfx9 (GCN/CDNA) is not gfx10 (RDNA)
        own, theirs = own or "gfx%s" % _gfx_major(gfx), theirs or "gfx%s" % _gfx_major(loaded)
    elif own is None or theirs is None:
        return "unknown", "whether %s runs %s's code objects (HSA_OVERRIDE_GFX_VERSION=%s; the ISA family of %s is " \
            "not known)" % (gfx, loaded, value, gfx if own is None else loaded), loaded
    if own != theirs:
        return "problem", "HSA_OVERRIDE_GFX_VERSION=%s makes the runtime load %s code objects (%s) on a %s GPU (%s): " \
            "another ISA, so kernels fail (invalid device function) or crash" % (value, loaded, theirs, gfx, own), loaded
    return "note", "HSA_OVERRIDE_GFX_VERSION=%s: the %s GPU runs %s code objects (both %s), which AMD does not " \
        "support" % (value, gfx, loaded, own), loaded


def _gfx_major(gfx: str) -> str:
    """'9' from gfx90a, '10' from gfx1031: the ISA generation."""
    digits = gfx[3:]
    return digits[:2] if len(digits) == 4 else digits[:1]


def _judge_override(gpu: Dict[str, Any], verdict: Verdict, value: str) -> Optional[str]:
    """The gfx target whose code objects the GPU gets under HSA_OVERRIDE_GFX_VERSION (None: cannot tell), with
    what that means added to the verdict."""
    kind, why, loaded = override_effect(gpu["gfx_target"], value)
    {"problem": verdict.problems, "unknown": verdict.unknowns, "note": verdict.notes}.get(kind, []).append(
        "%s: %s" % (facts.gpu_label(gpu), why))
    return loaded if kind != "unknown" else None


def judge_installed_rocm(inv: Dict[str, Any], name: str, entry: Dict[str, Any]) -> Optional[Verdict]:
    """The GPU part of judge() for an installed framework's ROCm build (an inventory entry: version, rocm), for
    DLWS-FW-008. None for a build without ROCm."""
    if not entry.get("rocm"):
        return None
    framework = queries.normalize_framework(name) or name
    version = (entry.get("version") or "").split("+")[0]
    release = (queries.framework_release(framework, version) or {}).get("version") or version
    verdict = Verdict(Build(framework, release, "rocm" + entry["rocm"], rocm=entry["rocm"]))
    _judge_rocm(inv, verdict.build, verdict)
    return verdict


def judge(inv: Dict[str, Any], build: Build) -> Verdict:
    """Whether this build can work on the machine described by inv, and why not."""
    verdict = Verdict(build)
    platform = _judge_platform(inv, build, verdict)
    python = (inv.get("python") or {}).get("version")
    span = (queries.framework_release(build.framework, build.release) or {}).get("python") or {}
    if not python:  # wheels are per Python: a release judged for no Python may have none for the one used
        verdict.unknowns.append("the Python version (%s %s has wheels for Python %s to %s)" % (
            build.framework, build.release, span.get("min") or "?", span.get("max") or "?"))
    elif queries.python_supported(build.framework, build.release, python, platform) is False:
        verdict.problems.append("no wheels for Python %s" % ".".join(python.split(".")[:2]))
    cpu = inv.get("cpu") or {}
    _judge_glibc(inv, build, verdict)
    _judge_macos(inv, build, verdict)
    _judge_mps(inv, build, verdict)
    emulation = facts.os_info(inv).get("emulation")
    if emulation == "qemu-user" and queries.needs_avx(build.framework, build.release):
        verdict.unknowns.append("whether the CPU qemu-user emulates has AVX, which %s's wheels need (the flags read "
                                "are the host's)" % queries.display_name(build.framework))
    elif emulation == "rosetta" and queries.needs_avx(build.framework, build.release):
        _judge_rosetta_avx(inv, build, verdict)
    elif cpu.get("arch") == "x86_64" and queries.needs_avx(build.framework, build.release):
        if not cpu.get("flags"):  # unknown flags are no evidence of AVX either way
            verdict.unknowns.append("whether the CPU has AVX, which %s's wheels need (its flags are unknown)"
                                    % queries.display_name(build.framework))
        elif "avx" not in cpu["flags"]:
            verdict.problems.append("the CPU has no AVX, which %s's wheels need"
                                    % queries.display_name(build.framework))
    retired = queries.retirement(build.framework)
    if retired:
        last = queries.framework_release(build.framework, retired["last_release"]) or {}
        verdict.notes.append("%s is retired%s: %s is its last release, for Python <= %s" % (
            queries.display_name(build.framework), " (Apache Attic)" if retired["attic"] else "",
            retired["last_release"], (last.get("python") or {}).get("max")))
    if build.rocm:
        _judge_rocm(inv, build, verdict)
    elif build.cuda or build.variant.startswith("cu"):
        _judge_gpu(inv, build, verdict)
        problems, unknowns = compat_jetson.judge_build(inv, build.framework, build.variant, python)
        verdict.problems.extend(problems)
        verdict.unknowns.extend(unknowns)
    return verdict


def rosetta_runs_avx(macos: Any) -> Optional[bool]:
    """Whether Rosetta 2 on this macOS version runs AVX (from the distributions table's macOS release on; none
    before); None where the version is unknown or 10.16 (what an old Python reports on any macOS from 11,
    SYSTEM_VERSION_COMPAT)."""
    parsed, first = facts.major_minor(macos), queries.rosetta_avx_from()
    if parsed is None or parsed == (10, 16) or first is None:
        return None
    return parsed[0] >= first


def _judge_rosetta_avx(inv: Dict[str, Any], build: Build, verdict: Verdict) -> None:
    """An x86_64 wheel that needs AVX, under Rosetta 2: sysctl reports no AVX there either way, so the macOS
    version decides."""
    name = queries.display_name(build.framework)
    runs = rosetta_runs_avx(facts.os_info(inv).get("version"))
    if runs is False:
        verdict.problems.append("Rosetta 2 translates no AVX before macOS %s, which %s's x86_64 wheels need" % (
            queries.rosetta_avx_from(), name))
    elif runs is None:
        verdict.unknowns.append("whether Rosetta 2 runs AVX here, which %s's x86_64 wheels need (it does from macOS "
                                "%s; the macOS version is not known)" % (name, queries.rosetta_avx_from()))


def _jetpack_builds(inv: Dict[str, Any], framework: str, release: str) -> List[Build]:
    """On a Jetson, NVIDIA's JetPack-matched wheel where it is of this release."""
    wheel = compat_jetson.wheel(inv, framework)
    if wheel is None or (queries.framework_release(framework, wheel["version"]) or {}).get("version") != release:
        return []
    return [Build(framework, release, compat_jetson.JETPACK, cuda=wheel["cuda"], wheel=(wheel["version"], wheel["url"]))]


def relevant(inv: Dict[str, Any], build: Build) -> bool:
    """Builds for hardware the machine has: CPU always, CUDA with NVIDIA GPUs, ROCm with AMD GPUs."""
    if build.rocm:
        return bool(facts.gpus(inv, "amd"))
    if build.cuda:
        return nvidia_hardware(inv)
    return True


def _gfx_unlisted(build: Build) -> bool:
    """A torch ROCm build whose gfx targets the table lacks: every ROCm build has unknowns (the amdgpu driver), so
    this is what tells one judged on the GPU from one that was not."""
    return bool(build.rocm) and build.framework == "pytorch" \
        and queries.torch_rocm_gfx_targets(build.release, build.variant) is None


def best_build(inv: Dict[str, Any], framework: str, release: str) -> List[Verdict]:
    """The builds of a release for this machine's hardware, judged: working first, GPU before CPU, fully judged
    before those with unknowns, a ROCm build whose gfx list is known before one whose is not, newest CUDA or ROCm
    first (by version: rocm7.14 before rocm7.2)."""
    verdicts = [judge(inv, b) for b in builds(framework, release) + _jetpack_builds(inv, framework, release)
                if relevant(inv, b)]

    def rank(v: Verdict) -> tuple:
        stack = queries.stack_version(v.build.cuda or v.build.rocm)
        # native before minor-version compatibility on its own: a retired framework's note is on every build
        minor = bool(v.build.cuda) and cuda_on_driver(inv, v.build.cuda)[0] == MINOR_VERSION
        return (not v.ok, v.build.variant == "cpu", bool(v.unknowns), _gfx_unlisted(v.build), minor, bool(v.notes),
                tuple(-x for x in stack))

    return sorted(verdicts, key=rank)
