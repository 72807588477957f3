"""Knowledge tables cuda / frameworks / distributions: shape, sources, facts checked against the cited sources,
and the queries over them on good and bad input."""

import datetime
import json
import os
import re
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from provision import compat, planner
from provision.inventory import nvidia
from provision.knowledge import load
from provision.knowledge import distributions, queries as q
from provision.planner.model import AptRepo, DnfRepo, Request

TABLES = ("cuda", "frameworks", "distributions")
DRIVER = re.compile(r"^\d{3}(\.\d+){0,2}$")


def _rows():
    """(table, row) for every row that must cite a source."""
    cuda = load("cuda")
    for row in cuda["toolkits"] + cuda["minor_version_compatibility"]:
        yield "cuda", row
    frameworks = load("frameworks")["frameworks"]
    for name, entry in frameworks.items():
        yield "frameworks", entry
        legacy = (entry.get("reference") or {}).get("legacy_extras", [])
        for row in entry.get("releases", []) + entry.get("extras", []) + legacy:
            yield "frameworks:" + name, row
        for key in ("pip", "and_cuda_extra"):
            if key in entry:
                yield "frameworks:%s:%s" % (name, key), entry[key]
    yield "frameworks:keras", load("frameworks")["keras"]
    for row in load("distributions")["distributions"]:
        yield "distributions", row


@pytest.mark.parametrize("name", TABLES)
def test_table_header(name):
    table = load(name)
    assert table["table"] == name
    assert isinstance(table["version"], int)
    assert table["source"] and table["description"]


def test_every_row_cites_a_source_and_flags_what_is_unverified():
    rows = list(_rows())
    assert len(rows) > 60
    for table, row in rows:
        assert isinstance(row.get("source"), str) and len(row["source"]) > 10, (table, row)
        assert row.get("verified", True) in (True, False), (table, row)
        if row.get("unverified_fields"):
            assert row["verified"] is False, (table, row)


def test_a_toolkit_needs_the_driver_of_its_release_labelled_ga(tmp_path, monkeypatch):
    # '12.4' is the GA release (Table 3: 550.54.14), whatever the order of the table's lines.
    table = load("cuda")
    reordered = dict(table, toolkits=[dict(row, releases=row["releases"][::-1]) for row in table["toolkits"]])
    (tmp_path / "cuda.json").write_text(json.dumps(reordered), encoding="utf-8")
    monkeypatch.setenv("DLWS_KNOWLEDGE_DIR", str(tmp_path))
    load.cache_clear()
    try:
        assert q.min_driver_for_cuda("12.4") == "550.54.14" and q.min_driver_for_cuda("12.4.1") == "550.54.15"
        assert q.max_cuda_for_driver("550.54.14") == "12.4"
    finally:
        load.cache_clear()


def test_cuda_shape():
    toolkits = load("cuda")["toolkits"]
    versions = [row["version"] for row in toolkits]
    expected = ["9.0", "9.1", "9.2", "10.0", "10.1", "10.2"] + ["11.%d" % i for i in range(9)] + \
        ["12.%d" % i for i in range(7)] + ["12.8", "12.9", "13.0"]
    assert versions[: len(expected)] == expected  # every minor 9.0 .. 13.0 (12.7 was never released)
    assert versions == sorted(versions, key=Version)
    for row in toolkits:
        assert row["releases"][0]["label"] == "GA" and [rel["label"] for rel in row["releases"]].count("GA") == 1
        for release in row["releases"]:
            assert release["release"].startswith(row["version"] + ".")
            assert DRIVER.match(release["linux_x86_64"]), release
            assert release["windows_x86_64"] is None or DRIVER.match(release["windows_x86_64"]), release
        assert re.match(r"^\d+\.\d$", row["cc_min"])
        assert row["cc_max"] is None or re.match(r"^\d+\.\d$", row["cc_max"])


def test_cuda_facts_from_table_3():
    # Table 3 of the CUDA 13.2 Update 2 release notes.
    assert q.min_driver_for_cuda("12.4") == "550.54.14"
    assert q.min_driver_for_cuda("12.4", "windows") == "551.61"
    assert q.min_driver_for_cuda("12.4.1") == "550.54.15"
    assert q.min_driver_for_cuda("11.8") == "520.61.05"
    assert q.min_driver_for_cuda("11.8", "windows") == "520.06"
    assert q.min_driver_for_cuda("12.8") == "570.26"
    assert q.min_driver_for_cuda("13.0") == "580.65.06"
    assert q.min_driver_for_cuda("13.0", "windows") is None  # Table 3 says N/A
    assert q.min_driver_for_cuda("12.7") is None  # never released


