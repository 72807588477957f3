"""Container runtimes on a GPU host: GPUs lost at a systemd reload, CDI specs of another driver, Podman without CDI,
a toolkit hook pointed at an ldconfig the host does not have, Docker from the snap, a Kubernetes node whose
containerd does not run NVIDIA's runtime by default."""

from __future__ import annotations

from typing import Any, Dict, Iterator

from provision.doctor.model import Finding, rule, word
from provision.inventory import facts


def _containers(inv: Dict[str, Any]) -> Dict[str, Any]:
    return inv.get("containers") or {}


def toolkit_evidence(inv: Dict[str, Any]) -> bool:
    """The NVIDIA Container Toolkit is here: nvidia-ctk answered, or Docker's daemon.json names the nvidia runtime
    (which `nvidia-ctk runtime configure` writes; a host whose nvidia-ctk gave no version still has the toolkit)."""
    return bool(facts.nvidia(inv).get("container_toolkit")
                or "nvidia" in (_containers(inv).get("docker_runtimes") or []))


def _gpu_host(inv: Dict[str, Any]) -> bool:
    """A host (not a container) whose NVIDIA driver works, with the NVIDIA Container Toolkit on it."""
    return not facts.os_info(inv).get("container") and facts.nvidia(inv).get("status") == "ok" \
        and toolkit_evidence(inv)


def _dev_char(linked: Any) -> str:
    return "present" if linked is True else "missing" if linked is False else "not read"


#: NVIDIA's workarounds (the toolkit's troubleshooting guide, "Containers losing access to GPUs").
RELOAD_FIX = ("recreate a container that lost its GPUs; so that it does not recur: \"exec-opts\": "
              "[\"native.cgroupdriver=cgroupfs\"] in /etc/docker/daemon.json, then sudo systemctl restart docker; or "
              "inject the GPUs through CDI (sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml, then docker "
              "run --device nvidia.com/gpu=all on a Docker with CDI enabled); or pass the device nodes explicitly "
              "(docker run --gpus all --device /dev/nvidiactl --device /dev/nvidia0 ...)")
DEV_CHAR_FIX = ("; /dev/char/195:255 is missing, and some runc versions drop the devices even when they are passed "
                "explicitly: sudo nvidia-ctk system create-dev-char-symlinks --create-all")


@rule("DLWS-CTR-001", "warning", "Docker's GPU containers here lose their GPUs at the next systemctl daemon-reload")
def reload_loses_gpus(inv: Dict[str, Any]) -> Any:
    """With `docker run --gpus` (or the NVIDIA runtime in legacy mode) the toolkit's hook grants the container its
    GPU devices without runc knowing; where systemd manages the containers' cgroups, a `systemctl daemon-reload`
    (package updates run one) re-applies runc's device rules and every running GPU container loses its GPUs
    ("Failed to initialize NVML: Unknown Error" inside) until it is recreated (NVIDIA's troubleshooting guide,
    NVIDIA/nvidia-container-toolkit#48). Docker uses systemd's cgroup driver on cgroup v2 hosts unless daemon.json
    says cgroupfs (moby/moby#40846). Judged where Docker and the toolkit are on a host whose driver works;
    containerd's own cgroup setting is not read, so a host with containerd alone is not judged."""
    c = _containers(inv)
    if not _gpu_host(inv) or not c.get("docker"):
        return None
    driver = c.get("docker_cgroup_driver")
    if driver is None and c.get("cgroup_v2") is not True:
        return None  # cgroup v1 (Docker's default there is cgroupfs) or an unread cgroup version: no claim
    if driver not in (None, "systemd"):
        return None  # cgroupfs keeps the rules the hook wrote
    return reload_loses_gpus.finding(
        {"docker": c.get("docker"), "cgroup_v2": c.get("cgroup_v2"),
         "docker_cgroup_driver": driver or "systemd (Docker's default on cgroup v2)",
         "docker_runtimes": c.get("docker_runtimes"), "nvidia.container_toolkit":
         facts.nvidia(inv).get("container_toolkit"), "toolkit_mode": c.get("toolkit_mode"),
         "/dev/char/195:255": _dev_char(c.get("dev_char_symlinks"))},
        RELOAD_FIX + (DEV_CHAR_FIX if c.get("dev_char_symlinks") is False else ""))


