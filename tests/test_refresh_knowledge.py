"""scripts/refresh-knowledge: the frameworks table's columns derived from PyPI's wheel tags, run on recorded answers
(tests/data/pypi, served from a loopback HTTP server) and, with DLWS_PYPI_TESTS=1, on pypi.org."""

import copy
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "pypi")
TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")

_spec = importlib.util.spec_from_file_location("refresh_knowledge",
                                               os.path.join(ROOT, "scripts", "refresh_knowledge.py"))
rk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rk)


class _Recorded(http.server.BaseHTTPRequestHandler):
    """/pypi/NAME/json: the recorded project document; <any path>/WHEEL.metadata: the recorded METADATA (PEP 658);
    /scripts/<repo>/<commit>/<path>: the recorded build script (build_scripts/)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        parts = self.path.strip("/").split("/")
        path = os.path.join(DATA, parts[1] + ".json") if len(parts) == 3 and parts[0] == "pypi" \
            and parts[2] == "json" and "." not in parts[1] else None
        if parts[-1].endswith(".whl.metadata") and ".." not in parts:
            path = os.path.join(DATA, "metadata", parts[-1])
        if parts[0] == "scripts" and ".." not in parts:
            path = os.path.join(DATA, "build_scripts", *parts[1:])
        if path is None or not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as handle:
            body = handle.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pypi():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/pypi" % server.server_address[1]
    server.shutdown()
    server.server_close()


def scripts_url(pypi):
    """The loopback server's build scripts."""
    return pypi[:-len("/pypi")] + "/scripts"


