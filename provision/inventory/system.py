"""OS: distribution, kernel, glibc, WSL, container and virtual machine."""

from __future__ import annotations

import re
from typing import Optional

from provision.host import Host
from provision.host_distro import distribution
from provision.inventory.common import read_line, system
from provision.inventory.model import Inventory, OsInfo

#: Release files distro reads besides os-release; reading them through the host records them in a snapshot.
RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release", "/etc/lsb-release")

#: /sys/class/dmi/id/sys_vendor or product_name -> hypervisor, as systemd-detect-virt names them.
DMI_HYPERVISORS = (
    ("KVM", "kvm"), ("QEMU", "qemu"), ("VMware", "vmware"), ("VirtualBox", "oracle"), ("innotek", "oracle"),
    ("Xen", "xen"), ("Amazon EC2", "amazon"), ("Google Compute Engine", "google"), ("Parallels", "parallels"),
    ("Microsoft Corporation", "microsoft"), ("OpenStack", "openstack"),
)


def _read_release_files(host: Host) -> None:
    for path in RELEASE_FILES:
        host.read(path)
    for name in host.listdir("/etc") or []:
        if name.endswith(("-release", "_release", "_version")) and name != "lsb-release":
            host.read("/etc/" + name)


def linux_distribution(host: Host, inv: Inventory) -> OsInfo:
    info = OsInfo(system="linux")
    _read_release_files(host)
    if not host.root:
        return info
    found, unsafe = distribution(host.root)
    if found is None:
        inv.error("os", "%s: the distribution is unknown" % unsafe)
        return info
    info.id = found["id"] or None
    # a version has digits: the archlinux image once shipped VERSION_ID=TEMPLATE_VERSION_ID
    info.version = found["version"] if any(c.isdigit() for c in found["version"]) else None
    info.codename = found["codename"] or None
    info.pretty_name = found["pretty_name"] or None
    return info


def wsl_version(proc_version: Optional[str]) -> Optional[int]:
    """WSL 2 kernels say 'microsoft-standard-WSL2' (or '-microsoft-standard'); WSL 1 says 'Microsoft'."""
    if not proc_version:
        return None
    if re.search(r"microsoft-standard|WSL2", proc_version):
        return 2
    if "Microsoft" in proc_version:
        return 1
    return None


def container_kind(host: Host) -> Optional[str]:
    if host.env("KUBERNETES_SERVICE_HOST") or host.exists("/var/run/secrets/kubernetes.io"):
        return "kubernetes"
    if host.exists("/run/.containerenv"):
        return "podman"
    if host.exists("/.dockerenv"):
        return "docker"
    cgroup = host.read("/proc/1/cgroup") or ""
    for marker, kind in (("kubepods", "kubernetes"), ("libpod", "podman"), ("docker", "docker"), ("lxc", "lxc")):
        if marker in cgroup:
            return kind
    env = host.env("container")
    if env:
        return {"oci": "container"}.get(env, env)
    return None


def virtual_machine(host: Host, flags: list) -> Optional[str]:
    for path in ("/sys/class/dmi/id/sys_vendor", "/sys/class/dmi/id/product_name"):
        value = read_line(host, path) or ""
        for marker, name in DMI_HYPERVISORS:
            if marker in value:
                if name == "microsoft" and "Virtual" not in (read_line(host, "/sys/class/dmi/id/product_name") or ""):
                    continue  # a Surface is made by Microsoft Corporation too
                return name
    hypervisor = read_line(host, "/sys/hypervisor/type")
    if hypervisor:
        return hypervisor
    return "unknown" if "hypervisor" in flags else None


#: The UEFI variable whose last byte says whether Secure Boot is on (EFI_GLOBAL_VARIABLE GUID, UEFI spec 3.3).
SECURE_BOOT_VAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def secure_boot(host: Host) -> Optional[bool]:
    """On, off, or None on a BIOS machine / where efivars is not mounted (4 attribute bytes, then 1 data byte)."""
    data = host.read(SECURE_BOOT_VAR)
    if not data or len(data) < 5:
        return None
    return data[-1] == "\x01"


#: What platform.mac_ver() answers on macOS 11 and later in a Python built against an older SDK
#: (SYSTEM_VERSION_COMPAT); sw_vers names the real version.
MAC_COMPAT_VERSION = "10.16"
_MAC_VERSION = re.compile(r"\d{2}\.\d{1,2}(\.\d{1,2})?")


def mac_version(host: Host, reported: Optional[str]) -> Optional[str]:
    """The macOS version: Python's, else (missing, or its 10.16 compatibility answer) `sw_vers -productVersion`."""
    if reported and reported != MAC_COMPAT_VERSION:
        return reported
    result = host.run(["sw_vers", "-productVersion"])
    answer = result.stdout.strip() if result.ok else ""
    return answer if _MAC_VERSION.fullmatch(answer) else reported


def container_engines(host: Host) -> list:
    return [name for name in ("docker", "podman") if host.fact("which", name)]


def probe(host: Host, inv: Inventory) -> None:
    os_name = system(host)
    platform = host.fact("platform") or {}
    if os_name == "linux":
        info = linux_distribution(host, inv)
        info.kernel = read_line(host, "/proc/sys/kernel/osrelease") or platform.get("release")
        proc_version = host.read("/proc/version")
        info.wsl = wsl_version(proc_version)
        info.container = container_kind(host)
        info.virtual_machine = None if info.container else virtual_machine(host, inv.cpu.flags)
        if info.wsl == 2 and info.virtual_machine is None:
            info.virtual_machine = "wsl"
        info.secure_boot = None if info.container or info.wsl else secure_boot(host)
        info.container_engines = [] if info.container else container_engines(host)
    else:
        info = OsInfo(system=os_name, kernel=platform.get("release"))
        if os_name == "darwin":
            info.id, info.version, info.pretty_name = "macos", mac_version(host, platform.get("mac_version")), None
            if info.version:
                info.pretty_name = "macOS %s" % info.version
    if platform.get("libc") == "glibc":
        info.glibc = platform.get("libc_version")
    inv.os = info
