"""`dlws fleet collection`: the Ansible collection dlws.fleet, built for the dlws that runs this.

The collection's modules and module_utils live in provision/fleet/ansible_collection/ (package data); the build adds
galaxy.yml and module_utils/dlws_bundle.py, which carries this dlws's own code (provision/, its knowledge tables
included) and the pure-Python packages its probes import. So the collection is whatever dlws is installed, from a
checkout or a wheel alike, and the hosts need nothing but a Python (3.9 or newer: every file carried is checked
against 3.9's grammar by tests/test_fleet_collection.py).

    build_tree(root)          root/ansible_collections/dlws/fleet/, the layout ansible-galaxy builds and installs
    build_tarball(out, ...)   that, plus dlws-fleet-VERSION.tar.gz made by `ansible-galaxy collection build`
    cached_collections()      a built tree under the dlws cache, for `fleet gather` (ANSIBLE_COLLECTIONS_PATH)
"""

from __future__ import annotations

import base64
import email.parser
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from importlib import metadata
from typing import Dict, Optional, Tuple

import provision
from provision import __version__
from provision.emit.yaml import dump
from provision.errors import DlwsError, UsageError
from provision.knowledge import cache_root

NAMESPACE, NAME = "dlws", "fleet"
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ansible_collection")
#: import name -> distribution: the pure-Python packages the probes and the doctor import, carried as this Python
#: has them (psutil and py-cpuinfo are read only off Linux, click only by the CLI: the bundle has neither, and the
#: code does without them there).
VENDORED = {"distro": "distro", "pynvml": "nvidia-ml-py"}
#: import name -> a wheel in provision/fleet/vendor/, carried instead of this Python's copy: packaging 26.4 needs
#: Python 3.10 (its Requires-Python, as PyPI lists it), and hosts run 3.9. packaging-25.0-py3-none-any.whl is PyPI's file
#: as is (sha256 29572ef2b1f17581046b3a2227d5c611fb25ec70ca1ba8554b24b0e69331a484, Requires-Python >=3.8); dlws
#: uses only its version, specifiers and utils modules, the same API in 25 and 26.
VENDOR_WHEELS = {"packaging": "packaging-25.0-py3-none-any.whl"}
VENDOR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
#: The oldest host Python dlws supports; a vendored package that needs a newer one raises the collection's floor.
MIN_PYTHON = (3, 9)
#: Parts of provision/ a module never imports: the fleet's controller side and the playbooks.
NOT_BUNDLED = ("fleet", "playbooks")
BUILD_TIMEOUT = 120.0  # seconds for ansible-galaxy collection build


