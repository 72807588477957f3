"""The columns of the frameworks table that PyPI's JSON API answers, derived from the wheels PyPI lists: used by
scripts/refresh-knowledge (maintainers, into the repository's table) and `dlws knowledge update` (users, into their
cache). Never on the doctor's path.

    scripts/refresh-knowledge                 # print what would change (a unified diff), the conflicts and stale rows
    scripts/refresh-knowledge --write         # and write it
    scripts/refresh-knowledge --check         # exit 1 when anything would change (CI, the tests)
    scripts/refresh-knowledge --record DIR    # also save the responses, stripped, for the tests (tests/data/pypi)

For every release row it reads https://pypi.org/pypi/NAME/json (one request a package: the per-version endpoint
/pypi/NAME/VERSION/json answers 404 through some mirrors, and the project document lists every release's files) and
derives, from the wheel filenames of the version the row pins (torch, tensorflow, jaxlib for JAX rows, mxnet):

* ``platforms``: platform -> the CPython versions with a wheel there ('3.12', '3.13t' free-threaded, '3.8+' for an
  abi3 wheel, 'py3' for a wheel whose tag names no CPython), from the PEP 425 / PEP 600 tags;
* ``glibc_min_linux_x86_64`` / ``glibc_min_linux_aarch64``: the manylinux glibc floor of that architecture's wheels
  (manylinux1 = 2.5, manylinux2010 = 2.12, manylinux2014 = 2.17, manylinux_X_Y = X.Y). A wheel installs where any
  one of its compressed tags fits, so each wheel counts with its lowest tag; each Python's floor is its lowest wheel
  (re-uploads with a build number); the architecture's floor is the highest of those, so that glibc >= floor has a
  wheel for every Python listed (a spread between Pythons is reported);
* ``macos_min_arm64`` / ``macos_min_x86_64``: the oldest macOS that architecture's wheels install on, from their
  macosx_X_Y tags (universal2 counts for both): each wheel with its lowest tag, each Python with its lowest wheel,
  the column the lowest of those; ``macos_min_arm64_by_python`` / ``..._x86_64_by_python`` the Pythons whose floor
  is higher (torch 2.10's 3.13t and 3.14 wheels say macosx_14_0, the others 11.0). pip installs no wheel on an
  older macOS, so these are the tool's own columns and follow PyPI;
* ``requires_python``: the Requires-Python of the files;
* ``wheels_source``: the URL and the date they were read.

A tag is what pip checks, not what the libraries inside need: torch 2.0-2.6 label their x86_64 wheels manylinux1
(glibc 2.5) though they are built on manylinux2014 / manylinux_2_28 images. So a tag floor is a lower bound: the tool
raises a floor below it (a row's unverified value, or with --force), never lowers one (a higher floor in the row is
kept and reported, --force included), writes none from a legacy tag below manylinux2014 into a row without one
(reported: the judgment then says it cannot judge the glibc; a maintainer writes the true floor with its
``glibc_source``: torch 1.x's manylinux1 wheels need CentOS 7's 2.17, TensorFlow 1.15-2.8's manylinux2010 tag is the
2.12 their build checks), and reports a hand-verified floor (not in the row's unverified_fields) that
differs as a conflict, leaving it. ``platforms`` and ``requires_python`` are the tool's own columns and follow
PyPI. Rows whose version PyPI lacks are left alone and reported, and so are releases PyPI has that no row covers
(never invented).

The CUDA, cuDNN and NCCL columns come from the wheels' METADATA, not the project document: refresh_cuda.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

PYPI = "https://pypi.org/pypi"
#: framework -> the PyPI package whose wheels carry the binaries (JAX's are jaxlib's).
PACKAGES = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jaxlib", "mxnet": "mxnet"}
#: Legacy manylinux tags -> the glibc they stand for (PEP 513, 571, 599).
LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
#: Tag floors below this come from the legacy manylinux1 / manylinux2010 tags, which builders kept after moving to
#: newer images (torch 2.0-2.6's x86_64 wheels say manylinux1): no floor is written from them, a maintainer decides.
LOWEST_TRUSTED = "2.17"
GLIBC_FIELDS = {"x86_64": "glibc_min_linux_x86_64", "aarch64": "glibc_min_linux_aarch64"}
MACOS_FIELDS = {"arm64": "macos_min_arm64", "x86_64": "macos_min_x86_64"}
#: The CPU architectures of a macosx_X_Y_<arch> tag ('intel' is the i386 + x86_64 fat binary).
MACOS_ARCHES = {"arm64": ["arm64"], "x86_64": ["x86_64"], "universal2": ["arm64", "x86_64"], "intel": ["x86_64"]}
MAX_BYTES = 64 * 2**20  # a project document is a few MB; a bigger answer is no PyPI answer

Floor = Tuple[int, int]


def glibc_of(platform: str) -> Optional[Tuple[str, Floor]]:
    """'manylinux_2_27_x86_64' -> ('x86_64', (2, 27)), 'manylinux2014_aarch64' -> ('aarch64', (2, 17)); None else."""
    for legacy, floor in LEGACY.items():
        if platform.startswith(legacy + "_"):
            return platform[len(legacy) + 1:], floor
    parts = platform.split("_", 3)
    if len(parts) == 4 and parts[0] == "manylinux" and parts[1].isdigit() and parts[2].isdigit():
        return parts[3], (int(parts[1]), int(parts[2]))
    return None


def macos_of(platform: str) -> Optional[Tuple[List[str], Floor]]:
    """'macosx_11_0_arm64' -> (['arm64'], (11, 0)), 'macosx_10_9_universal2' -> (['arm64', 'x86_64'], (10, 9));
    None for another tag."""
    parts = platform.split("_", 3)
    if len(parts) != 4 or parts[0] != "macosx" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    arches = MACOS_ARCHES.get(parts[3])
    return (arches, (int(parts[1]), int(parts[2]))) if arches else None


def _floors(per_python: Dict[str, Dict[str, Floor]], prefix: str, notes: List[str]) -> Dict[str, str]:
    """arch -> the highest of its Pythons' floors ('2.28', '11.0'), with a note where they differ."""
    out = {}
    for arch, pythons in per_python.items():
        out[arch] = "%d.%d" % max(pythons.values())
        if len(set(pythons.values())) > 1:
            notes.append("%s%s floors differ by Python: %s" % (prefix, arch, ", ".join(
                "%s %d.%d" % ((p,) + f) for p, f in sorted(pythons.items(), key=lambda i: _python_key(i[0])))))
    return out


