"""The bounded tar reader: unpack a snapshot archive (.tar, .tar.gz, .tar.bz2, .tar.xz) that may come from a
stranger's bug report into a folder, refusing links, devices, paths that escape the folder and oversized content or
headers.

The tar format is read here rather than by tarfile, which reads PAX and GNU long-name headers whole into memory (a
400 KB archive can hold a 400 MB header) and follows chains of them by recursion.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import zlib
from typing import BinaryIO, Dict, Tuple

from provision.errors import SnapshotError
from provision.untrusted import excerpt as quote

#: Limits that keep a hostile archive from filling the disk.
MAX_MEMBERS = 50_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
#: Headers: one PAX or GNU long-name header, a member's name, extension headers before one member, and the whole
#: unpacked tar stream (contents, headers and padding), so that no header can be a bomb of its own.
MAX_HEADER_BYTES = 64 * 1024
MAX_NAME_CHARS = 4096
MAX_EXTENSION_HEADERS = 8
MAX_ARCHIVE_BYTES = MAX_TOTAL_BYTES + 128 * 1024 * 1024
BLOCK = 512
COPY_BYTES = 1024 * 1024
EXTENSION_TYPES = ("x", "g", "L", "K")  # PAX (per member, global), GNU long name, GNU long link name
REGULAR_TYPES = ("0", "7")  # "7": contiguous file, a regular file to every reader


class _Stream:
    """The decompressed archive, read through a budget: a small archive cannot unpack into an unbounded one."""

    def __init__(self, raw: BinaryIO, archive: str) -> None:
        self.raw, self.archive, self.total = raw, archive, 0

    def read(self, size: int, eof_ok: bool = False) -> bytes:
        """Exactly size bytes (b"" at the end of the archive when eof_ok); a short read is a truncated archive."""
        data = self.raw.read(size)
        while len(data) < size:
            more = self.raw.read(size - len(data))
            if not more:
                break
            data += more
        self.total += len(data)
        if self.total > MAX_ARCHIVE_BYTES:
            raise SnapshotError("snapshot %s unpacks to more than %d MiB, refused" % (self.archive, MAX_ARCHIVE_BYTES >> 20))
        if len(data) < size and not (eof_ok and not data):
            raise SnapshotError("snapshot %s is truncated" % self.archive)
        return data

    def copy(self, size: int, out: BinaryIO) -> None:
        """size bytes of member data, then the padding to the next block, in bounded pieces."""
        left = _padded(size)
        while left:
            chunk = self.read(min(left, COPY_BYTES))
            out.write(chunk[:max(0, size)])
            size -= len(chunk)
            left -= len(chunk)


def _decompressed(handle: BinaryIO) -> BinaryIO:
    magic = handle.read(6)
    handle.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(handle)  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(handle)  # type: ignore[return-value]
    return handle


def extract(archive: str, dest: str) -> None:
    """Extract an archive into dest, refusing links, devices, absolute paths, '..' and oversized content or headers;
    SnapshotError for anything it refuses or cannot read."""
    try:
        with open(archive, "rb") as handle, _decompressed(handle) as raw:
            _extract_stream(_Stream(raw, archive), archive, dest)
    except SnapshotError:
        raise
    except (EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as exc:
        raise SnapshotError("not a readable snapshot archive: %s (%s)" % (archive, quote(str(exc))[1:-1])) from None


def _extract_stream(stream: _Stream, archive: str, dest: str) -> None:
    members = total = extensions = 0
    pending: Dict[str, str] = {}  # what PAX and GNU headers say about the next member
    while True:
        block = stream.read(BLOCK, eof_ok=True)
        if not block.strip(b"\0"):  # the end-of-archive marker (or the end of the file after a member)
            if not block and stream.total == 0:
                raise SnapshotError("snapshot %s is empty" % archive)
            return
        kind, name, size = _header(block, archive)
        if kind in EXTENSION_TYPES:
            extensions += 1
            if extensions > MAX_EXTENSION_HEADERS or size > MAX_HEADER_BYTES:
                raise SnapshotError("snapshot %s: extension header of %d bytes (%d in a row), refused"
                                    % (archive, size, extensions))
            data = stream.read(_padded(size))[:size]
            if kind == "L":
                pending["path"] = _text(data.split(b"\0", 1)[0])
            elif kind in ("x", "g"):
                records = _pax_records(data, archive)
                if kind == "g" and ("path" in records or "size" in records):
                    raise SnapshotError("snapshot %s: a global header sets every member's name or size, refused" % archive)
                pending.update(records if kind == "x" else {})
            continue
        extensions = 0
        name, size = pending.get("path", name), _pax_size(pending, size, archive)
        pending = {}
        members += 1
        if members > MAX_MEMBERS:
            raise SnapshotError("snapshot %s has more than %d members" % (archive, MAX_MEMBERS))
        target = _member_target(archive, name, dest)
        if kind == "5" and size == 0:
            os.makedirs(target, exist_ok=True)
            continue
        if kind not in REGULAR_TYPES:
            raise SnapshotError("snapshot %s: member %s is a link or device, refused" % (archive, quote(name)))
        total += size
        if size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
            raise SnapshotError("snapshot %s is too large to open" % archive)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            stream.copy(size, out)


def _header(block: bytes, archive: str) -> Tuple[str, str, int]:
    """(type, name, size) of a ustar, GNU or v7 header block."""
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = sum(struct.unpack("148b8x356b", block)) + 8 * 32
    if _number(block[148:156], archive) not in (unsigned, signed):
        raise SnapshotError("snapshot %s is not a tar archive (bad header checksum)" % archive)
    kind = chr(block[156]) if block[156] else "0"
    name = _text(block[:100].split(b"\0", 1)[0])
    if block[257:263] == b"ustar\0":  # POSIX ustar keeps a long name's folders in the prefix field
        prefix = _text(block[345:500].split(b"\0", 1)[0])
        name = prefix + "/" + name if prefix else name
    if not block[156] and name.endswith("/"):  # a pre-POSIX folder (GNU names cut at 100 characters may end in "/")
        kind = "5"
    return kind, name, _number(block[124:136], archive)


def _number(field: bytes, archive: str) -> int:
    if field[:1] == b"\x80":  # GNU base-256 for values octal cannot hold
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise SnapshotError("snapshot %s is not a tar archive (bad number in a header)" % archive) from None


def _pax_records(data: bytes, archive: str) -> Dict[str, str]:
    """The 'LENGTH KEY=VALUE\\n' records of a PAX header."""
    records: Dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos:pos + 1] != b"\0":
        space = data.find(b" ", pos, pos + 20)
        length = int(data[pos:space]) if space > pos and data[pos:space].isdigit() else 0
        record = data[space + 1:pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n") or b"=" not in record:
            raise SnapshotError("snapshot %s has a malformed PAX header" % archive)
        key, _, value = record[:-1].partition(b"=")
        records[_text(key)] = _text(value)
        pos += length
    if any(key.startswith("GNU.sparse") for key in records):
        raise SnapshotError("snapshot %s holds a sparse file, refused" % archive)
    return records


def _pax_size(pending: Dict[str, str], size: int, archive: str) -> int:
    if "size" not in pending:
        return size
    if not pending["size"].isdigit():
        raise SnapshotError("snapshot %s: PAX size %s is not a number" % (archive, quote(pending["size"])))
    return int(pending["size"])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _member_target(archive: str, name: str, dest: str) -> str:
    if len(name) > MAX_NAME_CHARS or "\0" in name:
        raise SnapshotError("snapshot %s: member name %s is too long or holds a NUL, refused" % (archive, quote(name)))
    name = name.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts or ":" in parts[0]:
        raise SnapshotError("snapshot %s: member %s escapes the snapshot folder, refused" % (archive, quote(name)))
    return os.path.join(dest, *parts)
