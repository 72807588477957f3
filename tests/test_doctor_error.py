"""dlws doctor --error: real error messages (each from the public report noted beside it) against the fixtures of the
machines in those reports, and against machines where the same text has another cause; noisy and hostile input."""

import json
import os
import re
import subprocess
import sys

import pytest

from provision.doctor import all_checks, diagnose
from provision.doctor.error_input import HEAD_BYTES, TAIL_BYTES, clean, read_error
from provision.doctor.error_text import MAX_LINE, decisive_line, explain, find_matches, text_lines
from provision.doctor.report import to_json, to_text
from provision.knowledge import load
from provision.knowledge.error_signatures import compile_pattern, error_signatures
from test_doctor_fixtures import SNAPSHOTS, TODAY, inventory
from test_doctor_rules import gpu0, healthy

#: pytorch/pytorch#52736 (RTX 3070, torch 1.7.1 cu102): the warning and the error as the report shows them.
RTX3070 = ("UserWarning: GeForce RTX 3070 with CUDA capability sm_86 is not compatible with the current PyTorch "
           "installation.\nThe current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75.\n"
           "RuntimeError: CUDA error: no kernel image is available for execution on the device")
#: bnsreenu/digitalsreeni-image-annotator#57 (GTX 1050, torch 2.8.0+cu128).
GTX1050 = "torch.AcceleratorError: CUDA error: no kernel image is available for execution on the device"
#: lyulyul/shine-cluster#30.
NVML_MISMATCH = "$ nvidia-smi\nFailed to initialize NVML: Driver/library version mismatch"
#: tensorflow/tensorflow#17411 (and #33040, the core2duo fixture's report).
ILLEGAL = ">>> import tensorflow as tf\nIllegal instruction (core dumped)"
#: acidanthera/bugtracker#2237 (the secure-boot fixture's report).
SECURE_BOOT = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the "
               "latest NVIDIA driver is installed and running.\n"
               "gdm3[7055]: modprobe: ERROR: could not insert 'nvidia': Key was rejected by service")
#: NVIDIA/nvidia-docker#988 (the driver-not-loaded fixture's report).
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure\n"
             " that the latest NVIDIA driver is installed and running.")
#: AbdBarho/stable-diffusion-webui-docker#474 (the centos7-tesla-p4-docker-no-toolkit fixture's report).
NO_TOOLKIT = 'Error response from daemon: could not select device driver "nvidia" with capabilities: [[gpu]]'
#: NVIDIA/open-gpu-kernel-modules#387 (the opensuse-2080ti-gpu-lost fixture's report).
GPU_LOST = "Unable to determine the device handle for GPU 0000:0B:00.0: Unknown Error"
#: NVIDIA/nccl#473.
NCCL = "fastmoe: Test NCCL failure common.cu:777 'unhandled system error'"


def run(inv, *texts):
    report = diagnose(inv, today=TODAY)
    explain(report, read_error(texts, None))
    return report


def explaining(report):
    return sorted({f.id for f in report.findings if f.explains_error})


def matched(report):
    return [m["signature"] for m in report.error["matches"]]


def unconfirmed(report):
    return sorted(f.subject for f in report.findings if f.id == "DLWS-ERR-001")


# --- real errors on the machines of their reports ------------------------------------------------------------------

@pytest.mark.parametrize("fixture,text,signatures,explained_by", [
    ("rtx3070-torch171-cu102-no-kernel-image", RTX3070, ["torch-capability-not-compatible", "cuda-no-kernel-image"],
     ["DLWS-FW-001"]),  # a GPU newer than the build
    ("gtx1050-torch28-cu128-driver550", GTX1050, ["cuda-no-kernel-image"], ["DLWS-FW-001"]),  # older than the build
    ("ubuntu2004-driver-library-mismatch", NVML_MISMATCH, ["nvml-driver-library-mismatch"], ["DLWS-DRV-003"]),
    ("core2duo-tensorflow114-no-avx", ILLEGAL, ["illegal-instruction"], ["DLWS-FW-005"]),
    ("secure-boot-nvidia-key-rejected", SECURE_BOOT, ["nvidia-smi-no-driver", "secure-boot-key-rejected"],
     ["DLWS-DRV-008"]),
    ("driver-not-loaded", NO_DRIVER, ["nvidia-smi-no-driver"], ["DLWS-DRV-001"]),
    ("centos7-tesla-p4-docker-no-toolkit", NO_TOOLKIT, ["docker-no-gpu-device-driver"], ["DLWS-OS-004"]),
    ("opensuse-2080ti-gpu-lost", GPU_LOST, ["nvml-gpu-lost"], ["DLWS-DRV-004"]),
])
def test_the_error_of_a_report_is_explained_on_its_machine(fixture, text, signatures, explained_by):
    report = run(inventory(fixture), text)
    assert matched(report) == signatures
    assert explaining(report) == explained_by
    assert all(m["explained_by"] == explained_by for m in report.error["matches"])
    assert unconfirmed(report) == []
    assert report.findings[0].explains_error  # the explaining findings come first
    text_report = to_text(report, colour=False)
    assert "explains your error" in text_report and text_report.index("EXPLAINS YOUR ERROR") < text_report.index(
        "INFO" if "INFO (" in text_report else "FAIL")


