"""scripts/refresh-knowledge, its CUDA part: the CUDA, cuDNN and NCCL a release installs, from the nvidia-* Requires-Dist
of one Linux x86_64 wheel's METADATA (provision/knowledge/refresh_cuda.py), and the METADATA reader
(provision/knowledge/wheel_metadata.py: PEP 658 file, else HTTP range requests into the wheel)."""

import copy
import http.server
import io
import json
import os
import shutil
import threading
import zipfile

import pytest

from provision.knowledge import refresh_cuda as rc
from provision.knowledge import wheel_metadata as wm
from provision.knowledge.refresh import Report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")
DATA = os.path.join(ROOT, "tests", "data", "pypi")


def shipped():
    with open(TABLE, encoding="utf-8") as handle:
        return json.load(handle)


def rows(framework):
    return {row["version"]: row for row in shipped()["frameworks"][framework]["releases"]}


def test_the_shipped_table_has_what_the_recorded_metadata_says():
    """Hand-read from tests/data/pypi/metadata: torch 2.5.1 pins nvidia-cuda-runtime-cu12==12.4.127,
    nvidia-cudnn-cu12==9.1.0.70, nvidia-nccl-cu12==2.21.5; TF 2.14.1's and-cuda the cu11 wheels 11.8.89 / 8.7.0.84 /
    2.16.5; jax-cuda12-plugin[with-cuda] needs cuDNN >= 9.8 from 0.6.0 on (>= 9.1 in 0.4.31-0.5.3, >= 9.10.2 from
    0.11.2 on)."""
    torch = rows("pytorch")
    assert torch["2.5"]["variants"]["cu124"] == dict(torch["2.5"]["variants"]["cu124"], cuda="12.4",
                                                     cudnn="9.1.0.70", nccl="2.21.5")
    assert torch["2.15"]["variants"]["cu132"]["cuda"] == "13.2"  # cuda-toolkit[...]==13.2.2
    assert "nccl" not in torch["1.13"]["variants"]["cu117"] and "cuda_pins_source" not in torch["1.12"]
    tf = rows("tensorflow")
    assert (tf["2.14"]["cuda"], tf["2.14"]["cudnn"], tf["2.14"]["nccl"]) == ("11.8", "8.7", "2.16.5")
    assert (tf["2.21"]["cuda"], tf["2.21"]["cudnn"], tf["2.21"]["nccl"]) == ("12.5", "9.3", "2.27.7")  # floors
    assert "nccl" not in tf["2.13"]
    jax = rows("jax")
    assert jax["0.6.0"]["cuda_extra_requires"]["cuda12"]["cudnn"] == ">=9.8,<10.0"
    assert jax["0.5.3"]["cuda_extra_requires"]["cuda12"]["cudnn"] == ">=9.1,<10.0"
    assert jax["0.4.26"]["cuda_extra_requires"]["cuda12"] == {"cuda": ">=12.1", "cudnn": ">=8.9.2,<9.0",
                                                              "nccl": ">=2.18.1"}  # in jax's own extra then
    assert jax["0.10.2"]["cuda_extra_requires"]["cuda13"] == {"cuda": ">=13.0", "cudnn": ">=9.12.0,<10.0",
                                                              "nccl": ">=2.27.7"}
    assert "cuda_extra_requires" not in jax["0.4.21"]
    # jax-cuda12-plugin 0.11.2 raised its floor: nvidia-cudnn-cu12<10.0,>=9.10.2.21 (0.11.1: >=9.8)
    assert jax["0.11.1"]["cuda_extra_requires"]["cuda12"]["cudnn"] == ">=9.8,<10.0"
    assert jax["0.12.0.1"]["cuda_extra_requires"]["cuda12"]["cudnn"] == ">=9.10.2,<10.0"
    cuda12 = next(e for e in shipped()["frameworks"]["jax"]["extras"] if e["extra"] == "cuda12")
    assert cuda12["reference"]["compatible_with"]["cudnn"] == ">=9.10.2,<10.0"


def test_every_cuda_release_row_has_its_columns_and_a_source():
    for version, row in rows("pytorch").items():
        variant = (row.get("reference") or {}).get("pypi_default_linux_x86_64")
        if variant and "cudnn" in row["variants"][variant]:  # from 1.13 on: the NVIDIA wheels
            assert row["cuda_pins_source"].startswith("PyPI wheel METADATA"), version
    for version, row in rows("tensorflow").items():
        assert ("nccl" in row) == bool(row.get("and_cuda_extra")) == ("cuda_pins_source" in row), version
    for version, row in rows("jax").items():
        assert sorted(row.get("cuda_extra_requires") or {}) == sorted(row["cuda_extras"]), version


