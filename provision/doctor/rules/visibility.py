"""Environment variables that change what a framework sees: GPUs hidden by CUDA_VISIBLE_DEVICES or by the ROCm
runtimes' ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES, a wrong HSA_OVERRIDE_GFX_VERSION, and a container started with
NVIDIA_VISIBLE_DEVICES=none or void."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple, Union

from provision.doctor.model import Finding, rule
from provision.inventory import facts


def parse_cuda_visible(value: str) -> Union[List[int], List[str]]:
    """The devices a CUDA_VISIBLE_DEVICES value names, as the CUDA runtime reads it (pytorch/pytorch
    torch/cuda/__init__.py _parse_visible_devices mirrors it): each entry's leading digits (strtoul: '1gpu2' is 1), a
    negative or non-numeric entry ends the list, a repeated one empties it; a value starting with GPU- or MIG- is a
    list of UUID prefixes up to the first entry without that prefix."""
    for prefix in ("GPU-", "MIG-"):
        if value.startswith(prefix):
            uuids: List[str] = []
            named: Set[str] = set()
            for entry in value.split(","):
                if entry in named:
                    return []
                if not entry.startswith(prefix):
                    break
                uuids.append(entry)
                named.add(entry)
            return uuids
    indices: List[int] = []
    seen: Set[str] = set()
    for entry in value.split(","):
        digits = _leading_digits(entry.strip())
        if digits in seen:
            return []
        if digits is None:
            break
        seen.add(digits)
        indices.append(int(digits) if len(digits) < 10 else NO_SUCH_INDEX)
    return indices


#: What an index of ten digits or more stands for: no GPU has it, and a thousand-digit entry never becomes an int.
NO_SUCH_INDEX = 10 ** 9


def _leading_digits(entry: str) -> Optional[str]:
    """strtoul of an entry, as its digits without leading zeros ('0001' is '1', '1gpu2' is '1', '-0' is '0'); None
    where it has no leading digits or is negative ('-1' ends the list)."""
    match = re.match(r"([+-]?)(\d+)", entry)
    if not match:
        return None
    digits = match.group(2).lstrip("0") or "0"
    return None if match.group(1) == "-" and digits != "0" else digits


def cuda_visible_count(value: str, uuids: List[Optional[str]]) -> Optional[int]:
    """How many of these GPUs (their UUIDs, in index order) CUDA_VISIBLE_DEVICES leaves visible: the named ones up to
    the first that does not exist (torch's _device_count_nvml); None when it cannot be told (MIG instances, UUIDs
    the inventory lacks)."""
    named = parse_cuda_visible(value)
    if not named:
        return 0
    if isinstance(named[0], int):
        for position, index in enumerate(named):
            if int(index) >= len(uuids):
                return position
        return len(named)
    if str(named[0]).startswith("MIG-") or not all(uuids):
        return None
    found: List[int] = []
    for prefix in named:
        matches = [i for i, uuid in enumerate(uuids) if str(uuid).startswith(str(prefix))]
        if len(matches) != 1:  # none, or ambiguous: the list ends here
            break
        if matches[0] in found:
            return 0
        found.append(matches[0])
    return len(found)


def _indices(count: int) -> str:
    return "0 (the only GPU)" if count == 1 else "indices 0..%d" % (count - 1)


@rule("DLWS-ENV-001", "error", "CUDA_VISIBLE_DEVICES hides the NVIDIA GPUs")
def cuda_visible_devices(inv: Dict[str, Any]) -> Any:
    """CUDA_VISIBLE_DEVICES lists the GPUs a CUDA program may see, by index or UUID prefix (GPU-..., MIG-...). Set
    to an empty string it hides every GPU; so do -1, a word ("NoDevFiles") and a repeated entry; an index that does
    not exist (2 on a machine with GPUs 0 and 1) ends the list there, hiding it and every GPU named after it (CUDA
    Programming Guide, CUDA environment variables; torch's _parse_visible_devices mirrors the runtime). Then
    torch.cuda.is_available() is False ("no CUDA-capable device is detected") or "invalid device ordinal".
    nvidia-smi ignores the variable, so it still lists every GPU. Indices count from 0 in CUDA's order (fastest
    first unless CUDA_DEVICE_ORDER=PCI_BUS_ID), which may differ from nvidia-smi's."""
    if facts.nvidia(inv).get("status") != "ok":
        return None
    gpus = facts.gpus(inv, "nvidia")
    value = (inv.get("env_vars") or {}).get("CUDA_VISIBLE_DEVICES")
    if not isinstance(value, str) or not gpus:
        return None
    named = parse_cuda_visible(value)
    if named and str(named[0]).startswith("MIG-"):
        return _no_such_mig_device(value, named, gpus)
    seen = cuda_visible_count(value, [gpu.get("uuid") for gpu in gpus])
    if seen is None or (seen == len(named) and seen > 0):
        return None  # every GPU it names exists: a deliberate choice
    evidence = {"CUDA_VISIBLE_DEVICES": value, "nvidia_gpus": len(gpus), "visible": seen}
    fix = "unset CUDA_VISIBLE_DEVICES, or set it to %s (or GPU UUIDs from nvidia-smi -L) where it is set (shell " \
          "profile, job script, container environment)" % _indices(len(gpus))
    if seen == 0:
        return cuda_visible_devices.finding(evidence, fix)
    return cuda_visible_devices.finding(evidence, fix, severity="warning",
                                        title="CUDA_VISIBLE_DEVICES names a GPU that does not exist: %d of %d visible"
                                        % (seen, len(gpus)))


