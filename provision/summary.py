"""The compact human summary of an inventory (its JSON form, so a recorded inventory renders the same)."""

from __future__ import annotations

import textwrap
from typing import Any, Callable, Dict, List, Optional, Tuple

from provision.inventory.conform import typed

#: The widest line of the summary (and of the doctor's text report).
WIDTH = 120


def size(value: Optional[int]) -> str:
    if value is None:
        return "?"
    amount: float = value
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (amount, unit)
        amount /= 1024
    return "?"


def _join(parts: List[Optional[str]], sep: str = " · ") -> str:
    return sep.join(p for p in parts if p)


def _cpu(cpu: Dict[str, Any]) -> List[str]:
    feats = cpu.get("features") or {}
    level = cpu.get("x86_64_level")
    cores = "%s cores / %s threads" % (cpu.get("physical_cores") or "?", cpu.get("logical_cores") or "?")
    if cpu.get("performance_cores") is not None:
        cores += " (%s P + %s E)" % (cpu["performance_cores"], cpu["efficiency_cores"])
    sockets = cpu.get("sockets")
    head = _join([
        "%s (%s%s)" % (cpu.get("model") or "unknown CPU", cpu.get("arch") or "?", ", x86-64-" + level if level else ""),
        cores,
        "%d sockets" % sockets if sockets and sockets > 1 else None,
    ])
    simd = [name.upper() for name in ("avx", "avx2", "fma") if feats.get(name)]
    if feats.get("neon"):
        simd.append("NEON")
    if feats.get("sve"):
        simd.append("SVE")
    avx512 = " ".join(f[len("avx512"):].lstrip("_") for f in feats.get("avx512") or [])
    amx = " ".join(f[len("amx"):].lstrip("_") for f in feats.get("amx") or [])
    if not cpu.get("flags"):
        return [head, "CPU flags unknown"]
    detail = _join([" ".join(simd) or "no AVX", "AVX-512: " + (avx512 or "none") if cpu.get("x86_64_level") else None,
                    "AMX: " + amx if amx else None])
    return [head, detail]


def _gpu(gpu: Dict[str, Any]) -> str:
    pcie = gpu.get("pcie") or {}
    link = None
    if pcie.get("gen_current") and pcie.get("width_current"):
        link = "PCIe %s x%s" % (pcie["gen_current"], pcie["width_current"])
    return _join([
        "%s %s" % (gpu.get("index"), gpu.get("name") or "unknown %s GPU" % gpu.get("vendor")),
        size(gpu.get("memory_total_bytes")) if gpu.get("memory_total_bytes") else None,
        "cc " + gpu["compute_capability"] if gpu.get("compute_capability") else None,
        gpu.get("gfx_target"),
        "%s cores" % gpu["cores"] if gpu.get("cores") else None,
        link,
        "MIG on" if gpu.get("mig_mode") == "enabled" else None,
    ])


#: One labelled line of the summary; a section's further lines have an empty label.
Row = Tuple[str, str]


def _labelled(label: str, texts: List[str]) -> List[Row]:
    """A section of several lines, its label on the first."""
    return [(label if i == 0 else "", text) for i, text in enumerate(texts)]


def _cpu_rows(inv: Dict[str, Any]) -> List[Row]:
    cpu_lines = _cpu(inv.get("cpu") or {})
    return [("CPU", cpu_lines[0]), ("", cpu_lines[1])]


def _memory_rows(inv: Dict[str, Any]) -> List[Row]:
    mem = inv.get("memory") or {}
    swap = mem.get("swap_total_bytes")
    return [("Memory", _join(["%s (%s available)" % (size(mem.get("total_bytes")), size(mem.get("available_bytes"))),
                              "swap " + ("none" if swap == 0 else size(swap))]))]


def _os_rows(inv: Dict[str, Any]) -> List[Row]:
    osi = inv.get("os") or {}
    return [("OS", _join([
        osi.get("pretty_name") or osi.get("id") or osi.get("system") or "unknown OS",
        "kernel " + osi["kernel"] if osi.get("kernel") else None,
        "glibc " + osi["glibc"] if osi.get("glibc") else None,
        "WSL%s" % osi["wsl"] if osi.get("wsl") else None,
        "container: " + osi["container"] if osi.get("container") else None,
        "VM: " + osi["virtual_machine"] if osi.get("virtual_machine") else None,
    ]))]


def _disk_rows(inv: Dict[str, Any]) -> List[Row]:
    return _labelled("Disks", ["%s  %s %s, %s free  (%s, %s)" % (
        disk.get("mountpoint"), disk.get("fstype"), size(disk.get("total_bytes")), size(disk.get("free_bytes")),
        disk.get("media"), disk.get("device")) for disk in inv.get("disks") or []])