def test_cuda_minor_version_compatibility():
    assert q.min_driver_for_cuda("12.4", compat=True) == "525.60.13"
    assert q.minor_compat_floor("12.9", "windows") == "528.33"
    assert q.minor_compat_floor("11.2") == "450.80.02"
    assert q.minor_compat_floor("13.1") == "580"
    assert q.minor_compat_floor("10.2") == "440.33"  # before CUDA 11: the toolkit's own driver, no lower floor


def test_max_cuda_for_driver():
    assert q.max_cuda_for_driver("550.54.14") == "12.4"
    assert q.max_cuda_for_driver("550.54.13") == "12.3"
    assert q.max_cuda_for_driver("535.104.05") == "12.2"
    assert q.max_cuda_for_driver("580.65.06") == "13.0"
    assert q.max_cuda_for_driver("470.82.01") == "11.4"
    assert q.max_cuda_for_driver("576.02", "windows") == "12.9"
    assert q.max_cuda_for_driver("440.33") == "10.2"
    assert q.max_cuda_for_driver("410.48") == "10.0"
    assert q.max_cuda_for_driver("384.80") is None  # older than every toolkit in the table (9.0: 384.81)


def test_cuda_compute_capabilities():
    assert q.cuda_supports_cc("11.0", "3.0") is False  # sm_30 dropped in 11.0
    assert q.cuda_supports_cc("11.8", "3.7") is True
    assert q.cuda_supports_cc("12.0", "3.7") is False  # Kepler dropped in 12.0
    assert q.cuda_supports_cc("12.9", "6.1") is True
    assert q.cuda_supports_cc("13.0", "6.1") is False  # Maxwell/Pascal/Volta dropped in 13.0
    assert q.cuda_supports_cc("13.0", (7, 0)) is False
    assert q.cuda_supports_cc("13.0", "sm_75") is True
    assert q.cuda_supports_cc("11.0", 8.6) is False  # sm_86 arrived in 11.1
    assert q.cuda_supports_cc("11.1", 8.6) is True
    assert q.cuda_supports_cc("12.6", "12.0") is False  # Blackwell needs 12.8
    assert q.cuda_supports_cc("12.8", "sm_120") is True
    assert q.cuda_supports_cc("13.2", "12.0") is None  # newest architecture of 13.2 not in the table


def test_nvml_cuda_version():
    # nvml.h: NVML_CUDA_DRIVER_VERSION_MAJOR(v) ((v)/1000), NVML_CUDA_DRIVER_VERSION_MINOR(v) (((v)%1000)/10)
    assert nvidia.cuda_version_string(12040) == "12.4"
    assert nvidia.cuda_version_string(11080) == "11.8"
    assert nvidia.cuda_version_string(13000) == "13.0"
    for bad in (0, -1, "12.4", None, True, 12.4):
        assert nvidia.cuda_version_string(bad) is None


def test_framework_names():
    assert q.normalize_framework("torch") == "pytorch"
    assert q.normalize_framework(" PyTorch ") == "pytorch"
    assert q.normalize_framework("tf") == "tensorflow"
    assert q.normalize_framework("jax") == "jax"
    assert q.normalize_framework("MXNet") == "mxnet"
    assert q.normalize_framework("caffe") is None


def test_framework_shape():
    frameworks = load("frameworks")["frameworks"]
    torch_versions = [row["version"] for row in frameworks["pytorch"]["releases"]]
    # Every minor in order and none skipped, from 1.0 (torch) and 2.12 (TensorFlow) to the newest row.
    assert torch_versions == ["1.%d" % i for i in range(14)] + ["2.%d" % i for i in range(len(torch_versions) - 14)]
    tf_versions = [row["version"] for row in frameworks["tensorflow"]["releases"]]
    assert tf_versions == ["1.13", "1.14", "1.15"] + ["2.%d" % i for i in range(len(tf_versions) - 3)]
    for row in frameworks["tensorflow"]["releases"]:
        pin = row["pins"]["tensorflow"]
        assert set(row["pins"]) == {"tensorflow"} and _minor(pin) == row["version"]
        assert re.match(r"^\d+\.\d$", row["cuda"]) and re.match(r"^\d+\.\d$", row["cudnn"])
        assert set(row["reference"]) == {"compiler", "bazel"} and isinstance(row["and_cuda_extra"], bool)
        assert row["source"] and (row.get("pins_source") or not row["verified"])
        assert row["verified"] is not bool(row.get("unverified_fields"))
        # Before 2.1 the pip package tensorflow is CPU-only: the GPU build is tensorflow-gpu, at the same version.
        gpu_package = Version(row["version"]) < Version("2.1")
        assert row.get("variant_pins") == ({"cuda": {"tensorflow-gpu": pin}} if gpu_package else None)
    for row in frameworks["pytorch"]["releases"]:
        assert "cpu" in row["variants"]
        assert row.get("reference", {}).get("pypi_default_linux_x86_64", "cpu") in row["variants"]
        for name, info in row["variants"].items():
            if name.startswith("cu"):
                assert name == "cu" + info["cuda"].replace(".", "")
                # an arch list no source gave is absent and marked, so that its kernels are "cannot judge"
                if "arch_list" not in info:
                    assert "variants.%s.arch_list" % name in row["unverified_fields"], (row["version"], name)
                    continue
                assert all(re.match(r"^\d+\.\d$", arch) for arch in info["arch_list"])
            elif name.startswith("rocm"):
                assert name == "rocm" + info["rocm"]
    for alias, name in load("frameworks")["aliases"].items():
        assert name in frameworks, alias


