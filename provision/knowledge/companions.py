"""torch's companion packages (torchvision, torchaudio): which torch releases one pairs with, and what of its CUDA
build it checks against torch's at import (the frameworks table, pytorch.companions and the release rows' pins).

Every function is pure and total: bad or unknown input answers None (or an empty list), never an exception.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from provision.knowledge import load
from provision.knowledge.versions import minor_of, parse_version


def _packages() -> Dict[str, Any]:
    entry = load("frameworks")["frameworks"]["pytorch"].get("companions") or {}
    packages = entry.get("packages") if isinstance(entry, dict) else None
    return packages if isinstance(packages, dict) else {}


def companion_names() -> List[str]:
    """['torchaudio', 'torchvision']: the packages built against one torch release."""
    return sorted(_packages())


def _pinned_versions(row: Dict[str, Any], package: str) -> List[str]:
    """Every version of package a torch release row pins, its per-variant pins included."""
    pins = [row.get("pins") or {}] + list((row.get("variant_pins") or {}).values())
    return [str(p[package]) for p in pins if isinstance(p, dict) and p.get(package)]


def paired_torch_releases(package: Any, version: Any) -> Optional[List[str]]:
    """The torch release rows (major.minor) a companion release pairs with: ('torchvision', '0.16.0+cu121') ->
    ['2.1']; ('torchaudio', '2.11.1') -> ['2.11', ..., '2.15'] (it requires torch>=2.11). None where it cannot be
    told: not a companion, no version, older than the first release bound to one torch, or no row pins its minor."""
    info = _packages().get(package) if isinstance(package, str) else None
    have, since = parse_version(minor_of(version)), parse_version((info or {}).get("pairs_since"))
    if info is None or have is None or since is None or have < since:
        return None
    wanted = minor_of(version)
    rows = load("frameworks")["frameworks"]["pytorch"].get("releases", [])
    paired = [row["version"] for row in rows if wanted in (minor_of(v) for v in _pinned_versions(row, package))]
    return paired or None


def companion_pin(package: Any, torch_version: Any) -> Optional[str]:
    """The companion version the torch release row of torch_version pins: ('torchvision', '2.4.0+cu121') ->
    '0.19.1'; None where the row or its pin is unknown."""
    from provision.knowledge.frameworks import torch_release

    row = torch_release(torch_version) if isinstance(torch_version, str) else None
    pin = (row.get("pins") or {}).get(package) if row and isinstance(package, str) else None
    return str(pin) if pin else None


def companion_cuda_check(package: Any, version: Any) -> Optional[str]:
    """What a companion release compares at import between its CUDA and torch.version.cuda: 'major' or
    'major.minor'; None where it is not known (releases before the first row read, unknown packages)."""
    info = _packages().get(package) if isinstance(package, str) else None
    have = parse_version(minor_of(version))
    if info is None or have is None:
        return None
    found: Optional[str] = None
    for row in info.get("cuda_check") or []:
        since = parse_version(row.get("since"))
        if since is not None and since <= have:
            found = str(row.get("compares"))
    return found
