"""plan(inventory, request) -> Plan: the ordered, idempotent steps that make the requested frameworks work here.

A pure function of the inventory JSON, the request and the knowledge base: same input, same plan.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from typing import Any, Dict, List, Optional, Set, Tuple

from packaging.version import Version

from provision.inventory import facts
from provision.inventory.conform import typed
from provision.knowledge import load, queries
from provision.planner import mirrors, select
from provision.planner.keys import key_is_pinned, rpm_has_imported
from provision.planner.model import (AptRepo, Choice, DnfModule, DnfRepo, Manual, Packages, Pip, Plan, PythonCheck,
                                     Reboot, Request, Step, Venv, pinned, version_variable)

#: A Python release as the inventory reports it ("3.11.4"): its X.Y is all a plan uses.
PYTHON_VERSION = re.compile(r"^(\d{1,2})\.(\d{1,3})(?![\d])")


def package_manager(inv: Dict[str, Any]) -> Optional[str]:
    """apt or dnf where dlws manages the system's packages; None elsewhere (macOS, CentOS 7, unknown)."""
    info = facts.os_info(inv)
    return queries.package_manager(info.get("id"), _major(info))


def _major(info: Dict[str, Any]) -> Optional[int]:
    version = facts.version(info.get("version"))
    return version.release[0] if version is not None else None


def python_version(inv: Dict[str, Any], request: Request) -> Optional[str]:
    """X.Y of the environment's Python, or None; it goes into package names and commands, so nothing else passes."""
    version = request.python or (inv.get("python") or {}).get("version")
    match = PYTHON_VERSION.match(version) if isinstance(version, str) else None
    return "%s.%s" % match.groups() if match else None


def distribution_python(inv: Dict[str, Any]) -> Optional[str]:
    """X.Y of the distribution's default python3 package (distributions.json), or None where dlws does not know it."""
    info = facts.os_info(inv)
    version = (queries.distribution(info.get("id") or "", info.get("version") or "") or {}).get("python3")
    match = PYTHON_VERSION.match(version) if isinstance(version, str) else None
    return "%s.%s" % match.groups() if match else None


def environment_python(inv: Dict[str, Any], request: Request) -> Optional[str]:
    """X.Y of the Python the plan's environment gets: --python, else the inventory's, else (where the plan installs
    it through the distribution's packages) the distribution's python3; None when none is known. --target judges
    with it too, so the doctor and setup judge the same interpreter."""
    python = python_version(inv, request)
    if python is None and package_manager(inv):
        return distribution_python(inv)
    return python


def _unknown_python(result: Plan, info: Dict[str, Any]) -> Plan:
    """Impossible: the environment's Python is unknown, and wheels picked for no Python would be a guess."""
    release = "%s %s" % (info.get("id"), info.get("version"))
    result.impossible.append("the Python of the environment is unknown (the inventory has none and dlws does not "
                             "know %s's python3): give --python X.Y" % release)
    result.alternatives.append("name the Python: dlws setup %s --python X.Y (the version of python3 on %s)" % (
        " ".join("--framework %s" % f for f in result.request.frameworks), release))
    return result


def _machine(inv: Dict[str, Any]) -> Dict[str, Any]:
    """The facts a plan rests on, for the reviewer."""
    info, nv = facts.os_info(inv), facts.nvidia(inv)
    return {
        "os": "%s %s" % (info.get("id"), info.get("version")), "arch": (inv.get("cpu") or {}).get("arch"),
        "python": (inv.get("python") or {}).get("version"), "driver": nv.get("driver_version"),
        "driver_cuda": nv.get("cuda_driver_version"), "nvidia_status": nv.get("status"),
        "gpus": sorted({"%s (%s)" % (g.get("name"), g.get("compute_capability") or g.get("gfx_target") or "?")
                        for g in facts.gpus(inv)}),
    }