def test_torch_facts():
    # RELEASE.md release compatibility matrix and previous-versions.md.
    assert _cuda_builds("2.1") == ["cu118", "cu121"]
    assert _cuda_builds("2.1.2+cu121") == ["cu118", "cu121"]
    # pytorch/test-infra's release/2.9 matrix adds CUDA 12.9 to the release's Linux builds (not Windows')
    assert _cuda_builds("2.9.0") == ["cu126", "cu128", "cu129", "cu130"]
    assert q.variant_platforms("torch", "2.9.0", "cu129")["windows_amd64"] is False
    assert q.torch_release("2.0.1")["reference"]["pypi_default_linux_x86_64"] == "cu117"
    assert _cuda_builds("2.10") == ["cu126", "cu128", "cu129", "cu130"]
    assert q.torch_release("2.1")["variants"]["cu121"]["cudnn"] == "8.9.2.26"
    assert q.torch_arch_list("2.0", "cu118") == ["3.7", "5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"]
    assert q.torch_arch_list("2.0", "cpu") is None
    assert q.python_supported("torch", "2.9", "3.9") is False
    assert q.python_supported("torch", "2.9", "3.14") is True
    assert q.python_supported("torch", "2.5", "3.13") is True  # experimental wheels exist


def _cuda_builds(release):
    """The CUDA variants of a torch release, as the judgment sees them."""
    return [build.variant for build in compat.builds("pytorch", release) if build.cuda]


def test_torch_kernels_for_gpu():
    # 2.8 dropped Maxwell/Pascal from the CUDA 12.8 build and kept them in 12.6.
    assert q.torch_variant_supports_cc("2.8", "cu128", "6.1") is False
    assert q.torch_variant_supports_cc("2.8", "cu126", "6.1") is True
    assert q.torch_variant_supports_cc("2.8", "cu128", "8.9") is True  # sm_80 SASS runs on 8.9
    assert q.torch_variant_supports_cc("2.5", "cu124", "12.0") is False  # the RTX 50 series case
    assert q.torch_variant_supports_cc("2.9", "cu130", "12.1") is True
    assert q.torch_variant_supports_cc("2.9", "cu999", "8.0") is None


def test_tensorflow_facts():
    # tensorflow.org/install/source#gpu tested build configurations.
    release = q.framework_release("tensorflow", "2.15.1")
    assert (release["cuda"], release["cudnn"]) == ("12.2", "8.9")
    assert q.framework_release("tf", "2.12")["cuda"] == "11.8"
    assert q.framework_release("tf", "2.18")["cudnn"] == "9.3"
    assert q.python_supported("tensorflow", "2.21", "3.9") is False  # 2.21.0: Requires-Python >=3.10
    assert q.python_supported("tensorflow", "2.20", "3.13") is True
    assert q.python_supported("tensorflow", "2.16", "3.12") is True
    assert q.python_supported("tensorflow", "2.13", "3.12") is False
    assert q.needs_avx("tf", "2.15.1") and q.needs_avx("tensorflow", "1.6") and not q.needs_avx("tf", "1.5")
    assert q.needs_avx("tensorflow", "garbage") and not q.needs_avx("torch", "2.4") and not q.needs_avx(None, "2")
    info = load("frameworks")["frameworks"]["tensorflow"]
    last_windows_gpu = info["reference"]["windows_native_gpu"]["last_version"]
    assert last_windows_gpu == "2.10"
    for row in info["releases"]:  # native-Windows CUDA wheels up to 2.10, none after
        native = Version(row["version"]) <= Version(last_windows_gpu)
        assert q.cuda_wheels("tensorflow", row["version"], "windows_amd64") == ("yes" if native else "none")


