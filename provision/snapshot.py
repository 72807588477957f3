"""Write snapshots, and open them safely (a snapshot may come from a stranger's bug report)."""

from __future__ import annotations

import atexit
import bz2
import datetime
import errno
import gzip
import io
import json
import lzma
import os
import shutil
import struct
import tarfile
import tempfile
import zlib
from typing import Any, BinaryIO, Dict, Optional, Tuple

from provision import __version__
from provision.errors import SnapshotError, UsageError
from provision.host import RecordingHost, SnapshotHost
from provision.untrusted import excerpt as quote, parse_json, read_regular

FORMAT = "dlws-snapshot/1"
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
#: Error messages quote at most this many characters of a name from an archive.
BLOCK = 512
COPY_BYTES = 1024 * 1024
EXTENSION_TYPES = ("x", "g", "L", "K")  # PAX (per member, global), GNU long name, GNU long link name
REGULAR_TYPES = ("0", "7")
MOVE_ATTEMPTS = 20  # "7": contiguous file, a regular file to every reader
#: Any one of these makes a folder a snapshot; a hand-made one may hold only files/proc/cpuinfo.
MARKERS = ("MANIFEST.json", "files", "commands.json", "nvml.json", "host.json")


# --- opening ------------------------------------------------------------------------------------------------------


def open_snapshot(path: str) -> SnapshotHost:
    """A SnapshotHost over a snapshot folder or .tar.gz; SnapshotError (exit 2) for anything else."""
    return _load_folder(snapshot_folder(path))


def snapshot_folder(path: str) -> str:
    """The folder of a snapshot: path itself, or a private copy of an archive's contents (removed at exit)."""
    if os.path.isdir(path):
        return path
    if not os.path.isfile(path):
        raise SnapshotError("snapshot not found: %s" % path)
    folder = tempfile.mkdtemp(prefix="dlws-snapshot-")
    atexit.register(shutil.rmtree, folder, True)
    _extract(path, folder)
    entries = os.listdir(folder)
    # A .tar.gz of a folder holds that folder; one made inside it holds its contents.
    if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])) and entries[0] not in MARKERS:
        folder = os.path.join(folder, entries[0])
    return folder


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


def _extract(archive: str, dest: str) -> None:
    """Extract an archive, refusing links, devices, absolute paths, '..' and oversized content or headers.

    The tar format is read here rather than by tarfile, which reads PAX and GNU long-name headers whole into memory
    (a 400 KB archive can hold a 400 MB header) and follows chains of them by recursion."""
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


def _load_json(folder: str, name: str, kind: type) -> Any:
    path = os.path.join(folder, name)
    if not os.path.lexists(path):
        return None
    try:
        data = parse_json(read_regular(path, MAX_MEMBER_BYTES))
    except OSError as exc:
        raise SnapshotError("snapshot %s: %s cannot be read (%s)" % (folder, name, exc.strerror or exc)) from None
    except ValueError as exc:
        raise SnapshotError("snapshot %s: %s is not valid JSON (%s)" % (folder, name, exc)) from None
    if not isinstance(data, kind):
        raise SnapshotError("snapshot %s: %s should hold a JSON %s" % (folder, name, kind.__name__))
    return data


def _load_folder(folder: str) -> SnapshotHost:
    if not any(os.path.exists(os.path.join(folder, marker)) for marker in MARKERS):
        raise SnapshotError("not a dlws snapshot (no MANIFEST.json, files/ or commands.json): %s" % folder)
    manifest = _load_json(folder, "MANIFEST.json", dict)
    if manifest is not None and not str(manifest.get("format", "")).startswith("dlws-snapshot/"):
        raise SnapshotError("snapshot %s: unknown format %s" % (folder, quote(str(manifest.get("format")))))
    commands = _load_json(folder, "commands.json", dict) or {}
    for line, entry in commands.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("returncode", 0), int):
            raise SnapshotError("snapshot %s: commands.json entry %s is malformed" % (folder, quote(line)))
    extra = _load_json(folder, "host.json", dict) or {}
    for section in ("listdir", "realpath", "facts"):
        if not isinstance(extra.get(section, {}), dict):
            raise SnapshotError("snapshot %s: host.json %r should be an object" % (folder, section))
    return SnapshotHost(folder, commands, extra, _load_json(folder, "nvml.json", dict))


# --- writing ------------------------------------------------------------------------------------------------------