def plan(inv: Dict[str, Any], request: Request) -> Plan:
    inv = typed(inv).to_dict()  # a fleet host's or a hand-edited inventory: the model's types, or unknown
    result = Plan(request=request, machine=_machine(inv))
    python = interpreter = python_version(inv, request)  # interpreter: what package names and commands say
    if python is None and package_manager(inv):
        # No Python named: the python step installs the distribution's python3, so the wheels must be for its version.
        # Without a package manager the Python is the user's (see the note in _steps), as before.
        python, interpreter, info = environment_python(inv, request), "3", facts.os_info(inv)
        if python is None:
            return _unknown_python(result, info)
        row = queries.distribution(info.get("id") or "", info.get("version") or "") or {}
        result.notes.append("the inventory names no Python version: the plan installs the python3 of %s, Python %s, "
                            "and picks the releases for it; give --python X.Y for another" % (row.get("name"), python))
    judged = dict(inv, python=dict(inv.get("python") or {}, version=python))
    future = select.driver_after_plan(judged, request)
    verdicts = []
    frameworks = [f for f in request.frameworks if f != "keras"]
    if "keras" in request.frameworks and not frameworks:  # Keras 3 needs a backend: its default one
        frameworks.append(queries.normalize_framework(queries.keras_info()["default_backend"]) or "tensorflow")
    for index, framework in enumerate(frameworks):
        version = request.version if index == 0 else None
        verdict, reasons = select.choose_framework(future, request, framework, version)
        if verdict is None:
            result.impossible.extend(reasons or ["no %s build fits this machine" % framework])
            result.alternatives.extend(_alternatives(future, request, framework))
            continue
        verdicts.append(verdict)
        result.choices.append(select.make_choice(verdict, facts.os_info(inv).get("system") or "linux"))
    result.impossible.extend(select.cuda_conflicts(result.choices, verdicts))
    if "keras" in request.frameworks and result.ok:
        keras, problems = select.keras_choice(result.choices, python)
        result.impossible.extend(problems)
        if keras:
            result.choices.append(keras)
    if result.ok:
        result.steps = _steps(inv, request, interpreter or "3", result.choices, future is not judged, result.notes)
        if future is not judged and any(c.cuda for c in result.choices) \
                and not any(step.id == "nvidia-driver" for step in result.steps):
            _no_driver_step(inv, request, result)
    return mirrors.apply(result, request.mirrors)


def _no_driver_step(inv: Dict[str, Any], request: Request, result: Plan) -> None:
    """The builds were chosen for the driver the plan would install, but it cannot install one here: without
    the driver they do not run, so the plan is impossible (its notes say why), with what works on this driver."""
    result.impossible.append("the chosen builds need the NVIDIA driver the plan would install (%s), and dlws cannot "
                             "install one on %s: %s" % (
                                 ", ".join("%s %s %s" % (c.framework, c.release, c.variant) for c in result.choices),
                                 _release_name(inv),
                                 "; ".join(n for n in result.notes if "driver" in n) or "no driver step"))
    result.steps = []
    result.alternatives.extend(_keep_driver(inv, request))


def _release_name(inv: Dict[str, Any]) -> str:
    """'ubuntu 18.04.3', or what is known of it."""
    info = facts.os_info(inv)
    if not info.get("id"):
        return "this machine (its distribution is unknown)"
    return " ".join(str(part) for part in (info["id"], info.get("version")) if part)


def _keep_driver(inv: Dict[str, Any], request: Request) -> List[str]:
    """What works with the driver as it is: the builds --driver keep would choose (else the CPU build's offer)."""
    keep = dataclasses.replace(request, driver="keep")
    chosen = [select.choose_framework(inv, keep, f, request.version if i == 0 else None)[0]
              for i, f in enumerate(f for f in request.frameworks if f != "keras")]
    if chosen and all(chosen):
        return ["keep the driver: dlws setup %s --driver keep (%s)" % (
            " ".join("--framework %s" % f for f in request.frameworks),
            ", ".join("%s %s, %s" % (v.build.framework, v.build.release, v.build.variant) for v in chosen if v))]
    return [text for f in request.frameworks if f != "keras" for text in _cpu_build(inv, keep, f)]


