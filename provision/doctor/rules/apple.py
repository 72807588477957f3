"""Apple silicon: PyTorch's MPS backend against the macOS it needs."""

from __future__ import annotations

import shlex
from typing import Any, Dict, Optional

from provision.doctor.model import rule
from provision.inventory import facts


def _newest_with_mps(inv: Dict[str, Any]) -> Optional[str]:
    """How to install the newest torch release whose MPS backend takes this macOS and that has no known problem here
    (a wheel for this Python and macOS), with what could not be judged; None where no release is known to fit."""
    from provision import compat
    from provision.knowledge import queries

    for release in compat.releases("pytorch"):
        if compat.mps_verdict(inv, release)[0] != compat.MPS_OK:
            continue
        verdict = compat.judge(inv, compat.Build("pytorch", release, "cpu"))
        requirements = queries.pip_requirements("pytorch", release, "cpu")
        if verdict.ok and requirements:
            command = "pip install %s" % " ".join(shlex.quote(r) for r in requirements)
            return command if verdict.certain else "%s (not judged: %s)" % (command, "; ".join(verdict.unknowns))
    return None


@rule("DLWS-FW-009", "warning", "PyTorch's MPS (Apple GPU) backend is unavailable on this macOS")
def mps_unavailable(inv: Dict[str, Any]) -> Any:
    """PyTorch reaches an Apple GPU through its MPS backend, which needs a minimum macOS that rose with the releases:
    12.3 from torch 1.12 (the first with MPS), 13.0 from 2.5, 14.0 from 2.10 (2.9: 13.0 or 14.0, not read). On an
    older macOS torch.backends.mps.is_built() is True but is_available() is False ("The MPS backend is supported on
    MacOS 12.3+"), and everything runs on the CPU. Upgrade macOS, or install the newest torch whose MPS backend takes this
    one. Judged for an arm64 Python on Apple silicon (an x86_64 Python there is DLWS-EMU-001's); a release whose
    floor the sources leave open is not judged."""
    from provision import compat

    entry = facts.frameworks(inv).get("torch")
    if not entry or not entry.get("version"):
        return None
    kind, why = compat.mps_verdict(inv, str(entry["version"]))
    if kind not in (compat.MPS_TOO_OLD, compat.MPS_NONE):
        return None
    row = _mps_row(str(entry["version"]))
    needed = row.get("macos") if kind == compat.MPS_TOO_OLD else None
    older = _newest_with_mps(inv)
    fix = "upgrade macOS to %s or later (Software Update)" % needed if needed else \
        "install a torch with an MPS backend (%s on)" % row.get("since")
    fix += (", or install the newest torch whose MPS backend takes macOS %s: %s" % (compat.mac_version(inv), older)
            if older else "; no torch release dlws knows takes macOS %s (dlws doctor --target pytorch says why)" %
            compat.mac_version(inv))
    return mps_unavailable.finding(
        {"torch": entry.get("version"), "macos": compat.mac_version(inv), "macos_needed": needed,
         "judgment": why, "source": row.get("source")}, fix)


def _mps_row(version: str) -> Dict[str, Any]:
    from provision.knowledge import queries

    return dict(queries.mps_floor(version) or {})
