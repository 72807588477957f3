"""Typed questions over the GPU tables (nvidia_gpus, jetson, amd_gpus, apple_gpus).

gpu_spec() answers one dict shape for every vendor, so doctor rules and `doctor --deep` need not know the tables:

    name, vendor, architecture, compute_capability (NVIDIA), gfx_target (AMD), metal_gpu_family (Apple),
    memory_gb, tensor_core_precisions (FP16/BF16/TF32/FP8/FP4 on Tensor or Matrix Cores; [] when none),
    peak_fp16_tflops, peak_bf16_tflops (dense, FP32 accumulate), memory_bandwidth_gbs, gcds (AMD multi-die parts:
    the product figures cover that many GPU devices), source, verified, unverified_fields.

Every function is pure and total: an unknown GPU answers None, never an exception.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

from provision.knowledge import load

Spec = Dict[str, Any]

#: Fields every spec carries (None where the table does not know).
FIELDS = ("name", "vendor", "architecture", "compute_capability", "gfx_target", "metal_gpu_family", "memory_gb",
          "tensor_core_precisions", "peak_fp16_tflops", "peak_bf16_tflops", "memory_bandwidth_gbs", "gcds", "source",
          "verified", "unverified_fields")
#: Board figures that a laptop or Max-Q part of the same name does not reach.
BOARD_FIGURES = ("memory_gb", "peak_fp16_tflops", "peak_bf16_tflops", "memory_bandwidth_gbs")
_MOBILE = re.compile(r"\b(LAPTOP|MOBILE|MAX[- ]?Q)\b")


def match_name(name: str, keys: Iterable[str]) -> Optional[str]:
    """The key with the most words found, as consecutive words, in a GPU's name; the first of equally long keys wins.

    The one matcher of GPU names against the tables' keys (gpu_spec's, and nvidia_row's for the NVIDIA probe): a name is
    read in upper case with '-', '_', '(', ')', '/' and ',' as spaces ('NVIDIA GeForce GTX 1080 Ti' -> 'GTX 1080 TI',
    'A100-SXM4-40GB' -> 'A100 SXM4 40GB'). Consecutive words are a substring of the space-joined words: one scan of
    the name per key, not one per word of a long name."""
    text = " %s " % " ".join(re.sub(r"[-_()/,]", " ", name.upper()).split())
    best, best_len = None, 0
    for key in keys:
        key_words = key.split()
        n = len(key_words)
        if n > best_len and " %s " % " ".join(key_words) in text:
            best, best_len = key, n
    return best


def nvidia_row(name: Optional[str]) -> Optional[Dict[str, Any]]:
    """The nvidia_gpus row (as the table has it) whose key match_name finds in the GPU's name; None when unknown."""
    if not name:
        return None
    rows = load("nvidia_gpus")["gpus"]
    key = match_name(name, rows)
    return None if key is None else rows[key]


def _spec(vendor: str, name: str, row: Dict[str, Any], **extra: Any) -> Spec:
    spec: Spec = {field: row.get(field) for field in FIELDS}
    spec.update(extra, vendor=vendor, name=name)
    spec["verified"] = bool(row.get("verified"))
    spec["unverified_fields"] = list(row.get("unverified_fields") or [])
    return spec


def _nvidia(name: str) -> Optional[Spec]:
    table = load("nvidia_gpus")
    key = match_name(name, table["gpus"])
    if key is None:
        return _jetson(name)
    row = table["gpus"][key]
    precisions = row.get("tensor_core_precisions")
    if precisions is None:
        precisions = table["architectures"].get(row.get("architecture"), {}).get("tensor_core_precisions")
    spec = _spec("nvidia", key, row, tensor_core_precisions=precisions)
    if _MOBILE.search(name.upper()):
        spec.update(dict.fromkeys(BOARD_FIGURES))  # the desktop card's figures, not this part's
    return spec


def _jetson(name: str) -> Optional[Spec]:
    """A Jetson's integrated GPU by the name CUDA gives it ('Orin') or its SoC ('tegra234')."""
    wanted = name.strip().lower()
    for soc, row in load("jetson")["socs"].items():
        if wanted in (soc, row["gpu_name"].lower()):
            precisions = load("nvidia_gpus")["architectures"].get(row["architecture"], {}).get("tensor_core_precisions")
            return _spec("nvidia", row["gpu_name"], row, tensor_core_precisions=precisions)
    return None


def _amd(name_or_id: str) -> Optional[Spec]:
    """By PCI device id ('0x740c', with an optional ':revision' as '0x73bf:0xc1') or by product name."""
    table = load("amd_gpus")
    device_id, _, revision = name_or_id.strip().lower().partition(":")
    device = table["devices"].get(device_id)
    if device is not None:
        facts = dict(device)
        facts.update((device.get("revisions") or {}).get(revision, {}))
        name = facts["name"]
        product = table["products"].get(name)
        if product is None:  # an id shared by several products: only what they have in common
            return _spec("amd", name, facts, tensor_core_precisions=None, memory_gb=None)
    else:
        # 'MI250X', 'Instinct MI250X' and 'AMD Instinct MI250X' all name the product 'AMD Instinct MI250X'
        short = {re.sub(r"^AMD (INSTINCT )?", "", key.upper()): key for key in table["products"]}
        name = short.get(match_name(name_or_id, short) or "")
        if name is None:
            return None
        product = table["products"][name]
    return _spec("amd", name, product, tensor_core_precisions=product.get("matrix_core_precisions"))


def _apple(name: str) -> Optional[Spec]:
    chips = load("apple_gpus")["chips"]
    key = match_name(name, chips)
    if key is None:
        return None
    row = chips[key]
    return _spec("apple", key, row, memory_gb=None)


_VENDORS = {"nvidia": _nvidia, "amd": _amd, "apple": _apple}


def gpu_spec(vendor: Any, name_or_id: Any) -> Optional[Spec]:
    """What the knowledge base says of a GPU: NVIDIA and Apple by name (as the driver or IORegistry gives it), AMD by
    PCI device id or product name. None for an unknown vendor or GPU."""
    lookup = _VENDORS.get(vendor.lower() if isinstance(vendor, str) else "")
    if lookup is None or not isinstance(name_or_id, str) or not name_or_id.strip():
        return None
    return lookup(name_or_id)


def has_tensor_cores(spec: Optional[Spec]) -> Optional[bool]:
    """Whether the GPU multiplies matrices on Tensor/Matrix Cores at all; None when unknown."""
    precisions = (spec or {}).get("tensor_core_precisions")
    return None if precisions is None else bool(precisions)


def has_bf16(spec: Optional[Spec]) -> Optional[bool]:
    """Whether its Tensor/Matrix Cores take BF16 (mixed precision without loss scaling); None when unknown."""
    precisions = (spec or {}).get("tensor_core_precisions")
    return None if precisions is None else "BF16" in precisions


def per_device(spec: Optional[Spec], field: str) -> Optional[float]:
    """A product figure for one GPU device: an MI250X's 383 TFLOPS is 191.5 on each of its two GCDs."""
    value = (spec or {}).get(field)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return value / ((spec or {}).get("gcds") or 1)
