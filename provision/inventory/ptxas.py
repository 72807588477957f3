"""The PTX assemblers (ptxas) a framework that compiles at run time may use, in the order JAX's XLA looks for one.

jax-ml/jax jax/_src/lib/__init__.py (_cuda_path): "If the pip package nvidia-cuda-nvcc-cu11 is installed, it should
have both of the things XLA looks for in the cuda path, namely bin/ptxas and nvvm/libdevice/libdevice.10.bc" (the
wheel's site-packages/nvidia/cuda_nvcc); without it XLA runs the ptxas on PATH. The wheel's version is its
dist-info name's (what XLA prints as "the ptxas CUDA version (12.3.107)"); PATH's is that of the toolkit it is in.

Triton (torch.compile) runs its own: TRITON_PTXAS_PATH's when that names a file, else the copy its wheel bundles (the
triton table: the version, and the sm from which it runs a second copy, ptxas-blackwell). Recorded after XLA's, with
source "triton", or the variable that named it.
"""

from __future__ import annotations

import posixpath
from typing import List, Optional

from provision.host import Host
from provision.inventory import packages
from provision.inventory.cuda import split_path
from provision.inventory.model import Inventory, Library
from provision.knowledge.triton import triton_release

#: The wheels jax's cuda extras install; their files lie in site-packages/nvidia/cuda_nvcc.
WHEELS = ("nvidia-cuda-nvcc-cu12", "nvidia-cuda-nvcc-cu11")
#: PATH folders looked at, at most (a PATH has a few dozen).
MAX_FOLDERS = 64


def _wheels(host: Host) -> List[Library]:
    out: List[Library] = []
    dists = packages.installed(host)
    for name in WHEELS:
        dist = dists.get(name)
        version = packages.version(host, dist) if dist else None
        if dist is not None and version is not None:
            out.append(Library(version, "pip:" + name, posixpath.join(dist.site, "nvidia", "cuda_nvcc", "bin",
                                                                     "ptxas")))
    return out


def _toolkit_version(inv: Inventory, real: str) -> Optional[str]:
    """The version of the toolkit a ptxas (a real path) lies in; None: in no toolkit found."""
    root = posixpath.dirname(posixpath.dirname(real))
    toolkit = next((tk for tk in inv.cuda.toolkits if tk.path == root), None)  # toolkits are real paths
    return toolkit.version if toolkit else None


def _on_path(host: Host, inv: Inventory) -> Optional[Library]:
    """The first ptxas on PATH, with the version of the toolkit it belongs to (None: in no toolkit found)."""
    for folder in split_path(host.env("PATH"))[:MAX_FOLDERS]:
        candidate = posixpath.join(folder, "ptxas")
        if not host.exists(candidate):
            continue
        real = host.realpath(candidate) or candidate
        return Library(_toolkit_version(inv, real), "PATH", real)
    return None


def _sms(inv: Inventory) -> List[int]:
    """The NVIDIA GPUs' architectures as Triton numbers them (compute capability 9.0: 90); unknown ones left out."""
    out = []
    for gpu in inv.gpus:
        parts = (gpu.compute_capability or "").split(".") if gpu.vendor == "nvidia" else []
        if len(parts) == 2 and all(p.isdigit() and len(p) <= 3 for p in parts):
            out.append(int(parts[0]) * 10 + int(parts[1]))
    return out


def _override(host: Host, inv: Inventory, wheels: List[Library], variable: Optional[str]) -> Optional[Library]:
    """The ptxas a variable names, if it is there: the version of the nvcc wheel or toolkit it belongs to."""
    named = host.env(variable) if variable else None
    if not variable or not named or not host.exists(named):
        return None  # Triton then runs its own copy
    real = host.realpath(named) or named
    version = next((w.version for w in wheels if w.path == real), None) or _toolkit_version(inv, real)
    return Library(version, variable, real)


def _triton(host: Host, inv: Inventory, wheels: List[Library]) -> List[Library]:
    """The copies Triton runs for this machine's GPUs: ptxas (or TRITON_PTXAS_PATH's) below the table's sm for
    ptxas-blackwell, ptxas-blackwell (or the one the release's blackwell_env names) from it; both when no GPU's
    architecture is known. An unknown release's bundled ptxas is recorded without a version."""
    dists = packages.installed(host)
    dist = dists.get("triton") or dists.get("pytorch-triton")  # PyTorch's nightlies install the latter
    if dist is None:
        return []
    row = triton_release(packages.version(host, dist)) or {}
    folder = posixpath.join(dist.site, "triton")
    paths = [row["path"]] if row else ["backends/nvidia/bin/ptxas", "third_party/cuda/bin/ptxas"]
    bundled = next((posixpath.join(folder, p) for p in paths if host.exists(posixpath.join(folder, p))), None)
    main = _override(host, inv, wheels, "TRITON_PTXAS_PATH") or (
        Library(row.get("ptxas"), "triton", bundled) if bundled else None)
    sms, start = _sms(inv), row.get("blackwell_from_sm")
    out = [main] if main and (not sms or not start or any(sm < start for sm in sms)) else []
    if bundled and start and row.get("ptxas_blackwell") and (not sms or any(sm >= start for sm in sms)):
        out.append(_override(host, inv, wheels, row.get("blackwell_env")) or Library(
            row["ptxas_blackwell"], "triton", posixpath.join(posixpath.dirname(bundled), "ptxas-blackwell")))
    return out


def probe(host: Host, inv: Inventory) -> None:
    found = _wheels(host)
    path = _on_path(host, inv)
    inv.ptxas = found + ([path] if path else []) + _triton(host, inv, found)