def test_wheel_versions_mean_what_nvidia_numbers_them():
    assert rc.meaning("cuda", "12.4.127") == "12.4" and rc.meaning("cudnn", "9.1.0.70") == "9.1.0"
    assert rc.meaning("nccl", "2.21.5") == "2.21.5"
    assert rc.component_of("nvidia-cudnn-cu12") == "cudnn" and rc.component_of("nvidia_cudnn_cu13") == "cudnn"
    assert rc.component_of("nvidia-cuda-runtime") == "cuda" and rc.component_of("cuda-toolkit") == "cuda"
    assert rc.component_of("nvidia-cuda-nvrtc-cu12") is None and rc.component_of("nvidia-nccl-cu11") == "nccl"
    pins = rc.pins_of(rc.requirements(
        "Requires-Dist: nvidia-cudnn-cu12<10.0,>=9.1.0.70; extra == 'x'\n", "x", "3.12"))
    assert rc.ranged("cudnn", pins["cudnn"][1]) == ">=9.1.0,<10.0"
    assert rc.floor(pins["cudnn"][1]) == "9.1.0.70" and rc.exact(pins["cudnn"][1]) is None


METADATA = """Metadata-Version: 2.1
Name: x
Requires-Dist: filelock
Requires-Dist: nvidia-cudnn-cu12 (==9.1.0.70) ; platform_system == "Linux" and platform_machine == "x86_64"
Requires-Dist: nvidia-nccl-cu12 (==2.21.5) ; platform_machine == "aarch64"
Requires-Dist: nvidia-cuda-runtime-cu12 ==12.5.82 ; extra == 'and-cuda'
Requires-Dist: not a requirement (
"""


def test_requirements_are_judged_for_linux_x86_64_and_one_extra():
    plain = [r.name for r in rc.requirements(METADATA, None, "3.12")]
    assert plain == ["filelock", "nvidia-cudnn-cu12"]  # not aarch64's, not the extra's, the broken line skipped
    assert [r.name for r in rc.requirements(METADATA, "and-cuda", "3.12")] == ["nvidia-cuda-runtime-cu12"]
    assert rc.requirements(METADATA, "and_cuda", "3.12")[0].name == "nvidia-cuda-runtime-cu12"  # normalized
    assert "not a requirement" not in rc.recorded_metadata(METADATA) and "filelock" not in rc.recorded_metadata(
        METADATA) and "nvidia-cudnn-cu12 (==9.1.0.70)" in rc.recorded_metadata(METADATA)


def _wheels(texts, releases):
    """A Wheels over fake documents: package -> {version: [filename]}; texts: filename -> METADATA."""
    documents = {package: {"releases": {version: [{"filename": name, "url": "/packages/" + name} for name in names]
                                        for version, names in versions.items()}}
                 for package, versions in releases.items()}

    def read(url):
        name = url.rsplit("/", 1)[-1]
        if name not in texts:
            raise OSError("HTTP Error 404: Not Found")
        return texts[name]
    return rc.Wheels(documents, "http://pypi.test/pypi", read)


TORCH = "torch-9.9.0-cp312-cp312-manylinux_2_28_x86_64.whl"
TORCH_META = ("Requires-Dist: nvidia-cuda-runtime-cu12==12.4.127; platform_system == 'Linux'\n"
              "Requires-Dist: nvidia-cudnn-cu12==9.1.0.70; platform_system == 'Linux'\n")


def _torch(row, force=False, text=TORCH_META):
    row = copy.deepcopy(row)
    wheels = _wheels({TORCH: text}, {"torch": {"9.9.0": [TORCH, "torch-9.9.0-cp312-none-macosx_11_0_arm64.whl"]}})
    report = Report()
    rc.torch_row(row, wheels, "2026-12-01", force, report)
    return row, report


BASE = {"version": "9.9", "pins": {"torch": "9.9.0"}, "reference": {"pypi_default_linux_x86_64": "cu124"},
        "variants": {"cu124": {"cuda": "12.4"}}}