# --- the same text, another cause --------------------------------------------------------------------------------

def test_no_kernel_image_with_a_cpu_wheel_names_candidates_not_a_cause():
    # rtx4090-driver535-cuda13-mixed-venv: the judged torch is a CPU build, so the error came from elsewhere
    report = run(inventory("rtx4090-driver535-cuda13-mixed-venv"), GTX1050)
    assert "DLWS-FW-002" in {f.id for f in report.findings}
    assert explaining(report) == [] and unconfirmed(report) == ["cuda-no-kernel-image"]
    err = next(f for f in report.findings if f.id == "DLWS-ERR-001")
    assert err.severity == "info" and any("another Python environment" in c for c in err.evidence["candidate causes"])
    assert "TORCH_CUDA_ARCH_LIST" in err.fix


def test_no_kernel_image_with_a_cu121_nightly_on_sm_120():
    inv = healthy()
    gpu0(inv, compute_capability="12.0", name="NVIDIA GeForce RTX 5090")
    inv["frameworks"]["torch"].update(version="2.6.0.dev20241112+cu121", build="cuda 12.1", cuda="12.1")
    report = run(inv, GTX1050)
    assert explaining(report) == ["DLWS-FW-001"]
    assert report.findings[0].id == "DLWS-FW-001"


def test_no_kernel_image_on_a_healthy_machine_is_unconfirmed():
    report = run(healthy(), GTX1050)
    assert explaining(report) == [] and unconfirmed(report) == ["cuda-no-kernel-image"]


def test_illegal_instruction_on_a_cpu_with_avx_is_unconfirmed():
    # cpu-without-avx has no TensorFlow installed: FW-005 is quiet, the causes stay candidates
    report = run(inventory("cpu-without-avx"), ILLEGAL)
    assert explaining(report) == [] and unconfirmed(report) == ["illegal-instruction"]


def test_an_error_no_check_can_see_lists_what_to_check():
    report = run(healthy(), NCCL)
    assert unconfirmed(report) == ["nccl-system-error"]
    err = next(f for f in report.findings if f.id == "DLWS-ERR-001")
    assert "--ipc=host" in err.fix and all("no check can see it" in c for c in err.evidence["candidate causes"])


def test_nothing_matches_says_so_and_quotes_the_last_error_line():
    text = "Traceback (most recent call last):\n  File \"train.py\", line 3\nValueError: too many values to unpack"
    report = run(healthy(), text)
    assert report.error["matches"] == [] and explaining(report) == []
    err = [f for f in report.findings if f.id.startswith("DLWS-ERR")]
    assert [f.id for f in err] == ["DLWS-ERR-002"]
    assert err[0].evidence["last error line"] == "ValueError: too many values to unpack"
    assert "no known error found" in to_text(report, colour=False)


def test_an_info_finding_does_not_confirm_a_cause():
    # gtx1050: DLWS-FW-003 is info there; "driver too old" stays unconfirmed, never explained by it
    report = run(inventory("gtx1050-torch28-cu128-driver550"),
                 "RuntimeError: The NVIDIA driver on your system is too old (found version 12040).")
    assert explaining(report) == [] and unconfirmed(report) == ["torch-driver-too-old"]


# --- several errors, noise ---------------------------------------------------------------------------------------

def test_several_errors_in_one_paste_each_get_their_verdict():
    paste = "\n".join(["W0101 warning: something", NVML_MISMATCH, "...", NCCL, GPU_LOST])
    report = run(inventory("ubuntu2004-driver-library-mismatch"), paste)
    assert matched(report) == ["nvml-driver-library-mismatch", "nccl-system-error", "nvml-gpu-lost"]
    assert explaining(report) == ["DLWS-DRV-003"]
    assert unconfirmed(report) == ["nccl-system-error", "nvml-gpu-lost"]


