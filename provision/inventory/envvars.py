"""Environment variables that change what a framework sees: which GPUs (CUDA_VISIBLE_DEVICES and the ROCm ones), the
code objects a ROCm runtime loads (HSA_OVERRIDE_GFX_VERSION) and the libraries loaded first (LD_PRELOAD).

Each is read through the host (so a snapshot records it); LD_PRELOAD comes as its files' names only
(provision/host_facts.py), since its folders may name the user.
"""

from __future__ import annotations

from provision.host import Host
from provision.inventory.model import Inventory

#: The variables recorded in the inventory's env_vars, set or not (an unset one is left out).
VARIABLES = (
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "NVIDIA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "HSA_OVERRIDE_GFX_VERSION",
    "LD_PRELOAD",
)


def probe(host: Host, inv: Inventory) -> None:
    for name in VARIABLES:
        value = host.env(name)
        if value is not None:
            inv.env_vars[name] = value
