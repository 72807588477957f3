"""What a framework really loads and runs: the cuDNN the dynamic loader finds first (a copy on LD_LIBRARY_PATH
shadowing the framework's own, or one older than its build needs) and the ptxas JAX compiles its kernels with."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

from provision.doctor.model import Finding, rule
from provision.inventory import facts

CUDA_FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib")
JAX = ("jax", "jaxlib")
#: The first JAX whose CUDA plugin loads the NVIDIA wheels by their paths (jax-ml/jax 080294cf, "Load CUDA libraries
#: up front with cdll.LoadLibrary()", jax-ml/jax#29462; in jax_plugins/cuda/__init__.py at tag jax-v0.6.2, not v0.6.1).
JAX_PRELOADS_WHEELS = (0, 6, 2)


def _numbers(version: Any) -> Optional[Tuple[int, ...]]:
    """(8, 9, 2) from '8.9.2.26'; None for anything else."""
    parts = str(version or "").split(".")
    return tuple(int(p) for p in parts[:3]) if all(p.isdigit() and len(p) <= 6 for p in parts) else None


def cudnn_needed(name: str, entry: Dict[str, Any]) -> Optional[str]:
    """The cuDNN a framework's build was made with, from the frameworks table (torch: per CUDA variant; TensorFlow:
    per release; JAX: the floor its jax[cudaNN] extra puts on nvidia-cudnn, per release, for the CUDA major of its
    plugin); None where the table has none (jaxlib is judged through jax, whose version keys the rows)."""
    from provision.knowledge import queries

    cuda = facts.major_minor(entry.get("cuda"))
    row = queries.framework_release(name, (entry.get("version") or "").split("+")[0]) or {}
    if name == "torch":
        variant = (row.get("variants") or {}).get("cu%d%d" % cuda) if cuda else None
        return (variant or {}).get("cudnn")
    if name == "jax":
        extra = ((row.get("cuda_extra_requires") or {}).get("cuda%d" % cuda[0]) or {}) if cuda else {}
        return next((part.strip()[2:] for part in str(extra.get("cudnn") or "").split(",")
                     if part.strip().startswith(">=")), None)
    return row.get("cudnn") if name == "tensorflow" else None


def _preloads_wheels(entry: Dict[str, Any]) -> bool:
    return (_numbers((entry.get("version") or "").split("+")[0]) or ()) >= JAX_PRELOADS_WHEELS


def _cuda_frameworks(inv: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    return {name: entry for name, entry in facts.frameworks(inv).items()
            if name in CUDA_FRAMEWORKS and facts.build_kind(entry) != "cpu" and entry.get("cuda")}


def _wheel(inv: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    return next((lib for lib in inv.get("cudnn") or [] if str(lib.get("source", "")).startswith("pip:")), None)


def first_on_path(inv: Dict[str, Any], major: int, sources: Tuple[str, ...]) -> Optional[Tuple[str, str, str]]:
    """(version, folder, source) of the first libcudnn.so.<major> the loader finds in these kinds of folders."""
    for folder in inv.get("loader_path") or []:
        if folder.get("source") not in sources:
            continue
        for version in (folder.get("libraries") or {}).get("libcudnn") or []:
            if str(version).split(".")[0] == str(major):
                return str(version), str(folder.get("path")), str(folder.get("source"))
    return None


@rule("DLWS-LIB-001", "error", "A cuDNN on LD_LIBRARY_PATH shadows the framework's own")
def cudnn_shadowed(inv: Dict[str, Any]) -> Iterator[Finding]:
    """torch and TensorFlow find the nvidia-cudnn wheel through their libraries' RUNPATH, and the dynamic loader
    searches LD_LIBRARY_PATH before any RUNPATH (ld.so(8)): a libcudnn.so.<major> in an LD_LIBRARY_PATH folder (a
    system CUDA's lib64) is loaded instead of the wheel's (torch/__init__.py loads libtorch_global_deps.so that way,
    and preloads the wheels only when that fails). An older one fails at the first convolution: torch says "cuDNN
    version incompatibility: PyTorch was compiled against (8, 9, 2) but found runtime version (8, 4, 0) ... Looks
    like your LD_LIBRARY_PATH contains incompatible version of cudnn" (torch/backends/cudnn/__init__.py: the major
    must match and the minor be at least the build's); TensorFlow and JAX say "Loaded runtime CuDNN library: X but
    source was compiled with: Y". Without a wheel (torch wheels before 1.13 carry cuDNN in torch/lib, found by the
    same RUNPATH: pytorch/pytorch#80637), the first cuDNN the loader finds must be no older than the build's.
    From 0.6.2 on JAX's CUDA plugin loads the wheel's libcudnn.so.9 by its path before anything else
    (jax_plugins/cuda/__init__.py, _load_nvidia_libraries: "We prefer the Python packages, if present. If not, we
    fall back to loading them from LD_LIBRARY_PATH"), so such a JAX is judged only without the wheel
    (jax[cuda12-local]); older ones found LD_LIBRARY_PATH's copy first (jax-ml/jax#17497). JAX's floor is the cuDNN
    its jax[cudaNN] extra declares (its plugin refuses one older than it was built with: "Outdated cuDNN installation
    found")."""
    wheel = _wheel(inv)
    for name, entry in sorted(_cuda_frameworks(inv).items()):
        if name in JAX and wheel and _preloads_wheels(entry):
            continue
        needed = cudnn_needed(name, entry)
        reference = (wheel or {}).get("version") or needed
        ref_numbers = _numbers(reference)
        if ref_numbers is None:
            continue
        sources = ("LD_LIBRARY_PATH",) if wheel else ("LD_LIBRARY_PATH", "ld.so.conf")
        found = first_on_path(inv, ref_numbers[0], sources)
        numbers = _numbers(found[0]) if found else None
        if found is None or numbers is None or len(numbers) < 2 or numbers == ref_numbers[:len(numbers)]:
            continue
        floor = _numbers(needed) or ref_numbers
        older = numbers[:2] < floor[:2]
        evidence = {"framework": name, "build": entry.get("build"), "cudnn_needed": needed,
                    "cudnn_wheel": (wheel or {}).get("version"), "loaded": found[0], "folder": found[1],
                    "found_by": found[2]}
        if wheel:
            fix = "take %s out of LD_LIBRARY_PATH (the framework loads its own cuDNN %s), or run with env -u " \
                  "LD_LIBRARY_PATH" % (found[1], wheel.get("version"))
            yield cudnn_shadowed.finding(evidence, fix, subject=name, severity="error" if older else "warning",
                                         title=None if older else "A newer cuDNN on LD_LIBRARY_PATH replaces the "
                                         "framework's own (%s for %s)" % (found[0], wheel.get("version")))
        elif older:
            if found[2] == "LD_LIBRARY_PATH":
                fix = "take %s out of LD_LIBRARY_PATH if %s carries its own cuDNN (torch's wheels do), or put a " \
                      "cuDNN >= %s for CUDA %s ahead of it" % (found[1], name, needed, entry.get("cuda"))
            else:
                fix = "install cuDNN >= %s for CUDA %s ahead of %s" % (needed, entry.get("cuda"), found[1])
            yield cudnn_shadowed.finding(evidence, fix, title="cuDNN older than the framework's build needs",
                                         subject=name)


@rule("DLWS-LIB-003", "warning", "The ptxas JAX compiles with is newer than the driver's CUDA")
def ptxas_newer(inv: Dict[str, Any]) -> Optional[Finding]:
    """JAX compiles every kernel at run time: XLA turns it into PTX and runs ptxas, first the one of the
    nvidia-cuda-nvcc wheel jax's cuda extras install (jax/_src/lib/__init__.py, _cuda_path), else the one on PATH
    (google/brax#488: PATH had ptxas 12.4.131, XLA used the wheel's 12.5.40). When that ptxas is newer than the
    CUDA the driver supports, XLA says "The NVIDIA driver's CUDA version is 12.2 which is older than the ptxas CUDA
    version (12.3.107). Because the driver is older than the ptxas version, XLA is disabling parallel compilation,
    which may slow down compilation" (xla/service/gpu/nvptx_compiler.cc; jax-ml/jax#19821); PTX of a CUDA newer
    than the driver's, where the driver is left to compile it, is refused with CUDA_ERROR_UNSUPPORTED_PTX_VERSION
    (CEED/libCEED#1587)."""
    frameworks = facts.frameworks(inv)
    name = next((n for n in JAX if facts.build_kind(frameworks.get(n) or {}) == "cuda"), None)
    used = next(iter(inv.get("ptxas") or []), None)
    driver = facts.major_minor(facts.nvidia(inv).get("cuda_driver_version"))
    ptxas = facts.major_minor((used or {}).get("version"))
    if name is None or used is None or driver is None or ptxas is None or ptxas <= driver:
        return None
    evidence = {"framework": name, "version": frameworks[name].get("version"), "ptxas": used.get("version"),
                "ptxas_from": used.get("source"), "ptxas_path": used.get("path"),
                "driver": facts.nvidia(inv).get("driver_version"), "driver_cuda": "%d.%d" % driver}
    fix = "update the NVIDIA driver to one for CUDA %d.%d or newer (or, on a data-center GPU, the CUDA " \
          "forward-compatibility package cuda-compat-%d-%d)" % (ptxas + ptxas)
    if str(used.get("source")).startswith("pip:"):
        fix += ", or install the %s release of CUDA %d.%d where jax accepts it (pip install '%s==%d.%d.*')" % (
            used["source"][4:], driver[0], driver[1], used["source"][4:], driver[0], driver[1])
    return ptxas_newer.finding(evidence, fix, subject=name)
