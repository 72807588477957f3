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


def _stale_cache(tmp_path, edit):
    """The shipped table with edit(table) applied, as the cache's frameworks table; (its path, the shipped table)."""
    shipped = json.loads(open(os.path.join(knowledge.DATA_DIR, "frameworks.json"), encoding="utf-8").read())
    table = json.loads(json.dumps(shipped))
    edit({framework: {row["version"]: row for row in entry["releases"]}
          for framework, entry in table["frameworks"].items()})
    cached = tmp_path / "knowledge" / "frameworks.json"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(table))
    return cached, shipped


def _as_shipped(text, shipped):
    """A written table with today's date read as the recordings' (they were recorded on the shipped as_of)."""
    return json.loads(text.replace(datetime.date.today().isoformat(), shipped["as_of"]))


def _forget_cuda(rows):
    del rows["pytorch"]["2.5"]["variants"]["cu124"]["cudnn"]
    del rows["pytorch"]["2.4"]["variants"]["cu121"]["nccl"]
    del rows["tensorflow"]["2.18"]["cuda"]
    del rows["jax"]["0.6.2"]["cuda_extra_requires"]


def test_update_derives_the_cuda_columns_too_and_keeps_a_hand_verified_value(tmp_path, pypi):  # noqa: F811
    def edit(rows):
        _forget_cuda(rows)
        rows["tensorflow"]["2.18"]["nccl"] = "2.0.0"  # hand-verified (not in unverified_fields), PyPI says 2.21.5
    cached, shipped = _stale_cache(tmp_path, edit)
    updated = dlws("knowledge", "update", "--pypi-url", pypi, cache=tmp_path)
    assert updated.returncode == 0 and "wrote %s" % cached in updated.stdout, updated.stderr
    assert "reading METADATA 1: " in updated.stderr and "Traceback" not in updated.stderr  # progress
    assert "pytorch 2.5: variants.cu124.cudnn null -> \"9.1.0.70\"" in updated.stdout
    assert "tensorflow 2.18: nccl is \"2.0.0\" (hand-verified), the wheels' Requires-Dist say \"2.21.5\"" \
        in updated.stdout
    written = _as_shipped(cached.read_text(), shipped)
    tf = next(r for r in written["frameworks"]["tensorflow"]["releases"] if r["version"] == "2.18")
    assert tf["nccl"] == "2.0.0"  # kept
    tf["nccl"] = "2.21.5"
    assert written == shipped  # every forgotten column back, as shipped


def test_update_on_the_recorded_answers_leaves_the_shipped_table_as_it_is(tmp_path, pypi):  # noqa: F811
    cached, shipped = _stale_cache(tmp_path, lambda rows: None)
    before = cached.read_text()
    same = dlws("knowledge", "update", "--pypi-url", pypi, cache=tmp_path)
    assert same.returncode == 0 and "up to date" in same.stdout and "conflicts" not in same.stdout, same.stdout
    assert cached.read_text() == before


def test_an_unreadable_metadata_is_reported_and_its_row_keeps_its_values(tmp_path):
    import http.server
    import shutil
    import threading

    import test_refresh_knowledge as trk

    data = tmp_path / "pypi"
    shutil.copytree(trk.DATA, data)
    os.remove(data / "metadata" / "torch-2.5.1-cp310-cp310-manylinux1_x86_64.whl.metadata")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), trk._Recorded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cached, shipped = _stale_cache(tmp_path, _forget_cuda)
    saved, trk.DATA = trk.DATA, str(data)
    try:
        updated = dlws("knowledge", "update", "--pypi-url", "http://127.0.0.1:%d/pypi" % server.server_address[1],
                       cache=tmp_path)
    finally:
        trk.DATA = saved
        server.shutdown()
        server.server_close()
    assert updated.returncode == 0, updated.stderr
    assert "METADATA of torch 2.5.1 (torch-2.5.1-cp310-cp310-manylinux1_x86_64.whl)" in updated.stdout
    written = {f: {r["version"]: r for r in e["releases"]}
               for f, e in _as_shipped(cached.read_text(), shipped)["frameworks"].items()}
    assert "cudnn" not in written["pytorch"]["2.5"]["variants"]["cu124"]  # not read: left as the cache had it
    assert written["pytorch"]["2.4"]["variants"]["cu121"]["nccl"] == "2.20.5"  # the others refreshed
    assert written["jax"]["0.6.2"]["cuda_extra_requires"]["cuda12"]["cudnn"] == ">=9.8,<10.0"


def test_a_spent_time_budget_reads_no_more_metadata_and_changes_nothing(tmp_path, pypi, monkeypatch):  # noqa: F811
    from provision import knowledge_command as kc

    cached, _ = _stale_cache(tmp_path, _forget_cuda)
    before = cached.read_text()
    monkeypatch.setenv("DLWS_CACHE_DIR", str(tmp_path))
    reader = kc._reader
    monkeypatch.setattr(kc, "_reader", lambda clock, progress: reader(kc._Clock(0.0), progress))
    lines = []
    knowledge.load.cache_clear()
    try:
        out = kc.update(pypi, datetime.date.today(), lines.append)
    finally:
        knowledge.load.cache_clear()
    assert "METADATA of torch 2.5.1 (torch-2.5.1-cp310-cp310-manylinux1_x86_64.whl): the update's time budget of " \
        "0s is spent" in out and lines == []  # each release reported, none read
    assert "nothing to change in what PyPI answered" in out and "up to date" not in out
    assert cached.read_text() == before  # the forgotten columns stay forgotten
    with pytest.raises(ValueError, match="spent"):
        kc._Clock(0.0).timeout()
    assert 0 < kc._Clock(1000.0).timeout() <= kc.TIMEOUT


def test_the_cache_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    from provision import knowledge_command as kc

    path = tmp_path / "frameworks.json"
    path.write_text('{"old": true}')
    with pytest.raises(ValueError):
        kc._write(str(path), '{"half": ')  # never a table that does not parse
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        kc._write(str(path), '{"new": true}')
    assert path.read_text() == '{"old": true}' and os.listdir(tmp_path) == ["frameworks.json"]  # no scratch left
    monkeypatch.undo()
    kc._write(str(path), '{"new": true}')
    assert path.read_text() == '{"new": true}' and os.listdir(tmp_path) == ["frameworks.json"]
