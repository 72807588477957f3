"""Snapshots as files: open one safely (a snapshot may come from a stranger's bug report) and write one.

Opening checks a snapshot folder (or the folder snapshot_archive unpacks an archive into) and answers a SnapshotHost
over it; writing puts a snapshot's members in place as a folder or a .tar.gz, whole or not at all.
"""

from __future__ import annotations

import atexit
import datetime
import errno
import io
import json
import os
import shutil
import tarfile
import tempfile
from typing import Any, Dict, Optional

from provision import __version__
from provision.errors import SnapshotError, UsageError
from provision.host import MAX_PATH, RecordingHost, SnapshotHost, member_path
from provision.snapshot_archive import MAX_HEADER_BYTES, MAX_MEMBER_BYTES, extract
from provision.untrusted import excerpt as quote, parse_json, read_regular

FORMAT = "dlws-snapshot/1"
MOVE_ATTEMPTS = 20  # tries at moving a folder into place while other writers move it too
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
    extract(path, folder)
    entries = os.listdir(folder)
    # A .tar.gz of a folder holds that folder; one made inside it holds its contents.
    if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])) and entries[0] not in MARKERS:
        folder = os.path.join(folder, entries[0])
    return folder


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
    env = (manifest or {}).get("env")
    if env is not None and not (isinstance(env, str) and 0 < len(env) <= MAX_PATH):
        raise SnapshotError("snapshot %s: MANIFEST.json env should be a path" % folder)
    return SnapshotHost(folder, commands, extra, _load_json(folder, "nvml.json", dict), env)


# --- writing ------------------------------------------------------------------------------------------------------


def snapshot_members(recording: RecordingHost, inventory: Dict[str, Any], env: Optional[str] = None) -> Dict[str, str]:
    """Every file of a snapshot (relative path -> text), before any redaction; env: the --env it was recorded with."""
    facts = dict(recording.facts)
    nvml = facts.pop("nvml", None)
    manifest = {"format": FORMAT, "dlws_version": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if env is not None:
        manifest["env"] = env
    members = {
        "MANIFEST.json": json_member(manifest),
        "commands.json": json_member(recording.commands),
        "host.json": json_member({"listdir": recording.listings, "realpath": recording.links, "facts": facts}),
        "inventory.json": json_member(inventory),
    }
    if nvml is not None:
        members["nvml.json"] = json_member(nvml)
    for path, text in recording.files.items():
        if text is not None:
            members["files/" + member_path(path)] = text
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
            _write_archive(members, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(staging, 0o666 & ~_umask())
        os.replace(staging, out)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    return out


def archive_bytes(members: Dict[str, str]) -> bytes:
    """The .tar.gz write_snapshot writes, in memory (what dlws.fleet.snapshot returns to the controller)."""
    buffer = io.BytesIO()
    _write_archive(members, buffer)
    return buffer.getvalue()


def _write_archive(members: Dict[str, str], handle: Any) -> None:
    with tarfile.open(fileobj=handle, mode="w:gz") as tar:
        for name, text in sorted(members.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo("snapshot/" + name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))


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


def json_member(data: Any) -> str:
    """The text of a JSON member as dlws writes it."""
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