def _alternatives(inv: Dict[str, Any], request: Request, framework: str) -> List[str]:
    """What works instead: upgrading the driver, or the CPU build (each the newest release that fits)."""
    out = []
    if request.driver != "upgrade" and select.driver_installable(inv):
        upgrade = dataclasses.replace(request, frameworks=(framework,), driver="upgrade")
        upgraded = plan(inv, upgrade)  # offered only where that plan can be made: with its driver step
        if upgraded.ok:
            out.append("upgrade the driver: dlws setup --framework %s --driver upgrade (%s %s, %s)" % (
                framework, framework, upgraded.choices[0].release, upgraded.choices[0].variant))
    return out + _cpu_build(inv, request, framework)


def _cpu_build(inv: Dict[str, Any], request: Request, framework: str) -> List[str]:
    if request.variant == "cpu":
        return []
    verdict, _ = select.choose_framework(inv, dataclasses.replace(request, variant="cpu"), framework,
                                         request.version)
    if verdict is None:
        return []
    return ["the CPU build: dlws setup --framework %s --variant cpu (%s %s)" % (framework, framework,
                                                                                verdict.build.release)]


# --- steps ----------------------------------------------------------------------------------------------------------


def _steps(inv: Dict[str, Any], request: Request, python: str, choices: List[Choice], new_driver: bool,
           notes: List[str]) -> List[Step]:
    manager = package_manager(inv)
    release = _release_name(inv)
    steps: List[Step] = []
    if manager:
        steps.append(_python_step(inv, manager, python))
        notes.extend(a.message for a in steps[-1].actions if isinstance(a, Manual))
    elif facts.os_info(inv).get("system") == "linux":
        notes.append("dlws does not manage the packages of %s %s: python%s with venv must be there already" % (
            facts.os_info(inv).get("id"), facts.os_info(inv).get("version"), python))
    if new_driver and manager:
        steps.extend(_driver_steps(inv, manager, _driver_floor(choices)))
    elif new_driver:
        notes.append("install the NVIDIA driver yourself: dlws does not manage the packages of %s" % release)
    if request.with_cuda_toolkit and manager:
        steps.extend(_toolkit_steps(inv, manager, choices, any(s.id == "nvidia-repo" for s in steps), notes))
    elif request.with_cuda_toolkit:
        notes.append("install the CUDA toolkit yourself: dlws does not manage the packages of %s" % release)
    gap = _repo_gap(inv) if manager and (new_driver or request.with_cuda_toolkit) else None
    if gap:
        notes.append("%s: install the %s yourself" % (gap, " and the ".join(
            [what for what, wanted in (("NVIDIA driver", new_driver), ("CUDA toolkit", request.with_cuda_toolkit))
             if wanted])))
    if facts.gpus(inv, "amd") and any(c.variant.startswith("rocm") for c in choices):
        notes.append("the ROCm wheels bring the ROCm user-space libraries; the amdgpu kernel driver must be loaded "
                     "(in the distribution's kernel, or AMD's amdgpu-dkms)")
    steps.append(Step("environment", "Create the virtual environment %s" % request.env,
                      "the frameworks go into an environment of their own, not into the system's Python",
                      [Venv(request.env, "python" + python)], check='test -x "$DLWS_ENV/bin/python"'))
    for choice in choices:
        steps.append(_pip_step(choice))
    steps.append(Step("verify", "Import the frameworks, list their devices and run a matrix product",
                      "proves the install works on this machine's hardware",
                      [PythonCheck(_verify_code(inv, choices))]))
    return steps


def _python_step(inv: Dict[str, Any], manager: str, python: str) -> Step:
    """The distribution's pythonX.Y packages; on apt-based releases only their own python3 (Debian 12 has no
    python3.8 package): another Python is the user's to put on PATH, and the step says how when it is missing."""
    check = "command -v python%s >/dev/null && python%s -c 'import ensurepip, venv'" % (python, python)
    why = "the plan creates a virtual environment with python%s" % python
    shipped = distribution_python(inv)
    if manager == "apt" and python != "3" and shipped != python:
        message = ("no package of Python %s that dlws knows of for %s (its python3 is %s): put a python%s with "
                   "venv on PATH first (uv python install %s, conda create -n py%s python=%s, or pyenv), then run "
                   "this again"
                   % (python, _release_name(inv), shipped or "unknown", python, python, python.replace(".", ""),
                      python))
        return Step("python", "Find Python %s on PATH" % python, why, [Manual(message)], check=check)
    row = load("install")["python"][manager]
    names = [name.format(python=python) for name in row["packages"]]
    return Step("python", "Install Python %s with venv support" % python, why, [Packages(manager, names)],
                check=check, become=True)