def recorded(package):
    with open(os.path.join(DATA, package + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def shipped():
    with open(TABLE, encoding="utf-8") as handle:
        return json.load(handle)


def test_the_recorded_answers_reproduce_the_shipped_columns_exactly(pypi, tmp_path, capsys):
    table = tmp_path / "frameworks.json"
    shutil.copy(TABLE, table)
    assert rk.main(["--pypi-url", pypi, "--scripts-url", scripts_url(pypi), "--table", str(table), "--check"]) == 0, \
        capsys.readouterr()
    with open(table, encoding="utf-8") as handle, open(TABLE, encoding="utf-8") as original:
        assert handle.read() == original.read()
    out = capsys.readouterr().out
    assert "conflicts" not in out and "changed:" not in out


def test_every_row_with_wheels_has_its_columns_and_a_source():
    counts = {}
    for framework, entry in shipped()["frameworks"].items():
        for row in entry["releases"]:
            assert row.get("platforms"), (framework, row["version"])
            assert row["wheels_source"].startswith("PyPI JSON API https://pypi.org/pypi/%s/json" %
                                                   rk.PACKAGES[framework])
            for arch in ("x86_64", "aarch64"):
                if "linux_" + arch in row["platforms"]:
                    counts.setdefault((arch, row.get("glibc_min_linux_" + arch)), []).append(
                        (framework, row["version"]))
    # TensorFlow 1.13-1.14's x86_64 wheels say manylinux1 and were built on Ubuntu 14.04, with a floor that differs by
    # Python: no floor, the judgment cannot judge. Every floor set from a source, not a tag, names it.
    assert sorted(counts.get(("x86_64", None), [])) == [("tensorflow", "1.13"), ("tensorflow", "1.14")]
    assert ("aarch64", None) not in counts
    assert counts[("x86_64", "2.17")][:14] == [("pytorch", "1.%d" % minor) for minor in range(14)]
    for framework, entry in shipped()["frameworks"].items():
        for row in entry["releases"]:
            if row.get("glibc_source"):
                assert "glibc_min_linux_x86_64" not in (row.get("unverified_fields") or []), row["version"]


def test_the_wheels_say_what_the_issue_says():
    """Hand-read from the recorded filenames: TF 2.21 and jaxlib 0.7.1 ship manylinux_2_27 x86_64 wheels only
    (CentOS 7's glibc 2.17 gets none); torch 2.2 is the last with macOS x86_64 wheels."""
    tf = rk.derive(recorded("tensorflow")["releases"]["2.21.0"])
    assert tf["glibc"] == {"x86_64": "2.27", "aarch64": "2.27"}
    assert rk.derive(recorded("tensorflow")["releases"]["2.20.0"])["glibc"]["x86_64"] == "2.17"
    jaxlib = recorded("jaxlib")["releases"]
    assert rk.derive(jaxlib["0.7.1"])["glibc"] == {"x86_64": "2.27", "aarch64": "2.17"}
    assert rk.derive(jaxlib["0.7.0"])["glibc"] == {"x86_64": "2.17", "aarch64": "2.17"}
    assert rk.derive(jaxlib["0.7.2"])["glibc"]["aarch64"] == "2.27"
    torch = recorded("torch")["releases"]
    assert "macos_x86_64" in rk.derive(torch["2.2.2"])["platforms"]
    assert "macos_x86_64" not in rk.derive(torch["2.3.1"])["platforms"]
    six = rk.derive(torch["2.6.0"])  # PyPI's x86_64 wheel says manylinux1 though built for glibc 2.28
    assert six["glibc"] == {"x86_64": "2.5", "aarch64": "2.28"} and six["requires_python"] == ">=3.9.0"
    assert six["platforms"]["linux_x86_64"] == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    table = {row["version"]: row for row in shipped()["frameworks"]["tensorflow"]["releases"]}
    assert table["2.21"]["glibc_min_linux_x86_64"] == "2.27" and table["2.20"]["glibc_min_linux_x86_64"] == "2.17"


@pytest.mark.parametrize("tag,expected", [
    ("manylinux1_x86_64", ("x86_64", (2, 5))), ("manylinux2010_x86_64", ("x86_64", (2, 12))),
    ("manylinux2014_aarch64", ("aarch64", (2, 17))), ("manylinux_2_28_x86_64", ("x86_64", (2, 28))),
    ("linux_x86_64", None), ("macosx_11_0_arm64", None), ("manylinux_x_y_x86_64", None),
])
def test_manylinux_tags_to_glibc(tag, expected):
    assert rk.glibc_of(tag) == expected


def test_tags_to_platforms_and_pythons():
    assert rk.platform_of("macosx_10_9_universal2") == ["macos_arm64", "macos_x86_64"]
    assert rk.platform_of("win_amd64") == ["windows_amd64"] and rk.platform_of("musllinux_1_1_x86_64") is None
    assert rk.python_of("cp313", "cp313t") == "3.13t" and rk.python_of("cp38", "abi3") == "3.8+"
    assert rk.python_of("cp310", "none") == "3.10" and rk.python_of("py3", "none") == "py3"


def test_a_wheel_counts_with_its_lowest_tag_and_an_arch_with_its_highest_python():
    files = [{"filename": "x-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"},
             {"filename": "x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"},
             {"filename": "x-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl"},  # a re-upload with a build number
             {"filename": "x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"},
             {"filename": "x-1.0.tar.gz"}]
    derived = rk.derive(files)
    assert derived["glibc"] == {"x86_64": "2.28"} and derived["platforms"] == {"linux_x86_64": ["3.10", "3.11", "3.12"]}
    assert derived["notes"] == ["linux_x86_64 floors differ by Python: 3.10 2.17, 3.11 2.17, 3.12 2.28"]


def _run(row, files, force=False):
    table = {"frameworks": {"tensorflow": {"releases": [row]}}}
    document = {"releases": {"9.9.0": files}}
    report = rk.refresh(table, {"tensorflow": document}, "http://pypi.test/pypi", "2026-12-01", force)
    return table["frameworks"]["tensorflow"]["releases"][0], report


WHEEL = [{"filename": "tensorflow-9.9.0-cp312-cp312-manylinux_2_27_x86_64.whl", "requires_python": ">=3.10"}]


def test_a_floor_is_written_raised_kept_or_reported_never_silently_lowered():
    base = {"version": "9.9", "pins": {"tensorflow": "9.9.0"}}
    row, report = _run(dict(base), WHEEL)
    assert row["glibc_min_linux_x86_64"] == "2.27" and row["requires_python"] == ">=3.10"
    assert row["wheels_source"] == ("PyPI JSON API http://pypi.test/pypi/tensorflow/json, releases['9.9.0']: wheel "
                                    "filenames (PEP 425/600 platform and Python tags) and Requires-Python, read "
                                    "2026-12-01")
    row, report = _run(dict(base, glibc_min_linux_x86_64="2.17", unverified_fields=["glibc_min_linux_x86_64"]), WHEEL)
    assert row["glibc_min_linux_x86_64"] == "2.27" and not report.conflicts  # an unverified floor below the tag
    row, report = _run(dict(base, glibc_min_linux_x86_64="2.17"), WHEEL)  # hand-verified: reported, kept
    assert row["glibc_min_linux_x86_64"] == "2.17" and "hand-verified" in report.conflicts[0]
    row, report = _run(dict(base, glibc_min_linux_x86_64="2.17"), WHEEL, force=True)
    assert row["glibc_min_linux_x86_64"] == "2.27"
    row, report = _run(dict(base, glibc_min_linux_x86_64="2.31", unverified_fields=["glibc_min_linux_x86_64"]), WHEEL)
    assert row["glibc_min_linux_x86_64"] == "2.31" and "kept, above" in report.notes[0]  # a tag is a lower bound
    legacy = [{"filename": "tensorflow-9.9.0-cp312-cp312-manylinux1_x86_64.whl"}]
    row, report = _run(dict(base), legacy)
    assert "glibc_min_linux_x86_64" not in row and "legacy tag" in report.notes[0]


def test_a_floor_read_from_the_builds_beats_the_legacy_tag_even_with_force():
    """torch 1.x's x86_64 wheels say manylinux1 (glibc 2.5) but were built on CentOS 7: the row's hand-verified 2.17
    (glibc_source) is kept and noted, never lowered; TensorFlow 1.15-2.8's manylinux2010 tag is the floor itself."""
    documents = {package: recorded(package) for package in ("torch", "tensorflow", "jaxlib", "mxnet")}
    for force in (False, True):
        table = shipped()
        report = rk.refresh(table, documents, rk.PYPI, "2026-12-01", force=force)
        rows = {(f, r["version"]): r for f, e in table["frameworks"].items() for r in e["releases"]}
        assert rows[("pytorch", "1.7")]["glibc_min_linux_x86_64"] == "2.17"
        assert rows[("tensorflow", "2.3")]["glibc_min_linux_x86_64"] == "2.12"
        assert "glibc_min_linux_x86_64" not in rows[("tensorflow", "1.14")]
        assert "pytorch 1.7: glibc_min_linux_x86_64 2.17 kept, above its wheels' tag floor 2.5" in report.notes
        assert not [c for c in report.changes if "glibc" in c]
    assert rk.derive(recorded("torch")["releases"]["1.7.1"])["glibc"] == {"x86_64": "2.5"}
    assert rk.derive(recorded("tensorflow")["releases"]["2.3.4"])["glibc"] == {"x86_64": "2.12"}


def test_a_row_pypi_lacks_is_left_alone_and_a_release_no_row_covers_is_reported_not_invented():
    row = {"version": "9.9", "pins": {"tensorflow": "9.9.0"}, "glibc_min_linux_x86_64": "2.17"}
    before = copy.deepcopy(row)
    after, report = _run(row, [])
    assert after == before and report.missing == ["tensorflow 9.9 (tensorflow 9.9.0)"]
    table = shipped()
    rows = len(table["frameworks"]["jax"]["releases"])
    documents = {package: recorded(package) for package in ("torch", "tensorflow", "jaxlib", "mxnet")}
    documents["jaxlib"]["releases"]["9.0.0"] = [{"filename": "jaxlib-9.0.0-cp312-cp312-manylinux_2_27_x86_64.whl",
                                                 "upload_time_iso_8601": "2026-12-01T00:00:00Z"}]
    report = rk.refresh(table, documents, rk.PYPI, "2026-12-01")
    assert "jax jaxlib 9.0.0 (uploaded 2026-12-01): no row" in report.stale
    assert len(table["frameworks"]["jax"]["releases"]) == rows


def test_the_wrapper_prints_a_diff_and_check_fails_on_a_change(pypi, tmp_path):
    table = tmp_path / "frameworks.json"
    data = shipped()
    data["frameworks"]["tensorflow"]["releases"][-1]["platforms"] = {}
    table.write_text(rk.dump(data), encoding="utf-8")
    run = subprocess.run([os.path.join(ROOT, "scripts", "refresh-knowledge"), "--table", str(table), "--check"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, DLWS_PYPI_URL=pypi,
                                                                            DLWS_SCRIPTS_URL=scripts_url(pypi)))
    assert run.returncode == 1 and '-     "platforms": {},' in run.stdout and "changed:" in run.stdout
    assert table.read_text(encoding="utf-8") == rk.dump(data)  # --check writes nothing


def test_an_unreachable_pypi_is_reported_and_changes_nothing(tmp_path, capsys):
    table = tmp_path / "frameworks.json"
    shutil.copy(TABLE, table)
    assert rk.main(["--pypi-url", "http://127.0.0.1:9/pypi", "--table", str(table), "--check", "--write"]) == 1
    assert table.read_text(encoding="utf-8") == open(TABLE, encoding="utf-8").read()
    assert "cannot read torch" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("DLWS_PYPI_TESTS"), reason="asks PyPI: set DLWS_PYPI_TESTS=1")
def test_pypi_still_says_what_the_table_says_live(tmp_path):
    table = tmp_path / "frameworks.json"
    shutil.copy(TABLE, table)
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "refresh_knowledge.py"), "--table",
                          str(table), "--pypi-url", rk.PYPI], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "cannot read" not in run.stderr, run.stderr
    changed = [line for line in run.stdout.splitlines() if line.startswith("  ") and "glibc" in line
               and ("->" in line or "hand-verified" in line)]
    assert changed == [], changed  # new uploads may add Pythons; no floor moves
    assert "Requires-Dist say" not in run.stdout  # no CUDA/cuDNN/NCCL value disagrees with the wheels