def _lowest(into: Dict[str, Dict[str, Floor]], arch: str, python: str, floor: Floor) -> None:
    have = into.setdefault(arch, {}).get(python)
    into[arch][python] = floor if have is None else min(have, floor)


def platform_of(platform: str) -> Optional[List[str]]:
    """A wheel platform tag -> dlws platform names ('macosx_11_0_arm64' -> ['macos_arm64']); None for one unknown."""
    if platform == "any":
        return ["any"]
    manylinux = glibc_of(platform)
    if manylinux or platform.startswith("linux_"):
        return ["linux_" + (manylinux[0] if manylinux else platform[len("linux_"):])]
    if platform.startswith("macosx_"):
        arch = platform.split("_", 3)[-1]
        return {"universal2": ["macos_arm64", "macos_x86_64"], "arm64": ["macos_arm64"],
                "x86_64": ["macos_x86_64"]}.get(arch)
    return {"win_amd64": ["windows_amd64"], "win_arm64": ["windows_arm64"], "win32": ["windows_x86"]}.get(platform)


def python_of(interpreter: str, abi: str) -> Optional[str]:
    """('cp312', 'cp312') -> '3.12', ('cp313', 'cp313t') -> '3.13t', ('cp38', 'abi3') -> '3.8+', ('py3', *) -> 'py3'."""
    if interpreter.startswith("cp") and interpreter[2:].isdigit() and len(interpreter) >= 4:
        version = "%s.%s" % (interpreter[2], interpreter[3:])
        return version + "+" if abi == "abi3" else version + ("t" if abi.endswith("t") else "")
    return interpreter if interpreter.startswith("py") else None