def test_jax_and_mxnet():
    extras = {row["extra"]: row for row in load("frameworks")["frameworks"]["jax"]["extras"]}
    assert q.minor_compat_floor("12.3") == "525.60.13"  # JAX's cuda12 driver floor is CUDA 12's, from the cuda table
    assert extras["cuda12"]["pip"] == "jax[cuda12]"
    assert "cuda13" in extras
    assert q.retirement("mxnet-cu112") == {"last_release": "1.9.1",
                                           "attic": "https://attic.apache.org/projects/mxnet.html"}
    assert q.retirement("torch") is None and q.retirement("gluon") is None
    notes = compat.judge({"python": {"version": "3.8.10"}}, compat.Build("mxnet", "1.9", "cpu")).notes
    assert notes == ["MXNet is retired (Apache Attic): 1.9.1 is its last release, for Python <= 3.8"]


def test_distribution_facts():
    assert q.distribution_eol("centos", "7") == datetime.date(2024, 6, 30)
    assert q.distribution_eol("rhel", "9.4") == datetime.date(2032, 5, 31)
    # "May 2027" in Canonical's table of releases (ubuntu.com/security/esm, revision of 2026-07-01)
    assert q.distribution_eol("ubuntu", "22.04") == datetime.date(2027, 5, 1)  # month only: its first day
    assert q.distribution("fedora", "41")["package_manager"] == "dnf"
    assert q.distribution_eol("fedora", "41") is None
    assert _cuda_repo("ubuntu", "22.04") == (
        "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/")
    assert _cuda_repo("amzn", "2023").endswith("/amzn2023/x86_64/")
    assert _cuda_repo("debian", "12").endswith("/debian12/x86_64/")
    assert _cuda_repo("amzn", "2") is None  # Amazon Linux 2: yum, which dlws does not drive
    assert q.distribution("gentoo", "2.15") is None


def _cuda_repo(id, version):
    """Where the setup planner adds NVIDIA's repository from, for a driverless x86_64 Turing box of that release."""
    inv = {"os": {"system": "linux", "id": id, "version": version}, "cpu": {"arch": "x86_64"},
           "python": {"version": "3.11.4"}, "nvidia": {"status": "no-driver"},
           "gpus": [{"index": 0, "vendor": "nvidia", "name": "Tesla T4", "compute_capability": "7.5"}]}
    plan = planner.plan(inv, Request(("pytorch",)))
    for action in [a for step in plan.steps if step.id == "nvidia-repo" for a in step.actions]:
        if isinstance(action, AptRepo):
            return action.line.split()[-2]  # deb [signed-by=...] URL /
        if isinstance(action, DnfRepo):
            return action.baseurl + "/"
    return None


def test_distribution_shape():
    managers = {"apt", "dnf", "yum", "zypper"}
    seen = set()
    for row in load("distributions")["distributions"]:
        key = (row["id"], row["version"])
        assert key not in seen
        seen.add(key)
        assert row["package_manager"] in managers
        assert row["eol"] is None or re.match(r"^\d{4}-\d{2}(-\d{2})?$", row["eol"])
        assert row["eol"] is None or distributions._date(row["eol"]) is not None
        assert row["cuda_repo"] is None or re.match(r"^[a-z]+\d+$", row["cuda_repo"])


def test_each_apt_key_names_an_apt_folder_and_is_the_key_its_file_names():
    """install.json's cuda_repo.apt_keys: a folder listed is the cuda_repo of an apt distribution (a typo would
    silently fall back to the default key), and NVIDIA names a key file by the last 8 digits of its fingerprint."""
    apt_folders = {row["cuda_repo"] for row in load("distributions")["distributions"]
                   if row["package_manager"] == "apt" and row["cuda_repo"]}
    keys = load("install")["cuda_repo"]["apt_keys"]
    assert set(keys) - {"default"} <= apt_folders and "debian13" in keys
    for folder, key in keys.items():
        assert key["key_fingerprint"].endswith(key["key_file"][:-len(".pub")].upper()), folder


# --- pins (checked against the published wheels' metadata in tests/pypi_framework_metadata.json) -------------------

PYPI = json.load(open(os.path.join(os.path.dirname(__file__), "pypi_framework_metadata.json"), encoding="utf-8"))


