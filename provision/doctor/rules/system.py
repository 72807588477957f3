"""OS and environment: containers without their GPU, WSL, distributions dlws cannot provision or past end of life."""

from __future__ import annotations

import datetime
from typing import Any, Dict

from provision.inventory import facts
from provision.doctor.advice import setup_command
from provision.doctor.model import rule

@rule("DLWS-OS-003", "error", "Container without GPU passthrough on a host with NVIDIA GPUs")
def container_without_gpu(inv: Dict[str, Any]) -> Any:
    """The container sees the host's NVIDIA GPUs on the PCI bus, but neither the driver's libraries nor the
    /dev/nvidia* devices were passed in. Docker needs --gpus all (with nvidia-container-toolkit on the host);
    Kubernetes needs a nvidia.com/gpu resource limit and the NVIDIA device plugin."""
    container = facts.os_info(inv).get("container")
    if container and facts.nvidia(inv).get("status") == "no-driver":
        return container_without_gpu.finding(
            {"container": container, "nvidia.status": "no-driver"},
            "docker run --gpus all ... (host: install nvidia-container-toolkit, then sudo nvidia-ctk runtime "
            "configure --runtime=docker && sudo systemctl restart docker); Kubernetes: resources.limits."
            "nvidia.com/gpu: 1")


@rule("DLWS-OS-002", "info", "Not a distribution dlws can provision")
def not_provisionable(inv: Dict[str, Any]) -> Any:
    """dlws setup writes plans for current releases of Ubuntu, Debian, RHEL and its rebuilds (Rocky, Alma, Oracle),
    Fedora, Amazon Linux, and for macOS. Elsewhere the inventory and the doctor work, but the install steps must be
    adapted by hand."""
    from provision.knowledge import queries

    info = facts.os_info(inv)
    os_id, version = info.get("id"), facts.version(info.get("version"))
    if os_id and not queries.provisionable(os_id, version.release[0] if version else None):  # as the planner does
        command = setup_command(inv)
        return not_provisionable.finding({"os.id": os_id, "os.version": facts.os_info(inv).get("version")},
                                         "install the system packages (Python with venv, the NVIDIA driver) by "
                                         "hand; " + ("dlws plans the rest: " + command if command else
                                                     "no framework build dlws knows fits this machine as it is"))


@rule("DLWS-OS-001", "warning", "Distribution past its end of standard support")
def end_of_life(inv: Dict[str, Any], today: datetime.date) -> Any:
    """After the end of standard support a release gets no regular security fixes, and NVIDIA drops it from the
    CUDA repositories and new toolkits soon after (CentOS 7 and Ubuntu 18.04 went that way). What ends differs per
    vendor (Ubuntu: standard support; Debian: the security team's support; RHEL: maintenance support), and paid or
    community extended support (Ubuntu Pro ESM, Debian LTS, RHEL ELS, SLES LTSS) may still cover it: the finding
    names both, and when the extended support ends where the table knows it."""
    from provision.knowledge import queries

    info = facts.os_info(inv)
    if not info.get("id") or not info.get("version"):
        return None
    end = queries.support_end(info["id"], info["version"])
    if end is None or end["date"] > today:
        return None
    row = queries.distribution(info["id"], info["version"]) or {}
    name = info.get("pretty_name") or row.get("name") or "%s %s" % (info["id"], info["version"])
    title = "%s: %s ended %s" % (name, end["ends"], row.get("eol"))
    if end["extended"]:
        until, text = end["extended_until"], (row.get("extended_support") or {}).get("until")  # text: as published
        title += "; %s %s" % (end["extended"], "runs until %s" % text if until and until > today
                              else "ended %s" % text if until else "may still cover it")
    return end_of_life.finding(
        {"os": name, "end_of_standard_support": end["date"].isoformat(), "ended": end["ends"],
         "extended_support": end["extended"],
         "extended_support_until": (row.get("extended_support") or {}).get("until"),
         "source": row.get("source"), "verified": row.get("verified", True)},
        "upgrade to a supported release of %s (dlws setup plans for the current ones)" % info["id"], title=title)


@rule("DLWS-OS-004", "warning", "Container engine without nvidia-container-toolkit on a GPU host")
def no_container_toolkit(inv: Dict[str, Any]) -> Any:
    """Docker and Podman hand GPUs to containers only through the NVIDIA Container Toolkit (`docker run --gpus
    all` fails with "could not select device driver" without it). The nvidia runtime in /etc/docker/daemon.json
    (which `nvidia-ctk runtime configure` writes) is the toolkit too, where nvidia-ctk gave no version."""
    info, nv = facts.os_info(inv), facts.nvidia(inv)
    engines = info.get("container_engines") or []
    if (inv.get("containers") or {}).get("docker_snap"):  # the snap's dockerd brings its own: DLWS-CTR-005
        engines = [engine for engine in engines if engine != "docker"]
    runtimes = (inv.get("containers") or {}).get("docker_runtimes") or []
    if engines and facts.gpus(inv, "nvidia") and not nv.get("container_toolkit") and "nvidia" not in runtimes \
            and not info.get("container"):
        return no_container_toolkit.finding(
            {"container_engines": engines, "nvidia.container_toolkit": None},
            "install nvidia-container-toolkit from NVIDIA's signed repository, then sudo nvidia-ctk runtime "
            "configure --runtime=%s and restart %s" % (engines[0], engines[0]))
