"""Whether this Python runs translated or emulated rather than natively: an x86_64 Python under Rosetta 2 on Apple
Silicon (sysctl.proc_translated is 1; Metal/MPS builds are arm64 only), a foreign-architecture Python under qemu-user
(binfmt_misc), or a 32-bit Python on 64-bit Windows (WOW64; no framework publishes 32-bit wheels).

Each is read from a sysctl or a file, through the host: native and unknown both leave os.emulation null.
"""

from __future__ import annotations

from typing import Optional

from provision.host import Host
from provision.inventory.common import machine, system
from provision.inventory.model import Inventory

#: sysctl(3) on macOS 11+: 1 in a process Rosetta translates, 0 in a native one (unknown on Intel Macs).
PROC_TRANSLATED = ["sysctl", "-n", "sysctl.proc_translated"]
#: /proc/cpuinfo keys only one CPU family writes: the kernel's own CPU, whatever uname says under qemu-user (which
#: reports the guest's architecture but leaves /proc/cpuinfo to the host kernel).
CPUINFO_FAMILY = (("vendor_id", "x86_64"), ("CPU implementer", "aarch64"), ("cpu\t\t: POWER", "ppc64le"),
                  ("isa\t\t: rv64", "riscv64"))
FAMILY_OF = {"x86_64": "x86_64", "amd64": "x86_64", "i686": "x86_64", "i386": "x86_64", "aarch64": "aarch64",
             "arm64": "aarch64", "armv7l": "aarch64", "ppc64le": "ppc64le", "riscv64": "riscv64"}


def _rosetta(host: Host) -> Optional[str]:
    result = host.run(PROC_TRANSLATED)
    return "rosetta" if result.ok and result.stdout.strip() == "1" else None


def cpuinfo_family(text: str) -> Optional[str]:
    """The CPU family /proc/cpuinfo describes (x86_64, aarch64, ...), or None."""
    for key, family in CPUINFO_FAMILY:
        if ("\n" + text).find("\n" + key) >= 0:
            return family
    return None


def _qemu_user(host: Host) -> Optional[str]:
    """uname says one family, the kernel's /proc/cpuinfo another: this Python is a foreign binary run by qemu-user."""
    python_family = FAMILY_OF.get(str(machine(host) or "").lower())
    kernel_family = cpuinfo_family(host.read("/proc/cpuinfo") or "")
    if python_family and kernel_family and python_family != kernel_family:
        return "qemu-user"
    return None


def _wow64(host: Host) -> Optional[str]:
    py = host.fact("python") or {}
    on_64_bit = str(machine(host) or "").lower() in ("amd64", "x86_64", "arm64")
    return "wow64" if py.get("bits") == 32 and on_64_bit else None


def probe(host: Host, inv: Inventory) -> None:
    os_name = system(host)
    if os_name == "darwin" and machine(host) == "x86_64":  # an arm64 Python is native
        inv.os.emulation = _rosetta(host)
    elif os_name == "linux":
        inv.os.emulation = _qemu_user(host)
    elif os_name == "windows":
        inv.os.emulation = _wow64(host)