def _driver_floor(choices: List[Choice]) -> str:
    """The oldest driver branch that runs every chosen build's CUDA (its minor-version compatibility floor)."""
    floors = [queries.minor_compat_floor(c.cuda) for c in choices if c.cuda]
    majors = [int(f.split(".")[0]) for f in floors if f]
    return str(max(majors)) if majors else "0"


#: A CPU architecture as it may appear in a note (anything else is named "this CPU").
ARCH_NAME = re.compile(r"^[A-Za-z0-9_]{1,16}$")


def _repo_gap(inv: Dict[str, Any]) -> Optional[str]:
    """Why NVIDIA's CUDA repository cannot be added here (no folder for the release, or none for this CPU), or
    None where it can: the plan then says so instead of adding a URL that does not exist."""
    info = facts.os_info(inv)
    row = queries.distribution(info.get("id") or "", info.get("version") or "")
    arch = (inv.get("cpu") or {}).get("arch")
    name = (row or {}).get("name") if row and row.get("version") != "*" else None
    name = name or "%s %s" % (info.get("id"), info.get("version"))
    if not row or not row.get("cuda_repo"):
        return "NVIDIA publishes no CUDA repository for %s that dlws knows of" % name
    folder = _repo_folder(inv)
    if folder is None:
        where = arch if isinstance(arch, str) and ARCH_NAME.match(arch) else "this CPU"
        return "NVIDIA publishes no CUDA repository for %s on %s (its guide lists %s for %s only)" % (
            name, where, row["cuda_repo"], ", ".join(row.get("cuda_repo_arches") or ["no CPU"]))
    if package_manager(inv) == "dnf" and not _dnf_key(folder).get("key_fingerprint"):
        return ("dlws knows no fingerprint of the key NVIDIA signs its %s repository with (%s), so it adds no "
                "repository whose key it cannot check" % (folder, _dnf_key(folder)["key_file"]))
    return None


def _repo_folder(inv: Dict[str, Any]) -> Optional[str]:
    """NVIDIA's repository folder for this release and CPU, where it publishes one and dlws knows the CPU's path."""
    info = facts.os_info(inv)
    arch = (inv.get("cpu") or {}).get("arch")
    if not isinstance(arch, str) or arch not in load("install")["cuda_repo"]["arch"]:
        return None
    return queries.cuda_repo_folder(info.get("id") or "", info.get("version") or "", arch)


def _repo_step(inv: Dict[str, Any], manager: str, why: str) -> Optional[Step]:
    """NVIDIA's signed CUDA repository for this distribution and architecture, when NVIDIA publishes one."""
    table = load("install")
    repo = _repo_folder(inv)
    if repo is None:
        return None
    url = table["cuda_repo"]["url"].format(repo=repo, arch=table["cuda_repo"]["arch"][inv["cpu"]["arch"]])
    prereq = Packages(manager, list(table["repo_prerequisites"][manager]["packages"]))
    if manager == "apt":
        keyring = "/usr/share/keyrings/nvidia-cuda.asc"  # apt reads armored keys named .asc in signed-by
        # Each folder has its own signing key (debian13's is not 3bf863cc): the folder's row, else the default.
        keys = table["cuda_repo"]["apt_keys"]
        key = keys.get(repo) or keys["default"]
        line = "deb [signed-by=%s] %s /" % (keyring, url)
        action: Any = AptRepo("nvidia-cuda", url + key["key_file"], key["key_fingerprint"], line, keyring, url)
        check = _apt_repo_check(action)
    else:
        action = _dnf_repo(repo, inv["cpu"]["arch"], url)
        if action is None:
            return None
        check = _dnf_repo_check(action)
    return Step("nvidia-repo", "Add NVIDIA's signed CUDA repository (%s)" % repo, why, [prereq, action],
                check=check, become=True)