def mig_uuids_here(gpus: List[Dict[str, Any]]) -> Optional[List[str]]:
    """Every MIG device UUID of these GPUs (none on a GPU with MIG off); None where a GPU's MIG state, or the UUIDs
    of its MIG devices, are unknown."""
    found: List[str] = []
    for gpu in gpus:
        if gpu.get("mig_mode") == "disabled":
            continue
        if gpu.get("mig_mode") != "enabled" or gpu.get("mig_uuids") is None:
            return None
        found.extend(str(uuid) for uuid in gpu["mig_uuids"])
    return found


def _no_such_mig_device(value: str, named: List[Any], gpus: List[Dict[str, Any]]) -> Any:
    """CUDA_VISIBLE_DEVICES names MIG devices by UUID (MIG-<uuid>, drivers from R470: the MIG user guide, "CUDA
    Device Enumeration"): where it names none of this machine's, CUDA sees no device ("no CUDA-capable device is
    detected"). Judged only where every GPU's MIG state and MIG UUIDs are known; the pre-R470 form
    MIG-GPU-<uuid>/<gi>/<ci> is not judged."""
    here = mig_uuids_here(gpus)
    if here is None or any(str(n).startswith("MIG-GPU-") for n in named) \
            or any(uuid.startswith(str(n)) for n in named for uuid in here):
        return None
    evidence = {"CUDA_VISIBLE_DEVICES": value, "mig_devices": here or "none: MIG is off on every GPU", "visible": 0}
    if here:
        fix = ("set CUDA_VISIBLE_DEVICES to a MIG device this machine has (nvidia-smi -L lists them: %s) where it is "
               "set (job script, container environment, scheduler)" % ", ".join(here[:4]))
    else:
        fix = ("MIG is off on every GPU: unset CUDA_VISIBLE_DEVICES, or name GPUs by index or by GPU UUID (nvidia-smi "
               "-L) where it is set")
    return cuda_visible_devices.finding(evidence, fix,
                                        title="CUDA_VISIBLE_DEVICES names MIG devices this machine does not have")


@rule("DLWS-ENV-005", "warning", "CUDA_VISIBLE_DEVICES indices are in CUDA's fastest-first order, not nvidia-smi's")
def cuda_device_order(inv: Dict[str, Any]) -> Any:
    """CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID (CUDA Programming Guide, CUDA environment
    variables: FASTEST_FIRST is the default, "using a simple heuristic"), while nvidia-smi lists them by PCI bus. On
    a machine with GPUs of different models, CUDA_VISIBLE_DEVICES=1 may then name another GPU than nvidia-smi's GPU 1:
    the job runs on a GPU someone else uses, or on the small one. Quiet with UUIDs, with PCI_BUS_ID, and where the
    GPUs are of one model (or unnamed)."""
    if facts.nvidia(inv).get("status") != "ok":
        return None
    gpus = facts.gpus(inv, "nvidia")
    env = inv.get("env_vars") or {}
    value = env.get("CUDA_VISIBLE_DEVICES")
    order = env.get("CUDA_DEVICE_ORDER")
    names = [gpu.get("name") for gpu in gpus]
    if not isinstance(value, str) or order == "PCI_BUS_ID" or not all(names) or len(set(names)) < 2:
        return None
    named = parse_cuda_visible(value)
    if not named or not isinstance(named[0], int) or not any(index < len(gpus) for index in named):
        return None  # UUIDs, or nothing visible: DLWS-ENV-001's case
    evidence = {"CUDA_VISIBLE_DEVICES": value, "CUDA_DEVICE_ORDER": order or "unset (FASTEST_FIRST)",
                "nvidia-smi order": ["%s: %s%s" % (gpu.get("index"), gpu.get("name"),
                                                     " (%s)" % gpu["pci_bus_id"] if gpu.get("pci_bus_id") else "")
                                     for gpu in gpus]}
    return cuda_device_order.finding(evidence, "export CUDA_DEVICE_ORDER=PCI_BUS_ID where CUDA_VISIBLE_DEVICES is set "
                                     "(its indices are then nvidia-smi's), or name the GPUs by UUID (nvidia-smi -L)")


