"""CUDA toolkits (cuda.py) and cuDNN / NCCL / TensorRT (libraries.py), on small fake roots with real file contents."""

import pytest

from cuda_fake_root import make_root, run
from provision.inventory import cuda, libraries, python_env
from provision.inventory.cuda import (
    conda_cuda_version, library_dir_of, parse_conda_meta, parse_nvcc_version, parse_version_json, parse_version_txt)
from provision.inventory.libraries import header_version, library_versions

# /usr/local/cuda-11.5/version.json as printed in a public install guide (first entries; the file goes on alike).
VERSION_JSON_11_5 = """{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "11.5.2"
   },
   "cuda_cudart" : {
      "name" : "CUDA Runtime (cudart)",
      "version" : "11.5.117"
   },
   "cuda_cuobjdump" : {
      "name" : "cuobjdump",
      "version" : "11.5.119"
   }
}
"""
# A CUDA 11.8 runfile install: the patch level is the release date.
VERSION_JSON_11_8 = """{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "11.8.20220929"
   },
   "cuda_gdb" : {
      "name" : "CUDA GDB",
      "version" : "11.8.86"
   },
   "cuda_nvcc" : {
      "name" : "CUDA NVCC",
      "version" : "11.8.89"
   },
   "nvidia_driver" : {
      "name" : "NVIDIA Linux Driver",
      "version" : "520.61.05"
   }
}
"""
VERSION_JSON_12_6 = """{
   "cuda" : {
      "name" : "CUDA SDK",
      "version" : "12.6.20241114"
   },
   "cuda_cccl" : {
      "name" : "CUDA C++ Core Compute Libraries",
      "version" : "12.6.77"
   },
   "cuda_cudart" : {
      "name" : "CUDA Runtime (cudart)",
      "version" : "12.6.77"
   },
   "cuda_nvcc" : {
      "name" : "CUDA NVCC",
      "version" : "12.6.85"
   }
}
"""
JETSON_VERSION_JSON = '{ "cuda" : { "name" : "CUDA SDK", "version" : "12.2.140" } }\n'
VERSION_TXT_10_2 = "CUDA Version 10.2.89\n"
NVCC_12_4 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""
NVCC_11_8 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2022 NVIDIA Corporation
Built on Wed_Sep_21_10:33:58_PDT_2022
Cuda compilation tools, release 11.8, V11.8.89
Build cuda_11.8.r11.8/compiler.31833905_0
"""
CUDNN_VERSION_H_9_1 = """/*
 * Copyright 2014-2024 NVIDIA Corporation.
 */
#ifndef CUDNN_VERSION_H_
#define CUDNN_VERSION_H_

#define CUDNN_MAJOR 9
#define CUDNN_MINOR 1
#define CUDNN_PATCHLEVEL 0

#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)

/* cannot use constexpr here since this is a C-only file */
#define CUDNN_MAX_SM_MAJOR_NUMBER 9
#define CUDNN_MAX_SM_MINOR_NUMBER 0
#define CUDNN_MAX_DEVICE_VERSION (CUDNN_MAX_SM_MAJOR_NUMBER * 100) + (CUDNN_MAX_SM_MINOR_NUMBER * 10)

#endif /* CUDNN_VERSION_H */
"""
CUDNN_H_5_1 = """#define CUDNN_MAJOR      5
#define CUDNN_MINOR      1
#define CUDNN_PATCHLEVEL 10
--
#define CUDNN_VERSION    (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)

#include "driver_types.h"
"""
# NVIDIA/nccl src/nccl.h.in with the values an NCCL 2.20.5 build substitutes.
NCCL_H_2_20_5 = """#ifndef NCCL_H_
#define NCCL_H_

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#if CUDART_VERSION >= 11000
#include <cuda_bf16.h>
#endif

#define NCCL_MAJOR 2
#define NCCL_MINOR 20
#define NCCL_PATCH 5
#define NCCL_SUFFIX ""

