"""plan(inventory, request) -> Plan: the ordered, idempotent steps that make the requested frameworks work here.

A pure function of the inventory JSON, the request and the knowledge base: same input, same plan.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from typing import Any, Dict, List, Optional

from provision.inventory import facts
from provision.inventory.conform import typed
from provision.knowledge import load, queries
from provision.planner import select
from provision.planner.model import (AptRepo, Choice, DnfModule, DnfRepo, Packages, Pip, Plan, PythonCheck, Reboot, Request,
                                     Step, Venv)

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
    return result


def _alternatives(inv: Dict[str, Any], request: Request, framework: str) -> List[str]:
    """What works instead: upgrading the driver, or the CPU build (each the newest release that fits)."""
    out = []
    if request.driver != "upgrade" and select.driver_installable(inv):
        upgrade = dataclasses.replace(request, driver="upgrade")
        verdict, _ = select.choose_framework(select.driver_after_plan(inv, upgrade), upgrade, framework,
                                             request.version)
        if verdict is not None:
            out.append("upgrade the driver: dlws setup --framework %s --driver upgrade (%s %s, %s)" % (
                framework, framework, verdict.build.release, verdict.build.variant))
    if request.variant != "cpu":
        cpu = dataclasses.replace(request, variant="cpu")
        verdict, _ = select.choose_framework(inv, cpu, framework, request.version)
        if verdict is not None:
            out.append("the CPU build: dlws setup --framework %s --variant cpu (%s %s)" % (
                framework, framework, verdict.build.release))
    return out


# --- steps ----------------------------------------------------------------------------------------------------------


def _steps(inv: Dict[str, Any], request: Request, python: str, choices: List[Choice], new_driver: bool,
           notes: List[str]) -> List[Step]:
    manager = package_manager(inv)
    steps: List[Step] = []
    if manager:
        steps.append(_python_step(manager, python))
    elif facts.os_info(inv).get("system") == "linux":
        notes.append("dlws does not manage the packages of %s %s: python%s with venv must be there already" % (
            facts.os_info(inv).get("id"), facts.os_info(inv).get("version"), python))
    if new_driver and manager:
        steps.extend(_driver_steps(inv, manager, _driver_floor(choices)))
    elif new_driver:
        notes.append("install the NVIDIA driver yourself: dlws manages packages only on Ubuntu, Debian and RHEL-likes")
    if request.with_cuda_toolkit and manager:
        steps.extend(_toolkit_steps(inv, manager, choices, any(s.id == "nvidia-repo" for s in steps)))
    elif request.with_cuda_toolkit:
        notes.append("install the CUDA toolkit yourself: dlws manages packages only on Ubuntu, Debian and RHEL-likes")
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
                      [PythonCheck(_verify_code(choices))]))
    return steps


def _python_step(manager: str, python: str) -> Step:
    row = load("install")["python"][manager]
    names = [name.format(python=python) for name in row["packages"]]
    return Step("python", "Install Python %s with venv support" % python,
                "the plan creates a virtual environment with python%s" % python, [Packages(manager, names)],
                check="command -v python%s >/dev/null && python%s -c 'import ensurepip, venv'" % (python, python),
                become=True)


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
    if _repo_folder(inv) is None:
        where = arch if isinstance(arch, str) and ARCH_NAME.match(arch) else "this CPU"
        return "NVIDIA publishes no CUDA repository for %s on %s (its guide lists %s for %s only)" % (
            name, where, row["cuda_repo"], ", ".join(row.get("cuda_repo_arches") or ["no CPU"]))
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
        action = DnfRepo("cuda-" + repo, url + table["cuda_repo"]["dnf_repo_file"].format(repo=repo))
        check = "test -s /etc/yum.repos.d/cuda-%s.repo" % repo
    return Step("nvidia-repo", "Add NVIDIA's signed CUDA repository (%s)" % repo, why, [prereq, action],
                check=check, become=True)


def _apt_repo_check(repo: AptRepo) -> str:
    """Done only when our list file has exactly our line, the keyring holds the folder's pinned key (an older plan
    may have left debian13 on 3bf863cc) and no other source file names the URL: apt refuses two sources of one URL
    with different Signed-By (NVIDIA's cuda-keyring writes its own list), so the step then sets those aside."""
    return ("grep -qxF %s \\\n  %s &&\ngpg --show-keys --with-colons %s 2>/dev/null | grep -q %s &&\n"
            "[ -z \"$(%s)\" ]" % (shlex.quote(repo.line), repo.listing, repo.keyring,
                                 shlex.quote("^fpr:*:%s:" % repo.key_fingerprint), repo.others))


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


def _toolkit_steps(inv: Dict[str, Any], manager: str, choices: List[Choice], have_repo: bool) -> List[Step]:
    """A system CUDA toolkit of the CUDA the chosen builds bring (else the newest the driver runs)."""
    cuda = next((c.cuda for c in choices if c.cuda), None) or facts.nvidia(inv).get("cuda_driver_version")
    version = facts.major_minor(cuda)
    if version is None:
        return []
    why = "asked for with --with-cuda-toolkit (to compile CUDA extensions); CUDA %d.%d matches the builds" % version
    steps = [] if have_repo else [s for s in [_repo_step(inv, manager, why)] if s]
    if not steps and not have_repo:
        return []
    package = "cuda-toolkit-%d-%d" % version
    return steps + [Step("cuda-toolkit", "Install the CUDA %d.%d toolkit (%s)" % (version + (package,)), why,
                         [Packages(manager, [package])], check="test -x /usr/local/cuda-%d.%d/bin/nvcc" % version,
                         become=True)]


#: Exits 0 when every pinned package is installed at its version (the check of a pip step).
PINS_INSTALLED = """import importlib.metadata as m
import sys
wanted = {{
{pins}}}
try:
    sys.exit(0 if all(m.version(name) == version for name, version in wanted.items()) else 1)
except m.PackageNotFoundError:
    sys.exit(1)
"""


def _pip_step(choice: Choice) -> Step:
    pins = "".join('    "%s": "%s",\n' % item for item in sorted(choice.packages.items()))
    check = '"$DLWS_ENV/bin/python" -c %s' % shlex.quote(PINS_INSTALLED.format(pins=pins))
    source = choice.index_url or "PyPI"
    return Step("install-%s" % choice.framework, "Install %s" % ", ".join(choice.requirements),
                "%s %s, %s build, from %s%s" % (choice.framework, choice.release, choice.variant, source,
                                               "; " + "; ".join(choice.notes) if choice.notes else ""),
                [Pip(list(choice.requirements), choice.index_url)], check=check)


VERIFY = {
    "pytorch": ('import torch\n'
                'mps = getattr(torch.backends, "mps", None)\n'
                'metal = mps is not None and mps.is_available()\n'
                'device = "cuda" if torch.cuda.is_available() else "mps" if metal else "cpu"\n'
                'print("torch", torch.__version__, "GPUs:", torch.cuda.device_count())\n'
                'a = torch.randn(256, 256, device=device)\n'
                'print("torch matmul on", device, float((a @ a).sum()))\n'),
    "tensorflow": ('import tensorflow as tf\n'
                   'print("tensorflow", tf.__version__, "GPUs:", tf.config.list_physical_devices("GPU"))\n'
                   'a = tf.random.normal((256, 256))\n'
                   'print("tensorflow matmul", float(tf.reduce_sum(a @ a)))\n'),
    "jax": ('import jax\n'
            'import jax.numpy as jnp\n'
            'print("jax", jax.__version__, "devices:", jax.devices())\n'
            'a = jnp.ones((256, 256))\n'
            'print("jax matmul on", jax.devices()[0].platform, float((a @ a).sum()))\n'),
    "mxnet": ('import mxnet as mx\n'
              'print("mxnet", mx.__version__)\n'
              'a = mx.nd.ones((256, 256))\n'
              'print("mxnet matmul", mx.nd.dot(a, a).sum().asscalar())\n'),
}


def _verify_code(choices: List[Choice]) -> str:
    code = "".join(VERIFY[c.framework] for c in choices if c.framework in VERIFY)
    for choice in choices:
        if choice.framework == "keras":
            code += ('import os\nos.environ.setdefault("%s", "%s")\nimport keras\n'
                     'ones = keras.ops.ones((64, 64))\n'
                     'print("keras", keras.__version__, "on", keras.backend.backend(), '
                     'float(keras.ops.sum(keras.ops.matmul(ones, ones))))\n' % (queries.keras_info()["env_var"],
                                                                                 choice.variant))
    return code
