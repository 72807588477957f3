"""dlws's own knowledge: tables old enough that new releases are missing from them."""

from __future__ import annotations

import datetime
from typing import Any, Dict

from provision.doctor.model import rule

#: Framework and CUDA releases come every few weeks: after this many days the tables surely miss some.
STALE_DAYS = 90


@rule("DLWS-KB-001", "info", "dlws's knowledge tables are over 90 days old")
def stale_knowledge(inv: Dict[str, Any], today: datetime.date) -> Any:
    """The verdicts rest on the knowledge tables (framework releases, their builds and wheels, CUDA and drivers). A
    release published after the tables' as-of date is unknown to them: a plan may pick an older release than PyPI
    serves, and a build installed from it may be judged "cannot judge". `dlws knowledge update` refreshes the columns
    PyPI answers into the user's cache; a newer dlws brings the rest. The date is the frameworks table's (the one that
    moves fastest), as `dlws knowledge` shows it."""
    from provision.knowledge import load, table_path

    as_of = str(load("frameworks").get("as_of"))
    try:
        days = (today - datetime.date.fromisoformat(as_of)).days
    except ValueError:  # a hand-made table without a date: nothing to say
        return None
    if days <= STALE_DAYS:
        return None
    return stale_knowledge.finding({"as_of": as_of, "days": days, "table": table_path("frameworks")},
                                   "dlws knowledge update (releases, platforms and glibc floors from PyPI); upgrade "
                                   "dlws for the rest of its knowledge")
