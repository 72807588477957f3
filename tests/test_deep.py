"""doctor --deep: a real framework run (JAX on the CPU), the findings made of real failure outputs, and deep runs
recorded by dlws snapshot --deep and replayed by dlws doctor --deep --snapshot."""

import json
import os
import shutil
import subprocess
import sys

from provision.doctor.deep import check_framework as judge
from provision.host import CommandResult, Host, LiveHost, command_key
from provision.inventory import deep

HERE = os.path.dirname(__file__)


class Replay(Host):
    """A host whose every command prints one recorded output."""

    def __init__(self, stdout, stderr="", returncode=0):
        self.result = CommandResult(stdout, stderr, returncode)

    def run(self, argv, timeout=None):
        return self.result


def check_framework(host, python, name, inv):
    """Run the probe of one framework through host, then judge what came back."""
    return judge(name, deep.run_framework(host, deep.probe_command(python, name)), inv)


GPU_BOX = {"nvidia": {"status": "ok"}, "gpus": [{"vendor": "nvidia", "index": 0}],
           "frameworks": {"torch": {"version": "2.1.0+cu121", "build": "cuda 12.1"}}}


def test_real_jax_runs_a_matrix_product_on_the_cpu():
    findings = check_framework(LiveHost(), sys.executable, "jax", {"frameworks": {"jax": {"build": "cpu"}}})
    assert [f.id for f in findings] == ["DLWS-DEEP-004"]
    evidence = findings[0].evidence
    assert evidence["device"] == "cpu" and evidence["tflops"] > 0


def test_missing_framework_cannot_be_imported():
    findings = check_framework(LiveHost(), sys.executable, "tensorflow", {})
    assert findings[0].id == "DLWS-DEEP-001" and "cannot be imported" in findings[0].title


def test_no_kernel_image():
    # The message PyTorch prints when its wheel lacks kernels for the GPU (e.g. sm_37 with torch >= 2.0).
    error = ("RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
             "CUDA kernel errors might be asynchronously reported at some other API call")
    host = Replay(json.dumps({"ok": False, "error": error}) + "\n")
    finding = check_framework(host, "python", "torch", GPU_BOX)[0]
    assert finding.id == "DLWS-DEEP-001" and "no kernels for this GPU" in finding.title


def test_gpu_build_that_sees_no_gpu():
    host = Replay(json.dumps({"ok": True, "version": "2.1.0+cu121", "devices": [], "device": "cpu",
                              "dtype": "float32", "tflops": 0.2}))
    ids = [f.id for f in check_framework(host, "python", "torch", GPU_BOX)]
    assert ids == ["DLWS-DEEP-002", "DLWS-DEEP-004"]


def test_a_crash_without_json_is_reported_with_its_output():
    host = Replay("", "Illegal instruction (core dumped)", -4)
    finding = check_framework(host, "python", "tensorflow", {})[0]
    assert finding.id == "DLWS-DEEP-001" and "Illegal instruction" in finding.evidence["output"]


def test_rate_far_below_the_peak_is_a_warning():
    inv = {"nvidia": {"status": "ok"}, "frameworks": {"torch": {"version": "2.4.1+cu121", "build": "cuda 12.1"}},
           "gpus": [{"vendor": "nvidia", "index": 0, "name": "NVIDIA H100 80GB HBM3"}]}
    slow = {"ok": True, "version": "2.4.1+cu121", "devices": ["NVIDIA H100 80GB HBM3"], "device": "cuda",
            "dtype": "float16", "tflops": 60.0}
    ids = [f.id for f in check_framework(Replay(json.dumps(slow)), "python", "torch", inv)]
    assert ids == ["DLWS-DEEP-003", "DLWS-DEEP-004"]
    fast = dict(slow, tflops=600.0)  # about 60% of the H100 SXM's 989.4 dense FP16 TFLOPS
    assert [f.id for f in check_framework(Replay(json.dumps(fast)), "python", "torch", inv)] == ["DLWS-DEEP-004"]


