"""The inventory: plain data with a stable, versioned JSON form (a public contract: add keys, never rename them).

Unknown is None (null in JSON), never a made-up value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

SCHEMA = "dlws.inventory/1"


@dataclass
class CpuFeatures:
    """The flags that decide which framework builds run, readable at a glance."""

    avx: bool = False
    avx2: bool = False
    fma: bool = False
    avx512: List[str] = field(default_factory=list)  # each AVX-512 subset present: avx512f, avx512bw, ...
    amx: List[str] = field(default_factory=list)  # amx_tile, amx_bf16, amx_int8, ...
    neon: bool = False  # "asimd" in /proc/cpuinfo on aarch64
    sve: bool = False


@dataclass
class Cpu:
    vendor: Optional[str] = None
    model: Optional[str] = None
    arch: Optional[str] = None
    physical_cores: Optional[int] = None
    logical_cores: Optional[int] = None
    sockets: Optional[int] = None
    performance_cores: Optional[int] = None  # hybrid Intel parts only
    efficiency_cores: Optional[int] = None
    base_mhz: Optional[float] = None
    max_mhz: Optional[float] = None
    caches: Dict[str, int] = field(default_factory=dict)  # "L1d", "L1i", "L2", "L3" -> bytes (per core or shared)
    flags: List[str] = field(default_factory=list)
    x86_64_level: Optional[str] = None
    features: CpuFeatures = field(default_factory=CpuFeatures)


@dataclass
class Memory:
    total_bytes: Optional[int] = None
    available_bytes: Optional[int] = None
    swap_total_bytes: Optional[int] = None
    swap_free_bytes: Optional[int] = None


@dataclass
class Disk:
    mountpoint: str
    device: str
    fstype: str
    total_bytes: Optional[int] = None
    free_bytes: Optional[int] = None
    media: str = "unknown"  # nvme | ssd | hdd | network | unknown


@dataclass
class OsInfo:
    system: Optional[str] = None  # linux | darwin | windows
    id: Optional[str] = None
    version: Optional[str] = None
    codename: Optional[str] = None
    pretty_name: Optional[str] = None
    kernel: Optional[str] = None
    glibc: Optional[str] = None
    wsl: Optional[int] = None  # 1 or 2 inside WSL
    container: Optional[str] = None  # docker | podman | kubernetes | lxc | container; null outside one
    virtual_machine: Optional[str] = None  # the hypervisor where visible
    secure_boot: Optional[bool] = None  # UEFI Secure Boot, from efivars where visible
    container_engines: List[str] = field(default_factory=list)  # docker, podman found on PATH
    # what runs this Python other than the CPU natively: rosetta (x86_64 on Apple Silicon) | qemu-user | wow64
    # (32-bit Python on 64-bit Windows); null when native or unknown (provision/inventory/emulation.py)
    emulation: Optional[str] = None


@dataclass
class Pcie:
    gen_current: Optional[int] = None
    gen_max: Optional[int] = None
    width_current: Optional[int] = None
    width_max: Optional[int] = None


@dataclass
class Ecc:
    mode: Optional[str] = None  # enabled | disabled
    volatile_uncorrected: Optional[int] = None
    aggregate_uncorrected: Optional[int] = None
    volatile_corrected: Optional[int] = None
    aggregate_corrected: Optional[int] = None
    retired_pages_pending: Optional[bool] = None
    remapped_rows_pending: Optional[bool] = None
    remapped_rows_failure: Optional[bool] = None


@dataclass
class GpuProcess:
    """A process that holds a GPU, as NVML or nvidia-smi lists it (only those of this PID namespace are listed)."""

    pid: int
    type: Optional[str] = None  # C (compute) | G (graphics) | C+G
    name: Optional[str] = None  # the program's file name, without its folder
    used_memory_bytes: Optional[int] = None
    visible: Optional[bool] = None  # /proc/<pid> exists here (False: a zombie, or another PID namespace)


@dataclass
class Gpu:
    index: int
    vendor: str  # nvidia | amd | intel | apple
    name: Optional[str] = None
    uuid: Optional[str] = None
    pci_bus_id: Optional[str] = None
    pci_device_id: Optional[str] = None  # "0x20b0"
    memory_total_bytes: Optional[int] = None
    memory_used_bytes: Optional[int] = None
    compute_capability: Optional[str] = None  # NVIDIA, "8.0"
    gfx_target: Optional[str] = None  # AMD, "gfx90a"
    architecture: Optional[str] = None
    integrated: Optional[bool] = None
    cores: Optional[int] = None  # Apple GPU cores
    kernel_driver: Optional[str] = None
    pcie: Pcie = field(default_factory=Pcie)
    power_limit_watts: Optional[float] = None
    temperature_c: Optional[float] = None
    ecc: Ecc = field(default_factory=Ecc)
    mig_mode: Optional[str] = None  # enabled | disabled
    persistence_mode: Optional[str] = None  # enabled | disabled
    display_active: Optional[bool] = None  # a display is driven by this GPU (a desktop, not a headless server)
    throttle_reasons: Optional[List[str]] = None  # active ones; [] when none are
    processes: Optional[int] = None
    process_list: Optional[List[GpuProcess]] = None  # compute and graphics processes (None: not read)
    mig_devices: Optional[int] = None  # MIG instances created on this GPU (with MIG on; None: not read)
    mig_uuids: Optional[List[str]] = None  # their UUIDs ("MIG-..." from R470; None: not read or MIG off)


@dataclass
class DkmsBuild:
    """One /var/lib/dkms/<module>/<version>/<kernel>/<arch> folder: a build DKMS made (or tried) for a kernel."""

    module: str  # nvidia (Ubuntu, Fedora, Arch) | nvidia-current (Debian) | ...
    version: str
    kernel: str
    arch: str
    built: Optional[bool] = None  # the folder holds a built module (module/nvidia.ko*)
    installed: Optional[bool] = None  # /var/lib/dkms/<module>/kernel-<kernel>-<arch> links to it


@dataclass
class RefusedGpu:
    """A GPU the kernel log says the installed nvidia module will not drive (NVRM's own words at load time)."""

    reason: str  # legacy-branch (a GPU this driver dropped) | open-module (a pre-Turing GPU under the open flavour)
    name: Optional[str] = None  # "GeForce GTX 1050", as NVRM names it
    pci_bus_id: Optional[str] = None
    pci_device_id: Optional[str] = None  # "0x1d01"
    legacy_branch: Optional[str] = None  # "580": the branch NVRM says supports it
    driver_version: Optional[str] = None  # the driver that refused it
    message: Optional[str] = None  # the log's message, as one line


@dataclass
class MakeLog:
    """What /var/lib/dkms/<module>/<version>/build/make.log says of the last build DKMS tried for that version."""

    path: str
    kernel: Optional[str] = None  # from its first line: "DKMS make.log for nvidia-535.98 for kernel <kernel> (x86_64)"
    kernel_compiler: Optional[str] = None  # "The kernel was built by: x86_64-linux-gnu-gcc-12 (Ubuntu ...) 12.3.0"
    compiler: Optional[str] = None  # "You are using: cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"
    errors: List[str] = field(default_factory=list)  # its first error lines


@dataclass
class ModuleBuild:
    """Whether the nvidia kernel module can load on the running kernel: a module built for it, the headers DKMS
    builds it with, and the kernels waiting for a reboot."""

    running_kernel: Optional[str] = None  # uname -r
    module_files: Optional[List[str]] = None  # nvidia*.ko* for the running kernel (None: /lib/modules/<k> unread)
    headers: Optional[bool] = None  # /lib/modules/<running>/build holds a Makefile (None: unread)
    dkms: Optional[List[DkmsBuild]] = None  # NVIDIA DKMS builds (None: no /var/lib/dkms; [] none for NVIDIA)
    installed_kernels: Optional[List[str]] = None  # the folders of /lib/modules with a kernel's modules
    newest_kernel: Optional[str] = None  # the newest installed kernel of the running one's flavour
    newest_kernel_module_files: Optional[List[str]] = None  # nvidia*.ko* for it (None: unread, or no newer one)
    reboot_required: Optional[bool] = None  # /var/run/reboot-required (Debian, Ubuntu; None: not that family)
    reboot_required_pkgs: Optional[List[str]] = None  # /var/run/reboot-required.pkgs
    dkms_versions: Optional[List[str]] = None  # "nvidia/535.98": every NVIDIA version DKMS holds, built or only added
    make_logs: Optional[List[MakeLog]] = None  # the build/make.log of each (None: /var/lib/dkms unread)


@dataclass
class CdiSpec:
    path: str
    kinds: List[str] = field(default_factory=list)  # "nvidia.com/gpu", ...
    driver_versions: List[str] = field(default_factory=list)  # the driver versions its library paths name


@dataclass
class Containers:
    """The container engines on this machine and how they reach NVIDIA GPUs."""

    docker: Optional[str] = None  # versions, from `<engine> --version`
    docker_snap: Optional[bool] = None  # the docker on PATH is the snap's (/snap/bin/docker; None: no docker)
    kubelet: Optional[bool] = None  # a kubelet on PATH: a Kubernetes node
    containerd_runtimes: Optional[List[str]] = None  # /etc/containerd/config.toml's CRI runtimes (None: unread)
    containerd_nvidia_runtimes: Optional[List[str]] = None  # those that run nvidia-container-runtime
    containerd_default_runtime: Optional[str] = None  # its default_runtime_name (None: not set, containerd's runc)
    podman: Optional[str] = None
    containerd: Optional[str] = None
    docker_runtimes: Optional[List[str]] = None  # /etc/docker/daemon.json "runtimes" (None: no such file)
    docker_default_runtime: Optional[str] = None
    docker_cgroup_driver: Optional[str] = None  # native.cgroupdriver from daemon.json exec-opts
    toolkit_mode: Optional[str] = None  # /etc/nvidia-container-runtime/config.toml: auto | legacy | cdi | csv
    toolkit_no_cgroups: Optional[bool] = None  # its no-cgroups (rootless)
    toolkit_ldconfig: Optional[str] = None  # its [nvidia-container-cli] ldconfig ("@/sbin/ldconfig": the host's)
    toolkit_ldconfig_exists: Optional[bool] = None  # that "@" path is on the host (None: not "@", folder unread)
    host_ldconfigs: Optional[List[str]] = None  # ldconfig / ldconfig.real in /sbin, /usr/sbin (None: neither read)
    cdi_specs: Optional[List[CdiSpec]] = None  # /etc/cdi and /var/run/cdi (None: neither folder there)
    cgroup_v2: Optional[bool] = None  # /sys/fs/cgroup/cgroup.controllers
    dev_char_symlinks: Optional[bool] = None  # /dev/char/195:255 -> nvidiactl (runc needs it: toolkit#48)
    nvidia_devices: Optional[List[str]] = None  # /dev/nvidia* here (inside a container: those passed in)


@dataclass
class Nvidia:
    driver_version: Optional[str] = None
    cuda_driver_version: Optional[str] = None  # the highest CUDA the driver supports, "12.4"
    kernel_module_version: Optional[str] = None  # from /proc/driver/nvidia/version
    source: Optional[str] = None  # nvml | nvidia-smi | jetson
    status: Optional[str] = None  # ok | no-gpu | no-driver | nouveau | version-mismatch | gpu-lost | nvml-error
    message: Optional[str] = None  # the error as the driver stack said it
    container_toolkit: Optional[str] = None  # nvidia-container-toolkit version
    pci_gpus: Optional[int] = None  # NVIDIA GPUs on the PCI bus, driver or not (None where sysfs is unreadable)
    wsl_linux_driver: List[str] = field(default_factory=list)  # Linux driver libraries installed inside WSL 2
    wsl_libraries: Optional[List[str]] = None  # what /usr/lib/wsl/lib holds inside WSL 2 (None: unread, not WSL 2)
    module_build: ModuleBuild = field(default_factory=ModuleBuild)
    library_version: Optional[str] = None  # the user-space driver's version by its libraries' names (no answer only)
    kernel_log: Optional[List[str]] = None  # NVRM lines of the kernel log (read only when no driver answers)
    refused_gpus: Optional[List[RefusedGpu]] = None  # parsed from kernel_log (None: the log was not read)


@dataclass
class Toolkit:
    version: Optional[str]
    path: str
    source: str  # /usr/local | CUDA_HOME | CUDA_PATH | PATH | conda | /opt
    nvcc: Optional[bool] = None  # <path>/bin/nvcc is there (conda's cudatoolkit package has none)


@dataclass
class Cuda:
    toolkits: List[Toolkit] = field(default_factory=list)
    path_selects: Optional[str] = None  # the toolkit whose nvcc PATH finds first
    ld_library_path_selects: Optional[str] = None  # the toolkit whose lib64 LD_LIBRARY_PATH lists first
    # the toolkit torch.utils.cpp_extension builds CUDA extensions with: $CUDA_HOME, else $CUDA_PATH, else the folder
    # above the bin/ of PATH's first nvcc, else /usr/local/cuda (a found toolkit's real path, else the path as named)
    cuda_home: Optional[str] = None
    cuda_home_from: Optional[str] = None  # CUDA_HOME | CUDA_PATH | PATH | /usr/local/cuda | none (None: not read)


@dataclass
class Library:
    version: Optional[str]
    source: str  # "system" | "pip:nvidia-cudnn-cu12" | "conda" | a toolkit path
    path: Optional[str] = None


@dataclass
class LoaderFolder:
    """A folder the dynamic loader searches before a framework's own RUNPATH (LD_LIBRARY_PATH), or after it (the
    ld.so.conf folders), with the versions of the CUDA libraries it holds (from their file names)."""

    path: str
    source: str  # LD_LIBRARY_PATH | ld.so.conf | default (ld.so's own folders: listed only once ld.so.conf was read)
    libraries: Dict[str, List[str]] = field(default_factory=dict)  # "libcudnn" -> ["8.9.7"], one per major


@dataclass
class Rocm:
    version: Optional[str] = None
    path: Optional[str] = None


@dataclass
class Jetson:
    l4t: Optional[str] = None  # "35.4.1"
    model: Optional[str] = None


@dataclass
class Python:
    version: Optional[str] = None
    executable: Optional[str] = None
    implementation: Optional[str] = None
    virtualenv: Optional[str] = None
    conda_env: Optional[str] = None
    bits: Optional[int] = None  # the interpreter's pointer size: 32 or 64


@dataclass
class Framework:
    version: str
    build: Optional[str] = None  # "cuda 12.1" | "rocm 6.0" | "cpu" | "metal"
    cuda: Optional[str] = None
    rocm: Optional[str] = None
    package: Optional[str] = None
    location: Optional[str] = None
    wheel_tags: List[str] = field(default_factory=list)  # its dist-info's WHEEL tags: what it was built for


@dataclass
class Environment:
    """A Python environment found on the machine, read from its files (never by importing anything from it)."""

    path: str  # its prefix: the folder of pyvenv.cfg or conda-meta, or the one above the interpreter's bin/
    kind: str  # venv | conda | system | pipx | pyenv
    python: Optional[str] = None  # its Python's version
    frameworks: Dict[str, Framework] = field(default_factory=dict)
    active: bool = False  # the judged one: the top-level python and frameworks are its
    executable: Optional[str] = None
    found_by: List[str] = field(default_factory=list)  # --env, VIRTUAL_ENV, CONDA_PREFIX, PATH, dlws, conda, ...
    dlws: bool = False  # the interpreter dlws itself runs in
    site_packages: List[str] = field(default_factory=list)
    error: Optional[str] = None  # why it could not be read (whole or in part): its frameworks are then unknown


@dataclass
class ProbeError:
    probe: str
    message: str


@dataclass
class Inventory:
    schema: str = SCHEMA
    dlws_version: Optional[str] = None
    cpu: Cpu = field(default_factory=Cpu)
    memory: Memory = field(default_factory=Memory)
    disks: List[Disk] = field(default_factory=list)
    os: OsInfo = field(default_factory=OsInfo)
    nvidia: Nvidia = field(default_factory=Nvidia)
    gpus: List[Gpu] = field(default_factory=list)
    cuda: Cuda = field(default_factory=Cuda)
    cudnn: List[Library] = field(default_factory=list)
    nccl: List[Library] = field(default_factory=list)
    cublas: List[Library] = field(default_factory=list)
    tensorrt: List[Library] = field(default_factory=list)
    rocm: Rocm = field(default_factory=Rocm)
    jetson: Jetson = field(default_factory=Jetson)
    python: Python = field(default_factory=Python)
    frameworks: Dict[str, Framework] = field(default_factory=dict)
    environments: List[Environment] = field(default_factory=list)  # every Python environment found
    containers: Containers = field(default_factory=Containers)
    # the variables set here that change which GPUs a framework sees and which libraries it loads (names in
    # provision/inventory/envvars.py; LD_PRELOAD: file names only)
    env_vars: Dict[str, str] = field(default_factory=dict)
    loader_path: List["LoaderFolder"] = field(default_factory=list)  # where the dynamic loader looks, in order
    # the file names /etc/ld.so.preload lists (names only, as LD_PRELOAD's): loaded into every program after
    # LD_PRELOAD's, before anything else (provision/inventory/loader.py)
    ld_so_preload: List[str] = field(default_factory=list)
    # the CUDA forward-compatibility libcuda each /usr/local/cuda* toolkit carries in its compat/ (the cuda-compat-X-Y
    # package): source the toolkit, path its compat folder; loaded only where a program is pointed at it
    cuda_compat: List["Library"] = field(default_factory=list)
    # the ptxas copies XLA may run, in the order it looks (the judged environment's nvidia-cuda-nvcc wheel, PATH),
    # then those Triton runs for the GPUs (source "triton", or the TRITON_PTXAS_*PATH variable that named it)
    ptxas: List[Library] = field(default_factory=list)
    errors: List[ProbeError] = field(default_factory=list)

    def error(self, probe: str, message: str) -> None:
        self.errors.append(ProbeError(probe, message))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)
