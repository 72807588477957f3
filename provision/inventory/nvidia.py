"""NVIDIA driver and GPUs: from NVML where it answers, else from `nvidia-smi -q -x`; failures named precisely.

A broken driver stack is what a doctor is run on, so every way it breaks gets its own status (see model.Nvidia):
the message the driver stack itself printed is kept, and the PCI bus says whether a GPU is there at all.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from provision.host import RC_NOT_FOUND, CommandResult, Host
from provision.inventory import nvrm, pci
from provision.inventory.common import MAX_GPUS, first_version
from provision.inventory.nvidia_smi import MAX_PROCESSES, parse_mig_listing, parse_nvidia_smi_xml
from provision.inventory.model import Ecc, Gpu, GpuProcess, Inventory, Nvidia, Pcie

SMI_ARGS = ("-q", "-x")
#: Where WSL 2 mounts the Windows driver's tools; a distro's PATH often lacks it.
WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi"

#: (status, what the driver stack says) in order of precedence: the tool's words and NVML's error class names.
FAILURES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("version-mismatch", ("Driver/library version mismatch", "NVMLError_LibRmVersionMismatch",
                          "NVML/RM version mismatch")),
    # A handle that fails for one GPU ("Unable to determine the device handle for GPU ...: Unknown Error") is a GPU
    # gone; "Failed to initialize NVML: Unknown Error" alone is not (a container that lost its cgroup device access
    # after a systemd reload: NVIDIA/nvidia-container-toolkit#48), so it stays an nvml-error.
    ("gpu-lost", ("GPU is lost", "NVMLError_GpuIsLost", "Unable to determine the device handle")),
    ("no-driver", ("couldn't communicate with the NVIDIA driver", "NVMLError_DriverNotLoaded",
                   "Driver Not Loaded")),
)

#: The most of what nvidia-smi printed that goes into a message (its output may be megabytes of garbage).
MAX_MESSAGE = 4096

def classify_failure(text: str) -> Optional[str]:
    """The status a driver-stack error message means, or None when it is none of the known failures."""
    for status, markers in FAILURES:
        if any(marker in text for marker in markers):
            return status
    return None


def cuda_version_string(value: Any) -> Optional[str]:
    """NVML's CUDA driver version (12040) as nvidia-smi prints it ("12.4")."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return "%d.%d" % (value // 1000, (value % 1000) // 10)


_MODULE_VERSION = re.compile(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d+(?:\.\d+)+)")


def parse_proc_driver_version(text: Optional[str]) -> Optional[str]:
    """'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar ...' (or '... Open Kernel Module for
    x86_64  535.104.05 ...') -> the loaded kernel module's version."""
    match = _MODULE_VERSION.search(text or "")
    return match.group(1) if match else None


# --- NVML (the "nvml" fact, see provision/host_nvml.py) -------------------------------------------------------------


def _sub(data: Any, cls: Any) -> Any:
    """A nested dataclass from the fact's dict, keeping only the fields the model has."""
    data = data if isinstance(data, dict) else {}
    return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


def _error_text(error: Any) -> str:
    """'NVMLError_GpuIsLost: GPU is lost' from the fact's {"name", "message"}."""
    if isinstance(error, dict):
        return "%s: %s" % (error.get("name"), error.get("message"))
    return str(error)


def _nvml_processes(listed: Any) -> Optional[List[GpuProcess]]:
    """The fact's process_list entries with an integer pid (the rest of each is typed at the boundary)."""
    if not isinstance(listed, list):
        return None
    return [_sub(p, GpuProcess) for p in listed[:MAX_PROCESSES]
            if isinstance(p, dict) and isinstance(p.get("pid"), int) and not isinstance(p.get("pid"), bool)]


def mark_visible(host: Host, gpus: List[Gpu]) -> None:
    """Whether each listed process exists in this PID namespace: the driver lists a process another namespace (a
    container, the host) can see, and one that died without freeing the GPU (a zombie) has no /proc entry left."""
    budget = MAX_PROCESSES * 4
    for gpu in gpus:
        for proc in gpu.process_list or []:
            if budget <= 0:
                return
            budget -= 1
            proc.visible = host.exists("/proc/%d" % proc.pid)