def _nvidia_rows(inv: Dict[str, Any]) -> List[Row]:
    nv = inv.get("nvidia") or {}
    if not nv.get("driver_version") and nv.get("status") in (None, "no-gpu"):
        return []
    return [("NVIDIA", _join([
        "driver %s" % nv["driver_version"] if nv.get("driver_version") else
        "Jetson (integrated GPU, driver in L4T)" if nv.get("source") == "jetson" else "no driver",
        "CUDA %s" % nv["cuda_driver_version"] if nv.get("cuda_driver_version") else None,
        nv.get("status") if nv.get("status") not in (None, "ok") else None,
        nv.get("message"),
    ]))]


def _gpu_rows(inv: Dict[str, Any]) -> List[Row]:
    return _labelled("GPUs", [_gpu(gpu) for gpu in inv.get("gpus") or []]) or [("GPUs", "none found")]


def _platform_rows(inv: Dict[str, Any]) -> List[Row]:
    """ROCm and Jetson, where the inventory says anything of them."""
    rows: List[Row] = []
    for extra, label in (("rocm", "ROCm"), ("jetson", "Jetson")):
        data = inv.get(extra) or {}
        if any(data.values()):
            rows.append((label, _join([", ".join(map(str, v)) if isinstance(v, list) else str(v)
                                       for v in data.values() if v])))
    return rows


def _cuda_rows(inv: Dict[str, Any]) -> List[Row]:
    cuda = inv.get("cuda") or {}
    lines = []
    for tk in cuda.get("toolkits") or []:
        marks = [m for m, key in (("PATH", "path_selects"), ("LD_LIBRARY_PATH", "ld_library_path_selects"))
                 if cuda.get(key) == tk.get("path")]
        lines.append("%s  %s%s" % (tk.get("version") or "?", tk.get("path"),
                                   "  (selected by %s)" % ", ".join(marks) if marks else ""))
    return _labelled("CUDA", lines)


def _library_rows(inv: Dict[str, Any]) -> List[Row]:
    """cuDNN, NCCL and TensorRT, where found."""
    rows: List[Row] = []
    for key, label in (("cudnn", "cuDNN"), ("nccl", "NCCL"), ("tensorrt", "TensorRT")):
        libs = inv.get(key) or []
        if libs:
            rows.append((label, _join(["%s (%s)" % (lib.get("version") or "?", lib.get("source")) for lib in libs])))
    return rows


def _python_rows(inv: Dict[str, Any]) -> List[Row]:
    py = inv.get("python") or {}
    env = py.get("virtualenv") or py.get("conda_env")
    return [("Python", _join([py.get("version"), py.get("executable"), "env " + env if env else None]) or "unknown")]


def _framework_rows(inv: Dict[str, Any]) -> List[Row]:
    frameworks = inv.get("frameworks") or {}
    text = _join(["%s %s%s" % (name, fw.get("version"), " (%s)" % fw["build"] if fw.get("build") else "")
                  for name, fw in sorted(frameworks.items())])
    return [("Frameworks", text or "none installed")]


def _environment_rows(inv: Dict[str, Any]) -> List[Row]:
    """Every Python environment found, where there is more than the one the rows above describe."""
    envs = inv.get("environments") or []
    if len(envs) < 2:
        return []
    texts = []
    for env in envs:
        frameworks = ", ".join("%s %s" % (name, fw.get("version")) for name, fw in sorted(env["frameworks"].items()))
        notes = [env["kind"], "Python " + env["python"] if env.get("python") else None, frameworks or "no frameworks",
                 "judged" if env.get("active") else None, "dlws's own" if env.get("dlws") else None,
                 "error: " + env["error"] if env.get("error") else None]
        texts.append("%s (%s)" % (env["path"], ", ".join(n for n in notes if n)))
    return _labelled("Environments", texts)


def _error_rows(inv: Dict[str, Any]) -> List[Row]:
    return _labelled("Errors", ["%s: %s" % (err.get("probe"), err.get("message")) for err in inv.get("errors") or []])


#: The summary's sections, in order.
SECTIONS: Tuple[Callable[[Dict[str, Any]], List[Row]], ...] = (
    _cpu_rows, _memory_rows, _os_rows, _disk_rows, _nvidia_rows, _gpu_rows, _platform_rows, _cuda_rows,
    _library_rows, _python_rows, _framework_rows, _environment_rows, _error_rows)


def render(inv: Dict[str, Any]) -> str:
    """The summary: each section's labelled lines, the labels in a column of their own, a long line wrapped at
    words to WIDTH under its text."""
    inv = typed(inv).to_dict()
    rows = [row for section in SECTIONS for row in section(inv)]
    width = max(len(label) for label, _ in rows) + 2
    return "\n".join(line.rstrip() for label, text in rows
                     for line in textwrap.wrap(text, WIDTH, initial_indent=label.ljust(width),
                                               subsequent_indent=" " * width, break_on_hyphens=False)
                     or [label])
