"""Container engines and their GPU paths: Docker, Podman and containerd versions, Docker's runtimes and cgroup
driver, the NVIDIA Container Toolkit's mode and the host ldconfig its hook runs, the CDI specs (whose library paths name the driver they were generated
for), and the device facts behind "Failed to initialize NVML: Unknown Error" in a container after a systemd reload:
the /dev/nvidia* nodes and runc's /dev/char links to them (NVIDIA/nvidia-container-toolkit#48).
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, List, Optional, Tuple

from provision.host import Host
from provision.inventory.common import first_version
from provision.inventory.model import CdiSpec, Containers, Inventory
from provision.untrusted import parse_json

ENGINES = ("docker", "podman", "containerd")
DAEMON_JSON = "/etc/docker/daemon.json"
TOOLKIT_CONFIG = "/etc/nvidia-container-runtime/config.toml"
#: Where CDI specs live: static ones (nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml) and generated ones.
CDI_FOLDERS = ("/etc/cdi", "/var/run/cdi")
#: The NVIDIA control device is char 195:255; runc resolves device rules through /dev/char/<major>:<minor>.
DEV_CHAR_NVIDIACTL = "/dev/char/195:255"
MAX_SPECS = 16

_CDI_KIND = re.compile(r"""^\s*"?kind"?\s*:\s*"?([\w./-]+)""", re.M)
#: Driver libraries named by the driver's version (a three-digit branch: not libcuda.so.1); a spec may mount only the
#: graphics ones (libEGL_nvidia.so.550.54.14 in NVIDIA/nvidia-container-toolkit#450).
_DRIVER_LIB = re.compile(r"lib(?:cuda|nvidia-ml|EGL_nvidia|GLX_nvidia)\.so\.(\d{3}\.\d+(?:\.\d+)?)")
_TOML_MODE = re.compile(r"""^\s*mode\s*=\s*["']([\w-]+)["']""")
_TOML_NO_CGROUPS = re.compile(r"^\s*no-cgroups\s*=\s*(true|false)\b")
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
_TOML_SECTION = re.compile(r"^\s*\[([^\[\]]{1,256})\]\s*$")
#: A CRI runtime's table: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia] (config version 2),
#: [plugins.cri.containerd.runtimes.nvidia] (1), [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia] (3).
_CRI_RUNTIME = re.compile(r"""cri.*\.containerd\.runtimes\.["']?([\w.-]{1,64}?)["']?(\.options)?$""")
_TOML_DEFAULT_RUNTIME = re.compile(r"""^\s*default_runtime_name\s*=\s*["']([\w.-]{1,64})["']""")
_TOML_BINARY = re.compile(r"""^\s*(?:BinaryName|Runtime)\s*=\s*["']([^"']{1,256})["']""")
_TOML_IMPORTS = re.compile(r"^\s*imports\s*=\s*\[([^\]]*)\]")
MAX_DROP_INS = 16
_TOML_LDCONFIG = re.compile(r"""^\s*ldconfig\s*=\s*["']([^"'\s]{1,256})["']""")
#: Where a distribution puts ldconfig: Ubuntu's /sbin/ldconfig is a wrapper script around /sbin/ldconfig.real (the
#: toolkit's config.toml.ubuntu names it), Debian, RHEL and the rest have /sbin/ldconfig alone (config.toml.debian,
#: config.toml.centos: "@/sbin/ldconfig"), merged-/usr systems also show it under /usr/sbin.
LDCONFIG_FOLDERS = ("/sbin", "/usr/sbin")
LDCONFIG_NAMES = ("ldconfig.real", "ldconfig")


def engine_version(host: Host, name: str) -> Optional[str]:
    """`docker --version` ("Docker version 24.0.7, build afdd53b"), `podman --version`, `containerd --version`
    ("containerd containerd.io 1.6.28 ae07eda..."): client versions, no daemon needed."""
    if not host.fact("which", name):
        return None
    result = host.run([name, "--version"])
    return first_version(result.stdout) if result.ok else None


