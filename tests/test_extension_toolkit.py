"""DLWS-CUDA-003: the toolkit torch.utils.cpp_extension would build CUDA extensions with (cuda.py's cuda_home), against
torch's CUDA and the GPU; and the knowledge it cites (frameworks table, pytorch.cpp_extension)."""

import subprocess

import pytest

from cuda_fake_root import make_root, run
from provision.doctor.error_text import find_matches
from provision.inventory import cuda
from provision.knowledge import queries
from test_doctor_rules import fired, healthy

NVCC_10_1 = ("nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2019 NVIDIA Corporation\n"
             "Built on Sun_Jul_28_19:07:16_PDT_2019\nCuda compilation tools, release 10.1, V10.1.243\n")
VERSION_JSON_11_8 = '{"cuda": {"name": "CUDA SDK", "version": "11.8.20220929"}}'


def nvcc(path, text):
    return {path + " --version": {"stdout": text, "stderr": "", "returncode": 0}}


# --- where the probe says torch looks ---------------------------------------------------------------------------------


def test_cuda_home_is_taken_as_set_even_where_no_toolkit_is(tmp_path):
    host = make_root(tmp_path, {"/usr/local/cuda-11.8/version.json": VERSION_JSON_11_8,
                                "/usr/local/cuda-11.8/bin/nvcc": ""},
                     links={"/usr/local/cuda": "/usr/local/cuda-11.8"},
                     facts={"env:CUDA_HOME": "/opt/nowhere", "env:PATH": "/usr/local/cuda/bin:/usr/bin"})
    inv = run(host, cuda)
    assert (inv.cuda.cuda_home, inv.cuda.cuda_home_from) == ("/opt/nowhere", "CUDA_HOME")


def test_cuda_path_then_path_nvcc_then_usr_local_cuda(tmp_path):
    files = {"/usr/local/cuda-11.8/version.json": VERSION_JSON_11_8, "/usr/local/cuda-11.8/bin/nvcc": ""}
    links = {"/usr/local/cuda": "/usr/local/cuda-11.8"}
    inv = run(make_root(tmp_path / "a", files, links=links, facts={"env:CUDA_PATH": "/usr/local/cuda"}), cuda)
    assert (inv.cuda.cuda_home, inv.cuda.cuda_home_from) == ("/usr/local/cuda-11.8", "CUDA_PATH")
    inv = run(make_root(tmp_path / "b", files, links=links, facts={"env:PATH": "/usr/bin"}), cuda)
    assert (inv.cuda.cuda_home, inv.cuda.cuda_home_from) == ("/usr/local/cuda-11.8", "/usr/local/cuda")
    assert [tk.nvcc for tk in inv.cuda.toolkits] == [True]


def test_path_nvcc_in_usr_bin_gives_usr(tmp_path):
    # Ubuntu's nvidia-cuda-toolkit: nvcc in /usr/bin, headers in /usr/include; torch takes /usr.
    host = make_root(tmp_path, {"/usr/bin/nvcc": "", "/usr/include/cuda.h": ""},
                     commands=nvcc("/usr/bin/nvcc", NVCC_10_1), facts={"env:PATH": "/usr/local/bin:/usr/bin:/bin"})
    inv = run(host, cuda)
    assert (inv.cuda.cuda_home, inv.cuda.cuda_home_from) == ("/usr", "PATH")
    assert [(tk.path, tk.version, tk.nvcc) for tk in inv.cuda.toolkits] == [("/usr", "10.1", True)]


def test_nothing_where_torch_looks(tmp_path):
    host = make_root(tmp_path, {"/usr/local/cuda-12.1/version.json": '{"cuda": {"version": "12.1.1"}}',
                                "/usr/local/cuda-12.1/bin/nvcc": ""}, facts={"env:PATH": "/usr/bin"})
    inv = run(host, cuda)
    assert (inv.cuda.cuda_home, inv.cuda.cuda_home_from) == (None, "none")
    assert [tk.path for tk in inv.cuda.toolkits] == ["/usr/local/cuda-12.1"]


# --- the rule ---------------------------------------------------------------------------------------------------------


def with_home(inv, home, found_in, *toolkits):
    inv["cuda"].update(cuda_home=home, cuda_home_from=found_in,
                       toolkits=[{"version": v, "path": p, "source": "/usr/local", "nvcc": n} for v, p, n in toolkits])
    return inv


def test_fires_on_another_major_and_points_at_the_installed_toolkit_of_torchs():
    inv = with_home(healthy(), "/usr/local/cuda-11.8", "CUDA_HOME",
                    ("11.8", "/usr/local/cuda-11.8", True), ("12.4.131", "/usr/local/cuda-12.4", True))
    found = fired(inv, "DLWS-CUDA-003")
    assert len(found) == 1 and found[0].severity == "warning"
    assert "CUDA 11.8, torch is built for CUDA 12.1" in found[0].title
    assert "stops the build" in found[0].evidence["torch_checks"]
    assert "export CUDA_HOME=/usr/local/cuda-12.4" in found[0].fix


