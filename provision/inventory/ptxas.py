"""The PTX assemblers (ptxas) a framework that compiles at run time may use, in the order JAX's XLA looks for one.

jax-ml/jax jax/_src/lib/__init__.py (_cuda_path): "If the pip package nvidia-cuda-nvcc-cu11 is installed, it should
have both of the things XLA looks for in the cuda path, namely bin/ptxas and nvvm/libdevice/libdevice.10.bc" (the
wheel's site-packages/nvidia/cuda_nvcc); without it XLA runs the ptxas on PATH. The wheel's version is its
dist-info name's (what XLA prints as "the ptxas CUDA version (12.3.107)"); PATH's is that of the toolkit it is in.
"""

from __future__ import annotations

import posixpath
from typing import List, Optional

from provision.host import Host
from provision.inventory import packages
from provision.inventory.cuda import split_path
from provision.inventory.model import Inventory, Library

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


def _on_path(host: Host, inv: Inventory) -> Optional[Library]:
    """The first ptxas on PATH, with the version of the toolkit it belongs to (None: in no toolkit found)."""
    for folder in split_path(host.env("PATH"))[:MAX_FOLDERS]:
        candidate = posixpath.join(folder, "ptxas")
        if not host.exists(candidate):
            continue
        real = host.realpath(candidate) or candidate
        root = posixpath.dirname(posixpath.dirname(real))
        toolkit = next((tk for tk in inv.cuda.toolkits if tk.path == root), None)  # toolkits are real paths
        return Library(toolkit.version if toolkit else None, "PATH", real)
    return None


def probe(host: Host, inv: Inventory) -> None:
    found = _wheels(host)
    path = _on_path(host, inv)
    inv.ptxas = found + ([path] if path else [])