def _published(spec):
    """The recorded PyPI metadata of 'name==version' (KeyError when it was never recorded)."""
    return PYPI["packages"][spec]


def _on_index(name, version):
    return version in [v.strip() for v in PYPI["indexes"][name].split(",")]


def _pinned(spec, dependency):
    """The exact version a wheel's Requires-Dist pins dependency to (outside extras)."""
    for text in _published(spec)["requires_dist"]:
        req = Requirement(text)
        if req.name == dependency and req.marker is None:
            (only,) = list(req.specifier)
            return only.version
    return None


def test_torch_pins_facts():
    # previous-versions.md: 'pip install torch==2.4.1 torchvision==0.19.1 torchaudio==2.4.1 --index-url .../cu121'
    assert q.framework_pins("pytorch", "2.4", "cu121") == {"torch": "2.4.1", "torchvision": "0.19.1", "torchaudio": "2.4.1"}
    assert q.framework_pins("torch", "2.0.1", "cu117") == {"torch": "2.0.1", "torchvision": "0.15.2", "torchaudio": "2.0.2"}
    assert q.framework_pins("torch", "2.3", "rocm6.0") == {"torch": "2.3.1", "torchvision": "0.18.1", "torchaudio": "2.3.1"}
    assert q.framework_pins("torch", "2.10", "cu130")["torchvision"] == "0.25.0"
    assert q.framework_pins("torch", "2.2", "rocm5.6")["torch"] == "2.2.0"  # the rocm5.6 index stops at 2.2.0
    assert q.framework_pins("torch", "2.2", "rocm5.7")["torch"] == "2.2.2"
    assert q.framework_pins("torch", "2.9", "cu118") == {}  # 2.9 has no CUDA 11.8 build
    assert q.pip_index_url("torch", "2.6.0", "cu126") == "https://download.pytorch.org/whl/cu126"
    assert q.pip_index_url("torch", "2.9", "cpu") == "https://download.pytorch.org/whl/cpu"
    assert q.pip_index_url("torch", "2.9", "cpu", system="darwin") is None  # macOS wheels come from PyPI
    assert q.pip_index_url("torch", "2.9", "cu118") is None
    assert q.pip_requirements("torch", "2.5", "rocm6.1") == ["torch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1"]


def test_torch_pins_match_published_metadata():
    for row in load("frameworks")["frameworks"]["pytorch"]["releases"]:
        if not Version("2.0") <= Version(row["version"]) <= Version("2.10"):
            continue  # the evidence file covers 2.0-2.10; 1.x and 2.11+ rows cite their own metadata reads
        pins = row["pins"]
        assert _minor(pins["torch"]) == row["version"] and _minor(pins["torchaudio"]) == row["version"]
        # torchvision 0.(15+m) goes with torch 2.m, and each wheel pins its torch exactly.
        assert _minor(pins["torchvision"]) == "0.%d" % (15 + Version(row["version"]).minor)
        assert _pinned("torchvision==" + pins["torchvision"], "torch") == pins["torch"]
        assert _pinned("torchaudio==" + pins["torchaudio"], "torch") == pins["torch"]
        assert all(_on_index(name, version) for name, version in pins.items())
        # The newest patch: no later torch of this minor on PyPI.
        later = [v for v in PYPI["indexes"]["torch"].split(", ") if _minor(v) == row["version"]]
        assert max(later, key=Version) == pins["torch"]
        # The PyPI wheel is the CUDA build the row names: its nvidia-cuda-runtime pin gives the CUDA minor.
        runtime = next(r for r in _published("torch==" + pins["torch"])["requires_dist"] if "cuda-runtime" in r)
        cuda = Requirement(runtime).specifier
        default = row["reference"]["pypi_default_linux_x86_64"]
        assert "cu" + "".join(str(next(iter(cuda)).version).split(".")[:2]) == default
        # previous-versions.md's line: pip install torch==X torchvision==Y torchaudio==Z --index-url .../whl/<variant>
        assert q.pip_requirements("pytorch", row["version"], default) == ["%s==%s" % item for item in pins.items()]
        assert q.pip_index_url("pytorch", row["version"], default) == "https://download.pytorch.org/whl/" + default
        for variant, override in (row.get("variant_pins") or {}).items():
            assert variant in row["variants"] and set(override) == set(pins)


