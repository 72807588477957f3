"""`dlws fleet plan`: group the gathered hosts into classes that need the same setup plan, plan each class once, and
write one playbook (one play per class, on an inventory group per class) with the inventory of those groups.

A class is the set of hosts with the same class_key: the facts of the inventory that the planner reads (the
provision.planner, planner.select and compat modules), so every host of a class gets the same plan as the host it
was planned on, up to Plan.machine (the facts shown to the reviewer, such as the Python patch release).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import click

from provision.emit import ansible
from provision.emit.yaml import dump, quote
from provision.output import write_output
from provision.fleet import DOCTOR_FILE
from provision.fleet.results import HostResult, entries, load_results, natural_key, printable, section, text
from provision.planner import plan as make_plan
from provision.planner.model import Plan, Request

SCHEMA = "dlws.fleet-plan/1"
GROUP = "dlws_class_%d"
INVENTORY_SUFFIX = ".hosts.yml"
USAGE = "ansible-playbook -i INVENTORY -i %s %s  (INVENTORY: the one gathered from, with the connection settings)"
#: What a comment of the playbook may hold of a host's facts: a GPU name or OS string with a newline in it must not
#: end the comment and start a play, so everything else becomes "?".
COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:;()/+_-]")
#: The shape of every fact of class_key the planner may write into a command (a version, an id, an architecture):
#: a host whose doctor.json holds anything else is not planned ("3.11; curl ... | sh" as its Python).
FACT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
#: A host range ("gpu[01:10]"): Ansible's inventory expands it, so no gathered host is named so, and in the group
#: inventory it would add other hosts to a class.
HOST_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")


@dataclass
class HostClass:
    group: str  # the inventory group of its hosts: dlws_class_1, ...
    key: Dict[str, Any]
    hosts: List[str]  # natural order; the first is the one planned
    plan: Optional[Plan] = None
    failure: Optional[str] = None  # the planner failed on this class's inventory (a hand-edited doctor.json)

    @property
    def reasons(self) -> List[str]:
        """Why this class gets no play; empty when it gets one."""
        if self.failure:
            return [self.failure]
        return list(self.plan.impossible) if self.plan else []


# --- classes ----------------------------------------------------------------------------------------------------------


def class_key(inv: Dict[str, Any]) -> Dict[str, Any]:
    """The facts the planner reads from an inventory. Hosts with equal keys get byte-identical plans, so keep this in
    step with provision.planner, planner.select and compat (tests/test_fleet_plan.py swaps every other fact between
    recorded machines and checks the plans stay the same)."""
    os_info, cpu, nvidia = section(inv, "os"), section(inv, "cpu"), section(inv, "nvidia")
    jetson = section(inv, "jetson")
    flags = cpu.get("flags")
    python = section(inv, "python").get("version")
    return {
        # distribution: packages, CUDA repository, notes; glibc against the wheels' floor; no driver step in WSL or a
        # container
        "os": {"system": os_info.get("system"), "id": os_info.get("id"), "version": os_info.get("version"),
               "glibc": os_info.get("glibc"), "wsl": bool(os_info.get("wsl")),
               "container": bool(os_info.get("container")),
               # Rosetta 2 (x86_64 wheels only, noted), qemu-user (AVX unknown): compat reads it
               "emulation": os_info.get("emulation")},
        "arch": cpu.get("arch"),
        "avx": ("avx" in flags) if isinstance(flags, list) and flags else None,  # TensorFlow's x86_64 wheels need it
        "python": ".".join(python.split(".")[:2]) if isinstance(python, str) and python else None,
        "python_bits": section(inv, "python").get("bits"),  # 32 on Windows: win32 wheels (compat.python_platform)
        # the driver's version and CUDA are judged and quoted; the status says whether one works
        "nvidia": {"status": nvidia.get("status"), "driver_version": nvidia.get("driver_version"),
                   "cuda_driver_version": nvidia.get("cuda_driver_version"),
                   "jetson": nvidia.get("source") == "jetson", "pci_gpus": bool(nvidia.get("pci_gpus"))},
        # a Jetson's L4T release picks NVIDIA's JetPack wheel (or says it cannot), and is quoted in the reasons
        "jetson": {"found": bool(jetson.get("l4t") or jetson.get("model") or nvidia.get("source") == "jetson"),
                   "l4t": jetson.get("l4t")},
        # architectures decide the kernels and the driver branch; index and name are quoted in the reasons; the gfx
        # target (AMD) names the architecture in the description
        "gpus": [{"index": g.get("index"), "vendor": g.get("vendor"), "name": g.get("name"),
                  "compute_capability": g.get("compute_capability"), "architecture": g.get("architecture"),
                  "gfx_target": g.get("gfx_target")}
                 for g in entries(inv, "gpus")],
        # ROCm judges a GPU by the target an override names (compat._judge_rocm)
        "hsa_override_gfx_version": section(inv, "env_vars").get("HSA_OVERRIDE_GFX_VERSION"),
    }


def malformed(inv: Dict[str, Any]) -> Optional[str]:
    """What in a host's inventory the planner must not be given, or None: the facts it reads must be strings of
    FACT's shape (or unknown). GPU names are free text: they are only shown, never run."""
    os_info, nvidia = section(inv, "os"), section(inv, "nvidia")
    facts = [("os." + name, os_info.get(name)) for name in ("system", "id", "version", "glibc", "emulation")]
    facts += [("cpu.arch", section(inv, "cpu").get("arch")), ("python.version", section(inv, "python").get("version"))]
    facts += [("jetson.l4t", section(inv, "jetson").get("l4t")),
              ("env_vars.HSA_OVERRIDE_GFX_VERSION", section(inv, "env_vars").get("HSA_OVERRIDE_GFX_VERSION"))]
    facts += [("nvidia." + name, nvidia.get(name)) for name in ("status", "driver_version", "cuda_driver_version")]
    facts += [("gpus[%d].%s" % (number, name), gpu.get(name)) for number, gpu in enumerate(entries(inv, "gpus"))
              for name in ("vendor", "compute_capability", "gfx_target")]
    for name, value in facts:
        if value is not None and not (isinstance(value, str) and FACT.fullmatch(value)):
            return "%s: %s %s is not a fact dlws plans with" % (DOCTOR_FILE, name, _shown(value))
    return None


