"""`dlws knowledge` and `dlws knowledge update`, against PyPI's recorded answers served on 127.0.0.1, and the
doctor's line when the tables are old (DLWS-KB-001)."""

import datetime
import json
import os
import subprocess
import sys

import pytest

from provision import knowledge
from provision.doctor import diagnose
from test_refresh_knowledge import pypi  # noqa: F401 (the fixture: the recorded answers on loopback)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dlws(*args, cache):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=ROOT, DLWS_CACHE_DIR=str(cache)))


def test_knowledge_lists_every_table_with_its_date_rows_and_origin(tmp_path):
    shown = dlws("knowledge", cache=tmp_path)
    assert shown.returncode == 0, shown.stderr
    for name in ("cuda", "frameworks", "nvidia_gpus", "distributions"):
        table = knowledge.load(name)
        line = next(line for line in shown.stdout.splitlines() if line.startswith(name + " "))
        assert table["as_of"] in line and "package" in line
    assert str(tmp_path / "knowledge") in shown.stdout


def test_update_from_pypi_fills_the_cache_which_later_runs_load(tmp_path, pypi):  # noqa: F811
    cached = tmp_path / "knowledge" / "frameworks.json"
    # the recorded answers reproduce the shipped columns: nothing to write
    same = dlws("knowledge", "update", "--pypi-url", pypi, cache=tmp_path)
    assert same.returncode == 0 and "up to date" in same.stdout and not cached.exists(), same.stderr
    # a table one column behind PyPI (as an older dlws's would be): update brings it back, dated today
    table = json.loads(open(knowledge.table_path("frameworks"), encoding="utf-8").read())
    row = next(r for r in table["frameworks"]["tensorflow"]["releases"] if r["version"] == "2.21")
    del row["platforms"]
    table["as_of"] = "2026-01-01"
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps(table))
    assert "frameworks       2026-01-01" in dlws("knowledge", cache=tmp_path).stdout  # the cache is what loads
    updated = dlws("knowledge", "update", "--pypi-url", pypi, cache=tmp_path)
    assert updated.returncode == 0 and "wrote %s" % cached in updated.stdout, updated.stderr
    written = json.loads(cached.read_text())
    assert written["as_of"] == datetime.date.today().isoformat()
    assert next(r for r in written["frameworks"]["tensorflow"]["releases"] if r["version"] == "2.21")["platforms"]


def test_update_offline_is_an_error_and_changes_nothing(tmp_path):
    cached = tmp_path / "knowledge" / "frameworks.json"
    cached.parent.mkdir(parents=True)
    cached.write_text(open(knowledge.table_path("frameworks"), encoding="utf-8").read())
    before = cached.read_text()
    offline = dlws("knowledge", "update", "--pypi-url", "http://127.0.0.1:9/pypi", cache=tmp_path)
    assert offline.returncode == 1 and "the knowledge was not changed" in offline.stderr
    assert len(offline.stderr.strip().splitlines()) == 1 and "Traceback" not in offline.stderr
    assert cached.read_text() == before
    assert dlws("knowledge", "update", "--pypi-url", "http://x/$(id)", cache=tmp_path).returncode == 2


def test_a_broken_cache_falls_back_to_the_package_tables(tmp_path, monkeypatch):
    cached = tmp_path / "knowledge" / "frameworks.json"
    cached.parent.mkdir(parents=True)
    cached.write_text("{not json")
    monkeypatch.setenv("DLWS_CACHE_DIR", str(tmp_path))
    knowledge.load.cache_clear()
    try:
        assert knowledge.load("frameworks")["table"] == "frameworks"
    finally:
        knowledge.load.cache_clear()


@pytest.mark.parametrize("days, fires", [(90, False), (91, True)])
def test_the_doctor_says_when_the_tables_are_over_90_days_old(days, fires):
    as_of = datetime.date.fromisoformat(knowledge.load("frameworks")["as_of"])
    found = [f for f in diagnose({}, today=as_of + datetime.timedelta(days=days)).findings if f.id == "DLWS-KB-001"]
    assert bool(found) is fires
    if fires:
        assert found[0].severity == "info" and "dlws knowledge update" in found[0].fix
        assert found[0].evidence["as_of"] == as_of.isoformat() and found[0].evidence["days"] == days
