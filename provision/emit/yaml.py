"""A small YAML writer for the playbooks dlws emits (no PyYAML needed): block style, every string quoted or a
literal block, so no value is ever read as anything but the string it is.

Values may come from users and from hosts (paths, GPU names), so nothing is written raw: strings are JSON-quoted with
every character YAML could read as a line break or refuse escaped, a literal block is used only where it reads back
exactly, and keys that are not plain identifiers are quoted too. An Unsafe string is tagged !unsafe, which Ansible
never templates.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, List

#: Strings longer than this, or with newlines, are written as literal blocks (ansible-lint's yaml[line-length]).
BLOCK_OVER = 100

#: Characters that json.dumps leaves raw but YAML reads as a line break (U+0085, U+2028, U+2029) or refuses as
#: unprintable (DEL, C1 controls, lone surrogates, U+FEFF, U+FFFE, U+FFFF): written as \u escapes.
_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")

#: Characters a literal block line may hold: printable, no tab (YAML indentation), nothing _ESCAPE would escape.
_BLOCK_LINE = re.compile("[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]*")

#: Keys written plain; any other key is quoted (YAML 1.1 reads yes/no/on/off/null as booleans and nulls).
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_RESERVED = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"}


class Unsafe(str):
    """Data (from a user, a host or a recording) that Ansible must never template: written as !unsafe."""


def quote(value: str) -> str:
    """value as a YAML double-quoted scalar that reads back as exactly value."""
    return _ESCAPE.sub(lambda m: "\\u%04x" % ord(m.group()), json.dumps(value, ensure_ascii=False))


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError("YAML keys are strings here, not %r" % (key,))
    return key if _PLAIN_KEY.fullmatch(key) and key.lower() not in _RESERVED else quote(key)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("no YAML rendering for %r" % value)
        return repr(value)
    if isinstance(value, str):
        return ("!unsafe " if isinstance(value, Unsafe) else "") + quote(value)
    raise TypeError("no YAML rendering for %r" % (value,))


def _is_block(value: Any) -> bool:
    """Multi-line or long strings that a literal block reads back exactly: the first line does not start with a
    space (the block's indentation is taken from it), no line ends in spaces (or the block would have to keep them),
    no trailing newline (|- strips it) and nothing but printable characters."""
    if not isinstance(value, str) or not ("\n" in value or len(value) > BLOCK_OVER):
        return False
    lines = value.split("\n")
    return (not value[:1].isspace() and not value.endswith("\n")
            and all(_BLOCK_LINE.fullmatch(line) and line == line.rstrip() for line in lines))


def _block(value: str, indent: int) -> List[str]:
    pad = " " * indent
    head = "!unsafe |-" if isinstance(value, Unsafe) else "|-"
    return [head] + [pad + line if line else "" for line in value.split("\n")]


def _lines(value: Any, indent: int) -> List[str]:
    pad = " " * indent
    out: List[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:" % (pad, _key(key)))
                out.extend(_lines(item, indent + 2))
            elif _is_block(item):
                block = _block(item, indent + 2)
                out.append("%s%s: %s" % (pad, _key(key), block[0]))
                out.extend(block[1:])
            else:
                empty = "[]" if item == [] else "{}" if item == {} else None
                out.append("%s%s: %s" % (pad, _key(key), empty or _scalar(item)))
        return out
    for item in value:
        if isinstance(item, dict) and item:
            inner = _lines(item, indent + 2)
            out.append("%s- %s" % (pad, inner[0].lstrip()))
            out.extend(inner[1:])
        elif isinstance(item, list) and item:
            inner = _lines(item, indent + 2)
            out.append("%s- %s" % (pad, inner[0].lstrip()))
            out.extend(inner[1:])
        elif _is_block(item):
            block = _block(item, indent + 2)
            out.append("%s- %s" % (pad, block[0]))
            out.extend(block[1:])
        else:
            empty = "[]" if item == [] else "{}" if item == {} else None
            out.append("%s- %s" % (pad, empty or _scalar(item)))
    return out


def dump(document: Any) -> str:
    return "---\n" + "\n".join(_lines(document, 0)) + "\n"
