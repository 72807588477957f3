"""Frameworks against the hardware: CPU-only builds on GPU machines, driver too old, clashing CUDA, AVX, MXNet."""

from __future__ import annotations

import shlex
from typing import Any, Dict, Iterator, Optional, Tuple

from provision.doctor.advice import driver_upgrade, setup_command
from provision.doctor.model import Finding, rule
from provision.inventory import facts


def _gpu_install_hint(inv: Dict[str, Any], name: str) -> str:
    """The GPU build the setup planner would choose for this machine (its pins and index): a fixed variant would
    be wrong for some GPUs (cu126 has no Blackwell kernels) or drivers."""
    from provision.knowledge import queries
    from provision.planner import select
    from provision.planner.model import Request

    framework = queries.normalize_framework(name) or name
    dry_run = "dlws setup --framework %s --dry-run" % framework
    verdict, _ = select.choose_framework(inv, Request((framework,)), framework, None)
    if verdict is None:
        return "no %s GPU build fits this machine as it is; %s says why" % (framework, dry_run)
    choice = select.make_choice(verdict, facts.os_info(inv).get("system") or "linux")
    index = " --index-url %s" % choice.index_url if choice.index_url else ""
    return "pip install --force-reinstall %s%s (the whole plan: %s)" % (
        " ".join(shlex.quote(r) for r in choice.requirements), index, dry_run)


def _driver_works(inv: Dict[str, Any]) -> bool:
    return facts.nvidia(inv).get("status") == "ok" and bool(facts.gpus(inv, "nvidia"))


