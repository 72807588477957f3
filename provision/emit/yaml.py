"""A small YAML writer for the playbooks dlws emits (no PyYAML needed): block style, every string quoted or a
literal block, so no value is ever read as anything but the string it is."""

from __future__ import annotations

import json
from typing import Any, List

#: Strings longer than this, or with newlines, are written as literal blocks (ansible-lint's yaml[line-length]).
BLOCK_OVER = 100


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _is_block(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > BLOCK_OVER)


def _block(value: str, indent: int) -> List[str]:
    pad = " " * indent
    return ["|-"] + [(pad + line.rstrip()) if line.strip() else "" for line in value.rstrip("\n").split("\n")]


def _lines(value: Any, indent: int) -> List[str]:
    pad = " " * indent
    out: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:" % (pad, key))
                out.extend(_lines(item, indent + 2))
            elif _is_block(item):
                block = _block(item, indent + 2)
                out.append("%s%s: %s" % (pad, key, block[0]))
                out.extend(block[1:])
            else:
                empty = "[]" if item == [] else "{}" if item == {} else None
                out.append("%s%s: %s" % (pad, key, empty or _scalar(item)))
        return out
    for item in value:
        if isinstance(item, dict):
            inner = _lines(item, indent + 2)
            out.append("%s- %s" % (pad, inner[0].lstrip()))
            out.extend(inner[1:])
        elif _is_block(item):
            block = _block(item, indent + 2)
            out.append("%s- %s" % (pad, block[0]))
            out.extend(block[1:])
        else:
            out.append("%s- %s" % (pad, _scalar(item)))
    return out


def dump(document: Any) -> str:
    return "---\n" + "\n".join(_lines(document, 0)) + "\n"
