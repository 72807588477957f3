"""A setup plan: ordered, idempotent steps, each saying why it is there. Emitters render it as bash or Ansible."""

from __future__ import annotations

import dataclasses
import re
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

PLAN_SCHEMA = "dlws.plan/1"


@dataclass
class Request:
    """What the user asked for (the options of `dlws setup`)."""

    frameworks: Tuple[str, ...]  # normalized: pytorch, tensorflow, jax, mxnet, keras
    version: Optional[str] = None  # a version of the (first) framework: "2.4", "2.4.1"
    variant: str = "auto"  # auto | cpu | cuda | cuXYZ | rocm | metal
    python: Optional[str] = None  # "3.11"; default: the Python the inventory found
    env: str = ".venv-dlws"  # the virtual environment to create or reuse
    driver: str = "install"  # keep | install (when missing) | upgrade (when too old as well)
    with_cuda_toolkit: bool = False
    mirrors: Tuple[Tuple[str, str], ...] = ()  # (FROM, TO) URL prefixes every URL of the plan is redirected by


# --- actions: what a step does, in a form both emitters render natively --------------------------------------------


@dataclass
class Packages:
    """System packages through the distribution's package manager."""

    manager: str  # apt | dnf
    names: List[str]


@dataclass
class AptRepo:
    """A signed apt repository: its key, checked against a pinned fingerprint, in a keyring only this repository
    trusts (signed-by)."""

    name: str
    key_url: str
    key_fingerprint: str
    line: str  # "deb [signed-by=/usr/share/keyrings/NAME.gpg] URL /"
    keyring: str
    url: str  # the repository's URL: any other source naming it is set aside (apt refuses two Signed-By for one)

    @property
    def listing(self) -> str:
        return "/etc/apt/sources.list.d/%s.list" % self.name

    @property
    def others(self) -> str:
        """A command printing every other apt source file that names this repository's URL (NVIDIA's cuda-keyring
        writes one, an older install another); it exits 0 whether it finds some or none."""
        return ("find /etc/apt/sources.list.d -maxdepth 1 -type f \\( -name '*.list' -o -name '*.sources' \\) "
                "! -name %s \\\n  -exec grep -lF %s {} + 2>/dev/null || true" % (
                    shlex.quote(self.name + ".list"), shlex.quote(self.url.rstrip("/"))))


@dataclass
class DnfRepo:
    """A signed dnf repository whose .repo file dlws writes itself (NVIDIA's own names an unchecked key URL, and a
    mirror would not rewrite what it says): its key, checked against a pinned fingerprint, kept under key_path and
    imported into rpm; gpgkey names that local copy, so dnf -y never auto-imports a key nobody checked."""

    name: str  # the repository id, NVIDIA's section name: "cuda-rhel9-x86_64"
    file: str  # "/etc/yum.repos.d/cuda-rhel9.repo" (the file `dnf config-manager --add-repo` would write)
    baseurl: str
    key_url: str
    key_fingerprint: str
    key_path: str  # "/etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9"
    gpgcheck: bool = True
    repo_gpgcheck: bool = False

    @property
    def lines(self) -> List[str]:
        """The .repo file, line by line, as ansible.builtin.yum_repository writes it (keys sorted, "key = value", a
        blank line last): the bash script and the playbook leave the same bytes, so one check serves both."""
        return ["[%s]" % self.name, "baseurl = %s" % self.baseurl, "enabled = 1",
                "gpgcheck = %d" % self.gpgcheck, "gpgkey = file://%s" % self.key_path, "name = %s" % self.name,
                "repo_gpgcheck = %d" % self.repo_gpgcheck, ""]

    @property
    def others(self) -> str:
        """A command printing every other .repo file beside ours naming this repository's URL (an older install's,
        perhaps with gpgcheck=0: dnf would take packages from it unchecked); it exits 0 whether it finds some or none."""
        folder, name = posixpath.split(self.file)
        folder += "/"  # as the file's own path writes it (a path rewritten by prefix is rewritten here too)
        return ("find %s -maxdepth 1 -type f -name '*.repo' ! -name %s \\\n  -exec grep -lF %s {} + 2>/dev/null "
                "|| true" % (shlex.quote(folder), shlex.quote(name), shlex.quote(self.baseurl.rstrip("/"))))

    @property
    def printf(self) -> str:
        """A printf of the .repo file, a line of it per line (a playbook's lines stay within ansible-lint's 160)."""
        return " \\\n    ".join(["printf '%s\\n'"] + [shlex.quote(line) for line in self.lines])


