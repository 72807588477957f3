"""What a framework really loads and runs: the cuDNN the dynamic loader finds first (a copy on LD_LIBRARY_PATH
shadowing the framework's own, one older than its build needs, or another framework's of the same process, or a
preloaded one), the cuBLAS and NCCL it finds before the framework's nvidia-* wheels, the libcuda it starts CUDA
with (a forward-compatibility copy preloaded or on LD_LIBRARY_PATH) and the ptxas JAX and Triton compile its kernels
with."""

from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from provision.doctor.model import Finding, rule, word
from provision.inventory import facts

CUDA_FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib")
JAX = ("jax", "jaxlib")
#: The first JAX whose CUDA plugin loads the NVIDIA wheels by their paths (jax-ml/jax 080294cf, "Load CUDA libraries
#: up front with cdll.LoadLibrary()", jax-ml/jax#29462; in jax_plugins/cuda/__init__.py at tag jax-v0.6.2, not v0.6.1).
JAX_PRELOADS_WHEELS = (0, 6, 2)
#: The ptxas[] sources of the copies Triton runs (provision/inventory/ptxas.py); XLA runs the others.
TRITON_SOURCES = ("triton", "TRITON_PTXAS_PATH", "TRITON_PTXAS_BLACKWELL_PATH")


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


#: A preloaded CUDA library by its file name, lib<name>.so.<major>[.<minor>...] (LD_PRELOAD and /etc/ld.so.preload
#: are recorded as file names only: their folders may name a user).
PRELOAD_NAME = re.compile(r"^(libcudnn|libcudart|libcublasLt|libcublas|libnccl)\.so\.(\d{1,6}(?:\.\d{1,6})*)$")
#: The inventory lists holding the conda packages of a library (a bare preloaded name may be found in the conda
#: environment's lib, which a conda Python's own run path names).
CONDA_LISTS = {"libcudnn": "cudnn", "libnccl": "nccl", "libcublas": "cublas", "libcublasLt": "cublas"}