def test_ansi_colours_progress_bars_and_wrapped_lines():
    # the colour codes of rich/loguru tracebacks, tqdm's \r redraws (jhj0517/Whisper-WebUI#294), a wrapped message
    paste = ("model.bin:  10%|#         | 0.3G/3.09G\rmodel.bin: 100%|##########| 3.09G/3.09G [00:55<00:00]\n"
             "\x1b[31mRuntimeError\x1b[0m: \x1b[1mCUDA error: no kernel image is available for\n"
             "execution on the device\x1b[0m\n")
    assert "\x1b" not in clean(paste) and "10%" not in clean(paste)
    report = run(inventory("rtx3070-torch171-cu102-no-kernel-image"), paste)
    assert matched(report) == ["cuda-no-kernel-image"] and explaining(report) == ["DLWS-FW-001"]
    assert report.error["matches"][0]["line"] == ("RuntimeError: CUDA error: no kernel image is available for execution "
                                                  "on the device")  # the wrapped line joined


def test_windows_paths_in_a_traceback():
    # pytorch/pytorch#129568 and oobabooga/textgen#5071
    paste = ('OSError: [WinError 126] The specified module could not be found. Error loading '
             '"E:\\oobabooga\\installer_files\\env\\Lib\\site-packages\\torch\\lib\\cudnn_cnn_infer64_8.dll" or one '
             'of its dependencies.')
    report = run(healthy(), paste)
    assert matched(report) == ["windows-torch-dll-load"]


def test_the_decisive_line_is_cut_never_the_whole_paste():
    line = "x" * 5000 + " CUDA out of memory. Tried to allocate 2.00 GiB " + "y" * 5000
    report = run(healthy(), line)
    quoted = report.error["matches"][0]["line"]
    assert len(quoted) <= MAX_LINE and "CUDA out of memory" in quoted
    assert "x" * 200 not in to_json(report) and "x" * 200 not in to_text(report, colour=False)


def test_decisive_line_keeps_the_match():
    text = "a" * 300 + "no kernel image is available for execution on the device" + "b" * 300
    found = decisive_line(text, 300, 356)
    assert len(found) <= MAX_LINE and "no kernel image" in found


# --- the JSON contract -------------------------------------------------------------------------------------------

def test_json_gains_keys_only():
    plain = json.loads(to_json(diagnose(inventory("rtx3070-torch171-cu102-no-kernel-image"), today=TODAY)))
    assert "error" not in plain and all("explains_error" not in f for f in plain["findings"])
    found = json.loads(to_json(run(inventory("rtx3070-torch171-cu102-no-kernel-image"), GTX1050)))
    assert found["findings"][0]["id"] == "DLWS-FW-001" and found["findings"][0]["explains_error"] is True
    assert all("explains_error" not in f for f in found["findings"][1:])
    assert set(found) - set(plain) == {"error"}
    assert found["error"]["matches"][0]["causes"][0]["confirmed"] is True
    assert found["error"]["signatures_known"] == len(error_signatures())


# --- reading: bounded, hostile input -----------------------------------------------------------------------------

