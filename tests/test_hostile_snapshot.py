"""Hostile snapshots: header bombs stay within the limits, writes are atomic, redaction leaves nothing identifying."""

import gzip
import io
import json
import os
import resource
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from provision import snapshot, snapshot_archive
from provision.errors import SnapshotError
from provision.snapshot import open_snapshot

DLWS = [sys.executable, "-m", "provision"]
MIB = 1024 * 1024


def _capped_memory() -> None:
    limit = 1024 * MIB  # far below what reading a 400 MB header whole takes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def dlws_capped(*args):
    return subprocess.run(DLWS + list(args), capture_output=True, text=True, timeout=120, preexec_fn=_capped_memory)


def header(name: str, size: int, kind: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def pad(size: int) -> bytes:
    return b"\0" * (-size % 512)


def bomb(path, kind: bytes, payload_bytes: int, record_prefix: bytes = b"") -> None:
    """A .tar.gz whose one extension header holds payload_bytes of 'A': gzip members of 1 MiB each, written without
    ever holding the payload (the archive stays a few hundred KB)."""
    chunk = gzip.compress(b"A" * MIB, 9)
    size = len(record_prefix) + payload_bytes + (1 if record_prefix else 0)
    with open(str(path), "wb") as out:
        out.write(gzip.compress(header("././@LongLink", size, kind) + record_prefix))
        for _ in range(payload_bytes // MIB):
            out.write(chunk)
        tail = b"\n" if record_prefix else b""
        data = b"{}"
        out.write(gzip.compress(tail + pad(size) + header("snap/MANIFEST.json", len(data), tarfile.REGTYPE) + data
                                + pad(len(data)) + b"\0" * 1024))


def pax_prefix(payload_bytes: int) -> bytes:
    """'LENGTH path=' where LENGTH counts the whole record, itself included."""
    body = len(" path=") + payload_bytes + 1
    length = body + len(str(body))
    length = body + len(str(length))
    return b"%d path=" % length


def assert_refused(result) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-300:])
    assert result.stderr.startswith("dlws: error:") and len(result.stderr.strip().splitlines()) == 1
    assert len(result.stderr) < 400, len(result.stderr)


def test_pax_header_bomb_is_refused_within_memory(tmp_path):
    archive = tmp_path / "pax.tar.gz"
    bomb(archive, tarfile.XHDTYPE, 400 * MIB, pax_prefix(400 * MIB))
    assert os.path.getsize(str(archive)) < 2 * MIB
    assert_refused(dlws_capped("inventory", "--snapshot", str(archive)))


def test_gnu_long_name_bomb_is_refused_within_memory(tmp_path):
    archive = tmp_path / "longname.tar.gz"
    bomb(archive, tarfile.GNUTYPE_LONGNAME, 400 * MIB)
    assert_refused(dlws_capped("inventory", "--snapshot", str(archive)))


def test_chain_of_extension_headers_is_refused(tmp_path):
    archive = tmp_path / "chain.tar.gz"
    name = b"snap/x\0"
    one = header("././@LongLink", len(name), tarfile.GNUTYPE_LONGNAME) + name + pad(len(name))
    archive.write_bytes(gzip.compress(one * 5000 + header("snap/x", 0, tarfile.REGTYPE) + b"\0" * 1024))
    assert_refused(dlws_capped("inventory", "--snapshot", str(archive)))


def test_error_quotes_only_an_excerpt_of_a_long_name(tmp_path):
    archive = tmp_path / "long.tar.gz"
    with tarfile.open(str(archive), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("/" + "a" * 3000))
    result = dlws_capped("inventory", "--snapshot", str(archive))
    assert_refused(result)
    assert "a" * 101 not in result.stderr and "3001 characters" in result.stderr


def test_unpacked_stream_is_bounded_by_headers_too(tmp_path, monkeypatch):
    """Members of 1 byte each: tiny contents, but every one costs 1 KiB of header and padding."""
    archive = tmp_path / "many.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        for i in range(3000):
            info = tarfile.TarInfo("snap/files/f%d" % i)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    monkeypatch.setattr(snapshot_archive, "MAX_ARCHIVE_BYTES", MIB)
    with pytest.raises(SnapshotError, match="unpacks to more than 1 MiB"):
        open_snapshot(str(archive))