# --- replaying deep runs from a snapshot ------------------------------------------------------------------------

NO_KERNEL = {"ok": False, "error": "RuntimeError: CUDA error: no kernel image is available for execution on the "
                                   "device"}


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_the_probe_command_does_not_depend_on_where_dlws_is_installed():
    argv = deep.probe_command("/usr/bin/python3", "torch")
    assert argv[:2] == ["/usr/bin/python3", "-c"] and argv[3] == "torch"
    with open(os.path.join(os.path.dirname(deep.__file__), "deep_probe.py")) as handle:
        assert argv[2] == handle.read()
    assert os.path.dirname(deep.__file__) not in command_key(argv)


def _with_deep_run(tmp_path, fixture, python, name, result):
    """A copy of a fixture snapshot with one recorded deep run added to its commands.json."""
    folder = str(tmp_path / fixture)
    shutil.copytree(os.path.join(HERE, "snapshots", fixture), folder)
    path = os.path.join(folder, "commands.json")
    commands = {}
    if os.path.exists(path):  # a machine that answered from files and NVML only has none
        with open(path) as handle:
            commands = json.load(handle)
    commands[command_key(deep.probe_command(python, name))] = {"stdout": json.dumps(result) + "\n", "stderr": "",
                                                               "returncode": 0}
    with open(path, "w") as handle:
        json.dump(commands, handle)
    return folder


def test_a_recorded_deep_run_replays_into_its_finding(tmp_path):
    # The GTX 1050 (sm_61) under a CUDA 12.8 torch, which has no kernels for it.
    folder = _with_deep_run(tmp_path, "gtx1050-torch28-cu128-driver550", "/home/user/annotator-venv/bin/python",
                            "torch", NO_KERNEL)
    result = dlws("doctor", "--deep", "--snapshot", folder, "--format", "json")
    assert result.returncode == 1, result.stderr
    found = [f for f in json.loads(result.stdout)["findings"] if f["id"].startswith("DLWS-DEEP-")]
    assert [(f["id"], f["title"], f["subject"]) for f in found] == [
        ("DLWS-DEEP-001", "torch has no kernels for this GPU", "torch")]
    junit = dlws("doctor", "--deep", "--snapshot", folder, "--format", "junit").stdout
    assert '<testcase classname="dlws.doctor" name="deep: torch"><failure type="error"' in junit


def test_a_snapshot_without_deep_runs_says_so():
    result = dlws("doctor", "--deep", "--snapshot", os.path.join(HERE, "snapshots", "gtx1050-torch28-cu128-driver550"))
    assert result.returncode == 2 and "dlws snapshot --deep" in result.stderr


def test_snapshot_deep_records_the_runs_that_doctor_deep_replays(tmp_path):
    """Live: this interpreter's JAX (CPU) is run once while recording, then replayed from the snapshot (--env: this
    interpreter's environment is the judged one, whatever python3 PATH finds)."""
    box = str(tmp_path / "box") + "/"
    recorded = dlws("snapshot", "--deep", "--env", sys.prefix, "-o", box)
    assert recorded.returncode == 0, recorded.stderr
    with open(os.path.join(box, "commands.json")) as handle:  # " -S -c ": an interpreter asked for its version
        keys = [key for key in json.load(handle) if " -c " in key and " -S -c " not in key]
    assert keys and all(key.endswith(" jax") or key.endswith(" torch") or key.endswith(" tensorflow") for key in keys)
    replayed = dlws("doctor", "--deep", "--env", sys.prefix, "--snapshot", box, "--format", "json")
    findings = json.loads(replayed.stdout)["findings"]
    jax = [f for f in findings if f["id"] == "DLWS-DEEP-004" and f["subject"] == "jax"]
    assert jax and jax[0]["evidence"]["device"] == "cpu"
    assert dlws("snapshot", "--deep", "--snapshot", box, "-o", str(tmp_path / "again") + "/").returncode == 2
