"""Jetson: a framework from the generic indexes, whose aarch64 wheels do not run CUDA on a Jetson."""

from __future__ import annotations

import shlex
from typing import Any, Dict, Iterator

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
                "JetPack (docs.nvidia.com/deeplearning/frameworks/install-pytorch-jetson-platform)" % (
                    "L4T R%s" % l4t if l4t else "this L4T release (unread)"))
    return "pip install --force-reinstall %s (NVIDIA's torch %s for this JetPack; the whole plan: dlws setup " \
           "--framework pytorch --dry-run)" % (shlex.quote(wheel["url"]), wheel["version"])


@rule("DLWS-JET-001", "warning", "A torch from the generic indexes on a Jetson: no CUDA on its GPU")
def generic_torch_on_jetson(inv: Dict[str, Any]) -> Iterator[Finding]:
    """PyPI's and download.pytorch.org's linux_aarch64 torch wheels are either CPU-only or SBSA (server Arm) CUDA
    builds: on a Jetson (JetPack 5/6) neither runs CUDA on the integrated GPU, so torch.cuda.is_available() is False or
    kernels fail. The torch that does is NVIDIA's JetPack-matched wheel for the L4T release; the fix names it where
    the knowledge base has it. A torch with NVIDIA's 'nv' tag, or a source build, is left alone."""
    from provision import compat_jetson

    entry = facts.frameworks(inv).get("torch")
    if not compat_jetson.on_jetson_gpu(inv) or not entry or not _generic(entry):
        return
    yield generic_torch_on_jetson.finding(
        {"framework": "torch", "version": entry.get("version"), "build": entry.get("build"),
         "l4t": compat_jetson.jetson(inv).get("l4t")}, _fix(inv), subject="torch")