def _apt_repo_check(repo: AptRepo) -> str:
    """Done only when our list file has exactly our line, the keyring holds the folder's pinned key (an older plan
    may have left debian13 on 3bf863cc) and no other source file names the URL: apt refuses two sources of one URL
    with different Signed-By (NVIDIA's cuda-keyring writes its own list), so the step then sets those aside."""
    return ("grep -qxF %s \\\n  %s &&\n%s &&\n"
            "[ -z \"$(%s)\" ]" % (shlex.quote(repo.line), repo.listing,
                                 key_is_pinned(repo.keyring, repo.key_fingerprint), repo.others))


def _dnf_key(repo: str) -> Dict[str, Any]:
    """The signing key of NVIDIA's dnf folder repo (its own row, else the default): rhel10's is not D42D0685."""
    keys = load("install")["cuda_repo"]["dnf_keys"]
    return keys.get(repo) or keys["default"]


def _dnf_repo(repo: str, arch: str, url: str) -> Optional[DnfRepo]:
    """The .repo file NVIDIA publishes for the folder, written by the plan (its URLs go through the mirrors), with
    the key pinned; None where dlws knows no fingerprint of the folder's key: an unchecked key is never trusted."""
    table = load("install")["cuda_repo"]
    key, options = _dnf_key(repo), table["dnf_repo"]
    if not key.get("key_fingerprint"):
        return None
    return DnfRepo(options["section"].format(repo=repo, arch=table["arch"][arch]),
                   "/etc/yum.repos.d/" + table["dnf_repo_file"].format(repo=repo), url.rstrip("/"),
                   url + key["key_file"], key["key_fingerprint"], "/etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-" + repo,
                   bool(options["gpgcheck"]), bool(options["repo_gpgcheck"]))


def _dnf_repo_check(repo: DnfRepo) -> str:
    """Done only when the .repo file is exactly ours, the kept key is the pinned one and rpm has imported it."""
    return ("%s \\\n  | cmp -s - %s &&\n%s &&\n%s &&\n[ -z \"$(%s)\" ]"
            % (repo.printf, repo.file, key_is_pinned(repo.key_path, repo.key_fingerprint),
               rpm_has_imported(repo.key_fingerprint), repo.others))



def _driver_steps(inv: Dict[str, Any], manager: str, floor: str) -> List[Step]:
    branch = select.driver_branch(facts.gpus(inv, "nvidia"))
    why = "the NVIDIA driver is %s; the chosen builds need a driver >= %s (%s kernel modules for these GPUs)" % (
        facts.nvidia(inv).get("driver_version") or "missing", floor, branch["flavour"] if branch else "?")
    repo = _repo_step(inv, manager, why)
    if branch is None or repo is None:
        return []
    driver_check = "nvidia-smi >/dev/null 2>&1 && [ \"$(nvidia-smi --query-gpu=driver_version --format=csv,noheader" \
                   " | head -n 1 | cut -d. -f1)\" -ge %s ]" % floor
    return [
        repo,
        Step("nvidia-driver", "Install the NVIDIA driver (%s, >= %s)" % (" ".join(branch[manager]), floor),
             why, _module_streams(inv, manager, branch) + [Packages(manager, list(branch[manager]))],
             check=driver_check, become=True,
             verify="command -v nvidia-smi >/dev/null"),  # the module itself loads only after the reboot
        Step("reboot", "Reboot to load the new driver", "a new kernel module loads at boot",
             [Reboot("the NVIDIA driver was installed")], check="nvidia-smi >/dev/null 2>&1", become=True),
    ]


def _module_streams(inv: Dict[str, Any], manager: str, branch: Dict[str, Any]) -> List[Any]:
    """Where NVIDIA's dnf driver packages come from module streams, the stream is enabled first (RHEL 10 has none)."""
    info = facts.os_info(inv)
    if manager != "dnf" or not branch.get("dnf_module_stream") or not queries.driver_module_streams(
            info.get("id"), _major(info)):
        return []
    return [DnfModule(branch["dnf_module_stream"])]


