"""CUDA toolkits and libraries: which toolkit a build picks up, and cuDNN against CUDA."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator

from provision.inventory import facts
from provision.doctor.model import Finding, rule


@rule("DLWS-CUDA-001", "warning", "PATH and LD_LIBRARY_PATH select different CUDA toolkits")
def path_disagrees(inv: Dict[str, Any]) -> Any:
    """nvcc comes from the toolkit first on PATH, while programs load libcudart and friends from the one first on
    LD_LIBRARY_PATH. When they differ, extensions compile against one CUDA and run against another
    ("undefined symbol", "CUDA driver version is insufficient")."""
    cuda = inv.get("cuda") or {}
    by_path, by_ld = cuda.get("path_selects"), cuda.get("ld_library_path_selects")
    if by_path and by_ld and by_path != by_ld:
        return path_disagrees.finding({"PATH": by_path, "LD_LIBRARY_PATH": by_ld},
                                      "export PATH=%s/bin:$PATH LD_LIBRARY_PATH=%s/lib64:$LD_LIBRARY_PATH "
                                      "(the same toolkit for both) in your shell profile" % (by_path, by_path))


@rule("DLWS-CUDA-002", "error", "cuDNN built for another CUDA major than the framework")
def cudnn_cuda_major(inv: Dict[str, Any]) -> Iterator[Finding]:
    """cuDNN wheels and packages are built per CUDA major (nvidia-cudnn-cu11 vs -cu12, libcudnn8-cuda-11 vs
    -cuda-12); a framework built for CUDA 12 cannot use a cuDNN for CUDA 11 and fails at the first convolution
    ("Could not load library libcudnn_cnn_infer.so", CUDNN_STATUS_NOT_INITIALIZED)."""
    majors = {facts.major_minor(e.get("cuda"))[0] for e in facts.frameworks(inv).values()  # type: ignore[index]
              if facts.major_minor(e.get("cuda"))}
    if not majors:
        return
    for lib in inv.get("cudnn") or []:
        match = re.search(r"cu(\d{2})\b", lib.get("source") or "")
        if match and int(match.group(1)) not in majors:
            yield cudnn_cuda_major.finding(
                {"cudnn": lib.get("version"), "source": lib.get("source"), "framework_cuda_majors": sorted(majors)},
                "pip uninstall %s, then reinstall the framework so it pulls its own cuDNN"
                % (lib.get("source") or "").replace("pip:", ""), subject=lib.get("source"))