#: C's LONG_MAX on the 64-bit Linux the ROCm runtimes run on.
LONG_MAX = 2 ** 63 - 1


def _strtol(token: str) -> Optional[int]:
    """C strtol(token, &end, 0) where end must reach the token's end: decimal, 0x hex or 0 octal; else None."""
    match = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", token)
    if not match:
        return None
    digits = match.group(2)
    base = 16 if digits[:2] in ("0x", "0X") else 8 if len(digits) > 1 and digits[0] == "0" else 10
    # strtol saturates at LONG_MAX / LONG_MIN (ERANGE): a thousand-digit entry is never turned into an int
    number = int(digits, base) if len(digits) <= 24 else LONG_MAX
    number = min(number, LONG_MAX)
    return -number if match.group(1) == "-" else number


def rocr_visible_count(value: str, total: int) -> Optional[Tuple[int, bool]]:
    """(GPUs left, whether an entry was cut) of `total` under ROCR_VISIBLE_DEVICES, as the ROCm runtime reads it
    (ROCm/ROCR-Runtime src/core/runtime/amd_filter_device.cpp RvdFilter): set but empty exposes none; each trimmed
    entry is an index (strtol base 0) or a UUID prefix starting with G; the first entry that is not a whole number,
    names no GPU or repeats one ends the list. None for UUIDs (the inventory has no AMD UUIDs) and empty entries."""
    if value == "":
        return 0, True
    tokens = [token.strip().upper() for token in re.sub(",$", "", value).split(",")]  # getline: no empty last token
    seen: List[int] = []
    for token in tokens[:total]:  # the runtime reads at most one entry per GPU
        if not token or token.startswith("G"):
            return None
        index = _strtol(token)
        if index is None or not 0 <= index < total or index in seen:
            return len(seen), True
        seen.append(index)
    return len(seen), False


def hip_visible_count(value: str, total: int) -> Optional[Tuple[int, bool]]:
    """(GPUs left, whether an entry was cut) of the `total` the ROCm runtime exposes, under the list HIP reads
    (ROCm/clr rocclr/device/rocm/rocdevice.cpp Device::init): an empty list filters nothing; each entry must be a
    plain decimal index (atoi's round trip: no sign, no leading zero, no space) below total, the first that is not
    ends the list; a repeated one is skipped. None for GPU- UUID entries (not in the inventory)."""
    if value == "":
        return total, False
    seen: Set[int] = set()
    for entry in re.sub(",$", "", value).split(","):  # the parser stops at the last comma's end
        if "GPU-" in entry:
            return None
        if not re.fullmatch(r"0|[1-9][0-9]{0,5}", entry) or int(entry) >= total:
            return len(seen), True
        seen.add(int(entry))
    return len(seen), False