def test_a_torch_value_is_written_kept_or_reported_never_silently_replaced():
    row, report = _torch(BASE)  # missing: written, with its source
    assert row["variants"]["cu124"] == {"cuda": "12.4", "cudnn": "9.1.0.70"} and not report.conflicts
    assert row["cuda_pins_source"].endswith("of %s: nvidia-cuda-runtime-cu12==12.4.127, nvidia-cudnn-cu12=="
                                            "9.1.0.70, read 2026-12-01" % TORCH)
    hand = copy.deepcopy(BASE)
    hand["variants"]["cu124"]["cudnn"] = "9.1.0.69"
    row, report = _torch(hand)  # hand-verified and different: kept, reported
    assert row["variants"]["cu124"]["cudnn"] == "9.1.0.69"
    assert report.conflicts == ['pytorch 9.9: variants.cu124.cudnn is "9.1.0.69" (hand-verified), the wheels\' '
                                'Requires-Dist say "9.1.0.70"']
    assert _torch(hand, force=True)[0]["variants"]["cu124"]["cudnn"] == "9.1.0.70"
    row, report = _torch(dict(hand, verified=False, unverified_fields=["variants.cu124.cudnn"]))
    assert row["variants"]["cu124"]["cudnn"] == "9.1.0.70" and not report.conflicts  # an unverified value follows
    cited = row["cuda_pins_source"].replace("2026-12-01", "2026-11-01")
    same, report = _torch(dict(row, cuda_pins_source=cited))
    assert same["cuda_pins_source"] == cited and not report.changes  # nothing changed: the source and its date stay
    other, report = _torch(dict(row, cuda_pins_source=cited.replace("torch-9.9.0", "torch-9.8.0")))
    assert other["cuda_pins_source"] == row["cuda_pins_source"]  # one naming another wheel is rewritten


def test_a_torch_wheel_of_another_cuda_than_the_default_variant_is_a_conflict_and_one_without_pins_is_skipped():
    row, report = _torch(dict(BASE, reference={"pypi_default_linux_x86_64": "cu121"}))
    assert "pins CUDA 12.4, reference.pypi_default_linux_x86_64 says cu121" in report.conflicts[0]
    assert "cudnn" not in row["variants"]["cu124"]
    row, report = _torch(BASE, text="Requires-Dist: filelock\n")  # torch < 1.13 bundles its CUDA
    assert row == BASE and not report.changes and not report.conflicts
    row, report = _torch(BASE, text="Requires-Dist: nvidia-cudnn-cu12>=9.1; platform_system == 'Linux'\n")
    assert "cudnn" not in row["variants"]["cu124"] and "not a pin" in report.notes[0]


TF = "tensorflow-9.9.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def test_tensorflow_takes_the_and_cuda_floors_as_major_minor():
    text = ("Requires-Dist: nvidia-cuda-runtime-cu12<13.0,>=12.5.82; extra == 'and-cuda'\n"
            "Requires-Dist: nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == 'and-cuda'\n"
            "Requires-Dist: nvidia-nccl-cu12<3.0,>=2.27.7; extra == 'and-cuda'\n")
    wheels = _wheels({TF: text}, {"tensorflow": {"9.9.0": [TF]}})
    row = {"version": "9.9", "pins": {"tensorflow": "9.9.0"}, "and_cuda_extra": True, "cuda": "12.5"}
    report = Report()
    rc.tensorflow_row(row, wheels, "2026-12-01", False, report)
    assert (row["cuda"], row["cudnn"], row["nccl"]) == ("12.5", "9.3", "2.27.7") and not report.conflicts
    old = {"version": "9.9", "pins": {"tensorflow": "9.9.0"}, "and_cuda_extra": False}
    rc.tensorflow_row(old, wheels, "2026-12-01", False, report)  # no and-cuda extra: not read
    assert "cudnn" not in old


JAX, PLUGIN = "jax-9.9.1-py3-none-any.whl", "jax_cuda12_plugin-9.9.0-cp312-cp312-manylinux_2_27_x86_64.whl"


def test_jax_follows_its_extra_to_the_newest_plugin_the_range_allows():
    texts = {JAX: "Requires-Dist: jax-cuda12-plugin[with-cuda]<=9.9.1,>=9.9.0; extra == 'cuda12'\n"
                  "Requires-Dist: nvidia-nccl-cu12>=2.18.1; extra == 'cuda12'\n",
             PLUGIN: "Requires-Dist: nvidia-cudnn-cu12<10.0,>=9.8; sys_platform == 'linux' and extra == 'with-cuda'\n"
                     "Requires-Dist: nvidia-cuda-runtime-cu12>=12.1.105; extra == 'with-cuda'\n"}
    releases = {"jax": {"9.9.1": [JAX]}, "jax-cuda12-plugin": {"9.8.0": ["jax_cuda12_plugin-9.8.0-cp312-cp312-"
                                                                         "manylinux_2_27_x86_64.whl"],
                                                               "9.9.0": [PLUGIN], "9.10.0": ["x-9.10.0-py3-none-"
                                                                                             "any.whl"]}}
    row = {"version": "9.9.1", "pins": {"jax": "9.9.1", "jaxlib": "9.9.0"}, "cuda_extras": ["cuda12"]}
    report = Report()
    rc.jax_row(row, _wheels(texts, releases), "2026-12-01", False, report)
    assert row["cuda_extra_requires"] == {"cuda12": {"cuda": ">=12.1", "cudnn": ">=9.8,<10.0", "nccl": ">=2.18.1"}}
    assert "of %s, %s:" % (JAX, PLUGIN) in row["cuda_pins_source"]
    unread = {"version": "9.9.1", "pins": {"jax": "9.9.1"}, "cuda_extras": ["cuda12"]}
    wheels = _wheels({JAX: texts[JAX]}, releases)  # the plugin's METADATA cannot be read: the row is left alone
    report = Report()
    rc.jax_row(unread, wheels, "2026-12-01", False, report)
    assert "cuda_extra_requires" not in unread and "jax-cuda12-plugin 9.9.0" in wheels.unread[0]


