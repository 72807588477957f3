"""The knowledge base: versioned JSON tables shipped in the package, each row citing its source.

Tables load lazily, once, and DLWS_KNOWLEDGE_DIR can point at a folder of newer tables without a code change; so does
the cache `dlws knowledge update` fills (~/.cache/dlws/knowledge), after it. Each
table's shape is declared beside it in schema/<table>.schema.json (JSON Schema, checked by the tests).
"""

from __future__ import annotations

import functools
import json
import os
import pkgutil
from typing import Any, Dict

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def cache_root() -> str:
    """dlws's cache: $DLWS_CACHE_DIR, else $XDG_CACHE_HOME/dlws (~/.cache/dlws)."""
    return os.environ.get("DLWS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "dlws")


def cache_dir() -> str:
    """Where `dlws knowledge update` writes refreshed tables: cache_root()/knowledge."""
    return os.path.join(cache_root(), "knowledge")


def table_path(name: str) -> str:
    """The file a table loads from: DLWS_KNOWLEDGE_DIR's copy, else the cache's (dlws knowledge update), else the
    package's."""
    for folder in (os.environ.get("DLWS_KNOWLEDGE_DIR"), cache_dir()):
        if folder and os.path.isfile(os.path.join(folder, name + ".json")):
            return os.path.join(folder, name + ".json")
    return os.path.join(DATA_DIR, name + ".json")


@functools.lru_cache(maxsize=None)
def load(name: str) -> Dict[str, Any]:
    """The table <name>.json, from where table_path says; the package's where the cache's copy is unreadable (a
    cache is disposable: a broken one must not break every command)."""
    path = table_path(name)
    if path != os.path.join(DATA_DIR, name + ".json"):
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            if not path.startswith(cache_dir() + os.sep):
                raise
    return _package_table(name)


def _package_table(name: str) -> Dict[str, Any]:
    """The package's own table, through its loader: a file beside this one, or the bundle dlws.fleet carries to a
    host (which has no files)."""
    data = pkgutil.get_data(__name__, "data/%s.json" % name)
    if data is None:
        raise FileNotFoundError(os.path.join(DATA_DIR, name + ".json"))
    return json.loads(data.decode("utf-8"))
