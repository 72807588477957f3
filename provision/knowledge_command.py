"""`dlws knowledge`: the tables' as-of dates, sizes, sources and where each loads from; `dlws knowledge update`: the
frameworks table's PyPI columns (wheel tags, and the CUDA/cuDNN/NCCL the wheels pin) refreshed into the user's
cache, which later runs load (like DLWS_KNOWLEDGE_DIR)."""

from __future__ import annotations

import copy
import datetime
import json
import os
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional

from provision.errors import DlwsError
from provision.knowledge import DATA_DIR, cache_dir, load, table_path


class Offline(DlwsError):
    """PyPI could not be read: nothing was changed."""

    exit_code = 1


TIMEOUT = 30.0  # seconds one request may stall
#: seconds the whole update may take (PyPI answers ~130 PEP 658 METADATA files in well under a minute); the
#: METADATA not read by then is reported and its rows keep their values
TIME_BUDGET = 300.0


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


def update(pypi_url: str, today: datetime.date, progress: Optional[Callable[[str], None]] = None,
           budget: float = TIME_BUDGET) -> str:
    """Refresh the frameworks table's PyPI columns into the cache: the wheel tags' (refresh.py) and the CUDA, cuDNN
    and NCCL the wheels' METADATA pin (refresh_cuda.py), by the same rules as scripts/refresh-knowledge (a
    hand-verified value that differs is reported and kept; nothing is deleted). Offline (nothing written) when a
    framework's project document cannot be read; a METADATA that cannot be read within the time budget leaves its
    row's values as they were and is reported. What changed, as the refresh tools report it."""
    from provision.knowledge import refresh, refresh_cuda

    clock = _Clock(budget)
    documents = {}
    for package in refresh.PACKAGES.values():
        try:
            documents[package] = refresh.fetch(pypi_url, package, timeout=clock.timeout())
        except (OSError, ValueError) as error:
            raise Offline("cannot read %s from %s (%s): the knowledge was not changed"
                          % (package, pypi_url, getattr(error, "reason", None) or error)) from None
    unanswered = []
    for package in refresh_cuda.JAX_PACKAGES:
        try:
            documents[package] = refresh.fetch(pypi_url, package, timeout=clock.timeout())
        except (OSError, ValueError) as error:  # JAX's CUDA columns stay as they are
            unanswered.append("the JAX rows' cuda_extra_requires (cannot read %s: %s)"
                              % (package, getattr(error, "reason", None) or error))
    table = copy.deepcopy(load("frameworks"))
    report = refresh.refresh(table, documents, pypi_url, today.isoformat())
    wheels = refresh_cuda.Wheels(documents, pypi_url, _reader(clock, progress or (lambda line: None)))
    refresh_cuda.refresh_cuda(table, wheels, today.isoformat(), report=report)
    report.missing.extend(unanswered)
    if not report.changes:
        said = "the frameworks table is up to date with PyPI" if not (wheels.unread or unanswered) else \
            "nothing to change in what PyPI answered (the rows whose METADATA was not read keep their values)"
        return "\n".join(report.lines() + ["%s (as of %s)" % (said, table.get("as_of"))])
    _write(os.path.join(cache_dir(), "frameworks.json"), refresh.dump(table))
    return "\n".join(report.lines() + ["wrote %s (as of %s)" % (os.path.join(cache_dir(), "frameworks.json"),
                                                                table["as_of"])])


class _Clock:
    """The update's time budget: each request's timeout is what is left of it (at most TIMEOUT)."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget

    def timeout(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ValueError("the update's time budget of %gs is spent" % self.budget)
        return min(TIMEOUT, left)


def _reader(clock: _Clock, progress: Callable[[str], None]) -> Callable[[str], str]:
    """wheel_metadata.read within the clock's budget, saying which wheel it reads."""
    from provision.knowledge import wheel_metadata

    count = [0]

    def read(url: str) -> str:
        timeout = clock.timeout()  # a spent budget: this METADATA is not read (reported), the row keeps its values
        count[0] += 1
        progress("reading METADATA %d: %s" % (count[0], url.rsplit("/", 1)[-1]))
        return wheel_metadata.read(url, timeout=timeout)
    return read


def _write(path: str, text: str) -> None:
    """Atomically: a reader sees the old table or the new one, never half of one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    json.loads(text)  # only a table goes there
    fd, scratch = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".frameworks.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the rename makes it the table
        os.replace(scratch, path)
    except BaseException:
        os.unlink(scratch)
        raise
