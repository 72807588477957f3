"""The nvidia kernel module's build state: is there one for the running kernel, can DKMS build one (the kernel's
headers), and which kernel boots next. A kernel update that DKMS did not follow (headers missing, a build that
failed) leaves the driver installed and nvidia-smi saying "couldn't communicate with the NVIDIA driver".

Read from folder listings only (bounded): /lib/modules/<kernel>/..., /var/lib/dkms/nvidia*/<version>/<kernel>/<arch>,
and /var/run/reboot-required(.pkgs).
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from provision.host import Host
from provision.inventory.model import DkmsBuild, Inventory, ModuleBuild

MODULES = "/lib/modules"
DKMS = "/var/lib/dkms"
REBOOT_REQUIRED = "/var/run/reboot-required"

#: Where driver packages put nvidia.ko under /lib/modules/<kernel>: DKMS (updates/dkms: Ubuntu, Debian, Arch),
#: SUSE's KMP (updates), Fedora's akmods (extra/nvidia) and DKMS on RHEL (extra), Arch's prebuilt package
#: (extramodules), NVIDIA's .run installer (kernel/drivers/video, as `find /lib/modules -name "*nvidia*"` shows in
#: NVIDIA/nvidia-docker#365). Ubuntu's prebuilt linux-modules-nvidia-<branch> packages use kernel/nvidia-<branch>.
MODULE_FOLDERS = ("updates/dkms", "updates", "extra", "extra/nvidia", "extramodules", "kernel/drivers/video")
#: nvidia.ko, nvidia-uvm.ko, nvidia_drm.ko.zst, Debian's nvidia-current.ko; not nvidiafb.ko (the framebuffer).
MODULE_FILE = re.compile(r"^nvidia(?:[-_][a-z_-]+)?\.ko(?:\.(?:gz|xz|zst))?$")
#: Bounds: no machine keeps more kernels, DKMS builds or reboot-requiring packages.
MAX_KERNELS = 32
MAX_DKMS_BUILDS = 128
MAX_PKGS = 64


def _kernel_key(kernel: str) -> Tuple[int, ...]:
    """6.8.0-47-generic -> (6, 8, 0, 47); the numbers a package manager orders kernels by."""
    return tuple(int(n) for n in re.findall(r"\d+", kernel)[:8] if len(n) <= 9)


def _flavour(kernel: str) -> Tuple[str, ...]:
    """generic | lowlatency | lts ...: the words of a kernel release; kernels of one flavour replace each other."""
    return tuple(t for t in re.split(r"[.\-_+~]", kernel) if t.isalpha())


def module_files(host: Host, kernel: str) -> Optional[List[str]]:
    """The nvidia modules built for kernel, relative to /lib/modules/<kernel>; None where that folder is unread."""
    top = host.listdir("%s/%s" % (MODULES, kernel))
    if top is None:
        return None
    folders = list(MODULE_FOLDERS)
    if "kernel" in top:
        folders += ["kernel/" + name for name in host.listdir("%s/%s/kernel" % (MODULES, kernel)) or []
                    if name.startswith("nvidia")][:8]
    found: List[str] = []
    for folder in folders:
        if folder.split("/")[0] not in top:
            continue
        names = host.listdir("%s/%s/%s" % (MODULES, kernel, folder)) or []
        found.extend("%s/%s" % (folder, name) for name in names if MODULE_FILE.match(name))
    return found[:64]


def headers(host: Host, kernel: str) -> Optional[bool]:
    """Whether /lib/modules/<kernel>/build holds the kernel's build tree (a Makefile): the headers DKMS needs.
    On Fedora/RHEL the kernel package ships the link and kernel-devel its target, so a dangling link is no headers."""
    top = host.listdir("%s/%s" % (MODULES, kernel))
    if top is None:
        return None
    if "build" not in top:
        # depmod writes modules.dep into every installed kernel's folder: a listing without it is a partial record
        # (a snapshot built from a report's `find` output), which proves no absence
        return False if "modules.dep" in top else None
    return "Makefile" in (host.listdir("%s/%s/build" % (MODULES, kernel)) or [])


def installed_kernels(host: Host) -> Optional[List[str]]:
    """The kernels whose modules are installed (a /lib/modules folder holding kernel/ or modules.dep)."""
    names = host.listdir(MODULES)
    if names is None:
        return None
    kernels = []
    for name in names[:MAX_KERNELS]:
        entries = host.listdir("%s/%s" % (MODULES, name)) or []
        if "kernel" in entries or "modules.dep" in entries:
            kernels.append(name)
    return kernels


def newest_kernel(running: str, kernels: List[str]) -> Optional[str]:
    """The newest installed kernel of the running one's flavour when it is newer than the running one: what a
    reboot boots into (by the usual default of the boot loader)."""
    same = [k for k in kernels if _flavour(k) == _flavour(running) and _kernel_key(k) > _kernel_key(running)]
    return max(same, key=_kernel_key) if same else None


def dkms_builds(host: Host) -> Optional[List[DkmsBuild]]:
    """Every NVIDIA DKMS build: /var/lib/dkms/<module>/<version>/<kernel>/<arch>, built when its module/ holds the
    module, installed when /var/lib/dkms/<module>/kernel-<kernel>-<arch> exists (DKMS's own record)."""
    modules = host.listdir(DKMS)
    if modules is None:
        return None
    builds: List[DkmsBuild] = []
    for module in [m for m in modules if m.startswith("nvidia")][:8]:
        entries = host.listdir("%s/%s" % (DKMS, module)) or []
        for version in [e for e in entries if not e.startswith("kernel-") and e[:1].isdigit()][:16]:
            base = "%s/%s/%s" % (DKMS, module, version)
            for kernel in [k for k in host.listdir(base) or [] if k not in ("source", "build")][:MAX_KERNELS]:
                for arch in (host.listdir("%s/%s" % (base, kernel)) or [])[:4]:
                    if len(builds) >= MAX_DKMS_BUILDS:
                        return builds
                    built = host.listdir("%s/%s/%s/module" % (base, kernel, arch))
                    builds.append(DkmsBuild(
                        module=module, version=version, kernel=kernel, arch=arch,
                        built=None if built is None else any(MODULE_FILE.match(n) for n in built),
                        installed="kernel-%s-%s" % (kernel, arch) in entries))
    return builds


def reboot_required(host: Host) -> Tuple[Optional[bool], Optional[List[str]]]:
    """Debian and Ubuntu write /var/run/reboot-required (and the packages in .pkgs) after an update that needs a
    reboot; its absence proves nothing elsewhere, so it is True or unknown."""
    if host.read(REBOOT_REQUIRED) is None:
        return None, None
    pkgs = host.read(REBOOT_REQUIRED + ".pkgs")
    if pkgs is None:
        return True, None
    return True, [line.strip() for line in pkgs.splitlines() if line.strip()][:MAX_PKGS]


def probe(host: Host, inv: Inventory) -> None:
    info = inv.os
    # A container's or WSL's kernel is not this system's to build modules for; macOS and Windows have none.
    if info.system != "linux" or info.container or info.wsl or not info.kernel:
        return
    build = inv.nvidia.module_build = ModuleBuild(running_kernel=info.kernel)
    build.installed_kernels = installed_kernels(host)
    build.module_files = module_files(host, info.kernel)
    if build.module_files is None and build.installed_kernels is not None \
            and info.kernel not in (host.listdir(MODULES) or []):
        build.module_files = []  # /lib/modules is there but the running kernel's folder is not: removed by an update
    build.headers = headers(host, info.kernel)
    build.dkms = dkms_builds(host)
    newest = newest_kernel(info.kernel, build.installed_kernels or [])
    if newest is not None:
        build.newest_kernel, build.newest_kernel_module_files = newest, module_files(host, newest)
    build.reboot_required, build.reboot_required_pkgs = reboot_required(host)
