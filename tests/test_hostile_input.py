"""Hostile or corrupt input (issue 8): every count from input is bounded, every read and command ends, every
parser is linear. Victims run in a subprocess with a memory cap and a timeout, so a regression fails, never hangs."""

import json
import os
import resource
import subprocess
import sys

import pytest

from provision.host import MAX_READ_BYTES, RC_OUTPUT_CUT, LiveHost, SnapshotHost

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "snapshots")
MEMORY_CAP = 1024 ** 3


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(args, timeout=30, env=None, **kwargs):
    """Run args with 1 GiB of address space; a run past timeout fails the test (the old code hung)."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT, preexec_fn=_cap_memory,
                              env=dict(os.environ, **(env or {})), **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail("%s ran past %ds" % (" ".join(args)[:200], timeout))


def dlws(*args, **kwargs):
    return run([sys.executable, "-m", "provision", *args], **kwargs)


def python(code, timeout=30):
    """Run code in a capped subprocess; its stdout, after asserting it succeeded."""
    result = run([sys.executable, "-c", code], timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def snapshot(tmp_path, files, commands=None, host=None):
    folder = tmp_path / "snap"
    for path, text in files.items():
        target = folder / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            os.mkfifo(str(target))
        else:
            target.write_text(text)
    folder.mkdir(exist_ok=True)
    (folder / "commands.json").write_text(json.dumps(commands or {}))
    (folder / "host.json").write_text(json.dumps(host or {}))
    return folder


def inventory(folder, **kwargs):
    result = dlws("inventory", "--json", "--snapshot", str(folder), **kwargs)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


CPUINFO = "".join("processor\t: %d\nphysical id\t: 0\ncore id\t\t: %d\nflags\t\t: fpu lm\n\n" % (n, n // 2)
                  for n in range(4))


def errors_of(inv, probe):
    return [e["message"] for e in inv["errors"] if e["probe"] == probe]


# --- counts from input ------------------------------------------------------------------------------------------


def test_a_cpu_list_of_a_hundred_billion_cpus_is_unknown_not_expanded(tmp_path):
    folder = snapshot(tmp_path, {"/proc/cpuinfo": CPUINFO, "/sys/devices/cpu_core/cpus": "0-99999999999\n",
                                 "/sys/devices/cpu_atom/cpus": "2-3\n"})
    inv = inventory(folder)
    assert inv["cpu"]["logical_cores"] == 4 and inv["cpu"]["performance_cores"] is None
    assert any("65536" in message for message in errors_of(inv, "cpu"))


def test_more_cpus_or_flags_than_any_machine_are_unknown(tmp_path):
    blocks = "".join("processor\t: %d\nflags\t\t: fpu\n\n" % n for n in range(70000))
    flags = " ".join("f%d" % n for n in range(5000))
    inv = inventory(snapshot(tmp_path, {"/proc/cpuinfo": "processor\t: 0\nflags\t\t: %s\n\n%s" % (flags, blocks)}))
    assert inv["cpu"]["logical_cores"] is None and inv["cpu"]["flags"] == []
    assert len(errors_of(inv, "cpu")) == 2


def test_numbers_too_long_for_int_are_unknown():
    from provision.inventory import apple, cpu, libraries, memory, nvidia_smi, python_env
    from provision.inventory.common import to_int

    digits = "9" * 5000  # int() refuses it (Python >= 3.11) or takes quadratic time (before)
    assert to_int(digits) is None and to_int(" 42\n") == 42
    assert cpu.parse_size(digits + "K") is None
    assert memory.parse_meminfo("MemTotal: %s kB\nSwapTotal: 2 kB" % digits) == {"SwapTotal": 2048}
    assert memory._darwin_swap("total = infM  free = 1.00M") == {"total": None, "free": 1024 ** 2}
    assert libraries.header_version("#define A %s\n#define B 1\n#define C 1" % digits, ("A", "B", "C")) is None
    assert libraries.library_versions(["libcudnn.so.%s" % digits, "libcudnn.so.9.1.0"], "libcudnn") == ["9.1.0"]
    assert python_env.packed_cuda(digits) is None
    assert apple.apple_gpu({"gpu-core-count": digits}, None, None).cores is None
    assert nvidia_smi._int(digits + " MiB") is None and nvidia_smi._mib("1" * 400) is None  # float("1" * 400) is inf
    assert cpu.darwin_cpu({"hw.physicalcpu": digits}, "arm64").physical_cores is None


def test_a_model_name_with_a_bad_frequency_is_no_crash():
    from provision.inventory import cpu
    from provision.inventory.model import Inventory

    text = "processor\t: 0\nmodel name\t: Fake CPU @ 1.2.3GHz\n\n"
    assert cpu.linux_cpu(LiveHost(), text, "x86_64", Inventory()).base_mhz is None


def test_more_gpus_than_any_machine_are_refused(tmp_path):
    from provision.inventory import nvidia_smi

    xml = "<nvidia_smi_log>%s</nvidia_smi_log>" % ("<gpu/>" * 1025)
    assert nvidia_smi.parse_nvidia_smi_xml(xml)[3] == "nvidia-smi -q -x lists more than 1024 GPUs"
    folder = snapshot(tmp_path, {"/proc/cpuinfo": CPUINFO})
    (folder / "nvml.json").write_text(json.dumps({"error": None, "driver_version": "550.54.15",
                                                  "gpus": [{"index": i} for i in range(1025)]}))
    inv = inventory(folder)
    assert inv["gpus"] == [] and any("more than 1024" in m for m in errors_of(inv, "nvidia"))


def test_a_long_gpu_name_is_looked_up_in_one_pass():
    from provision.knowledge import gpus

    code = ("from provision.knowledge import gpus\n"
            "name = 'NVIDIA ' + 'X ' * 200000 + 'A100-SXM4-80GB'\n"
            "print(gpus.nvidia_row(name)['compute_capability'], gpus.gpu_spec('nvidia', name)['compute_capability'])")
    assert python(code, timeout=20).strip() == "8.0 8.0"
    assert gpus.nvidia_row("NVIDIA A100-SXM4-80GB")["compute_capability"] == "8.0"


def test_regexes_are_linear_on_long_lines():
    long = 200000
    code = "\n".join([
        "from provision.inventory import apple, common, python_env",
        "assert common.first_version('1' * %d) is None" % long,
        "assert common.first_version('x' + '1' * %d + '.2') is not None" % long,
        "assert python_env.parse_tf_build_info('a' * %d) == {}" % long,
        "assert python_env.parse_torch_version_py(\"cuda = 'x'\" + ' ' * %d + 'y') == {}" % long,
        "assert python_env.parse_torch_version_py(\"cuda: Optional[str] = '12.1'  \") == {'cuda': '12.1'}",
        "assert apple.parse_ioreg('\"k\" = a' + ' ' * %d + 'b')['k'].startswith('a')" % long,
        "assert apple.parse_ioreg('  \"model\" = \"Apple M2\"  ') == {'model': 'Apple M2'}",
    ])
    python(code, timeout=20)


def test_block_devices_beneath_each_other_are_walked_once(tmp_path):
    from provision.inventory import disks

    names = ["dm-%d" % n for n in range(12)]
    listings = {"/sys/block/%s/slaves" % n: names for n in names}  # every device beneath every other
    links = {}
    for n in names:
        links["/dev/" + n] = "/dev/" + n
        links["/sys/class/block/" + n] = "/sys/devices/virtual/block/" + n
    host = SnapshotHost(str(tmp_path), {}, {"listdir": listings, "realpath": links}, None)
    calls = []
    listdir = host.listdir
    host.listdir = lambda path: calls.append(path) or listdir(path)  # type: ignore[method-assign]
    assert disks.medium(host, "/dev/dm-0", "ext4") == "unknown"
    assert len(calls) <= len(names)  # 12 ** 4 before


def test_many_mount_lines_are_parsed_in_linear_time():
    code = ("from provision.inventory import disks\n"
            "lines = ['/dev/sd%d /m%d ext4 rw 0 0' % (n, n) for n in range(30000)] * 2\n"
            "assert len(disks.parse_mounts('\\n'.join(lines))) == 30000\n")
    python(code, timeout=20)


# --- command output ---------------------------------------------------------------------------------------------


def test_endless_command_output_is_cut_within_the_memory_cap():
    code = ("import sys\nfrom provision.host import LiveHost\n"
            "r = LiveHost(timeout=60).run(['yes'])\n"
            "print(len(r.stdout), r.returncode)\nprint(r.stderr)\n")
    out = python(code, timeout=60).splitlines()
    assert out[0] == "%d %d" % (MAX_READ_BYTES, RC_OUTPUT_CUT)
    assert out[1] == "dlws: stdout cut at %d bytes" % MAX_READ_BYTES


def test_endless_stderr_is_cut_and_the_stdout_kept():
    code = ("from provision.host import LiveHost\n"
            "r = LiveHost(timeout=60).run(['sh', '-c', 'echo result; yes >&2'])\n"
            "assert r.stdout == 'result\\n' and r.returncode == %d\n"
            "assert r.stderr.endswith('y\\ndlws: stderr cut at %d bytes\\n')\n"
            "assert len(r.stderr) == %d + len('dlws: stderr cut at %d bytes\\n')\n"
            % (RC_OUTPUT_CUT, MAX_READ_BYTES, MAX_READ_BYTES, MAX_READ_BYTES))
    python(code, timeout=60)


def test_output_at_the_cap_is_not_cut():
    code = "import sys; sys.stdout.write('x' * %d)" % MAX_READ_BYTES
    result = LiveHost(timeout=60).run([sys.executable, "-c", code])
    assert (len(result.stdout), result.stderr, result.returncode) == (MAX_READ_BYTES, "", 0)


def test_a_slow_endless_writer_still_meets_the_timeout():
    result = LiveHost(timeout=0.5).run(["sh", "-c", "while :; do echo x; sleep 0.01; done"])
    assert result.returncode == 124 and "timed out" in result.stderr


def test_a_recorded_endless_output_is_cut_the_same_way(tmp_path):
    smi = "<nvidia_smi_log>" + "x" * (MAX_READ_BYTES + 10)
    folder = snapshot(tmp_path, {"/proc/cpuinfo": CPUINFO},
                      commands={"nvidia-smi -q -x": {"stdout": smi, "stderr": "", "returncode": 0}})
    host = SnapshotHost(str(folder), json.loads((folder / "commands.json").read_text()), {}, None)
    result = host.run(["nvidia-smi", "-q", "-x"])
    assert len(result.stdout) == MAX_READ_BYTES and result.returncode == RC_OUTPUT_CUT
    assert result.stderr == "dlws: stdout cut at %d bytes\n" % MAX_READ_BYTES
    inv = inventory(folder)
    assert inv["nvidia"]["status"] == "nvml-error" and len(inv["nvidia"]["message"]) <= 4096


# --- reads that would never end ---------------------------------------------------------------------------------


def test_live_reads_refuse_fifos_and_devices(tmp_path):
    fifo = tmp_path / "cpuinfo"
    os.mkfifo(str(fifo))
    code = ("from provision.host import LiveHost\nh = LiveHost()\n"
            "assert h.read(%r) is None and h.read('/dev/zero') is None\n"
            "assert h.read('/proc/cpuinfo') and h.read('/proc/self/status')\n" % str(fifo))
    python(code, timeout=20)


@pytest.mark.parametrize("path", ["/proc/cpuinfo", "/etc/os-release", "/etc/debian_version", "/etc/redhat-release"])
def test_a_fifo_in_a_snapshot_is_unknown_not_a_hang(tmp_path, path):
    files = {"/proc/cpuinfo": CPUINFO, "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n', path: None}
    inv = inventory(snapshot(tmp_path, files), timeout=20)
    if path == "/proc/cpuinfo":
        assert inv["cpu"]["logical_cores"] is None
    else:
        assert inv["os"]["id"] is None and errors_of(inv, "os") == ["%s is not a regular file: the distribution is "
                                                                    "unknown" % path]


def test_a_release_file_linked_out_of_the_snapshot_is_refused(tmp_path):
    folder = snapshot(tmp_path, {"/proc/cpuinfo": CPUINFO})
    (folder / "files" / "etc").mkdir()
    os.symlink("/etc/os-release", str(folder / "files" / "etc" / "os-release"))
    inv = inventory(folder)
    assert inv["os"]["id"] is None and "leads out of the snapshot" in errors_of(inv, "os")[0]


def test_an_executable_fifo_on_path_fails_fast(tmp_path):
    fifo = tmp_path / "nvidia-ctk"
    os.mkfifo(str(fifo))
    os.chmod(str(fifo), 0o755)
    code = ("from provision.host import LiveHost\nh = LiveHost()\n"
            "assert h.fact('which', 'nvidia-ctk') == %r\n"  # shutil.which only stats it
            "assert h.run(['nvidia-ctk', '--version']).returncode == 126\n" % str(fifo))  # exec of a FIFO: EACCES
    python(code.replace("LiveHost()", "LiveHost(); import os; os.environ['PATH'] = %r" % str(tmp_path)), timeout=20)


def test_a_fifo_as_require_file_is_a_usage_error(tmp_path):
    fifo = tmp_path / "require.toml"
    os.mkfifo(str(fifo))
    result = dlws("doctor", "--snapshot", os.path.join(FIXTURES, "docker-no-gpu"), "--require-file", str(fifo),
                  timeout=20)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["dlws: error: cannot read --require-file %s: not a regular file"
                                                  % fifo]


# --- --require and --require-file -------------------------------------------------------------------------------


def test_a_long_require_expression_is_a_one_line_usage_error():
    result = dlws("doctor", "--snapshot", os.path.join(FIXTURES, "docker-no-gpu"),
                  "--require", "gpu.count >= 1" + " x" * 50000)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "longer than 4096 characters" in result.stderr


def test_the_require_tokenizer_is_linear():
    code = ("from provision.doctor import require\n"
            "assert len(require._tokens('gpu.count >= 2 ' * 100000)) == 300000\n"
            "try:\n    require._tokens('disk[ ' * 100000 + '=')\nexcept require.UsageError:\n    pass\n")
    python(code, timeout=20)


def test_more_requirements_than_the_limit_are_a_usage_error(tmp_path):
    from provision.doctor.require import UsageError, parse_all
    from provision.doctor.requirefile import read_require_file

    with pytest.raises(UsageError, match="more than 1000 requirements"):
        parse_all(["gpu.count >= 1"] * 1001)
    assert len(parse_all(["gpu.count >= 1"] * 1000)) == 1000
    many = tmp_path / "many.toml"
    many.write_text("require = [%s]\n" % ", ".join(['"ram"'] * 1001))
    with pytest.raises(UsageError, match="more than 1000 requirements"):
        read_require_file(str(many))


@pytest.mark.parametrize("text, message", [
    ("require = ['ram']\n" + "#" * (1024 * 1024), "larger than 1048576 bytes"),
    ("a = " + "[" * 100000, "is not valid TOML"),  # tomllib recurses: RecursionError
    ("tool = 1\nrequire = ['ram']", None),
    (b"require = ['\xff']", "is not valid TOML"),
])
def test_hostile_require_files(tmp_path, text, message):
    from provision.doctor.requirefile import read_require_file
    from provision.errors import UsageError

    path = tmp_path / "req.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    if message is None:
        assert read_require_file(str(path)) == ["ram"]
    else:
        with pytest.raises(UsageError, match=message):
            read_require_file(str(path))


def test_versions_and_sizes_past_any_number_never_meet_and_never_crash():
    from provision.doctor.require import evaluate, parse

    inv = {"nvidia": {"driver_version": "1" * 5000}, "memory": {"total_bytes": 10 ** 400}}
    assert not evaluate(parse("driver >= 535"), inv).met
    outcome = evaluate(parse("ram >= 1GiB"), inv)
    assert not outcome.met and outcome.actual.startswith("1000")


# --- --timeout --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "3601", "five"])
def test_timeout_must_be_finite_positive_and_sane(value):
    fixture = os.path.join(FIXTURES, "docker-no-gpu")
    for result in (dlws("inventory", "--snapshot", fixture, "--timeout", value),
                   dlws("inventory", "--snapshot", fixture, env={"DLWS_TIMEOUT": value})):
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "dlws: error: --timeout (or DLWS_TIMEOUT) must be from 0.1 to 3600 seconds, not %r" % value]


def test_a_sane_timeout_is_taken():
    from provision.cli import _host

    assert _host(None, "0.5").timeout == 0.5 and _host(None, None).timeout == 5.0


def test_recorded_answers_of_the_wrong_shape_are_unknown(tmp_path):
    # A listing that is a 200,000-character string was 200,000 one-letter entries (a probe walked each); names that
    # join into other paths, links that are not absolute paths and facts of the wrong JSON type are unknown too.
    host = SnapshotHost(str(tmp_path), {}, {
        "listdir": {"/sys/bus/pci/devices": "A" * 200_000, "/dev": ["nvidia0", "../etc", "a/b", "", ".", 3, "x\0y"]},
        "realpath": {"/a": "relative", "/b": ["/x"], "/c": "/sys/devices/pci0000:00"},
        "facts": {"platform": "linux", "python": ["3.11"], "env:PATH": {"x": 1}, "which:nvidia-smi": "/usr/bin/x"}},
        None)
    assert host.listdir("/sys/bus/pci/devices") is None
    assert host.listdir("/dev") == ["nvidia0"]
    assert [host.realpath(p) for p in ("/a", "/b", "/c")] == [None, None, "/sys/devices/pci0000:00"]
    assert [host.fact("platform"), host.fact("python"), host.fact("env", "PATH")] == [None, None, None]
    assert host.fact("which", "nvidia-smi") == "/usr/bin/x"


def test_a_python_version_from_a_snapshot_never_reaches_a_command(tmp_path):
    inv = json.loads(dlws("inventory", "--json", "--snapshot", os.path.join(FIXTURES, "h100-sxm-server")).stdout)
    from provision.planner import plan as make_plan
    from provision.setup_command import make_request

    request = make_request(("jax",), None, "auto", None, ".venv", "install", False)
    for hostile, expected in (("3.11; touch /tmp/pwned #", "python3.11"), ("$(id)", "python3"), ("3", "python3")):
        inv["python"]["version"] = hostile
        steps = make_plan(inv, request).steps
        assert "pwned" not in json.dumps([s.check for s in steps]) and "$(id)" not in json.dumps([s.check for s in steps])
        assert [a.python for s in steps for a in s.actions if hasattr(a, "python")] == [expected]


# What a terminal would obey (escape sequences, carriage returns, bidirectional overrides) in a machine's values
# reaches the reports spelled out, never raw: an OSC 52 sequence in an os-release would write the user's clipboard.
TERMINAL_TRICKS = ("\x1b]52;c;cHduZWQ=\x07", "\x1b[2J", "\r", "\u202e")


def test_reports_spell_out_what_a_terminal_would_obey(tmp_path):
    tricks = "".join(TERMINAL_TRICKS)
    folder = snapshot(tmp_path, {"/etc/os-release": 'ID=ubuntu\nVERSION_ID="22.04"\nPRETTY_NAME="Ubuntu %s"\n' % tricks,
                                 "/proc/cpuinfo": CPUINFO},
                      host={"facts": {"platform": {"system": "linux", "machine": "x86_64",
                                                   "release": "6.1%s-generic" % tricks}}})
    outputs = [dlws("inventory", "--snapshot", str(folder)), dlws("doctor", "--snapshot", str(folder)),
               dlws("setup", "-f", "pytorch", "--dry-run", "--snapshot", str(folder))]
    for result in outputs:
        assert result.returncode in (0, 1), result.stderr[-2000:]
        for text in (result.stdout, result.stderr):
            assert not any(trick in text for trick in TERMINAL_TRICKS), text[-2000:]
    assert "Ubuntu \\x1b]52;c;cHduZWQ=\\x07\\x1b[2J" in outputs[0].stdout and "\\u202e" in outputs[0].stdout
    written = tmp_path / "report.txt"
    assert dlws("doctor", "--snapshot", str(folder), "-o", str(written)).returncode in (0, 1)
    assert "\x1b" not in written.read_text() and "\\x1b" in written.read_text()


def test_printable_keeps_dlws_own_colours_and_plain_text():
    from provision.output import printable

    coloured = "\033[31merror\033[0m \033[32mok\033[0m\ttab\nline ünïcode"
    assert printable(coloured) == coloured
    assert printable("a\x1b[8mhidden\x00\x7f\x9b") == "a\\x1b[8mhidden\\x00\\x7f\\x9b"
