"""DLWS-LIB-001 for cuBLAS and NCCL: a copy of the soname a framework's nvidia-cublas / nvidia-nccl wheel holds, found
first on LD_LIBRARY_PATH (or preloaded), is loaded instead of the wheel's. Older: a warning (pytorch/pytorch#91067:
"undefined symbol: cublasLtGetStatusString, version libcublasLt.so.11"); newer: info; version not recorded: info that
cannot judge. No such copy, the wheel's own version, the wheel's own folder, or a framework without the wheel: quiet."""

from cuda_fake_root import make_root, run
from provision.doctor import diagnose
from provision.doctor.error_input import read_error
from provision.doctor.error_text import explain
from provision.inventory import cuda, libraries, loader
from provision.inventory.libraries import library_versions
from test_doctor_rules import TODAY, fired, healthy

CUDA11 = "/usr/local/cuda-11.2/lib64"


def machine(folders=None, cuda11=True, wheels=True, preload=None):
    """healthy() with torch 1.13.1+cu117 and its nvidia-cublas-cu11 11.10.3.66 (or 2.2.0+cu121 and nvidia-nccl-cu12
    2.19.3 when cuda11 is False), LD_LIBRARY_PATH holding these folders in order."""
    inv = healthy()
    if cuda11:
        inv["frameworks"]["torch"].update(version="1.13.1+cu117", build="cuda 11.7", cuda="11.7")
        inv["cudnn"] = [{"version": "8.5.0.96", "source": "pip:nvidia-cudnn-cu11", "path": None}]
    else:
        inv["frameworks"]["torch"].update(version="2.2.0+cu121", build="cuda 12.1", cuda="12.1")
    site = "/venv/lib/python3.10/site-packages"
    if wheels:
        inv["cublas"] = [{"version": "11.10.3.66" if cuda11 else "12.1.3.1",
                          "source": "pip:nvidia-cublas-cu11" if cuda11 else "pip:nvidia-cublas-cu12",
                          "path": site + "/nvidia/cublas"}]
        inv["nccl"] = [{"version": "2.19.3", "source": "pip:nvidia-nccl-cu12", "path": site + "/nvidia/nccl"}]
    inv["loader_path"] = [{"path": path, "source": "LD_LIBRARY_PATH", "libraries": libs}
                          for path, libs in (folders or {}).items()]
    if preload:
        inv["env_vars"]["LD_PRELOAD"] = preload
    return inv


def lib001(inv):
    return [f for f in fired(inv, "DLWS-LIB-001") if f.evidence.get("library")]


def test_an_older_cublaslt_on_ld_library_path_is_a_warning_naming_the_folder():
    (found,) = lib001(machine({CUDA11: {"libcublas": ["11.4.1.1043"], "libcublasLt": ["11.4.1.1043"]}}))
    assert found.severity == "warning" and found.subject == "torch"
    assert found.evidence["copies"][0]["library"] == "libcublasLt" and found.evidence["wheel"] == "nvidia-cublas-cu11"
    assert "take /usr/local/cuda-11.2/lib64 out of LD_LIBRARY_PATH" in found.fix and "11.10.3.66" in found.fix
    assert "undefined symbol" in found.title


def test_an_older_system_nccl_on_ld_library_path_is_a_warning():
    (found,) = lib001(machine({"/opt/nccl/lib": {"libnccl": ["2.18.1"]}}, cuda11=False))
    assert found.severity == "warning" and found.evidence["library"] == "NCCL"
    assert found.evidence["copies"][0]["loaded"] == "2.18.1" and "nvidia-nccl-cu12" in found.fix


def test_a_newer_copy_is_an_info_line():
    (found,) = lib001(machine({"/opt/nccl/lib": {"libnccl": ["2.21.5"]}}, cuda11=False))
    assert found.severity == "info" and "newer" in found.title


def test_a_copy_whose_version_is_not_recorded_cannot_be_judged():
    (found,) = lib001(machine({"/opt/nccl/lib": {"libnccl": ["2"]}}, cuda11=False))
    assert found.severity == "info" and "cannot be judged" in found.title and "/opt/nccl/lib" in found.title


