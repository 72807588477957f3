"""Environment variables that change what a framework sees: a wrong HSA_OVERRIDE_GFX_VERSION."""

from __future__ import annotations

from typing import Any, Dict, Iterator

from provision.doctor.model import Finding, rule
from provision.inventory import facts


@rule("DLWS-ENV-004", "error", "HSA_OVERRIDE_GFX_VERSION names another GPU family")
def hsa_override(inv: Dict[str, Any]) -> Iterator[Finding]:
    """HSA_OVERRIDE_GFX_VERSION=major.minor.stepping makes the ROCm runtime treat every AMD GPU as that gfx target
    and load its code objects. Consumer RDNA cards ROCm does not list need it (10.3.0 for RDNA2 gfx1031/gfx1032,
    11.0.0 for RDNA3 gfx1101/gfx1102/gfx1103): a target of the card's own ISA family (LLVM's generic processors)
    runs, unsupported. A target of another family (10.3.0 on an RDNA3 card, 11.0.0 on RDNA2) loads code for another
    ISA: "invalid device function", hangs or segmentation faults. A value not in that form cannot be judged."""
    from provision import compat
    from provision.knowledge import queries

    value = compat.hsa_override(inv)
    if value is None:
        return
    for gpu in facts.gpus(inv, "amd"):
        if not gpu.get("gfx_target"):
            continue
        kind, why, loaded = compat.override_effect(gpu["gfx_target"], value)
        evidence = {"HSA_OVERRIDE_GFX_VERSION": value, "gpu": facts.gpu_label(gpu), "gfx_target": gpu["gfx_target"],
                    "loads": loaded, "judgment": why}
        if kind == "problem":
            family = queries.gfx_generic_family(gpu["gfx_target"])
            yield hsa_override.finding(evidence, "unset HSA_OVERRIDE_GFX_VERSION%s; it applies to every AMD GPU the "
                                       "process sees, so keep it to the process (or ROCR_VISIBLE_DEVICES) of the GPU "
                                       "that needs it" % (", or set it to a target of the GPU's own ISA family (%s)"
                                                          % family if family else ""),
                                       subject=facts.gpu_label(gpu))
        elif kind == "unknown" and loaded is None:
            yield hsa_override.finding(evidence, "write it as major.minor.stepping (10.3.0 for gfx1030), or unset it",
                                       title="HSA_OVERRIDE_GFX_VERSION is not major.minor.stepping",
                                       severity="warning", subject=facts.gpu_label(gpu))
