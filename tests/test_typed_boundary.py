"""One typed boundary: inventories with wrongly typed fields (as a hand-edited doctor.json or a hostile snapshot
has them) go straight to every consumer — the doctor and its reports, the planner, the summary, the fleet's class
key — and none raises, nor does any doctor rule fail on them: each consumer reads the inventory through
conform.typed, so a wrong type is unknown, never an exception.
"""

import os
import random
import sys
import time

from provision.doctor import diagnose
from provision.doctor.report import to_json, to_junit, to_text
from provision.fleet.plan import class_key, describe
from provision.fleet.results import hardware_class
from provision.inventory import collect
from provision.planner import plan
from provision.setup_command import make_request
from provision.snapshot import open_snapshot
from provision.summary import render

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fuzz_driver import mutate_json  # noqa: E402

SNAPSHOTS = os.path.join(HERE, "snapshots")
CASES = 4000
SECONDS = 60.0  # a bound for slow machines; the cases take about 20 s here


def test_wrongly_typed_inventories_never_raise():
    inventories = [collect(open_snapshot(os.path.join(SNAPSHOTS, f))).to_dict() for f in sorted(os.listdir(SNAPSHOTS))]
    requests = [make_request((f,), None, "auto", None, ".venv", "install", False) for f in ("pytorch", "jax")]
    rng = random.Random(20261201)
    failures, start, done = {}, time.monotonic(), 0
    for case in range(CASES):
        if time.monotonic() - start > SECONDS:
            break
        inv = mutate_json(rng, rng.choice(inventories), rng.randrange(1, 6))
        for consumer, call in (
                ("doctor", lambda: _doctor(inv)), ("planner", lambda: _none([plan(inv, r) for r in requests])),
                ("summary", lambda: _none(render(inv))),
                ("fleet", lambda: _none((describe(class_key(inv)), hardware_class(inv))))):
            try:
                problem = call()
            except Exception as exc:  # noqa: BLE001 (any exception is the failure being counted)
                problem = "%s: %s" % (type(exc).__name__, str(exc)[:100])
            if problem:
                failures.setdefault("%s %s" % (consumer, problem), case)
        done += 1
    assert not failures, "\n".join("case %d: %s" % (case, what) for what, case in sorted(failures.items())[:40])
    assert done >= 1000, done


def _none(_result):
    return None


def _doctor(inv):
    """The first rule that failed on inv (diagnose turns a raising rule into a finding), or None."""
    report = diagnose(inv)
    to_text(report, False), to_junit(report), to_json(report)
    broken = [f for f in report.findings if f.title.startswith("dlws check")]
    return "%s: %s" % (broken[0].title, broken[0].evidence.get("exception")) if broken else None
