"""The Jetson part of the one judgment (compat asks it): on a Jetson the driver is part of L4T, the CUDA is the one
its JetPack brings, and the CUDA wheels that run are NVIDIA's JetPack-matched ones. PyPI's and PyTorch's generic
aarch64 CUDA wheels are SBSA (server Arm) builds: they do not run CUDA there. An L4T release the jetson table does not
know leaves dlws unable to choose a CUDA build, and says so.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from provision.inventory import facts
from provision.knowledge import queries
from provision.knowledge.versions import Row

#: The variant name of NVIDIA's JetPack-matched wheel of a framework.
JETPACK = "jetpack"


def jetson(inv: Dict[str, Any]) -> Dict[str, Any]:
    return inv.get("jetson") or {}


def is_jetson(inv: Dict[str, Any]) -> bool:
    """The Jetson probe found an L4T release or a Tegra SoC (it records nothing on other machines)."""
    return bool(jetson(inv).get("l4t") or jetson(inv).get("model") or facts.nvidia(inv).get("source") == "jetson")


def _release(inv: Dict[str, Any]) -> str:
    l4t = jetson(inv).get("l4t")
    return queries.jetpack_label(l4t) or ("L4T R%s" % l4t if l4t else "an L4T release dlws could not read")


def on_jetson_gpu(inv: Dict[str, Any]) -> bool:
    """A Jetson whose integrated GPU the inventory has: its driver is L4T's, whatever nvidia-smi said."""
    return is_jetson(inv) and bool(facts.gpus(inv, "nvidia"))


def cuda_on_l4t(inv: Dict[str, Any], cuda: Optional[str]) -> Tuple[Optional[bool], str]:
    """How code built with CUDA X.Y runs on this Jetson's L4T driver: True (it supports the CUDA its JetPack brings,
    and older), False (a newer CUDA major), None where dlws cannot tell, with why."""
    l4t = jetson(inv).get("l4t")
    row = queries.jetpack_release(l4t)
    needs = facts.major_minor(cuda)
    if row is None:
        return None, "which CUDA %s brings (dlws's Jetson table does not know it)" % _release(inv)
    if needs is None:
        return None, "the CUDA version the build was made with"
    have = facts.major_minor(row["cuda"]) or (0, 0)
    brings = "%s; the driver is part of L4T" % queries.jetpack_label(l4t)
    if needs <= have:
        return True, brings
    if needs[0] > have[0]:
        return False, "%s, the build needs CUDA %d.%d" % ((brings,) + needs)
    # JetPack 5 lets a newer CUDA of the same major run through NVIDIA's CUDA upgrade packages; not judged here
    return None, "whether CUDA %d.%d runs on %s (a CUDA upgrade for Jetson, not judged)" % (needs + (brings,))


def wheel(inv: Dict[str, Any], framework: str) -> Optional[Row]:
    """NVIDIA's JetPack-matched wheel of framework for this Jetson's L4T release; None elsewhere or where unknown."""
    return queries.jetpack_wheel(jetson(inv).get("l4t"), framework) if is_jetson(inv) else None


def judge_build(inv: Dict[str, Any], framework: str, variant: str,
                python: Optional[str]) -> Tuple[List[str], List[str]]:
    """(problems, unknowns) of a CUDA build on a Jetson; nothing elsewhere (compat calls it for CUDA builds only)."""
    if not is_jetson(inv):
        return [], []
    l4t = jetson(inv).get("l4t")
    if variant != JETPACK:
        if queries.jetpack_release(l4t) is None:
            return ["dlws cannot choose a CUDA build for %s: its Jetson table does not know this release (the CUDA it "
                    "brings, and which wheels run on it)" % _release(inv)], []
        return ["a generic aarch64 CUDA wheel is an SBSA (server Arm) build: it does not run CUDA on %s, where "
                "NVIDIA's JetPack-matched wheels do" % _release(inv)], []
    found = wheel(inv, framework) or {}
    problems: List[str] = []
    if python and facts.major_minor(python) != facts.major_minor(found.get("python")):
        problems.append("NVIDIA's %s wheel for %s is for Python %s, not %s" % (
            framework, _release(inv), found.get("python"), ".".join(python.split(".")[:2])))
    unknowns = [] if found.get("verified") else [
        "whether NVIDIA's %s wheel for %s is as dlws's table says (unverified: %s)" % (
            framework, _release(inv), ", ".join(found.get("unverified_fields") or ["the row"]))]
    return problems, unknowns


