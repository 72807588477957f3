"""NVIDIA driver: missing, nouveau, mismatched after an upgrade, a GPU off the bus, too old for the CUDA in use."""

from __future__ import annotations

from typing import Any, Dict, Iterator

from provision.doctor import facts
from provision.doctor.model import Finding, rule

DRIVER_INSTALL = ("install the NVIDIA driver with your distribution's packages (Ubuntu: sudo ubuntu-drivers install; "
                  "Debian: sudo apt-get install nvidia-driver; RHEL: sudo dnf module install nvidia-driver) "
                  "or plan it with: dlws setup --driver install --dry-run")


@rule("DLWS-DRV-001", "error", "NVIDIA GPU present but no NVIDIA driver is loaded")
def no_driver(inv: Dict[str, Any]) -> Any:
    """The PCI bus shows an NVIDIA GPU, but the nvidia kernel module is not loaded, so nvidia-smi, NVML and every
    framework see no GPU. Typical after a kernel upgrade without DKMS rebuilding the module, on a fresh install,
    or when Secure Boot refused an unsigned module (check `dmesg | grep -i nvidia` and `mokutil --sb-state`).
    Inside a container this is DLWS-OS-003 instead: the host's driver has to be passed in."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "no-driver" and not facts.os_info(inv).get("container"):
        return no_driver.rule.finding({"nvidia.status": nv.get("status"), "nvidia.message": nv.get("message")},
                                      "sudo modprobe nvidia; if that fails, " + DRIVER_INSTALL)


@rule("DLWS-DRV-002", "error", "The open-source nouveau driver is driving the NVIDIA GPU")
def nouveau(inv: Dict[str, Any]) -> Any:
    """nouveau cannot run CUDA. It must be blacklisted before the NVIDIA driver can load: the NVIDIA packages
    usually add /etc/modprobe.d/blacklist-nouveau.conf, then the initramfs has to be rebuilt and the machine
    rebooted."""
    if facts.nvidia(inv).get("status") == "nouveau":
        return nouveau.rule.finding(
            {"nvidia.status": "nouveau"},
            "printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf"
            " && sudo update-initramfs -u (RHEL: sudo dracut --force) && sudo reboot; then " + DRIVER_INSTALL)


@rule("DLWS-DRV-003", "error", "NVIDIA driver/library version mismatch: reboot to load the upgraded driver")
def version_mismatch(inv: Dict[str, Any]) -> Any:
    """NVML answers "Driver/library version mismatch" when the user-space libraries were upgraded (an apt/dnf
    upgrade of the driver) while the old kernel module is still loaded. Nothing CUDA works until the new module is
    loaded: reboot, or unload and reload the nvidia modules when no process uses the GPU."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "version-mismatch":
        return version_mismatch.rule.finding(
            {"nvidia.message": nv.get("message"), "nvidia.kernel_module_version": nv.get("kernel_module_version")},
            "sudo reboot (or, with no GPU process running: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia "
            "&& sudo modprobe nvidia)")


@rule("DLWS-DRV-004", "error", "A GPU has fallen off the bus")
def gpu_lost(inv: Dict[str, Any]) -> Any:
    """The driver lost contact with a GPU ("GPU is lost", Xid 79): a hardware, power or thermal event. The GPU
    stays unusable until the machine is power-cycled; if it recurs, check the PCIe riser/seating, the power cables
    and the PSU, and the GPU's temperature."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "gpu-lost":
        return gpu_lost.rule.finding({"nvidia.message": nv.get("message")},
                                     "power-cycle the machine; check `sudo dmesg | grep -i xid`, the PCIe seating, "
                                     "power cables and cooling")


@rule("DLWS-DRV-005", "error", "A CUDA toolkit needs a newer driver than the one installed")
def toolkit_newer_than_driver(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The driver reports the highest CUDA version it supports. A toolkit of a newer major version cannot run on it
    at all; a newer minor of the same major runs under CUDA minor-version compatibility but fails on features
    that need the newer driver (PTX JIT of newer code). Upgrade the driver, or use a toolkit the driver supports."""
    supported = facts.major_minor(facts.nvidia(inv).get("cuda_driver_version"))
    if supported is None:
        return
    for toolkit in (inv.get("cuda") or {}).get("toolkits") or []:
        have = facts.major_minor(toolkit.get("version"))
        if have is None or have <= supported:
            continue
        severity = "error" if have[0] > supported[0] else "warning"
        yield toolkit_newer_than_driver.rule.finding(
            {"toolkit": toolkit.get("path"), "toolkit_version": toolkit.get("version"),
             "driver_version": facts.nvidia(inv).get("driver_version"),
             "driver_cuda": facts.nvidia(inv).get("cuda_driver_version")},
            "upgrade the NVIDIA driver to one that supports CUDA %d.%d (dlws setup --driver upgrade --dry-run), "
            "or use a toolkit <= CUDA %d.%d" % (have + supported),
            severity=severity, subject=toolkit.get("path"))


@rule("DLWS-DRV-006", "warning", "NVML could not be queried")
def nvml_error(inv: Dict[str, Any]) -> Any:
    """NVML (the library behind nvidia-smi) failed in a way other than the classic cases above; the message says
    what it reported. A permissions problem on /dev/nvidia* or a partially installed driver are the usual causes."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "nvml-error":
        return nvml_error.rule.finding({"nvidia.message": nv.get("message")},
                                       "run nvidia-smi to see the error; check permissions of /dev/nvidia* and "
                                       "reinstall the driver packages if libraries are missing")