def nvml_gpus(fact: Dict[str, Any]) -> Tuple[List[Gpu], List[str]]:
    """GPUs from the NVML fact, and the error message of each GPU NVML could not read."""
    gpus: List[Gpu] = []
    lost: List[str] = []
    for entry in fact.get("gpus") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("error"):
            lost.append("GPU %s: %s" % (entry.get("index"), _error_text(entry["error"])))
            continue
        simple: Dict[str, Any] = {k: entry.get(k) for k in Gpu.__dataclass_fields__
                                  if k not in ("vendor", "pcie", "ecc", "process_list")}
        simple["index"] = entry.get("index", len(gpus))
        gpus.append(Gpu(vendor="nvidia", pcie=_sub(entry.get("pcie"), Pcie), ecc=_sub(entry.get("ecc"), Ecc),
                        process_list=_nvml_processes(entry.get("process_list")), **simple))
    return gpus, lost


# --- the probe ------------------------------------------------------------------------------------------------------


def _fill_from_table(gpu: Gpu) -> None:
    from provision.knowledge import gpus as gpu_table  # only where there is a GPU to look up

    row = gpu_table.nvidia_row(gpu.name)
    if row is None:
        return
    gpu.compute_capability = gpu.compute_capability or row["compute_capability"]
    gpu.architecture = gpu.architecture or row["architecture"]


def pci_only_gpus(devices: List[pci.PciDevice]) -> List[Gpu]:
    """The GPUs no driver answers for, as the PCI bus shows them: named, with architecture and compute capability,
    from the PCI ID database (knowledge table nvidia_pci_ids: the chip's facts), else from the GPU table by name."""
    gpus: List[Gpu] = []
    for index, device in enumerate(devices):  # bus order, as nvidia-smi numbers them by default
        known = pci.nvidia_pci_name(device.device_id) if device.device_id else None
        name, architecture, capability = known or (None, None, None)
        gpu = Gpu(index=index, vendor="nvidia", name=name, pci_bus_id=device.address,
                  pci_device_id=device.device_id or None, architecture=architecture,
                  compute_capability=capability, kernel_driver=device.driver)
        _fill_from_table(gpu)
        gpus.append(gpu)
    return gpus


def _run_smi(host: Host, inv: Inventory) -> CommandResult:
    result = host.run(["nvidia-smi", *SMI_ARGS])
    if result.returncode == RC_NOT_FOUND and inv.os.wsl == 2:
        result = host.run([WSL_SMI, *SMI_ARGS])
    return result


def _nouveau(host: Host, devices: List[pci.PciDevice]) -> bool:
    modules = host.read("/proc/modules") or ""
    loaded = any(line.split(" ", 1)[0] == "nouveau" for line in modules.splitlines())
    return loaded or any(d.driver == "nouveau" for d in devices)


def _fail(inv: Inventory, status: str, message: str) -> None:
    inv.nvidia.status, inv.nvidia.message = status, message
    inv.error("nvidia", "%s: %s" % (status, message))


def _no_answer(host: Host, inv: Inventory, devices: List[pci.PciDevice], nvml_text: str, smi_text: str) -> None:
    """Neither NVML nor nvidia-smi gave GPUs: say why. smi_text is empty when nvidia-smi is not installed. A loaded
    kernel module and libraries of different versions say it first, even where neither tool could."""
    status = classify_failure(smi_text + "\n" + nvml_text)
    mismatch = _files_mismatch(host, inv)
    if mismatch is not None:  # the files name both versions, whatever the tools said (or did not say)
        said = smi_text or (nvml_text if status is not None else "")  # the tool's words, not a missing pynvml's
        _fail(inv, "version-mismatch", mismatch + ("; " + said if said else ""))
    elif status in (None, "no-driver") and devices and _nouveau(host, devices):
        _fail(inv, "nouveau", "the nouveau driver holds the NVIDIA GPU at %s" % devices[0].address)
    elif status is not None:
        _fail(inv, status, smi_text or nvml_text)
    elif not smi_text and not devices:
        inv.nvidia.status = "no-gpu"  # nothing NVIDIA on the bus and no driver: not a failure
    elif not smi_text:
        _fail(inv, "no-driver", "NVIDIA GPU at %s but no NVIDIA driver: nvidia-smi not found" % devices[0].address)
    else:
        _fail(inv, "nvml-error", smi_text)


def fill_mig_uuids(host: Host, gpus: List[Gpu]) -> None:
    """MIG device UUIDs from `nvidia-smi -L` for GPUs whose XML left them out; run only where MIG devices exist."""
    wanting = [g for g in gpus if g.mig_devices and g.mig_uuids is None and g.uuid]
    if not wanting:
        return
    result = host.run(["nvidia-smi", "-L"])
    listed = parse_mig_listing(result.stdout) if result.ok else {}
    for gpu in wanting:
        found = listed.get(str(gpu.uuid))
        if found is not None and len(found) == gpu.mig_devices:  # a listing that disagrees with the XML: unknown
            gpu.mig_uuids = found


