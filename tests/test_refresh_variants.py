"""provision/knowledge/refresh_variants.py: torch's builds (variants, their CUDA/ROCm, the platforms they are shown
on, the index) derived from the build matrix each row names, replayed from tests/data/pypi/build_scripts (no
network); the matrix is parsed, never run; and the judgment of a build a platform lacks."""

import pytest

from provision import compat
from provision.knowledge import queries, refresh_arch as ra, refresh_variants as rv
from provision.knowledge.refresh import Report
from provision.planner import select
from provision.planner.model import Request
from test_refresh_arch import recorded, shipped


def matrix_rows():
    return [row for row in shipped()["frameworks"]["pytorch"]["releases"] if "matrix_script" in row]


def recorded_matrix(version):
    (row,) = [row for row in matrix_rows() if row["version"] == version]
    return rv.Matrix(recorded(ra.script_url(ra.SCRIPTS, row["matrix_script"])))


def test_every_row_that_names_a_matrix_has_its_recording_and_its_builds_exactly():
    rows = matrix_rows()
    assert [row["version"] for row in rows] == ["2.%d" % minor for minor in range(1, 15)]
    for row in rows:
        assert row["matrix_script"]["repo"] == "pytorch/test-infra"
        assert row["matrix_script"]["ref"] == "release/%s tip" % row["version"]
        assert row["variants_source"].startswith(rv.source_text(row["matrix_script"]))
        matrix = recorded_matrix(row["version"])
        assert set(matrix.builds) == set(row["variants"]), row["version"]
        for name, info in matrix.builds.items():
            assert {k: row["variants"][name][k] for k in info} == info
            assert row["variants"][name].get("platforms") == matrix.platforms(name), (row["version"], name)
        assert row["index_url"] == matrix.index_url == "https://download.pytorch.org/whl/{variant}"
    table = shipped()
    scripts = ra.Scripts(ra.SCRIPTS, recorded)
    report = rv.refresh_variants(table, scripts, "2026-12-01")
    assert report.lines() == [] and table == shipped() and scripts.unread == []


def test_the_recordings_hold_what_was_read_by_hand():
    # release/2.6: the test channel is 2.6's own builds; "release" still lists 2.5's 11.8, 12.1, 12.4
    assert sorted(recorded_matrix("2.6").builds) == ["cpu", "cu118", "cu124", "cu126", "rocm6.1", "rocm6.2.4"]
    # release/2.1 sets them through the module's alias, mod.CUDA_ARCHES
    assert recorded_matrix("2.1").builds["cu121"] == {"cuda": "12.1"}
    # release/2.9-2.11: CUDA_ARCHES.append("12.9") for the test channel on Linux only
    for version in ("2.9", "2.10", "2.11"):
        matrix = recorded_matrix(version)
        assert "cu129" in matrix.builds and "12.9" not in matrix.windows_cuda
        assert matrix.platforms("cu129") == {"windows_amd64": False, "linux_aarch64": True}
        assert matrix.platforms("cu128") == {"linux_aarch64": True}  # CUDA_AARCH64_ARCHES "12.8-aarch64"
    # release/2.12-2.13: CUDA_ARCHES = CUDA_ARCHES + ["12.9"] under `channel == TEST and os == LINUX`
    assert recorded_matrix("2.13").platforms("cu129")["windows_amd64"] is False
    # release/2.8 builds 12.9 for Windows too, and validates only 12.9 on aarch64: cu128 is not called missing
    # there (pytorch/pytorch#160162: the cu128 index has aarch64 wheels)
    assert recorded_matrix("2.8").platforms("cu129") == {"linux_aarch64": True}
    assert recorded_matrix("2.8").platforms("cu128") is None
    # before 2.7 the matrix has no aarch64 list: nothing is said of aarch64
    assert recorded_matrix("2.6").aarch64_cuda is None and recorded_matrix("2.6").platforms("cu126") is None
    # release/2.7: aarch64 gets the 12.8 build only
    assert recorded_matrix("2.7").aarch64_cuda == ["12.8"]
    assert sorted(recorded_matrix("2.14").builds) == ["cpu", "cu126", "cu130", "cu132", "rocm7.14", "rocm7.2"]


