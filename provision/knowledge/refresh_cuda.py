"""The CUDA, cuDNN and NCCL a framework release installs from PyPI, derived from the ``nvidia-*`` Requires-Dist of
one Linux x86_64 wheel's METADATA (scripts/refresh-knowledge; never on the doctor's path):

* torch (the PyPI default build, ``reference.pypi_default_linux_x86_64``): its plain Requires-Dist pins
  (``nvidia-cuda-runtime-cu12==12.4.127``, ``cuda-toolkit[...]==13.2.2``, ``nvidia-cudnn-cu12==9.1.0.70``,
  ``nvidia-nccl-cu12==2.21.5``) fill that variant's ``cuda`` ('12.4'), ``cudnn`` (the cuDNN wheel's version, as the
  table keeps it: '9.1.0.70', cuDNN 9.1.0) and ``nccl`` ('2.21.5');
* tensorflow 2.14+ (``and_cuda_extra``): the ``and-cuda`` extra's pins (2.14-2.18) or floors (2.19+) fill the row's
  ``cuda`` and ``cudnn`` (major.minor, as the row keeps them) and ``nccl``;
* JAX (each extra in ``cuda_extras``): jax's extra (``jax[cuda12]``) and the plugin it names
  (``jax-cuda12-plugin[with-cuda]``, whose METADATA carries the NVIDIA wheels from 0.4.30 on; 0.4.22-0.4.29 list
  them in jax's own extra) fill ``cuda_extra_requires[extra]``: each range in what the wheels mean
  ('nvidia-cudnn-cu12>=9.8,<10.0' -> cudnn '>=9.8,<10.0', 'nvidia-cuda-runtime-cu12>=12.1.105' -> cuda '>=12.1').

NVIDIA wheel versions -> what they mean: nvidia-cuda-runtime(-cuNN) and cuda-toolkit X.Y.Z -> CUDA X.Y,
nvidia-cudnn(-cuNN) A.B.C.D -> cuDNN A.B.C, nvidia-nccl(-cuNN) -> that NCCL. A value the row lacks is written; one
that differs and is not in the row's ``unverified_fields`` is reported as a conflict and kept (``--force``
overwrites), as for the glibc floors.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from provision.knowledge import wheel_metadata
from provision.knowledge.refresh import PYPI, Report, pinned

#: Project documents read beside refresh.PACKAGES: jax's extras and its CUDA plugins.
JAX_PACKAGES = ("jax", "jax-cuda12-plugin", "jax-cuda13-plugin")
#: component -> the wheels that carry it, and how many parts of their version it is known by.
COMPONENTS = {"cuda": (re.compile(r"nvidia-cuda-runtime(-cu\d+)?|cuda-toolkit"), 2),
              "cudnn": (re.compile(r"nvidia-cudnn(-cu\d+)?"), 3),
              "nccl": (re.compile(r"nvidia-nccl(-cu\d+)?"), 3)}
LINUX_X86_64 = {"platform_system": "Linux", "platform_machine": "x86_64", "sys_platform": "linux",
                "os_name": "posix"}

Pins = Dict[str, Tuple[str, SpecifierSet]]  # component -> (the wheel's name, its specifier)
Reader = Callable[[str], str]  # a wheel URL -> its METADATA text


def component_of(name: str) -> Optional[str]:
    normalized = canonicalize_name(name)
    return next((c for c, (pattern, _) in COMPONENTS.items() if pattern.fullmatch(normalized)), None)


def meaning(component: str, version: str) -> str:
    """'12.4.127' -> '12.4' (cuda), '9.1.0.70' -> '9.1.0' (cudnn): the version the wheel's version stands for."""
    return ".".join(version.split(".")[:COMPONENTS[component][1]])


def _python(filename: str) -> str:
    """The python_version a wheel's markers are judged for: its CPython tag, else a current one."""
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return "3.12"
    found = sorted(t.interpreter for t in tags if t.interpreter.startswith("cp") and t.interpreter[2:].isdigit())
    return "%s.%s" % (found[0][2], found[0][3:]) if found else "3.12"


