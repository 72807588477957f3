"""What an installed wheel's tags (PEP 425, from its dist-info's WHEEL file) say it was built for.

The installed files are the strongest evidence there is: where the knowledge table says a release has no wheel for
this Python but the installed wheel is tagged for it (JAX's classifiers lagged its jaxlib wheels), the wheel wins;
where the wheel was built for another Python (a dist-packages folder shared across an in-place Python upgrade), that
is certain, whatever the table says.
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

_PYTHON_TAG = re.compile(r"(cp|py)(\d)(\d*)")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_\w+")
#: The legacy manylinux names and the glibc each stands for (PEP 513, 571, 599).
_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _version(text: Optional[str]) -> Optional[Tuple[int, ...]]:
    parts = (text or "").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def _tag_fits(tag: str, python: Tuple[int, ...]) -> bool:
    interpreters, abi, _platform = tag.split("-", 2)
    for interpreter in interpreters.split("."):
        match = _PYTHON_TAG.fullmatch(interpreter)
        if not match or int(match.group(2)) != python[0]:
            continue
        if not match.group(3):  # py3: any Python 3
            return True
        built = (int(match.group(2)), int(match.group(3)))
        if built == python or ("abi3" in abi.split(".") and built <= python):
            return True
    return False


def python_fits(tags: Sequence[str], python: Optional[str]) -> Optional[bool]:
    """Whether the installed wheel was built for this Python (X.Y); None where the tags or the version are
    unknown (an egg, a conda package, a wheel without WHEEL)."""
    version = _version(python)
    if not tags or version is None:
        return None
    return any(_tag_fits(tag, version) for tag in tags if tag.count("-") >= 2)


def glibc_floor(tags: Sequence[str]) -> Optional[str]:
    """The oldest glibc the installed wheel runs on ("2.28"), from its manylinux tags (the lowest of them: a
    wheel tagged for several runs on each); None where a tag is not manylinux (pure, other platforms) or none."""
    floors: List[Tuple[int, int]] = []
    for tag in tags:
        platforms = tag.split("-", 2)[-1].split(".")
        for platform in platforms:
            match = _MANYLINUX.fullmatch(platform)
            legacy = next((v for k, v in _LEGACY.items() if platform.startswith(k + "_")), None)
            if match:
                floors.append((int(match.group(1)), int(match.group(2))))
            elif legacy:
                floors.append(legacy)
            else:
                return None
    return "%d.%d" % min(floors) if floors else None
