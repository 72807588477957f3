"""Write snapshots, and open them safely (a snapshot may come from a stranger's bug report)."""

from __future__ import annotations

import atexit
import datetime
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from typing import Any, Dict, Optional

from provision import __version__
from provision.errors import SnapshotError
from provision.host import RecordingHost, SnapshotHost

FORMAT = "dlws-snapshot/1"
#: Limits that keep a hostile archive from filling the disk.
MAX_MEMBERS = 50_000
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
#: Any one of these makes a folder a snapshot; a hand-made one may hold only files/proc/cpuinfo.
MARKERS = ("MANIFEST.json", "files", "commands.json", "nvml.json", "host.json")


# --- opening ------------------------------------------------------------------------------------------------------


def open_snapshot(path: str) -> SnapshotHost:
    """A SnapshotHost over a snapshot folder or .tar.gz; SnapshotError (exit 2) for anything else."""
    if os.path.isdir(path):
        return _load_folder(path)
    if not os.path.isfile(path):
        raise SnapshotError("snapshot not found: %s" % path)
    folder = tempfile.mkdtemp(prefix="dlws-snapshot-")
    atexit.register(shutil.rmtree, folder, True)
    _extract(path, folder)
    entries = os.listdir(folder)
    # A .tar.gz of a folder holds that folder; one made inside it holds its contents.
    if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])) and entries[0] not in MARKERS:
        folder = os.path.join(folder, entries[0])
    return _load_folder(folder)


def _extract(archive: str, dest: str) -> None:
    """Extract member by member, refusing links, devices, absolute paths, '..' and oversized content."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            total = 0
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise SnapshotError("snapshot %s has more than %d members" % (archive, MAX_MEMBERS))
                target = _member_target(archive, member, dest)
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                if not member.isfile():
                    raise SnapshotError("snapshot %s: member %r is a link or device, refused" % (archive, member.name))
                total += member.size
                if member.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise SnapshotError("snapshot %s is too large to open" % archive)
                _copy_member(tar, member, target)
    except (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeError) as exc:
        raise SnapshotError("not a readable snapshot archive: %s (%s)" % (archive, exc)) from None


def _member_target(archive: str, member: tarfile.TarInfo, dest: str) -> str:
    name = member.name.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts or ":" in parts[0]:
        raise SnapshotError("snapshot %s: member %r escapes the snapshot folder, refused" % (archive, member.name))
    return os.path.join(dest, *parts)


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: str) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise SnapshotError("snapshot member %r cannot be read" % member.name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out)


def _load_json(folder: str, name: str, kind: type) -> Any:
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read(MAX_MEMBER_BYTES).decode("utf-8"))
    except (ValueError, OSError) as exc:
        raise SnapshotError("snapshot %s: %s is not valid JSON (%s)" % (folder, name, exc)) from None
    if not isinstance(data, kind):
        raise SnapshotError("snapshot %s: %s should hold a JSON %s" % (folder, name, kind.__name__))
    return data


def _load_folder(folder: str) -> SnapshotHost:
    if not any(os.path.exists(os.path.join(folder, marker)) for marker in MARKERS):
        raise SnapshotError("not a dlws snapshot (no MANIFEST.json, files/ or commands.json): %s" % folder)
    manifest = _load_json(folder, "MANIFEST.json", dict)
    if manifest is not None and not str(manifest.get("format", "")).startswith("dlws-snapshot/"):
        raise SnapshotError("snapshot %s: unknown format %r" % (folder, manifest.get("format")))
    commands = _load_json(folder, "commands.json", dict) or {}
    for line, entry in commands.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("returncode", 0), int):
            raise SnapshotError("snapshot %s: commands.json entry %r is malformed" % (folder, line))
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
    """Write members as a folder (out ends with '/') or a .tar.gz; returns what was written."""
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        for name, text in sorted(members.items()):
            target = os.path.join(out, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
        return out
    with tarfile.open(out, "w:gz") as tar:
        for name, text in sorted(members.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo("snapshot/" + name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def recorded_inventory(host: SnapshotHost) -> Optional[Dict[str, Any]]:
    """The inventory computed while the snapshot was recorded, when the snapshot carries it."""
    return _load_json(host.folder, "inventory.json", dict)
