"""`dlws doctor --deep`: import each installed framework in a subprocess and run a small matrix product on it."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from provision.inventory import facts
from provision.doctor.model import Finding, Report
from provision.host import Host

FRAMEWORKS = ("torch", "jax", "tensorflow")
#: Importing TensorFlow or compiling the first JAX kernel can take tens of seconds on a cold cache.
TIMEOUT = 180.0
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deep_probe.py")


def _result(stdout: str) -> Optional[Dict[str, Any]]:
    lines = stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def check_framework(host: Host, python: str, name: str, inv: Dict[str, Any]) -> List[Finding]:
    run = host.run([python, SCRIPT, name], timeout=TIMEOUT)
    result = _result(run.stdout)
    if result is None:
        detail = (run.stderr.strip() or run.stdout.strip() or "exit code %d" % run.returncode)[-1500:]
        return [Finding("DLWS-DEEP-001", "error", "%s could not be imported and run" % name,
                        {"framework": name, "output": detail}, "reinstall it: dlws setup --framework %s" % name,
                        subject=name)]
    if not result.get("ok"):
        error = result.get("error") or ""
        if "no kernel image is available" in error:
            return [Finding("DLWS-DEEP-001", "error", "%s has no kernels for this GPU" % name,
                            {"framework": name, "error": error},
                            "install a %s build whose CUDA architectures include this GPU's compute capability "
                            "(dlws setup --framework %s --dry-run)" % (name, name), subject=name)]
        verb = "cannot be imported" if error.startswith(("ImportError", "ModuleNotFoundError", "OSError")) \
            else "fails to run a matrix product"
        return [Finding("DLWS-DEEP-001", "error", "%s %s" % (name, verb),
                        {"framework": name, "error": error}, "see the error; dlws doctor lists likely causes",
                        subject=name)]
    findings = []
    entry = facts.frameworks(inv).get(name) or {}
    gpu_build = facts.build_kind(entry) in ("cuda", "rocm")
    if gpu_build and facts.nvidia(inv).get("status") == "ok" and facts.gpus(inv) and not result.get("devices"):
        findings.append(Finding("DLWS-DEEP-002", "error", "%s was built for GPUs but sees none" % name,
                                {"framework": name, "build": entry.get("build"), "gpus": len(facts.gpus(inv))},
                                "check CUDA_VISIBLE_DEVICES and that the driver supports the build's CUDA "
                                "(dlws doctor lists DLWS-FW-003 when it does not)", subject=name))
    rate = result.get("tflops")
    slow = _far_below_peak(inv, name, result, rate)
    if slow:
        findings.append(slow)
    findings.append(Finding("DLWS-DEEP-004", "info", "%s ran a matrix product on %s" % (name, result.get("device")),
                            {"framework": name, "version": result.get("version"), "device": result.get("device"),
                             "dtype": result.get("dtype"), "tflops": round(rate, 3) if rate else None,
                             "devices": result.get("devices")},
                            "nothing to fix", subject=name))
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
    return Finding("DLWS-DEEP-003", "warning", "Matrix product far below the GPU's peak",
                   {"gpu": facts.gpu_label(gpus[0]), "tflops": round(rate, 1), "peak_fp16_tflops": peak,
                    "share": round(rate / peak, 3)},
                   "check throttling and the PCIe link: nvidia-smi -q -d PERFORMANCE,CLOCK; dlws doctor lists "
                   "DLWS-GPU-003/004 when it sees them", subject=name)


def run_deep(host: Host, inv: Dict[str, Any], report: Report) -> None:
    """Add the deep checks' findings to a report (only on a live machine)."""
    python = (inv.get("python") or {}).get("executable")
    for name in FRAMEWORKS:
        if name not in facts.frameworks(inv) or not python:
            continue
        report.checks.append("deep: " + name)
        report.findings.extend(check_framework(host, python, name, inv))
    report.sort()