def _toolkit_steps(inv: Dict[str, Any], manager: str, choices: List[Choice], have_repo: bool,
                   notes: List[str]) -> List[Step]:
    """A system CUDA toolkit of the CUDA the chosen builds bring (else the newest the driver runs); none, with a note,
    where NVIDIA's repository for this release stops before that CUDA."""
    cuda = next((c.cuda for c in choices if c.cuda), None) or facts.nvidia(inv).get("cuda_driver_version")
    version = facts.major_minor(cuda)
    if version is None:
        return []
    info = facts.os_info(inv)
    row = queries.distribution(info.get("id") or "", info.get("version") or "") or {}
    dropped = facts.major_minor(row.get("cuda_dropped_in"))
    if dropped is not None and version >= dropped:
        notes.append("NVIDIA's repository has no CUDA %d.%d toolkit for %s (CUDA %d.%d dropped it): install the "
                     "toolkit yourself, or plan a build of CUDA < %d.%d (--variant)" % (
                         version + (row.get("name") or info.get("id"),) + dropped + dropped))
        return []
    why = "asked for with --with-cuda-toolkit (to compile CUDA extensions); CUDA %d.%d matches the builds" % version
    steps = [] if have_repo else [s for s in [_repo_step(inv, manager, why)] if s]
    if not steps and not have_repo:
        return []
    package = "cuda-toolkit-%d-%d" % version
    return steps + [Step("cuda-toolkit", "Install the CUDA %d.%d toolkit (%s)" % (version + (package,)), why,
                         [Packages(manager, [package])], check="test -x /usr/local/cuda-%d.%d/bin/nvcc" % version,
                         become=True)]


#: Exits 0 when every pinned package is installed at its version, compared as pip compares them (PEP 440: '==2.4.1'
#: matches 2.4.1+cu124; 2.4 is 2.4.0), and carries the chosen build's local label: a torch 2.4.1+cpu is not the cu124
#: build. The framework's own package must carry it; a companion may carry none. Silent: it also asks "done yet?".
#: Each version is read from its variable (version_variable), as the pip line is: a playbook's -e changes both.
PINS_INSTALLED = """import importlib.metadata as m
import sys
import os
wanted = {{
{pins}}}
main, label = {main}, {label}


def release(version):
    parts = version.lower().split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return parts


def fits(name, version):
    have = m.version(name)
    if "+" in version:
        return have.lower() == version.lower()
    public, _, local = have.lower().partition("+")
    return release(public) == release(version) and local in ((label,) if name == main else (label, ""))


try:
    sys.exit(0 if all(fits(name, version) for name, version in wanted.items()) else 1)
except m.PackageNotFoundError:
    sys.exit(1)
"""


#: Exits 0 when each package was installed from its wheel's URL (pip records it, PEP 610 direct_url.json): a direct
#: wheel's file name and metadata may spell its version differently, so the URL, not the version, says it is done.
WHEEL_INSTALLED = """import importlib.metadata as m
import json
import sys
wanted = {{
{urls}}}
try:
    have = {{name: json.loads(m.distribution(name).read_text("direct_url.json") or "{{}}").get("url")
            for name in wanted}}
except m.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if have == wanted else 1)
"""


def is_wheel_choice(choice: Choice) -> bool:
    """Installed from direct wheel URLs (NVIDIA's JetPack wheels), not pinned from an index."""
    return choice.index_url is None and bool(choice.requirements) and all(
        "://" in r for r in choice.requirements)


def _long_string(url: str) -> str:
    """A URL as a Python string literal, split after its folder onto a line of its own (lines stay short enough
    for ansible-lint): "https://.../pytorch/"\n        "torch-2.5.0a0+...whl"."""
    folder, slash, name = url.rpartition("/")
    if len(url) < 80 or not slash:
        return json.dumps(url)
    return "%s\n        %s" % (json.dumps(folder + slash), json.dumps(name))


