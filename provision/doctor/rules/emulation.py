"""Translation and emulation: a Python that Rosetta 2 translates, WSL 1 (no GPU at all), a 32-bit Python on 64-bit
Windows, a foreign Python under qemu-user. Each looks like a working Python, and each gets other wheels than the
machine could run natively."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from provision.doctor.model import rule
from provision.inventory import facts

#: The frameworks whose wheels the findings count (the tables' names).
FRAMEWORKS = ("pytorch", "tensorflow", "jax")


def _newest_with_wheels(framework: str, platform: str) -> Optional[str]:
    """The newest release the tables know with wheels for a platform (None: none has them, or no release row has
    wheel data)."""
    from provision import compat
    from provision.knowledge import queries

    for release in compat.releases(framework):  # newest first
        if queries.wheel_pythons(framework, release, platform):
            return release
    return None


def _last_releases(platform: str) -> Dict[str, str]:
    """Per framework, its newest release with wheels for the platform against its newest release overall."""
    from provision import compat
    from provision.knowledge import queries

    out = {}
    for framework in FRAMEWORKS:
        known = compat.releases(framework)
        if known:
            out[queries.display_name(framework) or framework] = "%s (newest %s)" % (
                _newest_with_wheels(framework, platform) or "none", known[0])
    return out


@rule("DLWS-EMU-001", "warning", "Python runs translated by Rosetta 2 on Apple Silicon")
def rosetta(inv: Dict[str, Any]) -> Any:
    """An x86_64 Python (the Intel build of Anaconda or Homebrew, or one started from a Rosetta terminal) runs on an
    Apple Silicon Mac as translated Intel code: platform.machine() says x86_64, sysctl.proc_translated is 1. pip
    then installs macOS x86_64 wheels, which PyPI stopped publishing (the last: PyTorch 2.2, TensorFlow 2.16,
    JAX 0.4.38, as the tables have them), and everything runs translated, slower than native: a reporter measured
    MPS in an arm64 Python about twice as fast as under Rosetta (TristanBilot/mlx-GCN#1), and the Rosetta torch of
    pytorch/pytorch#146236 could not tell macOS 15.3 from 13 and refused bf16 on MPS. An arm64 Python gets the
    current arm64 wheels, whose torch carries the MPS (Metal) backend.
    Rosetta 2 translates no AVX before macOS 15 (Apple's "About the Rosetta translation environment": not "AVX,
    AVX2, and AVX512 vector instructions"), and TensorFlow's x86_64 wheels need AVX: there "import tensorflow" dies
    with "zsh: illegal hardware instruction python" (tensorflow/tensorflow#46178), an error. From macOS 15 Rosetta
    runs AVX and AVX2 though neither CPUID nor sysctl says so (Go's src/internal/cpu/cpu_x86_darwin.go)."""
    if facts.os_info(inv).get("emulation") != "rosetta":
        return None
    evidence: Dict[str, Any] = {"os.emulation": "rosetta", "cpu.arch": (inv.get("cpu") or {}).get("arch"),
                                "cpu.model": (inv.get("cpu") or {}).get("model"),
                                "python": (inv.get("python") or {}).get("executable")}
    evidence.update(("newest %s with macOS x86_64 wheels" % name, last)
                    for name, last in _last_releases("macos_x86_64").items())
    from provision.compat import rosetta_runs_avx
    from provision.knowledge import queries

    avx, first = rosetta_runs_avx(facts.os_info(inv).get("version")), queries.rosetta_avx_from()
    needing = _needs_avx(inv)
    if needing:
        evidence["needs AVX"] = "%s: Rosetta 2 %s" % (", ".join(needing), {
            False: "translates no AVX before macOS %s, so it dies at import (illegal hardware instruction)" % first,
            True: "runs AVX from macOS %s (sysctl does not report it)" % first,
            None: "runs AVX only from macOS %s, and this macOS version is not known" % first if first
            else "may not run AVX (from which macOS it does is not in the tables)"}[avx])
    return rosetta.finding(
        evidence, "install an arm64 Python (python.org's universal2 installer, Miniforge's arm64 installer, or "
        "Homebrew in /opt/homebrew), check that python3 -c 'import platform; print(platform.machine())' says arm64 "
        "(arch -arm64 starts a native shell), then recreate the environment and reinstall the frameworks in it",
        severity="error" if needing and avx is False else None,
        title="A framework that needs AVX runs under Rosetta 2, which translates no AVX before macOS %s" % first
        if needing and avx is False else None)


def _needs_avx(inv: Dict[str, Any]) -> List[str]:
    """The installed frameworks whose x86_64 wheels need AVX ('tensorflow 2.4.0')."""
    from provision.knowledge import queries

    return ["%s %s" % (name, entry.get("version")) for name, entry in sorted(facts.frameworks(inv).items())
            if queries.needs_avx(name, (entry.get("version") or "").split("+")[0])]


@rule("DLWS-EMU-002", "warning", "WSL 1: Linux here has no GPU")
def wsl_1(inv: Dict[str, Any]) -> Any:
    """WSL 1 has no Linux kernel: it runs Linux programs on the NT kernel (microsoft/WSL#5145), and no GPU device
    reaches them, so nvidia-smi fails and CUDA finds no device whatever is installed; a Linux NVIDIA driver cannot
    even build its module (microsoft/WSL#5554: "Your kernel headers for kernel 4.4.0-19041-Microsoft cannot be
    found"). GPU compute in WSL is WSL 2's (NVIDIA's CUDA on WSL user guide is for WSL 2 only, with the Windows
    driver). WSL 1's kernel release ends in -Microsoft (4.4.0-19041-Microsoft); WSL 2's says microsoft-standard.
    An error where something here expects a GPU (an NVIDIA tool or driver package, a CUDA toolkit or a framework
    built for CUDA), a warning otherwise."""
    info = facts.os_info(inv)
    if info.get("wsl") != 1:
        return None
    wants_gpu = _gpu_expected(inv)
    evidence: Dict[str, Any] = {"os.wsl": 1, "os.kernel": info.get("kernel")}
    if wants_gpu:
        evidence["expects a GPU"] = wants_gpu
    return wsl_1.finding(
        evidence, "convert the distribution to WSL 2 from Windows: wsl -l -v (the VERSION column names it), then "
        "wsl --set-version <distribution> 2; keep the NVIDIA driver on Windows and install no Linux NVIDIA driver "
        "inside", severity="error" if wants_gpu else None)


def _gpu_expected(inv: Dict[str, Any]) -> List[str]:
    """What on this machine was put there for an NVIDIA GPU."""
    nv = facts.nvidia(inv)
    found = []
    if nv.get("status") not in (None, "no-gpu"):
        found.append("nvidia: %s" % nv["status"])
    found.extend("CUDA toolkit %s" % t.get("version") for t in (inv.get("cuda") or {}).get("toolkits") or [])
    found.extend("%s %s" % (name, entry.get("version")) for name, entry in sorted(facts.frameworks(inv).items())
                 if entry.get("cuda"))
    return found


@rule("DLWS-EMU-003", "error", "32-bit Python on 64-bit Windows")
def wow64(inv: Dict[str, Any]) -> Any:
    """A 32-bit Python (python.org's "Windows installer (32-bit)", or one under C:\\Program Files (x86)) runs on
    64-bit Windows through WOW64, and its pip takes win32 wheels only. PyTorch, TensorFlow and JAX publish none
    (PyPI lists no win32 file for torch, tensorflow or jaxlib), so pip answers "Could not find a version that
    satisfies the requirement torch (from versions: none)" or offers only the 0.1.2 placeholders
    (pytorch/pytorch#41005, #47354: "Python version: 3.7 (32-bit runtime)"). The fix is a 64-bit Python."""
    py = inv.get("python") or {}
    if facts.os_info(inv).get("emulation") != "wow64" and not (
            facts.os_info(inv).get("system") == "windows" and py.get("bits") == 32):
        return None
    evidence: Dict[str, Any] = {"python.bits": py.get("bits"), "python": py.get("executable") or py.get("version"),
                                "cpu.arch": (inv.get("cpu") or {}).get("arch")}
    evidence.update(("newest %s with win32 wheels" % name, last) for name, last in _last_releases("windows_x86").items())
    return wow64.finding(
        evidence, "install a 64-bit Python (python.org's \"Windows installer (64-bit)\"; python -c \"import struct; "
        "print(struct.calcsize('P') * 8)\" says 64), then recreate the virtual environment with it and reinstall")


@rule("DLWS-EMU-004", "warning", "Python runs under qemu-user emulation")
def qemu_user(inv: Dict[str, Any]) -> Any:
    """A Python built for another CPU than the kernel's, run by qemu-user through binfmt_misc: typically an amd64
    image on an arm64 host (docker run --platform linux/amd64 on Apple Silicon or a Graviton). uname says the
    Python's architecture, /proc/cpuinfo the host's (docker/for-mac#5485: an amd64 debian image lists the M1's
    arm64 Features), so the CPU flags read here are not the emulated CPU's. Everything runs emulated, far slower
    than native (tensorflow/tensorflow#52845), and an emulator without AVX makes TensorFlow's wheels abort at
    import: "The TensorFlow library was compiled to use AVX instructions, but these aren't available on your
    machine. qemu: uncaught target signal 6 (Aborted)" (tensorflow/tensorflow#52972, TensorFlow 2.7 in
    python:3.8-buster under Docker Desktop). Use an image and wheels for the host's own architecture."""
    if facts.os_info(inv).get("emulation") != "qemu-user":
        return None
    evidence: Dict[str, Any] = {"os.emulation": "qemu-user", "cpu.arch": (inv.get("cpu") or {}).get("arch"),
                                "container": facts.os_info(inv).get("container")}
    if "tensorflow" in facts.frameworks(inv):
        evidence["tensorflow"] = "%s: its wheels need AVX, which the emulated CPU may lack" % (
            facts.frameworks(inv)["tensorflow"].get("version"))
    return qemu_user.finding(
        evidence, "run a Python built for the host's CPU: an image of its architecture (docker run --platform "
        "linux/arm64 ... on an arm64 host, or a multi-arch image without --platform), then install the frameworks' "
        "wheels for that architecture in it")
