"""`dlws knowledge`: the tables' as-of dates, sizes, sources and where each loads from; `dlws knowledge update`: the
frameworks table's PyPI columns refreshed into the user's cache, which later runs load (like DLWS_KNOWLEDGE_DIR)."""

from __future__ import annotations

import copy
import datetime
import json
import os
import tempfile
from typing import Any, Dict, List

from provision.errors import DlwsError
from provision.knowledge import DATA_DIR, cache_dir, load, table_path


class Offline(DlwsError):
    """PyPI could not be read: nothing was changed."""

    exit_code = 1


def tables() -> List[str]:
    return sorted(name[:-5] for name in os.listdir(DATA_DIR) if name.endswith(".json"))


def rows(name: str, table: Dict[str, Any]) -> int:
    """The table's rows: release rows for frameworks, else the entries of its lists and maps of rows."""
    if name == "frameworks":
        return sum(len(f.get("releases") or []) for f in table["frameworks"].values())
    return sum(len(value) for key, value in table.items()
               if isinstance(value, (list, dict)) and key not in ("reference", "setup", "aliases"))


def where(name: str) -> str:
    path = table_path(name)
    if path.startswith(DATA_DIR + os.sep):
        return "package"
    return "cache" if path.startswith(cache_dir() + os.sep) else "DLWS_KNOWLEDGE_DIR"


def show() -> str:
    lines = ["%-16s %-10s %6s  %-18s %s" % ("table", "as of", "rows", "from", "source")]
    for name in tables():
        table = load(name)
        source = str(table.get("source") or "")
        lines.append("%-16s %-10s %6d  %-18s %s" % (name, table.get("as_of", "?"), rows(name, table), where(name),
                                                    source if len(source) <= 70 else source[:67] + "..."))
    lines.append("cache: %s (dlws knowledge update writes the frameworks table's PyPI columns there)" % cache_dir())
    return "\n".join(lines)


def update(pypi_url: str, today: datetime.date) -> str:
    """Refresh the frameworks table's PyPI columns into the cache; Offline (nothing written) when PyPI cannot be
    read. What changed, as the refresh tool reports it."""
    from provision.knowledge import refresh

    documents = {}
    for package in refresh.PACKAGES.values():
        try:
            documents[package] = refresh.fetch(pypi_url, package, timeout=30.0)
        except (OSError, ValueError) as error:
            raise Offline("cannot read %s from %s (%s): the knowledge was not changed"
                          % (package, pypi_url, getattr(error, "reason", None) or error)) from None
    table = copy.deepcopy(load("frameworks"))
    report = refresh.refresh(table, documents, pypi_url, today.isoformat())
    if not report.changes:
        return "\n".join(report.lines() + ["the frameworks table is up to date with PyPI (as of %s)"
                                           % table.get("as_of")])
    _write(os.path.join(cache_dir(), "frameworks.json"), refresh.dump(table))
    return "\n".join(report.lines() + ["wrote %s (as of %s)" % (os.path.join(cache_dir(), "frameworks.json"),
                                                                table["as_of"])])


def _write(path: str, text: str) -> None:
    """Atomically: a reader sees the old table or the new one, never half of one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    json.loads(text)  # only a table goes there
    fd, scratch = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".frameworks.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(scratch, path)
    except BaseException:
        os.unlink(scratch)
        raise