def _pip_step(choice: Choice) -> Step:
    variable = {parts[0]: parts[2] for parts in map(pinned, choice.requirements) if parts}  # what -e can change
    pins = "".join(('    "%s": os.environ.get("%s", "%s"),\n' % (name, version_variable(name), version)
                    if variable.get(name) == version else '    "%s": "%s",\n' % (name, version))
                   for name, version in sorted(choice.packages.items()))
    if is_wheel_choice(choice):
        urls = "".join("    %s: %s,\n" % (json.dumps(name), _long_string(url))
                       for name, url in zip(choice.packages, choice.requirements))
        return Step("install-%s" % choice.framework, "Install %s" % ", ".join(
            "%s==%s" % item for item in choice.packages.items()),
                    "%s %s, %s build, from %s%s" % (choice.framework, choice.release, choice.variant,
                                                   ", ".join(choice.requirements),
                                                   "; " + "; ".join(choice.notes) if choice.notes else ""),
                    [Pip(list(choice.requirements), None)],
                    check='"$DLWS_ENV/bin/python" -c %s' % shlex.quote(WHEEL_INSTALLED.format(urls=urls)))
    main = (load("frameworks")["frameworks"].get(choice.framework) or {}).get("package") or ""
    code = PINS_INSTALLED.format(pins=pins, main=json.dumps(main), label=json.dumps(choice.local))
    check = '"$DLWS_ENV/bin/python" -c %s' % shlex.quote(code)
    source = choice.index_url or "PyPI"
    return Step("install-%s" % choice.framework, "Install %s" % ", ".join(choice.requirements),
                "%s %s, %s build, from %s%s" % (choice.framework, choice.release, choice.variant, source,
                                               "; " + "; ".join(choice.notes) if choice.notes else ""),
                [Pip(list(choice.requirements), choice.index_url,
                     {name: version for name, version in variable.items() if choice.packages.get(name) == version})],
                check=check)


#: Per framework: import it, say what it sees, and (for a GPU plan) fail unless it sees the GPUs the plan was made for,
#: then run a matrix product on its default device. {expect} is the count of GPUs and their compute capabilities.
VERIFY = {
    "pytorch": ('import torch\n'
                'mps = getattr(torch.backends, "mps", None)\n'
                'metal = mps is not None and mps.is_available()\n'
                'device = "cuda" if torch.cuda.is_available() else "mps" if metal else "cpu"\n'
                'print("torch", torch.__version__, "GPUs:", torch.cuda.device_count())\n'),
    # TF 1.x runs graphs unless told otherwise and lists GPUs through device_lib (tf.config's list is 2.1+)
    "tensorflow": ('import tensorflow as tf\n'
                   'if not tf.executing_eagerly():\n'
                   '    tf.compat.v1.enable_eager_execution()\n'
                   'if hasattr(getattr(tf, "config", None), "list_physical_devices"):\n'
                   '    gpus = tf.config.list_physical_devices("GPU")\n'
                   'else:\n'
                   '    from tensorflow.python.client import device_lib\n'
                   '    gpus = [d for d in device_lib.list_local_devices() if d.device_type == "GPU"]\n'
                   'print("tensorflow", tf.__version__, "GPUs:", gpus)\n'),
    "jax": ('import jax\n'
            'import jax.numpy as jnp\n'
            'print("jax", jax.__version__, "devices:", jax.devices())\n'),
    "mxnet": ('import mxnet as mx\n'
              'print("mxnet", mx.__version__, "GPUs:", mx.context.num_gpus())\n'),
}
#: The GPUs each framework sees: (count, compute capabilities "X.Y" where it reports them), and its CUDA/ROCm build.
SEEN = {
    "pytorch": ('seen = torch.cuda.device_count() if torch.cuda.is_available() else 0\n'
                'caps = {"%d.%d" % torch.cuda.get_device_capability(i) for i in range(seen)} '
                'if torch.version.cuda else set()\n'
                'build = "torch %s (CUDA %s, ROCm %s)" % (torch.__version__, torch.version.cuda, '
                'getattr(torch.version, "hip", None))\n'),
    # get_device_details and get_build_info are TF 2.3+: before, the count alone is checked
    "tensorflow": ('seen = len(gpus)\n'
                   'details = getattr(getattr(getattr(tf, "config", None), "experimental", None), '
                   '"get_device_details", None)\n'
                   'caps = {"%d.%d" % tuple(d["compute_capability"]) for d in map(details, gpus) '
                   'if d.get("compute_capability")} if details else set()\n'
                   'info = tf.sysconfig.get_build_info() if hasattr(tf.sysconfig, "get_build_info") else {}\n'
                   'build = "tensorflow %s (CUDA %s)" % (tf.__version__, info.get("cuda_version"))\n'),
    "jax": ('gpus = [d for d in jax.devices() if d.platform == "gpu"]\n'
            'seen = len(gpus)\n'
            'caps = {str(d.compute_capability) for d in gpus if getattr(d, "compute_capability", None)}\n'
            'build = "jax %s" % jax.__version__\n'),
    "mxnet": ('seen = mx.context.num_gpus()\n'
              'caps = set()\n'
              'build = "mxnet %s" % mx.__version__\n'),
}
#: Exits with a message naming what the framework saw, unless it sees the GPUs the plan was made for.
GPU_GATE = ('expected, wanted = {count}, set({caps})\n'
            'if seen < expected or not wanted <= (caps or wanted):\n'
            '    import os\n'
            '    saw = " of compute capability " + ", ".join(sorted(caps)) if caps else ""\n'
            '    made = ", ".join(sorted(wanted)) or "compute capability unknown"\n'
            '    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")\n'
            '    why = "; CUDA_VISIBLE_DEVICES=%r" % hidden if hidden is not None else ""\n'
            '    sys.exit("dlws: %s sees %d GPU(s)%s; the plan was made for %d (%s)%s" % (build, seen, saw, expected, '
            'made, why))\n')
