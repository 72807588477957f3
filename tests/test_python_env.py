"""Python, its installed distributions (packages.py) and the frameworks' builds (python_env.py), read from files."""

import pytest

from cuda_fake_root import make_root, run
from provision.inventory import libraries, packages, python_env
from provision.inventory.packages import normalize, parse_meta_name, parse_metadata, scan_entries, site_folders
from provision.inventory.python_env import (
    parse_tf_build_info, parse_torch_version_py, python_info, tf_cuda_version, tf_file_build, torch_file_build,
    torch_local_build)

SITE = "/home/ana/venv/lib/python3.10/site-packages"
PYTHON = {"version": "3.10.12", "implementation": "cpython", "executable": "/home/ana/venv/bin/python",
          "prefix": "/home/ana/venv", "base_prefix": "/usr",
          "path": ["/home/ana/venv/bin", "/usr/lib/python310.zip", "/usr/lib/python3.10",
                   "/usr/lib/python3.10/lib-dynload", SITE, "/usr/local/lib/python3.10/dist-packages",
                   "/usr/lib/python3/dist-packages"]}

# torch/version.py of the torch 2.4.0+cu121 wheel, as pytorch/pytorch tools/generate_torch_version.py writes it.
TORCH_VERSION_PY_CU121 = """from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.4.0+cu121'
debug = False
cuda: Optional[str] = '12.1'
git_version = 'e4ee3be4063b7c430974252fdf7db42273388d86'
hip: Optional[str] = None
"""
# ... of a ROCm 6.0 nightly.
TORCH_VERSION_PY_ROCM = """from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.3.0.dev20240308+rocm6.0'
debug = False
cuda: Optional[str] = None
git_version = '55e93013211e3d9a52e259aee5df4f6198a3cdcc'
hip: Optional[str] = '6.0.32830-d62f6a171'
"""
# The same generator's output for a wheel without a local label (PyPI's Linux wheel, macOS wheels): adapted from
# the cu121 file above by dropping the label (and, for a CPU build, the CUDA version).
TORCH_VERSION_PY_PYPI = TORCH_VERSION_PY_CU121.replace("+cu121", "")
TORCH_VERSION_PY_CPU = TORCH_VERSION_PY_PYPI.replace("'12.1'", "None")
# tensorflow/python/platform/build_info.py of a TF 2.x Windows GPU wheel (license header left out).
TF_BUILD_INFO_WINDOWS = '''"""Auto-generated module providing information about the build."""
import collections

build_info = collections.OrderedDict([('cpu_compiler', 'C:/Program Files (x86)/Microsoft Visual Studio/2019/Community/VC/Tools/MSVC/14.27.29110/bin/HostX64/x64/cl.exe'), ('cuda_compute_capabilities', ['sm_35', 'sm_50', 'sm_60', 'sm_70', 'sm_75', 'compute_80']), ('cuda_version', '64_112'), ('cudart_dll_name', 'cudart64_112.dll'), ('cudnn_dll_name', 'cudnn64_8.dll'), ('cudnn_version', '64_8'), ('is_cuda_build', True), ('is_rocm_build', False), ('is_tensorrt_build', False), ('msvcp_dll_names', 'msvcp140.dll,msvcp140_1.dll'), ('nvcuda_dll_name', 'nvcuda.dll')])
'''
# ... of a TF 2.3-era wheel: a dict literal.
TF_BUILD_INFO_DICT = '''"""Auto-generated module providing information about the build."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

build_info = {'cuda_version': '64_101', 'cudnn_version': '64_7', 'cuda_compute_capabilities': ['sm_35', 'sm_37', 'sm_52', 'sm_60', 'sm_61', 'compute_70'], 'cpu_compiler': 'C:/Program Files (x86)/Microsoft Visual Studio/2019/Community/VC/Tools/MSVC/14.26.28801/bin/HostX64/x64/cl.exe', 'is_rocm_build': False, 'is_cuda_build': True, 'msvcp_dll_names': 'msvcp140.dll,msvcp140_1.dll', 'nvcuda_dll_name': 'nvcuda.dll', 'cudart_dll_name': 'cudart64_101.dll', 'cudnn_dll_name': 'cudnn64_7.dll'}
'''
# tensorflow/tools/build_info/gen_build_info.py's template filled with what tf.sysconfig.get_build_info() printed
# for a Linux `pip install tensorflow[and-cuda]` (TF 2.16: clang 17, CUDA 12.3, cuDNN 8).
TF_BUILD_INFO_LINUX = '''"""Auto-generated module providing information about the build."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

build_info = collections.OrderedDict([('cpu_compiler', '/usr/lib/llvm-17/bin/clang'), ('cuda_compute_capabilities', ['sm_50', 'sm_60', 'sm_70', 'sm_80', 'compute_90']), ('cuda_version', '12.3'), ('cudnn_version', '8'), ('is_cuda_build', True), ('is_rocm_build', False), ('is_tensorrt_build', True)])
'''
TF_BUILD_INFO_CPU = '''import collections

build_info = collections.OrderedDict([('cpu_compiler', '/usr/lib/llvm-17/bin/clang'), ('is_cuda_build', False), ('is_rocm_build', False), ('is_tensorrt_build', False)])
'''