HEAD = 'CUDA_ARCHES_DICT = {"test": ["12.6", "13.0"], "release": ["12.4"]}\nROCM_ARCHES_DICT = {"test": ["7.2"]}\n' \
       'LINUX = "linux"\nTEST = "test"\nDOWNLOAD_URL_BASE = "https://download.pytorch.org"\n'


def builds(body, head=HEAD):
    matrix = rv.Matrix(head + "def initialize_globals(channel, os, build_python_only):\n" + body)
    return sorted(matrix.builds), matrix.windows_cuda


@pytest.mark.parametrize("body,expected", [
    ("    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]\n",
     (["cpu", "cu126", "cu130", "rocm7.2"], ["12.6", "13.0"])),
    ("    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    if channel == TEST and os == LINUX:\n"
     "        CUDA_ARCHES.append('12.9')\n    ROCM_ARCHES = []\n",
     (["cpu", "cu126", "cu129", "cu130"], ["12.6", "13.0"])),
    ("    CUDA_ARCHES = CUDA_ARCHES_DICT['release'].copy()\n    CUDA_ARCHES += ['12.8']\n"
     "    if os not in ('windows',):\n        CUDA_ARCHES.remove('12.4')\n    else:\n        pass\n"
     "    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]\n",
     (["cpu", "cu128", "rocm7.2"], ["12.4", "12.8"])),
    ("    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]\n    return\n"
     "    CUDA_ARCHES.append('9.9')\n",
     (["cpu", "cu126", "cu130", "rocm7.2"], ["12.6", "13.0"])),
])
def test_initialize_globals_is_followed_for_the_test_channel_on_linux_and_windows(body, expected):
    assert builds(body) == expected


def test_a_windows_exclusion_constant_is_resolved_to_its_value():
    head = HEAD + 'CUDA_ARCHES_NO_WINDOWS = ["13.0"]\n'
    assert builds("    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    ROCM_ARCHES = []\n", head) == (
        ["cpu", "cu126", "cu130"], ["12.6"])


@pytest.mark.parametrize("body", [
    "    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    for extra in EXTRA:\n        CUDA_ARCHES.append(extra)\n"
    "    ROCM_ARCHES = []\n",  # a loop over the list
    "    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    if some_flag():\n        CUDA_ARCHES.append('12.9')\n"
    "    ROCM_ARCHES = []\n",  # a test on something the tool does not know
    "    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    tweak(CUDA_ARCHES)\n    ROCM_ARCHES = []\n",  # a call
    "    CUDA_ARCHES = load_arches(channel)\n    ROCM_ARCHES = []\n",  # a value it cannot compute
    "    CUDA_ARCHES = CUDA_ARCHES_DICT['nope']\n    ROCM_ARCHES = []\n",  # a key the literal lacks
    "    CUDA_ARCHES = ['12.6; rm -rf /']\n    ROCM_ARCHES = []\n",  # a value that is no version
    "    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n",  # ROCM_ARCHES never set
])
def test_what_the_matrix_does_not_say_is_unknown_never_a_guess(body):
    with pytest.raises(ra.Unknown):
        builds(body)


def test_the_matrix_is_parsed_never_run(tmp_path):
    planted = tmp_path / "ran"
    text = HEAD + "open(%r, 'w').write('module')\n" % str(planted) + \
        "def initialize_globals(channel, os, build_python_only):\n" \
        "    __import__('os').system('touch %s')\n" % planted + \
        "    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    ROCM_ARCHES = []\n"
    assert sorted(rv.Matrix(text).builds) == ["cpu", "cu126", "cu130"]
    assert not planted.exists()
    for hostile in ("(" * 200000, "def initialize_globals(:\n", "\x00", "x = [" * 5000):
        with pytest.raises(ra.Unknown):
            rv.Matrix(hostile)


