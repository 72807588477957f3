"""Render a plan as one self-contained Ansible playbook: fully-qualified modules, become only where root is needed,
versions as variables at the top, runs under --check, passes ansible-lint's production profile."""

from __future__ import annotations

import re
import textwrap
from typing import Any, Dict, List, Union

from provision import __version__
from provision.planner.keys import key_is_pinned
from provision.emit import shell
from provision.emit.yaml import Unsafe, dump
from provision.planner.model import (AptRepo, DnfModule, DnfRepo, Manual, Packages, Pip, Plan, PythonCheck, Reboot,
                                     Step, Venv, version_variable)



class Keyword(str):
    """Text dlws itself wrote for Ansible to read: a condition, a {{ variable }}, a registered name, a name. Every
    other string of a play is data (a path the user chose, a version, a command) and is written !unsafe, so that
    Ansible never templates it: a "{{ lookup('pipe', ...) }}" in --env stays a path."""


REBOOT_HANDLER = Keyword("Reboot to load the NVIDIA driver")


def _name(text: str) -> Keyword:
    """A task or play name: Ansible templates names (ansible-lint wants them plain), so no braces get through."""
    return Keyword(text.replace("{", "(").replace("}", ")"))


def _unsafe(value: Any) -> Any:
    """Every string of value that is not a Keyword, as Unsafe."""
    if isinstance(value, dict):
        return {key: _unsafe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unsafe(item) for item in value]
    if isinstance(value, str) and not isinstance(value, Keyword):
        return Unsafe(value)
    return value