def host_with(tmp_path, entries, files=None, facts=None, python=None):
    """A machine whose venv site-packages holds the given dist-info names."""
    return make_root(tmp_path, {SITE + "/" + path: text for path, text in (files or {}).items()},
                     listdir={SITE: entries}, facts=dict({"python": python or PYTHON}, **(facts or {})))


def frameworks(inv):
    return {key: (fw.version, fw.build, fw.cuda, fw.rocm, fw.package) for key, fw in inv.frameworks.items()}


# --- packages.py ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, expected", [
    ("torch-2.3.1+cu121.dist-info", ("torch", "2.3.1+cu121")),
    ("nvidia_cudnn_cu12-8.9.2.26.dist-info", ("nvidia-cudnn-cu12", "8.9.2.26")),
    ("jax_cuda12_plugin-0.4.30.dist-info", ("jax-cuda12-plugin", "0.4.30")),
    ("PyYAML-6.0.1.dist-info", ("pyyaml", "6.0.1")),
    ("ruamel.yaml-0.17.21.dist-info", ("ruamel-yaml", "0.17.21")),
    ("mxnet_cu112-1.9.1.dist-info", ("mxnet-cu112", "1.9.1")),
    ("tensorflow_gpu-2.4.0-py3.8.egg-info", ("tensorflow-gpu", "2.4.0")),
    ("dlws.egg-info", ("dlws", None)),
    ("torch", None), ("README.txt", None), ("__pycache__", None), (".dist-info", None),
])
def test_parse_meta_name(entry, expected):
    assert parse_meta_name(entry) == expected


def test_normalize_is_pep_503():
    assert normalize("Jax_Cuda12.Plugin") == "jax-cuda12-plugin"
    assert normalize("tf--nightly__CPU") == "tf-nightly-cpu"


def test_site_folders_and_first_on_path_wins():
    assert site_folders(PYTHON) == [SITE, "/usr/local/lib/python3.10/dist-packages", "/usr/lib/python3/dist-packages"]
    assert site_folders({"path": "not a list"}) == [] and site_folders({}) == []
    windows = ["C:\\Python311\\python311.zip", "C:\\Python311\\DLLs", "C:\\Python311\\Lib\\site-packages"]
    assert site_folders({"path": windows}) == ["C:\\Python311\\Lib\\site-packages"]
    found = scan_entries([(SITE, ["numpy-1.26.4.dist-info"]), ("/usr/lib/python3/dist-packages",
                                                                   ["numpy-1.21.5.egg-info", "six-1.16.0.egg-info"])])
    assert (found["numpy"].version, found["numpy"].site) == ("1.26.4", SITE)
    assert found["six"].site == "/usr/lib/python3/dist-packages"


