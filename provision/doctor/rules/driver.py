"""NVIDIA driver: missing, nouveau, mismatched after an upgrade, a GPU off the bus, too old for the CUDA in use."""

from __future__ import annotations

import calendar
import datetime
import re
from typing import Any, Dict, Iterator, List, Optional

from provision.doctor.advice import driver_install, driver_upgrade, planned
from provision.doctor.model import Finding, rule, word
from provision.inventory import facts


def _module_build(inv: Dict[str, Any]) -> Dict[str, Any]:
    return facts.nvidia(inv).get("module_build") or {}


def _no_module_for_kernel(inv: Dict[str, Any]) -> bool:
    """No driver, and the running kernel's /lib/modules was read and holds no nvidia module: DLWS-DRV-012 says why,
    so DLWS-DRV-001 and DLWS-DRV-008 stay quiet (an unknown listing is no evidence either way)."""
    info = facts.os_info(inv)
    return facts.nvidia(inv).get("status") == "no-driver" and _module_build(inv).get("module_files") == [] \
        and not info.get("container") and not info.get("wsl")


def _secure_boot_refused(inv: Dict[str, Any]) -> bool:
    """No driver while Secure Boot is on: DLWS-DRV-008 explains it, so DLWS-DRV-001 stays quiet. Not where the
    kernel log shows the module loaded and refused a GPU (DLWS-DRV-014): Secure Boot let it in."""
    return bool(facts.os_info(inv).get("secure_boot")) and facts.nvidia(inv).get("status") == "no-driver" \
        and not _no_module_for_kernel(inv) and not facts.nvidia(inv).get("refused_gpus")


@rule("DLWS-DRV-001", "error", "NVIDIA GPU present but no NVIDIA driver is loaded")
def no_driver(inv: Dict[str, Any]) -> Any:
    """The PCI bus shows an NVIDIA GPU, but the nvidia kernel module is not loaded, so nvidia-smi, NVML and every
    framework see no GPU. Typical after a kernel upgrade without DKMS rebuilding the module, on a fresh install,
    or when Secure Boot refused an unsigned module (check `dmesg | grep -i nvidia` and `mokutil --sb-state`).
    When the inventory sees Secure Boot on this is DLWS-DRV-008 instead, for a GPU the driver refuses DLWS-DRV-014,
    inside a container DLWS-OS-003 (the host's driver has to be passed in), and under WSL 2 the driver lives on
    Windows (DLWS-DRV-010; DLWS-DRV-007 when a Linux one was installed by mistake)."""
    nv, info = facts.nvidia(inv), facts.os_info(inv)
    if nv.get("status") == "no-driver" and not info.get("container") and not info.get("wsl") \
            and not _secure_boot_refused(inv) and not _no_module_for_kernel(inv) and not _refused_gpus(inv):
        return no_driver.finding({"nvidia.status": nv.get("status"), "nvidia.message": nv.get("message")},
                                 "sudo modprobe nvidia; if that fails, " + driver_install(inv))


@rule("DLWS-DRV-002", "error", "The open-source nouveau driver is driving the NVIDIA GPU")
def nouveau(inv: Dict[str, Any]) -> Any:
    """nouveau cannot run CUDA. It must be blacklisted before the NVIDIA driver can load: the NVIDIA packages
    usually add /etc/modprobe.d/blacklist-nouveau.conf, then the initramfs has to be rebuilt and the machine
    rebooted."""
    if facts.nvidia(inv).get("status") == "nouveau":
        return nouveau.finding(
            {"nvidia.status": "nouveau"},
            "printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf"
            " && sudo update-initramfs -u (RHEL: sudo dracut --force) && sudo reboot; then " + driver_install(inv))


@rule("DLWS-DRV-003", "error", "NVIDIA driver/library version mismatch: reboot to load the upgraded driver")
def version_mismatch(inv: Dict[str, Any]) -> Any:
    """NVML answers "Driver/library version mismatch" when the user-space libraries were upgraded (an apt/dnf
    upgrade of the driver) while the old kernel module is still loaded. Nothing CUDA works until the new module is
    loaded: reboot, or unload and reload the nvidia modules when no process uses the GPU. Inside WSL 2 there is no
    Linux module to reload: DLWS-DRV-007 or DLWS-DRV-010 says what to do instead."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "version-mismatch" and facts.os_info(inv).get("wsl") != 2:
        build = _module_build(inv)
        return version_mismatch.finding(
            {"nvidia.message": nv.get("message"), "nvidia.kernel_module_version": nv.get("kernel_module_version"),
             "reboot_required": build.get("reboot_required"),
             "reboot_required_pkgs": build.get("reboot_required_pkgs")},
            "sudo reboot (or, with no GPU process running: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia "
            "&& sudo modprobe nvidia)" + _unfinished_upgrade(inv))


def _unfinished_upgrade(inv: Dict[str, Any]) -> str:
    """A reboot loads the old module again when an interrupted apt upgrade left the new one uninstalled
    (https://github.com/illinois-scicomp/machine-shop-maintenance/issues/70: a reboot did not help,
    `apt install --fix-broken` did)."""
    if facts.os_info(inv).get("id") in ("ubuntu", "debian", "linuxmint", "pop"):
        return ("; if the mismatch survives the reboot, the upgrade did not finish: sudo apt-get install "
                "--fix-broken, then reboot")
    return ""


@rule("DLWS-DRV-004", "error", "A GPU has fallen off the bus")
def gpu_lost(inv: Dict[str, Any]) -> Any:
    """The driver lost contact with a GPU ("GPU is lost", Xid 79): a hardware, power or thermal event. The GPU
    stays unusable until the machine is power-cycled; if it recurs, check the PCIe riser/seating, the power cables
    and the PSU, and the GPU's temperature."""
    nv = facts.nvidia(inv)
    if nv.get("status") == "gpu-lost":
        return gpu_lost.finding({"nvidia.message": nv.get("message")},
                                "power-cycle the machine; check `sudo dmesg | grep -i xid`, the PCIe seating, "
                                "power cables and cooling")


