"""Reading the versions a machine reports, for the knowledge tables' questions: a packaging Version of any text, or
None (never an exception), a major.minor, and a compute capability however it is written.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from packaging.version import InvalidVersion, Version

#: A table row.
Row = Dict[str, Any]


def parse_version(text: Any) -> Optional[Version]:
    """A packaging Version of text, or None for anything that is not one (local tags like +cu121 dropped)."""
    if not isinstance(text, str):
        return None
    public, plus, local = text.strip().partition("+")
    if not public or (plus and not local):
        return None
    try:
        return Version(public)
    except InvalidVersion:
        return None


def minor_of(text: Any) -> Optional[str]:
    """'12.4.1' -> '12.4'; None where text is no version."""
    version = parse_version(text)
    if version is None:
        return None
    return "%d.%d" % (version.major, version.minor)


def parse_cc(cc: Any) -> Optional[Version]:
    """A compute capability as a Version: '8.6', 8.6, (8, 6) and 'sm_86' all read as 8.6."""
    if isinstance(cc, tuple) and len(cc) == 2 and all(isinstance(part, int) for part in cc):
        return parse_version("%d.%d" % cc)
    if isinstance(cc, (int, float)) and not isinstance(cc, bool):
        return parse_version(str(cc))
    if isinstance(cc, str) and cc.lower().startswith(("sm_", "sm")):
        digits = cc.lower().lstrip("sm_").rstrip("af")
        if digits.isdigit() and len(digits) >= 2:
            return parse_version("%s.%s" % (digits[:-1], digits[-1]))
        return None
    return parse_version(cc)
