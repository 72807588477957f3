"""Requirements from a TOML file: `require = [...]` at the top, or under [tool.dlws] in a pyproject.toml."""

from __future__ import annotations

import sys
from typing import Any, Dict, List

from provision.doctor.require import MAX_REQUIREMENTS
from provision.errors import UsageError
from provision.untrusted import excerpt, read_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10
    import tomli as tomllib

#: A pyproject.toml is a few KiB; past this the file is no requirements file (1 MiB).
MAX_REQUIRE_FILE_BYTES = 1024 * 1024
#: A pyproject.toml's own tables, beside which a top-level `require` may stand.
PYPROJECT_TABLES = ("build-system", "dependency-groups", "project", "tool")


def _check_keys(path: str, section: Dict[str, Any], top_level: bool) -> None:
    """A typo ("requires", "requre") would gate nothing and pass: every key but `require` is an error, and a file
    without one is (an explicit `require = []` is fine)."""
    known = ("require",) + (PYPROJECT_TABLES if top_level else ())
    unknown = sorted(str(key) for key in section if key not in known)
    if unknown:
        raise UsageError("--require-file %s: unknown key %s %s (the key is 'require')" % (
            path, ", ".join(excerpt(key) for key in unknown[:5]), "at the top level" if top_level else "in [tool.dlws]"))
    if "require" not in section:
        raise UsageError("--require-file %s has no requirements: write require = [...] at the top, or under "
                         "[tool.dlws] in a pyproject.toml" % path)


def read_require_file(path: str) -> List[str]:
    try:
        # read_regular: a FIFO or a device as the file would block or have side effects, never end
        raw = read_regular(path, MAX_REQUIRE_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError("cannot read --require-file %s: %s" % (path, exc.strerror or exc)) from None
    if len(raw) > MAX_REQUIRE_FILE_BYTES:
        raise UsageError("--require-file %s is larger than %d bytes" % (path, MAX_REQUIRE_FILE_BYTES))
    try:
        data: Dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[...
        raise UsageError("--require-file %s is not valid TOML: %s" % (path, str(exc) or type(exc).__name__)) from None
    tool = data.get("tool")
    section = tool.get("dlws", data) if isinstance(tool, dict) else data
    if not isinstance(section, dict):
        raise UsageError("--require-file %s: [tool.dlws] must be a table with require = [...]" % path)
    _check_keys(path, section, section is data)
    requires = section["require"]
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise UsageError("--require-file %s: 'require' must be a list of strings" % path)
    if len(requires) > MAX_REQUIREMENTS:
        raise UsageError("--require-file %s: more than %d requirements" % (path, MAX_REQUIREMENTS))
    return requires