def _shown(value: Any) -> str:
    """A host's value in a message: its JSON, cut short."""
    said = json.dumps(value)
    return said if len(said) <= 40 else said[:37] + "..."


def _canonical(key: Dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def group_hosts(answered: List[Tuple[str, Dict[str, Any]]]) -> List[HostClass]:
    """Classes of (host, inventory) pairs, ordered by their first host; hosts in natural order."""
    classes: Dict[str, HostClass] = {}
    for host, inv in sorted(answered, key=lambda item: natural_key(item[0])):
        key = class_key(inv)
        classes.setdefault(_canonical(key), HostClass("", key, [])).hosts.append(host)
    ordered = sorted(classes.values(), key=lambda c: natural_key(c.hosts[0]))
    for number, host_class in enumerate(ordered, 1):
        host_class.group = GROUP % number
    return ordered


def plan_classes(answered: List[Tuple[str, Dict[str, Any]]], request: Request) -> List[HostClass]:
    """Group the hosts, then plan each class on its first host."""
    inventories = dict(answered)
    classes = group_hosts(answered)
    for host_class in classes:
        try:
            host_class.plan = make_plan(inventories[host_class.hosts[0]], request)
        except Exception as exc:  # one malformed doctor.json must not hide the plans of the other classes
            host_class.failure = "dlws could not plan %s's inventory (%s: %s); check its doctor.json" % (
                host_class.hosts[0], type(exc).__name__, exc)
    return classes


def describe(key: Dict[str, Any]) -> List[str]:
    """A class for a person, one fact a line: its GPUs, NVIDIA driver and system."""
    gpus: List[Tuple[str, int]] = []
    for gpu in key["gpus"]:  # facts as the host wrote them: any JSON type
        capability = text(gpu["compute_capability"])
        arch = "cc " + capability if capability else text(gpu["gfx_target"]) or "?"
        label = "%s (%s)" % (text(gpu["name"]) or text(gpu["vendor"]), arch)
        if gpus and gpus[-1][0] == label:
            gpus[-1] = (label, gpus[-1][1] + 1)
        else:
            gpus.append((label, 1))
    nvidia, os_info = key["nvidia"], key["os"]
    driver = "none" if not text(nvidia["driver_version"]) else "%s (CUDA %s)" % (
        text(nvidia["driver_version"]), text(nvidia["cuda_driver_version"]))
    system = "%s %s, %s, Python %s" % (text(os_info["id"]) or text(os_info["system"]), text(os_info["version"]) or "",
                                       text(key["arch"]), key["python"] or "?")
    extras = [name for name, on in (("glibc %s" % text(os_info["glibc"]), text(os_info["glibc"])),
                                    ("WSL", os_info["wsl"]),
                                    ("in a container", os_info["container"]), ("Jetson", nvidia["jetson"]),
                                    ("no AVX", key["avx"] is False)) if on]
    return ["GPUs: " + (", ".join("%dx %s" % (count, label) for label, count in gpus) or "none"),
            "NVIDIA driver: %s, status %s" % (driver, text(nvidia["status"])),
            "system: " + ", ".join([system] + extras)]


# --- outputs ----------------------------------------------------------------------------------------------------------


def inventory_name(output: str) -> str:
    """The group inventory beside the playbook: site.yml -> site.hosts.yml."""
    return os.path.splitext(output)[0] + INVENTORY_SUFFIX


def comment(line: str) -> str:
    """A line of a host's facts as a YAML comment that cannot end early: safe ASCII only."""
    return "# " + COMMENT_UNSAFE.sub("?", line)


def render_playbook(classes: List[HostClass]) -> str:
    """One play per class that has a plan: the single-machine play, on the class's group."""
    lines = ["---",
             "# Written by dlws fleet plan: one play per class of hosts that need the same setup plan.",
             "# Each play runs on its group (dlws_class_N) of the group inventory written beside this playbook."]
    for host_class in classes:
        if host_class.reasons or host_class.plan is None:
            continue
        play = ansible.play(host_class.plan, host_class.group)
        play["name"] = "%s on %s" % (play["name"], host_class.group)
        lines.append("")
        lines.append("# %s: %d host%s" % (host_class.group, len(host_class.hosts),
                                            "" if len(host_class.hosts) == 1 else "s"))
        lines += [comment("  " + line) for line in describe(host_class.key)]
        lines.append(dump([play])[len("---\n"):].rstrip("\n"))
    return "\n".join(lines) + "\n"


def inventory_document(classes: List[HostClass]) -> Dict[str, Any]:
    """The group inventory as data: every class's group with its hosts (Ansible's YAML or JSON inventory form)."""
    return {"all": {"children": {c.group: {"hosts": {host: {} for host in c.hosts}} for c in classes}}}


def render_inventory(classes: List[HostClass]) -> str:
    """The group inventory as YAML; host names quoted, so none is read as anything but its name."""
    lines = ["---",
             "# Written by dlws fleet plan: the hosts of each class (group dlws_class_N) of the playbook beside this.",
             "# Give it with the inventory the hosts were gathered from, which has their connection settings.",
             "all:", "  children:"]
    for host_class in classes:
        lines += ["    %s:" % host_class.group, "      hosts:"]
        lines += ["        %s: {}" % quote(host) for host in host_class.hosts]
    return "\n".join(lines) + "\n"


def to_json(classes: List[HostClass], skipped: List[HostResult], request: Request) -> str:
    return json.dumps({
        "schema": SCHEMA,
        "request": dataclasses.asdict(request),
        "classes": [{"group": c.group, "hosts": c.hosts, "planned_on": c.hosts[0], "key": c.key,
                     "description": describe(c.key), "playbook": not c.reasons,
                     "plan": c.plan.to_dict() if c.plan else None} for c in classes],
        "impossible": [{"group": c.group, "hosts": c.hosts, "reasons": c.reasons,
                        "alternatives": list(c.plan.alternatives) if c.plan else []} for c in classes if c.reasons],
        "skipped": [{"host": r.host, "status": r.status, "message": r.message} for r in skipped],
        "ansible_inventory": inventory_document(classes),
    }, indent=2, sort_keys=True) + "\n"


def summary(classes: List[HostClass], skipped: List[HostResult]) -> str:
    """What was planned, what cannot be, and which hosts were left out: for stderr, one line per fact."""
    planned = [c for c in classes if not c.reasons]
    lines = ["dlws fleet plan: %d class%s, %d host%s planned" % (
        len(planned), "" if len(planned) == 1 else "es", sum(len(c.hosts) for c in planned),
        "" if sum(len(c.hosts) for c in planned) == 1 else "s")]
    for host_class in planned:
        choices = "; ".join("%s %s (%s)" % (c.framework, c.release, c.variant)
                            for c in (host_class.plan.choices if host_class.plan else []))
        lines.append("  %s: %s on %s" % (host_class.group, choices, ", ".join(host_class.hosts)))
        lines += ["    " + line for line in describe(host_class.key)]
    for host_class in classes:
        if host_class.reasons:
            lines.append("  %s cannot be planned, no play for %s:" % (host_class.group, ", ".join(host_class.hosts)))
            lines += ["    " + line for line in describe(host_class.key)]
            lines += ["    - " + reason for reason in host_class.reasons]
            lines += ["    instead: " + alt for alt in (host_class.plan.alternatives if host_class.plan else [])]
    for result in skipped:
        lines.append("  skipped %s (%s): %s" % (result.host, result.status, result.message or "no message"))
    return "\n".join(printable(line) for line in lines)  # a host's newline or escape sequence is shown, not obeyed


def run_fleet_plan(folder: str, request: Request, fmt: str, output: Optional[str]) -> int:
    """Exit 0 when every answered host is in a planned class; 1 when a class cannot be planned (or none answered)."""
    results = load_results(folder)
    for result in results:
        problem = malformed(result.inventory) if result.answered and result.inventory is not None else None
        if HOST_RANGE.search(result.host):
            problem = "not an inventory host name: Ansible reads it as a range of hosts"
        if problem:  # the host's own facts: it is left out, the others are planned
            result.status, result.message = "failed", problem
    answered = [(r.host, r.inventory) for r in results if r.answered and r.inventory is not None]
    skipped = [r for r in results if not (r.answered and r.inventory is not None)]
    classes = plan_classes(answered, request)
    click.echo(summary(classes, skipped), err=True)
    code = 1 if not classes or any(c.reasons for c in classes) else 0
    if fmt == "json":
        text = to_json(classes, skipped, request)
        if output:
            write_output(text, output)
        else:
            click.echo(text, nl=False)
        return code
    if all(c.reasons for c in classes):
        click.echo("no class of hosts can be planned: no playbook written", err=True)
        return 1
    playbook = render_playbook(classes)
    if output is None:
        click.echo(playbook, nl=False)
        click.echo("the group inventory of the plays is written beside the playbook with -o FILE (and is "
                   "ansible_inventory in --format json)", err=True)
        return code
    hosts = inventory_name(output)
    write_output(playbook, output)
    write_output(render_inventory(classes), hosts)
    click.echo("wrote %s and its group inventory %s; run: %s" % (output, hosts, USAGE % (hosts, output)), err=True)
    return code