def test_a_10_mb_paste_is_capped_and_its_last_error_still_found(tmp_path):
    path = tmp_path / "train.log"
    path.write_bytes(b"epoch 1 loss 0.5\n" * (10 * 1024 * 1024 // 17) + GTX1050.encode())
    error = read_error((), str(path))
    assert error.truncated and error.read_bytes > 10_000_000 and error.kept_bytes == HEAD_BYTES + TAIL_BYTES
    assert [m.signature.id for m in find_matches(error.text)] == ["cuda-no-kernel-image"]
    summary = {"matches": [], "read_bytes": error.read_bytes, "sources": error.sources, "truncated": True}
    assert "only its first 256.0 KiB and last 768.0 KiB were searched" in "\n".join(text_lines(summary))


def test_binary_input_is_a_one_line_usage_error(tmp_path):
    path = tmp_path / "core"
    path.write_bytes(bytes(range(256)) * 100)
    result = dlws("doctor", "--snapshot", os.path.join(SNAPSHOTS, "docker-no-gpu"), "--error-file", str(path))
    assert result.returncode == 2 and "does not look like text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_fifo_as_error_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    result = dlws("doctor", "--snapshot", os.path.join(SNAPSHOTS, "docker-no-gpu"), "--error-file", str(fifo))
    assert result.returncode == 2 and "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_error_file_is_a_usage_error():
    result = dlws("doctor", "--error-file", "/nonexistent/log")
    assert result.returncode == 2 and result.stderr.startswith("dlws: error: cannot read --error-file")


def test_standard_input_and_snapshot_end_to_end():
    # python train.py 2>&1 | dlws doctor --error - --snapshot ...
    result = subprocess.run([sys.executable, "-m", "provision", "doctor", "--format", "json", "--error", "-",
                             "--snapshot", os.path.join(SNAPSHOTS, "ubuntu2004-driver-library-mismatch")],
                            input=("\x1b[33mwarning\x1b[0m\n" + NVML_MISMATCH).encode(), capture_output=True,
                            timeout=120)
    found = json.loads(result.stdout)
    assert result.returncode == 1 and found["error"]["sources"] == ["standard input"]
    assert [f["id"] for f in found["findings"] if f.get("explains_error")] == ["DLWS-DRV-003"]


def test_standard_input_is_bounded():
    big = b"noise line\n" * (4 * 1024 * 1024 // 11) + NVML_MISMATCH.encode()
    result = subprocess.run([sys.executable, "-m", "provision", "doctor", "--error", "-", "--format", "json",
                             "--snapshot", os.path.join(SNAPSHOTS, "docker-no-gpu")], input=big,
                            capture_output=True, timeout=120)
    found = json.loads(result.stdout)["error"]
    assert found["truncated"] and found["searched_bytes"] == HEAD_BYTES + TAIL_BYTES
    assert [m["signature"] for m in found["matches"]] == ["nvml-driver-library-mismatch"]


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


# --- the table ---------------------------------------------------------------------------------------------------

def test_every_signature_names_known_checks_and_a_public_source():
    known = set(all_checks())
    rows = load("error_signatures")["signatures"]
    assert len({row["id"] for row in rows}) == len(rows) == len(error_signatures())
    for row in rows:
        assert {check for c in row["causes"] for check in c["checks"]} <= known, row["id"]
        assert re.search(r"https://(github\.com|docs\.nvidia\.com)/", row["source"]), row["id"]


def test_the_table_covers_the_families_the_issue_names():
    families = {s.family for s in error_signatures()}
    assert {"cuda", "cudnn", "cublas", "nccl", "nvml", "pytorch", "tensorflow", "jax", "rocm", "pip", "apt", "dnf",
            "xid", "oom", "docker", "container-toolkit"} <= families


def test_a_space_in_a_pattern_matches_a_line_break():
    assert compile_pattern("no kernel image").search("no kernel\n   image")
    assert not compile_pattern("no kernel image").search("no kernelimage")


def test_a_broken_pattern_in_an_override_table_is_left_out(tmp_path, monkeypatch):
    from provision import knowledge

    table = load("error_signatures")
    broken = dict(table, signatures=[dict(table["signatures"][0], pattern="(unclosed")] + table["signatures"][1:])
    (tmp_path / "error_signatures.json").write_text(json.dumps(broken))
    monkeypatch.setenv("DLWS_KNOWLEDGE_DIR", str(tmp_path))
    knowledge.load.cache_clear()
    error_signatures.cache_clear()
    try:
        assert len(error_signatures()) == len(table["signatures"]) - 1
    finally:
        monkeypatch.delenv("DLWS_KNOWLEDGE_DIR")
        knowledge.load.cache_clear()
        error_signatures.cache_clear()


def test_the_table_loads_only_with_error():
    code = ("import sys\nfrom provision import cli\ntry:\n    cli.main(['doctor', '--snapshot', %r])\n"
            "except SystemExit:\n    pass\nprint('provision.doctor.error_text' in sys.modules, "
            "'provision.knowledge.error_signatures' in sys.modules and "
            "sys.modules['provision.knowledge.error_signatures'].error_signatures.cache_info().currsize)"
            % os.path.join(SNAPSHOTS, "docker-no-gpu"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] in ("False False", "False 0")


def test_explain_lists_the_error_checks():
    checks = all_checks()
    assert checks["DLWS-ERR-001"].severity == "info" and checks["DLWS-ERR-002"].severity == "info"


#: predibase/lorax#595: LD_PRELOAD names CUDA 12.4's forward-compatibility libcuda on a newer driver.
ERROR_803 = "RuntimeError: CUDA error: system has unsupported display driver / cuda driver combination"


def test_error_803_is_the_forward_compatibility_libcuda_where_the_driver_is_newer():
    inv = inventory("lorax-cuda124-base-ld-preload-compat-libcuda-803")
    assert matched(run(inv, ERROR_803)) == ["cuda-system-driver-mismatch"]
    assert explaining(run(inv, ERROR_803)) == []  # the driver is unknown there: LIB-006 only says so (info)
    inv["nvidia"].update(status="ok", driver_version="560.35.03", cuda_driver_version="12.6")
    assert explaining(run(inv, ERROR_803)) == ["DLWS-LIB-006"]
    assert matched(run(inv, "CUDA error: out of memory")) != ["cuda-system-driver-mismatch"]