def _from_smi(host: Host, inv: Inventory, devices: List[pci.PciDevice], nvml_text: str) -> List[Gpu]:
    result = _run_smi(host, inv)
    if result.ok:
        driver, cuda, gpus, error = parse_nvidia_smi_xml(result.stdout)
        if error is None and (gpus or driver):
            inv.nvidia.source = "nvidia-smi"
            inv.nvidia.driver_version, inv.nvidia.cuda_driver_version = driver, cuda
            fill_mig_uuids(host, gpus)
            return gpus
        _fail(inv, "nvml-error", error or "nvidia-smi -q -x listed no GPUs")
        return []
    smi_text = ""
    if result.returncode != RC_NOT_FOUND:
        smi_text = "\n".join(t for t in (result.stdout.strip(), result.stderr.strip()) if t)
        smi_text = smi_text[:MAX_MESSAGE] or "nvidia-smi exited with status %d" % result.returncode
    _no_answer(host, inv, devices, nvml_text, smi_text)
    return []


#: Where a Linux driver package puts its libraries; inside WSL 2 only /usr/lib/wsl/lib may provide them.
LINUX_DRIVER_LIBS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu")
DRIVER_LIB = re.compile(r"^lib(cuda|nvidia-ml)\.so\.\d+\.\d+")


#: Where user-space driver libraries lie on Linux: LINUX_DRIVER_LIBS (the .run installer, Ubuntu's and Fedora/RHEL's
#: packages); /usr/lib/<triplet>/nvidia/current (Debian's libcuda1 / libnvidia-ml1 packages, per their
#: packages.debian.org file lists); /usr/lib64/nvidia (a RHEL machine with CUDA 9.1's driver in
#: NVIDIA/nvidia-docker#584: "symbolic links to old revs of the driver ... in /usr/lib64/nvidia"); and
#: /usr/local/nvidia/lib64, where GKE mounts the host's driver into a container (the nvidia/cuda images'
#: LD_LIBRARY_PATH names it); /run/opengl-driver/lib, where NixOS links the driver in use (nixpkgs'
#: add-opengl-runpath / addDriverRunpath: driverLink = "/run/opengl-driver").
DRIVER_LIB_FOLDERS = LINUX_DRIVER_LIBS + (
    "/usr/lib/x86_64-linux-gnu/nvidia/current", "/usr/lib/aarch64-linux-gnu/nvidia/current", "/usr/lib64/nvidia",
    "/usr/local/nvidia/lib64", "/run/opengl-driver/lib")
_LIB_VERSION = re.compile(r"^lib(?:cuda|nvidia-ml)\.so\.(\d+\.\d+(?:\.\d+)?)$")
#: The sonames a program loads; each a link to the versioned file of the driver in use.
_SONAMES = ("libnvidia-ml.so.1", "libcuda.so.1")


def sys_module_version(host: Host) -> Optional[str]:
    """The loaded nvidia module's version from /sys/module/nvidia/version ("550.54.15\n"), where /proc lacks it."""
    match = re.match(r"\s*(\d+(?:\.\d+)+)\s*$", host.read("/sys/module/nvidia/version") or "")
    return match.group(1) if match else None


def library_version(host: Host) -> Optional[str]:
    """The user-space driver's version from the names of libcuda.so.X.Y[.Z] / libnvidia-ml.so.X.Y[.Z]; where stale
    libraries of another version lie beside it (a container image's own copies: NVIDIA/libnvidia-container#266), the
    one libnvidia-ml.so.1 / libcuda.so.1 links to; None when that cannot tell."""
    versions = set()
    linked = set()
    for folder in DRIVER_LIB_FOLDERS:
        names = host.listdir(folder) or []
        found = {m.group(1) for m in (_LIB_VERSION.match(name) for name in names) if m}
        versions |= found
        for soname in _SONAMES:
            if found and soname in names:
                match = _LIB_VERSION.match(os.path.basename(host.realpath("%s/%s" % (folder, soname)) or ""))
                if match:
                    linked.add(match.group(1))
    if len(versions) == 1:
        return versions.pop()
    return linked.pop() if len(linked) == 1 else None


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _files_mismatch(host: Host, inv: Inventory) -> Optional[str]:
    """With NVML and nvidia-smi silent: compare the loaded module with the libraries. Where both are known the
    driver is known to be installed (driver_version set); returns the message when they differ."""
    nv = inv.nvidia
    libraries = library_version(host)
    if libraries is None or nv.kernel_module_version is None:
        return None
    nv.driver_version = libraries
    module = nv.kernel_module_version
    if module == libraries:
        return None
    if _version_key(libraries) > _version_key(module):
        return "kernel module %s, libraries %s: reboot to load the new module" % (module, libraries)
    return ("kernel module %s, libraries %s: the libraries are older than the loaded module; install the driver "
            "libraries of %s (or reboot into the driver the libraries belong to)" % (module, libraries, module))