def _wheel_zip(metadata=b"Metadata-Version: 2.1\nName: x\nRequires-Dist: nvidia-nccl-cu12==2.21.5\n", filler=0):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x/__init__.py", os.urandom(filler))
        archive.writestr("x-1.0.dist-info/METADATA", metadata)
        for index in range(50):
            archive.writestr("x/module_%d.py" % index, b"pass\n")
    return buffer.getvalue()


class _Files(http.server.BaseHTTPRequestHandler):
    files = {}  # path -> bytes; '.metadata' paths absent unless served
    ranges = True

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        header = self.headers.get("Range")
        if header and self.ranges:
            first, last = header[len("bytes="):].split("-")
            start = len(body) - int(last) if first == "" else int(first)
            end = len(body) - 1 if first == "" or last == "" else min(int(last), len(body) - 1)
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (max(start, 0), end, len(body)))
            body = body[max(start, 0):end + 1]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def files():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Files.files, _Files.ranges = {}, True
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_metadata_is_read_beside_the_wheel_else_from_its_zip_by_ranges_within_a_budget(files):
    big = _wheel_zip(filler=2 * 2**20)  # 2 MiB of incompressible data before the METADATA member
    _Files.files["/x-1.0-py3-none-any.whl"] = big
    text = wm.read(files + "/x-1.0-py3-none-any.whl")  # no .metadata: ranges
    assert "nvidia-nccl-cu12==2.21.5" in text
    assert wm.from_zip(files + "/x-1.0-py3-none-any.whl", 10.0, budget=1024 * 1024 // 2)  # never the whole wheel
    _Files.files["/x-1.0-py3-none-any.whl.metadata"] = b"Name: x\nRequires-Dist: nvidia-cudnn-cu12==9.1.0.70\n"
    assert "nvidia-cudnn-cu12" in wm.read(files + "/x-1.0-py3-none-any.whl")  # PEP 658 first
    with pytest.raises(ValueError, match="more than"):
        wm.from_zip(files + "/x-1.0-py3-none-any.whl", 10.0, budget=1000)


def test_a_broken_or_unranged_wheel_is_a_value_error_not_a_crash(files):
    _Files.files["/bad.whl"] = b"not a zip at all" * 100
    with pytest.raises(ValueError):
        wm.read(files + "/bad.whl")
    _Files.files["/none.whl"] = _wheel_zip().replace(b"dist-info/METADATA", b"dist-info/METADATX")
    with pytest.raises(ValueError, match="0 .dist-info/METADATA"):
        wm.read(files + "/none.whl")
    _Files.files["/x.whl"], _Files.ranges = _wheel_zip(), False
    with pytest.raises(ValueError, match="range request"):
        wm.read(files + "/x.whl")
    with pytest.raises(OSError):
        wm.read(files + "/missing.whl")


def test_an_unreadable_metadata_fails_the_check_and_changes_nothing(tmp_path, capsys):
    """A recording without one wheel's METADATA: --check fails, the row keeps its values, the report names it."""
    import test_refresh_knowledge as trk  # its loopback server, over a copy of the recordings less one file

    data = tmp_path / "pypi"
    shutil.copytree(DATA, data)
    os.remove(data / "metadata" / "torch-2.5.1-cp310-cp310-manylinux1_x86_64.whl.metadata")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), trk._Recorded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    table = tmp_path / "frameworks.json"
    shutil.copy(TABLE, table)
    saved, trk.DATA = trk.DATA, str(data)
    try:
        code = trk.rk.main(["--pypi-url", "http://127.0.0.1:%d/pypi" % server.server_address[1], "--table",
                            str(table), "--check"])
    finally:
        trk.DATA = saved
        server.shutdown()
        server.server_close()
    out = capsys.readouterr().out
    assert code == 1 and "METADATA of torch 2.5.1 (torch-2.5.1-cp310-cp310-manylinux1_x86_64.whl)" in out
    assert table.read_text(encoding="utf-8") == open(TABLE, encoding="utf-8").read()
