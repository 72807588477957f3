"""Real error texts users pasted in public reports (each beside its URL), as they were printed, for the dlws doctor
--error replay (tests/test_doctor_error_replay.py): (name, fixture of a fitting machine, text, signatures expected,
rule ids expected to explain it there; [] where the cause is not the machine or no check can see it)."""

REPLAY = [
    # https://github.com/lllyasviel/Fooocus/issues/1313 (RTX 3050 laptop, driver 470.86: found version 11040)
    ("torch-driver-11040", "gke-cos-driver470-torch210-cu121",
     "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver "
     "by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx "
     "Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version "
     "of the CUDA driver.", ["torch-driver-too-old"], ["DLWS-FW-003"]),
    # https://github.com/hhaAndroid/mmdetection-mini/issues/30 (torch 1.3.0 cu101, driver of CUDA 10.0) and the
    # traceback form of https://github.com/wuhuikai/FastFCN/issues/37 (message on the line after "AssertionError:")
    ("torch-driver-10000-assertion", "titanxp-8gpu-torch131-cu101-driver410",
     "  File \"/home/u/anaconda3/envs/pytorch1.0/lib/python3.6/site-packages/torch/cuda/__init__.py\", line 108, in "
     "_check_driver\n    of the CUDA driver.\"\"\".format(str(torch._C._cuda_getDriverVersion())))\nAssertionError: \n"
     "The NVIDIA driver on your system is too old (found version 10000).\nPlease update your GPU driver by downloading "
     "and installing a new\nversion from the URL: http://www.nvidia.com/Download/index.aspx\n",
     ["torch-driver-too-old"], ["DLWS-FW-003"]),
    # https://github.com/BobLiu20/YOLOv3_PyTorch/issues/12
    ("cuda-runtime-error-35", "titanxp-8gpu-torch131-cu101-driver410",
     "RuntimeError: cuda runtime error (35) : CUDA driver version is insufficient for CUDA runtime version at "
     "/opt/conda/conda-bld/pytorch_1524586445097/work/aten/src/THC/THCGeneral.cpp:70",
     ["cuda-insufficient-driver"], ["DLWS-FW-003"]),
    # https://github.com/Chia-Network/bladebit/issues/431 (a program of its own CUDA: no framework to judge here)
    ("cuda-error-35-bladebit", "rtx4090-ryzen-workstation",
     " CUDA error: 35 (0x23) cudaErrorInsufficientDriver : CUDA driver version is insufficient for CUDA runtime "
     "version\n\n*** Panic!!! *** Fatal Error:  \n CUDA error cudaErrorInsufficientDriver : CUDA driver version is "
     "insufficient for CUDA runtime version.\n./bladebit_cuda(_ZN7SysHost14DumpStackTraceEv+0x5b)[0x55e98c76d30b]",
     ["cuda-insufficient-driver"], []),
    # https://github.com/facebookresearch/DeepSDF/issues/40
    ("unspecified-launch-failure", "rtx4090-ryzen-workstation",
     "    chunk_loss = loss_l1(pred_sdf, sdf_gt[i].cuda()) / num_sdf_samples\nRuntimeError: CUDA error: unspecified "
     "launch failure\nterminate called after throwing an instance of 'c10::Error'\n  what():  CUDA error: unspecified "
     "launch failure (insert_events at /opt/conda/conda-bld/pytorch_1544202130060/work/aten/src/THC/"
     "THCCachingAllocator.cpp:470)", ["cuda-unspecified-launch-failure"], []),
    # https://github.com/pytorch/pytorch/issues/2567 (the old form)
    ("unspecified-launch-failure-old", "opensuse-2080ti-gpu-lost",
     "RuntimeError: cuda runtime error (4) : unspecified launch failure at /home/ubuntu/pytorch/torch/lib/THC/"
     "THCTensorCopy.cu:85", ["cuda-unspecified-launch-failure"], ["DLWS-DRV-004"]),
    # https://github.com/facebookresearch/detectron2/issues/460
    ("torch-not-compiled-cuda", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "  File \"/home/xx/anaconda3/envs/tf-gpu/lib/python3.7/site-packages/torch/cuda/__init__.py\", line 95, in "
     "_check_driver\n    raise AssertionError(\"Torch not compiled with CUDA enabled\")\nAssertionError: Torch not "
     "compiled with CUDA enabled", ["torch-not-compiled-cuda"], ["DLWS-FW-002"]),
    # https://github.com/asafamr/bertwsi/issues/1 (a Mac laptop: the program asks for CUDA where there is none)
    ("torch-not-compiled-cuda-mac", "macos-m2-max",
     "raise AssertionError(\"Torch not compiled with CUDA enabled\")\nAssertionError: Torch not compiled with CUDA "
     "enabled", ["torch-not-compiled-cuda"], []),
    # https://github.com/AbnerHqC/GaitSet/issues/95 (the message wrapped over three lines)
    ("found-no-driver-wrapped", "driver-not-loaded",
     "AssertionError:\nFound no NVIDIA driver on your system. Please check that you\nhave an NVIDIA GPU and installed "
     "a driver from\nhttp://www.nvidia.com/Download/index.aspx", ["torch-found-no-driver"], ["DLWS-DRV-001"]),
    # https://github.com/pytorch/pytorch/issues/111187 (WSL 2)
    ("nccl-unhandled-cuda-error", "rtx4090-ryzen-workstation",
     "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1331, "
     "unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version 2.18.1\nncclUnhandledCudaError: Call "
     "to CUDA function failed.\nLast error:\nCuda failure 'invalid argument'", ["nccl-unhandled-cuda-error"], []),
    # https://github.com/NVIDIA/nccl/issues/473 is in tests/test_doctor_error.py; the form of
    # https://github.com/pytorch/pytorch/issues/62316 (RTX 3090, torch 1.7.1+cu110)
    ("nccl-unhandled-cuda-error-old", "rtx4090-ryzen-workstation",
     "RuntimeError: NCCL error in: /pytorch/torch/lib/c10d/ProcessGroupNCCL.cpp:784, unhandled cuda error, NCCL "
     "version 2.7.8", ["nccl-unhandled-cuda-error"], []),
    # https://github.com/pytorch/pytorch/issues/11065 (IPython wrapped the line inside a word)
    ("cudnn-not-supported", "rtx4090-ryzen-workstation",
     "RuntimeError: CuDNN error: CUDNN_STATUS_NOT_SUPPORTED. This error may appear if you passed in a n\n"
     "on-contiguous input.", ["cudnn-status-not-supported"], []),
    # https://github.com/uci-cbcl/UFold/issues/20 (an RTX 3090 with torch 1.4: the build predates the GPU)
    ("cudnn-execution-failed", "rtx3070-torch171-cu102-no-kernel-image",
     "RuntimeError: cuDNN error: CUDNN_STATUS_EXECUTION_FAILED", ["cudnn-status-execution-failed"], ["DLWS-FW-001"]),
    # https://github.com/QwenLM/Qwen3/issues/873 (solved: a GPU with enough free memory)
    ("cublas-alloc-failed", "h100-sxm-server",
     "  File \"lib/python3.9/site-packages/torch/nn/modules/linear.py\", line 116, in forward\n    return "
     "F.linear(input, self.weight, self.bias)\nRuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling "
     "`cublasCreate(handle)`", ["cublas-alloc-failed"], ["DLWS-GPU-007"]),
    # https://github.com/ollama/ollama/issues/6139
    ("cublas-alloc-failed-ollama", "rtx4090-ryzen-workstation",
     "error: llama runner process has terminated: CUDA error: CUBLAS_STATUS_ALLOC_FAILED\ncurrent device: 0, in "
     "function cublas_handle at /go/src/github.com/ollama/ollama/llm/llama.cpp/ggml/src/ggml-cuda/common.cuh:826\n"
     "cublasCreate_v2(&cublas_handles[device]) GGML_ASSERT: /go/src/github.com/ollama/ollama/llm/llama.cpp/ggml/src/"
     "ggml-cuda.cu:101: !\"CUDA error\"", ["cublas-alloc-failed"], []),
    # https://github.com/ali-vilab/dreamtalk/issues/32 (TF on a machine whose CUDA libraries it cannot find)
    ("tf-dso-cudart", "conda-tf27-cudatoolkit112-cudnn81-not-on-loader-path",
     "2024-02-25 18:52:47.991396: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load "
     "dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file "
     "or directory; LD_LIBRARY_PATH: /usr/local/lib/python3.10/dist-packages/cv2/../../lib64:/usr/lib64-nvidia",
     ["tf-dso-not-loaded", "cuda-shared-object-missing"], ["DLWS-LIB-005"]),
    # https://github.com/tensorflow/tensorflow/issues/57103 (Windows)
    ("tf-dso-cudart-windows", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "2022-08-11 14:21:29.345331: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load "
     "dynamic library 'cudart64_110.dll'; dlerror: cudart64_110.dll not found\n2022-08-11 14:21:29.345439: I "
     "tensorflow/stream_executor/cuda/cudart_stub.cc:29] Ignore above cudart dlerror if you do not have a GPU set up "
     "on your machine.", ["tf-dso-not-loaded"], []),
    # https://github.com/tensorflow/tensorflow/issues/55309
    ("tf-dnn-library-not-found", "conda-tf27-cudatoolkit112-cudnn81-not-on-loader-path",
     "Node: 'model/conv1d/Conv1D'\nDNN library is not found.\n\t [[{{node model/conv1d/Conv1D}}]] "
     "[Op:__inference_train_function_1167]", ["tf-dnn-library-not-found"], ["DLWS-LIB-005"]),
    # https://github.com/google-deepmind/mujoco_playground/issues/137
    ("jax-cusparse", "fair-torch112-cu113-ld-library-path-cudnn803",
     "  File \"/home/ygr/miniconda3/envs/mujo_rl/lib/python3.11/site-packages/jax_plugins/xla_cuda12/__init__.py\", "
     "line 139, in _version_check\n    raise RuntimeError(err_msg) from e\nRuntimeError: Unable to load cuSPARSE. Is "
     "it installed?\nWARNING:2025-06-06 20:45:54,562:jax._src.xla_bridge:791: An NVIDIA GPU may be present on this "
     "machine, but a CUDA-enabled jaxlib is not installed. Falling back to cpu.",
     ["jax-cuda-library-not-loaded", "jax-cuda-jaxlib-not-installed"], ["DLWS-LIB-001"]),
    # https://github.com/conda-forge/jax-feedstock/issues/81
    ("jaxlib-too-old", "rtx4090-ryzen-workstation",
     "RuntimeError: jaxlib is version 0.1.75, but this version of jax requires version >= 0.3.0.",
     ["jaxlib-version-too-old"], []),
    # https://github.com/layumi/Person_reID_baseline_pytorch/issues/372 (labels outside the classes: the program's bug)
    ("device-side-assert", "opensuse-2080ti-gpu-lost",
     "/pytorch/aten/src/THCUNN/ClassNLLCriterion.cu:108: cunn_ClassNLLCriterion_updateOutput_kernel: block: [0,0,0], "
     "thread: [0,0,0] Assertion `t >= 0 && t < n_classes` failed.\nTraceback (most recent call last):\n  File "
     "\"train.py\", line 379, in train_model\n    running_loss += loss.item() * now_batch_size\nRuntimeError: CUDA "
     "error: device-side assert triggered", ["cuda-device-side-assert"], []),
    # https://github.com/theroyallab/tabbyAPI/issues/324 (driver 550: CUDA 12.4; the image needs 12.8)
    ("container-cli-cuda-requirement", "ubuntu2004-docker-snap-gpus-no-device-driver",
     "Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create "
     "failed: runc create failed: unable to start container process: error during container init: error running "
     "prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: "
     "requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an "
     "earlier cuda container: unknown", ["container-cli-cuda-requirement"], []),
    # https://github.com/KumaTea/pytorch-aarch64/issues/16 (Ubuntu 18.04: glibc 2.27), on CentOS 7 (glibc 2.17,
    # past its support: DLWS-OS-001); no framework is installed there to judge (tests/test_doctor_error_replay.py
    # shows DLWS-FW-006 explaining it where a torch built for glibc 2.28 is installed)
    ("glibc-2.28", "centos7-k80",
     "ImportError: /lib/aarch64-linux-gnu/libc.so.6: version `GLIBC_2.28' not found (required by /www/miniconda3/"
     "envs/vits/lib/python3.7/site-packages/torch/lib/libtorch_python.so)", ["glibc-version-not-found"],
     ["DLWS-OS-001"]),
    # https://github.com/ROCm/legacy-rocm-build/issues/2061 (RX 6600, gfx1032)
    ("hip-no-binary", "rx6700xt-torch22-rocm57-gfx1031",
     "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!", ["hip-no-binary-for-gpu"],
     ["DLWS-FW-008"]),
    # https://github.com/pytorch/pytorch/issues/4518 (and #28363)
    ("windows-dll-load-failed-c", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "    from torch._C import *\nImportError: DLL load failed while importing _C: The specified module could not be "
     "found.", ["windows-dll-load-failed"], []),
    # https://github.com/pytorch/pytorch/issues/129568 (fbgemm.dll)
    ("windows-winerror-126", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "OSError: [WinError 126] The specified module could not be found. Error loading \"C:\\Users\\u\\AppData\\Local\\"
     "Programs\\Python\\Python312\\Lib\\site-packages\\torch\\lib\\fbgemm.dll\" or one of its dependencies.",
     ["windows-torch-dll-load"], []),
    # https://github.com/PaddlePaddle/Paddle/issues/54767 (ctranslate2's form; no framework here loads cuDNN)
    ("cudnn-could-not-locate", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "Could not locate cudnn_ops_infer64_8.dll. Please make sure it is in your library path!",
     ["cudnn-library-not-loaded"], []),
    # https://github.com/KoljaB/RealtimeSTT/issues/220 (CUDA 12.8)
    ("cublas-dll-not-found", "windows11-rtx4080-laptop-torch222-pypi-cpu",
     "RuntimeError: Library cublas64_12.dll is not found or cannot be loaded", ["cublas-dll-not-found"], []),
    # https://github.com/vllm-project/vllm/issues/11366 (vLLM's logger prefix; the CRs shown as "^M")
    ("illegal-memory-access-vllm", "rtx4090-ryzen-workstation",
     "2024-12-19 21:40:35 ERROR 56542 [async_llm_engine.py:64]     raise type(err)(f\"Error in model execution: \"^M\n"
     "2024-12-19 21:40:35 ERROR 56542 [async_llm_engine.py:64] RuntimeError: Error in model execution: CUDA error: an "
     "illegal memory access was encountered^M\n2024-12-19 21:40:35 ERROR 56542 [async_llm_engine.py:64] CUDA kernel "
     "errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.^M",
     ["cuda-illegal-memory-access"], []),
    # https://github.com/ggml-org/llama.cpp/issues/11476 (docker compose's prefix), on a machine whose GPU memory
    # other processes hold
    ("cudamalloc-out-of-memory", "h100-sxm-server",
     "deep-seek-1  | ggml_backend_cuda_buffer_type_alloc_buffer: allocating 9866.00 MiB on device 1: cudaMalloc "
     "failed: out of memory\ndeep-seek-1  | ggml_gallocr_reserve_n: failed to allocate CUDA1 buffer of size "
     "10345253120\ndeep-seek-1  | llama_kv_cache_update_impl: failed to allocate compute buffers",
     ["cuda-out-of-memory"], ["DLWS-GPU-007"]),
]