def _row(variants, unverified=None):
    row = {"version": "9.9", "variants": variants,
           "matrix_script": {"repo": "o/r", "commit": "0" * 40, "path": "m.py"}}
    if unverified:
        row.update(verified=False, unverified_fields=unverified)
    return row


def _refresh(row, force=False, body="    CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    if os == LINUX:\n"
                                    "        CUDA_ARCHES.append('12.9')\n    ROCM_ARCHES = []\n"):
    report = Report()
    text = HEAD + "def initialize_globals(channel, os, build_python_only):\n" + body
    rv.refresh_row(row, ra.Scripts("http://scripts", lambda url: text), "2026-12-01", force, report)
    return report


def test_a_derived_build_is_added_kept_or_reported_never_silently_dropped():
    row = _row({"cu126": {"cuda": "12.6", "arch_list": ["5.0"]}, "cu118": {"cuda": "11.8"}, "cpu": {}})
    report = _refresh(row)
    assert row["variants"]["cu130"] == {"cuda": "13.0"} and row["variants"]["cu129"] == {
        "cuda": "12.9", "platforms": {"windows_amd64": False}}
    assert row["variants"]["cu126"] == {"cuda": "12.6", "arch_list": ["5.0"]}  # the other columns stay
    assert row["variants"]["cu118"] == {"cuda": "11.8"}  # published outside the matrix: kept, and said
    assert report.notes == ["pytorch 9.9: variants.cu118 is not in the build matrix (kept)"]
    assert row["index_url"] == "https://download.pytorch.org/whl/{variant}"
    assert row["variants_source"] == rv.source_text(row["matrix_script"]) + "2026-12-01"
    assert rv.source_text(row["matrix_script"]).startswith("o/r m.py at %s: the builds of its 'test' channel" % (
        "0" * 40))
    # a hand-verified value that differs is a conflict, kept; unverified or --force, it is replaced
    hand = _row({"cu126": {"cuda": "12.6.3"}, "cpu": {}})
    hand["index_url"] = "https://example.org/whl/{variant}"
    report = _refresh(hand)
    assert hand["variants"]["cu126"]["cuda"] == "12.6.3" and hand["index_url"].startswith("https://example.org")
    assert len(report.conflicts) == 2 and all("hand-verified" in line for line in report.conflicts)
    unverified = _row({"cu126": {"cuda": "12.6.3"}, "cpu": {}}, ["variants.cu126.cuda"])
    _refresh(unverified)
    assert unverified["variants"]["cu126"]["cuda"] == "12.6"
    forced = _row({"cu126": {"cuda": "12.6.3"}, "cpu": {}})
    _refresh(forced, force=True)
    assert forced["variants"]["cu126"]["cuda"] == "12.6"


def test_an_unreadable_or_silent_matrix_changes_nothing_and_is_reported():
    def unreachable(url):
        raise OSError("no route")

    table = shipped()
    scripts = ra.Scripts("http://127.0.0.1:9", unreachable)
    report = rv.refresh_variants(table, scripts, "2026-12-01")
    assert table == shipped() and len(scripts.unread) == 14
    assert any("cannot read http://127.0.0.1:9/pytorch/test-infra/" in note for note in report.notes)
    row = _row({"cpu": {}})
    report = _refresh(row, body="    CUDA_ARCHES = fetch()\n    ROCM_ARCHES = []\n")
    assert row == _row({"cpu": {}}) and report.notes == [
        "pytorch 9.9: variants: an expression it does not follow: fetch()"]


