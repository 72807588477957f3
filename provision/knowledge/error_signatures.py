"""The error_signatures table: error texts users paste -> the causes each can have -> the doctor checks (rule ids)
whose findings confirm a cause, or what a person checks where no rule can.

Loaded and compiled only when asked (dlws doctor --error); a row whose pattern does not compile (an override table's
typo) is left out rather than failing the run.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple, Pattern, Tuple

from provision.knowledge import load


class Cause(NamedTuple):
    cause: str
    checks: Tuple[str, ...]
    what_to_check: str


class Signature(NamedTuple):
    id: str
    family: str
    title: str
    regex: Pattern[str]
    causes: Tuple[Cause, ...]


def compile_pattern(pattern: str) -> Pattern[str]:
    """A row's pattern, case-insensitive, each space matching any run of white space: a message the terminal wrapped
    onto two lines matches as one."""
    return re.compile(pattern.replace(" ", r"\s+"), re.IGNORECASE)


@functools.lru_cache(maxsize=None)
def error_signatures() -> Tuple[Signature, ...]:
    """Every signature of the table, in its order."""
    found = []
    for row in load("error_signatures")["signatures"]:
        try:
            regex = compile_pattern(row["pattern"])
        except re.error:
            continue
        causes = tuple(Cause(c["cause"], tuple(c["checks"]), c["what_to_check"]) for c in row["causes"])
        found.append(Signature(row["id"], row["family"], row["title"], regex, causes))
    return tuple(found)
