"""CUDA toolkits and libraries: which toolkit a build picks up, and cuDNN against CUDA."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Tuple

from provision.inventory import facts
from provision.doctor.model import Finding, rule, word


@rule("DLWS-CUDA-001", "warning", "PATH and LD_LIBRARY_PATH select different CUDA toolkits")
def path_disagrees(inv: Dict[str, Any]) -> Any:
    """nvcc comes from the toolkit first on PATH, while programs load libcudart and friends from the one first on
    LD_LIBRARY_PATH. When they differ, extensions compile against one CUDA and run against another
    ("undefined symbol", "CUDA driver version is insufficient")."""
    cuda = inv.get("cuda") or {}
    by_path, by_ld = cuda.get("path_selects"), cuda.get("ld_library_path_selects")
    if by_path and by_ld and by_path != by_ld:
        return path_disagrees.finding({"PATH": by_path, "LD_LIBRARY_PATH": by_ld},
                                      "export PATH=%s:\"$PATH\" LD_LIBRARY_PATH=%s:\"$LD_LIBRARY_PATH\" "
                                      "(the same toolkit for both) in your shell profile"
                                      % (word(by_path + "/bin"), word(by_path + "/lib64")))


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
                % word((lib.get("source") or "").replace("pip:", "")), subject=lib.get("source"))


_TORCH_CHECKS = {
    "major": "torch %s stops the build: 'The detected CUDA version (%s) mismatches the version that was used to "
             "compile PyTorch (%s)'",
    "none": "torch %s does not compare them: the build goes on with nvcc %s against torch's CUDA %s",
}


@rule("DLWS-CUDA-003", "warning", "The CUDA toolkit PyTorch extensions would build with does not fit torch or the GPU")
def extension_toolkit(inv: Dict[str, Any]) -> Iterator[Finding]:
    """Building a CUDA extension from source (flash-attn, apex, DeepSpeed ops, mmcv, xformers, a project's setup.py)
    uses the toolkit torch.utils.cpp_extension finds: $CUDA_HOME, else $CUDA_PATH, else the folder above PATH's
    nvcc, else /usr/local/cuda. From torch 1.10 a toolkit of another CUDA major than torch's own stops the build
    ("The detected CUDA version (12.1) mismatches the version that was used to compile PyTorch (11.8)"); none found
    fails with "CUDA_HOME environment variable is not set"; an nvcc older than the GPU (or one that dropped it) fails
    with "nvcc fatal : Unsupported gpu architecture 'compute_89'". Only extension builds break (torch itself runs on
    its own CUDA libraries), hence a warning; the fix names a fitting toolkit found here, else the one to install."""
    from provision.knowledge import queries

    torch = facts.frameworks(inv).get("torch") or {}
    want = facts.major_minor(torch.get("cuda"))
    cuda = inv.get("cuda") or {}
    if facts.build_kind(torch) != "cuda" or want is None or "cuda_home_from" not in cuda:
        return
    home, found_in = cuda.get("cuda_home"), cuda.get("cuda_home_from")
    toolkits = [t for t in cuda.get("toolkits") or [] if isinstance(t, dict)]
    toolkit = next((t for t in toolkits if home and t.get("path") == home), None)
    evidence: Dict[str, Any] = {"torch": torch.get("version"), "torch_cuda": "%d.%d" % want,
                                "torch_looks_in": queries.torch_cuda_home_order()}
    if found_in == "none":
        if any(t.get("nvcc") for t in toolkits):
            evidence["toolkits_here"] = [t.get("path") for t in toolkits if t.get("nvcc")]
            yield extension_toolkit.finding(
                evidence, _use_toolkit(toolkits, want, queries), subject="torch",
                title="PyTorch CUDA extensions would find no CUDA toolkit, though one is installed")
        return
    if home is None:
        return  # not read (Windows' last guess): cannot judge
    evidence.update({"toolkit": home, "found_in": found_in})
    if toolkit is None:
        if found_in in ("CUDA_HOME", "CUDA_PATH"):
            yield extension_toolkit.finding(evidence, _use_toolkit(toolkits, want, queries), subject="torch",
                                            title="%s names no CUDA toolkit" % found_in)
        return  # a PATH nvcc outside any toolkit read here: its release is unknown
    have = facts.major_minor(toolkit.get("version"))
    if have is None:
        return  # the toolkit's release is unknown: cannot judge
    evidence["toolkit_cuda"] = toolkit.get("version")
    if have[0] != want[0]:
        check = queries.torch_extension_cuda_check(torch.get("version"))
        evidence["torch_checks"] = (_TORCH_CHECKS[check] % (torch.get("version"), "%d.%d" % have, "%d.%d" % want)
                                    if check in _TORCH_CHECKS else "not known for this torch release")
        yield extension_toolkit.finding(
            evidence, _use_toolkit(toolkits, want, queries), subject="torch",
            title="PyTorch CUDA extensions would build with CUDA %d.%d, torch is built for CUDA %d.%d" % (have + want))
        return
    yield from _nvcc_too_old(inv, torch, evidence, have, want, queries)


def _nvcc_too_old(inv: Dict[str, Any], torch: Dict[str, Any], evidence: Dict[str, Any], have: Tuple[int, int],
                  want: Tuple[int, int], queries: Any) -> Iterator[Finding]:
    """Each GPU whose architecture torch would ask nvcc for (TORCH_CUDA_ARCH_LIST unset: the GPU's, capped at the
    newest of torch's own build) that this nvcc cannot compile for."""
    arch = queries.torch_arch_list(torch.get("version") or "", "cu%d%d" % want) or []
    newest = max((v for v in (facts.version(a.split("+")[0]) for a in arch) if v is not None), default=None)
    for gpu in facts.gpus(inv, "nvidia"):
        cc = facts.version(gpu.get("compute_capability"))
        if cc is None:
            continue
        asked = min(cc, newest) if newest is not None else cc
        label = "%d.%d" % (asked.major, asked.minor)
        if queries.cuda_supports_cc("%d.%d" % have, label) is False:
            yield extension_toolkit.finding(
                dict(evidence, gpu=gpu.get("name"), compute_capability=gpu.get("compute_capability"),
                     nvcc_asked_for="compute_%d%d" % (asked.major, asked.minor)),
                "build with a toolkit whose nvcc targets sm_%d%d (%s), or set TORCH_CUDA_ARCH_LIST to an "
                "architecture nvcc %d.%d has" % ((asked.major, asked.minor, _toolkit_for_cc(label, want, queries))
                                                 + have), subject=facts.gpu_label(gpu),
                title="nvcc %d.%d cannot compile CUDA extensions for this GPU (compute_%d%d)"
                      % (have + (asked.major, asked.minor)))


def _toolkit_for_cc(cc: str, want: Tuple[int, int], queries: Any) -> str:
    """'CUDA 11.8 or newer of major 11', from the knowledge table; the major's newest where no minor is known."""
    for minor in range(want[1], 10):
        if queries.cuda_supports_cc("%d.%d" % (want[0], minor), cc):
            return "CUDA %d.%d or newer" % (want[0], minor)
    return "a newer CUDA %d toolkit" % want[0]


def _use_toolkit(toolkits: List[Dict[str, Any]], want: Tuple[int, int], queries: Any) -> str:
    """Point the build at an installed toolkit of torch's CUDA major that has nvcc (its minor first, then the
    nearest), else install torch's CUDA X.Y."""
    fits = [t for t in toolkits if t.get("nvcc") and (facts.major_minor(t.get("version")) or (0, 0))[0] == want[0]]
    fits.sort(key=lambda t: abs((facts.major_minor(t.get("version")) or want)[1] - want[1]))
    if fits:
        path = fits[0]["path"]  # the machine's own path: quoted, it is pasted into a shell
        return "export CUDA_HOME=%s PATH=%s:\"$PATH\" (its CUDA %s matches torch's major) before building" % (
            word(path), word(path + "/bin"), fits[0].get("version"))
    folder = "/usr/local/cuda-%d.%d" % want
    return "install the CUDA %d.%d toolkit (NVIDIA's package cuda-toolkit-%d-%d, in %s), then export CUDA_HOME=%s " \
           "PATH=%s/bin:\"$PATH\" before building" % (want + want + (folder, folder, folder))