def _on_loader_path(inv: Dict[str, Any], library: str, version: str) -> Optional[bool]:
    """Whether a lib<library>.so of this version ('9', '10.0': a version its files' names start with) is in a folder
    the loader searches; None where that path is not known (the default folders are recorded only once
    /etc/ld.so.conf was read)."""
    folders = [f for f in inv.get("loader_path") or [] if f.get("source") in facts.LOADER_SEARCHED]
    if not any(f.get("source") == "default" for f in folders):
        return None
    return any(str(v) == version or str(v).startswith(version + ".")
               for f in folders for v in (f.get("libraries") or {}).get(library) or [])


def cudart_soname(cuda: str) -> Tuple[str, str]:
    """(soname, the version its files' names start with) of the CUDA runtime of CUDA X.Y: libcudart.so.X.Y before
    CUDA 11 (10.0 and 10.2 differ), libcudart.so.11.0 for every 11.x, libcudart.so.X from 12."""
    major, minor = (str(cuda).split(".") + ["0"])[:2]
    if major.isdigit() and int(major) < 11:
        return "libcudart.so.%s.%s" % (major, minor), "%s.%s" % (major, minor)
    return ("libcudart.so.11.0" if major == "11" else "libcudart.so.%s" % major), major


def missing_libraries(inv: Dict[str, Any], framework: str, version: Optional[str],
                      cuda: Optional[str]) -> Tuple[List[Dict[str, str]], List[str]]:
    """(missing, unknowns) of the system libraries a Jetson build of framework (one that links L4T's CUDA and
    JetPack's cuDNN instead of bundling them: NVIDIA's JetPack wheels, the Jetson AI Lab index's) loads: the CUDA
    runtime and cuDNN sonames of the JetPack its CUDA says it was built for, where this L4T brings others (a wheel
    of an older JetPack, or of a newer one of the same CUDA major; a newer CUDA major is the driver's verdict,
    cuda_on_l4t), and the libraries no JetPack installs (cuDSS) that are not on the loader's path. Each missing
    one: {'soname', 'why'} (and 'package', 'repository' where apt installs it)."""
    row = queries.jetpack_release(jetson(inv).get("l4t"))
    if row is None or cuda_on_l4t(inv, cuda)[0] is False:  # a newer CUDA major: the driver's verdict
        return [], []
    missing: List[Dict[str, str]] = []
    unknowns: List[str] = []
    recorded = facts.major_minor(cuda)
    built = queries.jetpack_built_for("%d.%d" % recorded) if recorded else None
    here = "this machine has %s" % queries.jetpack_label(jetson(inv).get("l4t"))
    if built:
        (wanted_cuda, cuda_files), (have_cuda, _) = cudart_soname(built["cuda"]), cudart_soname(row["cuda"])
        wanted_cudnn, have_cudnn = str(built["cudnn_major"]), str(row.get("cudnn") or "").split(".")[0]
        by = "built for JetPack %s (CUDA %s, cuDNN %s%s)" % (built["jetpack"], built["cuda"], wanted_cudnn,
                                                             "" if built["verified"] else "; unverified")
        if wanted_cuda != have_cuda and _on_loader_path(inv, "libcudart", cuda_files) is not True:
            missing.append({"soname": wanted_cuda, "why": "%s; %s" % (by, here)})
        if wanted_cudnn != have_cudnn and _on_loader_path(inv, "libcudnn", wanted_cudnn) is not True:
            doubt = " (its cuDNN unverified)" if "cudnn" in (row.get("unverified_fields") or []) else ""
            missing.append({"soname": "libcudnn.so.%s" % wanted_cudnn, "why": "%s; %s%s" % (by, here, doubt)})
    release = facts.version((version or "").split("+")[0])
    for lib in queries.system_libraries(framework):
        floor = facts.version(lib.get("from_release"))
        if release is None or floor is None or release.release[:2] < floor.release[:2]:
            continue  # by release: 2.8.0a0 (a pre-release's number, as NVIDIA's wheels carry) is of 2.8
        major = str(lib["soname"]).rpartition(".so.")[2]
        found = _on_loader_path(inv, str(lib["library"]), major)
        why = "%s %s: its Jetson builds link it (reported from %s%s); no JetPack installs it" % (
            queries.display_name(framework), version, lib["from_release"],
            ", unverified" if not lib.get("verified") else "")
        if found is None:
            unknowns.append("whether %s is installed (%s; the loader's folders were not read)" % (lib["soname"], why))
        elif not found:
            missing.append({"soname": str(lib["soname"]), "why": why, "package": str(lib["package"]),
                            "repository": str(lib["repository"]).replace(
                                "{ubuntu}", str(row.get("ubuntu") or "").replace(".", ""))})
    return missing, unknowns
