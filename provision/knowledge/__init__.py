"""The knowledge base: versioned JSON tables shipped in the package, each row citing its source.

Tables load lazily, once, and DLWS_KNOWLEDGE_DIR can point at a folder of newer tables without a code change. Each
table's shape is declared beside it in schema/<table>.schema.json (JSON Schema, checked by the tests).
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Dict

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


@functools.lru_cache(maxsize=None)
def load(name: str) -> Dict[str, Any]:
    """The table data/<name>.json (or the override folder's copy)."""
    folder = os.environ.get("DLWS_KNOWLEDGE_DIR") or DATA_DIR
    path = os.path.join(folder, name + ".json")
    if not os.path.isfile(path):
        path = os.path.join(DATA_DIR, name + ".json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