@rule("DLWS-ENV-002", "error", "A GPU visibility variable hides the AMD GPUs")
def rocm_visible_devices(inv: Dict[str, Any]) -> Any:
    """Two layers pick the AMD GPUs a ROCm program sees. The ROCm runtime applies ROCR_VISIBLE_DEVICES (indices or
    UUIDs; set but empty, it exposes none); HIP then applies HIP_VISIBLE_DEVICES, or CUDA_VISIBLE_DEVICES when that is
    unset or empty (an empty HIP_VISIBLE_DEVICES hides nothing, ROCm/hip#3001), and its indices count among the GPUs
    ROCR left: ROCR_VISIBLE_DEVICES=1 with CUDA_VISIBLE_DEVICES=1 leaves none ("No HIP GPUs are available",
    Parsl/parsl#3858). In both, the first index that does not exist ends the list. torch's ROCm builds read the same
    variables. GPUs named by UUID cannot be judged here."""
    gpus = [gpu for gpu in facts.gpus(inv, "amd") if gpu.get("kernel_driver") in (None, "amdgpu")]
    env = inv.get("env_vars") or {}
    if not gpus:
        return None
    rocr = env.get("ROCR_VISIBLE_DEVICES")
    after_rocr = rocr_visible_count(rocr, len(gpus)) if isinstance(rocr, str) else (len(gpus), False)
    hip_name = "HIP_VISIBLE_DEVICES" if env.get("HIP_VISIBLE_DEVICES") else "CUDA_VISIBLE_DEVICES"
    hip = env.get(hip_name)
    after_hip = None if after_rocr is None else \
        hip_visible_count(hip, after_rocr[0]) if isinstance(hip, str) else (after_rocr[0], False)
    if after_rocr is None or after_hip is None or not (after_rocr[1] or after_hip[1]):
        return None
    evidence = {name: env[name] for name in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")
                if isinstance(env.get(name), str)}
    evidence.update(amd_gpus=len(gpus), after_rocr=after_rocr[0], visible=after_hip[0])
    culprit = "ROCR_VISIBLE_DEVICES" if after_rocr[1] else hip_name
    fix = "unset %s, or name GPUs that exist: ROCR_VISIBLE_DEVICES takes %s (rocm-smi lists them)" \
          % (culprit, _indices(len(gpus)))
    if culprit != "ROCR_VISIBLE_DEVICES" and isinstance(rocr, str):
        fix += "; %s counts from 0 among the GPUs ROCR_VISIBLE_DEVICES left (%d here): set only one of the two " \
               "(AMD's ROCm documentation advises ROCR_VISIBLE_DEVICES on Linux)" % (hip_name, after_rocr[0])
    if after_hip[0] == 0:
        return rocm_visible_devices.finding(evidence, fix, subject=culprit)
    return rocm_visible_devices.finding(evidence, fix, severity="warning", subject=culprit,
                                        title="%s is cut short at an entry that names no GPU: %d of %d AMD "
                                        "GPUs visible" % (culprit, after_hip[0], len(gpus)))


@rule("DLWS-ENV-004", "error", "HSA_OVERRIDE_GFX_VERSION names another GPU family")
def hsa_override(inv: Dict[str, Any]) -> Iterator[Finding]:
    """HSA_OVERRIDE_GFX_VERSION=major.minor.stepping makes the ROCm runtime treat every AMD GPU as that gfx target
    and load its code objects. Consumer RDNA cards ROCm does not list need it (10.3.0 for RDNA2 gfx1031/gfx1032,
    11.0.0 for RDNA3 gfx1101/gfx1102/gfx1103): a target of the card's own ISA family (LLVM's generic processors)
    runs, unsupported. A target of another family (10.3.0 on an RDNA3 card, 11.0.0 on RDNA2) loads code for another
    ISA: "invalid device function", hangs or segmentation faults. A value not in that form cannot be judged."""
    from provision import compat
    from provision.knowledge import queries

    value = compat.hsa_override(inv)
    if value is None:
        return
    for gpu in facts.gpus(inv, "amd"):
        if not gpu.get("gfx_target"):
            continue
        kind, why, loaded = compat.override_effect(gpu["gfx_target"], value)
        evidence = {"HSA_OVERRIDE_GFX_VERSION": value, "gpu": facts.gpu_label(gpu), "gfx_target": gpu["gfx_target"],
                    "loads": loaded, "judgment": why}
        if kind == "problem":
            family = queries.gfx_generic_family(gpu["gfx_target"])
            yield hsa_override.finding(evidence, "unset HSA_OVERRIDE_GFX_VERSION%s; it applies to every AMD GPU the "
                                       "process sees, so keep it to the process (or ROCR_VISIBLE_DEVICES) of the GPU "
                                       "that needs it" % (", or set it to a target of the GPU's own ISA family (%s)"
                                                          % family if family else ""),
                                       subject=facts.gpu_label(gpu))
        elif kind == "note" and _build_has_own(inv, gpu["gfx_target"]):
            evidence["installed build"] = _build_has_own(inv, gpu["gfx_target"])
            yield hsa_override.finding(evidence, "unset HSA_OVERRIDE_GFX_VERSION: the installed build runs %s's own "
                                       "code objects without it" % gpu["gfx_target"],
                                       title="HSA_OVERRIDE_GFX_VERSION swaps this GPU's own code objects for "
                                       "another target's", severity="warning", subject=facts.gpu_label(gpu))
        elif kind == "note":  # the usual workaround for a card ROCm does not list: it runs, so info only
            yield hsa_override.finding(evidence, "nothing while kernels run; if they fail or crash "
                                       "(HSA_STATUS_ERROR_INVALID_ISA, invalid device function), unset it to see "
                                       "whether the installed build has %s's own code objects: dlws doctor --target "
                                       "pytorch" % gpu["gfx_target"],
                                       title="HSA_OVERRIDE_GFX_VERSION runs another target's code objects on this GPU",
                                       severity="info", subject=facts.gpu_label(gpu))
        elif kind == "unknown" and loaded is None:
            yield hsa_override.finding(evidence, "write it as major.minor.stepping (10.3.0 for gfx1030), or unset it",
                                       title="HSA_OVERRIDE_GFX_VERSION is not major.minor.stepping",
                                       severity="warning", subject=facts.gpu_label(gpu))