def test_tensorflow_pins():
    assert q.framework_pins("tf", "2.16", "cuda") == {"tensorflow": "2.16.2"}
    assert q.framework_pins("tensorflow", "2.12.0", "cpu") == {"tensorflow": "2.12.1"}
    assert q.pip_requirements("tf", "2.13", "cuda") == ["tensorflow==2.13.1"]  # and-cuda starts at 2.14
    assert q.pip_requirements("tf", "2.14", "cuda") == ["tensorflow[and-cuda]==2.14.1"]
    assert q.pip_requirements("tf", "2.14", "cpu") == ["tensorflow==2.14.1"]
    assert q.pip_index_url("tf", "2.14", "cuda") is None  # PyPI
    assert q.framework_pins("tf", "2.14", "rocm6.1") == {}
    for row in load("frameworks")["frameworks"]["tensorflow"]["releases"]:
        if Version(row["version"]) < Version("2.12"):
            continue  # the evidence file covers 2.12 on; older rows: tests/test_tensorflow_old.py
        pin = row["pins"]["tensorflow"]
        meta = _published("tensorflow==" + pin)
        assert _minor(pin) == row["version"]
        assert max((v for v in PYPI["indexes"]["tensorflow"].split(", ") if _minor(v) == row["version"]), key=Version) == pin
        assert ("and-cuda" in meta["provides_extra"]) is row["and_cuda_extra"] is (Version(row["version"]) >= Version("2.14"))
        assert meta["requires_python"] == ">=" + row["python"]["min"]
        assert max(meta["python_classifiers"], key=Version) == row["python"]["max"]
    assert q.pip_requirements("tf", "2.14", "cuda") == ["tensorflow[and-cuda]==2.14.1"]
    assert q.pip_requirements("tf", "2.13", "cuda") == ["tensorflow==2.13.1"]


def test_jax_releases_match_pypi():
    releases = compat.releases("jax")
    assert releases[0] == max(PYPI["indexes"]["jax"].split(", "), key=Version)  # the newest recorded on PyPI
    assert releases == sorted(releases, key=Version, reverse=True)
    assert {"0.4.%d" % i for i in range(20, 39) if i != 32} <= set(releases)  # jaxlib 0.4.32 was yanked
    assert {"0.5.0", "0.5.3", "0.6.2", "0.7.2", "0.8.3", "0.9.2", "0.10.1"} <= set(releases)
    assert set(releases) == set(PYPI["indexes"]["jax"].split(", "))
    for version in releases:
        row = q.framework_release("jax", version)
        meta = _published("jax==" + version)
        assert row["version"] == version and row["pins"]["jax"] == version
        assert _on_index("jaxlib", row["pins"]["jaxlib"]) and Version(row["pins"]["jaxlib"]) <= Version(version)
        assert meta["requires_python"].replace(" ", "") == ">=" + row["python"]["min"]
        assert max(meta["python_classifiers"], key=Version) == row["python"]["max"]
        assert set(row["cuda_extras"]) <= set(meta["provides_extra"])
        for extra in row["cuda_extras"]:
            assert _on_index("jax-%s-plugin" % extra, row["pins"]["jaxlib"])


def test_jax_facts():
    # jax-ml/jax CHANGELOG.md: 0.4.31 'The minimum Python version is now 3.10'; 0.4.37 'Only jax was released'.
    assert q.python_supported("jax", "0.4.30", "3.9") is True
    assert q.python_supported("jax", "0.4.31", "3.9") is False
    assert q.python_supported("jax", "0.7.0", "3.10") is False
    assert q.python_supported("jax", "0.10.2", "3.14") is True
    assert q.framework_pins("jax", "0.4.37", "cpu") == {"jax": "0.4.37", "jaxlib": "0.4.36"}
    assert q.framework_release("jax", "0.9.0.1")["version"] == "0.9.0.1"
    assert q.framework_release("jax", "0.4.2") is None
    assert q.jax_cuda_extras("0.4.21") == []  # CUDA jaxlibs only from Google's find-links page
    assert q.jax_cuda_extras("0.4.22") == ["cuda12"]
    assert q.jax_cuda_extras("0.7.1") == ["cuda12"]  # declares cuda13, but jax-cuda13-plugin starts at 0.7.2
    assert q.jax_cuda_extras("0.7.2") == ["cuda12", "cuda13"]
    assert q.pip_requirements("jax", "0.10.2", "cuda13") == ["jax[cuda13]==0.10.2", "jaxlib==0.10.2"]
    assert q.pip_requirements("jax", "0.4.30", "cpu") == ["jax==0.4.30", "jaxlib==0.4.30"]
    assert q.pip_requirements("jax", "0.6.2", "cuda13") == []
    assert q.pip_index_url("jax", "0.10.2", "cuda12") is None
    jax = load("frameworks")["frameworks"]["jax"]
    extras = {row["extra"]: row for row in jax["extras"]}
    first = {extra: next(row["version"] for row in jax["releases"] if extra in row["cuda_extras"]) for extra in extras}
    assert first == {"cuda12": "0.4.22", "cuda13": "0.7.2"}
    assert jax["reference"]["legacy_extras"][0]["removed_in"] == "0.6.0"


