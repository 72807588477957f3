"""doctor --deep: a real framework run (JAX on the CPU), and the findings made of real failure outputs."""

import json
import sys

from provision.doctor.deep import check_framework
from provision.host import CommandResult, Host, LiveHost


class Replay(Host):
    """A host whose every command prints one recorded output."""

    def __init__(self, stdout, stderr="", returncode=0):
        self.result = CommandResult(stdout, stderr, returncode)

    def run(self, argv, timeout=None):
        return self.result


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