def from_snap(host: Host, name: str) -> Optional[bool]:
    """Whether the engine PATH finds is a snap's (/snap/bin/docker): its daemon, its daemon.json and its NVIDIA
    support are the snap's own, not the host's; None where it is not on PATH."""
    path = host.fact("which", name)
    return path.startswith("/snap/") if isinstance(path, str) else None


def docker_daemon(host: Host) -> Tuple[Optional[List[str]], Optional[str], Optional[str]]:
    """(runtimes, default-runtime, native.cgroupdriver) from /etc/docker/daemon.json; runtimes None without it."""
    text = host.read(DAEMON_JSON)
    if text is None:
        return None, None, None
    try:
        data: Any = parse_json(text.encode("utf-8"))
    except ValueError:
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    runtimes = data.get("runtimes")
    names = sorted(str(k) for k in runtimes)[:16] if isinstance(runtimes, dict) else []
    default = data.get("default-runtime")
    opts: List[Any] = data["exec-opts"] if isinstance(data.get("exec-opts"), list) else []
    driver = None
    for opt in opts[:64]:
        if isinstance(opt, str) and opt.startswith("native.cgroupdriver="):
            driver = opt.split("=", 1)[1].strip()[:32] or None
    return names, default if isinstance(default, str) else None, driver


def toolkit_config(host: Host) -> Tuple[Optional[str], Optional[bool], Optional[str]]:
    """The [nvidia-container-runtime] mode and the [nvidia-container-cli] no-cgroups and ldconfig of the toolkit's
    config.toml."""
    mode, no_cgroups, ldconfig = None, None, None
    for line in (host.read(TOOLKIT_CONFIG) or "").splitlines()[:2000]:
        found = _TOML_MODE.match(line)
        if found and mode is None:
            mode = found.group(1)
        found = _TOML_NO_CGROUPS.match(line)
        if found:
            no_cgroups = found.group(1) == "true"
        found = _TOML_LDCONFIG.match(line)
        if found and ldconfig is None:
            ldconfig = found.group(1)
    return mode, no_cgroups, ldconfig


def in_folder(host: Host, path: str) -> Optional[bool]:
    """Whether the folder's listing names the file (a listing tells "absent" from "not recorded"; None: unread)."""
    folder, name = posixpath.split(path)
    names = host.listdir(folder or "/")
    return None if names is None or not name else name in names


def _listings(host: Host, folders: Tuple[str, ...]) -> Optional[List[Tuple[str, List[str]]]]:
    """(folder, its names) for each folder that could be listed; None where none could."""
    listed = [(folder, names) for folder, names in ((f, host.listdir(f)) for f in folders) if names is not None]
    return listed or None


def host_ldconfigs(host: Host) -> Optional[List[str]]:
    """The ldconfig programs in /sbin and /usr/sbin; None where neither folder could be listed."""
    listed = _listings(host, LDCONFIG_FOLDERS)
    return None if listed is None else ["%s/%s" % (folder, name) for folder, names in listed
                                        for name in LDCONFIG_NAMES if name in names]


def _containerd_file(text: str, found: Dict[str, Any]) -> List[str]:
    """Fold one containerd config file into found (runtimes, nvidia runtimes, default); returns its imports."""
    section, runtime, imports = "", None, []
    for line in text.splitlines()[:5000]:
        header = _TOML_SECTION.match(line)
        if header:
            section = header.group(1).strip()
            runtime = _CRI_RUNTIME.search(section)
            if runtime and runtime.group(1) not in found["runtimes"]:
                found["runtimes"].append(runtime.group(1))
            continue
        default, binary, listed = _TOML_DEFAULT_RUNTIME.match(line), _TOML_BINARY.match(line), _TOML_IMPORTS.match(line)
        if default and section.endswith(".containerd"):
            found["default"] = default.group(1)
        if binary and runtime and "nvidia-container-runtime" in binary.group(1) \
                and runtime.group(1) not in found["nvidia"]:
            found["nvidia"].append(runtime.group(1))
        if listed and not section:
            imports.extend(re.findall(r"""["']([^"']{1,256})["']""", listed.group(1)))
    return imports