def test_version_from_metadata_only_when_the_folder_name_has_none(tmp_path):
    host = host_with(tmp_path, ["dlws.egg-info", "torch-2.3.1.dist-info"],
                     files={"dlws.egg-info/PKG-INFO": "Metadata-Version: 2.1\nName: dlws\nVersion: 0.1.0\n\nVersion: 9\n"})
    dists = packages.installed(host)
    assert packages.version(host, dists["dlws"]) == "0.1.0"
    assert packages.version(host, dists["torch"]) == "2.3.1"
    assert parse_metadata("garbage without colons\n") == {}


def test_scan_is_cached_per_host(tmp_path):
    host = host_with(tmp_path, ["torch-2.3.1.dist-info"])
    assert packages.installed(host) is packages.installed(host)


# --- builds, from version labels and files -------------------------------------------------------------------------


@pytest.mark.parametrize("local, build, cuda, rocm", [
    ("cu121", "cuda 12.1", "12.1", None), ("cu118", "cuda 11.8", "11.8", None), ("cu92", "cuda 9.2", "9.2", None),
    ("rocm6.0", "rocm 6.0", None, "6.0"), ("rocm6.2.4", "rocm 6.2.4", None, "6.2.4"), ("cpu", "cpu", None, None),
    ("cpu.cxx11.abi", "cpu", None, None), ("xpu", "xpu", None, None), ("", None, None, None),
    ("git7bcf7da", None, None, None), ("cu", None, None, None),
])
def test_torch_local_build(local, build, cuda, rocm):
    assert tuple(torch_local_build(local)) == (build, cuda, rocm)


def test_torch_version_py():
    assert torch_file_build(parse_torch_version_py(TORCH_VERSION_PY_CU121)) == ("cuda 12.1", "12.1", None)
    assert torch_file_build(parse_torch_version_py(TORCH_VERSION_PY_ROCM)) == ("rocm 6.0", None, "6.0")
    assert torch_file_build(parse_torch_version_py(TORCH_VERSION_PY_CPU)) == ("cpu", None, None)
    assert torch_file_build(parse_torch_version_py("cuda = '10.2'\nhip = None\n")) == ("cuda 10.2", "10.2", None)
    for garbage in ("", "cuda: Optional[str] = os.environ['X']\n", "\x00\x01\x02"):
        assert torch_file_build(parse_torch_version_py(garbage)).build is None


def test_tf_build_info_formats():
    assert tf_file_build(parse_tf_build_info(TF_BUILD_INFO_LINUX)) == ("cuda 12.3", "12.3", None)
    assert tf_file_build(parse_tf_build_info(TF_BUILD_INFO_WINDOWS)) == ("cuda 11.2", "11.2", None)
    assert tf_file_build(parse_tf_build_info(TF_BUILD_INFO_DICT)) == ("cuda 10.1", "10.1", None)
    assert tf_file_build(parse_tf_build_info(TF_BUILD_INFO_CPU)) == ("cpu", None, None)
    assert tf_file_build(parse_tf_build_info("is_cuda_build = True\ncuda_version_number = '10.1'\n")).cuda == "10.1"
    assert tf_file_build(parse_tf_build_info("garbage")).build is None
    assert tf_cuda_version("64_") is None and tf_cuda_version("") is None and tf_cuda_version(None) is None


# --- the probe ------------------------------------------------------------------------------------------------------


def test_python_info():
    env = {"VIRTUAL_ENV": None, "CONDA_PREFIX": "/opt/conda/envs/ml/", "CONDA_DEFAULT_ENV": None}
    py = python_info(PYTHON, env)
    assert (py.version, py.executable, py.implementation) == ("3.10.12", "/home/ana/venv/bin/python", "cpython")
    assert (py.virtualenv, py.conda_env) == ("/home/ana/venv", "ml")
    system_python = dict(PYTHON, prefix="/usr", base_prefix="/usr")
    assert python_info(system_python, {"VIRTUAL_ENV": "/srv/env", "CONDA_DEFAULT_ENV": "base"}).virtualenv == "/srv/env"
    assert python_info(system_python, {}).virtualenv is None and python_info({}, {}).version is None