@pytest.mark.skipif(not os.environ.get("DLWS_PYPI_TESTS"), reason="asks PyPI: set DLWS_PYPI_TESTS=1")
def test_newest_jax_row_is_on_pypi_live():
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "jax"], capture_output=True, text=True,
                         timeout=120).stdout
    listed = out.split("Available versions:", 1)[1].split("\n", 1)[0]
    assert compat.releases("jax")[0] in [version.strip() for version in listed.split(",")]


def test_mxnet_pins():
    assert q.framework_pins("mxnet", "1.9.1", "cu112") == {"mxnet-cu112": "1.9.1", "numpy": "1.23.5"}
    assert q.framework_pins("mxnet", "1.9", "cpu") == {"mxnet": "1.9.1", "numpy": "1.23.5"}
    assert q.framework_pins("mxnet", "1.9", "cu999") == {}
    row = q.framework_release("mxnet", "1.9.1")
    assert Version(row["pins"]["numpy"]) < Version("1.24")  # apache/mxnet#21165: np.bool is gone in NumPy 1.24
    assert q.python_supported("mxnet", "1.9.1", "3.8") is True
    assert q.python_supported("mxnet", "1.9.1", "3.9") is False
    for pins in [row["pins"]] + list(row["variant_pins"].values()):
        meta = _published("%s==%s" % next(iter(pins.items())))  # mxnet / mxnet-cuXYZ 1.9.1: classifiers 3.5 .. 3.8
        assert row["python"]["max"] == max(meta["python_classifiers"], key=Version)
        assert row["python"]["min"] == min(meta["python_classifiers"], key=Version)
    numpy = _published("numpy==1.23.5")
    assert numpy["requires_python"] == ">=3.8" and "3.8" in numpy["python_classifiers"]


def test_keras():
    info = q.keras_info()
    newest = max(PYPI["indexes"]["keras"].split(", "), key=Version)  # the newest Keras recorded on PyPI
    assert q.keras_pins() == {"keras": newest} and _minor(newest) == info["version"]
    meta = _published("keras==" + newest)
    assert meta["requires_python"] == ">=" + info["python"]["min"]
    assert info["env_var"] == "KERAS_BACKEND"
    assert any("export KERAS_BACKEND" in line or "environment variable `KERAS_BACKEND`" in line
               for line in meta["readme_configuring_backend"])
    table = " ".join(meta["readme_backend_table"])
    for key, backend in info["backends"].items():
        assert backend["min_version"] in table, key
    assert q.keras_backend("pytorch") == "torch"
    assert q.keras_backend("tf") == "tensorflow"
    assert q.keras_backend("jaxlib") == "jax"
    assert q.keras_backend("mxnet") is None


def test_keras2_pairs_with_the_tensorflow_that_requires_it():
    """TensorFlow 2.6-2.15 each require the keras minor of their own number (the recorded Requires-Dist); 2.16 on
    requires Keras 3, and tf-keras X.Y requires TensorFlow X.Y."""
    info = q.keras_info()
    for row in info["keras_2"]["releases"]:
        (pin,) = row["pins"].values()
        tf = q.framework_pins("tensorflow", row["tensorflow"], "cpu")["tensorflow"]
        requirement = Requirement(PYPI["tensorflow_keras_requirements"]["tensorflow==" + tf])
        assert requirement.name == "keras" and requirement.specifier.contains(pin, prereleases=True), tf
        assert _published("keras==" + pin)["requires_python"] == row.get("requires_python")
    assert q.keras2_for_tensorflow("2.15")["pins"] == {"keras": "2.15.0"}
    assert q.keras2_for_tensorflow("2.16") is None  # Requires-Dist keras >=3.0.0
    assert PYPI["tensorflow_keras_requirements"]["tensorflow==2.16.2"] == "keras >=3.0.0"
    assert q.keras2_for_tensorflow("2.5") is None  # keras-nightly: tf.keras inside TensorFlow
    assert q.keras2_for_tensorflow(None) is None
    for row in info["tf_keras"]["releases"]:
        meta = _published("tf-keras==" + row["pins"]["tf-keras"])
        (requirement,) = [Requirement(text) for text in meta["requires_dist"]]
        tf = q.framework_pins("tensorflow", row["tensorflow"], "cpu")["tensorflow"]
        assert requirement.specifier.contains(tf) and meta["requires_python"] == row["requires_python"]
    assert q.tf_keras_for_tensorflow("2.16")["pins"] == {"tf-keras": "2.16.0"}
    assert q.tf_keras_for_tensorflow("2.14") is None and info["tf_keras"]["env_var"] == "TF_USE_LEGACY_KERAS"