def test_the_recording_keeps_only_what_the_tool_reads():
    text = HEAD + "import sys\nmod = sys.modules[__name__]\nPACKAGES = ['torch']\nRUNNER = 'linux.2xlarge'\n" \
        "def helper():\n    return 1\n" \
        "def initialize_globals(channel, os, build_python_only):\n    global CUDA_ARCHES\n" \
        "    CURRENT = RUNNER\n    mod.CUDA_ARCHES = CUDA_ARCHES_DICT[channel]\n    if os == LINUX:\n" \
        "        IMAGES = {a: 'img' for a in CUDA_ARCHES}\n        CUDA_ARCHES.append('12.9')\n" \
        "    ROCM_ARCHES = ROCM_ARCHES_DICT[channel]\n"
    kept = rv.recorded_matrix(text)
    for dropped in ("helper", "RUNNER", "IMAGES", "PACKAGES", "import sys", "global CUDA_ARCHES"):
        assert dropped not in kept
    assert "mod = sys.modules[__name__]" in kept and "CUDA_ARCHES.append('12.9')" in kept
    assert rv.recorded_matrix(kept) == kept  # stable when re-recorded
    full, cut = rv.Matrix(text), rv.Matrix(kept)
    assert (full.builds, full.windows_cuda, full.index_url) == (cut.builds, cut.windows_cuda, cut.index_url)


# --- the judgment: a build a platform lacks, or one the matrix shows there

def _box(system, wsl=None):
    inv = {"os": {"system": system, "id": "ubuntu" if system == "linux" else system, "version": "24.04",
                  "glibc": "2.39"},
           "cpu": {"arch": "x86_64", "flags": ["avx", "avx2"], "model": "test CPU"}, "python": {"version": "3.12.3"},
           "nvidia": {"status": "ok", "driver_version": "575.57.08", "cuda_driver_version": "12.9"},
           "gpus": [{"index": 0, "vendor": "nvidia", "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}],
           "frameworks": {}}
    if wsl:
        inv["os"]["wsl"] = wsl
    return inv


def test_a_build_windows_lacks_is_a_problem_there_and_fine_on_linux_and_wsl():
    assert queries.variant_platforms("pytorch", "2.11.0", "cu129") == {"windows_amd64": False,
                                                                        "linux_aarch64": True}
    assert queries.variant_platforms("pytorch", "2.11.0", "cpu") == {}
    build = compat.Build("pytorch", "2.11", "cu129", cuda="12.9")
    problem = "PyTorch 2.11 publishes no cu129 build for Windows x86_64"
    assert problem in compat.judge(_box("windows"), build).problems
    assert problem not in compat.judge(_box("linux"), build).problems
    assert problem not in compat.judge(_box("linux", wsl=2), build).problems


def test_an_aarch64_build_the_matrix_lists_is_known_and_one_it_does_not_stays_unknown():
    # a Grace Hopper box: before 2.11 PyPI's aarch64 wheel is CPU-only and the cuda_wheels entry says "unknown"
    grace = _box("linux")
    grace["cpu"] = {"arch": "aarch64", "flags": [], "model": "Neoverse-V2"}
    grace["gpus"][0].update(name="NVIDIA GH200 480GB", compute_capability="9.0")
    unknown = "whether PyTorch 2.7 publishes a CUDA build (%s) for Linux aarch64"
    listed = compat.judge(grace, compat.Build("pytorch", "2.7", "cu128", cuda="12.8"))
    assert not any(item.startswith(unknown % "cu128") for item in listed.unknowns)
    unlisted = compat.judge(grace, compat.Build("pytorch", "2.7", "cu126", cuda="12.6"))
    assert any(item.startswith(unknown % "cu126") for item in unlisted.unknowns)
    assert not any("publishes no" in problem for problem in unlisted.problems)


def test_the_planner_offers_the_cu129_build_on_linux_and_never_on_windows():
    linux, _ = select.choose_framework(_box("linux"), Request(("pytorch",)), "pytorch", "2.10")
    assert linux.build.variant == "cu129" and not linux.problems
    windows, _ = select.choose_framework(_box("windows"), Request(("pytorch",)), "pytorch", "2.10")
    assert windows.build.variant == "cu128"
