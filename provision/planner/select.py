"""Choose, for each requested framework, the release and build that fit the machine (or say why none does)."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from provision import compat, compat_jetson
from provision.inventory import facts
from provision.knowledge import load, queries
from provision.planner.model import Choice, Request

def driver_after_plan(inv: Dict[str, Any], request: Request) -> Dict[str, Any]:
    """The inventory as it will be once the plan's driver step ran: with --driver install a missing driver (and with
    upgrade an old one too) becomes the newest branch that still supports every GPU here."""
    nv = facts.nvidia(inv)
    gpus = facts.gpus(inv, "nvidia")
    if not compat.nvidia_hardware(inv) or not driver_installable(inv):
        return inv
    missing = nv.get("status") in ("no-driver", "nouveau", None) or not nv.get("driver_version")
    if request.driver == "keep" or not (missing or request.driver == "upgrade"):
        return inv
    branch = driver_branch(gpus)
    if branch is None:
        return inv
    future = copy.deepcopy(inv)
    future["nvidia"].update(status="ok", driver_version=branch["branch"], cuda_driver_version=branch["max_cuda"])
    return future


def driver_installable(inv: Dict[str, Any]) -> bool:
    """Whether a driver step belongs in a plan: never inside WSL 2 (the driver lives on Windows), a container (the
    host's job) or a Jetson (JetPack)."""
    info = facts.os_info(inv)
    return info.get("system") == "linux" and not info.get("wsl") and not info.get("container") \
        and not compat_jetson.is_jetson(inv)


def driver_branch(gpus: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The newest driver branch that supports the oldest GPU (by compute capability) of the machine."""
    # facts.version: a capability that is no version (a hand-edited or fleet inventory's) is unknown, not a crash
    oldest = min(filter(None, (facts.version(g.get("compute_capability")) for g in gpus)), default=None)
    for branch in load("install")["driver_branches"]:  # newest first
        if oldest is None or oldest >= Version(branch["min_cc"]):
            return branch
    return None


def no_branch_reason(inv: Dict[str, Any], request: Request) -> Optional[str]:
    """Why the plan cannot install a driver at all: a GPU older than the oldest branch dlws installs (a Kepler's 3.7
    below branch 580's 5.0), where the plan would install one; None otherwise."""
    nv = facts.nvidia(inv)
    if request.driver == "keep" or not compat.nvidia_hardware(inv) or not driver_installable(inv) \
            or (nv.get("status") == "ok" and nv.get("driver_version")):
        return None
    oldest = load("install")["driver_branches"][-1]
    floor = Version(oldest["min_cc"])
    below = [g for g in facts.gpus(inv, "nvidia") if (facts.version(g.get("compute_capability")) or floor) < floor]
    if not below:
        return None
    return "no NVIDIA driver branch dlws installs supports %s: the oldest, %s, needs compute capability %s or newer" \
        " (a GPU this old needs a legacy NVIDIA driver, installed by hand)" % (", ".join(
            "%s, compute capability %s%s" % (facts.gpu_label(g), g.get("compute_capability"),
                                             " (%s)" % g["architecture"] if g.get("architecture") else "")
            for g in below), oldest["branch"], oldest["min_cc"])


def wants_gpu(inv: Dict[str, Any], request: Request) -> bool:
    """auto means the GPU build wherever there is a GPU a published build can use (NVIDIA or AMD)."""
    if request.variant in ("cpu", "metal"):
        return False
    if request.variant != "auto":
        return True
    return compat.nvidia_hardware(inv) or bool(facts.gpus(inv, "amd"))


def _variant_allowed(inv: Dict[str, Any], request: Request, build: compat.Build) -> bool:
    wanted = request.variant
    if wanted == "auto":
        return build.variant != "cpu" if wants_gpu(inv, request) else build.variant == "cpu"
    if wanted == "cuda":
        return bool(build.cuda)
    if wanted == "rocm":
        return bool(build.rocm)
    if wanted in ("cpu", "metal"):
        return build.variant == "cpu"
    return build.variant == wanted  # cu121, rocm6.0, cuda12


def _candidate_releases(framework: str, version: Optional[str]) -> List[str]:
    known = compat.releases(framework)
    if framework == "jax" and not known:
        return [version or "latest"]
    if version is None:
        return known
    match = compat.match_release(framework, version)
    return [match] if match else []


def choose_framework(inv: Dict[str, Any], request: Request, framework: str,
                     version: Optional[str]) -> Tuple[Optional[compat.Verdict], List[str]]:
    """The best working build of the newest release that fits, judged on every fact (else the newest that may fit,
    its unknowns in its notes), or None and the reasons nothing fits."""
    releases = _candidate_releases(framework, version)
    if not releases:
        return None, ["dlws knows no %s release %s (known: %s)" % (framework, version,
                                                                   ", ".join(compat.releases(framework)))]
    newest: List[str] = []
    older: Dict[str, int] = {}
    uncertain: Optional[compat.Verdict] = None  # the newest that works but was not judged on every fact
    system = facts.os_info(inv).get("system") or "linux"
    for release in releases:
        verdicts = [v for v in compat.best_build(inv, framework, release) if _variant_allowed(inv, request, v.build)
                    and (v.build.wheel or queries.installable(framework, release, v.build.variant, system))]
        working = [v for v in verdicts if v.ok]
        if working and working[0].certain:
            return working[0], []
        if working and uncertain is None:
            uncertain = working[0]
        for verdict in verdicts:
            if not newest or newest[0].startswith("%s %s " % (framework, release)):
                newest.append("%s %s (%s): %s" % (framework, release, verdict.build.variant,
                                                  "; ".join(verdict.problems)))
            else:
                for problem in verdict.problems:
                    older[problem] = older.get(problem, 0) + 1
    if uncertain is not None:  # the safe choice: no release was judged on every fact, so the newest that may work
        return uncertain, []
    if not newest:
        return None, ["no %s build for this machine's hardware (variant %s)" % (framework, request.variant)]
    if older:
        newest.append("older %s releases do not fit either: %s" % (framework, "; ".join(sorted(older))))
    no_branch = no_branch_reason(inv, request) if wants_gpu(inv, request) else None
    return None, ([no_branch] if no_branch else []) + newest


def make_choice(verdict: compat.Verdict, system: str = "linux") -> Choice:
    build = verdict.build
    notes = list(verdict.notes) + ["could not judge %s" % unknown for unknown in verdict.unknowns]
    # no promise of the Apple GPU for an x86_64 wheel that Rosetta translates, nor where MPS refuses this macOS
    refused = compat.ROSETTA_NOTE in verdict.notes or any(compat.MPS_WORDS in note for note in verdict.notes)
    if system == "darwin" and build.framework == "pytorch" and not refused:
        notes.append("PyPI's macOS wheel uses the Apple GPU through MPS (Metal)")
    if build.wheel:  # a direct wheel (NVIDIA's for a JetPack): the framework's package alone, from its URL
        package = load("frameworks")["frameworks"][build.framework]["package"]
        notes.append("NVIDIA's JetPack wheel is %s alone: dlws's Jetson table has no companion wheels (torchvision, "
                     "torchaudio) for it" % package)
        return Choice(build.framework, build.release, build.variant, {package: build.wheel[0]}, None,
                      [build.wheel[1]], notes, build.cuda)
    return Choice(build.framework, build.release, build.variant,
                  queries.framework_pins(build.framework, build.release, build.variant),
                  queries.pip_index_url(build.framework, build.release, build.variant, system),
                  queries.pip_requirements(build.framework, build.release, build.variant), notes, build.cuda,
                  queries.local_label(build.framework, build.release, build.variant, system))


def cuda_conflicts(choices: List[Choice], verdicts: List[compat.Verdict]) -> List[str]:
    """Frameworks in one environment must agree on the CUDA major their wheels bring."""
    majors: Dict[str, int] = {}
    for choice, verdict in zip(choices, verdicts):
        cuda = facts.major_minor(verdict.build.cuda)
        if cuda:
            majors[choice.framework] = cuda[0]
    if len(set(majors.values())) > 1:
        return ["the frameworks need different CUDA majors in one environment: %s" % ", ".join(
            "%s CUDA %d" % item for item in sorted(majors.items()))]
    return []


def keras_choice(choices: List[Choice], python: Optional[str]) -> Tuple[Optional[Choice], List[str]]:
    """Keras on top of the first chosen framework it can run on (its variant names the backend): Keras 3, or on a
    TensorFlow before 2.16 the Keras 2 that TensorFlow release requires."""
    for choice in choices:
        backend = queries.keras_backend(choice.framework)
        if backend is None:
            continue
        legacy = queries.keras2_for_tensorflow(choice.release) if backend == "tensorflow" else None
        return _keras2_choice(legacy, python) if legacy else _keras3_choice(choice, backend, python)
    return None, ["Keras 3 runs on JAX, PyTorch or TensorFlow: add one with --framework"]


def _keras3_choice(choice: Choice, backend: str, python: Optional[str]) -> Tuple[Optional[Choice], List[str]]:
    info = queries.keras_info()
    floor = (info.get("python") or {}).get("min")
    if python and floor and Version(python) < Version(floor):
        return None, ["Keras %s needs Python >= %s (the environment has %s)" % (info["version"], floor, python)]
    minimum = info["backends"][backend].get("min_version")
    version = next(iter(choice.packages.values()), None)
    if minimum and version and Version(version) < Version(minimum):
        return None, ["Keras %s needs %s >= %s, the plan installs %s" % (info["version"], choice.framework,
                                                                         minimum, version)]
    pins = queries.keras_pins()
    notes = ["set %s=%s (export it, or write it in %s)" % (info["env_var"], backend, info["config_file"])]
    legacy = queries.tf_keras_for_tensorflow(choice.release) if backend == "tensorflow" else None
    if legacy:  # tf.keras is Keras 3 from TensorFlow 2.16: code written for Keras 2 needs tf-keras
        notes.append("code written for Keras 2 (tf.keras before TensorFlow 2.16): pip install %s and set %s=1" % (
            " ".join("%s==%s" % item for item in sorted(legacy["pins"].items())), info["tf_keras"]["env_var"]))
    return Choice("keras", info["version"], backend, pins, None,
                  ["%s==%s" % item for item in sorted(pins.items())], notes), []


def _keras2_choice(row: Dict[str, Any], python: Optional[str]) -> Tuple[Optional[Choice], List[str]]:
    """The keras 2.X TensorFlow 2.X requires (TensorFlow's own Keras): its wheel's Requires-Python must admit the
    environment's Python."""
    spec = row.get("requires_python")
    if python and spec and not SpecifierSet(spec).contains(python):
        return None, ["Keras %s needs Python %s (the environment has %s)" % (row["version"], spec, python)]
    pins = dict(row["pins"])
    return Choice("keras", row["version"], "tensorflow", pins, None,
                  ["%s==%s" % item for item in sorted(pins.items())],
                  ["Keras %s is the Keras 2 that TensorFlow %s requires (Keras 3 needs TensorFlow >= %s)" % (
                      row["version"], row["tensorflow"],
                      queries.keras_info()["backends"]["tensorflow"].get("min_version"))]), []
