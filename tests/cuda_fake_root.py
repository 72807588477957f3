"""Build small snapshot folders (files/ + host.json + commands.json) for the CUDA and Python probe tests."""

import json
import os
from typing import Any, Dict, Optional

from provision.inventory.model import Inventory
from provision.snapshot import open_snapshot


def make_root(folder, files: Dict[str, str], facts: Optional[Dict[str, Any]] = None,
              links: Optional[Dict[str, str]] = None, listdir: Optional[Dict[str, Any]] = None,
              commands: Optional[Dict[str, Dict[str, Any]]] = None):
    """A SnapshotHost over folder: files maps absolute paths to text; links are realpath answers."""
    for path, text in files.items():
        target = os.path.join(str(folder), "files", path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
    os.makedirs(os.path.join(str(folder), "files"), exist_ok=True)
    host_json = {"listdir": listdir or {}, "realpath": links or {},
                 "facts": dict({"platform": {"system": "linux", "machine": "x86_64"}}, **(facts or {}))}
    with open(os.path.join(str(folder), "host.json"), "w") as handle:
        json.dump(host_json, handle)
    with open(os.path.join(str(folder), "commands.json"), "w") as handle:
        json.dump(commands or {}, handle)
    return open_snapshot(str(folder))


def run(host, *modules) -> Inventory:
    inv = Inventory()
    for module in modules:
        module.probe(host, inv)
    return inv