def requirements(text: str, extra: Optional[str], python: str) -> List[Requirement]:
    """The Requires-Dist of a METADATA that apply on Linux x86_64: those the extra adds, or with None the plain
    install's."""
    environment = dict(LINUX_X86_64, python_version=python, python_full_version=python + ".0", extra=extra or "")
    found = []
    for line in wheel_metadata.fields(text).get("Requires-Dist", []):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None:
            if extra is None:
                found.append(requirement)
        elif requirement.marker.evaluate(environment) and (
                extra is None or not requirement.marker.evaluate(dict(environment, extra=""))):
            found.append(requirement)
    return found


def pins_of(found: List[Requirement]) -> Pins:
    pins: Pins = {}
    for requirement in found:
        component = component_of(requirement.name)
        if component:
            name, specifier = pins.get(component, (requirement.name, SpecifierSet()))
            pins[component] = (name, specifier & requirement.specifier)
    return pins


def _sorted(specifier: SpecifierSet) -> List[Specifier]:
    return sorted(specifier, key=lambda s: (not s.operator.startswith((">", "=", "~")), s.operator, s.version))


def exact(specifier: SpecifierSet) -> Optional[str]:
    """The version of a '==' pin; None for a range."""
    items = list(specifier)
    return items[0].version if len(items) == 1 and items[0].operator in ("==", "===") else None


def floor(specifier: SpecifierSet) -> Optional[str]:
    """The version of a pin or of a lower bound ('>=12.5.82,<13.0' -> '12.5.82'); None for neither."""
    return next((s.version for s in _sorted(specifier) if s.operator in ("==", "===", ">=", "~=")), None)


def ranged(component: str, specifier: SpecifierSet) -> str:
    """A specifier over a wheel's versions in what they mean: '<10.0,>=9.1.0.70' -> '>=9.1.0,<10.0' (cudnn)."""
    return ",".join(s.operator + meaning(component, s.version) for s in _sorted(specifier))


