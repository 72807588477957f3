"""`dlws doctor --deep`: the findings of each framework's deep run (provision.inventory.deep runs them)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from provision.doctor.model import Finding, Report, declare
from provision.inventory import facts
from provision.inventory.deep import DeepRun

BROKEN = declare("DLWS-DEEP-001", "error", "Framework cannot be imported and run", "deep", """
    `dlws doctor --deep` imports each installed framework in the inventoried Python (a subprocess) and runs a
    small matrix product on its first device. This check fails when the import fails (a missing or broken CUDA
    library, an incompatible wheel), when the process dies (an illegal instruction on a CPU without AVX), or when
    the matrix product fails ("no kernel image is available": the build has no kernels for the GPU). The
    evidence carries the error or the process's output.""")
NO_DEVICES = declare("DLWS-DEEP-002", "error", "GPU build of a framework sees no GPU", "deep", """
    The framework was built for CUDA or ROCm and the driver works, but the framework lists no GPU: a
    CUDA_VISIBLE_DEVICES that hides them, or a driver too old for the build's CUDA (DLWS-FW-003).""")
SLOW = declare("DLWS-DEEP-003", "warning", "Matrix product far below the GPU's peak", "deep", """
    A 4096x4096 FP16 matrix product ran at under a quarter of the GPU's published dense FP16 peak (healthy GPUs
    reach well over half of it): a throttled, power-capped or mis-slotted GPU (DLWS-GPU-003/004 when the
    inventory sees why).""")
RAN = declare("DLWS-DEEP-004", "info", "Framework ran a matrix product", "deep", """
    What the deep run measured: the framework's version, its devices, the device and dtype of the matrix
    product and its rate in TFLOPS.""")
def check_framework(name: str, run: DeepRun, inv: Dict[str, Any]) -> List[Finding]:
    result = run.result
    if result is None:
        return [BROKEN.finding({"framework": name, "output": run.output},
                               "reinstall it: dlws setup --framework %s" % name,
                               title="%s could not be imported and run" % name, subject=name)]
    if not result.get("ok"):
        error = result.get("error") or ""
        if "no kernel image is available" in error:
            return [BROKEN.finding({"framework": name, "error": error},
                                   "install a %s build whose CUDA architectures include this GPU's compute "
                                   "capability (dlws setup --framework %s --dry-run)" % (name, name),
                                   title="%s has no kernels for this GPU" % name, subject=name)]
        verb = "cannot be imported" if error.startswith(("ImportError", "ModuleNotFoundError", "OSError")) \
            else "fails to run a matrix product"
        return [BROKEN.finding({"framework": name, "error": error}, "see the error; dlws doctor lists likely causes",
                               title="%s %s" % (name, verb), subject=name)]
    findings = []
    entry = facts.frameworks(inv).get(name) or {}
    gpu_build = facts.build_kind(entry) in ("cuda", "rocm")
    if gpu_build and facts.nvidia(inv).get("status") == "ok" and facts.gpus(inv) and not result.get("devices"):
        findings.append(NO_DEVICES.finding(
            {"framework": name, "build": entry.get("build"), "gpus": len(facts.gpus(inv))},
            "check CUDA_VISIBLE_DEVICES and that the driver supports the build's CUDA (dlws doctor lists "
            "DLWS-FW-003 when it does not)", title="%s was built for GPUs but sees none" % name, subject=name))
    rate = result.get("tflops")
    slow = _far_below_peak(inv, name, result, rate)
    if slow:
        findings.append(slow)
    findings.append(RAN.finding(
        {"framework": name, "version": result.get("version"), "device": result.get("device"),
         "dtype": result.get("dtype"), "tflops": round(rate, 3) if rate else None, "devices": result.get("devices")},
        "nothing to fix", title="%s ran a matrix product on %s" % (name, result.get("device")), subject=name))
    return findings


#: Below this share of the published dense FP16 peak, a 4096x4096 FP16 matrix product points at a throttled,
#: power-capped or mis-slotted GPU (healthy GPUs reach well over half of it).
SLOW_SHARE = 0.25


def _far_below_peak(inv: Dict[str, Any], name: str, result: Dict[str, Any], rate: Optional[float]) -> Optional[Finding]:
    from provision.knowledge import gpus as gpu_table

    gpus = facts.gpus(inv, "nvidia")
    if not rate or not gpus or not result.get("devices") or result.get("dtype") != "float16":
        return None
    spec = gpu_table.gpu_spec("nvidia", gpus[0].get("name") or "")
    peak = gpu_table.per_device(spec, "peak_fp16_tflops")
    if not peak or rate >= SLOW_SHARE * peak:
        return None
    return SLOW.finding({"gpu": facts.gpu_label(gpus[0]), "tflops": round(rate, 1), "peak_fp16_tflops": peak,
                         "share": round(rate / peak, 3)},
                        "check throttling and the PCIe link: nvidia-smi -q -d PERFORMANCE,CLOCK; dlws doctor lists "
                        "DLWS-GPU-003/004 when it sees them", subject=name)


def add_deep(report: Report, runs: Dict[str, DeepRun], inv: Dict[str, Any]) -> None:
    """Add the deep checks to a report, one check per framework run."""
    for name, run in runs.items():
        report.add("deep: " + name, check_framework(name, run, inv))