@rule("DLWS-CTR-002", "error", "A CDI spec names another NVIDIA driver than the one installed")
def stale_cdi_spec(inv: Dict[str, Any]) -> Iterator[Finding]:
    """A CDI spec (nvidia-ctk cdi generate) lists the driver's library files by version (libEGL_nvidia.so.550.54.14);
    after a driver upgrade those files are gone, and containers started through it (podman --device
    nvidia.com/gpu=all, Docker or containerd in CDI mode) fail: "crun: cannot stat `/lib64/libEGL_nvidia.so.<old>`"
    (NVIDIA/nvidia-container-toolkit#450). Regenerate it after every driver change (the toolkit's CDI guide)."""
    driver = facts.nvidia(inv).get("driver_version")
    if facts.nvidia(inv).get("status") != "ok" or not driver or facts.os_info(inv).get("container"):
        return
    for spec in _containers(inv).get("cdi_specs") or []:
        versions = spec.get("driver_versions") or []
        if versions and driver not in versions and any(k.startswith("nvidia.com/") for k in spec.get("kinds") or []):
            yield stale_cdi_spec.finding(
                {"spec": spec.get("path"), "spec_driver_versions": versions, "driver_version": driver},
                "sudo nvidia-ctk cdi generate --output=%s" % word(spec.get("path")), subject=spec.get("path"))


#: Podman resolves --device nvidia.com/gpu=all through CDI from this release on (the toolkit's CDI guide).
PODMAN_CDI = (4, 1)


@rule("DLWS-CTR-003", "warning", "Podman is older than 4.1: it cannot hand the GPUs to containers through CDI")
def podman_without_cdi(inv: Dict[str, Any]) -> Any:
    """NVIDIA's way into Podman containers is CDI (`podman run --device nvidia.com/gpu=all`), which Podman supports
    from 4.1 on; an older one takes the device name for a path: "Error: stat nvidia.com/gpu=all: no such file or
    directory" (containers/podman#24474, #20257). Judged on a host (not a container) with Podman and the NVIDIA
    Container Toolkit (or an NVIDIA CDI spec): the user means to give Podman the GPUs; the driver's state is not
    needed for that."""
    c = _containers(inv)
    podman = facts.major_minor(c.get("podman"))
    specs = [s for s in c.get("cdi_specs") or [] if any(k.startswith("nvidia.com/") for k in s.get("kinds") or [])]
    if podman is None or podman >= PODMAN_CDI or facts.os_info(inv).get("container") \
            or not (toolkit_evidence(inv) or specs):
        return None
    return podman_without_cdi.finding(
        {"podman": c.get("podman"), "cdi_specs": [s.get("path") for s in c.get("cdi_specs") or []],
         "nvidia.container_toolkit": facts.nvidia(inv).get("container_toolkit")},
        "upgrade Podman to 4.1 or newer (the distribution's backports or a newer release), then sudo nvidia-ctk cdi "
        "generate --output=/etc/cdi/nvidia.yaml and podman run --device nvidia.com/gpu=all ...")


#: The toolkit's own defaults, most specific first: Ubuntu's real binary behind its wrapper (config.toml.ubuntu), then
#: Debian's, RHEL's and the rest's (config.toml.debian, config.toml.centos: "@/sbin/ldconfig").
LDCONFIG_PREFERENCE = ("/sbin/ldconfig.real", "/sbin/ldconfig", "/usr/sbin/ldconfig.real", "/usr/sbin/ldconfig")


@rule("DLWS-CTR-004", "error", "The NVIDIA Container Toolkit runs an ldconfig this host does not have")
def toolkit_ldconfig_missing(inv: Dict[str, Any]) -> Any:
    """The toolkit's hook refreshes the container's library cache with the ldconfig that config.toml's
    [nvidia-container-cli] ldconfig names; "@" means the host's file. The packages ship Ubuntu's
    "@/sbin/ldconfig.real" and Debian's or RHEL's "@/sbin/ldconfig"; an Ubuntu package (or config) on Debian, or any
    path the host lacks, fails every GPU container: "nvidia-container-cli: ldcache error: open failed:
    /sbin/ldconfig.real: no such file or directory" (NVIDIA/nvidia-docker#614; the maintainers' fix, #587 and
    NVIDIA/nvidia-container-toolkit#59: set it to the distribution's ldconfig). Judged on a host only, where the
    folder of that path was listed."""
    c = _containers(inv)
    configured = c.get("toolkit_ldconfig")
    if facts.os_info(inv).get("container") or not isinstance(configured, str) \
            or not configured.startswith("@") or c.get("toolkit_ldconfig_exists") is not False:
        return None
    present = c.get("host_ldconfigs") or []
    # only the toolkit's own paths go into the fix: any other the host lists is its data, not a line of config
    choice = next((path for path in LDCONFIG_PREFERENCE if path in present), None)
    if choice:
        fix = ("in /etc/nvidia-container-runtime/config.toml set ldconfig = \"@%s\" (the ldconfig this host has), "
               "then start the container again" % choice)
    else:
        fix = ("point ldconfig in /etc/nvidia-container-runtime/config.toml at this host's ldconfig (\"@\" and its "
               "path: command -v ldconfig), then start the container again")
    return toolkit_ldconfig_missing.finding(
        {"config": "/etc/nvidia-container-runtime/config.toml", "ldconfig": configured,
         "host_ldconfigs": c.get("host_ldconfigs"), "os.id": facts.os_info(inv).get("id")}, fix)