@rule("DLWS-FW-002", "warning", "CPU-only framework build on a machine with an NVIDIA GPU")
def cpu_build_on_gpu(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The installed build has no CUDA support, so it silently trains on the CPU (torch.cuda.is_available() is
    False). Usually pip picked the CPU wheel from a CPU-only index, or a requirements file pinned "+cpu"."""
    from provision import compat_jetson

    if not _driver_works(inv):
        return
    for name in ("torch", "tensorflow", "jax"):
        if name == "torch" and compat_jetson.on_jetson_gpu(inv):
            continue  # DLWS-JET-001 says it, with NVIDIA's JetPack wheel
        entry = facts.frameworks(inv).get(name)
        if entry and facts.build_kind(entry) == "cpu":
            yield cpu_build_on_gpu.finding({"framework": name, "version": entry.get("version"),
                                            "build": entry.get("build")},
                                           _no_gpu_build_here(inv, name, entry) + _gpu_install_hint(inv, name),
                                           subject=name)


def _no_gpu_build_here(inv: Dict[str, Any], name: str, entry: Dict[str, Any]) -> str:
    """Where the installed release publishes no CUDA build for this platform (TensorFlow after 2.10 on native
    Windows), the fix starts by saying so, with where its maintainers send GPU users instead."""
    from provision import compat
    from provision.knowledge import queries

    platform = compat.python_platform(inv)
    version = (entry.get("version") or "").split("+")[0]
    if queries.cuda_wheels(name, version, platform) != "none":
        return ""
    known = queries.cuda_wheels_entry(name, platform)
    where = "%s %s publishes no CUDA build for this platform (%s)" % (
        queries.display_name(name), version, platform)
    if known.get("last"):
        where += "; %s was the last that did" % known["last"]
    return "%s: run it %s, or " % (where, "in %s" % known["instead"] if known.get("instead") else "elsewhere")


@rule("DLWS-FW-003", "error", "A framework needs a newer NVIDIA driver than the one installed")
def framework_newer_than_driver(inv: Dict[str, Any]) -> Iterator[Finding]:
    """A framework built for CUDA X.Y runs natively on a driver that supports CUDA >= X.Y. On an older driver of the
    same major it runs under minor-version compatibility once the driver meets that major's floor, but PTX JIT
    compilation of newer code fails (an info); below the floor, or for a newer major, it fails with "CUDA driver
    version is insufficient for CUDA runtime version" (an error). The same judgment as setup and --target: upgrade
    the driver, or install the framework's variant for an older CUDA."""
    from provision import compat

    nv = facts.nvidia(inv)
    cuda, derived = compat.driver_cuda(inv)
    supported = facts.major_minor(cuda)
    if nv.get("status") != "ok" or supported is None:
        return
    for name, entry in sorted(facts.frameworks(inv).items()):
        verdict = compat.judge_installed(inv, name, entry)
        needs = facts.major_minor(verdict.build.cuda) if verdict else None
        if verdict is None or needs is None or not (verdict.problems or verdict.notes):
            continue
        evidence = {"framework": name, "build": entry.get("build"), "driver_version": nv.get("driver_version"),
                    "driver_cuda": cuda, "driver_cuda_derived": derived, "judgment": verdict.problems or verdict.notes}
        source = compat.installed_cuda(inv, name, entry)[1]
        if source != "build":  # the build does not record its CUDA: say where it was read
            evidence["cuda"], evidence["cuda_from"] = verdict.build.cuda, source
        yield framework_newer_than_driver.finding(
            evidence,
            "upgrade to %s, or %s" % (driver_upgrade(inv, needs), _build_for_driver(inv, name, supported)),
            severity="error" if verdict.problems else "info", subject=name)


def _build_for_driver(inv: Dict[str, Any], name: str, supported: Tuple[int, int]) -> str:
    """The build this driver runs, as setup would choose it: "CUDA <= the driver's" would exclude what minor-version
    compatibility runs (torch's cu117/cu118 on a CUDA 11.4 driver; torch 2.x has no cu114 build to find)."""
    from provision.knowledge import queries

    if queries.normalize_framework(name) is None:  # torchvision, jaxlib: the framework's own finding names the plan
        return "install %s built for CUDA <= %d.%d" % ((name,) + supported)
    return "install a build this driver runs: %s" % _gpu_install_hint(inv, name)


@rule("DLWS-FW-004", "warning", "Installed frameworks pull different CUDA versions")
def conflicting_cuda(inv: Dict[str, Any]) -> Any:
    """PyTorch, TensorFlow and JAX each install their own CUDA and cuDNN wheels (nvidia-*-cu11/cu12). Two
    frameworks built for different CUDA majors fight over the same libraries: whichever loads first wins and the
    other fails with missing symbols or "cuDNN version mismatch". Keep each in its own virtual environment, or
    pick builds of one CUDA major."""
    majors = {}
    for name, entry in facts.frameworks(inv).items():
        cuda = facts.major_minor(entry.get("cuda"))
        if cuda and name in ("torch", "tensorflow", "jax", "jaxlib", "mxnet"):
            majors[name] = cuda[0]
    if len(set(majors.values())) > 1:
        together = setup_command(inv, sorted(majors))
        return conflicting_cuda.finding({"cuda_major_by_framework": majors},
                                        "use one virtual environment per framework, or builds for the same CUDA "
                                        "major" + (" (%s)" % together if together else ""))


@rule("DLWS-FW-005", "error", "TensorFlow installed on a CPU without AVX")
def tensorflow_without_avx(inv: Dict[str, Any]) -> Any:
    """TensorFlow's prebuilt wheels are compiled with AVX since 1.6: on a CPU without it, "import tensorflow"
    dies with "Illegal instruction (core dumped)". Build TensorFlow from source without AVX, or use another
    machine."""
    entry = facts.frameworks(inv).get("tensorflow")
    cpu = inv.get("cpu") or {}
    if not entry or cpu.get("arch") != "x86_64" or not cpu.get("flags") or "avx" in cpu["flags"]:
        return None
    if facts.os_info(inv).get("emulation") in ("qemu-user", "rosetta"):
        return None  # flags of the host, or ones Rosetta does not report (AVX from macOS 15): DLWS-EMU-004 / -001
    from provision.knowledge import queries

    if queries.needs_avx("tensorflow", (entry.get("version") or "").split("+")[0]):
        return tensorflow_without_avx.finding({"tensorflow": entry.get("version"), "cpu": cpu.get("model")},
                                              "build TensorFlow from source without AVX, or run it on a CPU "
                                              "with AVX")


@rule("DLWS-FW-007", "warning", "MXNet is retired")
def mxnet_retired(inv: Dict[str, Any]) -> Any:
    """Apache MXNet was retired to the Apache Attic in 2023: no releases, no fixes, no builds for current CUDA or
    Python. Its last release is 1.9.1."""
    from provision.knowledge import queries

    entry = facts.frameworks(inv).get("mxnet")
    if entry and queries.retirement("mxnet"):
        return mxnet_retired.finding({"mxnet": entry.get("version"), "package": entry.get("package")},
                                     "migrate to PyTorch or JAX; keep MXNet only in a pinned legacy environment")


def _torch_variant(entry: Dict[str, Any]) -> Optional[str]:
    """'cu121' from a torch build of CUDA 12.1."""
    cuda = facts.major_minor(entry.get("cuda"))
    return "cu%d%d" % cuda if cuda else None


@rule("DLWS-FW-001", "error", "Framework build has no kernels for this GPU")
def no_kernel_image(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Each CUDA build of PyTorch carries machine code for a list of GPU architectures (TORCH_CUDA_ARCH_LIST).
    A GPU outside that list fails at the first kernel with "CUDA error: no kernel image is available for
    execution on the device" (Kepler with torch >= 1.13, Maxwell/Pascal with the CUDA 12.8+ builds, Volta with
    CUDA 13 builds). Install a release or CUDA variant that still carries the architecture. The cuDNN a CUDA
    framework loads is judged the same way, against the GPUs its support matrix lists (_cudnn_without_gpu)."""
    from provision.knowledge import queries

    yield from _cudnn_without_gpu(inv)
    entry = facts.frameworks(inv).get("torch")
    if not entry:
        return
    variant = _torch_variant(entry)
    if not variant:
        return
    version = (entry.get("version") or "").split("+")[0]
    for gpu in facts.gpus(inv, "nvidia"):
        cc = gpu.get("compute_capability")
        if not cc:
            continue
        supported = queries.torch_variant_supports_cc(version, variant, cc)
        # A build the tables lack (a nightly, a source build): no architecture list, but its CUDA cannot compile
        # for GPUs outside the toolkit's range (CUDA 12.1 has no sm_120), so neither can the build.
        inferred = supported is None and queries.cuda_supports_cc(entry["cuda"], cc) is False
        if supported is False or inferred:
            evidence = {"framework": "torch", "version": entry.get("version"), "variant": variant,
                        "arch_list": queries.torch_arch_list(version, variant), "gpu": facts.gpu_label(gpu),
                        "compute_capability": cc}
            if inferred:
                evidence["inferred"] = "CUDA %s cannot compile for compute capability %s" % (entry["cuda"], cc)
            command = setup_command(inv, ("torch",))
            yield no_kernel_image.finding(
                evidence, "install a torch build whose architectures include sm_%s%s" % (
                    cc.replace(".", ""), ": " + command if command else "; no build dlws knows fits this machine "
                    "as it is (dlws doctor --target pytorch says why)"), subject=facts.gpu_label(gpu))


def cudnn_loaded(inv: Dict[str, Any], name: str, entry: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """(version, where from) of the cuDNN a CUDA framework loads: a libcudnn.so.<major> on LD_LIBRARY_PATH comes
    before the framework's own (DLWS-LIB-001; JAX's plugin loads its wheel's first), then the nvidia-cudnn wheel of
    its CUDA major or torch's build's own, then the first the loader finds in its ld.so.conf folders."""
    from provision.doctor.rules import loader

    cuda = facts.major_minor(entry.get("cuda"))
    wheel = next((str(lib["version"]) for lib in inv.get("cudnn") or [] if cuda and lib.get("version")
                  and lib.get("source") == "pip:nvidia-cudnn-cu%d" % cuda[0]), None)
    own = wheel or (loader.cudnn_needed(name, entry) if name == "torch" else None)
    major = str(own or loader.cudnn_needed(name, entry) or "").split(".")[0]
    if not major.isdigit():
        return None
    shadow = None if name in loader.JAX and wheel else loader.first_on_path(inv, int(major), ("LD_LIBRARY_PATH",))
    if shadow:
        return shadow[0], shadow[1]
    if own:
        return own, "pip:nvidia-cudnn-cu%d" % cuda[0] if wheel and cuda else "torch's build"
    found = loader.first_on_path(inv, int(major), ("ld.so.conf",))
    return (found[0], found[1]) if found else None


def _cudnn_without_gpu(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The cuDNN a framework loads carries kernels for the GPUs its support matrix lists, per CUDA build: on an
    older GPU (a Pascal under cuDNN 9.17, which lists compute capability 7.5 and up) its convolutions fail with
    CUDNN_STATUS_ARCH_MISMATCH or "no kernel image", though the framework's own kernels run (immich-app/immich#23110:
    the nvidia-cudnn 9.14 of an update broke every Pascal and Maxwell user; pinning 9.10 fixed it). Judged by
    compat.cudnn_gpu_verdict; a release or GPU the table lacks is not judged."""
    from provision import compat
    from provision.knowledge.cudnn import cudnn_newest_for_cc

    for name, entry in sorted(facts.frameworks(inv).items()):
        if name not in ("torch", "tensorflow", "jax") or facts.build_kind(entry) != "cuda" or not entry.get("cuda"):
            continue
        loaded = cudnn_loaded(inv, name, entry)
        if loaded is None:
            continue
        version, origin = loaded
        for gpu in facts.gpus(inv, "nvidia"):
            cc = gpu.get("compute_capability")
            kind, why = compat.cudnn_gpu_verdict(version, entry["cuda"], cc)
            if kind != compat.CUDNN_GPU_UNSUPPORTED:
                continue
            fix = "load a cuDNN whose support matrix lists compute capability %s for CUDA %s" % (cc, entry["cuda"])
            newest = cudnn_newest_for_cc(version.split(".")[0], entry["cuda"], cc)
            if newest:
                fix += ": cuDNN %s (pip install 'nvidia-cudnn-cu%s==%s.*', if %s accepts it)" % (
                    newest, entry["cuda"].split(".")[0], newest, name)
            yield no_kernel_image.finding(
                {"framework": name, "version": entry.get("version"), "cuda": entry.get("cuda"), "cudnn": version,
                 "cudnn_from": origin, "gpu": facts.gpu_label(gpu), "compute_capability": cc, "judgment": why},
                fix, title="The cuDNN %s loads (%s) does not support this GPU" % (name, version),
                subject="%s cuDNN %s" % (facts.gpu_label(gpu), version))


@rule("DLWS-FW-006", "error", "Python or glibc outside what the installed framework supports")
def python_unsupported(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Every framework release publishes wheels for a range of Python versions, built against a manylinux glibc
    floor. Outside the Python range pip either builds from source (and fails), picks an ancient release, or - with
    --no-deps tricks - installs one that crashes; below the glibc floor the wheel's libraries fail to load
    ("GLIBC_2.28 not found").

    The installed wheel's own tags (its WHEEL file) win over the knowledge table: a wheel tagged for this Python
    is no problem whatever the table says, one tagged for another Python is certain. Without tags (an egg, a conda
    package) the table judges, and the evidence says so."""
    from provision import compat, compat_wheel
    from provision.knowledge import queries

    python = (inv.get("python") or {}).get("version")
    platform = compat.python_platform(inv)  # win32 under a 32-bit Python on 64-bit Windows
    glibc = facts.os_info(inv).get("glibc")
    for name, entry in sorted(facts.frameworks(inv).items()):
        version = (entry.get("version") or "").split("+")[0]
        tags = entry.get("wheel_tags") or []
        evidence = {"framework": name, "version": entry.get("version"), "python": python}
        fits = compat_wheel.python_fits(tags, python)
        if python and (fits is False or (fits is None and
                                         queries.python_supported(name, version, python, platform) is False)):
            found = dict(evidence, wheel_tags=", ".join(tags[:4])) if tags else dict(
                evidence, judged_from="the knowledge table's Python range (no WHEEL tags installed to confirm)")
            yield python_unsupported.finding(
                found, "use a Python the release supports (a new virtual environment: python3.X -m venv), or "
                "reinstall %s for this Python" % name, subject=name)
        installed_floor = compat_wheel.glibc_floor(tags) if facts.os_info(inv).get("system") == "linux" else None
        if installed_floor is not None:
            have, needed = facts.version(glibc), facts.version(installed_floor)
            if have is not None and needed is not None and have < needed:
                yield python_unsupported.finding(
                    dict(evidence, glibc=glibc, glibc_needed=installed_floor, wheel_tags=", ".join(tags[:4])),
                    "move to a distribution with glibc >= %s, or install an older %s built for this glibc" % (
                        installed_floor, name),
                    title="glibc older than the installed framework's wheels need", subject=name)
            continue
        # the judgment's glibc check (compat.glibc_verdict), so that setup, --target and this rule agree
        floor = queries.glibc_floor(name, version, (inv.get("cpu") or {}).get("arch"))
        if compat.glibc_verdict(inv, name, version)[0] == compat.GLIBC_TOO_OLD:
            yield python_unsupported.finding(
                dict(evidence, glibc=glibc, glibc_needed=floor),
                "move to a distribution with glibc >= %s, or install an older %s built for this glibc" % (floor, name),
                title="glibc older than the installed framework's wheels need", subject=name)


@rule("DLWS-FW-008", "error", "ROCm framework build has no code objects for this AMD GPU")
def no_rocm_code_objects(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Each ROCm build of PyTorch carries code objects for a list of gfx targets (PYTORCH_ROCM_ARCH). A GPU outside
    that list (gfx803 Polaris with any torch 2.x wheel, gfx1031/gfx1032 RDNA2 cards, gfx1101 with torch < 2.7) fails
    at its first kernel with "HIP error: invalid device function" / hipErrorNoBinaryForGpu ("no kernel image is
    available"). Install a build whose list has the GPU's target; for a consumer card of a listed target's family,
    HSA_OVERRIDE_GFX_VERSION=10.3.0 (RDNA2) or 11.0.0 (RDNA3) makes the runtime load that target's code objects, which
    AMD does not support and a wrong value breaks."""
    from provision import compat
    from provision.knowledge import queries

    for name, entry in sorted(facts.frameworks(inv).items()):
        verdict = compat.judge_installed_rocm(inv, name, entry)
        if verdict is None or not verdict.problems:
            continue
        yield no_rocm_code_objects.finding(
            {"framework": name, "version": entry.get("version"), "variant": verdict.build.variant,
             "gfx_targets": queries.torch_rocm_gfx_targets(verdict.build.release, verdict.build.variant),
             "judgment": verdict.problems},
            "install a %s ROCm build whose gfx targets include the GPU's (dlws setup --framework %s --dry-run), or a "
            "source build with PYTORCH_ROCM_ARCH set to it" % (name, queries.normalize_framework(name) or name),
            subject=name)
