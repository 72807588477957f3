"""The inventory's types, enforced at its boundary.

Probes build the inventory from evidence anyone can write (a snapshot from a bug report, a fleet host's doctor.json),
so a field may end up holding a list where the model says a string. `conform` checks a value against the model's
annotations: a wrong type becomes the field's default (unknown), and each such value is named in the problems, so
every reader of an inventory sees exactly the types the model declares. It never recurses into the data itself, only
along the model, so no nesting of the input can exhaust the stack.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Any, Dict, List, Tuple

from provision.inventory.model import Inventory
from provision.untrusted import excerpt

#: Longer strings are no fact a machine reports (PATH_MAX is 4096): unknown rather than carried into every report.
MAX_STRING = 4096
#: More entries than any machine has (CPU flags, mounts, GPUs, libraries).
MAX_ITEMS = 10_000
#: JSON readers of other languages keep integers in 64 bits.
MAX_INT = 2 ** 63 - 1

#: An inventory with thousands of wrongly typed values gets this many errors about them, then a count.
MAX_TYPE_ERRORS = 20

_DROP = object()  # an entry of a list or dict that cannot be kept (a required field is wrong)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def conform_inventory(value: Any) -> Tuple[Inventory, List[str]]:
    """An Inventory (or its JSON form) with every field of the declared type, and what had to be discarded."""
    problems: List[str] = []
    result = _conform(value, Inventory, "inventory", problems)
    return (result if isinstance(result, Inventory) else Inventory()), problems


def typed(value: Any) -> Inventory:
    """The inventory (or its JSON form) held to the model's types; each value that was not is unknown now, and an
    entry in errors names it. Every reader of an inventory goes through this once (collect, the doctor, the
    planner, the summary, a fleet host's results), so none of them meets a type the model does not declare."""
    inv, problems = conform_inventory(value)
    for problem in problems[:MAX_TYPE_ERRORS]:
        inv.error("inventory", problem)
    if len(problems) > MAX_TYPE_ERRORS:
        inv.error("inventory", "and %d more values of the wrong type" % (len(problems) - MAX_TYPE_ERRORS))
    return inv


def _conform(value: Any, hint: Any, path: str, problems: List[str]) -> Any:
    """value if it has type hint (dataclasses rebuilt from instances or dicts), else _DROP with a problem."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        return _conform(value, next(a for a in args if a is not type(None)), path, problems)
    if dataclasses.is_dataclass(hint):
        return _dataclass(value, typing.cast(type, hint), path, problems)
    if origin is list:
        if not isinstance(value, list):
            return _wrong(value, "a list", path, problems)
        items = [_conform(item, args[0], "%s[%d]" % (path, i), problems) for i, item in enumerate(value[:MAX_ITEMS])]
        if len(value) > MAX_ITEMS:
            problems.append("%s: more than %d entries, the rest left out" % (path, MAX_ITEMS))
        return [item for item in items if item is not _DROP]
    if origin is dict:
        if not isinstance(value, dict):
            return _wrong(value, "an object", path, problems)
        kept = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            if isinstance(key, str) and len(key) <= MAX_STRING:
                item = _conform(item, args[1], "%s[%s]" % (path, excerpt(key, 40)), problems)
                if item is not _DROP:
                    kept[key] = item
            else:
                problems.append("%s: a key that is not a short string, left out" % path)
        return kept
    return _scalar(value, hint, path, problems)


def _scalar(value: Any, hint: Any, path: str, problems: List[str]) -> Any:
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = _is_int(value)
    elif hint is float:
        ok = _is_int(value) or (isinstance(value, float) and math.isfinite(value))
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str) and len(value) <= MAX_STRING
    else:  # Any: plain JSON data that no reader interprets
        ok = True
    return value if ok else _wrong(value, hint.__name__, path, problems)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT


def _dataclass(value: Any, cls: type, path: str, problems: List[str]) -> Any:
    if isinstance(value, cls):
        source = {f.name: getattr(value, f.name) for f in dataclasses.fields(cls)}
    elif isinstance(value, dict):
        source = value
    else:
        return _wrong(value, "an object", path, problems)
    kwargs = {}
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in source:
            if required:
                problems.append("%s: no %s, left out" % (path, f.name))
                return _DROP
            continue
        item = _conform(source[f.name], _hints(cls)[f.name], "%s.%s" % (path, f.name), problems)
        if item is _DROP:
            if required:
                return _DROP
            continue  # the field's default: unknown
        kwargs[f.name] = item
    return cls(**kwargs)


def _wrong(value: Any, expected: str, path: str, problems: List[str]) -> Any:
    problems.append("%s: %s where %s belongs, taken as unknown" % (path, _describe(value), expected))
    return _DROP


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return "the string %s" % excerpt(value, 40)
    if _is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return "the number %s" % excerpt(str(value), 40)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "an out-of-range number"
    return "a JSON %s" % {bool: "boolean", list: "list", dict: "object", type(None): "null"}.get(type(value), "value")
