"""`dlws doctor --target FRAMEWORK[==VERSION]`: is this machine ready for a framework that is not installed yet?"""

from __future__ import annotations

from typing import Any, Dict, List

from provision import compat
from provision.doctor.model import Finding
from provision.errors import UsageError


def _describe(verdict: compat.Verdict) -> str:
    build = verdict.build
    return "%s %s (%s)" % (build.framework, build.release, build.variant)


def check_target(inv: Dict[str, Any], text: str) -> List[Finding]:
    framework, version = compat.parse_target(text)
    release = compat.match_release(framework, version)
    if release is None:
        raise UsageError("dlws knows no %s release %s; known: %s" % (
            framework, version, ", ".join(compat.releases(framework)) or "none"))
    if framework == "mxnet":
        return [Finding("DLWS-TGT-001", "error", "%s: MXNet is retired" % text,
                        {"target": text, "last_release": "1.9.1", "python": "<= 3.8"},
                        "use PyTorch or JAX; for legacy code only: dlws setup --framework mxnet --python 3.8",
                        subject=text)]
    verdicts = compat.best_build(inv, framework, release)
    best = verdicts[0]
    evidence = {"target": text, "builds": {v.build.variant: v.problems or v.notes or ["works"] for v in verdicts}}
    has_gpu = any(v.build.variant != "cpu" for v in verdicts)
    if best.ok and (best.build.variant != "cpu" or not has_gpu):
        return [Finding("DLWS-TGT-002", "info", "%s is ready: %s fits this machine" % (text, _describe(best)),
                        dict(evidence, notes=best.notes), "dlws setup --framework %s%s --dry-run" % (
                            framework, " --version " + version if version else ""), subject=text)]
    gpu_problems = sorted({p for v in verdicts if v.build.variant != "cpu" for p in v.problems})
    if best.ok:  # only the CPU build works on a GPU machine
        return [Finding("DLWS-TGT-001", "warning", "%s would only run on the CPU here" % text, evidence,
                        "fix what blocks the GPU builds: %s" % "; ".join(gpu_problems), subject=text)]
    problems = sorted({p for v in verdicts for p in v.problems})
    return [Finding("DLWS-TGT-001", "error", "%s cannot work on this machine" % text, evidence,
                    "; ".join(problems) or "see the evidence", subject=text)]