def preloads(inv: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(file name, where it is named) of the libraries ld.so loads into every program before anything else, in its
    order: LD_PRELOAD's, then /etc/ld.so.preload's (ld.so(8))."""
    value = (inv.get("env_vars") or {}).get("LD_PRELOAD")
    names = [(posixpath.basename(item), "LD_PRELOAD") for item in re.split(r"[:\s]+", value) if item] \
        if isinstance(value, str) else []  # a recording made by hand may keep ld.so's colons or the folders
    return names + [(name, "/etc/ld.so.preload") for name in inv.get("ld_so_preload") or [] if isinstance(name, str)]


def _copies(inv: Dict[str, Any], library: str, major: int) -> List[Tuple[str, str]]:
    """(version, where) of every recorded copy of lib<library>.so.<major>: the loader's folders, the conda packages."""
    out = [(str(v), str(folder.get("path"))) for folder in inv.get("loader_path") or []
           for v in (folder.get("libraries") or {}).get(library) or [] if str(v).split(".")[0] == str(major)]
    return out + [(str(lib.get("version")), "conda") for lib in inv.get(CONDA_LISTS.get(library, "")) or []
                  if lib.get("source") == "conda" and str(lib.get("version")).split(".")[0] == str(major)]


def preloaded(inv: Dict[str, Any], library: str, major: int) -> Optional[Dict[str, Any]]:
    """The first preload of lib<library>.so.<major>, which decides the copy of that soname every framework in the
    process gets: a preloaded library comes before LD_LIBRARY_PATH and any RUNPATH, a dlopen of its soname returns
    it, and its symbols are looked up before those of a copy loaded later by its path (glibc elf/rtld.c: preloads
    are inserted ahead of the program's dependencies in the global scope). Only names are recorded, so its version
    is the one its name carries (libcudnn.so.8.9.7), else the one every recorded copy of that soname agrees on (a
    bare name is searched for where the loader searches), else None: which file a path names is not known."""
    for name, source in preloads(inv):
        match = PRELOAD_NAME.match(name)
        if not match or match.group(1) != library or match.group(2).split(".")[0] != str(major):
            continue
        found: Dict[str, Any] = {"preloaded": name, "named_in": source, "version": None, "version_from": None}
        if match.group(2).count(".") >= 2:  # libcudart.so.11.0 is a soname, not the version 11.0
            found.update(version=match.group(2), version_from="its name")
            return found
        copies = _copies(inv, library, major)
        versions = {version for version, _ in copies}
        if len(versions) == 1 and next(iter(versions)).count(".") >= 2:
            found.update(version=copies[0][0], version_from=copies[0][1])
        return found
    return None


def first_on_path(inv: Dict[str, Any], major: int, sources: Tuple[str, ...],
                  library: str = "libcudnn") -> Optional[Tuple[str, str, str]]:
    """(version, folder, source) of the first lib<library>.so.<major> the loader finds in these kinds of folders."""
    for folder in inv.get("loader_path") or []:
        if folder.get("source") not in sources:
            continue
        for version in (folder.get("libraries") or {}).get(library) or []:
            if str(version).split(".")[0] == str(major):
                return str(version), str(folder.get("path")), str(folder.get("source"))
    return None


@rule("DLWS-LIB-001", "error", "A cuDNN, cuBLAS or NCCL on LD_LIBRARY_PATH shadows the framework's own")
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
    found"). A preloaded libcudnn.so.<major> (LD_PRELOAD, /etc/ld.so.preload) comes before all of these, JAX's
    load by path included (preloaded()). cuBLAS and NCCL come the same way from the framework's nvidia-cublas-cuNN
    and nvidia-nccl-cuNN wheels, and are shadowed the same way (wheel_libraries_shadowed())."""
    wheel = _wheel(inv)
    for name, entry in sorted(_cuda_frameworks(inv).items()):
        needed = cudnn_needed(name, entry)
        reference = (wheel or {}).get("version") or needed
        ref_numbers = _numbers(reference)
        if ref_numbers is None:
            continue
        forced = preloaded(inv, "libcudnn", ref_numbers[0])
        if forced:
            finding = _preloaded_cudnn(name, entry, needed, wheel, forced) if name != "jaxlib" else None
            if finding:  # jaxlib is judged through jax
                yield finding
            continue
        if name in JAX and wheel and _preloads_wheels(entry):
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
                  "LD_LIBRARY_PATH" % (word(found[1]), wheel.get("version"))
            yield cudnn_shadowed.finding(evidence, fix, subject=name, severity="error" if older else "warning",
                                         title="A cuDNN on LD_LIBRARY_PATH shadows the framework's own" if older
                                         else "A newer cuDNN on LD_LIBRARY_PATH replaces the framework's own (%s "
                                         "for %s)" % (found[0], wheel.get("version")))
        elif older:
            if found[2] == "LD_LIBRARY_PATH":
                fix = "take %s out of LD_LIBRARY_PATH if %s carries its own cuDNN (torch's wheels do), or put a " \
                      "cuDNN >= %s for CUDA %s ahead of it" % (word(found[1]), name, needed, entry.get("cuda"))
            else:
                fix = "install cuDNN >= %s for CUDA %s ahead of %s" % (needed, entry.get("cuda"), word(found[1]))
            yield cudnn_shadowed.finding(evidence, fix, title="cuDNN older than the framework's build needs",
                                         subject=name)
    yield from wheel_libraries_shadowed(inv)


def _preloaded_cudnn(name: str, entry: Dict[str, Any], needed: Optional[str], wheel: Optional[Dict[str, Any]],
                     forced: Dict[str, Any]) -> Optional[Finding]:
    """DLWS-LIB-001 for a preloaded cuDNN of the framework's major. At most a warning: a preload naming a file that
    is not there is skipped by ld.so ("ERROR: ld.so: object ... from LD_PRELOAD cannot be preloaded (cannot open
    shared object file): ignored.", AUTOMATIC1111/stable-diffusion-webui#12770), and names alone cannot show it is
    there. One whose version is not known is an info line naming it: it cannot be judged."""
    own = (wheel or {}).get("version")
    reference = _numbers(own or needed) or ()
    numbers = _numbers(forced["version"])
    evidence = {"framework": name, "build": entry.get("build"), "cudnn_needed": needed, "cudnn_wheel": own,
                "preloaded": forced["preloaded"], "named_in": forced["named_in"], "loaded": forced["version"],
                "version_from": forced["version_from"]}
    where = "unset LD_PRELOAD or set it without it" if forced["named_in"] == "LD_PRELOAD" else \
        "edit /etc/ld.so.preload"
    fix = "take %s out of %s (%s)" % (word(forced["preloaded"]), forced["named_in"], where)
    fix += ": %s loads its own cuDNN %s" % (name, own) if own else \
        ", or preload a cuDNN >= %s for CUDA %s" % (needed, entry.get("cuda"))
    fix += "; if ld.so says it 'cannot be preloaded ... ignored', it is not loaded and not the cause"
    if numbers is None or len(numbers) < 2:
        fix = "where that file is not cuDNN %s: %s" % (own or needed, fix)
        return cudnn_shadowed.finding(evidence, fix, subject=name, severity="info",
                                      title="%s preloads %s ahead of %s's cuDNN: which version it is cannot be "
                                            "judged (only its name is recorded)" % (forced["named_in"],
                                                                                    forced["preloaded"], name))
    if numbers == reference[:len(numbers)]:
        return None
    if numbers[:2] < (_numbers(needed) or reference)[:2]:
        return cudnn_shadowed.finding(evidence, fix, subject=name, severity="warning",
                                      title="A preloaded cuDNN %s (%s) is older than %s's build needs (%s)" % (
                                          forced["version"], forced["named_in"], name, needed or own))
    if own:
        return cudnn_shadowed.finding(evidence, fix, subject=name, severity="info",
                                      title="A preloaded cuDNN %s (%s) replaces %s's own (%s)" % (
                                          forced["version"], forced["named_in"], name, own))
    return None


#: The libraries torch's, TensorFlow's and JAX's builds bring in nvidia-*-cuNN wheels of their CUDA major, found
#: through their libraries' RUNPATH like cuDNN's: (the inventory list of the wheel, the sonames judged, the name).
WHEEL_LIBRARIES = (("cublas", ("libcublasLt", "libcublas"), "cuBLAS"), ("nccl", ("libnccl",), "NCCL"))


def _copy_first(inv: Dict[str, Any], library: str, major: int) -> Optional[Dict[str, Any]]:
    """The copy of lib<library>.so.<major> the loader takes before a wheel's: a preloaded one, else the first in an
    LD_LIBRARY_PATH folder; its version None where neither its name nor the folder's file names give one."""
    forced = preloaded(inv, library, major)
    if forced:
        return {"library": library, "copy": forced["preloaded"], "found_by": forced["named_in"],
                "loaded": forced["version"]}
    found = first_on_path(inv, major, ("LD_LIBRARY_PATH",), library)
    if found is None:
        return None
    known = len(_numbers(found[0]) or ()) >= 2  # libnccl.so.2 alone says no version
    return {"library": library, "copy": found[1], "found_by": found[2], "loaded": found[0] if known else None}


def _own_folder(copy: str, wheel: Dict[str, Any]) -> bool:
    """Whether a folder is the wheel's own (its lib folder put on LD_LIBRARY_PATH)."""
    path = str(wheel.get("path") or "").rstrip("/")
    return bool(path) and (copy == path or copy.startswith(path + "/"))


def wheel_libraries_shadowed(inv: Dict[str, Any]) -> Iterator[Finding]:
    """DLWS-LIB-001 for cuBLAS and NCCL. torch's CUDA wheels (1.13 on) depend on nvidia-cublas-cuNN and
    nvidia-nccl-cuNN and find them through RUNPATH, which LD_LIBRARY_PATH comes before (ld.so(8)); the wheel's own
    libcublas.so finds its libcublasLt.so through a RUNPATH of $ORIGIN the same way (pytorch/pytorch#174320). So an
    older copy of the same soname in an LD_LIBRARY_PATH folder (a system CUDA's lib64, a system NCCL) is the one
    loaded, and the wheel's libraries or torch's miss its newer symbols: "libcublas.so.11: undefined symbol:
    cublasLtGetStatusString, version libcublasLt.so.11" (pytorch/pytorch#103832: torch 1.13 and its
    nvidia-cublas-cu11 in an nvidia/cuda:11.3.1 image; #91067), "libtorch_cuda.so: undefined symbol: ncclCommRegister"
    (NVIDIA/nccl#1180: an NCCL installed by hand; pytorch/pytorch#119932). A newer copy is an info line (not what the
    build was made with), one whose version is not recorded an info line naming it: it cannot be judged. A preloaded
    copy comes before all (preloaded()). Judged where the wheel of the framework's CUDA major is installed; JAX from
    0.6.2 loads the wheels by their paths first (as it does cuDNN's: not judged), and jaxlib is judged through jax."""
    frameworks = _cuda_frameworks(inv)
    for key, sonames, label in WHEEL_LIBRARIES:
        wheels = cuda_wheels(inv, key)
        for name, entry in sorted(frameworks.items()):
            cuda = facts.major_minor(entry.get("cuda"))
            wheel = wheels.get(cuda[0]) if cuda else None
            own = _numbers((wheel or {}).get("version"))
            if wheel is None or own is None or name == "jaxlib" or (name in JAX and _preloads_wheels(entry)):
                continue
            copies = [c for c in (_copy_first(inv, soname, own[0]) for soname in sonames)
                      if c and not _own_folder(c["copy"], wheel)]
            finding = _wheel_finding(name, entry, label, wheel, copies)
            if finding:
                yield finding


def _against(version: Optional[str], own: Tuple[int, ...]) -> Optional[int]:
    """-1, 0 or 1 as a copy's version is older, the same or newer than the wheel's, compared as far as both go
    (11.4.1.1043 against 11.10.3.66); None where the copy's is not known to its minor."""
    numbers = _numbers(version)
    if numbers is None or len(numbers) < 2:
        return None
    mine, theirs = numbers[:len(own)], own[:len(numbers)]
    return (mine > theirs) - (mine < theirs)


def _wheel_finding(name: str, entry: Dict[str, Any], label: str, wheel: Dict[str, Any],
                   copies: List[Dict[str, Any]]) -> Optional[Finding]:
    """The worst of the copies found before a wheel: an older one (a warning), one of unknown version, a newer one
    (info lines); copies of the wheel's own version are quiet."""
    own = _numbers(wheel.get("version")) or ()
    order = [(c, _against(c["loaded"], own)) for c in copies]
    picked = [c for c, o in order if o == -1] or [c for c, o in order if o is None] \
        or [c for c, o in order if o == 1]
    if not picked:
        return None
    first = picked[0]
    package = str(wheel.get("source"))[4:]
    evidence = {"framework": name, "build": entry.get("build"), "library": label, "wheel": package,
                "wheel_version": wheel.get("version"), "copies": picked}
    version = word(wheel.get("version"))
    if first["found_by"] == "LD_LIBRARY_PATH":
        folders = list(dict.fromkeys(word(c["copy"]) for c in picked if c["found_by"] == "LD_LIBRARY_PATH"))
        fix = "take %s out of LD_LIBRARY_PATH (%s loads its own %s %s from %s), or run with env -u " \
              "LD_LIBRARY_PATH" % (" and ".join(folders), name, label, version, word(package))
    else:
        where = "unset LD_PRELOAD or set it without it" if first["found_by"] == "LD_PRELOAD" else \
            "edit /etc/ld.so.preload"
        fix = "take %s out of %s (%s): %s loads its own %s %s from %s" % (
            word(first["copy"]), first["found_by"], where, name, label, version, word(package))
    what = "%s.so.%d from %s" % (first["library"], own[0], first["copy"])
    verdict = _against(first["loaded"], own)
    if verdict == -1:
        title = "An older %s %s (%s) is loaded instead of %s's own %s: undefined symbol errors" % (
            label, first["loaded"], what, name, wheel.get("version"))
        return cudnn_shadowed.finding(evidence, fix, subject=name, severity="warning", title=title)
    if verdict is None:
        title = "%s is loaded instead of %s's own %s %s: its version is not recorded, so it cannot be judged" % (
            what, name, label, wheel.get("version"))
    else:
        title = "A newer %s %s (%s) is loaded instead of %s's own %s" % (
            label, first["loaded"], what, name, wheel.get("version"))
    return cudnn_shadowed.finding(evidence, fix, subject=name, severity="info", title=title)


def cuda_wheels(inv: Dict[str, Any], key: str) -> Dict[int, Dict[str, Any]]:
    """Each installed nvidia-<key>-cuNN wheel (the inventory's <key> list: cudnn, cublas, nccl) by the CUDA major
    its name carries."""
    prefix = "pip:nvidia-%s-cu" % key
    wheels: Dict[int, Dict[str, Any]] = {}
    for lib in inv.get(key) or []:
        source = str(lib.get("source") or "")
        if source.startswith(prefix) and source[len(prefix):].isdigit() and len(source) - len(prefix) <= 3 \
                and lib.get("version"):
            wheels.setdefault(int(source[len(prefix):]), lib)
    return wheels


def cudnn_brought(name: str, entry: Dict[str, Any], wheels: Dict[int, str]) -> Optional[str]:
    """The cuDNN a framework puts into the process: the nvidia-cudnn wheel of its CUDA major where one is installed,
    else torch's own (its wheels carry or pin the exact cuDNN of their build); TensorFlow and JAX without that wheel
    bring none (None)."""
    cuda = facts.major_minor(entry.get("cuda"))
    if cuda and cuda[0] in wheels:
        return wheels[cuda[0]]
    return cudnn_needed(name, entry) if name == "torch" else None


def _meets(loaded: Tuple[int, ...], need: Tuple[int, ...]) -> bool:
    """torch, TensorFlow and JAX all accept a runtime cuDNN of their build's major and a minor no older."""
    return loaded[0] == need[0] and loaded[:2] >= need[:2]


def _for_python(row: Dict[str, Any], python: Optional[Tuple[int, int]]) -> bool:
    """Whether a release row has wheels for this Python (an unknown one: no)."""
    low = facts.major_minor((row.get("python") or {}).get("min"))
    high = facts.major_minor((row.get("python") or {}).get("max"))
    return python is not None and low is not None and high is not None and low <= python <= high


def _alternative(name: str, entry: Dict[str, Any], low: Tuple[int, ...], high: Tuple[int, ...],
                 python: Optional[Tuple[int, int]]) -> Optional[str]:
    """A build of this torch release, or the newest TensorFlow release for this Python, whose cuDNN lies in
    [low, high] (major and minor), from the frameworks table; None where it has none."""
    from provision.knowledge import load, queries

    def fits(version: Any) -> bool:
        numbers = _numbers(version)
        return numbers is not None and len(numbers) > 1 and low[:2] <= numbers[:2] <= high[:2]

    if name == "torch":
        base = (entry.get("version") or "").split("+")[0]
        row = queries.framework_release(name, base) or {}
        variants = [v for v in queries.variants_newest_first(row) if fits(row["variants"][v].get("cudnn"))]
        return "torch==%s+%s (cuDNN %s)" % (base, variants[0], row["variants"][variants[0]]["cudnn"]) \
            if variants else None
    if name == "tensorflow":
        rows = [r for r in load("frameworks")["frameworks"]["tensorflow"].get("releases", [])
                if fits(r.get("cudnn")) and _for_python(r, python)]
        best = max(rows, key=lambda r: _numbers(r["version"]) or (), default=None)
        return None if best is None else "tensorflow%s==%s.* (built with cuDNN %s)" % (
            "[and-cuda]" if best.get("and_cuda_extra") else "", best["version"], best["cudnn"])
    return None


@rule("DLWS-LIB-002", "warning", "Two frameworks in one environment need cuDNN the other's cannot give")
def cudnn_clash(inv: Dict[str, Any]) -> Iterator[Finding]:
    """A process holds one libcudnn.so.<major>: the first framework that loads one decides it for all, and a second
    framework's dlopen of the same soname gets that copy (Kaggle/docker-python#363: with fastai, so torch, used
    before TensorFlow "an older version of libcudnn is loaded": "Loaded runtime CuDNN library: 7.1.2 but source was
    compiled with: 7.2.1"). torch,
    TensorFlow and JAX accept only their build's major with a minor no older (torch/backends/cudnn/__init__.py;
    TensorFlow's cuda_dnn.cc: "CuDNN library needs to have matching major version and equal or higher minor
    version"). So torch 2.1.2+cu118 (cuDNN 8.7.0.84) beside TensorFlow 2.15 (built with 8.9.4) fails TensorFlow's
    first convolution once torch's copy is loaded: "Loaded runtime CuDNN library: 8.7.0 but source was compiled
    with: 8.9.4" (kohya-ss/sd-scripts#1186; bmaltais/kohya_ss went back to tensorflow 2.14, cuDNN 8.7, the next day).
    nvidia-cudnn-cu11 and -cu12 of one major install the same files (nvidia/cudnn/lib/libcudnn.so.8 in both 8.7.0.84
    and 8.9.4.25, read from the wheels on PyPI), so there the copy is the last installed, whatever the import order.
    Needs of different majors take two libraries (libcudnn.so.8 and .so.9) while one nvidia-cudnn-cuXX wheel holds
    one version: the framework whose pin pip did not install last finds none of its major ("DNN library is not
    found"). A framework whose cuDNN the tables do not know is not judged, nor the import order where a cuDNN of the
    need's major is preloaded: that copy is every framework's (judged by DLWS-LIB-001)."""
    wheels = {major: str(lib["version"]) for major, lib in cuda_wheels(inv, "cudnn").items()}
    needs: Dict[str, Tuple[Tuple[int, ...], str]] = {}
    for name, entry in sorted(_cuda_frameworks(inv).items()):
        text = cudnn_needed(name, entry)
        numbers = _numbers(text)
        if numbers and len(numbers) > 1:
            needs[name] = (numbers, str(text))
    frameworks = facts.frameworks(inv)
    python = facts.major_minor((inv.get("python") or {}).get("version"))
    brought = {name: cudnn_brought(name, frameworks[name], wheels) for name in needs}
    majors = {name: need[0][0] for name, need in needs.items()}
    if len(set(majors.values())) > 1:
        yield cudnn_clash.finding({"cudnn_major_by_framework": majors,
                                   "cudnn_wheels": {"cu%d" % k: v for k, v in wheels.items()} or None},
                                  "use one virtual environment per framework, or releases built with the same cuDNN "
                                  "major", title="Two frameworks in one environment need different cuDNN majors")
        return
    for first, version in brought.items():
        loaded = _numbers(version)
        for other, (need, need_text) in needs.items():
            if other == first or loaded is None or len(loaded) < 2 or _meets(loaded, need) \
                    or preloaded(inv, "libcudnn", need[0]):
                continue
            evidence = {"loaded_first": first, "cudnn": version, "fails": other, "cudnn_needed": need_text,
                        "brings": brought[other],
                        "import_order": "any" if brought[other] == version else "%s before %s" % (first, other)}
            fixes = ["use one virtual environment per framework",
                     _alternative(first, frameworks[first], need, (need[0], 10 ** 6), python),
                     _alternative(other, frameworks[other], (loaded[0], 0), loaded, python)]
            fix = ", or ".join(f for f in fixes if f)
            if brought[other] is None:
                fix += " (%s brings no cuDNN of its own here: it gets %s's, or whichever the loader finds)" % (
                    other, first)
            yield cudnn_clash.finding(evidence, fix, subject=other,
                                      title="%s fails once %s's cuDNN %s is loaded (it needs >= %s)" % (
                                          other, first, version, need_text))


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
    used = next((p for p in inv.get("ptxas") or [] if p.get("source") not in TRITON_SOURCES), None)
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
        package = used["source"][4:]
        fix += ", or install the %s release of CUDA %d.%d where jax accepts it (pip install %s)" % (
            word(package), driver[0], driver[1], word("%s==%d.%d.*" % ((package,) + driver)))
    return ptxas_newer.finding(evidence, fix, subject=name)


def _refused(ptxas: Tuple[int, int], driver: Tuple[int, int]) -> bool:
    """Whether a driver of this CUDA refuses the cubins of a ptxas of that CUDA: one of a newer major always, one of
    a newer minor only where the major has no minor-version compatibility (before CUDA 11: the cuda table)."""
    from provision.knowledge.cuda_drivers import has_minor_version_compatibility

    if ptxas <= driver:
        return False
    return ptxas[0] > driver[0] or has_minor_version_compatibility("%d.%d" % ptxas) is False


def _fitting_triton(driver: Tuple[int, int]) -> Optional[str]:
    """The newest triton release whose bundled ptxas this driver runs (None: none the triton table knows)."""
    from provision.knowledge import load

    def runs(row: Dict[str, Any]) -> bool:
        versions = [facts.major_minor(row.get(key)) for key in ("ptxas", "ptxas_blackwell") if key in row]
        return all(v is not None and not _refused(v, driver) for v in versions)

    fits = [v for v, row in load("triton").get("releases", {}).items() if runs(row)]
    return max(fits, key=lambda v: _numbers(v) or (), default=None)


def _variables(refused: List[Dict[str, Any]]) -> str:
    """The variables that name other copies than those refused: TRITON_PTXAS_PATH for ptxas, the triton table's
    blackwell_env (from the first release that reads it) for ptxas-blackwell."""
    from provision.knowledge import load

    blackwell = [str(p.get("path")).endswith("ptxas-blackwell") for p in refused]
    names = ["TRITON_PTXAS_PATH"] if not all(blackwell) else []
    if any(blackwell):
        rows = sorted(load("triton").get("releases", {}).items(), key=lambda item: _numbers(item[0]) or ())
        first = next(((v, row["blackwell_env"]) for v, row in rows if row.get("blackwell_env")), None)
        names += ["%s (read from triton %s on)" % (first[1], first[0])] if first else []
    return " and ".join(names) or "TRITON_PTXAS_PATH"


@rule("DLWS-LIB-004", "error", "The ptxas Triton compiles torch's kernels with is of a CUDA the driver cannot run")
def triton_ptxas_newer(inv: Dict[str, Any]) -> Optional[Finding]:
    """torch.compile (inductor) and Triton kernels are compiled at run time by Triton, which runs the ptxas named by
    TRITON_PTXAS_PATH, else the one its wheel bundles (the triton table: 12.3 in triton 2.2, 12.4 in 3.0-3.3, 12.8
    in 3.4-3.7; for sm 10.0 and newer a second copy, ptxas-blackwell: 12.8 in 3.3, 13.1 in 3.7, and from 3.9 for
    sm 9.0 too), and loads the cubin it makes. A driver of an older CUDA major refuses it: "Triton Error [CUDA]:
    device kernel image is invalid" with torch 2.2.0+cu118 on driver 470 (pytorch/pytorch#119054: triton's ptxas
    '12.3'; TRITON_PTXAS_PATH=/usr/local/cuda-11.8/bin/ptxas fixed it). A newer minor of the same major runs under
    minor-version compatibility (CUDA 11 on), so only a newer major, or a newer minor before CUDA 11, is judged
    (where LIB-003 warns at any newer minor: XLA says so and slows down)."""
    torch = facts.frameworks(inv).get("torch") or {}
    driver = facts.major_minor(facts.nvidia(inv).get("cuda_driver_version"))
    copies = [p for p in inv.get("ptxas") or [] if p.get("source") in TRITON_SOURCES]
    refused = [p for p in copies if driver and facts.major_minor(p.get("version"))
               and _refused(facts.major_minor(p.get("version")) or (0, 0), driver)]
    if facts.build_kind(torch) != "cuda" or driver is None or not refused:
        return None
    newest = max((facts.major_minor(p.get("version")) or (0, 0) for p in refused))
    evidence = {"framework": "torch", "version": torch.get("version"),
                "ptxas": [{"version": p.get("version"), "from": p.get("source"), "path": p.get("path")}
                          for p in refused],
                "driver": facts.nvidia(inv).get("driver_version"), "driver_cuda": "%d.%d" % driver}
    fix = "update the NVIDIA driver to one for CUDA %d.%d or newer (or, on a data-center GPU, the CUDA " \
          "forward-compatibility package cuda-compat-%d-%d), or set %s to a ptxas of CUDA %d.x (a toolkit's " \
          "bin/ptxas, or the nvidia-cuda-nvcc-cu%d wheel's nvidia/cuda_nvcc/bin/ptxas)" % (
              newest + newest + (_variables(refused), driver[0], driver[0]))
    fitting = _fitting_triton(driver)
    if fitting:
        fix += ", or install a torch whose triton bundles one this driver runs (triton %s is the newest that " \
               "does)" % fitting
    return triton_ptxas_newer.finding(evidence, fix, subject="torch")


def _tf_needs(entry: Dict[str, Any]) -> List[Tuple[str, str, int]]:
    """(library, soname, major) TensorFlow's build dlopens: libcudart.so.11.0 for CUDA 11.x, .so.12 for 12.x (10.x
    names carry the minor: not judged) and libcudnn.so.<major> of the cuDNN its table row names."""
    cuda = facts.major_minor(entry.get("cuda"))
    cudnn = _numbers(cudnn_needed("tensorflow", entry))
    needs = []
    if cuda and cuda[0] >= 11:
        needs.append(("libcudart", "libcudart.so.%s" % ("11.0" if cuda[0] == 11 else cuda[0]), cuda[0]))
    if cudnn:
        needs.append(("libcudnn", "libcudnn.so.%d" % cudnn[0], cudnn[0]))
    return needs




def _conda_lib(inv: Dict[str, Any], needs: List[Tuple[str, str, int]]) -> Optional[str]:
    """The lib folder of the conda environment whose packages (conda-meta) hold a CUDA or cuDNN of a needed major."""
    majors = {library: major for library, _, major in needs}
    kept = [(lib, "libcudnn") for lib in inv.get("cudnn") or [] if lib.get("source") == "conda"]
    kept += [(tk, "libcudart") for tk in (inv.get("cuda") or {}).get("toolkits") or [] if tk.get("source") == "conda"]
    prefixes = [item.get("path") for item, library in kept
                if str(item.get("version") or "").split(".")[0] == str(majors.get(library))]
    prefix = next((str(p).rstrip("/") for p in prefixes if p), None)
    return prefix + "/lib" if prefix else None


@rule("DLWS-LIB-005", "error", "TensorFlow cannot find the CUDA libraries it loads: it runs on the CPU")
def tensorflow_libraries_missing(inv: Dict[str, Any]) -> Optional[Finding]:
    """TensorFlow's Linux GPU builds dlopen the CUDA runtime, cuBLAS, cuDNN ... by soname at start
    (tensorflow/stream_executor/platform/default/dso_loader.cc): where the loader finds none it logs "Could not load
    dynamic library 'libcudart.so.11.0'" and "Cannot dlopen some GPU libraries ... Skipping registering GPU
    devices..." and runs on the CPU without an error. From 2.14 the tensorflow[and-cuda] extra installs the nvidia-*
    wheels its libraries find through their RUNPATH; without them, and before 2.14 always, the libraries must be in
    a folder the loader searches. A conda environment's $CONDA_PREFIX/lib (conda install cudatoolkit cudnn) is not
    one: TensorFlow's install guide had it added to LD_LIBRARY_PATH (tensorflow/tensorflow#52988: "displays []";
    with LD_LIBRARY_PATH=$CONDA_PREFIX/lib the GPU is listed). Judged only where the loader's folders were read
    (the default folders are recorded once /etc/ld.so.conf was read) and no nvidia-cudnn wheel is installed (the
    and-cuda wheels, or another framework's, whose copy a process may already hold). A library it needs that is
    preloaded (LD_PRELOAD, /etc/ld.so.preload) is loaded from wherever that path points, if the file is there:
    names alone cannot say, so that one is not judged missing (an info line where nothing else is)."""
    from provision.knowledge import queries

    entry = _cuda_frameworks(inv).get("tensorflow")
    folders = inv.get("loader_path") or []
    if entry is None or _wheel(inv) or not any(f.get("source") == "default" for f in folders):
        return None
    needs = _tf_needs(entry)
    absent = [(library, soname, major) for library, soname, major in needs if first_on_path(inv, major, facts.LOADER_SEARCHED, library) is None]
    forced = [preloaded(inv, library, major) for library, _, major in absent]
    missing = [soname for (_, soname, _), named in zip(absent, forced) if not named]
    if not absent:
        return None
    release = ".".join((entry.get("version") or "").split(".")[:2])
    row = queries.framework_release("tensorflow", (entry.get("version") or "").split("+")[0]) or {}
    conda = _conda_lib(inv, needs)
    ld_path = [str(f.get("path")) for f in folders if f.get("source") == "LD_LIBRARY_PATH"]
    evidence = {"framework": "tensorflow", "version": entry.get("version"), "cuda": entry.get("cuda"),
                "cudnn_needed": cudnn_needed("tensorflow", entry), "missing": missing,
                "folders_searched": [str(f.get("path")) for f in folders if f.get("source") in facts.LOADER_SEARCHED],
                "conda_lib": conda}
    names = [str(named["preloaded"]) for named in forced if named]
    if names:
        evidence["preloaded"] = names
    if row.get("and_cuda_extra"):
        fix = "pip install \"tensorflow[and-cuda]==%s.*\" (the nvidia-* wheels TensorFlow finds itself)" % release
    else:
        fix = "install CUDA %s and cuDNN %s from NVIDIA's repository, or conda install -c conda-forge " \
              "cudatoolkit=%s cudnn=%s and add $CONDA_PREFIX/lib to LD_LIBRARY_PATH" % (
                  entry.get("cuda"), (row.get("cudnn") or "").split(".")[0] or "?", entry.get("cuda"),
                  row.get("cudnn") or "?")
    if conda and conda not in ld_path:
        fix = "add %s (the conda environment's CUDA libraries) to LD_LIBRARY_PATH, or %s" % (word(conda), fix)
    if not missing:
        return tensorflow_libraries_missing.finding(
            evidence, "if ld.so says '%s ... cannot be preloaded ... ignored' at start: %s" % (names[0], fix),
            subject="tensorflow", severity="info",
            title="TensorFlow finds %s only through the preloaded %s, in a folder not recorded: cannot judge" % (
                ", ".join(soname for _, soname, _ in absent), ", ".join(names)))
    return tensorflow_libraries_missing.finding(evidence, fix, subject="tensorflow")


#: The CUDA driver's user-space library by its file name: libcuda.so, libcuda.so.1 (its soname), libcuda.so.550.54.14.
LIBCUDA_NAME = re.compile(r"^libcuda\.so(?:\.(\d{1,6}(?:\.\d{1,6})*))?$")


def _libcuda_candidates(inv: Dict[str, Any], version: Optional[str],
                        driver: Optional[Tuple[int, ...]]) -> List[Dict[str, Any]]:
    """The copies a preloaded libcuda may be: the one its name's version says, else the recorded forward-compatibility
    copies that are not the running driver's own version."""
    if version:
        return [{"version": version, "from": "its name"}]
    return [{"version": lib.get("version"), "from": lib.get("path")} for lib in inv.get("cuda_compat") or []
            if _numbers(lib.get("version")) and _numbers(lib.get("version")) != driver]


def _compat_on_path(inv: Dict[str, Any]) -> Optional[Tuple[str, Dict[str, Any]]]:
    """(folder, copy) of the first LD_LIBRARY_PATH folder that is a recorded forward-compatibility folder: its
    libcuda.so.1 is found before the driver's own, which the loader's cache holds."""
    for folder in inv.get("loader_path") or []:
        path = str(folder.get("path"))
        for lib in inv.get("cuda_compat") or [] if folder.get("source") == "LD_LIBRARY_PATH" else []:
            if path in (lib.get("path"), posixpath.join(str(lib.get("source")), "compat")) and _numbers(lib.get("version")):
                return path, {"version": lib.get("version"), "from": lib.get("path")}
    return None


@rule("DLWS-LIB-006", "warning", "The libcuda loaded first is not the running driver's")
def forced_libcuda(inv: Dict[str, Any]) -> Optional[Finding]:
    """libcuda.so is the driver's user-space half and must be the kernel module's own version; the one exception is
    the CUDA forward-compatibility copy a toolkit carries in compat/ (cuda-compat-X-Y), built from a newer driver,
    which runs only on an older driver and a data-center GPU (NVIDIA, CUDA Compatibility: Forward Compatibility; the
    NVIDIA Container Toolkit uses it only where it is strictly newer than the driver, nvidia-container-toolkit#1426).
    A preloaded libcuda comes before the driver's own in every program (preloaded()), a compat folder on
    LD_LIBRARY_PATH before the loader's cache. predibase/lorax's image set ENV
    LD_PRELOAD=/usr/local/cuda/compat/libcuda.so (lorax 5cefe6e0, on nvidia/cuda:12.4.0-base: CUDA 12.4's compat copy,
    driver 550.54.14); on hosts with driver 560 CUDA failed to start: "Error 803: system has unsupported display
    driver / cuda driver combination" (lorax#595; #610: "cuda 12.6 and driver 560+"), and removing the variable fixed
    it (#623). Only names are recorded of a preload: a bare libcuda.so or libcuda.so.1 may be the driver's own, so it
    is judged against the forward-compatibility copies recorded here (none: quiet); where the driver's version is not
    known it is an info line that cannot judge."""
    named = next(((name, source, match) for name, source in preloads(inv)
                  for match in [LIBCUDA_NAME.match(name)] if match), None)
    driver_text = facts.nvidia(inv).get("driver_version")
    driver = _numbers(driver_text)
    if named:
        what, source, match = named
        version = match.group(1) if match.group(1) and match.group(1).count(".") >= 1 else None  # .so.1: soname
        candidates = _libcuda_candidates(inv, version, driver)
        where = "unset LD_PRELOAD or set it without it" if source == "LD_PRELOAD" else "edit /etc/ld.so.preload"
        certain = bool(version)
    else:
        on_path = _compat_on_path(inv)
        if on_path is None:
            return None
        what, source, where, certain = on_path[0], "LD_LIBRARY_PATH", "keep its other folders", True
        candidates = [on_path[1]] if _numbers(on_path[1]["version"]) != driver else []
    if not candidates or (certain and driver and _numbers(candidates[0]["version"]) == driver):
        return None
    evidence = {"forced": what, "by": source, "driver": driver_text, "copies": candidates}
    fix = "take %s out of %s (%s): programs then load the driver's own libcuda (a forward-compatibility copy " \
          "serves only a driver older than itself, on a data-center GPU, through LD_LIBRARY_PATH)" % (
              word(what), source, where)
    copies = ", ".join("%s (%s)" % (c["version"], c["from"]) for c in candidates)
    if driver is None:
        return forced_libcuda.finding(evidence, fix, severity="info",
                                      title="%s forces %s, which may be the forward-compatibility libcuda %s: the "
                                            "running driver's version is not known, so it cannot be judged" % (
                                                source, what, copies))
    older = [c for c in candidates if (_numbers(c["version"]) or ()) < driver]
    if not older:
        return forced_libcuda.finding(evidence, fix, severity="info",
                                      title="%s forces %s, which may be the forward-compatibility libcuda %s, newer "
                                            "than driver %s: it runs only on data-center GPUs (else CUDA error 804)" % (
                                                source, what, copies, driver_text))
    condition = "" if certain else "if it is the forward-compatibility copy: "
    return forced_libcuda.finding(
        evidence, fix, title="%s forces %s, %slibcuda %s is older than the running driver %s: CUDA fails to start "
                             "('Error 803: system has unsupported display driver / cuda driver combination')" % (
                                 source, what, condition, ", ".join("%s (%s)" % (c["version"], c["from"])
                                                                    for c in older), driver_text))
