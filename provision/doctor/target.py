"""`dlws doctor --target FRAMEWORK[==VERSION]`: is this machine ready for a framework that is not installed yet?"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from provision import compat
from provision.doctor.advice import legacy_setup
from provision.doctor.model import Finding, Report, declare
from provision.errors import UsageError
from provision.knowledge import queries

UNFIT = declare("DLWS-TGT-001", "error", "Target framework cannot work on this machine", "target", """
    `dlws doctor --target FRAMEWORK[==VERSION]` judges a framework that is not installed yet: every published build
    of that release (CUDA, ROCm and CPU variants) against the GPUs' compute capabilities, the driver, the Python
    and the glibc, from the knowledge base. An error when no build works (the evidence says why for each one), a
    warning when only the CPU build would run on a GPU machine, or when the best build cannot be judged because a
    fact it needs is unknown (the finding names what is missing: "cannot judge", never "works"). MXNet is retired:
    no build fits a current machine. Each target is a check of its own (one JUnit test case, named "target: TEXT").""")
READY = declare("DLWS-TGT-002", "info", "Target framework fits this machine", "target", """
    The --target framework has a build that works here (a GPU build where there are GPUs); the finding names it
    and the fix is the dlws setup command that plans its install.""")


def _describe(verdict: compat.Verdict) -> str:
    build = verdict.build
    return "%s %s (%s)" % (build.framework, build.release, build.variant)


def _cannot_judge(verdict: compat.Verdict) -> List[str]:
    return ["cannot judge: %s" % "; ".join(verdict.unknowns)] if verdict.unknowns else []


def _fitting_release(inv: Dict[str, Any], framework: str) -> Optional[str]:
    """The release dlws setup would pick with no --version: the newest with a working build of the kind this machine
    wants (a GPU build where there are GPUs), else the newest whose CPU build works; None when none fits. The
    planner's own selection, so doctor and setup never disagree about which release fits."""
    from provision.planner import select
    from provision.planner.model import Request

    for variant in ("auto", "cpu"):
        verdict, _ = select.choose_framework(inv, Request((framework,), variant=variant), framework, None)
        if verdict is not None:
            return verdict.build.release
    return None


def _as_planned(inv: Dict[str, Any], framework: str) -> Dict[str, Any]:
    """The inventory with the Python dlws setup would give the environment (a machine without one gets its
    distribution's python3), so --target judges the interpreter the plan installs for."""
    from provision.planner import environment_python
    from provision.planner.model import Request

    if (inv.get("python") or {}).get("version"):
        return inv
    python = environment_python(inv, Request((framework,)))
    return dict(inv, python=dict(inv.get("python") or {}, version=python)) if python else inv


def check_target(inv: Dict[str, Any], text: str) -> List[Finding]:
    framework, version = compat.parse_target(text)
    release = compat.match_release(framework, version)
    if release is None:
        raise UsageError("dlws knows no %s release %s; known: %s" % (
            framework, version, ", ".join(compat.releases(framework)) or "none"))
    inv = _as_planned(inv, framework)
    retired = queries.retirement(framework)
    if retired:  # no build of a retired framework fits a current machine: say so, with its last release
        python = ((queries.framework_release(framework, retired["last_release"]) or {}).get("python") or {}).get("max")
        return [UNFIT.finding({"target": text, "last_release": retired["last_release"], "python": "<= %s" % python},
                              "use PyTorch or JAX; for legacy code only: " + legacy_setup(inv, framework, python),
                              title="%s: %s is retired" % (text, queries.display_name(framework)), subject=text)]
    newest = release
    if version is None:  # no version named: judge the newest release that fits (as setup picks), not just the newest
        release = _fitting_release(inv, framework) or newest
    verdicts = compat.best_build(inv, framework, release)
    best = verdicts[0]
    evidence = {"target": text, "builds": {v.build.variant: v.problems or _cannot_judge(v) or v.notes or ["works"]
                                           for v in verdicts}}
    has_gpu = any(v.build.variant != "cpu" for v in verdicts)
    if best.ok and not best.certain and (best.build.variant != "cpu" or not has_gpu):
        return [UNFIT.finding(dict(evidence, unknowns=best.unknowns),
                              "find out what dlws could not read (a fuller snapshot or inventory): %s"
                              % "; ".join(best.unknowns),
                              title="%s: cannot judge %s: %s" % (text, _describe(best), "; ".join(best.unknowns)),
                              severity="warning", subject=text)]
    older = ""
    if release != newest:  # name the release judged, and why the newest is not it
        unfit = sorted({p for v in compat.best_build(inv, framework, newest) for p in v.problems})
        evidence.update(release=release, newest={newest: unfit})
        older = "%s: the newest release that fits is %s (%s); %s does not: %s" % (
            text, release, best.build.variant, newest, "; ".join(unfit) or "see the evidence")
    if best.ok and (best.build.variant != "cpu" or not has_gpu):
        # --variant cpu: beside a GPU no build is for (an AMD GPU and JAX), setup's auto finds no build at all
        fix = "dlws setup --framework %s%s%s --dry-run" % (framework, " --version " + version if version else "",
                                                           " --variant cpu" if best.build.variant == "cpu" else "")
        return [READY.finding(dict(evidence, notes=best.notes), fix,
                              title=older or "%s is ready: %s fits this machine" % (text, _describe(best)),
                              subject=text)]
    gpu_problems = sorted({p for v in verdicts if v.build.variant != "cpu" for p in v.problems})
    if best.ok:  # only the CPU build works on a GPU machine
        return [UNFIT.finding(evidence, "fix what blocks the GPU builds: %s" % "; ".join(gpu_problems),
                              title=(older + "; only on the CPU here") if older else
                              "%s would only run on the CPU here" % text, severity="warning", subject=text)]
    problems = sorted({p for v in verdicts for p in v.problems})
    return [UNFIT.finding(evidence, "; ".join(problems) or "see the evidence",
                          title="%s cannot work on this machine" % text, subject=text)]


def add_targets(report: Report, targets: Sequence[str]) -> None:
    """Judge each --target as a check of its own, named as the text and JUnit reports show it."""
    for text in targets:
        report.add("target: " + text, check_target(report.inventory, text))