def containerd_config(host: Host) -> Optional[Dict[str, Any]]:
    """The CRI runtimes of /etc/containerd/config.toml, those that run nvidia-container-runtime, and its
    default_runtime_name, drop-ins of an `imports` folder glob ("/etc/containerd/conf.d/*.toml") folded in, in
    name order as containerd merges them; None where the file is unread or imports something else."""
    text = host.read(CONTAINERD_CONFIG)
    if text is None:
        return None
    found: Dict[str, Any] = {"runtimes": [], "nvidia": [], "default": None}
    for pattern in _containerd_file(text, found)[:MAX_DROP_INS]:
        folder, name = posixpath.split(pattern)
        if name != "*.toml":
            return None
        for entry in sorted(n for n in host.listdir(folder) or [] if n.endswith(".toml"))[:MAX_DROP_INS]:
            _containerd_file(host.read("%s/%s" % (folder, entry)) or "", found)
    return {key: value[:16] if isinstance(value, list) else value for key, value in found.items()}


def cdi_specs(host: Host) -> Optional[List[CdiSpec]]:
    """The CDI specs in /etc/cdi and /var/run/cdi, each with its device kinds and the driver versions its library
    paths name (a spec generated before a driver upgrade names the old one); None where neither folder exists."""
    listed = _listings(host, CDI_FOLDERS)
    if listed is None:
        return None
    specs: List[CdiSpec] = []
    for folder, names in listed:
        for name in [n for n in names if n.endswith((".yaml", ".yml", ".json"))][:MAX_SPECS]:
            text = host.read("%s/%s" % (folder, name)) or ""
            specs.append(CdiSpec(path="%s/%s" % (folder, name), kinds=sorted(set(_CDI_KIND.findall(text)))[:8],
                                 driver_versions=sorted(set(_DRIVER_LIB.findall(text)))[:8]))
    return specs


def probe(host: Host, inv: Inventory) -> None:
    if inv.os.system != "linux":
        return
    c = inv.containers = Containers()
    if not inv.os.container:  # inside a container the engines that matter are the host's
        c.docker, c.podman, c.containerd = (engine_version(host, name) for name in ENGINES)
        c.docker_snap = from_snap(host, "docker")
        c.docker_runtimes, c.docker_default_runtime, c.docker_cgroup_driver = docker_daemon(host)
        c.toolkit_mode, c.toolkit_no_cgroups, c.toolkit_ldconfig = toolkit_config(host)
        if c.toolkit_ldconfig and c.toolkit_ldconfig.startswith("@"):  # "@": run from the host, not the container
            c.toolkit_ldconfig_exists = in_folder(host, c.toolkit_ldconfig[1:])
            c.host_ldconfigs = host_ldconfigs(host)
        c.cdi_specs = cdi_specs(host)
        c.kubelet = bool(host.fact("which", "kubelet"))
        containerd = containerd_config(host)
        if containerd is not None:
            c.containerd_runtimes, c.containerd_nvidia_runtimes = containerd["runtimes"], containerd["nvidia"]
            c.containerd_default_runtime = containerd["default"]
    c.cgroup_v2 = host.exists("/sys/fs/cgroup/cgroup.controllers") or None
    if c.cgroup_v2 is None and host.listdir("/sys/fs/cgroup") is not None:
        c.cgroup_v2 = False
    devices = host.listdir("/dev")
    c.nvidia_devices = None if devices is None else [d for d in devices if d.startswith("nvidia")][:64]
    if c.nvidia_devices and "nvidiactl" in c.nvidia_devices and not inv.os.container:
        c.dev_char_symlinks = host.realpath(DEV_CHAR_NVIDIACTL) == "/dev/nvidiactl"