def _package_files(root: str, prefix: str, skip: Tuple[str, ...] = ()) -> Dict[str, str]:
    """prefix/<relative path> -> text of every .py file under root (and the knowledge tables)."""
    files: Dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        relative = os.path.relpath(folder, root)
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and (relative != "." or d not in skip))
        for name in sorted(names):
            if name.endswith(".py") or (name.endswith(".json") and os.path.basename(folder) == "data"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    files[os.path.normpath(os.path.join(prefix, relative, name)).replace(os.sep, "/")] = handle.read()
    return files


def _vendored_root(module: str) -> Tuple[str, bool]:
    """(the package folder or module file, whether it is a package) of an importable module."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise DlwsError("cannot build the dlws.fleet collection: %s is not installed" % module)
    package = bool(spec.submodule_search_locations)
    return (os.path.dirname(spec.origin) if package else spec.origin), package


def _python_floor(distribution: str, requires: Optional[str]) -> Tuple[int, int]:
    """The oldest Python a distribution's Requires-Python admits (3.9 where it says nothing older is excluded)."""
    from packaging.specifiers import SpecifierSet

    spec = SpecifierSet(requires or "")  # None where absent
    for minor in range(MIN_PYTHON[1], 40):
        if spec.contains("3.%d.0" % minor):
            return 3, minor
    raise DlwsError("cannot build the dlws.fleet collection: %s admits no Python 3" % distribution)


def _wheel(module: str, name: str) -> Tuple[Dict[str, str], Dict[str, str], Dict[str, bytes]]:
    """(module's .py files, its METADATA's Name, Version and Requires-Python, its license files) of a wheel in
    VENDOR_DIR."""
    path = os.path.join(VENDOR_DIR, name)
    try:
        with zipfile.ZipFile(path) as wheel:
            names = wheel.namelist()
            files = {entry: wheel.read(entry).decode("utf-8") for entry in names
                     if entry.startswith(module + "/") and entry.endswith(".py")}
            (meta_name,) = [entry for entry in names if entry.endswith(".dist-info/METADATA")]
            meta = email.parser.Parser().parsestr(wheel.read(meta_name).decode("utf-8"), headersonly=True)
            licenses = {os.path.basename(entry): wheel.read(entry) for entry in names if ".dist-info/" in entry
                        and os.path.basename(entry).upper().startswith(("LICENSE", "COPYING"))}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DlwsError("cannot build the dlws.fleet collection: %s: %s" % (path, exc)) from None
    return files, {key: meta[key] for key in ("Name", "Version", "Requires-Python")}, licenses


def bundle() -> Tuple[Dict[str, str], Tuple[int, int], Dict[str, str]]:
    """(files, the host Python they need, vendored distribution -> version)."""
    return _bundle()[:3]


def _bundle() -> Tuple[Dict[str, str], Tuple[int, int], Dict[str, str], Dict[str, Dict[str, bytes]]]:
    """bundle(), and the license files of each vendored distribution."""
    files = _package_files(os.path.dirname(os.path.abspath(provision.__file__)), "provision", NOT_BUNDLED)
    floor, versions, licenses = MIN_PYTHON, {}, {}
    for module, distribution in sorted(VENDORED.items()):
        path, package = _vendored_root(module)
        if package:
            files.update(_package_files(path, module))
        else:
            with open(path, encoding="utf-8") as handle:
                files[module + ".py"] = handle.read()
        versions[distribution] = metadata.version(distribution)
        floor = max(floor, _python_floor(distribution, metadata.metadata(distribution)["Requires-Python"]))
        licenses[distribution] = _installed_licenses(distribution)
    for module, name in sorted(VENDOR_WHEELS.items()):
        found, meta, wheel_licenses = _wheel(module, name)
        files.update(found)
        versions[meta["Name"]], licenses[meta["Name"]] = meta["Version"], wheel_licenses
        floor = max(floor, _python_floor(meta["Name"], meta["Requires-Python"]))
    return files, floor, versions, licenses


def _bundle_module(files: Dict[str, str], floor: Tuple[int, int], versions: Dict[str, str]) -> str:
    packed = base64.b64encode(zlib.compress(json.dumps(files, sort_keys=True).encode("utf-8"), 9)).decode("ascii")
    lines = ["# Generated by `dlws fleet collection` (dlws %s): the code dlws_loader imports. Do not edit." % __version__,
             "from __future__ import annotations", "",
             "REQUIRES_PYTHON = %r" % (floor,), "VENDORED = %r" % (versions,), "BUNDLE = ("]
    lines += ["    %r" % packed[start:start + 100] for start in range(0, len(packed), 100)]
    return "\n".join(lines + [")", ""])


def galaxy_yml(versions: Dict[str, str]) -> str:
    return dump({
        "namespace": NAMESPACE, "name": NAME, "version": __version__, "readme": "README.md", "authors": ["dlws"],
        "description": "dlws on any host with a Python: the deep-learning inventory as facts, the doctor as a "
                       "pre-flight check, snapshots (dlws %s; carries %s)"
                       % (__version__, ", ".join("%s %s" % item for item in sorted(versions.items()))),
        "license": ["Apache-2.0"], "tags": ["gpu", "cuda", "inventory", "deeplearning"], "dependencies": {},
        "build_ignore": ["*.pyc", "__pycache__"],
    })


def build_tree(root: str) -> str:
    """Write the collection under root/ansible_collections/dlws/fleet (replaced whole); its path."""
    files, floor, versions, licenses = _bundle()
    target = os.path.join(root, "ansible_collections", NAMESPACE, NAME)
    staging = tempfile.mkdtemp(prefix=".fleet-", dir=_made(os.path.dirname(target)))
    try:
        tree = os.path.join(staging, NAME)
        shutil.copytree(SOURCE, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        _write(os.path.join(tree, "galaxy.yml"), galaxy_yml(versions))
        _write(os.path.join(tree, "plugins", "module_utils", "dlws_bundle.py"), _bundle_module(files, floor, versions))
        _licenses(os.path.join(tree, "licenses"), licenses)
        if os.path.isdir(target):
            old = tempfile.mkdtemp(prefix=".old-", dir=staging)
            os.rename(target, os.path.join(old, NAME))
        os.rename(tree, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _made(folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    return folder


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _installed_licenses(distribution: str) -> Dict[str, bytes]:
    """file name -> content of an installed distribution's license files, as its wheel ships them."""
    found: Dict[str, bytes] = {}
    for entry in metadata.files(distribution) or []:
        name = os.path.basename(str(entry))
        if name.upper().startswith(("LICENSE", "COPYING")) and not name.endswith(".py"):
            source = str(entry.locate())
            if os.path.isfile(source):
                with open(source, "rb") as handle:
                    found[name] = handle.read()
    return found


def _licenses(folder: str, licenses: Dict[str, Dict[str, bytes]]) -> None:
    """folder/<distribution>/<license file> of each vendored distribution."""
    for distribution, files in licenses.items():
        for name, data in files.items():
            with open(os.path.join(_made(os.path.join(folder, distribution)), name), "wb") as handle:
                handle.write(data)


def find_ansible_galaxy() -> str:
    """ansible-galaxy beside this Python (its virtual environment) first, then on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    found = beside if os.access(beside, os.X_OK) else shutil.which("ansible-galaxy")
    if not found:
        raise UsageError("ansible-galaxy not found: install ansible-core (pip install ansible-core)")
    return found


def build_tarball(output: str, timeout: float = BUILD_TIMEOUT) -> Tuple[str, str]:
    """(the tree, the tarball ansible-galaxy built from it) under output."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError("output %s exists and is not a folder" % output)
    tree = build_tree(output)
    argv = [find_ansible_galaxy(), "collection", "build", "--force", "--output-path", output, tree]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DlwsError("ansible-galaxy collection build took more than %g s" % timeout) from None
    tarball = os.path.join(output, "%s-%s-%s.tar.gz" % (NAMESPACE, NAME, __version__))
    if result.returncode != 0 or not os.path.isfile(tarball):
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise DlwsError("ansible-galaxy collection build failed: %s" % (lines[-1] if lines else result.returncode))
    return tree, tarball


def build_key() -> str:
    """Version plus a digest of the package's files and the vendored versions: a changed checkout (or an upgraded
    distro) gets a new collection, not a stale cached one."""
    package = os.path.dirname(os.path.abspath(provision.__file__))
    digest = hashlib.sha256()
    for folder, dirs, names in os.walk(package, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, package).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    for distribution in sorted(VENDORED.values()):
        digest.update(("%s==%s\0" % (distribution, metadata.version(distribution))).encode())
    return "%s-%s" % (__version__, digest.hexdigest()[:12])


def cached_collections(root: Optional[str] = None) -> str:
    """A collections folder (for ANSIBLE_COLLECTIONS_PATH) holding dlws.fleet of this dlws build: built once per
    build, atomically (concurrent gathers see a whole tree or none), older builds pruned."""
    root = root or cache_root()
    folder = os.path.join(root, "collections-" + build_key())
    if os.path.isfile(os.path.join(folder, "ansible_collections", NAMESPACE, NAME, "galaxy.yml")):
        return folder
    building = tempfile.mkdtemp(prefix=".building-", dir=_made(root))
    try:
        build_tree(building)
        os.rename(building, folder)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)  # another gather finished the same build first
        if not os.path.isdir(folder):
            raise
    for old in glob.glob(os.path.join(root, "collections-*")) + glob.glob(os.path.join(root, "wheelhouse-*")):
        if old != folder:  # a wheelhouse-*: what gathers before the collection left
            if os.path.isdir(old):
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.remove(old)
    return folder
