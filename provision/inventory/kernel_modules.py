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
from provision.inventory.model import DkmsBuild, Inventory, MakeLog, ModuleBuild

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
#: Bounds of a make.log read: its tail (where the errors are; the head is read apart) and the error lines kept.
MAX_LOG_TAIL = 256 * 1024
MAX_LOG_ERRORS = 8
MAX_LOG_LINE = 300

_LOG_KERNEL = re.compile(r"^DKMS make\.log for \S+ for kernel (\S+)")
_BUILT_BY = re.compile(r"The kernel was built by:\s*(.+)")
_USING = re.compile(r"You are using:\s*(.+)")
#: "cc: error: unrecognized command-line option ...", "make[2]: *** [...] Error 1", "fatal error: ...: No such file"
_ERROR = re.compile(r"(?:\berror:|\*\*\* \[.*\] Error \d)", re.IGNORECASE)


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


def dkms_versions(host: Host) -> Optional[List[str]]:
    """Every NVIDIA module version DKMS holds ("nvidia/535.98"), also one only added (`dkms status`: "added"): a
    build that failed leaves no <kernel>/<arch> folder, only the source and build/make.log."""
    modules = host.listdir(DKMS)
    if modules is None:
        return None
    found: List[str] = []
    for module in [m for m in modules if m.startswith("nvidia")][:8]:
        entries = host.listdir("%s/%s" % (DKMS, module)) or []
        found.extend("%s/%s" % (module, e) for e in entries if not e.startswith("kernel-") and e[:1].isdigit())
    return found[:32]


def parse_make_log(path: str, text: str) -> MakeLog:
    """The kernel a make.log is of, the compilers its warning names ("the compiler differs from the one used to
    build the kernel", which a kernel built by a newer gcc than the system's shows, pop-os/pop#3117) and its first
    error lines."""
    log = MakeLog(path=path)
    first = text.splitlines()[0] if text else ""
    match = _LOG_KERNEL.match(first)
    log.kernel = match.group(1) if match else None
    for pattern, field in ((_BUILT_BY, "kernel_compiler"), (_USING, "compiler")):
        found = pattern.search(text)
        if found:
            setattr(log, field, found.group(1).strip()[:MAX_LOG_LINE])
    for line in text.splitlines():
        line = line.strip()
        if _ERROR.search(line) and line[:MAX_LOG_LINE] not in log.errors:
            log.errors.append(line[:MAX_LOG_LINE])
            if len(log.errors) >= MAX_LOG_ERRORS:
                break
    return log


def make_logs(host: Host, versions: List[str]) -> List[MakeLog]:
    """The build/make.log of each DKMS version, where there is one (the last build DKMS tried for it). Its head
    names the kernel and the compilers; the rest is read from the tail, where make stops."""
    logs = []
    for version in versions[:8]:
        path = "%s/%s/build/make.log" % (DKMS, version)
        text = host.read(path)
        if text is None:
            continue
        head, tail = text[:4096], text[-MAX_LOG_TAIL:]
        logs.append(parse_make_log(path, head if len(text) <= len(head) else head + "\n" + tail))
    return logs


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
    build.dkms_versions = dkms_versions(host)
    if build.dkms_versions is not None:
        build.make_logs = make_logs(host, build.dkms_versions)
    newest = newest_kernel(info.kernel, build.installed_kernels or [])
    if newest is not None:
        build.newest_kernel, build.newest_kernel_module_files = newest, module_files(host, newest)
    build.reboot_required, build.reboot_required_pkgs = reboot_required(host)
