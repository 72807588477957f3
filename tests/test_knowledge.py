"""Knowledge tables cuda / frameworks / distributions: shape, sources, facts checked against the cited sources,
and the queries over them on good and bad input."""

import datetime
import re

import pytest

from provision.knowledge import load
from provision.knowledge import queries as q

TABLES = ("cuda", "frameworks", "distributions")
DRIVER = re.compile(r"^\d{3}(\.\d+){0,2}$")


def _rows():
    """(table, row) for every row that must cite a source."""
    cuda = load("cuda")
    for row in cuda["toolkits"] + cuda["minor_version_compatibility"] + [cuda["nvml_cuda_version"]]:
        yield "cuda", row
    frameworks = load("frameworks")["frameworks"]
    for name, entry in frameworks.items():
        yield "frameworks", entry
        for row in entry.get("releases", []) + entry.get("extras", []):
            yield "frameworks:" + name, row
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


def test_cuda_shape():
    toolkits = load("cuda")["toolkits"]
    versions = [row["version"] for row in toolkits]
    expected = ["11.%d" % i for i in range(9)] + ["12.%d" % i for i in range(7)] + ["12.8", "12.9", "13.0"]
    assert versions[: len(expected)] == expected  # every minor 11.0 .. 13.0 (12.7 was never released)
    for row in toolkits:
        assert row["releases"][0]["label"] == "GA"
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
    assert q.minor_compat_floor("10.2") is None


def test_max_cuda_for_driver():
    assert q.max_cuda_for_driver("550.54.14") == "12.4"
    assert q.max_cuda_for_driver("550.54.13") == "12.3"
    assert q.max_cuda_for_driver("535.104.05") == "12.2"
    assert q.max_cuda_for_driver("580.65.06") == "13.0"
    assert q.max_cuda_for_driver("470.82.01") == "11.4"
    assert q.max_cuda_for_driver("576.02", "windows") == "12.9"
    assert q.max_cuda_for_driver("440.33") is None  # older than every toolkit in the table


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
    assert q.cuda_version_from_nvml(12040) == "12.4"
    assert q.cuda_version_from_nvml("11080") == "11.8"
    assert q.cuda_version_from_nvml(13000) == "13.0"
    for bad in (0, -1, 42, "12.4", None, True, 12.4):
        assert q.cuda_version_from_nvml(bad) is None


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
    assert torch_versions == ["2.%d" % i for i in range(10)]
    assert [row["version"] for row in frameworks["tensorflow"]["releases"]] == ["2.%d" % i for i in range(12, 19)]
    for row in frameworks["pytorch"]["releases"]:
        assert "cpu" in row["variants"]
        assert row["pypi_default_linux_x86_64"] in row["variants"]
        for name, info in row["variants"].items():
            if name.startswith("cu"):
                assert name == "cu" + info["cuda"].replace(".", "")
                assert all(re.match(r"^\d+\.\d$", arch) for arch in info["arch_list"])
            elif name.startswith("rocm"):
                assert name == "rocm" + info["rocm"]
    for alias, name in load("frameworks")["aliases"].items():
        assert name in frameworks, alias


def test_torch_facts():
    # RELEASE.md release compatibility matrix and previous-versions.md.
    assert q.framework_cuda_variants("torch", "2.1") == ["cu118", "cu121"]
    assert q.framework_cuda_variants("pytorch", "2.1.2+cu121") == ["cu118", "cu121"]
    assert q.framework_cuda_variants("torch", "2.9.0") == ["cu126", "cu128", "cu130"]
    assert q.torch_release("2.0.1")["pypi_default_linux_x86_64"] == "cu117"
    assert q.torch_release("2.1")["variants"]["cu121"]["cudnn"] == "8.9.2.26"
    assert q.torch_arch_list("2.0", "cu118") == ["3.7", "5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"]
    assert q.torch_arch_list("2.0", "cpu") is None
    assert q.python_supported("torch", "2.9", "3.9") is False
    assert q.python_supported("torch", "2.9", "3.14") is True
    assert q.python_supported("torch", "2.5", "3.13") is True  # experimental wheels exist


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
    assert q.python_supported("tensorflow", "2.16", "3.12") is True
    assert q.python_supported("tensorflow", "2.13", "3.12") is False
    info = q.framework_info("tensorflow")
    assert info["avx"]["required"] is True
    assert info["windows_native_gpu"]["last_version"] == "2.10"
    assert all(not row["windows_native_gpu"] for row in info["releases"])


def test_jax_and_mxnet():
    extras = {row["extra"]: row for row in q.framework_info("jax")["extras"]}
    assert extras["cuda12"]["min_driver_linux"] == "525.60.13"
    assert extras["cuda12"]["pip"] == "jax[cuda12]"
    assert "cuda13" in extras
    mxnet = q.framework_info("mxnet")
    assert mxnet["retired"] is True
    assert mxnet["attic"] == "https://attic.apache.org/projects/mxnet.html"
    assert mxnet["last_release"] == "1.9.1"


def test_distribution_facts():
    assert q.distribution_eol("centos", "7") == datetime.date(2024, 6, 30)
    assert q.distribution_eol("rhel", "9.4") == datetime.date(2032, 5, 31)
    assert q.distribution_eol("ubuntu", "22.04") == datetime.date(2027, 4, 1)  # month only: its first day
    assert q.distribution("fedora", "41")["package_manager"] == "dnf"
    assert q.distribution_eol("fedora", "41") is None
    assert q.distribution_cuda_repo("ubuntu", "22.04") == (
        "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64/")
    assert q.distribution_cuda_repo("amzn", "2023").endswith("/amzn2023/x86_64/")
    assert q.distribution_cuda_repo("debian", "12").endswith("/debian12/x86_64/")
    assert q.distribution_cuda_repo("amzn", "2") is None
    assert q.distribution("gentoo", "2.15") is None


def test_distribution_shape():
    managers = {"apt", "dnf", "yum", "zypper"}
    seen = set()
    for row in load("distributions")["distributions"]:
        key = (row["id"], row["version"])
        assert key not in seen
        seen.add(key)
        assert row["package_manager"] in managers
        assert row["eol"] is None or re.match(r"^\d{4}-\d{2}(-\d{2})?$", row["eol"])
        assert row["eol"] is None or q._date(row["eol"]) is not None
        assert row["cuda_repo"] is None or re.match(r"^[a-z]+\d+$", row["cuda_repo"])


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
    assert q.cuda_version_from_nvml(bad) is None
    assert q.normalize_framework(bad) is None
    assert q.framework_release(bad, "2.1") is None
    assert q.framework_release("torch", bad) is None
    assert q.torch_release(bad) is None
    assert q.framework_cuda_variants("torch", bad) == []
    assert q.torch_arch_list(bad, "cu118") is None
    assert q.torch_arch_list("2.0", bad) is None
    if not isinstance(bad, (int, float)):
        assert q.torch_variant_supports_cc("2.0", "cu118", bad) is None
    assert q.python_supported("torch", "2.1", bad) is None
    assert q.distribution(bad, "22.04") is None
    assert q.distribution("ubuntu", bad) is None
    assert q.distribution_eol(bad, bad) is None
    assert q.distribution_cuda_repo("ubuntu", bad) is None