def test_archives_of_tar_and_python_formats_open(tmp_path):
    """What GNU tar, bsdtar and Python write: long names through GNU and PAX headers, folders, plain .tar."""
    long_name = "snap/files/sys/devices/" + "/".join(["pci0000:00"] * 12) + "/vendor"
    for fmt, suffix in ((tarfile.GNU_FORMAT, "gnu.tar.gz"), (tarfile.PAX_FORMAT, "pax.tar"), (tarfile.USTAR_FORMAT, "u.tgz")):
        archive = tmp_path / suffix
        with tarfile.open(str(archive), "w:gz" if suffix.endswith("gz") else "w", format=fmt) as tar:
            for name, data in (("snap/MANIFEST.json", b'{"format": "dlws-snapshot/1"}'), (long_name, b"0x10de\n"),
                               ("snap/files/etc/caf\u00e9", "\u00e9".encode() * 3)):
                if fmt == tarfile.USTAR_FORMAT and name == long_name:
                    name = name[:40] + "/vendor"
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        host = open_snapshot(str(archive))
        assert host.read("/etc/caf\u00e9") == "\u00e9\u00e9\u00e9", fmt
        if fmt != tarfile.USTAR_FORMAT:
            assert host.read("/" + long_name[len("snap/files/"):]) == "0x10de\n", fmt


# --- writing ------------------------------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import os, sys, time
    from provision import snapshot
    out, tag, start = sys.argv[1], sys.argv[2], sys.argv[3]
    members = {"MANIFEST.json": '{"format": "dlws-snapshot/1"}',
               "files/writer/" + tag: os.urandom(1 << 20).hex(), "files/etc/hostname": tag + "\\n"}
    if tag == "stall":  # stop half way, for the parent to kill
        import tarfile
        add = tarfile.TarFile.addfile
        def stall(*args):
            open(start, "w").close()
            time.sleep(600)
        tarfile.TarFile.addfile = lambda self, info, data=None: stall(add(self, info, data))
        snapshot._move_folder = stall  # the folder is written, not yet in place
    else:
        while not os.path.exists(start):
            time.sleep(0.01)
    snapshot.write_snapshot(members, out)
""")


def writer(out, tag, start):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), tag, str(start)])


@pytest.mark.parametrize("name", ["box.tar.gz", "box/"])
def test_concurrent_writers_each_leave_a_whole_snapshot(tmp_path, name):
    out, start = str(tmp_path) + "/" + name, tmp_path / "go"
    procs = [writer(out, "w%d" % i, start) for i in range(5)]
    time.sleep(1)
    start.touch()
    assert [p.wait(60) for p in procs] == [0] * 5
    host = open_snapshot(out)
    tag = host.read("/etc/hostname").strip()
    assert host.listdir("/writer") == [tag]  # one writer's files, not a mix of several
    assert len(host.read("/writer/" + tag)) == 2 << 20
    assert sorted(os.listdir(str(tmp_path))) == sorted(["go", name.rstrip("/")])  # no temporary file left behind


@pytest.mark.parametrize("name", ["box.tar.gz", "box/"])
def test_killed_writer_leaves_the_previous_snapshot(tmp_path, name):
    out, start = str(tmp_path) + "/" + name, tmp_path / "stalled"
    snapshot.write_snapshot({"MANIFEST.json": '{"format": "dlws-snapshot/1"}', "files/etc/hostname": "old\n"}, out)
    proc = writer(out, "stall", start)
    for _ in range(600):
        if start.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert start.exists()
    assert open_snapshot(out).read("/etc/hostname") == "old\n"


def test_folder_holding_another_snapshot_is_emptied_first(tmp_path):
    out = str(tmp_path / "box") + "/"
    snapshot.write_snapshot({"MANIFEST.json": '{"format": "dlws-snapshot/1"}', "files/gpu-box": "8x H100"}, out)
    snapshot.write_snapshot({"MANIFEST.json": '{"format": "dlws-snapshot/1"}', "files/cpu-box": "none"}, out)
    assert sorted(os.listdir(out + "files")) == ["cpu-box"]


def test_folder_that_is_not_a_snapshot_is_refused(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    result = subprocess.run(DLWS + ["snapshot", "-o", str(folder) + "/"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("dlws: error:"), result.stderr
    assert os.listdir(str(folder)) == ["thesis.tex"]
