"""Requirements from a TOML file: `require = [...]` at the top, or under [tool.dlws] in a pyproject.toml."""

from __future__ import annotations

import sys
from typing import Any, Dict, List

from provision.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10
    import tomli as tomllib


def read_require_file(path: str) -> List[str]:
    try:
        with open(path, "rb") as handle:
            data: Dict[str, Any] = tomllib.load(handle)
    except OSError as exc:
        raise UsageError("cannot read --require-file %s: %s" % (path, exc.strerror or exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError("--require-file %s is not valid TOML: %s" % (path, exc)) from None
    section = data.get("tool", {}).get("dlws", data) if "tool" in data else data
    requires = section.get("require", [])
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise UsageError("--require-file %s: 'require' must be a list of strings" % path)
    return requires
