"""The installed distributions of the inventoried Python, read from folder names (no import, no importlib.metadata).

One listdir per site-packages folder on sys.path: importlib.metadata would open every METADATA file (~100 ms over
150 packages); a folder name "torch-2.3.1+cu121.dist-info" already says the name and the version. METADATA is read
only for a distribution a caller asks about whose folder name carries no version (a bare "foo.egg-info").
"""

from __future__ import annotations

import posixpath
import re
import weakref
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from provision.host import Host
from provision.inventory.environments import join

SITE_FOLDERS = ("site-packages", "dist-packages")

_RUNS = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class Dist:
    name: str  # PEP 503 normalized: "nvidia-cudnn-cu12"
    version: Optional[str]
    site: str  # the site-packages folder it is installed in
    meta: str  # its *.dist-info / *.egg-info entry in that folder


def normalize(name: str) -> str:
    """PEP 503: lowercase, runs of '-', '_' and '.' become one '-'."""
    return _RUNS.sub("-", name).lower()


def parse_meta_name(entry: str) -> Optional[Tuple[str, Optional[str]]]:
    """(normalized name, version or None) of a metadata folder name; None for anything else.

    Wheels write "{name}-{version}.dist-info" with '-' in the name escaped to '_' (PEP 427/491), so the first '-'
    ends the name. setuptools writes "{name}-{version}-py3.10.egg-info", or "{name}.egg-info" for develop installs.
    """
    for suffix in (".dist-info", ".egg-info"):
        if entry.endswith(suffix):
            stem = entry[: -len(suffix)]
            break
    else:
        return None
    name, _, rest = stem.partition("-")
    version = rest.split("-py", 1)[0] if suffix == ".egg-info" else rest
    if not name:
        return None
    return normalize(name), version or None


def site_folders(python: Dict[str, object]) -> List[str]:
    """The site-packages/dist-packages folders of sys.path, in import order (Windows writes Lib\\site-packages)."""
    path = python.get("path") if isinstance(python, dict) else None
    if not isinstance(path, list):
        return []
    out: List[str] = []
    for entry in path:
        if not isinstance(entry, str):
            continue
        folder = entry.rstrip("/\\")
        if posixpath.basename(folder.replace("\\", "/")) in SITE_FOLDERS and folder not in out:
            out.append(folder)
    return out


def scan_entries(listings: List[Tuple[str, List[str]]]) -> Dict[str, Dist]:
    """Distributions by normalized name; the first on sys.path wins, as it does for import and importlib.metadata."""
    found: Dict[str, Dist] = {}
    for site, entries in listings:
        for entry in entries:
            parsed = parse_meta_name(entry)
            if parsed and parsed[0] not in found:
                found[parsed[0]] = Dist(parsed[0], parsed[1], site, entry)
    return found


_CACHE: "weakref.WeakKeyDictionary[Host, Dict[str, Dist]]" = weakref.WeakKeyDictionary()


#: Each host's site-folder listings: the environments' scan, remember() and the libraries probe list a folder once.
_LISTINGS: "weakref.WeakKeyDictionary[Host, Dict[str, Optional[List[str]]]]" = weakref.WeakKeyDictionary()


def scan(host: Host, sites: List[str]) -> Dict[str, Dist]:
    """The distributions installed in these site folders, one listdir each per host."""
    listed = _LISTINGS.setdefault(host, {})
    listings = []
    for site in sites:
        if site not in listed:
            listed[site] = host.listdir(site)
        entries = listed[site]
        if entries:
            listings.append((site, entries))
    return scan_entries(listings)


def remember(host: Host, sites: List[str]) -> None:
    """Make the judged environment's folders the ones installed() answers for (the libraries probe reads them)."""
    _CACHE[host] = scan(host, sites)


def installed(host: Host) -> Dict[str, Dist]:
    """The distributions of the judged Python (remember()), else of dlws's own; scanned once per host."""
    if host not in _CACHE:
        _CACHE[host] = scan(host, site_folders(host.fact("python") or {}))
    return _CACHE[host]


def parse_metadata(text: str) -> Dict[str, str]:
    """The header fields of a METADATA / PKG-INFO file (RFC 822 style, up to the first blank line)."""
    fields: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace() and key not in fields:
            fields[key.strip()] = value.strip()
    return fields


#: A wheel tag as WHEEL's "Tag:" lines write it: python-abi-platform (PEP 425), each part letters, digits, '_', '.'.
_WHEEL_TAG = re.compile(r"[A-Za-z0-9_.]{1,40}-[A-Za-z0-9_.]{1,40}-[A-Za-z0-9_.]{1,80}")
MAX_WHEEL_TAGS = 64


def wheel_tags(host: Host, dist: Dist) -> List[str]:
    """The tags of the wheel this distribution was installed from (its dist-info's WHEEL file): the Pythons and
    platforms it was built for, as the installed files say. Empty for eggs, conda packages and unreadable files."""
    if not dist.meta.endswith(".dist-info"):
        return []
    text = host.read(join(dist.site, dist.meta, "WHEEL")) or ""
    tags = []
    for line in text.splitlines()[:200]:
        key, sep, value = line.partition(":")
        if sep and key.strip() == "Tag" and _WHEEL_TAG.fullmatch(value.strip()):
            tags.append(value.strip())
    return tags[:MAX_WHEEL_TAGS]


def version(host: Host, dist: Dist) -> Optional[str]:
    """The version from the folder name, else from its METADATA / PKG-INFO (read only here, only when needed)."""
    if dist.version:
        return dist.version
    folder = join(dist.site, dist.meta)
    for name in ("METADATA", "PKG-INFO"):
        text = host.read(join(folder, name))
        if text is not None:
            return parse_metadata(text).get("Version") or None
    text = host.read(folder)  # distutils wrote a single PKG-INFO file named *.egg-info
    if text is None:
        return None
    return parse_metadata(text).get("Version") or None