def wheel_of(files: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The wheel whose METADATA speaks for a release: a Linux x86_64 one (the first by name), else a pure one."""
    wheels = sorted((f for f in files if isinstance(f, dict) and not f.get("yanked")
                     and str(f.get("filename", "")).endswith(".whl") and f.get("url")),
                    key=lambda f: str(f["filename"]))
    linux = [f for f in wheels if re.search(r"-manylinux[^-]*x86_64(\.|$)|-linux_x86_64\.", f["filename"])]
    pure = [f for f in wheels if f["filename"].endswith("-none-any.whl")]
    candidates = linux or pure
    return candidates[0] if candidates else None


class Wheels:
    """Reads the METADATA of a release's chosen wheel from the project documents, once each; what it could not."""

    def __init__(self, documents: Dict[str, Dict[str, Any]], base: str, read: Reader) -> None:
        self.documents, self.base, self.read = documents, base, read
        self.texts: Dict[Tuple[str, str], Tuple[str, str]] = {}
        self.unread: List[str] = []

    def metadata(self, package: str, version: str) -> Optional[Tuple[str, str]]:
        """(filename, METADATA text) of the package's release, None when PyPI has no wheel or it cannot be read."""
        key = (package, version)
        if key not in self.texts:
            files = ((self.documents.get(package) or {}).get("releases") or {}).get(version) or []
            wheel = wheel_of(files)
            if wheel is None:
                return None
            url = urllib.parse.urljoin("%s/%s/json" % (self.base.rstrip("/"), package), str(wheel["url"]))
            try:
                self.texts[key] = (str(wheel["filename"]), self.read(url))
            except (OSError, ValueError) as error:
                self.unread.append("%s %s (%s): %s" % (package, version, wheel["filename"], error))
                return None
        return self.texts[key]

    def newest(self, package: str, specifier: SpecifierSet) -> Optional[str]:
        """The newest final release of a package with wheels that a specifier allows (what pip would pick)."""
        versions = []
        for version, files in ((self.documents.get(package) or {}).get("releases") or {}).items():
            try:
                parsed = Version(version)
            except InvalidVersion:
                continue
            if not parsed.is_prerelease and wheel_of(files or []) and specifier.contains(parsed):
                versions.append((parsed, version))
        return max(versions)[1] if versions else None


def _cite(row: Dict[str, Any], read: List[str], pins: Pins, changed: bool, today: str) -> None:
    """Name the wheels and pins in the row's cuda_pins_source; the date moves only when they or a value changed."""
    named = ", ".join("%s%s" % (name, specifier) for _, (name, specifier) in sorted(pins.items()))
    text = "PyPI wheel METADATA Requires-Dist (PEP 658 .metadata, or the wheel's .dist-info/METADATA read by " \
           "HTTP range requests) of %s: %s, read " % (", ".join(read), named)
    if changed or not str(row.get("cuda_pins_source", "")).startswith(text):
        row["cuda_pins_source"] = text + today


def _merge(row: Dict[str, Any], target: Dict[str, Any], field: str, derived: Any, label: str, unverified: str,
           force: bool, report: Report) -> bool:
    """Write one derived value into target (the row or one of its variants); True when it changed."""
    current = target.get(field)
    if current == derived:
        return False
    if current is None or force or unverified in (row.get("unverified_fields") or []):
        report.changes.append("%s: %s %s -> %s" % (label, unverified, json.dumps(current), json.dumps(derived)))
        target[field] = derived
        return True
    report.conflicts.append("%s: %s is %s (hand-verified), the wheels' Requires-Dist say %s" % (
        label, unverified, json.dumps(current), json.dumps(derived)))
    return False


def torch_row(row: Dict[str, Any], wheels: Wheels, today: str, force: bool, report: Report) -> None:
    label, version = "pytorch %s" % row.get("version"), pinned("pytorch", row)
    variant = (row.get("reference") or {}).get("pypi_default_linux_x86_64")
    read = wheels.metadata("torch", version) if version and variant else None
    if read is None:
        return
    pins = pins_of(requirements(read[1], None, _python(read[0])))
    if not pins:
        return  # torch before 1.13 bundles its CUDA libraries: no NVIDIA wheel to read
    values = {c: exact(s) for c, (_, s) in pins.items()}
    cuda_pin = values.get("cuda")
    cuda = meaning("cuda", cuda_pin) if cuda_pin else None
    if cuda and "cu" + cuda.replace(".", "") != variant:
        report.conflicts.append("%s: the PyPI wheel pins CUDA %s, reference.pypi_default_linux_x86_64 says %s" % (
            label, cuda, variant))
        return
    target = row.setdefault("variants", {}).setdefault(variant, {})
    changed = False
    for component, value in sorted(values.items()):
        if value is None:
            report.notes.append("%s: %s is a range in the wheel, not a pin: not written" % (label, pins[component][1]))
            continue
        derived = meaning("cuda", value) if component == "cuda" else value
        changed = _merge(row, target, component, derived, label, "variants.%s.%s" % (variant, component), force,
                         report) or changed
    _cite(row, [read[0]], pins, changed, today)


def tensorflow_row(row: Dict[str, Any], wheels: Wheels, today: str, force: bool, report: Report) -> None:
    label, version = "tensorflow %s" % row.get("version"), pinned("tensorflow", row)
    read = wheels.metadata("tensorflow", version) if version and row.get("and_cuda_extra") else None
    if read is None:
        return
    pins = pins_of(requirements(read[1], "and-cuda", _python(read[0])))
    if not pins:
        report.notes.append("%s: its and-cuda extra names no NVIDIA CUDA/cuDNN/NCCL wheel" % label)
        return
    changed = False
    for component, (_, specifier) in sorted(pins.items()):
        value = floor(specifier)
        if value is None:
            continue
        derived = ".".join(value.split(".")[:2]) if component in ("cuda", "cudnn") else meaning(component, value)
        changed = _merge(row, row, component, derived, label, component, force, report) or changed
    _cite(row, [read[0]], pins, changed, today)


def jax_pins(row: Dict[str, Any], extra: str, wheels: Wheels) -> Optional[Tuple[List[str], Pins]]:
    """The NVIDIA wheels jax[extra] installs: jax's extra and the plugin it names; (wheels read, pins)."""
    read = wheels.metadata("jax", (row.get("pins") or {}).get("jax") or "")  # jax's own pin, not jaxlib's
    if read is None:
        return None
    found = requirements(read[1], extra, _python(read[0]))
    names = [read[0]]
    for requirement in found:
        plugin = canonicalize_name(requirement.name)
        if plugin not in JAX_PACKAGES[1:]:
            continue
        version = wheels.newest(plugin, requirement.specifier)
        plugin_read = wheels.metadata(plugin, version) if version else None
        if plugin_read is None:
            return None
        names.append(plugin_read[0])
        for plugin_extra in sorted(requirement.extras):
            found.extend(requirements(plugin_read[1], plugin_extra, _python(plugin_read[0])))
    return names, pins_of(found)


def jax_row(row: Dict[str, Any], wheels: Wheels, today: str, force: bool, report: Report) -> None:
    label = "jax %s" % row.get("version")
    derived: Dict[str, Dict[str, str]] = {}
    sources: List[str] = []
    every: Pins = {}
    for extra in row.get("cuda_extras") or []:
        found = jax_pins(row, extra, wheels)
        if found is None:
            return
        names, pins = found
        derived[extra] = {c: ranged(c, s) for c, (_, s) in sorted(pins.items())}
        sources.extend(n for n in names if n not in sources)
        every.update({"%s %s" % (extra, c): p for c, p in pins.items()})
    if not derived:
        return
    changed = _merge(row, row, "cuda_extra_requires", derived, label, "cuda_extra_requires", force, report)
    _cite(row, sources, every, changed, today)


def refresh_cuda(table: Dict[str, Any], wheels: Wheels, today: str, force: bool = False,
                 report: Optional[Report] = None) -> Report:
    """Update the table in place from the wheels' METADATA (module docstring); what changed, and what was not."""
    report = report or Report()
    before = len(report.changes)
    for framework, apply in (("pytorch", torch_row), ("tensorflow", tensorflow_row), ("jax", jax_row)):
        for row in table["frameworks"].get(framework, {}).get("releases") or []:
            apply(row, wheels, today, force, report)
    report.missing.extend("METADATA of %s" % item for item in wheels.unread)
    if len(report.changes) > before:
        table["as_of"] = today
    return report


def recorded_urls(wheels: Wheels, document: Dict[str, Any], package: str) -> Dict[str, str]:
    """filename -> the URL path of each wheel whose METADATA was read (what a recording keeps of its file list)."""
    read = {filename for (name, _), (filename, _) in wheels.texts.items() if name == package}
    urls = {}
    for files in (document.get("releases") or {}).values():
        for item in files or []:
            if isinstance(item, dict) and item.get("filename") in read:
                url = urllib.parse.urljoin("%s/%s/json" % (PYPI, package), str(item.get("url")))
                urls[str(item["filename"])] = urllib.parse.urlsplit(url).path
    return urls


def _relevant(line: str) -> bool:
    """A Requires-Dist this module reads: a COMPONENTS wheel or a JAX CUDA plugin."""
    try:
        name = Requirement(line).name
    except InvalidRequirement:
        return False
    return component_of(name) is not None or canonicalize_name(name) in JAX_PACKAGES[1:]


def recorded_metadata(text: str) -> str:
    """A METADATA cut to what this module reads: the KEEP fields, and of Requires-Dist the _relevant ones."""
    prefix = "Requires-Dist: "
    return "".join(line for line in wheel_metadata.stripped(text).splitlines(True)
                   if not line.startswith(prefix) or _relevant(line[len(prefix):].strip()))