def _python_key(text: str) -> Tuple[Any, ...]:
    try:
        return (0, Version(text.rstrip("t+")), text)
    except InvalidVersion:
        return (1, text)


def derive(files: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What one release's files say: platforms, glibc and macOS floors per architecture, Requires-Python, notes."""
    platforms: Dict[str, set] = {}
    per_python: Dict[str, Dict[str, Floor]] = {}  # arch -> python -> lowest glibc floor of its wheels
    mac_per_python: Dict[str, Dict[str, Floor]] = {}  # the same for macOS
    requires = sorted({f.get("requires_python") or "" for f in files if f.get("filename", "").endswith(".whl")})
    notes: List[str] = []
    for item in files:
        try:
            _, _, _, tags = parse_wheel_filename(str(item.get("filename") or ""))
        except InvalidWheelFilename:
            continue  # an sdist or a misnamed upload: no tags
        lowest: Dict[str, Dict[str, Floor]] = {}
        mac_lowest: Dict[str, Dict[str, Floor]] = {}
        for tag in tags:
            python = python_of(tag.interpreter, tag.abi)
            for name in platform_of(tag.platform) or []:
                if python:
                    platforms.setdefault(name, set()).add(python)
            manylinux, mac = glibc_of(tag.platform), macos_of(tag.platform)
            if manylinux and python:
                _lowest(lowest, manylinux[0], python, manylinux[1])
            if mac and python:
                for arch in mac[0]:
                    _lowest(mac_lowest, arch, python, mac[1])
        for into, found in ((per_python, lowest), (mac_per_python, mac_lowest)):
            for arch, pythons in found.items():
                for python, floor in pythons.items():
                    _lowest(into, arch, python, floor)
    glibc = _floors(per_python, "linux_", notes)
    macos = {arch: {p: "%d.%d" % f for p, f in pythons.items()} for arch, pythons in mac_per_python.items()}
    if len([r for r in requires if r]) > 1:
        notes.append("files disagree on Requires-Python: %s" % ", ".join(requires))
    return {"platforms": {name: sorted(found, key=_python_key) for name, found in sorted(platforms.items())},
            "glibc": glibc, "macos": macos, "requires_python": next((r for r in requires if r), None), "notes": notes}


def fetch(base: str, package: str, timeout: float = 120.0) -> Dict[str, Any]:
    """PyPI's JSON document of one project (bounded read)."""
    url = "%s/%s/json" % (base.rstrip("/"), package)
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "dlws-refresh"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (a maintainer's chosen URL)
        body = answer.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError("%s: answer larger than %d bytes" % (url, MAX_BYTES))
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("releases"), dict):
        raise ValueError("%s: no 'releases' in the answer" % url)
    return document


def pinned(framework: str, row: Dict[str, Any]) -> Optional[str]:
    """The version of the binary package a row installs (the newest patch of a torch minor, as its pins say)."""
    return (row.get("pins") or {}).get(PACKAGES[framework])


class Report:
    def __init__(self) -> None:
        self.changes: List[str] = []
        self.conflicts: List[str] = []
        self.notes: List[str] = []
        self.missing: List[str] = []
        self.stale: List[str] = []

    def lines(self) -> List[str]:
        out = []
        for title, items in (("changed", self.changes), ("conflicts (kept; --force overwrites)", self.conflicts),
                             ("notes", self.notes), ("rows PyPI has no files for (left alone)", self.missing),
                             ("on PyPI, not in the table", self.stale)):
            if items:
                out.append("%s:" % title)
                out.extend("  " + item for item in items)
        return out


def _floor(text: Any) -> Optional[Version]:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _merge_glibc(row: Dict[str, Any], field: str, derived: str, force: bool, label: str, report: Report) -> bool:
    """Write a tag floor into a row by the lower-bound rule (module docstring); True when the row changed."""
    current = row.get(field)
    if current == derived:
        return False
    unverified = field in (row.get("unverified_fields") or [])
    have, tag = _floor(current), _floor(derived)
    if current is None and tag is not None and tag < Version(LOWEST_TRUSTED):
        report.notes.append("%s: %s not written: its wheels' legacy tag says glibc %s, no runtime floor (unknown)" % (
            label, field, derived))
        return False
    raises = have is None or (tag is not None and have < tag)
    if current is None or ((unverified or force) and raises):  # a tag is a lower bound: it never lowers a floor
        report.changes.append("%s: %s %s -> %s" % (label, field, current, derived))
        row[field] = derived
        return True
    if have is not None and tag is not None and have > tag:
        report.notes.append("%s: %s %s kept, above its wheels' tag floor %s%s" % (
            label, field, current, derived, " (unverified)" if unverified else ""))
    else:
        report.conflicts.append("%s: %s is %s (hand-verified), its wheels' tags say %s" % (
            label, field, current, derived))
    return False


def refresh_row(framework: str, row: Dict[str, Any], document: Dict[str, Any], url: str, today: str, force: bool,
                report: Report) -> None:
    version = pinned(framework, row)
    label = "%s %s" % (framework, row.get("version"))
    files = [f for f in (document["releases"].get(version) or []) if isinstance(f, dict)] if version else []
    if not files:
        report.missing.append("%s (%s %s)" % (label, PACKAGES[framework], version))
        return
    derived = derive(files)
    report.notes.extend("%s: %s" % (label, note) for note in derived["notes"])
    changed = False
    for field in ("platforms", "requires_python"):
        if derived[field] is not None and row.get(field) != derived[field]:
            report.changes.append("%s: %s %s -> %s" % (label, field, json.dumps(row.get(field)),
                                                        json.dumps(derived[field])))
            row[field] = derived[field]
            changed = True
    for arch, field in GLIBC_FIELDS.items():
        if arch in derived["glibc"]:
            changed = _merge_glibc(row, field, derived["glibc"][arch], force, label, report) or changed
    for arch, field in MACOS_FIELDS.items():
        if arch in derived["macos"]:
            changed = _write_macos(row, field, derived["macos"][arch], label, report) or changed
    if changed or "wheels_source" not in row:
        row["wheels_source"] = "PyPI JSON API %s, releases[%r]: wheel filenames (PEP 425/600 platform and Python " \
                               "tags) and Requires-Python, read %s" % (url, version, today)


def _write_macos(row: Dict[str, Any], field: str, pythons: Dict[str, str], label: str, report: Report) -> bool:
    """The lowest macOS floor of an architecture's Pythons, and the Pythons above it; True when the row changed."""
    lowest = min(pythons.values(), key=lambda floor: _floor(floor) or Version("0"))
    above = {p: pythons[p] for p in sorted(pythons, key=_python_key) if pythons[p] != lowest}
    changed = False
    for key, value in ((field, lowest), (field + "_by_python", above or None)):
        if row.get(key) != value:
            report.changes.append("%s: %s %s -> %s" % (label, key, json.dumps(row.get(key)), json.dumps(value)))
            if value is None:
                row.pop(key, None)
            else:
                row[key] = value
            changed = True
    return changed


def _final(version: str) -> Optional[Version]:
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    return None if parsed.is_prerelease or parsed.is_devrelease else parsed


def stale(framework: str, rows: List[Dict[str, Any]], document: Dict[str, Any], report: Report) -> None:
    """Releases PyPI publishes wheels for that no row covers (from the oldest row on), and newer patches of pins."""
    keys = [tuple(Version(row["version"]).release) for row in rows]
    if not keys:
        return
    oldest = min(keys)
    by_minor = framework != "jax"  # JAX rows are per release, the others per major.minor
    pins = {pinned(framework, row) for row in rows}
    for version, files in sorted(document["releases"].items(), key=lambda i: _final(i[0]) or Version("0")):
        parsed = _final(version)
        wheels = [f for f in files or [] if isinstance(f, dict) and not f.get("yanked")
                  and str(f.get("filename", "")).endswith(".whl")]
        if parsed is None or not wheels or parsed.release < oldest:
            continue
        key = parsed.release[:2] if by_minor else parsed.release
        uploaded = min(str(f.get("upload_time_iso_8601") or "")[:10] for f in wheels)
        if key not in keys and not (framework == "jax" and version in pins):
            report.stale.append("%s %s %s (uploaded %s): no row" % (framework, PACKAGES[framework], version, uploaded))
        elif by_minor and version not in pins:
            row = rows[keys.index(key)]
            newer = _final(pinned(framework, row) or "")
            if newer is not None and parsed > newer:
                report.stale.append("%s %s: pins %s, PyPI has %s (uploaded %s)" % (
                    framework, row["version"], pinned(framework, row), version, uploaded))


def strip(document: Dict[str, Any], since: Tuple[int, ...], urls: Optional[Dict[str, str]] = None,
          only: bool = False) -> Dict[str, Any]:
    """The part of a project document the tool reads, for releases from `since` on (what tests/data/pypi keeps):
    urls (filename -> URL path) of the wheels whose METADATA was read, and with `only` no other wheel."""
    keep = ("filename", "requires_python", "upload_time_iso_8601", "yanked")
    urls = urls or {}
    releases = {}
    for version, files in document["releases"].items():
        wheels = [dict({k: f.get(k) for k in keep}, **({"url": urls[f["filename"]]} if f["filename"] in urls else {}))
                  for f in files if isinstance(f, dict) and str(f.get("filename", "")).endswith(".whl")
                  and (not only or f["filename"] in urls)]
        if (_final(version) or Version("0")).release >= since and (wheels or not only):
            releases[version] = wheels
    info = document.get("info") or {}
    return {"info": {"name": info.get("name"), "version": info.get("version")}, "releases": releases}


def dump_recording(document: Dict[str, Any]) -> str:
    """A stripped document as JSON with one file a line: small, and a new upload is a one-line diff."""
    releases = ",\n".join("  %s: [%s]" % (json.dumps(version), ",".join(
        "\n   " + json.dumps(item, sort_keys=True) for item in files))
        for version, files in sorted(document["releases"].items()))
    return '{"info": %s,\n "releases": {\n%s\n }\n}\n' % (json.dumps(document["info"], sort_keys=True), releases)


def refresh(table: Dict[str, Any], documents: Dict[str, Dict[str, Any]], base: str, today: str,
            force: bool = False) -> Report:
    """Update the table in place from the documents (package -> PyPI JSON); what changed, and what was not."""
    report = Report()
    for framework, package in PACKAGES.items():
        rows = table["frameworks"].get(framework, {}).get("releases") or []
        document = documents.get(package)
        if document is None:
            report.missing.extend("%s %s (no answer for %s)" % (framework, row.get("version"), package)
                                  for row in rows)
            continue
        url = "%s/%s/json" % (base.rstrip("/"), package)
        for row in rows:
            refresh_row(framework, row, document, url, today, force, report)
        stale(framework, rows, document, report)
    if report.changes:  # the table's as-of date moves with what changed in it
        table["as_of"] = today
    return report


def dump(table: Dict[str, Any]) -> str:
    """The table as the repository keeps it (one-space indent, a final newline)."""
    return json.dumps(table, indent=1) + "\n"