def test_a_hostile_toolkit_path_stays_one_shell_word(tmp_path):
    evil = "/opt/cuda-12 $(touch %s/pwned)" % tmp_path
    inv = with_home(healthy(), "/usr/local/cuda-11.8", "CUDA_HOME",
                    ("11.8", "/usr/local/cuda-11.8", True), ("12.4", evil, True))
    command = fired(inv, "DLWS-CUDA-003")[0].fix.split(" (its CUDA")[0]
    done = subprocess.run(["bash", "-c", command + ' && printf "%s" "$CUDA_HOME"'], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == evil and not (tmp_path / "pwned").exists()


def test_quiet_on_the_same_major_and_on_a_minor_difference():
    for version in ("12.1.105", "12.4.131", "12.8"):
        inv = with_home(healthy(), "/usr/local/cuda-12.x", "PATH", (version, "/usr/local/cuda-12.x", True))
        assert fired(inv, "DLWS-CUDA-003") == [], version


def test_quiet_where_unknown():
    assert fired(healthy(), "DLWS-CUDA-003") == []  # not read (an older inventory)
    inv = with_home(healthy(), "/usr/local/cuda-12.x", "PATH", (None, "/usr/local/cuda-12.x", True))
    assert fired(inv, "DLWS-CUDA-003") == []  # the toolkit's release unknown
    inv = with_home(healthy(), "/usr/local", "PATH")  # a PATH nvcc outside any toolkit read
    assert fired(inv, "DLWS-CUDA-003") == []


def test_no_toolkit_conda_cudatoolkit_without_nvcc_is_not_offered():
    inv = with_home(healthy(), "/usr", "PATH", ("10.1", "/usr", True), ("12.1.0", "/home/u/conda", False))
    found = fired(inv, "DLWS-CUDA-003")
    assert "install the CUDA 12.1 toolkit (NVIDIA's package cuda-toolkit-12-1" in found[0].fix
    assert "/home/u/conda" not in found[0].fix


def test_none_found_fires_only_where_a_toolkit_is_installed():
    assert fired(with_home(healthy(), None, "none"), "DLWS-CUDA-003") == []
    found = fired(with_home(healthy(), None, "none", ("12.6", "/usr/local/cuda-12.6", True)), "DLWS-CUDA-003")
    assert "find no CUDA toolkit" in found[0].title and "export CUDA_HOME=/usr/local/cuda-12.6" in found[0].fix


def test_cuda_home_naming_no_toolkit():
    found = fired(with_home(healthy(), "/opt/nowhere", "CUDA_HOME"), "DLWS-CUDA-003")
    assert found[0].title == "CUDA_HOME names no CUDA toolkit"


def test_cpu_torch_is_not_judged():
    inv = with_home(healthy(), "/usr/local/cuda-11.8", "CUDA_HOME", ("11.8", "/usr/local/cuda-11.8", True))
    inv["frameworks"]["torch"].update(version="2.4.1+cpu", build="cpu", cuda=None)
    assert fired(inv, "DLWS-CUDA-003") == []


def rtx4090_torch20(inv, variant, nvcc_version):
    inv["gpus"][0].update(name="NVIDIA GeForce RTX 4090", compute_capability="8.9")
    inv["gpus"][1].update(name="NVIDIA GeForce RTX 4090", compute_capability="8.9")
    cuda_version = "%s.%s" % (variant[2:4], variant[4:])
    inv["frameworks"]["torch"].update(version="2.0.1+" + variant, build="cuda " + cuda_version, cuda=cuda_version)
    return with_home(inv, "/usr/local/cuda", "/usr/local/cuda", (nvcc_version, "/usr/local/cuda", True))


def test_nvcc_too_old_for_the_gpu():
    # facebookresearch/3detr#59: RTX 4090, nvcc 11.5 -> "nvcc fatal : Unsupported gpu architecture 'compute_89'".
    found = fired(rtx4090_torch20(healthy(), "cu118", "11.5"), "DLWS-CUDA-003")
    assert [f.subject for f in found] == ["GPU 0 (NVIDIA GeForce RTX 4090)", "GPU 1 (NVIDIA GeForce RTX 4090)"]
    assert found[0].evidence["nvcc_asked_for"] == "compute_89" and "CUDA 11.8 or newer" in found[0].fix
    assert fired(rtx4090_torch20(healthy(), "cu118", "11.8"), "DLWS-CUDA-003") == []


def test_torch_asks_for_no_more_than_its_own_newest_architecture():
    # torch 2.0 cu117 carries up to sm_86: on an sm_89 GPU it asks nvcc 11.7 for compute_86, which it has.
    assert fired(rtx4090_torch20(healthy(), "cu117", "11.7"), "DLWS-CUDA-003") == []


# --- the knowledge ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version, check", [("1.9.1", "none"), ("1.10.2", "major"), ("2.4.1+cu121", "major"),
                                            ("2.12.0", "major"), ("9.0", None), ("garbage", None), (None, None)])
def test_torch_extension_cuda_check(version, check):
    assert queries.torch_extension_cuda_check(version) == check


def test_cuda_home_order():
    assert queries.torch_cuda_home_order() == ["CUDA_HOME", "CUDA_PATH", "PATH", "/usr/local/cuda"]


@pytest.mark.parametrize("text, signature", [
    ("RuntimeError:\nThe detected CUDA version (12.1) mismatches the version that was used to compile\nPyTorch (11.8). "
     "Please make sure to use the same CUDA versions.", "torch-extension-cuda-mismatch"),
    ("RuntimeError: ('The detected CUDA version (%s) mismatches the version that was used to compilePyTorch (%s). "
     "Please make sure to use the same CUDA versions.', '12.6', '13.0')", "torch-extension-cuda-mismatch"),
    ("OSError: CUDA_HOME environment variable is not set. Please set it to your CUDA install root.",
     "torch-cuda-home-not-set"),
    ("nvcc fatal   : Unsupported gpu architecture 'compute_89'", "nvcc-unsupported-gpu-architecture"),
])
def test_error_signatures(text, signature):
    assert [m.signature.id for m in find_matches(text)] == [signature]
    causes = [c for m in find_matches(text) for c in m.signature.causes]
    assert "DLWS-CUDA-003" in causes[0].checks