MATMUL = {
    "pytorch": ('a = torch.randn(256, 256, device=device)\n'
                'print("torch matmul on", device, float((a @ a).sum()))\n'),
    "tensorflow": ('a = tf.random.normal((256, 256))\n'
                   'print("tensorflow matmul", float(tf.reduce_sum(a @ a)))\n'),
    "jax": ('a = jnp.ones((256, 256))\n'
            'print("jax matmul on", jax.devices()[0].platform, float((a @ a).sum()))\n'),
    "mxnet": ('a = mx.nd.ones((256, 256), ctx=mx.gpu(0) if mx.context.num_gpus() else mx.cpu())\n'
              'print("mxnet matmul", mx.nd.dot(a, a).sum().asscalar())\n'),
}


def _expected_gpus(inv: Dict[str, Any], choice: Choice) -> Optional[Tuple[int, Set[str]]]:
    """The GPUs a GPU build must see: how many, and their compute capabilities (CUDA builds, where all are known;
    normalized to X.Y, so nothing from the inventory reaches the code but numbers). None for a CPU build."""
    if choice.variant.startswith("rocm"):
        return len(facts.gpus(inv, "amd")), set()
    if not choice.cuda:
        return None
    gpus = facts.gpus(inv, "nvidia")
    caps = [facts.major_minor(g.get("compute_capability")) for g in gpus]
    known = {"%d.%d" % cap for cap in caps if cap} if all(caps) else set()
    return len(gpus), known


def _verify_code(inv: Dict[str, Any], choices: List[Choice]) -> str:
    code = ""
    for choice in choices:
        if choice.framework not in VERIFY:
            continue
        code += VERIFY[choice.framework]
        expected = _expected_gpus(inv, choice)
        if expected and expected[0]:
            code += "import sys\n" + SEEN[choice.framework] + GPU_GATE.format(count=int(expected[0]),
                                                                              caps=json.dumps(sorted(expected[1])))
        code += MATMUL[choice.framework]
    for choice in choices:
        if choice.framework == "keras" and Version(choice.release).major == 2:  # TensorFlow's Keras: no keras.ops
            code += ('import keras\nones = keras.backend.ones((64, 64))\n'
                     'print("keras", keras.__version__, "on", keras.backend.backend(), '
                     'float(keras.backend.sum(keras.backend.dot(ones, ones))))\n')
        elif choice.framework == "keras":
            code += ('import os\nos.environ.setdefault("%s", "%s")\nimport keras\n'
                     'ones = keras.ops.ones((64, 64))\n'
                     'print("keras", keras.__version__, "on", keras.backend.backend(), '
                     'float(keras.ops.sum(keras.ops.matmul(ones, ones))))\n' % (queries.keras_info()["env_var"],
                                                                                 choice.variant))
    return code