#define NCCL_VERSION_CODE 22005
#define NCCL_VERSION(X,Y,Z) (((X) <= 2 && (Y) <= 8) ? (X) * 1000 + (Y) * 100 + (Z) : (X) * 10000 + (Y) * 100 + (Z))
"""
# TensorRT 10.14 NvInferVersion.h: the version macros name other macros.
NVINFER_VERSION_H_10_14 = """//!
//! \\file NvInferVersion.h
//!
//! Defines the TensorRT version
//!
#ifndef NV_INFER_VERSION_H
#define NV_INFER_VERSION_H

#define TRT_MAJOR_ENTERPRISE 10
#define TRT_MINOR_ENTERPRISE 14
#define TRT_PATCH_ENTERPRISE 1
#define TRT_BUILD_ENTERPRISE 48
#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< TensorRT major version.
#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE //!< TensorRT minor version.
#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE //!< TensorRT patch version.
#define NV_TENSORRT_BUILD TRT_BUILD_ENTERPRISE //!< TensorRT build number.

#define NV_TENSORRT_LWS_MAJOR 0 //!< TensorRT LWS major version.
#endif // NV_INFER_VERSION_H
"""
NVINFER_VERSION_H_8_6 = "#define NV_TENSORRT_MAJOR 8\n#define NV_TENSORRT_MINOR 6\n#define NV_TENSORRT_PATCH 1\n"
# A conda env that holds the CUDA 12.4 runtime split packages (from a public conda install transcript).
CONDA_META_12_4 = [
    "cuda-crt-tools-12.4.131-h06a4308_0.json", "cuda-cudart-12.4.127-h99ab3db_0.json",
    "cuda-nvcc-tools-12.4.131-h99ab3db_0.json", "cuda-version-12.4-hbda6634_3.json",
    "cudnn-8.9.7.29-h092f7fd_3.json", "nccl-2.22.3.1-hbc370b7_1.json", "python-3.11.8-hab00c5b_0_cpython.json",
    "history",
]


def nvcc_command(path, stdout):
    return {path + " --version": {"stdout": stdout, "stderr": "", "returncode": 0}}


# --- parsers ------------------------------------------------------------------------------------------------------


def test_version_json():
    assert parse_version_json(VERSION_JSON_11_5) == "11.5.2"
    assert parse_version_json(VERSION_JSON_11_8) == "11.8"  # a date is no patch level
    assert parse_version_json(VERSION_JSON_12_6) == "12.6"
    assert parse_version_json(JETSON_VERSION_JSON) == "12.2.140"


@pytest.mark.parametrize("text", ["", "{", "[]", '{"cuda": {}}', '{"cuda": {"version": 12}}',
                                  '{"cuda": {"version": "twelve"}}', '{"cuda_nvcc": {"version": "12.4.131"}}'])
def test_version_json_garbage_is_none(text):
    assert parse_version_json(text) is None


def test_version_txt_and_nvcc():
    assert parse_version_txt(VERSION_TXT_10_2) == "10.2.89"
    assert parse_version_txt("garbage") is None
    assert parse_nvcc_version(NVCC_12_4) == "12.4"
    assert parse_nvcc_version("nvcc: command not found") is None


def test_conda_meta():
    meta = parse_conda_meta(CONDA_META_12_4)
    assert meta["cuda-version"] == "12.4" and meta["cudnn"] == "8.9.7.29" and "history" not in meta
    assert conda_cuda_version(meta) == (True, "12.4")
    assert conda_cuda_version(parse_conda_meta(["cudatoolkit-11.8.0-h6a678d5_0.json"])) == (True, "11.8.0")
    assert conda_cuda_version(parse_conda_meta(["cuda-nvcc-12.4.131-h02f8f34_0.json"])) == (True, "12.4")
    # cuda-version alone is a pin, not a toolkit.
    assert conda_cuda_version(parse_conda_meta(["cuda-version-12.4-h3060b56_3.json"])) == (False, None)


def test_library_dir_of():
    roots = ["/usr/local/cuda-11.8", "/usr/local/cuda-12.4"]
    assert library_dir_of("/usr/local/cuda-12.4/targets/x86_64-linux/lib", roots) == "/usr/local/cuda-12.4"
    assert library_dir_of("/usr/local/cuda-11.8/lib64", roots) == "/usr/local/cuda-11.8"
    assert library_dir_of("/usr/local/cuda-11.8/extras/CUPTI/lib64", roots) is None
    assert library_dir_of("/usr/local/cuda-11.80/lib64", roots) is None


def test_header_versions():
    assert header_version(CUDNN_VERSION_H_9_1, libraries.SPECS[0].macros) == "9.1.0"
    assert header_version(CUDNN_H_5_1, libraries.SPECS[0].macros) == "5.1.10"
    assert header_version(NCCL_H_2_20_5, libraries.SPECS[1].macros) == "2.20.5"
    assert header_version(NVINFER_VERSION_H_10_14, libraries.SPECS[2].macros) == "10.14.1"
    assert header_version("#define NV_TENSORRT_MAJOR TRT_MAJOR_UNDEFINED\n", libraries.SPECS[2].macros) is None
    assert header_version("\x00\xff garbage", libraries.SPECS[0].macros) is None


def test_library_versions():
    entries = ["libcudnn.so", "libcudnn.so.8", "libcudnn.so.8.9.7", "libcudnn_ops_infer.so.8.9.7", "libcudnn.so.9",
               "libcudnn.so.9.1.0", "libnvinfer.so.8", "libnvinfer_plugin.so.8.6.1"]
    assert library_versions(entries, "libcudnn") == ["8.9.7", "9.1.0"]
    assert library_versions(entries, "libnvinfer") == ["8"]
    assert library_versions(entries, "libnccl") == []


# --- the probe ------------------------------------------------------------------------------------------------------

TWO_TOOLKITS = {
    "/usr/local/cuda-11.8/version.json": VERSION_JSON_11_8,
    "/usr/local/cuda-11.8/bin/nvcc": "",
    "/usr/local/cuda-11.8/nvvm/bin/cicc": "",
    "/usr/local/cuda-11.8/targets/x86_64-linux/lib/libcudart.so.11.8.89": "",
    "/usr/local/cuda-12.4/bin/nvcc": "",
    "/usr/local/cuda-12.4/nvvm/bin/cicc": "",
    "/usr/local/cuda-12.4/targets/x86_64-linux/lib/libcudart.so.12.4.127": "",
}
USR_LOCAL = {"/usr/local": ["bin", "cuda", "cuda-11.8", "cuda-12.4", "etc", "include", "lib", "share"]}
TWO_LINKS = {  # what realpath answers, as a recording keeps it for each path the probe asked about
    "/usr/local/cuda": "/usr/local/cuda-12.4",
    "/usr/local/cuda/bin/nvcc": "/usr/local/cuda-12.4/bin/nvcc",
    "/usr/local/cuda/lib64": "/usr/local/cuda-12.4/targets/x86_64-linux/lib",
    "/usr/local/cuda-11.8/lib64": "/usr/local/cuda-11.8/targets/x86_64-linux/lib",
    "/usr/local/cuda-12.4/lib64": "/usr/local/cuda-12.4/targets/x86_64-linux/lib",
}


def test_path_and_ld_library_path_disagree(tmp_path):
    host = make_root(tmp_path, TWO_TOOLKITS, links=TWO_LINKS, listdir=USR_LOCAL, commands=nvcc_command(
        "/usr/local/cuda-12.4/bin/nvcc", NVCC_12_4), facts={
        "env:PATH": "/home/ana/.venv/bin:/usr/local/cuda/bin:/usr/local/cuda-11.8/bin:/usr/bin:/bin",
        "env:LD_LIBRARY_PATH": "/opt/intel/lib:/usr/local/cuda-11.8/lib64:/usr/local/cuda/lib64",
        "env:CUDA_HOME": "/usr/local/cuda"})
    inv = run(host, cuda)
    assert [(tk.path, tk.version, tk.source) for tk in inv.cuda.toolkits] == [
        ("/usr/local/cuda-12.4", "12.4", "/usr/local"),  # the /usr/local/cuda link, under its real path
        ("/usr/local/cuda-11.8", "11.8", "/usr/local"),
    ]
    assert inv.cuda.path_selects == "/usr/local/cuda-12.4"
    assert inv.cuda.ld_library_path_selects == "/usr/local/cuda-11.8"
    assert inv.errors == []


def test_toolkits_from_cuda_home_and_opt(tmp_path):
    host = make_root(tmp_path, {
        "/opt/cuda/version.txt": VERSION_TXT_10_2,
        "/sw/cuda/12.6/version.json": VERSION_JSON_12_6,
    }, facts={"env:CUDA_HOME": "/sw/cuda/12.6", "env:CUDA_PATH": "/nowhere/cuda",
              "env:LD_LIBRARY_PATH": "/sw/cuda/12.6/lib64"})
    inv = run(host, cuda)
    assert [(tk.path, tk.version, tk.source) for tk in inv.cuda.toolkits] == [
        ("/opt/cuda", "10.2.89", "/opt"), ("/sw/cuda/12.6", "12.6", "CUDA_HOME")]
    assert inv.cuda.path_selects is None  # no nvcc on PATH
    assert inv.cuda.ld_library_path_selects == "/sw/cuda/12.6"


def test_conda_env_toolkit(tmp_path):
    prefix = "/home/ana/miniconda3/envs/tf"
    host = make_root(tmp_path, {prefix + "/lib/libcudart.so.12.4.127": ""},
                     listdir={prefix + "/conda-meta": CONDA_META_12_4},
                     facts={"env:CONDA_PREFIX": prefix, "env:LD_LIBRARY_PATH": prefix + "/lib"})
    inv = run(host, cuda, libraries)
    assert [(tk.path, tk.version, tk.source) for tk in inv.cuda.toolkits] == [(prefix, "12.4", "conda")]
    assert inv.cuda.ld_library_path_selects == prefix
    assert [(lib.version, lib.source) for lib in inv.cudnn] == [("8.9.7.29", "conda")]
    assert [(lib.version, lib.source) for lib in inv.nccl] == [("2.22.3.1", "conda")]


def test_wrapper_nvcc_on_path_selects_the_toolkit_of_its_release(tmp_path):
    # This machine's layout: /usr/local/bin/nvcc is a script that runs /usr/local/cuda-13.0/bin/nvcc.
    nvcc_13 = ("nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
               "Built on Wed_Aug_20_01:58:59_PM_PDT_2025\nCuda compilation tools, release 13.0, V13.0.88\n"
               "Build cuda_13.0.r13.0/compiler.36424714_0\n")
    commands = dict(nvcc_command("/usr/local/cuda-13.0/bin/nvcc", nvcc_13), **nvcc_command("/usr/local/bin/nvcc", nvcc_13))
    host = make_root(tmp_path, {
        "/usr/local/bin/nvcc": '#!/bin/sh\nexec /usr/local/cuda-13.0/bin/nvcc "$@"\n',
        "/usr/local/cuda-13.0/bin/nvcc": "", "/usr/local/cuda-13.0/nvvm/bin/cicc": ""},
        commands=commands, facts={"env:PATH": "/usr/local/sbin:/usr/local/bin:/usr/bin"})
    inv = run(host, cuda)
    assert [(tk.path, tk.version) for tk in inv.cuda.toolkits] == [("/usr/local/cuda-13.0", "13.0")]
    assert inv.cuda.path_selects == "/usr/local/cuda-13.0"


def test_garbage_version_json_falls_back_to_nvcc_and_says_so(tmp_path):
    host = make_root(tmp_path, {"/usr/local/cuda-11.8/version.json": "\x00\x00 truncated {",
                                "/usr/local/cuda-11.8/bin/nvcc": ""},
                     commands=nvcc_command("/usr/local/cuda-11.8/bin/nvcc", NVCC_11_8))
    inv = run(host, cuda)
    assert inv.cuda.toolkits[0].version == "11.8"
    assert [e.probe for e in inv.errors] == ["cuda"]


def test_failing_nvcc_leaves_the_version_unknown(tmp_path):
    host = make_root(tmp_path, {"/usr/local/cuda-12.1/bin/nvcc": "", "/usr/local/cuda-12.1/nvvm/bin/cicc": ""},
                     commands={"/usr/local/cuda-12.1/bin/nvcc --version": {
                         "stdout": "", "stderr": "nvcc: cannot execute binary file", "returncode": 126}})
    inv = run(host, cuda)
    assert [(tk.path, tk.version) for tk in inv.cuda.toolkits] == [("/usr/local/cuda-12.1", None)]
    assert "cannot execute" in inv.errors[0].message


def test_nothing_installed(tmp_path):
    host = make_root(tmp_path, {"/usr/local/bin/python3": "", "/usr/local/cuda-leftover/README": ""},
                     facts={"env:PATH": "/usr/local/bin:/usr/bin"})
    inv = run(host, cuda, libraries)
    assert inv.cuda.toolkits == [] and inv.cuda.path_selects is None and inv.cuda.ld_library_path_selects is None
    assert inv.cudnn == inv.nccl == inv.tensorrt == [] and inv.errors == []


def test_a_folder_with_no_toolkit_in_it_is_not_one(tmp_path):
    host = make_root(tmp_path, {"/usr/local/cuda-11.2/lib64/libcudnn.so.8.1.0": ""})  # left behind by an uninstall
    assert run(host, cuda).cuda.toolkits == []


# --- libraries ------------------------------------------------------------------------------------------------------


def test_each_install_of_a_library_is_listed_once(tmp_path):
    files = dict(TWO_TOOLKITS)
    files.update({
        # Ubuntu's cudnn9 packages: /usr/include/cudnn_version.h (an alternatives link to cudnn_version_v9.h).
        "/usr/include/cudnn_version.h": CUDNN_VERSION_H_9_1,
        "/usr/include/nccl.h": NCCL_H_2_20_5,
        "/usr/include/x86_64-linux-gnu/NvInferVersion.h": NVINFER_VERSION_H_10_14,
        # cuDNN 8 copied into the 11.8 toolkit from the tarball.
        "/usr/local/cuda-11.8/targets/x86_64-linux/include/cudnn_version.h": CUDNN_VERSION_H_9_1.replace(
            "CUDNN_MAJOR 9", "CUDNN_MAJOR 8").replace("CUDNN_MINOR 1", "CUDNN_MINOR 9").replace(
            "CUDNN_PATCHLEVEL 0", "CUDNN_PATCHLEVEL 7"),
    })
    links = dict(TWO_LINKS, **{"/usr/local/cuda-11.8/include": "/usr/local/cuda-11.8/targets/x86_64-linux/include"})
    listdir = dict(USR_LOCAL, **{
        "/usr/lib/x86_64-linux-gnu": ["libc.so.6", "libcudnn.so.9", "libcudnn.so.9.1.0", "libcudnn_ops.so.9.1.0",
                                      "libnccl.so.2", "libnccl.so.2.20.5", "libnvinfer.so.10", "libnvinfer.so.10.14.1"],
        "/usr/local/cuda-11.8/targets/x86_64-linux/lib": ["libcudart.so.11.8.89", "libcudnn.so.8", "libcudnn.so.8.9.7"],
    })
    site = "/home/ana/.venv/lib/python3.10/site-packages"
    listdir[site] = ["nvidia", "nvidia_cudnn_cu12-9.1.0.70.dist-info", "nvidia_nccl_cu12-2.20.5.dist-info",
                     "tensorrt-10.0.1.dist-info", "tensorrt_cu12-10.0.1.dist-info", "tensorrt_cu12_libs-10.0.1.dist-info"]
    files[site + "/nvidia/cudnn/lib/libcudnn.so.9"] = ""
    host = make_root(tmp_path, files, links=links, listdir=listdir, commands=nvcc_command(
        "/usr/local/cuda-12.4/bin/nvcc", NVCC_12_4), facts={"python": {"path": [site]}})
    inv = run(host, cuda, libraries)
    assert [(lib.version, lib.source, lib.path) for lib in inv.cudnn] == [
        ("9.1.0", "system", "/usr/lib/x86_64-linux-gnu"),
        ("8.9.7", "/usr/local/cuda-11.8", "/usr/local/cuda-11.8/targets/x86_64-linux/lib"),
        ("9.1.0.70", "pip:nvidia-cudnn-cu12", site + "/nvidia/cudnn"),
    ]
    assert [(lib.version, lib.source) for lib in inv.nccl] == [("2.20.5", "system"),
                                                               ("2.20.5", "pip:nvidia-nccl-cu12")]
    assert inv.nccl[1].path == site  # nvidia/nccl is not there: the site folder, not a made-up one
    assert [(lib.version, lib.source) for lib in inv.tensorrt] == [("10.14.1", "system"),
                                                                   ("10.0.1", "pip:tensorrt-cu12-libs")]
    assert inv.errors == []


def test_header_without_version_is_an_error_not_a_version(tmp_path):
    host = make_root(tmp_path, {"/usr/include/cudnn.h": "#include <cudnn_version.h>\n/* nothing here */\n",
                                "/usr/include/NvInferVersion.h": NVINFER_VERSION_H_8_6})
    inv = run(host, cuda, libraries)
    assert inv.cudnn == []
    assert [(lib.version, lib.source, lib.path) for lib in inv.tensorrt] == [("8.6.1", "system", "/usr/include")]
    assert [e.probe for e in inv.errors] == ["libraries"] and "/usr/include/cudnn.h" in inv.errors[0].message


def test_python_and_libraries_probes_share_one_package_scan(tmp_path):
    site = "/v/lib/python3.11/site-packages"
    host = make_root(tmp_path, {}, listdir={site: ["torch-2.3.1+cu121.dist-info", "nvidia_cudnn_cu12-8.9.2.26.dist-info"]},
                     facts={"python": {"path": [site], "prefix": "/v", "version": "3.11.9"}})
    calls = []
    listdir = host.listdir
    host.listdir = lambda path: calls.append(path) or listdir(path)
    inv = run(host, cuda, python_env, libraries)
    assert calls.count(site) == 1  # the python and libraries probes share one scan
    assert inv.frameworks["torch"].build == "cuda 12.1" and inv.cudnn[0].version == "8.9.2.26"



def test_cuda_13_layout_is_read_from_files_without_running_nvcc(tmp_path):
    # CUDA 13.0 as installed here: no version.json, dist-info folders of its components, a wrapper nvcc on PATH.
    root = "/usr/local/cuda-13.0"
    host = make_root(tmp_path, {
        "/usr/local/bin/nvcc": '#!/bin/sh\nexec /usr/local/cuda-13.0/bin/nvcc "$@"\n',
        root + "/bin/nvcc": "", root + "/nvvm/bin/cicc": "",
        root + "/dist-info/nvidia_cuda_nvcc-13.0.88.dist-info/METADATA": "",
        root + "/dist-info/nvidia_cuda_runtime-13.0.96.dist-info/METADATA": ""},
        facts={"env:PATH": "/usr/local/bin:/usr/bin"})
    inv = run(host, cuda)
    assert [(tk.path, tk.version) for tk in inv.cuda.toolkits] == [(root, "13.0")]
    assert inv.cuda.path_selects == root and inv.errors == []  # no command was recorded, so none could run


def test_dist_info_version():
    assert cuda.dist_info_version(["nvidia_cuda_cccl-13.0.85.dist-info", "nvidia_cuda_nvcc-13.0.88.dist-info"]) == "13.0"
    assert cuda.dist_info_version(["nvidia_cuda_runtime-13.0.96.dist-info"]) is None
