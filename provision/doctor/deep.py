"""`dlws doctor --deep`: import each installed framework in a subprocess and run a small matrix product on it."""

from __future__ import annotations

import json
import pkgutil
from typing import Any, Dict, List, Optional

from provision.inventory import facts
from provision.doctor.model import Finding, Report, declare
from provision.host import Host

FRAMEWORKS = ("torch", "jax", "tensorflow")
#: Importing TensorFlow or compiling the first JAX kernel can take tens of seconds on a cold cache.
TIMEOUT = 180.0

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
#: The probe runs as `python -c CODE FRAMEWORK`: the same command line wherever dlws is installed, so a snapshot
#: recorded with `dlws snapshot --deep` replays on any machine (read from the package, zipped or not).
PROBE_CODE = (pkgutil.get_data("provision.doctor", "deep_probe.py") or b"").decode("utf-8")


def probe_command(python: str, name: str) -> List[str]:
    return [python, "-c", PROBE_CODE, name]


def _result(stdout: str) -> Optional[Dict[str, Any]]:
    lines = stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_framework(host: Host, python: str, name: str, inv: Dict[str, Any]) -> List[Finding]:
    run = host.run(probe_command(python, name), timeout=TIMEOUT)
    result = _result(run.stdout)
    if result is None:
        detail = (run.stderr.strip() or run.stdout.strip() or "exit code %d" % run.returncode)[-1500:]
        return [BROKEN.finding({"framework": name, "output": detail}, "reinstall it: dlws setup --framework %s" % name,
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


def _python(inv: Dict[str, Any]) -> str:
    return (inv.get("python") or {}).get("executable") or ""


def deep_runs(inv: Dict[str, Any]) -> Dict[str, List[str]]:
    """The command line of each deep run the inventory calls for, by framework (none without a Python)."""
    python = _python(inv)
    return {name: probe_command(python, name) for name in FRAMEWORKS if python and name in facts.frameworks(inv)}


def run_deep(host: Host, inv: Dict[str, Any], report: Report) -> None:
    """Add the deep checks to a report, one check per installed framework."""
    for name in deep_runs(inv):
        report.add("deep: " + name, check_framework(host, _python(inv), name, inv))