def test_a_preloaded_older_nccl_is_judged_before_ld_library_path():
    (found,) = lib001(machine({}, cuda11=False, preload="libnccl.so.2.18.1"))
    assert found.severity == "warning" and "out of LD_PRELOAD" in found.fix


def test_quiet_without_a_copy_with_the_same_version_in_the_wheels_folder_or_without_the_wheel():
    assert lib001(machine()) == []
    assert lib001(machine({"/opt/x/lib": {"libcudart": ["11.7.99"]}})) == []
    assert lib001(machine({CUDA11: {"libcublasLt": ["11.10.3.66"]}})) == []
    wheel = "/venv/lib/python3.10/site-packages/nvidia/cublas/lib"
    assert lib001(machine({wheel: {"libcublasLt": ["11"]}, CUDA11: {"libcublasLt": ["11.4.1.1043"]}})) == []
    assert lib001(machine({CUDA11: {"libcublasLt": ["11.4.1.1043"]}}, wheels=False)) == []
    # a copy of another major (CUDA 12's libcublasLt.so.12) is another soname: not loaded for a cu11 build
    assert lib001(machine({"/usr/local/cuda-12.4/lib64": {"libcublasLt": ["12.4.5.8"]}})) == []


def test_the_loader_folders_record_libcublaslt_apart_from_libcublas():
    entries = ["libcublas.so.11", "libcublas.so.11.4.1.1043", "libcublasLt.so.11", "libcublasLt.so.11.4.1.1043"]
    assert library_versions(entries, "libcublas") == ["11.4.1.1043"]
    assert library_versions(entries, "libcublasLt") == ["11.4.1.1043"]
    assert "libcublasLt" in loader.LIBRARIES


def test_the_probe_records_the_cublas_wheel_and_a_toolkits_cublas(tmp_path):
    site = "/venv/lib/python3.10/site-packages"
    listdir = {site: ["nvidia", "nvidia_cublas_cu11-11.10.3.66.dist-info"],
               "/usr/lib/x86_64-linux-gnu": ["libc.so.6", "libcublas.so.11", "libcublas.so.11.4.1.1043"]}
    host = make_root(tmp_path, {site + "/nvidia/cublas/lib/libcublas.so.11": ""}, listdir=listdir,
                     facts={"python": {"path": [site]}})
    inv = run(host, cuda, libraries)
    assert [(lib.version, lib.source, lib.path) for lib in inv.cublas] == [
        ("11.4.1.1043", "system", "/usr/lib/x86_64-linux-gnu"),
        ("11.10.3.66", "pip:nvidia-cublas-cu11", site + "/nvidia/cublas")]


#: pytorch/pytorch#103832 and NVIDIA/nccl#1180, as printed.
CUBLAS_ERROR = ("OSError: /root/.cache/pypoetry/virtualenvs/my-env-jEFYeG2G-py3.10/lib/python3.10/site-packages/torch/"
                "lib/../../nvidia/cublas/lib/libcublas.so.11: undefined symbol: cublasLtGetStatusString, version "
                "libcublasLt.so.11")
NCCL_ERROR = "torch/lib/libtorch_cuda.so: undefined symbol: ncclCommRegister"


def explained(inv, text):
    report = diagnose(inv, today=TODAY)
    explain(report, read_error([text], None))
    return [m["signature"] for m in report.error["matches"]], sorted({f.id for f in report.findings
                                                                      if f.explains_error})


def test_the_undefined_symbol_errors_are_explained_by_the_shadowing_copy():
    cublas = machine({CUDA11: {"libcublasLt": ["11.4.1.1043"]}})
    assert explained(cublas, CUBLAS_ERROR) == (["cublaslt-symbol-not-defined"], ["DLWS-LIB-001"])
    nccl = machine({"/opt/nccl/lib": {"libnccl": ["2.18.1"]}}, cuda11=False)
    assert explained(nccl, NCCL_ERROR) == (["nccl-undefined-symbol"], ["DLWS-LIB-001"])
    assert explained(machine(), NCCL_ERROR) == (["nccl-undefined-symbol"], [])