def snapshot_members(recording: RecordingHost, inventory: Dict[str, Any]) -> Dict[str, str]:
    """Every file of a snapshot (relative path -> text), before any redaction."""
    facts = dict(recording.facts)
    nvml = facts.pop("nvml", None)
    members = {
        "MANIFEST.json": _dump({"format": FORMAT, "dlws_version": __version__,
                                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}),
        "commands.json": _dump(recording.commands),
        "host.json": _dump({"listdir": recording.listings, "realpath": recording.links, "facts": facts}),
        "inventory.json": _dump(inventory),
    }
    if nvml is not None:
        members["nvml.json"] = _dump(nvml)
    for path, text in recording.files.items():
        if text is not None:
            members["files/" + path.lstrip("/")] = text
    return members


def write_snapshot(members: Dict[str, str], out: str) -> str:
    """Write members as a folder (out ends with '/') or a .tar.gz; returns what was written.

    Either way the snapshot is built beside out under a temporary name and renamed into place, so that a writer
    that is killed, or one of several writing at once, never leaves a partial or mixed snapshot under out."""
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        folder = out.rstrip("/" + os.sep) or out
        _check_replaceable(folder)
        staging = tempfile.mkdtemp(prefix=".%s." % os.path.basename(folder), dir=os.path.dirname(folder) or ".")
        try:
            for name, text in sorted(members.items()):
                target = os.path.join(staging, name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as handle:
                    handle.write(text)
            os.chmod(staging, 0o777 & ~_umask())
            _move_folder(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out
    fd, staging = tempfile.mkstemp(prefix=".%s." % os.path.basename(out), suffix=".tmp", dir=os.path.dirname(out) or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w:gz") as tar:
                for name, text in sorted(members.items()):
                    data = text.encode("utf-8")
                    info = tarfile.TarInfo("snapshot/" + name)
                    info.size, info.mode, info.mtime = len(data), 0o644, 0
                    tar.addfile(info, io.BytesIO(data))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, 0o666 & ~_umask())
        os.replace(staging, out)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_dlws_snapshot(folder: str) -> bool:
    """Whether folder holds a snapshot dlws wrote (a MANIFEST.json of a dlws-snapshot format)."""
    try:
        with open(os.path.join(folder, "MANIFEST.json"), "rb") as handle:
            manifest = json.loads(handle.read(MAX_HEADER_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("format", "")).startswith("dlws-snapshot/")


def _check_replaceable(folder: str) -> None:
    """A folder may be overwritten when it is missing, empty or a dlws snapshot; anything else is the user's."""
    if os.path.isdir(folder) and os.listdir(folder) and not is_dlws_snapshot(folder):
        raise UsageError("%s is a folder that is not empty and not a dlws snapshot; choose another output" % folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError("%s exists and is not a folder" % folder)


def _move_folder(staging: str, folder: str) -> None:
    """Rename staging to folder; a snapshot already there is moved aside first, then removed."""
    for _ in range(MOVE_ATTEMPTS):  # another writer may move the same folder between two steps
        try:
            os.rename(staging, folder)  # POSIX replaces a missing or empty folder in one step
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        _check_replaceable(folder)
        old = tempfile.mkdtemp(prefix=".%s.old." % os.path.basename(folder), dir=os.path.dirname(folder) or ".")
        try:
            os.rename(folder, old)
        except FileNotFoundError:
            continue
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise UsageError("%s is being rewritten by another dlws; try again" % folder)


def read_members(folder: str) -> Dict[str, str]:
    """Every file of a snapshot folder (relative path -> text), within the limits an archive has."""
    members: Dict[str, str] = {}
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if len(members) >= MAX_MEMBERS:
                raise SnapshotError("snapshot %s has more than %d files" % (folder, MAX_MEMBERS))
            with open(path, "rb") as handle:
                data = handle.read(MAX_MEMBER_BYTES + 1)
            total += len(data)
            if len(data) > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                raise SnapshotError("snapshot %s is too large to rewrite" % folder)
            members[os.path.relpath(path, folder).replace(os.sep, "/")] = data.decode("utf-8", "replace")
    return members


def replay_inventory(members: Dict[str, str]) -> str:
    """inventory.json as a replay of these members computes it (so that a rewritten snapshot replays into it)."""
    from provision.inventory import collect  # the probes: only when a snapshot is rewritten

    folder = tempfile.mkdtemp(prefix="dlws-replay-")
    try:
        write_snapshot(members, folder + "/")
        return _dump(collect(open_snapshot(folder)).to_dict())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def recorded_inventory(host: SnapshotHost) -> Optional[Dict[str, Any]]:
    """The inventory computed while the snapshot was recorded, when the snapshot carries it."""
    return _load_json(host.folder, "inventory.json", dict)