#: The docker snap's release from which a host-installed NVIDIA Container Toolkit (the Debian packages) stops its GPU
#: containers (canonical/docker-snap README at 01b33b92, "NVIDIA Container Toolkit compatibility", issue #357).
SNAP_HOST_TOOLKIT_CONFLICT = (29, 2)


@rule("DLWS-CTR-005", "warning", "Docker is the snap: the host's NVIDIA Container Toolkit does not reach its daemon")
def docker_snap(inv: Dict[str, Any]) -> Any:
    """The docker snap runs its own dockerd with its own daemon.json (/var/snap/docker/current/config/daemon.json),
    so the toolkit installed from NVIDIA's apt or dnf repository and `nvidia-ctk runtime configure` do not reach it:
    `docker run --gpus all` answers 'could not select device driver "" with capabilities: [[gpu]]'
    (NVIDIA/nvidia-docker#1637, #1591, #1311; the toolkit has no snap support: NVIDIA/nvidia-container-toolkit#522).
    Newer snaps bring their own NVIDIA support, used with `--runtime nvidia`; from 29.2.0 a host-installed toolkit
    breaks it (the snap's README). Judged on a host whose NVIDIA GPU is known, with the snap's docker first on PATH."""
    c = _containers(inv)
    if not c.get("docker_snap") or facts.os_info(inv).get("container") or not facts.gpus(inv, "nvidia"):
        return None
    fix = ("remove the snap and install Docker Engine from Docker's repository (sudo snap remove docker; then sudo "
           "nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker), or use the snap's own "
           "NVIDIA support: sudo snap refresh docker, then docker run --runtime nvidia --gpus all ...")
    version = facts.major_minor(c.get("docker"))
    if version is not None and version >= SNAP_HOST_TOOLKIT_CONFLICT and toolkit_evidence(inv):
        fix += ("; this snap (%s) fails with the host's nvidia-container-toolkit packages installed: remove them "
                "(sudo apt remove libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base "
                "nvidia-container-toolkit) or pass --gpus \"all,driver=nvidia.runtime-hook\"" % c.get("docker"))
    return docker_snap.finding(
        {"docker": c.get("docker"), "docker_on_path": "snap", "nvidia.container_toolkit":
         facts.nvidia(inv).get("container_toolkit")}, fix)


@rule("DLWS-CTR-006", "warning",
      "Kubernetes pods here get no GPU without a RuntimeClass: containerd's default runtime is not NVIDIA's")
def containerd_default_not_nvidia(inv: Dict[str, Any]) -> Any:
    """The NVIDIA device plugin expects nvidia-container-runtime as the node's default low-level runtime; where it
    is not, a RuntimeClass (handler nvidia) must name it in every GPU pod, the plugin's own DaemonSet included
    (NVIDIA/k8s-device-plugin README at 00f2a02c, Prerequisites and Quick Start). Otherwise the pod runs under runc:
    the scheduler gives it a GPU, the device files and driver libraries never arrive (nvidia-smi a blank file or
    missing: NVIDIA/nvidia-container-runtime#147, fixed by default_runtime_name = "nvidia"), and a plugin without it
    reports nvidia.com/gpu: 0 (NVIDIA/k8s-device-plugin#107). Judged on a Kubernetes node (a kubelet) whose
    /etc/containerd/config.toml registers a runtime running nvidia-container-runtime; unset means runc."""
    c = _containers(inv)
    nvidia_runtimes = c.get("containerd_nvidia_runtimes") or []
    default = c.get("containerd_default_runtime")
    if not c.get("kubelet") or not nvidia_runtimes or default in nvidia_runtimes \
            or facts.os_info(inv).get("container") or not facts.gpus(inv, "nvidia"):
        return None
    return containerd_default_not_nvidia.finding(
        {"containerd_config": "/etc/containerd/config.toml", "default_runtime_name": default or "runc (not set)",
         "nvidia_runtimes": nvidia_runtimes},
        "make it containerd's default: sudo nvidia-ctk runtime configure --runtime=containerd --set-as-default && "
        "sudo systemctl restart containerd; or define a RuntimeClass (handler: %s) and set runtimeClassName in "
        "every GPU pod and in the device plugin's DaemonSet" % nvidia_runtimes[0])