@rule("DLWS-DRV-005", "error", "A CUDA toolkit needs a newer driver than the one installed")
def toolkit_newer_than_driver(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The driver supports CUDA up to a version (reported, or derived from the driver version). A toolkit of a newer
    major cannot run on it at all, nor one of the same major below that major's minor-version compatibility floor
    (an error); from the floor on it runs under minor-version compatibility but fails on features that need the
    newer driver, PTX JIT of newer code (an info). The judgment frameworks and setup get. Upgrade the driver, or use
    a toolkit the driver supports."""
    from provision import compat

    cuda, derived = compat.driver_cuda(inv)
    supported = facts.major_minor(cuda)
    if facts.nvidia(inv).get("status") != "ok" or supported is None:
        return
    for toolkit in (inv.get("cuda") or {}).get("toolkits") or []:
        have = facts.major_minor(toolkit.get("version"))
        kind, why = compat.cuda_on_driver(inv, toolkit.get("version"))
        if have is None or kind not in (compat.CANNOT, compat.MINOR_VERSION):
            continue
        severity = "error" if kind == compat.CANNOT else "info"
        yield toolkit_newer_than_driver.finding(
            {"toolkit": toolkit.get("path"), "toolkit_version": toolkit.get("version"),
             "driver_version": facts.nvidia(inv).get("driver_version"),
             "driver_cuda": cuda, "driver_cuda_derived": derived, "judgment": why},
            "upgrade to %s, or use a toolkit <= CUDA %d.%d"
            % ((driver_upgrade(inv, have),) + supported),
            severity=severity, subject=toolkit.get("path"))


@rule("DLWS-DRV-006", "warning", "NVML could not be queried")
def nvml_error(inv: Dict[str, Any]) -> Any:
    """NVML (the library behind nvidia-smi) failed in a way other than the classic cases above; the message says
    what it reported. A permissions problem on /dev/nvidia* or a partially installed driver are the usual causes.
    Inside a container, "Failed to initialize NVML: Unknown Error" after the host ran `systemctl daemon-reload`
    means the container lost its cgroup access to the GPU devices (NVIDIA/nvidia-container-toolkit#48): restart the
    container, and configure the runtime with CDI (nvidia-ctk cdi generate) so it cannot happen again. Inside WSL 2
    the driver is Windows' and this is DLWS-DRV-010 instead."""
    nv, info = facts.nvidia(inv), facts.os_info(inv)
    if nv.get("status") != "nvml-error" or info.get("wsl") == 2:
        return None
    if info.get("container") and "Unknown Error" in (nv.get("message") or ""):
        return _container_lost_devices(inv)
    return nvml_error.finding({"nvidia.message": nv.get("message")},
                              "run nvidia-smi to see the error; check permissions of /dev/nvidia* and "
                              "reinstall the driver packages if libraries are missing")


#: NVIDIA's workarounds for containers that lose their GPUs on a systemd reload, most recommended first
#: (NVIDIA/nvidia-container-toolkit#48, the toolkit's troubleshooting guide).
LOST_DEVICES_FIX = ("recreate the container (it regains the GPUs when started anew); so that it does not recur, on "
                    "the host: sudo nvidia-ctk system create-dev-char-symlinks --create-all, and at every boot (a "
                    "udev rule, NVIDIA/nvidia-container-toolkit#48); or pass the devices explicitly (docker run "
                    "--device /dev/nvidiactl --device /dev/nvidia0 ...); or Docker's "
                    "\"exec-opts\": [\"native.cgroupdriver=cgroupfs\"] in /etc/docker/daemon.json")


def _container_lost_devices(inv: Dict[str, Any]) -> Any:
    """"Failed to initialize NVML: Unknown Error" inside a container: with /dev/nvidia* passed in, the container's
    cgroup no longer allows them (a systemd daemon-reload on the host rewrote its device rules: runc found no
    /dev/char links to the NVIDIA devices). Without any /dev/nvidia* the GPUs were never passed in."""
    nv, devices = facts.nvidia(inv), ((inv.get("containers") or {}).get("nvidia_devices"))
    evidence = {"container": facts.os_info(inv).get("container"), "nvidia.message": nv.get("message"),
                "/dev/nvidia*": devices if devices is not None else "not read"}
    if devices == []:
        return nvml_error.finding(
            evidence, "start the container with the GPUs: docker run --gpus all ... (podman: --device "
            "nvidia.com/gpu=all; Kubernetes: a nvidia.com/gpu resource limit)",
            title="NVML fails in a container that has no /dev/nvidia* device")
    title = ("The container lost its access to the GPU devices (NVML: Unknown Error after a systemd reload)"
             if devices else "NVML: Unknown Error in a container: most likely lost GPU access after a systemd reload")
    return nvml_error.finding(evidence, LOST_DEVICES_FIX, title=title)


@rule("DLWS-DRV-007", "error", "A Linux NVIDIA driver is installed inside WSL 2")
def linux_driver_in_wsl(inv: Dict[str, Any]) -> Any:
    """Under WSL 2 the GPU driver lives on Windows and WSL maps its libraries from /usr/lib/wsl/lib. A Linux
    driver package installed inside the distribution puts its own libcuda/libnvidia-ml in the library path, which
    shadow the mapped ones and break CUDA ("CUDA driver version is insufficient", NVML init failures). NVIDIA's
    WSL guide: do not install any NVIDIA Linux driver within WSL 2."""
    files = facts.nvidia(inv).get("wsl_linux_driver") or []
    if facts.os_info(inv).get("wsl") == 2 and files:
        return linux_driver_in_wsl.finding(
            {"files": files},
            "remove the Linux driver packages inside WSL (sudo apt-get purge 'nvidia-driver-*' 'libnvidia-*' "
            "'nvidia-utils-*'), keep the Windows driver, then wsl --shutdown from Windows")


@rule("DLWS-DRV-008", "error", "Secure Boot is on and the NVIDIA module is not loaded")
def secure_boot_blocks_module(inv: Dict[str, Any]) -> Any:
    """With UEFI Secure Boot on, the kernel loads only signed modules. A driver built by DKMS without an enrolled
    Machine Owner Key is refused ("Key was rejected by service" in dmesg), so the GPU has no driver."""
    if _secure_boot_refused(inv):
        return secure_boot_blocks_module.finding(
            {"os.secure_boot": True, "nvidia.status": "no-driver"}, _enroll_signing_key(inv))


def _enroll_signing_key(inv: Dict[str, Any]) -> str:
    """Fedora's driver (RPM Fusion akmod-nvidia) is built by akmods, which signs with its own key, not DKMS's: the
    steps of https://rpmfusion.org/Howto/Secure%20Boot, confirmed in
    https://github.com/gridhead/nvidia-auto-installer-for-fedora-linux/issues/107."""
    if facts.os_info(inv).get("id") == "fedora":
        return ("create and enroll the akmods signing key, rebuild the module signed, and reboot to confirm the key "
                "in the MOK manager: sudo kmodgenca -a && sudo mokutil --import "
                "/etc/pki/akmods/certs/public_key.der && sudo akmods --force; or disable Secure Boot")
    return ("enroll the DKMS signing key and reboot to confirm it in the MOK manager: sudo mokutil --import "
            "/var/lib/shim-signed/mok/MOK.der (Ubuntu; Debian: /var/lib/dkms/mok.pub), or disable Secure Boot")


@rule("DLWS-DRV-009", "error", "The driver reports fewer NVIDIA GPUs than the PCI bus holds")
def gpus_missing(inv: Dict[str, Any]) -> Any:
    """A GPU that is on the PCI bus but that the driver does not report has usually fallen off the bus (Xid 79)
    or failed to initialise (Xid 62/119 in dmesg). Inside a container this is expected (NVIDIA_VISIBLE_DEVICES
    hides GPUs that sysfs still shows) and not reported."""
    nv = facts.nvidia(inv)
    on_bus, reported = nv.get("pci_gpus"), len(facts.gpus(inv, "nvidia"))
    if on_bus and nv.get("status") == "ok" and reported < on_bus and not facts.os_info(inv).get("container"):
        return gpus_missing.finding({"pci_gpus": on_bus, "driver_gpus": reported},
                                    "sudo dmesg | grep -i xid; power-cycle the machine; reseat the GPU if it "
                                    "recurs")


#: What WSL 2 maps from the Windows driver into /usr/lib/wsl/lib for CUDA: the driver API and the tool.
WSL_CUDA_FILES = ("libcuda.so.1", "nvidia-smi")
WINDOWS_SIDE = ("on Windows, not inside WSL: install or update the NVIDIA Windows driver (one with WSL support, R470 "
                "or newer; https://www.nvidia.com/Download/index.aspx); update Windows (the GPU in WSL 2 needs "
                "Windows 11, or Windows 10 21H2 or newer); run `wsl --update` and check `wsl --version` (PowerShell), "
                "then `wsl --shutdown` and reopen the distribution. Install no Linux NVIDIA driver inside WSL")


@rule("DLWS-DRV-010", "error", "No GPU reaches WSL 2 from the Windows driver")
def no_gpu_in_wsl(inv: Dict[str, Any]) -> Any:
    """Under WSL 2 the GPU is the Windows driver's: WSL maps its libcuda, libnvidia-ml and nvidia-smi into
    /usr/lib/wsl/lib, and nothing installed inside the distribution can replace them. When that nvidia-smi fails
    ("Failed to initialize NVML: GPU access blocked by the operating system", "Failed to initialize NVML: Unknown
    Error", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"), or /usr/lib/wsl/lib has
    no libcuda.so.1 / nvidia-smi (a Windows driver without WSL support, older than R470), the fix is on Windows:
    a current NVIDIA Windows driver, a Windows with GPU support in WSL (Windows 11, or Windows 10 21H2+), and a
    current WSL (`wsl --update`, `wsl --version`). Reported on Windows Server with data-center GPUs too
    (microsoft/WSL#11865, #14339). Without any NVIDIA file mapped and no tool answering, this is a warning: the PC
    may have no NVIDIA GPU. Where a Linux driver installed inside WSL shadows the mapped libraries, DLWS-DRV-007
    says so instead."""
    nv, info = facts.nvidia(inv), facts.os_info(inv)
    status = nv.get("status")
    if info.get("wsl") != 2 or status in (None, "ok") or nv.get("wsl_linux_driver"):
        return None
    mapped = nv.get("wsl_libraries")
    found = {name: (None if mapped is None else name in mapped) for name in WSL_CUDA_FILES}
    if status == "no-gpu":
        if any(g.get("vendor") != "nvidia" for g in facts.gpus(inv)) or any(found.values()):
            return None  # another vendor's GPU answers, or the NVIDIA files are there
        severity = "warning"
    else:
        severity = "error"
    evidence: Dict[str, Any] = {"nvidia.status": status, "nvidia.message": nv.get("message")}
    evidence.update(("/usr/lib/wsl/lib/%s" % name, {None: "not read", True: "present", False: "missing"}[there])
                    for name, there in found.items())
    return no_gpu_in_wsl.finding(evidence, WINDOWS_SIDE, severity=severity)


@rule("DLWS-DRV-011", "warning", "A GPU the current NVIDIA drivers no longer support")
def legacy_gpu(inv: Dict[str, Any]) -> Iterator[Finding]:
    """NVIDIA drops old GPU architectures from new driver branches and keeps a legacy branch as their last: 340 for
    Tesla (GeForce 8/9/200), 390 for Fermi, 470 for Kepler (K80, TITAN Black), 580 for Maxwell, Pascal and Volta
    (GTX 900/10, TITAN Xp, P100, V100). On such a GPU no newer driver installs, so no CUDA newer than that branch's
    runs: 470 stops at CUDA 11.4 (11.x under minor-version compatibility), 390 at 9.1. The unmaintained branches
    (340, 390, 470) get no fixes for new kernels (a warning); 580 is maintained (an info)."""
    from provision.knowledge import queries

    for gpu in facts.gpus(inv, "nvidia"):
        if gpu.get("integrated"):
            continue  # a Jetson's GPU: its driver comes with the L4T release, there is no branch to keep
        cc = gpu.get("compute_capability")
        branch = queries.legacy_driver_branch(cc) if cc else None
        if branch is None:
            continue
        maintained = bool(branch["maintained"])
        evidence = {"gpu": facts.gpu_label(gpu), "compute_capability": cc,
                    "architecture": gpu.get("architecture") or "/".join(branch["architectures"]),
                    "last_driver_branch": branch["branch"], "last_release": branch["last_release"],
                    "branch_max_cuda": branch["max_cuda"], "branch_maintained": maintained,
                    "branch_eol": branch["eol"], "driver_version": facts.nvidia(inv).get("driver_version")}
        keep = "keep the NVIDIA %s driver branch%s%s: it runs CUDA up to %s, so use framework builds for CUDA <= %s" % (
            branch["branch"], " (last release %s)" % branch["last_release"] if branch["last_release"] else "",
            " (supported until %s)" % branch["eol"] if branch["eol"] else "", branch["max_cuda"], branch["max_cuda"])
        yield legacy_gpu.finding(
            evidence, keep + ("" if maintained else "; the branch gets no more fixes: for newer CUDA, or a kernel it "
                              "does not build for, the GPU must be replaced"),
            severity="info" if maintained else "warning", subject=facts.gpu_label(gpu))


RUNNING_KERNEL = "$(uname -r)"  # where the running kernel was not read, the fix lets the shell ask


def _k(kernel: str) -> str:
    """A kernel release as one shell word of a fix (the shell's own question left as it is)."""
    return kernel if kernel == RUNNING_KERNEL else word(kernel)


def headers_install(inv: Dict[str, Any], kernel: str) -> str:
    """The command that installs a kernel's headers (the build tree DKMS compiles the module against)."""
    os_id = facts.os_info(inv).get("id") or ""
    if os_id in ("ubuntu", "debian", "linuxmint", "pop"):
        return "sudo apt-get install linux-headers-%s" % _k(kernel)
    if os_id in ("fedora", "rhel", "rocky", "almalinux", "centos", "ol", "amzn"):
        return "sudo dnf install kernel-devel-%s" % _k(kernel)
    return "install the headers (build tree) of kernel %s" % _k(kernel)


def _dkms_summary(build: Dict[str, Any]) -> Any:
    """'nvidia/535.183.01: 6.5.0-41-generic built, installed' for each DKMS build (None where /var/lib/dkms is
    unread)."""
    builds = build.get("dkms")
    if builds is None:
        return None
    return ["%s/%s: %s %s%s" % (b.get("module"), b.get("version"), b.get("kernel"),
                                {True: "built", False: "not built", None: "?"}[b.get("built")],
                                ", installed" if b.get("installed") else "") for b in builds]


def _version_key(text: str) -> List[int]:
    return [int(p) for p in re.split(r"[./]", text) if p.isdigit()][:8]


def _kernel_log(build: Dict[str, Any], kernel: str) -> Dict[str, Any]:
    """The make.log of the last DKMS build tried for kernel ({} where none names it)."""
    return next((log for log in build.get("make_logs") or [] if log.get("kernel") == kernel), {})


def _gcc_major(compiler: Any) -> Optional[int]:
    """'x86_64-linux-gnu-gcc-12 (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0' -> 12: the version that ends the line, as
    `gcc --version` prints it; None for clang or anything else."""
    match = re.search(r"\bgcc\b.*?(\d+)\.\d+(?:\.\d+)?\s*(?:\d{8})?\s*$", str(compiler or ""))
    if not match and re.match(r"cc\b", str(compiler or "")):  # "cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"
        match = re.search(r"(\d+)\.\d+(?:\.\d+)?\s*$", str(compiler))
    return int(match.group(1)) if match else None


def _compiler_step(inv: Dict[str, Any], log: Dict[str, Any]) -> Optional[str]:
    """Where the make.log says DKMS compiled with an older gcc than the kernel's (its "the compiler differs"
    warning): a kernel built by gcc 12 passes it flags gcc 11 rejects ('unrecognized command-line option
    -ftrivial-auto-var-init=zero'); installing gcc-12/g++-12 fixed it in pop-os/pop#3117, making it the default gcc
    where the build still took the old one in m0nad/Diamorphine#43."""
    want, have = _gcc_major(log.get("kernel_compiler")), _gcc_major(log.get("compiler"))
    if want is None or have is None or want <= have:
        return None
    if facts.os_info(inv).get("id") in ("ubuntu", "debian", "linuxmint", "pop"):
        return ("install the compiler the kernel was built with: sudo apt-get install gcc-%d g++-%d (and, if the "
                "build still uses gcc %d, make gcc-%d the default: sudo update-alternatives --install /usr/bin/gcc "
                "gcc /usr/bin/gcc-%d %d)" % (want, want, have, want, want, want))
    return "install gcc %d, the compiler the kernel was built with (the build used gcc %d)" % (want, have)


def _rebuild(inv: Dict[str, Any], build: Dict[str, Any], kernel: str) -> str:
    """How to get a module for kernel: DKMS when the driver uses it (a version only added, whose build failed,
    too), else a driver install for this kernel; the compiler first where the make.log shows the wrong one."""
    dkms = ["%s/%s" % (b.get("module"), b.get("version")) for b in build.get("dkms") or []]
    versions = dkms or list(build.get("dkms_versions") or [])
    if not versions:
        return ("reinstall the NVIDIA driver for this kernel, with DKMS so that kernel updates rebuild it (" +
                driver_install(inv) + ")")
    newest = max(versions, key=_version_key)
    log = _kernel_log(build, kernel)
    failed = bool(log.get("errors")) or any(b.get("kernel") == kernel and not b.get("built")
                                            for b in build.get("dkms") or [])
    step = "sudo dkms install %s -k %s" % (word(newest), _k(kernel))
    compiler = _compiler_step(inv, log)
    if compiler:
        return compiler + "; then " + step
    if any("autoconf.h" in str(error) for error in log.get("errors") or []):
        # the build tree is there (headers look installed) but lacks its generated config: reinstalling the
        # headers fixed it in Frogging-Family/nvidia-all#150 (zen-kernel/zen-kernel#305: "Install the kernel headers")
        return ("reinstall the headers of kernel %s, whose build tree lacks autoconf.h (%s); then %s"
                % (_k(kernel), headers_install(inv, kernel), step))
    if failed:
        step += ("; it failed before: read /var/lib/dkms/%s/build/make.log (a kernel newer than the driver "
                 "supports needs a newer driver)" % word(newest))
    return step


@rule("DLWS-DRV-012", "error", "No NVIDIA kernel module is built for the running kernel")
def no_module_for_kernel(inv: Dict[str, Any]) -> Any:
    """The driver is installed but /lib/modules/$(uname -r) holds no nvidia module, so nothing can load it:
    nvidia-smi says "couldn't communicate with the NVIDIA driver" and modprobe "Module nvidia not found". The
    classic: a kernel update that DKMS did not follow, because the new kernel's headers were not installed
    (/lib/modules/<kernel>/build missing) or its build failed (a kernel newer than the driver supports), or a
    driver installed without DKMS (NVIDIA's .run installer, NVIDIA/nvidia-docker#365). Where an update removed the
    running kernel's modules altogether, a reboot into the new kernel is the fix. Evidence: the running kernel,
    the modules found for it, its headers, the DKMS builds and the installed kernels."""
    if not _no_module_for_kernel(inv):
        return None
    build = _module_build(inv)
    kernel = build.get("running_kernel") or RUNNING_KERNEL
    installed, newest = build.get("installed_kernels"), build.get("newest_kernel")
    evidence = {"running_kernel": kernel, "module_files": [], "headers": build.get("headers"),
                "dkms": _dkms_summary(build), "installed_kernels": installed, "newest_kernel": newest,
                "newest_kernel_module_files": build.get("newest_kernel_module_files"),
                "reboot_required": build.get("reboot_required"), "nvidia.message": facts.nvidia(inv).get("message")}
    if not build.get("dkms") and build.get("dkms_versions"):
        evidence["dkms_versions"] = build.get("dkms_versions")  # added, never built (a failed build)
    log = _kernel_log(build, kernel)
    if log:
        evidence["make_log"] = {"path": log.get("path"), "kernel_compiler": log.get("kernel_compiler"),
                                "compiler": log.get("compiler"), "errors": (log.get("errors") or [])[:3]}
    if installed is not None and kernel not in installed and newest:
        return no_module_for_kernel.finding(
            evidence, "sudo reboot: an update removed the running kernel's modules; boot kernel %s%s" % (
                word(newest), "" if build.get("newest_kernel_module_files") else
                " (it has no nvidia module either: then %s)" % _rebuild(inv, build, newest)),
            title="The running kernel's modules were removed by an update: no NVIDIA module can load")
    if newest and build.get("newest_kernel_module_files"):
        return no_module_for_kernel.finding(
            evidence, "sudo reboot into kernel %s, which has the module; or build it for this one: %s"
            % (word(newest), _rebuild(inv, build, kernel)))
    steps = []
    if build.get("headers") is False:
        steps.append(headers_install(inv, kernel))
    steps.append(_rebuild(inv, build, kernel))
    steps.append("sudo modprobe nvidia")
    if build.get("headers") is None:
        evidence["headers"] = "not read: check that /lib/modules/%s/build exists" % kernel
    return no_module_for_kernel.finding(evidence, "; then ".join(steps))


def _build_for_next(build: Dict[str, Any], kernel: str) -> str:
    """How to build the module for a kernel not running yet: DKMS, by the build it has or by autoinstall where
    /var/lib/dkms was not read."""
    dkms = list(build.get("dkms") or [])
    if not dkms:
        return "sudo dkms autoinstall -k %s (a driver without DKMS: reinstall it after booting that kernel)" % (
            _k(kernel))
    newest = max(dkms, key=lambda b: _version_key(str(b.get("version"))))
    return "sudo dkms install %s -k %s" % (word("%s/%s" % (newest.get("module"), newest.get("version"))), _k(kernel))


@rule("DLWS-DRV-013", "warning", "The kernel the next boot starts has no NVIDIA module")
def next_kernel_without_module(inv: Dict[str, Any]) -> Any:
    """A newer kernel than the running one is installed (the boot loader boots the newest by default) and
    /lib/modules/<that kernel> holds no nvidia module: after the reboot the GPU is gone (DLWS-DRV-012 on that boot).
    DKMS did not build it: the kernel's headers are missing, or the driver does not build for that kernel (a kernel
    series newer than the driver, void-linux/void-packages#61087). Build it before rebooting, or keep booting the
    running kernel. Judged where the driver works now or the running kernel has the module."""
    build = _module_build(inv)
    newest, running = build.get("newest_kernel"), build.get("running_kernel")
    if not newest or build.get("newest_kernel_module_files") != [] or _no_module_for_kernel(inv):
        return None
    if not build.get("module_files") and facts.nvidia(inv).get("status") != "ok":
        return None  # no module now either: the driver's state is what to fix first
    return next_kernel_without_module.finding(
        {"running_kernel": running, "running_kernel_module_files": build.get("module_files"),
         "nvidia.status": facts.nvidia(inv).get("status"), "newest_kernel": newest,
         "newest_kernel_module_files": [], "dkms": _dkms_summary(build),
         "reboot_required": build.get("reboot_required"),
         "reboot_required_pkgs": build.get("reboot_required_pkgs")},
        "before rebooting: make sure kernel %s's headers are installed (%s); then %s; if that build fails (its "
        "make.log under /var/lib/dkms), the driver does not support kernel %s yet: keep booting kernel %s (make it "
        "the boot loader's default) until a driver that does is installed"
        % (word(newest), headers_install(inv, newest), _build_for_next(build, newest), word(newest), word(running)))


def _branch(version: Any) -> Optional[int]:
    """A driver version's branch: '595.71.05' -> 595."""
    head = str(version or "").split(".")[0]
    return int(head) if head.isdigit() and len(head) <= 4 else None


def _installed_driver(inv: Dict[str, Any]) -> Optional[str]:
    """The installed driver's version where none answers: its libraries' names, else the newest DKMS source."""
    version = facts.nvidia(inv).get("library_version")
    if version:
        return str(version)
    versions = [str(b.get("version")) for b in _module_build(inv).get("dkms") or [] if _branch(b.get("version"))]
    return max(versions, key=lambda v: [int(p) for p in v.split(".") if p.isdigit()]) if versions else None


def _refused_gpus(inv: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each NVIDIA GPU the installed driver will not drive, with the legacy row of its last branch where it has one:
    the kernel log's own words first; else, with no driver answering, a GPU whose last branch (by its compute
    capability) is older than the installed driver's branch. An unknown capability or driver judges nothing."""
    from provision.knowledge import queries
    from provision.knowledge.cuda_drivers import legacy_branch

    nv = facts.nvidia(inv)
    gpus = facts.gpus(inv, "nvidia")
    found: List[Dict[str, Any]] = []
    for said in nv.get("refused_gpus") or []:
        gpu = next((g for g in gpus if said.get("pci_bus_id") and g.get("pci_bus_id") == said.get("pci_bus_id")
                    or said.get("name") and g.get("name") and str(g.get("name")) in str(said.get("name"))), {})
        cc = gpu.get("compute_capability")
        row = legacy_branch(said["legacy_branch"]) if said.get("legacy_branch") else \
            (queries.legacy_driver_branch(cc) if cc else None)
        found.append({"reason": said.get("reason"), "gpu": gpu, "said": said, "row": row,
                      "driver": said.get("driver_version") or _installed_driver(inv)})
    if found or nv.get("status") not in ("no-driver", "nvml-error", "nouveau"):
        return found
    installed = _installed_driver(inv)
    for gpu in gpus:
        cc = gpu.get("compute_capability")
        row = queries.legacy_driver_branch(cc) if cc else None
        if row and _branch(installed) and (_branch(installed) or 0) > int(row["branch"]):
            found.append({"reason": "legacy-branch", "gpu": gpu, "said": None, "row": row, "driver": installed})
    return found


def _legacy_install(inv: Dict[str, Any], row: Dict[str, Any]) -> str:
    """How to install a legacy branch: NixOS's package set (nixpkgs pkgs/os-specific/linux/nvidia-x11: legacy_470,
    legacy_390, legacy_340), on Ubuntu and Mint the 470-server packages (linuxmint/mintdrivers#111: there
    nvidia-driver-470 pulled in 535, nvidia-driver-470-server and nvidia-dkms-470-server worked), else the
    distribution's legacy packages or NVIDIA's last release of the branch."""
    branch, os_id = row["branch"], facts.os_info(inv).get("id")
    if os_id == "nixos":
        return "hardware.nvidia.package = config.boot.kernelPackages.nvidiaPackages.legacy_%s; then nixos-rebuild " \
               "switch and reboot" % branch
    if os_id in ("ubuntu", "linuxmint", "pop") and branch == "470":
        return "sudo apt-get install nvidia-driver-470-server nvidia-dkms-470-server in place of the newer " \
               "branch's packages (nvidia-driver-470 itself may pull in a newer branch), then reboot"
    return "remove the newer driver, then install your distribution's %s legacy packages or NVIDIA's %s .run " \
           "installer, and reboot" % (branch, row.get("last_release") or branch)


def _refusal_fix(inv: Dict[str, Any], refusal: Dict[str, Any]) -> str:
    """Install the GPU's last branch; for a GPU the open flavour refuses whose branch is current, the
    proprietary flavour of the same driver."""
    from provision.knowledge import load

    row, driver = refusal["row"], refusal["driver"]
    if row and (refusal["reason"] == "legacy-branch" or (_branch(driver) or 0) > int(row["branch"])):
        return ("replace %s by the NVIDIA %s branch, the last that drives this GPU (%s): %s; "
                "it runs CUDA up to %s, so use framework builds for CUDA <= %s%s" % (
                    "driver " + driver if driver else "the installed driver", row["branch"],
                    "last release " + row["last_release"] if row.get("last_release") else "still maintained",
                    _legacy_install(inv, row), row["max_cuda"], row["max_cuda"],
                    "" if row.get("maintained") else "; the branch gets no more fixes: for newer CUDA the GPU must "
                    "be replaced"))
    open_info = load("cuda")["open_kernel_modules"]
    os_id = facts.os_info(inv).get("id")
    how = {"fedora": "negativo17's packages: sudo sed -i -e 's/kernel-open$/kernel/g' /etc/nvidia/kernel.conf && "
                     "sudo akmods --rebuild && sudo reboot (negativo17/nvidia-driver#158)",
           "ubuntu": "sudo apt-get install nvidia-driver-%s in place of nvidia-driver-%s-open, then reboot"
                     % ((_branch(driver) or "<branch>",) * 2),
           "arch": "sudo pacman -S nvidia-dkms (in place of nvidia-open-dkms), then reboot"}.get(
        os_id or "", "reinstall the driver with its proprietary kernel module (NVIDIA's .run: -m=kernel), then reboot")
    return ("install the proprietary kernel module flavour of %s: the open flavour drives %s (compute "
            "capability %s) and newer GPUs only, and is the default from the %s branch; %s" % (
                "driver " + driver if driver else "the installed driver", open_info.get("architectures_from"),
                open_info["cc_min"],
                open_info["default_from_branch"], how))


@rule("DLWS-DRV-014", "error", "The installed NVIDIA driver does not drive this GPU")
def driver_refuses_gpu(inv: Dict[str, Any]) -> Iterator[Finding]:
    """The nvidia module loads, finds no GPU it supports and gives up ("NVRM: No NVIDIA GPU found"), so nvidia-smi
    "couldn't communicate with the NVIDIA driver" and DKMS, the headers and modprobe all look fine. Two causes: a GPU
    the driver branch dropped ("supported through the NVIDIA 470.xx Legacy drivers ... will ignore this GPU": a
    Kepler on 535, a Pascal on 590+), and a pre-Turing GPU under the open kernel modules (the default from 560:
    "not supported by open nvidia.ko because it does not include the required GPU System Processor"). Judged from
    the kernel log where it was read, else from the GPU's compute capability against the installed driver's branch
    (its libraries or DKMS source). Not judged inside containers or WSL (the kernel is the host's)."""
    info = facts.os_info(inv)
    if info.get("container") or info.get("wsl"):
        return
    for refusal in _refused_gpus(inv):
        gpu, said, row = refusal["gpu"], refusal["said"] or {}, refusal["row"] or {}
        label = facts.gpu_label(gpu) if gpu else (said.get("name") or said.get("pci_bus_id") or "GPU")
        evidence = {"gpu": label, "pci_device_id": gpu.get("pci_device_id") or said.get("pci_device_id"),
                    "compute_capability": gpu.get("compute_capability"), "installed_driver": refusal["driver"],
                    "reason": refusal["reason"], "kernel_log": said.get("message") or
                    ("not read" if facts.nvidia(inv).get("kernel_log") is None else "no NVRM message about it"),
                    "last_driver_branch": row.get("branch"), "nvidia.status": facts.nvidia(inv).get("status")}
        yield driver_refuses_gpu.finding(evidence, _refusal_fix(inv, refusal), subject=label)


@rule("DLWS-DRV-015", "warning", "The NVIDIA driver branch is past its end of life")
def branch_end_of_life(inv: Dict[str, Any], today: datetime.date) -> Any:
    """NVIDIA fixes each data center driver branch until its end of life and lists the branches it still supports
    (NVIDIA Data Center Drivers, 'Supported Drivers and CUDA Toolkit Versions'). Past it the branch gets no fixes,
    security fixes included, and newer kernels and CUDA releases are not supported on it. The fix names the current
    branches this machine's GPUs can run: only R580 for Maxwell, Pascal and Volta, none for a GPU whose last branch
    is older (DLWS-DRV-011 says so). A branch older than every current one is out of support even where the table
    has no row for it; a newer New Feature Branch it cannot date is not judged. Linux drivers only (Windows and WSL 2
    number theirs differently); not inside containers or on a Jetson, whose driver is the host's or the L4T
    release's."""
    from provision.knowledge import queries

    nv, info = facts.nvidia(inv), facts.os_info(inv)
    if facts.driver_os(inv) != "linux" or info.get("system") != "linux" or info.get("container") \
            or nv.get("source") == "jetson":
        return None
    branch = queries.branch_of(nv.get("driver_version"))
    support = queries.driver_branch_support(branch, today) if branch else None
    if support is None or not support["ended"]:
        return None
    capabilities = [g["compute_capability"] for g in facts.gpus(inv, "nvidia") if g.get("compute_capability")]
    last = [row["branch"] for row in map(queries.legacy_driver_branch, capabilities) if row]
    ceiling = min((int(b) for b in last), default=None)  # the newest branch every GPU here runs
    targets = [row for row in queries.current_driver_branches() if ceiling is None or int(row["branch"]) <= ceiling]
    if not targets or branch in last:
        return None  # a legacy GPU on its last branch: DLWS-DRV-011's
    title = "NVIDIA driver branch R%s %s" % (branch, "ended in %s (%s)" % (_month(support["eol"]), support[
        "designation"]) if support["eol"] else "is out of support")
    moves = ", ".join("R%s (%s, fixes until %s)" % (row["branch"], row["designation"], _month(row["eol"]))
                      for row in targets)
    return branch_end_of_life.finding(
        {"driver_version": nv.get("driver_version"), "branch": branch, "branch_eol": support["eol"],
         "designation": support["designation"], "current_branches": [row["branch"] for row in targets],
         "last_branch_of_these_gpus": str(ceiling) if ceiling else None},
        "move to a supported driver branch: %s%s" % (moves, planned(inv, "upgrade")), title=title)


def _month(text: str) -> str:
    """'2026-06' -> 'June 2026', as NVIDIA's table words it."""
    year, month = text.split("-")
    return "%s %s" % (calendar.month_name[int(month)], year)
