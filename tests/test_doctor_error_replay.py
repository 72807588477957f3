"""dlws doctor --error replayed on real error texts (tests/error_replay_texts.py, each with its public report) as
users paste them: plain, with Windows line endings, ANSI colours, wrapped, inside a long log, as PowerShell's UTF-16,
quoted in a reply, in docker compose and journald logs, with zero-width characters; and each new or widened pattern of
the error_signatures table matching its real text and not a neighbouring one."""

import codecs
import json
import os
import subprocess
import sys

import pytest

from error_replay_texts import REPLAY
from provision.doctor import diagnose
from provision.doctor.error_input import clean, read_error, unwrapped
from provision.doctor.error_text import explain, find_matches
from provision.knowledge.error_signatures import error_signatures
from test_doctor_fixtures import SNAPSHOTS, TODAY, inventory
from test_doctor_rules import healthy


def wrap(text, width=60):
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = line + " " + word if line else word
    return "\n".join(lines + [line])


#: A traceback's frame line, long as they are: a terminal that hard-wraps cuts it at the same width as the error.
FRAME = ('  File "/home/u/miniconda3/envs/ml/lib/python3.10/site-packages/torch/nn/modules/module.py", line 1501, in '
         '_call_impl\n')


def hard_wrap(text, width):
    """What tmux, screen or a notebook leave of a long line: cut every width characters, inside words."""
    return "\n".join(line[i:i + width] for line in text.split("\n") for i in range(0, max(len(line), 1), width))


def each_line(prefix, text):
    return "\n".join(prefix + line for line in text.split("\n"))


VARIANTS = {
    "plain": lambda t: t,
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "ansi": lambda t: "\x1b[31m" + t.replace(": ", ": \x1b[1m", 1) + "\x1b[0m",
    "wrapped": wrap,
    "long log": lambda t: "".join("epoch %d loss 0.%d\n" % (i, i) for i in range(5000)) + t + "\n" + "done\n" * 50,
    "quoted reply": lambda t: each_line("> ", t),
    "docker compose": lambda t: each_line("sd-webui-1  | ", t),
    "journald": lambda t: each_line("Dec 20 17:03:11 host ollama[12288]: ", t),
    "zero-width": lambda t: t.replace(" ", " \u200b", 3),
    "rich box": lambda t: "\n".join("\u2502 %-60s \u2502" % line for line in wrap(t, 60).split("\n")),
    "vllm worker": lambda t: each_line("(VllmWorker rank=5 pid=33503) ERROR 03-06 06:49:30 [multiproc_executor.py:375] ",
                                       t),  # vllm-project/vllm#14404's prefix
    "hard wrap, crlf": lambda t: hard_wrap(FRAME + t, 50).replace("\n", "\r\n"),
}
FIXTURES = {}


def replay(fixture, text):
    if fixture not in FIXTURES:
        FIXTURES[fixture] = inventory(fixture)
    report = diagnose(FIXTURES[fixture], today=TODAY)
    explain(report, read_error((text,), None))
    return report


def verdict(report):
    return ([m["signature"] for m in report.error["matches"]],
            sorted({f.id for f in report.findings if f.explains_error}))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name,fixture,text,signatures,explained_by", REPLAY, ids=[r[0] for r in REPLAY])
def test_a_real_error_is_recognised_and_explained_as_pasted(name, fixture, text, signatures, explained_by, variant):
    assert verdict(replay(fixture, VARIANTS[variant](text))) == (signatures, explained_by)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_a_log_saved_by_powershell_or_notepad_is_read(tmp_path, encoding):
    # PowerShell 5's "python train.py > log.txt 2>&1" writes UTF-16LE with a byte-order mark; "utf-16-le": none
    name, fixture, text, signatures, explained_by = REPLAY[0]
    path = tmp_path / "log.txt"
    path.write_bytes(("Traceback (most recent call last):\r\n" + text + "\r\n").encode(encoding))
    error = read_error((), str(path))
    assert "\x00" not in error.text and "\ufeff" not in error.text
    assert [m.signature.id for m in find_matches(error.text)] == signatures


