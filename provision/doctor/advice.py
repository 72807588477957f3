"""Fix phrases that several rules give, worded from the knowledge base, and the dlws commands they recommend: only
ones that work on the machine (a plan that can be made there)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

from provision.inventory import facts
from provision.knowledge import queries

#: The installed framework a fix's setup command names, in order of preference (PyTorch where none is).
PREFERRED = ("torch", "tensorflow", "jax")
DRIVER_PACKAGES = ("install the NVIDIA driver with your distribution's packages (Ubuntu: sudo ubuntu-drivers install; "
                   "Debian: sudo apt-get install nvidia-driver; RHEL: sudo dnf module install nvidia-driver)")


def driver_for_cuda(cuda: Tuple[int, int], os: str = "linux") -> str:
    """'the NVIDIA driver 550.54.14 or newer (CUDA 12.4's)': the driver the toolkit release shipped with, from
    NVIDIA's release notes (Table 3), in the numbering of the OS whose driver it is (Windows' inside WSL 2);
    without a row for that release, the CUDA version alone."""
    version = "%d.%d" % cuda
    driver = queries.min_driver_for_cuda(version, os)
    whose = "Windows NVIDIA driver" if os == "windows" else "NVIDIA driver"
    if driver is None:
        return "a%s %s that supports CUDA %s" % ("" if os == "windows" else "n", whose, version)
    return "the %s %s or newer (CUDA %s's)" % (whose, driver, version)


def setup_command(inv: Dict[str, Any], frameworks: Sequence[str] = (), driver: Optional[str] = None) -> Optional[str]:
    """`dlws setup --framework F ... --dry-run` for the given frameworks (inventory names; retired ones left out),
    else the one installed here, else PyTorch; None where that plan is impossible here, for a fix recommends only
    a command that works (dlws setup needs a framework even to plan the driver alone)."""
    from provision.planner import plan
    from provision.planner.model import Request

    names = []
    for name in frameworks or [next((key for key in PREFERRED if key in facts.frameworks(inv)), "torch")]:
        normalized = queries.normalize_framework(name)
        if normalized and normalized not in names and not queries.retirement(normalized):
            names.append(normalized)
    if not names or not plan(inv, Request(tuple(names), driver=driver or "install")).ok:
        return None
    return "dlws setup %s%s --dry-run" % (" ".join("--framework " + name for name in names),
                                         " --driver " + driver if driver else "")


def driver_install(inv: Dict[str, Any]) -> str:
    """Install the driver with the distribution's packages, or with the plan dlws writes where it can."""
    command = setup_command(inv, driver="install")
    return DRIVER_PACKAGES + (" or plan it with: " + command if command else "")


def driver_upgrade(inv: Dict[str, Any], cuda: Tuple[int, int]) -> str:
    """The driver CUDA X.Y needs and how to get it: dlws's plan on Linux; inside WSL 2 and on Windows the Windows
    driver, updated on Windows (a Linux driver inside WSL breaks the mapped one, DLWS-DRV-007)."""
    if facts.os_info(inv).get("wsl"):
        return driver_for_cuda(cuda, "windows") + ", installed on Windows (NVIDIA app or nvidia.com/drivers; no " \
            "Linux driver inside WSL), then wsl --shutdown"
    if facts.driver_os(inv) == "windows":
        return driver_for_cuda(cuda, "windows")
    return driver_for_cuda(cuda) + planned(inv, "upgrade")


def planned(inv: Dict[str, Any], driver: str) -> str:
    """' (plan it: dlws setup ... --driver DRIVER --dry-run)', or nothing where that plan is impossible here."""
    command = setup_command(inv, driver=driver)
    return " (plan it: %s)" % command if command else ""


def legacy_setup(inv: Dict[str, Any], framework: str, python: Optional[str]) -> str:
    """The plan of a retired framework's last release, which needs an old Python (its GPU build, else its CPU build;
    a fix names only a plan that can be made here). The plan's python step installs the distribution's pythonX.Y
    package, which only a release whose default python3 that is surely has (Debian 12 has no python3.8): elsewhere
    the Python must come from somewhere else first (the step then finds it)."""
    from provision.planner import distribution_python, package_manager, plan
    from provision.planner.model import Request

    variant = next((v for v in ("auto", "cpu") if plan(inv, Request((framework,), variant=v, python=python)).ok), None)
    if variant is None:
        return "no build of its last release fits this machine%s" % (", even with Python %s" % python if python else "")
    command = "dlws setup --framework %s%s%s --dry-run" % (
        framework, " --python " + python if python else "", " --variant cpu" if variant == "cpu" else "")
    shipped = distribution_python(inv)
    if python is None or (package_manager(inv) and shipped == python):
        return command
    return "put a Python %s on PATH first (uv python install %s, or conda create -n py%s python=%s%s), then %s" % (
        python, python, python.replace(".", ""), python,
        "; this distribution's python3 is %s" % shipped if shipped else "", command)