def test_torch_builds(tmp_path):
    host = host_with(tmp_path, ["torch-2.3.1+cu121.dist-info", "torchvision-0.18.1+cu121.dist-info",
                                "torchaudio-2.3.1+rocm6.0.dist-info", "keras-3.4.1.dist-info"])
    assert frameworks(run(host, python_env)) == {
        "torch": ("2.3.1+cu121", "cuda 12.1", "12.1", None, "torch"),
        "keras": ("3.4.1", None, None, None, "keras"),
        "torchvision": ("0.18.1+cu121", "cuda 12.1", "12.1", None, "torchvision"),
        "torchaudio": ("2.3.1+rocm6.0", "rocm 6.0", None, "6.0", "torchaudio"),
    }


@pytest.mark.parametrize("version_py, build", [
    (TORCH_VERSION_PY_PYPI, "cuda 12.1"), (TORCH_VERSION_PY_ROCM, "rocm 6.0"), (TORCH_VERSION_PY_CPU, "cpu"),
    ("garbage ][", None), (None, None),
])
def test_torch_without_a_local_label_reads_version_py(tmp_path, version_py, build):
    files = {"torch/version.py": version_py} if version_py is not None else {}
    inv = run(host_with(tmp_path, ["torch-2.4.0.dist-info"], files=files), python_env)
    assert inv.frameworks["torch"].build == build and inv.errors == []


def test_torch_cpu_build_on_apple_silicon_is_metal(tmp_path):
    host = host_with(tmp_path, ["torch-2.4.0.dist-info"], files={"torch/version.py": TORCH_VERSION_PY_CPU},
                     facts={"platform": {"system": "darwin", "machine": "arm64"}})
    assert run(host, python_env).frameworks["torch"].build == "metal"


def test_tensorflow_and_cuda_with_its_cudnn_wheel(tmp_path):
    host = host_with(tmp_path, ["nvidia", "nvidia_cudnn_cu12-8.9.7.29.dist-info", "nvidia_nccl_cu12-2.19.3.dist-info",
                                "tensorflow-2.16.1.dist-info", "tensorflow", "tensorboard-2.16.2.dist-info"],
                     files={"tensorflow/python/platform/build_info.py": TF_BUILD_INFO_LINUX,
                            "nvidia/cudnn/lib/libcudnn.so.8": ""})
    inv = run(host, python_env, libraries)
    assert frameworks(inv) == {"tensorflow": ("2.16.1", "cuda 12.3", "12.3", None, "tensorflow")}
    assert inv.frameworks["tensorflow"].location == SITE
    assert [(lib.version, lib.source, lib.path) for lib in inv.cudnn] == [
        ("8.9.7.29", "pip:nvidia-cudnn-cu12", SITE + "/nvidia/cudnn")]


@pytest.mark.parametrize("entries, build_info, build", [
    (["tensorflow_cpu-2.16.1.dist-info"], None, "cpu"),  # no build_info.py: the package name says
    (["tensorflow_cpu-2.16.1.dist-info"], TF_BUILD_INFO_CPU, "cpu"),
    (["tensorflow_rocm-2.14.0.600.dist-info"], None, "rocm"),
    (["tensorflow-2.16.1.dist-info"], None, None),  # plain tensorflow without its file: unknown
    (["tensorflow_macos-2.16.2.dist-info", "tensorflow_metal-1.1.0.dist-info"], TF_BUILD_INFO_CPU, "metal"),
    (["tensorflow_macos-2.16.2.dist-info"], TF_BUILD_INFO_CPU, "cpu"),  # no Metal plugin: CPU only
    (["tensorflow_intel-2.15.0.dist-info", "tensorflow-2.15.0.dist-info"], TF_BUILD_INFO_CPU, "cpu"),
    (["tf_nightly-2.18.0.dev20240611.dist-info"], TF_BUILD_INFO_LINUX, "cuda 12.3"),
])
def test_tensorflow_variants(tmp_path, entries, build_info, build):
    files = {"tensorflow/python/platform/build_info.py": build_info} if build_info else {}
    inv = run(host_with(tmp_path, entries, files=files), python_env)
    assert inv.frameworks["tensorflow"].build == build


