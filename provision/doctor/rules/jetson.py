"""Jetson: a framework from the generic indexes, whose aarch64 wheels do not run CUDA on a Jetson."""

from __future__ import annotations

import shlex
from typing import Any, Dict, Iterator, List

from provision.doctor.model import Finding, rule
from provision.inventory import facts


def _generic(entry: Dict[str, Any]) -> bool:
    """A torch from PyPI or download.pytorch.org: no CUDA at all, or their CUDA build ('+cu126'); NVIDIA's JetPack
    wheels carry an 'nv' tag ('+872d972e41.nv24.08'), source builds no local label."""
    local = (entry.get("version") or "").partition("+")[2].lower()
    return facts.build_kind(entry) == "cpu" or (local.startswith("cu") and local[2:].isdigit())


def _fix(inv: Dict[str, Any]) -> str:
    from provision import compat_jetson

    wheel = compat_jetson.wheel(inv, "pytorch")
    if wheel is None:
        l4t = compat_jetson.jetson(inv).get("l4t")
        return ("dlws's Jetson table has no NVIDIA torch wheel for %s: install the one NVIDIA publishes for your "
                "JetPack (docs.nvidia.com/deeplearning/frameworks/install-pytorch-jetson-platform; for JetPack 4 "
                "and 5 the 'PyTorch for Jetson' thread, forums.developer.nvidia.com/t/pytorch-for-jetson/72048)" % (
                    "L4T R%s" % l4t if l4t else "this L4T release (unread)"))
    return "pip install --force-reinstall %s (NVIDIA's torch %s for this JetPack; the whole plan: dlws setup " \
           "--framework pytorch --dry-run)" % (shlex.quote(wheel["url"]), wheel["version"])


@rule("DLWS-JET-001", "warning", "A torch from the generic indexes on a Jetson: no CUDA on its GPU")
def generic_torch_on_jetson(inv: Dict[str, Any]) -> Iterator[Finding]:
    """PyPI's and download.pytorch.org's linux_aarch64 torch wheels are either CPU-only or SBSA (server Arm) CUDA
    builds: on a Jetson (JetPack 5/6) neither runs CUDA on the integrated GPU, so torch.cuda.is_available() is False or
    kernels fail. The torch that does is NVIDIA's JetPack-matched wheel for the L4T release; the fix names it where
    the knowledge base has it. A torch with NVIDIA's 'nv' tag, or a source build, is left alone. JetPack 7 (L4T R38,
    Jetson Thor) runs the SBSA CUDA userspace, where SBSA wheels are the ones that run: an SBSA CUDA wheel on an L4T
    release the table does not know is a cannot-judge (info), not a verdict."""
    from provision import compat_jetson
    from provision.knowledge import queries

    entry = facts.frameworks(inv).get("torch")
    if not compat_jetson.on_jetson_gpu(inv) or not entry or not _generic(entry):
        return
    l4t = compat_jetson.jetson(inv).get("l4t")
    evidence = {"framework": "torch", "version": entry.get("version"), "build": entry.get("build"), "l4t": l4t}
    if facts.build_kind(entry) != "cpu" and queries.jetpack_release(l4t) is None:
        yield generic_torch_on_jetson.finding(
            evidence, "check python -c 'import torch; print(torch.cuda.is_available())': on JetPack 5 and 6 "
            "NVIDIA's JetPack wheels are the ones that run CUDA; on JetPack 7 (L4T R38, Jetson Thor) SBSA CUDA "
            "wheels do (pypi.jetson-ai-lab.io/sbsa/cu130)", subject="torch", severity="info",
            title="An SBSA CUDA torch on a Jetson whose L4T release dlws does not know: cannot judge")
        return
    yield generic_torch_on_jetson.finding(evidence, _fix(inv), subject="torch")


def _library_fix(inv: Dict[str, Any], missing: List[Dict[str, str]]) -> str:
    """Install what JetPack lacks where only such libraries are missing (the apt package from NVIDIA's repository for
    Jetson); else the torch built for this JetPack."""
    if all(item.get("package") for item in missing):
        steps = []
        for item in missing:
            steps.append("wget %s && sudo dpkg -i %s && sudo apt-get update && sudo apt-get -y install %s" % (
                shlex.quote(item["repository"]), shlex.quote(item["repository"].rpartition("/")[2]),
                shlex.quote(item["package"])))
        return "; ".join(steps) + " (NVIDIA's CUDA repository for Jetson; or a torch that does not link it: %s)" % (
            _fix(inv))
    return "replace this torch, built for another JetPack: %s" % _fix(inv)


@rule("DLWS-JET-002", "error", "A Jetson torch links libraries this JetPack does not have: import torch fails")
def jetson_torch_libraries_missing(inv: Dict[str, Any]) -> Iterator[Finding]:
    """NVIDIA's JetPack wheels and the Jetson AI Lab index's link the CUDA and cuDNN of the system instead of
    bundling them: one built for another JetPack asks for its libcublas.so.<CUDA major> and libcudnn.so.<cuDNN major>
    ("libcudnn.so.8: cannot open shared object file" with a JetPack 5 / 6.0 wheel on JetPack 6.1+), and torch 2.8's
    links cuDSS, which no JetPack installs ("libcudss.so.0: cannot open shared object file", NVIDIA/Isaac-GR00T#343).
    The JetPack a wheel was built for is the one whose CUDA it records; a newer CUDA major than L4T's is DLWS-FW-003's.
    cuDSS is judged on the loader's folders; where they were not read, a warning says it cannot tell."""
    from provision import compat_jetson

    entry = facts.frameworks(inv).get("torch")
    if not compat_jetson.on_jetson_gpu(inv) or not entry or _generic(entry) or facts.build_kind(entry) != "cuda":
        return
    missing, unknowns = compat_jetson.missing_libraries(inv, "pytorch", entry.get("version"), entry.get("cuda"))
    evidence = {"framework": "torch", "version": entry.get("version"), "cuda": entry.get("cuda"),
                "l4t": compat_jetson.jetson(inv).get("l4t")}
    if missing:
        evidence.update(missing=[item["soname"] for item in missing],
                        why=list(dict.fromkeys(item["why"] for item in missing)))  # each reason once
        yield jetson_torch_libraries_missing.finding(evidence, _library_fix(inv, missing), subject="torch")
    elif unknowns:
        yield jetson_torch_libraries_missing.finding(
            dict(evidence, cannot_judge=unknowns),
            "if import torch fails with 'cannot open shared object file' for a library cannot_judge names: install "
            "it from NVIDIA's CUDA repository for Jetson (cuDSS: sudo apt-get install cudss), or run "
            "dlws doctor where the loader's folders can be read", subject="torch", severity="warning",
            title="A Jetson torch may link a library JetPack does not install: cannot tell")
