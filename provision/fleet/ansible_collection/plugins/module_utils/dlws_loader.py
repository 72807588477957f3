# dlws.fleet: makes the dlws code this collection carries importable, from memory, on the host's own Python.
#
# dlws_bundle.BUNDLE (written by `dlws fleet collection`) is base64 of zlib of a JSON object {path: text}: the
# package provision/ (its knowledge tables included) and the pure-Python packages its probes import (distro,
# packaging, pynvml). Ansible sends module_utils as a zip of .py files only, and the code reads its tables with
# pkgutil.get_data: a path hook serves both the modules and the tables from that object, and nothing is written
# on the host.
from __future__ import annotations

import base64
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import zlib
from typing import Any, Dict, Iterator, Optional, Tuple

from ansible_collections.dlws.fleet.plugins.module_utils.dlws_bundle import BUNDLE, REQUIRES_PYTHON, VENDORED

#: The sys.path entry of the bundle: absolute (the code takes os.path.abspath of its __file__) and never a folder
#: read from disk; the path hook claims every path under it.
ROOT = "/<dlws.fleet bundle>"


class BundleError(Exception):
    """The bundle cannot run on this Python."""


class BundleLoader(importlib.abc.SourceLoader):
    def __init__(self, files: Dict[str, str], path: str) -> None:
        self.files = files
        self.path = path

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        """A file of the bundle by its path under ROOT (modules, and the tables pkgutil.get_data asks for)."""
        text = self.files.get(path[len(ROOT) + 1:]) if path.startswith(ROOT + "/") else None
        if text is None:
            raise FileNotFoundError(path)
        return text.encode("utf-8")


class BundleFinder:
    """The path-entry finder of one folder of the bundle (a package's __path__ entry)."""

    def __init__(self, files: Dict[str, str], folder: str) -> None:
        self.files = files
        self.folder = folder  # relative to ROOT, "" for the top

    def _relative(self, name: str) -> str:
        return self.folder + "/" + name if self.folder else name

    def find_spec(self, fullname: str, target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        base = self._relative(fullname.rpartition(".")[2])
        for relative, package in ((base + "/__init__.py", True), (base + ".py", False)):
            if relative in self.files:
                path = ROOT + "/" + relative
                spec = importlib.util.spec_from_file_location(
                    fullname, path, loader=BundleLoader(self.files, path),
                    submodule_search_locations=[ROOT + "/" + base] if package else None)
                return spec
        return None

    def iter_modules(self, prefix: str = "") -> Iterator[Tuple[str, bool]]:
        """What pkgutil.iter_modules lists (the doctor finds its rule modules so)."""
        start = self._relative("")
        seen = set()
        for relative in sorted(self.files):
            if relative.startswith(start) and relative.endswith(".py"):
                rest = relative[len(start):].split("/")
                package = rest[1:] == ["__init__.py"]
                name = rest[0] if package else rest[0][:-3]
                if (len(rest) == 1 or package) and name != "__init__" and name not in seen:
                    seen.add(name)
                    yield prefix + name, package


_FILES: Dict[str, str] = {}


def _hook(path: str) -> BundleFinder:
    if path != ROOT and not path.startswith(ROOT + "/"):
        raise ImportError("not in the dlws bundle")
    return BundleFinder(_FILES, path[len(ROOT) + 1:])


def load_dlws() -> None:
    """Put the bundle first on sys.path (a dlws, distro or packaging the host has is not the one carried here)."""
    if _FILES:
        return
    if sys.version_info[:2] < REQUIRES_PYTHON:
        raise BundleError("this dlws.fleet needs Python %s or newer on the host (%s); this one is %s" % (
            ".".join(map(str, REQUIRES_PYTHON)), ", ".join("%s %s" % item for item in sorted(VENDORED.items())),
            sys.version.split()[0]))
    _FILES.update(json.loads(zlib.decompress(base64.b64decode(BUNDLE)).decode("utf-8")))
    sys.path_hooks.insert(0, _hook)
    sys.path_importer_cache.pop(ROOT, None)
    sys.path.insert(0, ROOT)
