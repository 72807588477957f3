"""CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER read as CUDA reads them (CUDA Programming Guide, CUDA Environment
Variables: indices or UUID strings, 'abbreviated forms are allowed ... enough digits from the beginning of the GPU
UUID to uniquely identify that GPU'; 'If one of the indices is invalid, only the devices whose index precedes the
invalid index are visible'; torch/cuda/__init__.py _parse_visible_devices and _transform_uuid_to_ordinals mirror it),
with hostile values; and the ROCm runtimes' strtol on values no GPU count can reach."""

import pytest

from provision.doctor.rules.visibility import (NO_SUCH_INDEX, _strtol, cuda_visible_count, hip_visible_count,
                                               parse_cuda_visible, rocr_visible_count)
from test_doctor_rules import fired, healthy

UUIDS = ["GPU-8932f937-d72c-4106-c12f-20bd9faed9f6", "GPU-89a1c0de-0000-4106-c12f-20bd9faed9f6"]


@pytest.mark.parametrize("value, indices", [
    ("0000001", [1]),  # strtoul: leading zeros, not six digits of them
    ("1gpu2,2ampere", [1, 2]),
    (" 1 , 0", [1, 0]),
    ("+1", [1]),
    ("-0,1", [0, 1]),  # strtoul('-0') is 0
    ("0,-1,1", [0]),
    ("0,,1", [0]),  # an empty entry ends the list
    ("0,00", []),  # the same GPU twice: none visible
    ("NoDevFiles", []),
    ("0,99999999999,88888888888", [0, NO_SUCH_INDEX, NO_SUCH_INDEX]),  # two long ones are not 'the same'
])
def test_indices_are_read_as_strtoul(value, indices):
    assert parse_cuda_visible(value) == indices


def test_counts_with_hostile_values():
    assert cuda_visible_count("0,99999999999,88888888888", UUIDS) == 1  # the first that does not exist ends it
    assert cuda_visible_count("1" * 5000, UUIDS) == 0  # never an int of 5000 digits
    assert cuda_visible_count("0" + "," * 20000, UUIDS) == 1  # an empty entry ends the list
    assert cuda_visible_count(",".join(str(i) for i in range(200000)), UUIDS) == 2  # 200000 entries, linear
    assert cuda_visible_count(",".join("GPU-%x" % i for i in range(200000)), UUIDS) == 0  # 'GPU-0' names none
    assert cuda_visible_count("\x00\n0", UUIDS) == 0


def test_uuid_prefixes_must_name_one_gpu():
    assert cuda_visible_count("GPU-8932f937", UUIDS) == 1  # the CUDA guide's own abbreviated example
    assert cuda_visible_count("GPU-89", UUIDS) == 0  # ambiguous: both start so, the list ends
    assert cuda_visible_count("GPU-8932,GPU-89a1", UUIDS) == 2
    assert cuda_visible_count("GPU-89a1,GPU-0000", UUIDS) == 1  # no such GPU: ends there
    assert cuda_visible_count("GPU-8932,GPU-8932f937", UUIDS) == 0  # two prefixes of one GPU: a repeat
    assert cuda_visible_count("GPU-8932,0", UUIDS) == 1  # an index after UUIDs ends the list
    assert cuda_visible_count("GPU-8932F937", UUIDS) == 0  # nvidia-smi prints lower case; prefixes match exactly
    assert cuda_visible_count("MIG-GPU-8932f937/1/0", UUIDS) is None  # MIG instances: cannot be told
    assert cuda_visible_count("GPU-8932", [UUIDS[0], None]) is None  # a GPU without its UUID: cannot be told


def test_rocm_strtol_saturates_like_c():
    assert _strtol("9" * 5000) == 2 ** 63 - 1 and _strtol("-" + "9" * 30) < 0
    assert _strtol("0x" + "f" * 40) == 2 ** 63 - 1 and _strtol("010") == 8 and _strtol("0x1") == 1
    assert rocr_visible_count("1" * 5000, 2) == (0, True) and hip_visible_count("7" * 5000, 2) == (0, True)


def order(value=None, device_order=None, names=("NVIDIA GeForce RTX 3060", "NVIDIA A100-SXM4-80GB"), status="ok"):
    inv = healthy()
    for gpu, name in zip(inv["gpus"], names):
        gpu["name"] = name
    inv["nvidia"]["status"] = status
    for key, val in (("CUDA_VISIBLE_DEVICES", value), ("CUDA_DEVICE_ORDER", device_order)):
        if val is not None:
            inv["env_vars"][key] = val
    return [(f.severity, f.evidence["CUDA_DEVICE_ORDER"]) for f in fired(inv, "DLWS-ENV-005")]


def test_device_order_warns_for_indices_on_mixed_gpus():
    assert order("1") == [("warning", "unset (FASTEST_FIRST)")]
    assert order("0,1", device_order="FASTEST_FIRST") == [("warning", "FASTEST_FIRST")]
    assert order("1", device_order="pci_bus_id") == [("warning", "pci_bus_id")]  # CUDA reads the exact word


def test_device_order_is_quiet_where_indices_are_nvidia_smis_or_not_indices():
    assert order("1", device_order="PCI_BUS_ID") == []
    assert order("GPU-8932f937") == []  # UUIDs name the GPU, whatever the order
    assert order("1", names=("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB")) == []  # one model
    assert order("1", names=("NVIDIA A100-SXM4-80GB", None)) == []  # a GPU without its name: not judged
    assert order() == [] and order("") == [] and order("5") == []  # unset; nothing visible: DLWS-ENV-001's case
    assert order("1", status="no-driver") == []