def test_utf16_with_crlf_end_to_end(tmp_path):
    name, fixture, text, signatures, explained_by = REPLAY[0]
    path = tmp_path / "log.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
    result = subprocess.run([sys.executable, "-m", "provision", "doctor", "--format", "json", "--error-file",
                             str(path), "--snapshot", os.path.join(SNAPSHOTS, fixture)], capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    found = json.loads(result.stdout)
    assert [m["signature"] for m in found["error"]["matches"]] == signatures
    assert [f["id"] for f in found["findings"] if f.get("explains_error")] == explained_by


def test_several_real_errors_in_one_log_each_get_their_verdict():
    # a driver too old, then a program bug, then NCCL: each named, only the machine's cause explained
    by_name = {r[0]: r for r in REPLAY}
    names = ("torch-driver-11040", "device-side-assert", "nccl-unhandled-cuda-error")
    log = "\n...\n".join(by_name[name][2] for name in names)
    signatures, explaining = verdict(replay("gke-cos-driver470-torch210-cu121", log))
    assert signatures == ["torch-driver-too-old", "cuda-device-side-assert", "nccl-unhandled-cuda-error"]
    assert explaining == ["DLWS-FW-003"]


def test_a_program_bug_is_not_blamed_on_a_broken_machine():
    # opensuse-2080ti-gpu-lost: a GPU has fallen off the bus (DLWS-DRV-004), yet a device-side assert is the
    # program's labels (layumi/Person_reID_baseline_pytorch#372), so nothing on the machine explains it
    text = next(r[2] for r in REPLAY if r[0] == "device-side-assert")
    report = replay("opensuse-2080ti-gpu-lost", text)
    assert "DLWS-DRV-004" in {f.id for f in report.findings}
    assert verdict(report) == (["cuda-device-side-assert"], [])
    err = next(f for f in report.findings if f.id == "DLWS-ERR-001")
    assert all("no check can see it" in c for c in err.evidence["candidate causes"])
    assert "not the machine" in " ".join(err.evidence["candidate causes"])


def test_glibc_too_old_for_the_installed_torch_is_explained():
    # KumaTea/pytorch-aarch64#16: Ubuntu 18.04's glibc 2.27 under a wheel built for glibc 2.28
    text = next(r[2] for r in REPLAY if r[0] == "glibc-2.28")
    inv = healthy()
    inv["os"]["glibc"] = "2.27"
    inv["frameworks"]["torch"]["wheel_tags"] = ["cp310-cp310-manylinux_2_28_x86_64"]
    report = diagnose(inv, today=TODAY)
    explain(report, read_error((text,), None))
    assert verdict(report) == (["glibc-version-not-found"], ["DLWS-FW-006"])
    quiet = diagnose(healthy(), today=TODAY)
    explain(quiet, read_error((text,), None))
    assert verdict(quiet) == (["glibc-version-not-found"], [])


# --- each new or widened pattern: its real text matches, a neighbouring text does not ------------------------------

PATTERNS = [
    # (signature, a real text it must match (the report beside it), a text it must not match)
    ("cuda-unspecified-launch-failure", "RuntimeError: CUDA error: unspecified launch failure",  # DeepSDF#40
     "RuntimeError: CUDA error: an illegal memory access was encountered"),
    ("cuda-device-side-assert", "RuntimeError: cuda runtime error (59) : device-side assert triggered at "
     "/pytorch/torch/lib/THC/generic/THCStorage.cu:58",  # zhanghang1989/PyTorch-Encoding#23
     "AssertionError: Torch not compiled with CUDA enabled"),
    ("nccl-unhandled-cuda-error", "ncclUnhandledCudaError: Call to CUDA function failed.",  # pytorch#170045
     "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:825, unhandled system error, NCCL version 2.7.8"),
    ("cudnn-status-not-supported", "RuntimeError: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed "
     "in a non-contiguous input.",  # pytorch#1664
     "RuntimeError: cuDNN error: CUDNN_STATUS_NOT_INITIALIZED"),
    ("cudnn-status-execution-failed", "RuntimeError: CUDNN_STATUS_EXECUTION_FAILED",  # fast_abs_rl#36
     "RuntimeError: cuDNN error: CUDNN_STATUS_INTERNAL_ERROR"),
    ("cublas-alloc-failed", "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
     "RuntimeError: CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`"),  # fast-reid#625
    ("tf-dnn-library-not-found", "{{function_node __wrapped__Conv3D_device_/job:localhost/replica:0/task:0/device:"
     "GPU:0}} DNN library is not found. [Op:Conv3D]",  # googlecolab/colabtools#3870
     "Loaded cuDNN version 8100"),
    ("jax-cuda-library-not-loaded", "Unable to load cuFFT. Is it installed?",  # conda-forge/jaxlib-feedstock#285
     "CUDA backend failed to initialize: Unable to load cuSOLVER. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more "
     "info.)"),  # jax-ml/jax#18027: jax-cuda-backend-failed's, not this one's
    ("jax-cuda-jaxlib-not-installed", "WARNING:2025-07-08 12:39:34,994 jax._src.xla_bridge:794] An NVIDIA GPU may be "
     "present on this machine, but a CUDA-enabled jaxlib is not installed. Falling back to cpu.",  # jax#30050
     "No GPU/TPU found, falling back to CPU."),
    ("jaxlib-version-too-old", "RuntimeError: jaxlib is version 0.9.0, but this version of jax\nrequires version >= "
     "0.9.2.",  # ROCm/jax#769, wrapped as it is there
     "jax version 0.4.30 and jaxlib version 0.4.30 are installed"),
    ("container-cli-cuda-requirement", "stderr: nvidia-container-cli: requirement error: unsatisfied condition: "
     "cuda >= 9.0\\\\n",  # NVIDIA/nvidia-docker#536, inside the escaped runc message
     "nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1"),
    ("glibc-version-not-found", "OSError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.33' not found (required "
     "by /home/u/anaconda3/envs/qcnet/lib/python3.10/site-packages/libpyg.so)",  # pyg-team/pyg-lib#548
     "/gpfs/home/xxx/anaconda3/envs/xxx/bin/../lib/libstdc++.so.6: version `GLIBCXX_3.4.29' not found"),
    ("windows-dll-load-failed", "ImportError: DLL load failed while importing _C: The specified program could not be "
     "found.",  # facebookresearch/pytorch3d#1792
     "OSError: [WinError 193] %1 is not a valid Win32 application"),
    ("tf-dso-not-loaded", "W tensorflow/stream_executor/platform/default/dso_loader.cc:55] Could not load dynamic "
     "library 'cudart64_101.dll'; dlerror: cudart64_101.dll not found",  # fo40225/tensorflow-windows-wheel#185
     "I tensorflow/stream_executor/platform/default/dso_loader.cc:49] Successfully opened dynamic library "
     "libcudart.so.10.1"),  # jax-ml/jax#5259
    ("cublas-dll-not-found", "Could not locate cublasLt64_10.dll. Please make sure it is in your library path!",
     "RuntimeError: (PreconditionNotMet) The third-party dynamic library (cudnn64_8.dll) that Paddle depends on is "
     "not configured correctly. (error code is 126)"),  # hacksider/Deep-Live-Cam#1338; PaddleOCR#11230
    ("cudnn-library-not-loaded", "Could not load library cudnn_cnn_infer64_8.dll. Error code 126",  # darknet#8239
     "Could not locate cublas64_10.dll. Please make sure it is in your library path!"),
    ("cuda-illegal-memory-access", "CUDA error 700 at /go/src/github.com/jmorganca/ollama/llm/llama.cpp/gguf/"
     "ggml-cuda.cu:8111: an illegal memory access was encountered",  # ollama/ollama#1649
     "RuntimeError: CUDA error: misaligned address"),
    ("cuda-out-of-memory", "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 144817.04 MiB on device 0: "
     "cudaMalloc failed: out of memory",  # ggml-org/llama.cpp#20431
     "ggml_cuda_host_malloc: failed to allocate 1900,00 MiB of pinned memory: invalid argument"),  # llama.cpp#9629
    ("windows-torch-dll-load", "OSError: [WinError 126] The specified module could not be found.\nError loading "
     "\"C:\\Python312\\Lib\\site-packages\\torch\\lib\\fbgemm.dll\" or one of its dependencies.",  # pytorch#129568
     "OSError: [WinError 126] The specified module could not be found. Error loading \"C:\\tools\\libiomp5md.dll\""),
]


@pytest.mark.parametrize("signature,real,other", PATTERNS, ids=[p[0] for p in PATTERNS])
def test_a_new_pattern_matches_its_real_text_and_not_its_neighbour(signature, real, other):
    regex = next(s.regex for s in error_signatures() if s.id == signature)
    assert regex.search(clean(real)) and not regex.search(clean(other))


# --- normalisation ------------------------------------------------------------------------------------------------

def test_what_a_paste_adds_is_dropped():
    assert clean("\u2190[31mRuntimeError\u2190[0m: x") == "RuntimeError: x"  # Windows console's ESC
    assert clean("[1mRuntimeError[0m: x [Op:Conv2D]") == "RuntimeError: x [Op:Conv2D]"  # the ESC lost
    assert clean("no\u200b kernel\ufeff image") == "no kernel image"
    assert clean("> > quoted\ntabbyapi-1  | RuntimeError: x") == "quoted\nRuntimeError: x"
    assert clean("Apr 18 18:57:55 quorra ollama[1170]: ggml_cuda_init: found 1 CUDA devices:") == (
        "ggml_cuda_init: found 1 CUDA devices:")  # ollama/ollama#3711's journald lines
    assert clean("| NVIDIA-SMI 535.54 |\n    x = a | b") == "| NVIDIA-SMI 535.54 |\n    x = a | b"  # kept
    # a rich traceback's box (vladmandic/sdnext#1574), vLLM's logger prefix (vllm-project/vllm#6976), a "^M"
    assert clean("\u2502 D:\\SD\\modules\\middleware.py:41 in log_and_time   \u2502") == (
        "D:\\SD\\modules\\middleware.py:41 in log_and_time")
    assert clean("ERROR 09-27 06:46:46 engine.py:157] RuntimeError: x^M") == "RuntimeError: x"


def test_a_hard_wrap_is_undone_only_where_a_width_repeats():
    text = "a" * 45 + "\n" + "b" * 45 + "\nend"
    assert unwrapped(text) == ("a" * 45 + "b" * 45 + "end", [45, 91])
    assert unwrapped("short\nlines only\n" + "c" * 45) is None  # no long width repeats


def test_a_match_found_only_unwrapped_keeps_its_place():
    # pytorch/pytorch#11065's IPython output, cut at 100 columns inside words, after another known error
    cut = "\n".join(("x" * 30 + " RuntimeError: cuDNN error: CUDNN_STATUS_EXECUTION_FAILED but a long enough line "
                     "here")[i:i + 50] for i in range(0, 100, 50))
    text = "Illegal instruction (core dumped)\n" + cut
    found = find_matches(text)
    assert [m.signature.id for m in found] == ["illegal-instruction", "cudnn-status-execution-failed"]
    assert found[1].position == text.index("CUDNN_STATUS") and "CUDNN_STATUS_EXECUTION_FAILED" in found[1].line
