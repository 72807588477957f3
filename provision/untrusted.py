"""Reading files that anyone may have written (a snapshot from a bug report, a fleet host's results, a
--require-file): only regular files, only so many bytes, and JSON only as plain, shallow, encodable data."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from typing import Any, BinaryIO, Dict, Optional, Tuple

#: An inventory, a snapshot's host.json or nvml.json nest a few levels; deeper JSON is no dlws file and would
#: exhaust the stack of whatever walks it.
MAX_JSON_DEPTH = 64
SURROGATES = re.compile("[\ud800-\udfff]")
#: Characters of an untrusted value that a message quotes.
EXCERPT = 100
#: Bytes read_capped reads at a time.
CHUNK = 64 * 1024


def read_regular(path: str, limit: int) -> bytes:
    """Up to limit bytes of a regular file; OSError for anything else.

    A FIFO, a terminal or a device as /proc/cpuinfo (or a --require-file) would block a read forever or have
    side effects on open: stat first, then open without blocking (a FIFO swapped in meanwhile opens at once) and
    check again on the descriptor. /proc and /sys files are regular (size 0, read to their end as usual).
    """
    with open_regular(path) as handle:
        return handle.read(limit)


def open_regular(path: str) -> BinaryIO:
    """A regular file opened for reading (see read_regular); OSError for anything else."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    handle = open(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "not a regular file", path)
    if hasattr(os, "O_NONBLOCK"):
        os.set_blocking(fd, True)
    return handle


def read_capped(handle: BinaryIO, head: int, tail: int, limit: int) -> Tuple[bytes, int, bool]:
    """A stream's first head bytes and last tail bytes (what lies between is dropped), read to its end or to limit
    bytes; (the bytes kept, the bytes read, whether it stopped at limit). Memory stays under head + tail + a chunk
    whatever the stream's size: a log piped in may be gigabytes, and its error is at the end."""
    first = b""
    last = bytearray()
    total = 0
    while total < limit:
        chunk = handle.read(min(CHUNK, limit - total))
        if not chunk:
            return first + bytes(last), total, False
        total += len(chunk)
        if len(first) < head:
            taken = head - len(first)
            first += chunk[:taken]
            chunk = chunk[taken:]
        last += chunk
        del last[:max(0, len(last) - tail)]
    return first + bytes(last), total, bool(handle.read(1))


def parse_json(raw: bytes) -> Any:
    """JSON text as data nested at most MAX_JSON_DEPTH deep, lone surrogates (which no output can encode) replaced;
    ValueError with a one-line reason otherwise."""
    try:
        return _clean(json.loads(raw.decode("utf-8")), 0)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeError as exc:
        raise ValueError("not UTF-8 (%s)" % exc) from None


def last_line_object(stdout: str) -> Optional[Dict[str, Any]]:
    """The JSON object a probe run printed as its last line (a deep run, an interpreter asked for its layout), as
    bounded data; None for anything else."""
    lines = stdout.strip().splitlines()
    try:
        data = parse_json(lines[-1].encode("utf-8", "surrogatepass")) if lines else None
    except (ValueError, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def _clean(value: Any, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise ValueError("nested deeper than %d levels" % MAX_JSON_DEPTH)
    if isinstance(value, str):
        return SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_clean(key, depth + 1): _clean(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item, depth + 1) for item in value]
    return value


def excerpt(value: str, limit: int = EXCERPT) -> str:
    """An untrusted value as a one-line message may quote it: repr (no raw newline or escape sequence), at most
    limit characters of it."""
    if len(value) <= limit:
        return repr(value)
    return "%r... (%d characters)" % (value[:limit], len(value))