def _minor(version):
    return ".".join(version.split(".")[:2])


GARBAGE = [None, "", "  ", "abc", "12.x", "1.2.3.4.5.6.x", 42, 4.2, [], {}, object(), "nan", "-1", "..", "v", "12.4+"]


@pytest.mark.parametrize("bad", GARBAGE, ids=repr)
def test_queries_never_raise_on_garbage(bad):
    assert q.min_driver_for_cuda(bad) is None
    assert q.min_driver_for_cuda("12.4", os=bad) is None
    assert q.minor_compat_floor(bad) is None
    assert q.max_cuda_for_driver(bad) is None
    assert q.max_cuda_for_driver("550.54.14", os=bad) is None
    assert q.cuda_supports_cc(bad, "8.0") is None
    if not isinstance(bad, (int, float)):  # numbers are compute capabilities (4.2 is one, and a CUDA 12 toolkit can't build it)
        assert q.cuda_supports_cc("12.4", bad) is None
    assert q.normalize_framework(bad) is None
    assert q.framework_release(bad, "2.1") is None
    assert q.framework_release("torch", bad) is None
    assert q.torch_release(bad) is None
    assert q.torch_arch_list(bad, "cu118") is None
    assert q.torch_arch_list("2.0", bad) is None
    if not isinstance(bad, (int, float)):
        assert q.torch_variant_supports_cc("2.0", "cu118", bad) is None
    assert q.python_supported("torch", "2.1", bad) is None
    assert q.distribution(bad, "22.04") is None
    assert q.distribution("ubuntu", bad) is None
    assert q.distribution_eol(bad, bad) is None
    assert q.setup_family(bad) is None
    assert q.package_manager(bad, 22) is None
    assert q.provisionable(bad, 22) is False
    assert q.driver_module_streams(bad, 9) is False
    assert q.retirement(bad) is None and q.display_name(bad) is None
    assert q.needs_avx(bad, "2.15") is False
    assert q.framework_pins(bad, "2.4", "cu121") == {}
    assert q.framework_pins("torch", bad, "cu121") == {}
    assert q.framework_pins("torch", "2.4", bad) == {}
    assert q.pip_requirements("jax", bad, "cuda12") == []
    assert q.pip_requirements("jax", "0.10.2", bad) == []
    assert q.pip_index_url("torch", "2.4", bad) is None
    assert q.pip_index_url("torch", "2.4", "cu121", system=bad) is None
    assert q.jax_cuda_extras(bad) == []
    assert q.keras_backend(bad) is None


def test_distribution_lifecycle_facts_read_from_vendor_pages():
    # Debian LTS announcement (June 2024): LTS takes bullseye over on 2024-08-14, until 2026-08-31; buster LTS ended
    # 2024-06-30. AWS AL2023 release cadence: maintenance ends 2029-06-30, standard support 2027-06-30.
    assert q.distribution_eol("debian", "11") == datetime.date(2024, 8, 14)
    assert q.distribution("debian", "11")["extended_support"] == {"name": "Debian LTS (community)", "until": "2026-08-31"}
    assert q.distribution("debian", "10")["extended_support"]["until"] == "2024-06-30"
    assert q.distribution_eol("amzn", "2023") == datetime.date(2029, 6, 30)
    assert q.distribution("amzn", "2023")["reference"]["standard_support_end"] == "2027-06-30"
    assert q.distribution_eol("amzn", "2") == datetime.date(2026, 6, 30)
    assert q.distribution_eol("ubuntu", "20.04") == datetime.date(2025, 5, 1)  # 'May 2025': month only
    # wiki.almalinux.org/release-notes/: "security support until 31 May 2029" (01 Mar 2029 until AlmaLinux/wiki#377)
    assert q.distribution_eol("almalinux", "8.10") == datetime.date(2029, 5, 31)
    for id, version in (("debian", "11"), ("amzn", "2023"), ("ubuntu", "24.04")):
        assert "eol" not in q.distribution(id, version).get("unverified_fields", [])  # its lifecycle read as cited
