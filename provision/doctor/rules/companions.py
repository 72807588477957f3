"""torch's companions (torchvision, torchaudio) built for another torch release or CUDA than the installed torch."""

from __future__ import annotations

import shlex
from typing import Any, Dict, Iterator, List, Optional, Tuple

from provision.doctor.model import Finding, rule
from provision.inventory import facts


def _release_problem(name: str, entry: Dict[str, Any], torch: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """(problem, unknown) of the torch release a companion was built for against the installed one."""
    from provision.knowledge import companions, queries

    paired = companions.paired_torch_releases(name, entry.get("version"))
    row = queries.torch_release(torch.get("version") or "")
    if paired is None:
        return None, "no torch release pairs with %s %s in dlws's table" % (name, entry.get("version"))
    if row is None:
        return None, "torch %s is not in dlws's table" % torch.get("version")
    if row["version"] in paired:
        return None, None
    return ("%s %s is built for torch %s, not the installed torch %s: its C++ operators do not load into it"
            % (name, entry.get("version"), " / ".join(paired), torch.get("version"))), None


def _cuda_problem(name: str, entry: Dict[str, Any], torch: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """(problem, unknown) of the CUDA a companion was built with against torch's, compared as the companion's own
    import check compares them (torchvision >= 0.16: the major; before, and torchaudio: major.minor)."""
    from provision.knowledge import companions

    mine, theirs = facts.major_minor(entry.get("cuda")), facts.major_minor(torch.get("cuda"))
    if mine is None or theirs is None or mine == theirs:
        # both unlabelled: both from PyPI, one build; torch from a labelled index beside an unlabelled companion
        unlabelled = mine is None and "+" in str(torch.get("version")) and facts.build_kind(entry) is None
        return None, ("%s %s does not record its CUDA build (no +cuXYZ label): it cannot be compared with torch's "
                      "CUDA %s" % (name, entry.get("version"), torch.get("cuda"))) if unlabelled else None
    compares = companions.companion_cuda_check(name, entry.get("version"))
    if compares is None:
        return None, "what %s %s checks of its CUDA is not known" % (name, entry.get("version"))
    if compares == "major" and mine[0] == theirs[0]:
        return None, None
    return ("%s is built for CUDA %d.%d and torch for CUDA %d.%d: %s's import check compares the %s and refuses it"
            % ((name,) + mine + theirs + (name, compares))), None


def _fix(names: List[str], torch: Dict[str, Any]) -> str:
    """Reinstall torch's release pins of the companions from the index torch came from (its +cuXYZ label), so the
    CUDA build stays torch's; --force-reinstall because pip takes a same-version wheel of another label as installed."""
    from provision.knowledge import pins, queries
    from provision.knowledge.versions import parse_version

    version = str(torch.get("version") or "")
    label = version.partition("+")[2]
    row = queries.torch_release(version) or {}
    chosen = pins.framework_pins("pytorch", row.get("version", ""), label) if label else {}
    chosen = chosen or (dict(row.get("pins") or {}) if not label else {})
    if not chosen or any(name not in chosen for name in names):
        return ("reinstall %s built for torch %s from the index torch came from (pytorch.org's install selector "
                "gives the matching versions)" % (" and ".join(names), version))
    wanted = ["%s==%s" % (package, chosen[package]) for package in ["torch"] + names]
    index = pins.pip_index_url("pytorch", row["version"], label) if label else None
    where = " --index-url %s" % index if index else ""
    if label and not index and not pins.installable("pytorch", row["version"], label):  # PyPI's wheel is the build
        where = " from the page torch %s came from (its +%s wheels)" % (version, label)
    stable = "pip install --force-reinstall %s%s" % (" ".join(shlex.quote(w) for w in wanted), where)
    parsed = parse_version(version)
    if parsed is not None and parsed.is_prerelease:  # a nightly pairs with the companions built the same day
        return "install the %s nightly built with torch %s from the nightly index torch came from, or the stable " \
               "release: %s" % (" and ".join(names), version, stable)
    return stable


@rule("DLWS-FW-010", "error", "torchvision or torchaudio is built for another torch release or CUDA than torch")
def companion_mismatch(inv: Dict[str, Any]) -> Iterator[Finding]:
    """torchvision and torchaudio compile their operators against one torch release (their wheels require
    torch==X.Y.Z) and one CUDA build. Next to another torch release they fail at import ("operator torchvision::nms
    does not exist", "libtorchaudio.so: undefined symbol"); next to torch of another CUDA their import check refuses
    them ("PyTorch and torchvision were compiled with different CUDA major versions"). Usually `pip install -U
    torch` upgraded torch alone, or a companion came from PyPI next to torch from PyTorch's index. A pairing dlws's
    table lacks is a cannot-judge (info), never fine."""
    from provision.knowledge import companions

    frameworks = facts.frameworks(inv)
    torch = frameworks.get("torch")
    if not torch or not torch.get("version"):
        return
    broken: List[str] = []
    problems: List[str] = []
    unknowns: List[str] = []
    for name in companions.companion_names():
        entry = frameworks.get(name)
        if not entry or not entry.get("version"):
            continue
        found = [_release_problem(name, entry, torch), _cuda_problem(name, entry, torch)]
        mine = [problem for problem, _ in found if problem]
        problems += mine
        unknowns += [unknown for _, unknown in found if unknown]
        broken += [name] if mine else []
    evidence = {"torch": torch.get("version"), "torch_cuda": torch.get("cuda"),
                **{name: frameworks[name].get("version") for name in companions.companion_names() if name in frameworks}}
    if problems:
        yield companion_mismatch.finding(dict(evidence, problems=problems), _fix(broken, torch), subject=broken[0])
    elif unknowns:
        yield companion_mismatch.finding(dict(evidence, cannot_judge=unknowns),
                                         "check that torch and its companions come from one install line "
                                         "(pip list: their versions and +cuXYZ labels)", severity="info",
                                         title="torchvision or torchaudio against torch: cannot judge")
