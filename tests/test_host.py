"""The Host seam: commands with timeouts, missing things as answers, recording that replays exactly."""

import os
import sys
import time

from provision import host as host_module
from provision.host import RC_NOT_FOUND, RC_TIMEOUT, LiveHost, RecordingHost, SnapshotHost


def test_missing_binary_is_a_result():
    result = LiveHost().run(["dlws-no-such-command-xyz"])
    assert result.returncode == RC_NOT_FOUND
    assert "not found" in result.stderr
    assert not result.ok


def test_command_that_hangs_is_killed_at_the_timeout():
    start = time.monotonic()
    # The child starts a grandchild that keeps the pipe open: the whole process group must go.
    result = LiveHost(timeout=0.5).run(["sh", "-c", "sleep 30 & sleep 30"])
    assert result.returncode == RC_TIMEOUT
    assert "timed out" in result.stderr
    assert time.monotonic() - start < 5


def test_command_output_and_returncode():
    result = LiveHost().run([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (result.stdout, result.stderr.strip(), result.returncode) == ("out\n", "err", 3)


def test_commands_run_in_the_c_locale():
    assert LiveHost().run([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"]).stdout.strip() == "C"


def test_unreadable_and_missing_files_are_none(tmp_path):
    host = LiveHost()
    assert host.read(str(tmp_path / "missing")) is None
    assert host.read(str(tmp_path)) is None  # a directory
    assert host.listdir(str(tmp_path / "missing")) is None
    assert host.realpath(str(tmp_path / "missing")) is None


def test_env_is_limited_to_the_variables_probes_may_read(monkeypatch):
    monkeypatch.setenv("CUDA_HOME", "/opt/cuda")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    host = LiveHost()
    assert host.env("CUDA_HOME") == "/opt/cuda"
    assert host.env("AWS_SECRET_ACCESS_KEY") is None


def test_unknown_fact_is_none():
    assert LiveHost().fact("no-such-fact") is None


def test_statvfs_fact_of_a_real_path():
    usage = LiveHost().fact("statvfs", "/")
    assert usage["total_bytes"] >= usage["free_bytes"] > 0


def test_statvfs_failure_and_timeout_are_recorded_as_errors(tmp_path, monkeypatch):
    assert "FileNotFoundError" in LiveHost().fact("statvfs", str(tmp_path / "missing"))["error"]
    monkeypatch.setitem(host_module.LIVE_FACTS, "statvfs", lambda path: time.sleep(10))
    start = time.monotonic()
    assert LiveHost(timeout=0.3).fact("statvfs", "/") == {"error": "timed out after 0.3s"}
    assert time.monotonic() - start < 3


def test_recording_replays_the_same_answers(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    os.symlink(str(tmp_path / "f.txt"), str(tmp_path / "link"))
    recording = RecordingHost(LiveHost())
    answers = (
        recording.read(str(tmp_path / "f.txt")),
        recording.read(str(tmp_path / "missing")),
        recording.listdir(str(tmp_path)),
        recording.realpath(str(tmp_path / "link")),
        recording.run(["echo", "hi"]),
        recording.fact("platform"),
    )
    files = {k: v for k, v in recording.files.items() if v is not None}
    folder = tmp_path / "snap"
    for path, text in files.items():
        target = folder / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    replay = SnapshotHost(str(folder), recording.commands,
                          {"listdir": recording.listings, "realpath": recording.links, "facts": recording.facts}, None)
    assert (
        replay.read(str(tmp_path / "f.txt")),
        replay.read(str(tmp_path / "missing")),
        replay.listdir(str(tmp_path)),
        replay.realpath(str(tmp_path / "link")),
        replay.run(["echo", "hi"]),
        replay.fact("platform"),
    ) == answers


def test_snapshot_host_refuses_links_that_leave_the_snapshot(tmp_path):
    files = tmp_path / "files" / "etc"
    files.mkdir(parents=True)
    os.symlink("/etc/passwd", str(files / "os-release"))
    host = SnapshotHost(str(tmp_path), {}, {}, None)
    assert host.read("/etc/os-release") is None


def test_snapshot_host_unrecorded_command_is_not_found(tmp_path):
    host = SnapshotHost(str(tmp_path), {}, {}, None)
    assert host.run(["nvidia-smi", "-q", "-x"]).returncode == RC_NOT_FOUND