def _var(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _packages(action: Packages) -> Dict[str, Any]:
    if action.manager == "apt":
        return {"ansible.builtin.apt": {"name": list(action.names), "state": "present", "update_cache": True}}
    return {"ansible.builtin.dnf": {"name": list(action.names), "state": "present"}}


def _set_aside(action: Union[AptRepo, DnfRepo], title: str) -> Dict[str, Any]:
    """The step's first task (see shell._step): while another source names the URL, every apt update fails (and dnf
    could install from a file with other checks)."""
    return {"name": _name("%s | set aside other sources of the repository" % title),
            "ansible.builtin.shell": {"cmd": "\n".join(shell.set_aside_other_sources(action, "")),
                                      "executable": "/bin/bash"},
            "register": Keyword("dlws_other_sources"),
            "changed_when": Keyword("dlws_other_sources.stdout | length > 0"), "become": True}


def _trust_download(download: str, place: str, fingerprint: str) -> List[str]:
    """The shell lines that move a downloaded key into its place only when it is the pinned one alone."""
    return [
        "set -o pipefail",
        "if ! %s; then" % key_is_pinned(shell.q(download), fingerprint),
        "  rm -f %s" % shell.q(download),
        "  echo 'NVIDIA repository key fingerprint mismatch: refusing to trust it' >&2; exit 1",
        "fi",
        "mv %s %s" % (shell.q(download), shell.q(place)),
    ]


def _apt_repo(action: AptRepo, title: str) -> List[Dict[str, Any]]:
    """The key is downloaded beside the keyring and trusted only once its fingerprint is the pinned one (as the bash
    script does): downloaded straight into the keyring, a wrong key would stay there, and a key of an older plan
    would never be replaced (get_url keeps an existing file)."""
    download = action.keyring + ".download"
    trust = _trust_download(download, action.keyring, action.key_fingerprint)
    return [
        {"name": _name("%s | download the signing key" % title),
         "ansible.builtin.get_url": {"url": action.key_url, "dest": download, "mode": "0644", "force": True},
         "become": True},
        {"name": _name("%s | check the key's fingerprint and trust it" % title),
         "ansible.builtin.shell": {"cmd": "\n".join(trust), "executable": "/bin/bash"},
         "changed_when": True, "become": True},
        {"name": _name("%s | add the repository" % title),
         "ansible.builtin.apt_repository": {"repo": action.line, "filename": action.name, "state": "present"},
         "become": True},
    ]


def _dnf_repo(action: DnfRepo, title: str) -> List[Dict[str, Any]]:
    """As the bash script: the key is downloaded beside its place, kept only once it is the pinned one alone,
    imported by rpm_key (which checks the fingerprint again), and the .repo file names that local copy."""
    download = action.key_path + ".download"
    trust = _trust_download(download, action.key_path, action.key_fingerprint)
    folder, _, file = action.file.rpartition("/")
    return [
        {"name": _name("%s | download the signing key" % title),
         "ansible.builtin.get_url": {"url": action.key_url, "dest": download, "mode": "0644", "force": True}},
        {"name": _name("%s | check the key's fingerprint and keep it" % title),
         "ansible.builtin.shell": {"cmd": "\n".join(trust), "executable": "/bin/bash"}, "changed_when": True},
        {"name": _name("%s | import the key into rpm" % title),
         "ansible.builtin.rpm_key": {"key": action.key_path, "fingerprint": action.key_fingerprint,
                                     "state": "present"}},
        {"name": _name("%s | add the repository" % title),
         "ansible.builtin.yum_repository": {
             "name": action.name, "description": action.name, "file": file[:-len(".repo")], "reposdir": folder,
             "baseurl": action.baseurl, "enabled": True, "gpgcheck": action.gpgcheck,
             "repo_gpgcheck": action.repo_gpgcheck, "gpgkey": "file://" + action.key_path, "mode": "0644"}},
    ]


def _tasks(action: object, title: str) -> List[Dict[str, Any]]:
    if isinstance(action, Packages):
        return [dict({"name": _name(title)}, **_packages(action))]
    if isinstance(action, AptRepo):
        return _apt_repo(action, title)
    if isinstance(action, DnfModule):  # "@module:stream" enables the stream (and installs its default profile)
        return [{"name": _name(title + " | module stream"), "ansible.builtin.dnf": {"name": "@" + action.stream,
                                                                           "state": "present"}}]
    if isinstance(action, DnfRepo):
        return _dnf_repo(action, title)
    if isinstance(action, (Venv, Pip, PythonCheck)):
        # The same command lines as the bash script, reading the paths from DLWS_ENV/DLWS_PYTHON: Ansible's command
        # and pip modules expand "$HOME" inside arguments, so a path holding a "$" would go astray through them.
        return [{"name": _name(title), "ansible.builtin.shell": {"cmd": "\n".join(shell.action_lines(action)),
                                                          "executable": "/bin/bash"},
                 "changed_when": not isinstance(action, PythonCheck)}]
    if isinstance(action, Reboot):
        return [{"name": _name(title), "ansible.builtin.meta": "flush_handlers"}]
    if isinstance(action, Manual):  # the message in lines, as the playbook stays within ansible-lint's 160 columns
        return [{"name": _name(title), "ansible.builtin.fail": {
            "msg": "\n".join(textwrap.wrap("dlws: " + action.message, 100, break_on_hyphens=False))}}]
    raise TypeError("no Ansible rendering for %r" % (action,))


def _step_tasks(number: int, total: int, step: Step) -> List[Dict[str, Any]]:
    title = "Step %d/%d %s" % (number, total, step.id)
    done = Keyword("dlws_%s_done" % _var(step.id))
    tasks: List[Dict[str, Any]] = []
    if step.check:
        tasks.append({"name": _name("%s | already done?" % title),
                      "ansible.builtin.shell": {"cmd": "set -o pipefail\n" + step.check, "executable": "/bin/bash"},
                      "register": done, "changed_when": False, "failed_when": False, "check_mode": False})
    ordered = [(a, _set_aside(a, title)) for a in step.actions if isinstance(a, (AptRepo, DnfRepo))]
    for action, task in ordered + [(a, t) for a in step.actions for t in _tasks(a, title)]:
        if step.become and "become" not in task:
            task["become"] = True
        if step.check and not isinstance(action, Reboot):
            task["when"] = Keyword("%s.rc != 0" % done)
        if step.id == "nvidia-driver":
            task["notify"] = REBOOT_HANDLER
        tasks.append(task)
    if step.verification and not any(isinstance(a, (Reboot, Manual)) for a in step.actions):
        verify: Dict[str, Any] = {"name": _name("%s | verify" % title),
                                  "ansible.builtin.shell": {"cmd": "set -o pipefail\n" + step.verification,
                                                            "executable": "/bin/bash"},
                                  "changed_when": False}
        if step.check:
            verify["when"] = Keyword("%s.rc != 0" % done)
        tasks.append(verify)
    return tasks


def play(plan: Plan, hosts: str = "all") -> Dict[str, Any]:
    """The plan as one Ansible play on hosts (a group name); a fleet playbook has one per class of hosts. Its data
    strings are Unsafe: dump() writes them !unsafe."""
    if not plan.ok:
        raise ValueError("an impossible plan has no playbook")
    if not re.fullmatch(r"[A-Za-z0-9_]+", hosts):
        raise ValueError("a play's hosts is a group name here, not %r" % hosts)
    python = next((a.python for s in plan.steps for a in s.actions if isinstance(a, Venv)), "python3")
    variables: Dict[str, Any] = {"dlws_env": plan.request.env, "dlws_python": python}
    environment: Dict[str, Any] = {"DLWS_ENV": Keyword("{{ dlws_env }}"), "DLWS_PYTHON": Keyword("{{ dlws_python }}")}
    for pip in (a for s in plan.steps for a in s.actions if isinstance(a, Pip)):
        for name, version in sorted(pip.pins.items()):  # what the pip lines and checks read: -e changes both
            variables[version_variable(name).lower()] = version
            environment[version_variable(name)] = Keyword("{{ %s }}" % version_variable(name).lower())
    tasks: List[Dict[str, Any]] = []
    for number, step in enumerate(plan.steps, 1):
        tasks.extend(_step_tasks(number, len(plan.steps), step))
    title = "; ".join("%s %s (%s)" % (c.framework, c.release, c.variant) for c in plan.choices)
    result: Dict[str, Any] = {
        "name": _name("Set up %s (written by dlws %s)" % (title, __version__)),
        "hosts": Keyword(hosts),
        "gather_facts": False,
        "vars": variables,
        "environment": environment,
        "tasks": tasks,
    }
    if any(isinstance(a, Reboot) for s in plan.steps for a in s.actions):
        result["handlers"] = [{"name": REBOOT_HANDLER, "ansible.builtin.reboot": {"reboot_timeout": 900},
                               "become": True}]
    return _unsafe(result)


def render(plan: Plan) -> str:
    """The plan as an Ansible playbook for `ansible-playbook -i HOSTS playbook.yml` (byte-identical per plan)."""
    return dump([play(plan)])
