"""Snapshots: a round trip gives the same inventory; hostile or corrupt archives are refused with exit code 2."""

import io
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

from provision import snapshot, snapshot_archive
from provision.errors import SnapshotError
from provision.snapshot import open_snapshot

DLWS = [sys.executable, "-m", "provision"]



def recorded_inventory(snapshot_path):
    """The inventory.json a snapshot carries: what the machine's inventory was while recording."""
    with open(os.path.join(open_snapshot(snapshot_path).folder, "inventory.json")) as handle:
        return json.load(handle)

def dlws(*args, cwd=None):
    return subprocess.run(DLWS + list(args), capture_output=True, text=True, cwd=cwd, timeout=120)


def make_tar(path, members):
    """members: (name, bytes or None for a directory, type)."""
    with tarfile.open(str(path), "w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE or kind == tarfile.LNKTYPE:
                info.linkname = data
                tar.addfile(info)
            elif data is None:
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


MANIFEST = json.dumps({"format": "dlws-snapshot/1"}).encode()


@pytest.mark.parametrize("name", ["tar", "dir"])
def test_round_trip_of_this_machine(tmp_path, name):
    out = str(tmp_path / ("box.tar.gz" if name == "tar" else "box/"))
    made = dlws("snapshot", "-o", out)
    assert made.returncode == 0, made.stderr
    replay = dlws("inventory", "--json", "--snapshot", out)
    assert replay.returncode == 0, replay.stderr
    recorded = recorded_inventory(out)
    assert json.loads(replay.stdout) == recorded
    assert recorded["schema"] == "dlws.inventory/1"
    assert recorded["cpu"]["logical_cores"] >= 1


def test_redacted_snapshot_still_replays(tmp_path):
    out = str(tmp_path / "red.tar.gz")
    assert dlws("snapshot", "--redact", "-o", out).returncode == 0
    replay = dlws("inventory", "--json", "--snapshot", out)
    assert replay.returncode == 0, replay.stderr
    inv = json.loads(replay.stdout)
    assert inv == recorded_inventory(out)
    node = os.uname().nodename
    with tarfile.open(out) as tar:
        for member in tar:
            if member.isfile():
                text = tar.extractfile(member).read().decode()
                assert not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(node), text, re.I), member.name


def test_hand_made_snapshot_with_two_files_is_valid(tmp_path):
    (tmp_path / "files/proc").mkdir(parents=True)
    (tmp_path / "files/etc").mkdir(parents=True)
    (tmp_path / "files/proc/cpuinfo").write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu lm\n")
    (tmp_path / "files/etc/os-release").write_text('ID=ubuntu\nVERSION_ID="22.04"\n')
    result = dlws("inventory", "--json", "--snapshot", str(tmp_path))
    assert result.returncode == 0, result.stderr
    inv = json.loads(result.stdout)
    assert inv["cpu"]["vendor"] == "GenuineIntel"
    assert inv["os"]["id"] == "ubuntu" and inv["os"]["version"] == "22.04"
    assert inv["gpus"] == [] and inv["memory"]["total_bytes"] is None


HOSTILE = {
    "absolute": [("/etc/evil", b"x", tarfile.REGTYPE)],
    "dotdot": [("snap/../../evil", b"x", tarfile.REGTYPE)],
    "symlink": [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/link", "/etc/passwd", tarfile.SYMTYPE)],
    "hardlink": [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/hard", "/etc/passwd", tarfile.LNKTYPE)],
    "device": [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/dev", None, tarfile.CHRTYPE)],
    "fifo": [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/fifo", None, tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused(tmp_path, case):
    archive = tmp_path / "evil.tar.gz"
    make_tar(archive, HOSTILE[case])
    work = tmp_path / "cwd"
    work.mkdir()
    result = dlws("inventory", "--snapshot", str(archive), cwd=str(work))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("dlws: error:") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "evil").exists() and os.listdir(str(work)) == []


def test_oversized_archive_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "big.tar.gz"
    make_tar(archive, [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/big", b"0" * 4096, tarfile.REGTYPE)])
    monkeypatch.setattr(snapshot_archive, "MAX_TOTAL_BYTES", 1024)
    with pytest.raises(SnapshotError, match="too large"):
        open_snapshot(str(archive))


def test_too_many_members_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "many.tar.gz"
    make_tar(archive, [("snap/f%d" % i, b"x", tarfile.REGTYPE) for i in range(10)])
    monkeypatch.setattr(snapshot_archive, "MAX_MEMBERS", 5)
    with pytest.raises(SnapshotError, match="more than 5"):
        open_snapshot(str(archive))


@pytest.mark.parametrize("content", [b"", b"not a tarball at all", b"\x1f\x8b\x08\x00garbage"])
def test_corrupt_archive_is_refused(tmp_path, content):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(content)
    result = dlws("inventory", "--snapshot", str(archive))
    assert result.returncode == 2 and "dlws: error:" in result.stderr and "Traceback" not in result.stderr


def test_truncated_archive_is_refused(tmp_path):
    good = tmp_path / "good.tar.gz"
    make_tar(good, [("snap/MANIFEST.json", MANIFEST, tarfile.REGTYPE), ("snap/files/x", os.urandom(20000), tarfile.REGTYPE)])
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(SnapshotError):
        open_snapshot(str(cut))


@pytest.mark.parametrize("files", [
    {},  # an empty folder
    {"README.txt": "hello"},
    {"MANIFEST.json": "{not json"},
    {"MANIFEST.json": json.dumps({"format": "something-else/9"})},
    {"commands.json": "[1, 2]"},
    {"commands.json": json.dumps({"nvidia-smi": {"returncode": "zero"}})},
    {"host.json": json.dumps({"facts": []})},
    {"nvml.json": "\x00\x01"},
])
def test_not_a_snapshot_folder_is_refused(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SnapshotError):
        open_snapshot(str(tmp_path))


def test_missing_snapshot_path_is_a_usage_error(tmp_path):
    result = dlws("inventory", "--snapshot", str(tmp_path / "nope.tar.gz"))
    assert result.returncode == 2 and "snapshot not found" in result.stderr
