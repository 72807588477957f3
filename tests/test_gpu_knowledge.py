"""The GPU tables (nvidia_gpus, amd_gpus products, apple_gpus) and provision.knowledge.gpus over them.

The fact checks below are the figures read in each row's cited source; see the row's "source" for where.
"""

import os
import re

import pytest

from provision import knowledge
from provision.inventory import collect
from provision.knowledge import gpus
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
PRECISIONS = {"FP16", "BF16", "TF32", "FP8", "FP4"}
NUMBERS = ("memory_gb", "peak_fp16_tflops", "peak_bf16_tflops", "memory_bandwidth_gbs")


def nvidia_rows():
    return knowledge.load("nvidia_gpus")["gpus"]


def all_rows():
    for key, row in nvidia_rows().items():
        yield "nvidia " + key, row
    for key, row in knowledge.load("amd_gpus")["products"].items():
        yield "amd " + key, row
    for key, row in knowledge.load("apple_gpus")["chips"].items():
        yield "apple " + key, row


# --- every row: a source, a verified flag that agrees with its unverified fields, the schema -----------------------


@pytest.mark.parametrize("where, row", list(all_rows()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_row_cites_a_source_and_says_what_is_unverified(where, row):
    assert isinstance(row["source"], str) and len(row["source"]) > 20, where
    assert isinstance(row["verified"], bool), where
    unverified = row.get("unverified_fields", [])
    assert row["verified"] == (not unverified), where
    fields = set(row) | set(row.get("reference") or {})  # a fact kept for readers may be unverified too
    assert set(unverified) <= fields, "%s lists fields it does not have: %s" % (where, unverified)
    for field in NUMBERS:
        value = row.get(field)
        assert value is None or (isinstance(value, (int, float)) and value > 0), (where, field)


def test_nvidia_rows_have_the_shape_the_lookups_read():
    table = knowledge.load("nvidia_gpus")
    for arch, facts in table["architectures"].items():
        assert set(facts["tensor_core_precisions"]) <= PRECISIONS and facts["source"], arch
    for key, row in nvidia_rows().items():
        assert key == key.upper() and "-" not in key, key
        assert re.fullmatch(r"\d+\.\d", row["compute_capability"]), key
        assert row["architecture"] in table["architectures"], key
        assert set(row.get("tensor_core_precisions", [])) <= PRECISIONS, key
        # dense rates never exceed what the architecture could do with sparsity: FP16 >= BF16 when both are given
        if row.get("peak_bf16_tflops") is not None:
            assert row["peak_fp16_tflops"] == row["peak_bf16_tflops"], key


def product_names(name):
    """'AMD Instinct MI60 / MI50' -> {'AMD Instinct MI60', 'AMD Instinct MI50'}, as amdgpu.ids writes shared ids."""
    first, *others = name.split(" / ")
    prefix = first.rsplit(" ", 1)[0] if others else ""
    return {first} | {o if o.startswith("AMD ") else "%s %s" % (prefix, o) for o in others}


def test_amd_products_match_the_devices_that_name_them():
    table = knowledge.load("amd_gpus")
    rows = list(table["devices"].values())
    rows += [rev for row in table["devices"].values() for rev in (row.get("revisions") or {}).values()]
    names = set().union(*(product_names(row["name"]) for row in rows))
    for name, product in table["products"].items():
        assert name in names, "%s is named by no PCI device" % name
        assert re.fullmatch(r"gfx\d{2,3}[0-9a-f]", product["gfx_target"]), name
        assert set(product["matrix_core_precisions"]) <= PRECISIONS, name
        device_gfx = {row["gfx_target"] for row in table["devices"].values() if row["name"] == name}
        assert device_gfx <= {product["gfx_target"]}, name


def test_apple_rows():
    for chip, row in knowledge.load("apple_gpus")["chips"].items():
        assert re.fullmatch(r"M\d( PRO| MAX| ULTRA)?", chip), chip
        assert row["metal_gpu_family"] in ("Apple7", "Apple8", "Apple9"), chip
        assert row["tensor_core_precisions"] == [] and row["peak_fp16_tflops"] is None, chip
        cores = row["reference"]["gpu_cores"]
        assert cores == sorted(cores) and row["reference"]["unified_memory_gb"], chip


# --- facts checked against the cited sources --------------------------------------------------------------------


@pytest.mark.parametrize("name, cc", [
    ("Tesla T4", "7.5"), ("NVIDIA A10", "8.6"), ("NVIDIA L4", "8.9"), ("NVIDIA H100 PCIe", "9.0"),
    ("NVIDIA B200", "10.0"), ("NVIDIA GeForce RTX 5090", "12.0"), ("NVIDIA GeForce RTX 5070 Ti", "12.0"),
    ("GeForce GTX 1080", "6.1"), ("GeForce GTX 1060 6GB", "6.1"), ("Tesla P100-PCIE-16GB", "6.0"),
    ("Tesla V100-SXM2-32GB", "7.0"), ("NVIDIA A100 80GB PCIe", "8.0"), ("NVIDIA RTX PRO 6000 Blackwell Server Edition",
                                                                        "12.0"),
    ("Orin", "8.7"),  # Jetson AGX Orin, from jetson.json
])
def test_compute_capability_from_the_cuda_gpus_pages(name, cc):
    assert gpus.gpu_spec("nvidia", name)["compute_capability"] == cc


def test_a100_from_the_ampere_whitepaper_and_datasheet():
    sxm40 = gpus.gpu_spec("nvidia", "NVIDIA A100-SXM4-40GB")
    assert (sxm40["peak_fp16_tflops"], sxm40["peak_bf16_tflops"], sxm40["memory_bandwidth_gbs"]) == (312, 312, 1555)
    assert sxm40["verified"] and "nvidia-ampere-architecture-whitepaper" in sxm40["source"]
    sxm80 = gpus.gpu_spec("nvidia", "NVIDIA A100-SXM4-80GB")
    assert (sxm80["peak_fp16_tflops"], sxm80["memory_bandwidth_gbs"], sxm80["memory_gb"]) == (312, 2039, 80)
    assert gpus.gpu_spec("nvidia", "NVIDIA A100 80GB PCIe")["memory_bandwidth_gbs"] == 1935
    assert gpus.gpu_spec("nvidia", "NVIDIA A100-PCIE-40GB")["memory_bandwidth_gbs"] == 1555
    assert gpus.gpu_spec("nvidia", "A100")["tensor_core_precisions"] == ["FP16", "BF16", "TF32"]


def test_h100_sxm_is_the_dense_rate_not_the_sparse_one():
    sxm = gpus.gpu_spec("nvidia", "NVIDIA H100 80GB HBM3")  # what nvidia-smi calls the SXM5 part
    assert sxm["peak_fp16_tflops"] == sxm["peak_bf16_tflops"] == 989.4  # the datasheet's 1,979 is with sparsity
    assert sxm["memory_bandwidth_gbs"] == 3352 and "H100 Tensor Core GPU Architecture" in sxm["source"]
    assert gpus.gpu_spec("nvidia", "NVIDIA H100 PCIe")["peak_fp16_tflops"] == 756
    assert "FP8" in sxm["tensor_core_precisions"] and "FP4" not in sxm["tensor_core_precisions"]


def test_geforce_rates_are_the_fp32_accumulate_ones_from_the_whitepapers():
    assert gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 4090")["peak_fp16_tflops"] == 165.2  # not 330.3 (FP16 acc.)
    assert gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 4090")["memory_bandwidth_gbs"] == 1008
    assert gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 3090")["peak_fp16_tflops"] == 71
    assert gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 5090")["peak_bf16_tflops"] == 209.5
    assert gpus.gpu_spec("nvidia", "GeForce RTX 2080 Ti")["peak_fp16_tflops"] == 53.8
    assert gpus.gpu_spec("nvidia", "Quadro RTX 6000")["peak_fp16_tflops"] == 130.5


def test_a_laptop_part_gets_the_architecture_but_not_the_desktop_card_figures():
    laptop = gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 4090 Laptop GPU")
    assert laptop["compute_capability"] == "8.9" and gpus.has_bf16(laptop)
    assert laptop["peak_fp16_tflops"] is None and laptop["memory_bandwidth_gbs"] is None


@pytest.mark.parametrize("name, tensor, bf16", [
    ("Tesla V100-SXM2-16GB", True, False),  # Volta: FP16 Tensor Cores, BF16 'NA' in the A100 whitepaper
    ("Tesla T4", True, False),
    ("GeForce GTX 1080", False, False),  # Pascal: no Tensor Cores
    ("NVIDIA GeForce GTX 1660 Ti", False, False),  # TU116: Turing without Tensor Cores
    ("NVIDIA A10", True, True),
    ("Orin", True, True),
])
def test_tensor_cores_and_bf16(name, tensor, bf16):
    spec = gpus.gpu_spec("nvidia", name)
    assert (gpus.has_tensor_cores(spec), gpus.has_bf16(spec)) == (tensor, bf16)


def test_blackwell_adds_fp4_and_ada_fp8():
    assert "FP4" in gpus.gpu_spec("nvidia", "NVIDIA B200")["tensor_core_precisions"]
    assert "FP4" in gpus.gpu_spec("nvidia", "NVIDIA GeForce RTX 5080")["tensor_core_precisions"]
    ada = gpus.gpu_spec("nvidia", "NVIDIA L40S")["tensor_core_precisions"]
    assert "FP8" in ada and "FP4" not in ada


def test_instinct_rates_from_the_rocm_docs():
    mi250x = gpus.gpu_spec("amd", "0x7408")  # the fixture's PCI device id
    assert mi250x["name"] == "AMD Instinct MI250X" and mi250x["gfx_target"] == "gfx90a"
    assert mi250x["peak_fp16_tflops"] == 383.0 and mi250x["memory_bandwidth_gbs"] == 3200  # 3.2 TB/s
    assert gpus.per_device(mi250x, "peak_fp16_tflops") == 191.5  # each GCD is one GPU device
    assert gpus.gpu_spec("amd", "MI250")["peak_fp16_tflops"] == 362.1
    mi100 = gpus.gpu_spec("amd", "AMD Instinct MI100")
    assert (mi100["peak_fp16_tflops"], mi100["peak_bf16_tflops"], mi100["memory_bandwidth_gbs"]) == (184.6, 92.3, 1228)
    mi300x = gpus.gpu_spec("amd", "0x74a1")
    assert mi300x["peak_fp16_tflops"] == 1307.4 and mi300x["memory_bandwidth_gbs"] == 5300
    assert "FP8" in mi300x["tensor_core_precisions"] and "mi300.md" in mi300x["source"]
    assert gpus.has_tensor_cores(gpus.gpu_spec("amd", "MI50")) is False  # GCN 5.1: no Matrix Cores


def test_a_shared_amd_id_gives_only_what_its_products_share():
    shared = gpus.gpu_spec("amd", "0x740c")  # MI250X or MI250
    assert shared["gfx_target"] == "gfx90a" and shared["peak_fp16_tflops"] is None
    assert gpus.has_tensor_cores(shared) is None


def test_apple_metal_families_and_m4_bandwidth():
    assert gpus.gpu_spec("apple", "Apple M1 Ultra")["metal_gpu_family"] == "Apple7"
    assert gpus.gpu_spec("apple", "Apple M2 Max")["metal_gpu_family"] == "Apple8"
    assert gpus.gpu_spec("apple", "Apple M3")["metal_gpu_family"] == "Apple9"
    m4_max = gpus.gpu_spec("apple", "Apple M4 Max")
    assert m4_max["metal_gpu_family"] == "Apple9" and m4_max["memory_bandwidth_gbs"] == 546
    assert gpus.gpu_spec("apple", "Apple M4 Pro")["memory_bandwidth_gbs"] == 273
    assert gpus.has_tensor_cores(m4_max) is False


@pytest.mark.parametrize("vendor, name", [
    ("nvidia", "GeForce 410M"), ("nvidia", ""), ("nvidia", None), ("amd", "0xffff"), ("amd", "Radeon HD 5870"),
    ("apple", "Apple A14"), ("intel", "Arc A770"), (None, "A100"), ("nvidia", 42),
])
def test_unknown_gpus_are_none_never_an_exception(vendor, name):
    assert gpus.gpu_spec(vendor, name) is None
    assert gpus.has_tensor_cores(None) is None and gpus.has_bf16(None) is None and gpus.per_device(None, "x") is None


# --- the inventory still finds every GPU of the fixtures --------------------------------------------------------


#: Fixtures whose report names the GPU only as nvidia-smi's table cut it ("GeForce GTX TIT..."): no name to look up,
#: so its compute capability stays unknown (test_an_unnamed_gpu_is_not_judged below).
#: Fixtures whose reports cut the GPU's name (nvidia-smi's "..."), or cut the table before it (jax-ml/jax#19821),
#: or whose GPU rows were not in the part of the report read (their SOURCE.md says so).
CUT_NAMES = {"openpai-job-titan-memory-no-process", "jax0424-cuda12-pip-driver535-ptxas123",
             "gke-cos-driver470-torch210-cu121", "conda-forge-jaxlib0432-cuda-no-plugin-driver560"}


def fixture_gpus():
    for name in sorted(os.listdir(SNAPSHOTS)):
        inv = collect(open_snapshot(os.path.join(SNAPSHOTS, name))).to_dict()
        for gpu in inv["gpus"]:
            if name not in CUT_NAMES and gpu.get("name"):  # a report that names no model: nothing to look up
                yield name, gpu


def test_an_unnamed_gpu_is_not_judged():
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "openpai-job-titan-memory-no-process"))).to_dict()
    [gpu] = inv["gpus"]
    assert gpu["name"].endswith("...") and gpus.gpu_spec("nvidia", gpu["name"]) is None
    assert gpu["compute_capability"] is None  # unknown, never guessed from a prefix


@pytest.mark.parametrize("fixture, gpu", list(fixture_gpus()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_fixture_gpu_is_in_the_knowledge_base(fixture, gpu):
    key = gpu["pci_device_id"] if gpu["vendor"] == "amd" else gpu["name"]
    spec = gpus.gpu_spec(gpu["vendor"], key)
    assert spec is not None, (fixture, gpu["name"])
    if gpu["vendor"] == "nvidia":
        assert gpu["compute_capability"] == spec["compute_capability"], fixture
        if not gpu.get("integrated"):  # a Jetson's GPU is in the jetson table (by its SoC), not nvidia_gpus
            assert gpus.nvidia_row(gpu["name"])["compute_capability"] == spec["compute_capability"]
    if gpu["vendor"] == "amd":
        assert spec["gfx_target"] == gpu["gfx_target"], fixture