def _why_no_answer(host: Host, inv: Inventory) -> None:
    """Where a GPU is there and no driver answers: which driver is installed (its libraries) and what the module
    said when it loaded (the kernel log). Read only then, so a working machine runs no dmesg. A container's or
    WSL's kernel log is not of a driver this system installed."""
    nv = inv.nvidia
    if nv.status in (None, "no-gpu") or inv.os.container or inv.os.wsl:
        return
    nv.library_version = library_version(host)
    nv.kernel_log = nvrm.read_kernel_log(host)
    if nv.kernel_log is not None:
        nv.refused_gpus = nvrm.refused_gpus(nv.kernel_log)


def wsl_linux_driver(host: Host) -> List[str]:
    """Driver libraries (libcuda.so.535.104.05, ...) that a Linux driver install left inside WSL 2."""
    found: List[str] = []
    for folder in LINUX_DRIVER_LIBS:
        found.extend("%s/%s" % (folder, name) for name in host.listdir(folder) or [] if DRIVER_LIB.match(name))
    return found


def _container_toolkit(host: Host) -> Optional[str]:
    if not host.fact("which", "nvidia-ctk"):
        return None
    result = host.run(["nvidia-ctk", "--version"])
    return first_version(result.stdout) if result.ok else None


def probe(host: Host, inv: Inventory) -> None:
    nv = inv.nvidia = Nvidia()
    nv.kernel_module_version = parse_proc_driver_version(host.read("/proc/driver/nvidia/version")) \
        or sys_module_version(host)
    devices = pci.gpu_devices(host, "nvidia")
    nv.pci_gpus = len(devices) if host.listdir(pci.PCI_DEVICES) is not None else None
    if inv.os.wsl == 2:
        nv.wsl_linux_driver = wsl_linux_driver(host)
        mapped = host.listdir(os.path.dirname(WSL_SMI))  # the Windows driver's files, as WSL maps them
        nv.wsl_libraries = None if mapped is None else mapped[:256]
    if not devices and nv.kernel_module_version is None and inv.os.wsl != 2 \
            and host.listdir(pci.PCI_DEVICES) is not None:
        nv.status = "no-gpu"  # nothing NVIDIA on a readable PCI bus, no driver: spare NVML's import and nvidia-smi
        nv.container_toolkit = _container_toolkit(host)
        return
    fact = host.fact("nvml")
    fact = fact if isinstance(fact, dict) else {}
    if isinstance(fact.get("gpus"), list) and len(fact["gpus"]) > MAX_GPUS:  # a corrupt or hostile nvml.json: ask nvidia-smi instead
        inv.error("nvidia", "NVML lists more than %d GPUs: its answer is unknown" % MAX_GPUS)
        fact = {}
    lost: List[str] = []
    if not fact.get("error") and (fact.get("gpus") or fact.get("driver_version")):
        nv.source = "nvml"  # NVML answered: no command needed
        nv.driver_version = fact.get("driver_version")
        nv.cuda_driver_version = cuda_version_string(fact.get("cuda_driver_version"))
        gpus, lost = nvml_gpus(fact)
    else:
        gpus = _from_smi(host, inv, devices, _error_text(fact["error"]) if fact.get("error") else "")
    for gpu in gpus:
        _fill_from_table(gpu)
    mark_visible(host, gpus)
    inv.gpus.extend(gpus)
    nv.container_toolkit = _container_toolkit(host)
    if nv.source is None:
        inv.gpus.extend(pci_only_gpus(devices))  # no driver answered: what the bus and the PCI ID database say
        _why_no_answer(host, inv)
        return
    if lost:
        _fail(inv, classify_failure(" ".join(lost)) or "gpu-lost", "; ".join(lost))  # a GPU without a handle
    elif nv.status is None:
        nv.status = "ok"
    # In a container NVIDIA_VISIBLE_DEVICES may hide GPUs that sysfs still lists: no conclusion there.
    if len(devices) > len(gpus) + len(lost) and not inv.os.container:
        inv.error("nvidia", "PCI lists %d NVIDIA GPUs but the driver reports %d: a GPU may have fallen off the bus "
                  "(look for Xid 79 in dmesg)" % (len(devices), len(gpus) + len(lost)))