@dataclass
class DnfModule:
    """A dnf module stream enabled before its packages install (NVIDIA's driver streams on RHEL 8/9)."""

    stream: str  # "nvidia-driver:580-dkms"


@dataclass
class Venv:
    path: str
    python: str  # the interpreter command: python3.11


@dataclass
class Pip:
    """pip install of pinned requirements into the plan's environment."""

    requirements: List[str]  # "torch==2.4.1", "jax[cuda12]==0.4.30"
    index_url: Optional[str] = None
    pins: Dict[str, str] = field(default_factory=dict)  # package -> the version its requirement pins


#: A requirement that pins one version: 'torch==2.4.1', 'jax[cuda12]==0.4.30' (not a URL, not a range).
PINNED = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9._,-]+\])?==([A-Za-z0-9][A-Za-z0-9.+!_-]*)")


def pinned(requirement: str) -> Optional[Tuple[str, str, str]]:
    """(name, '[extra]' or '', version) of a requirement that pins one version; None for any other."""
    found = PINNED.fullmatch(requirement)
    return (found.group(1), found.group(2) or "", found.group(3)) if found else None


def version_variable(package: str) -> str:
    """The environment variable a script reads a package's pinned version from ('torch' -> DLWS_TORCH_VERSION; the
    playbook's variable is its lower case): the script's default, or the playbook's -e dlws_torch_version=..."""
    return "DLWS_%s_VERSION" % re.sub(r"[^A-Z0-9]", "_", package.upper())


@dataclass
class Reboot:
    reason: str


@dataclass
class PythonCheck:
    """Python code run in the environment; it must exit 0."""

    code: str


@dataclass
class Manual:
    """What dlws cannot do itself and the user must, said when the step runs (it then fails): its check passes once
    the user has done it."""

    message: str


Action = Union[Packages, AptRepo, DnfRepo, DnfModule, Venv, Pip, Reboot, PythonCheck, Manual]


@dataclass
class Step:
    id: str
    title: str
    why: str
    actions: List[Action]
    check: Optional[str] = None  # a shell command that exits 0 when the step is already done
    become: bool = False  # needs root
    verify: Optional[str] = None  # exits 0 when the action worked; the check is used where this is None

    @property
    def verification(self) -> Optional[str]:
        """What proves the step worked: its own verify command, else its check (done now means it worked)."""
        return self.verify or self.check

    def to_dict(self) -> Dict[str, Any]:
        data = dataclasses.asdict(self)
        data["verify"] = self.verification
        data["actions"] = [dict(kind=type(a).__name__.lower(), **dataclasses.asdict(a)) for a in self.actions]
        return data


@dataclass
class Choice:
    """The build chosen for one framework, and the exact packages it means."""

    framework: str
    release: str
    variant: str
    packages: Dict[str, str]  # name -> exact version
    index_url: Optional[str] = None
    requirements: List[str] = field(default_factory=list)  # pip requirement strings, in install order
    notes: List[str] = field(default_factory=list)
    cuda: Optional[str] = None  # the CUDA its wheels bring
    local: str = ""  # the PEP 440 local label its wheels carry ('cu124' from PyTorch's index, '' from PyPI)


@dataclass
class Plan:
    request: Request
    machine: Dict[str, Any]  # the inventory facts the plan rests on
    choices: List[Choice] = field(default_factory=list)
    steps: List[Step] = field(default_factory=list)
    impossible: List[str] = field(default_factory=list)  # why the request cannot be met, when it cannot
    alternatives: List[str] = field(default_factory=list)  # what does work instead
    notes: List[str] = field(default_factory=list)  # what the plan leaves to the user

    @property
    def ok(self) -> bool:
        return not self.impossible

    def to_dict(self) -> Dict[str, Any]:
        return {
            "schema": PLAN_SCHEMA,
            "request": dataclasses.asdict(self.request),
            "machine": self.machine,
            "frameworks": [dataclasses.asdict(c) for c in self.choices],
            "steps": [s.to_dict() for s in self.steps],
            "impossible": self.impossible,
            "alternatives": self.alternatives,
            "notes": self.notes,
        }