def test_tensorflow_garbage_build_info_is_unknown_and_reported(tmp_path):
    inv = run(host_with(tmp_path, ["tensorflow-2.16.1.dist-info"],
                        files={"tensorflow/python/platform/build_info.py": "\x00\x00"}), python_env)
    assert inv.frameworks["tensorflow"].build is None
    assert [e.probe for e in inv.errors] == ["python"]


@pytest.mark.parametrize("entries, build, cuda", [
    (["jax-0.4.30.dist-info", "jaxlib-0.4.30.dist-info", "jax_cuda12_plugin-0.4.30.dist-info",
      "jax_cuda12_pjrt-0.4.30.dist-info"], "cuda 12", "12"),
    (["jax-0.7.0.dist-info", "jaxlib-0.7.0.dist-info", "jax_cuda13_plugin-0.7.0.dist-info"], "cuda 13", "13"),
    (["jax-0.4.7.dist-info", "jaxlib-0.4.7+cuda12.cudnn88.dist-info"], "cuda 12", "12"),
    (["jax-0.4.30.dist-info", "jaxlib-0.4.30.dist-info"], "cpu", None),
    (["jax-0.4.35.dist-info", "jaxlib-0.4.35.dist-info", "jax_rocm60_plugin-0.4.35.dist-info"], "rocm 6.0", None),
    (["jax-0.4.34.dist-info", "jaxlib-0.4.34.dist-info", "jax_metal-0.1.1.dist-info"], "metal", None),
    (["jax-0.4.30.dist-info", "jaxlib-0.4.30.dist-info", "libtpu-0.0.2.dist-info"], "tpu", None),
])
def test_jax_builds(tmp_path, entries, build, cuda):
    inv = run(host_with(tmp_path, entries), python_env)
    for key in ("jax", "jaxlib"):
        assert (inv.frameworks[key].build, inv.frameworks[key].cuda) == (build, cuda)


def test_jax_without_jaxlib_has_no_build(tmp_path):
    inv = run(host_with(tmp_path, ["jax-0.4.30.dist-info"]), python_env)
    assert inv.frameworks["jax"].build is None and "jaxlib" not in inv.frameworks


@pytest.mark.parametrize("entry, build, package", [
    ("mxnet_cu112-1.9.1.dist-info", "cuda 11.2", "mxnet-cu112"),
    ("mxnet_cu100mkl-1.5.1.post0.dist-info", "cuda 10.0", "mxnet-cu100mkl"),
    ("mxnet-1.9.1.dist-info", "cpu", "mxnet"),
])
def test_mxnet(tmp_path, entry, build, package):
    fw = run(host_with(tmp_path, [entry, "mxnet_model_server-1.0.8.dist-info"]), python_env).frameworks["mxnet"]
    assert (fw.build, fw.package) == (build, package)


def test_no_python_fact_no_packages_no_crash(tmp_path):
    inv = run(make_root(tmp_path, {}), python_env, libraries)
    assert inv.python.version is None and inv.frameworks == {} and inv.cudnn == [] and inv.errors == []


def test_unlistable_site_packages_is_no_packages(tmp_path):
    host = make_root(tmp_path, {}, listdir={SITE: None}, facts={"python": PYTHON})
    inv = run(host, python_env)
    assert inv.python.version == "3.10.12" and inv.frameworks == {}
