"""cuDNN, NCCL, cuBLAS and TensorRT: one entry per distinct install (system packages, a toolkit's own copy, pip, conda).

Versions come from the headers' version macros and from the versioned library file names (libcudnn.so.8.9.7): one
listdir per library folder, shared by the three libraries. Pip wheels come from the package scan the python probe
made (packages.py), conda packages from conda-meta/.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from provision import knowledge
from provision.host import Host
from provision.inventory import packages
from provision.inventory.common import to_int
from provision.inventory.cuda import parse_conda_meta
from provision.inventory.model import Inventory, Library


class Spec(NamedTuple):
    key: str  # the inventory field
    headers: Tuple[str, ...]  # tried in order in each include folder
    macros: Tuple[str, str, str]  # major, minor, patch
    library: str  # the shared library's name, without .so


SPECS = (
    # cuDNN >= 8 keeps the macros in cudnn_version.h, older releases in cudnn.h.
    Spec("cudnn", ("cudnn_version.h", "cudnn.h"), ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"), "libcudnn"),
    # NVIDIA/nccl src/nccl.h.in: "#define NCCL_MAJOR ${nccl:Major}" ... filled in at build time.
    Spec("nccl", ("nccl.h",), ("NCCL_MAJOR", "NCCL_MINOR", "NCCL_PATCH"), "libnccl"),
    Spec("tensorrt", ("NvInferVersion.h",), ("NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH"),
         "libnvinfer"),
    # cuBLAS from its library file names only (libcublas.so.11.4.1.1043): the copies the loader may take first.
    Spec("cublas", (), ("CUBLAS_VER_MAJOR", "CUBLAS_VER_MINOR", "CUBLAS_VER_PATCH"), "libcublas"),
)

SYSTEM_INCLUDES = ("/usr/include", "/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu")
SYSTEM_LIBS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64")

_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(\w+)", re.M)


def header_version(text: str, macros: Iterable[str]) -> Optional[str]:
    """'8.9.7' from '#define CUDNN_MAJOR 8' lines. TensorRT 10 defines them through a second macro
    ('#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE' with '#define TRT_MAJOR_ENTERPRISE 10'), followed here."""
    defines = dict(reversed(_DEFINE.findall(text or "")))  # the first definition wins
    parts = []
    for macro in macros:
        value = defines.get(macro)
        for _ in range(3):
            if value is None or value.isdigit():
                break
            value = defines.get(value)
        number = to_int(value) if value is not None and value.isdigit() else None
        if number is None:
            return None
        parts.append(str(number))
    return ".".join(parts)


def library_versions(entries: Iterable[str], library: str) -> List[str]:
    """The versions that lib<name>.so.X.Y.Z files of one folder name: the most precise one per major version."""
    pattern = re.compile(re.escape(library) + r"\.so\.(\d+(?:\.\d+)*)$")
    best: Dict[str, str] = {}
    for entry in entries:
        match = pattern.match(entry)
        if match and to_int(match.group(1).split(".")[0]) is not None:  # a major too long for int() is no version
            version = match.group(1)
            major = version.split(".")[0]
            if version.count(".") > best.get(major, "").count(".") or major not in best:
                best[major] = version
    return [best[major] for major in sorted(best, key=int)]


def merge(found: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """(version, path) evidence of one install location, one per major version, the most precise version kept."""
    out: Dict[str, Tuple[str, str]] = {}
    for version, path in found:
        major = version.split(".")[0]
        if major not in out or version.count(".") > out[major][0].count("."):
            out[major] = (version, path)
    return list(out.values())


class _Scanner:
    """Folder listings and headers, each read once, whatever the library asking."""

    def __init__(self, host: Host, inv: Inventory) -> None:
        self.host = host
        self.inv = inv
        self.listings: Dict[str, List[str]] = {}
        self.seen_dirs: Dict[str, str] = {}  # real folder -> the location that claimed it

    def claim(self, folders: Iterable[str], location: str) -> List[str]:
        """The real folders of a location not already claimed by another (a toolkit at /usr is the system)."""
        out = []
        for folder in folders:
            real = self.host.realpath(folder)
            if real is None or self.seen_dirs.setdefault(real, location) != location or real in out:
                continue
            out.append(real)
        return out

    def listing(self, folder: str) -> List[str]:
        if folder not in self.listings:
            self.listings[folder] = self.host.listdir(folder) or []
        return self.listings[folder]

    def installs(self, spec: Spec, includes: List[str], libs: List[str]) -> List[Tuple[str, str]]:
        found = [(version, folder) for folder in libs for version in library_versions(self.listing(folder), spec.library)]
        for folder in includes:
            for name in spec.headers:
                path = posixpath.join(folder, name)
                text = self.host.read(path)
                if text is None:
                    continue
                version = header_version(text, spec.macros)
                if version:
                    found.append((version, folder))
                else:
                    self.inv.error("libraries", "no version macros in %s" % path)
                break
        return merge(found)


def _locations(host: Host, inv: Inventory) -> List[Tuple[str, List[str], List[str]]]:
    """(source, include folders, library folders): the system's, then each toolkit's own."""
    out = [("system", list(SYSTEM_INCLUDES), list(SYSTEM_LIBS))]
    for tk in inv.cuda.toolkits:
        if tk.source == "conda":
            continue  # conda libraries are read from conda-meta below
        targets = host.listdir(posixpath.join(tk.path, "targets")) or []
        includes = [posixpath.join(tk.path, "include")] + [posixpath.join(tk.path, "targets", t, "include")
                                                           for t in targets]
        libs = [posixpath.join(tk.path, d) for d in ("lib64", "lib")] + [posixpath.join(tk.path, "targets", t, "lib")
                                                                        for t in targets]
        out.append((tk.path, includes, libs))
    return out


def _pip(host: Host, table: Dict[str, Any]) -> List[Library]:
    out: List[Library] = []
    dists = packages.installed(host)
    for name in table["wheels"]:
        dist = dists.get(name)
        version = packages.version(host, dist) if dist else None
        if dist is None or version is None or any(lib.version == version for lib in out):
            continue
        folder = table.get("wheel_folder")
        path = posixpath.join(dist.site, folder) if folder else dist.site
        out.append(Library(version=version, source="pip:" + name, path=path if host.exists(path) else dist.site))
    return out


def _conda(host: Host, names: Iterable[str]) -> List[Library]:
    prefix = host.env("CONDA_PREFIX")
    if not prefix:
        return []
    meta = parse_conda_meta(host.listdir(posixpath.join(prefix, "conda-meta")) or [])
    return [Library(version=meta[name], source="conda", path=prefix) for name in names if name in meta]


def probe(host: Host, inv: Inventory) -> None:
    scanner = _Scanner(host, inv)
    locations = [(source, scanner.claim(includes, source), scanner.claim(libs, source))
                 for source, includes, libs in _locations(host, inv)]
    tables = knowledge.load("python_packages")["libraries"]
    for spec in SPECS:
        found: List[Library] = []
        for source, includes, libs in locations:
            found += [Library(version=v, source=source, path=p) for v, p in scanner.installs(spec, includes, libs)]
        found += _pip(host, tables[spec.key])
        found += _conda(host, tables[spec.key]["conda"])
        setattr(inv, spec.key, found)