def _build_has_own(inv: Dict[str, Any], gfx: str) -> Optional[str]:
    """'torch 2.11.0+rocm7.2 has gfx1151' where the installed torch ROCm build carries the GPU's own code objects:
    an override is then no workaround, it only swaps them for another target's (an AMD engineer proposed that the
    runtime refuse it on such hardware, ROCm/rocm-systems#3461); None where it lacks them or the list is unknown."""
    from provision.knowledge import queries

    entry = facts.frameworks(inv).get("torch") or {}
    if not entry.get("rocm"):
        return None
    targets = queries.torch_rocm_gfx_targets((entry.get("version") or "").split("+")[0], "rocm%s" % entry["rocm"])
    return "torch %s has %s" % (entry.get("version"), gfx) if targets and gfx in targets else None


#: NVIDIA_VISIBLE_DEVICES values with which the NVIDIA Container Runtime passes no GPU into a container (NVIDIA
#: Container Toolkit docs, "GPU Enumeration": none = no GPU but the driver's libraries; void, empty or unset = runc).
NO_GPU_VALUES = ("", "none", "void")


@rule("DLWS-ENV-003", "error", "Container started with NVIDIA_VISIBLE_DEVICES=none or void")
def nvidia_visible_devices(inv: Dict[str, Any]) -> Any:
    """The NVIDIA Container Runtime reads NVIDIA_VISIBLE_DEVICES when it starts a container: 'none' passes no GPU
    (the driver's libraries only), 'void' or an empty value makes it behave like runc (neither). Inside, setting it
    changes nothing: the container must be started again with the GPUs (--gpus all, or a device request;
    NVIDIA/nvidia-container-toolkit#884: containers showing NVIDIA_VISIBLE_DEVICES="void" had no GPU until the
    spawner requested them). GPUs injected through CDI come with 'void' too (the toolkit's CDI specs set it,
    NVIDIA/nvidia-container-toolkit#395), so the driver's answer decides: quiet when nvidia-smi works. Under
    Kubernetes with CDI the device plugin sets 'void' itself (NVIDIA/gpu-operator#1994): not judged there."""
    value = (inv.get("env_vars") or {}).get("NVIDIA_VISIBLE_DEVICES")
    container = facts.os_info(inv).get("container")
    if not isinstance(value, str) or value.strip().lower() not in NO_GPU_VALUES or not container:
        return None
    if facts.nvidia(inv).get("status") == "ok":  # sysfs still lists the host's GPUs inside: the driver's answer counts
        return None
    if container == "kubernetes" and value.strip().lower() == "void":
        return None
    return nvidia_visible_devices.finding(
        {"NVIDIA_VISIBLE_DEVICES": value, "container": container, "nvidia.status": facts.nvidia(inv).get("status")},
        "start the container again with its GPUs: docker run --gpus all ... (or -e NVIDIA_VISIBLE_DEVICES=all with "
        "--runtime=nvidia); Kubernetes: a nvidia.com/gpu limit, and no NVIDIA_VISIBLE_DEVICES in the pod spec")
