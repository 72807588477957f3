#!/usr/bin/env bash
# dlws setup: pytorch 2.14 (rocm7.14)
# Written by dlws 0.1.0: review it, then run it. Re-running is safe: each step checks whether it is done.
# Exit codes: 0 done; 3 reboot needed, then run it again; anything else: the failing step's command.
set -euo pipefail

# The environment and the interpreter; set DLWS_ENV or DLWS_PYTHON before running to choose others.
dlws_default_env=/opt/dlws/env
dlws_default_python=python3
DLWS_ENV="${DLWS_ENV:-$dlws_default_env}"
DLWS_PYTHON="${DLWS_PYTHON:-$dlws_default_python}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

step() {
  printf '\n==> [%s] %s\n    why: %s\n' "$1" "$2" "$3"
}

# The pinned versions; set one before running to install another (the checks follow it).
export DLWS_TORCH_VERSION="${DLWS_TORCH_VERSION:-2.14.1}"
export DLWS_TORCHAUDIO_VERSION="${DLWS_TORCHAUDIO_VERSION:-2.11.1}"
export DLWS_TORCHVISION_VERSION="${DLWS_TORCHVISION_VERSION:-0.29.1}"

step '1/3 environment' 'Create the virtual environment /opt/dlws/env' 'the frameworks go into an environment of their own, not into the system'"'"'s Python'
if test -x "$DLWS_ENV/bin/python"; then
  echo '    already done'
else
  "$DLWS_PYTHON" -m venv "$DLWS_ENV"
  if ! { test -x "$DLWS_ENV/bin/python"; }; then
    echo 'dlws: step environment did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '2/3 install-pytorch' 'Install torch==2.14.1, torchvision==0.29.1, torchaudio==2.11.1' 'pytorch 2.14, rocm7.14 build, from https://download.pytorch.org/whl/rocm7.14; could not judge the Python version (pytorch 2.14 has wheels for Python 3.10 to 3.14); could not judge the glibc version (its Linux wheels need glibc >= 2.28); could not judge which gfx targets pytorch 2.14 (rocm7.14) has code objects for (this machine needs gfx90a); could not judge whether the amdgpu kernel driver supports ROCm 7.14'"'"'s user space (its version is not read)'
if "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "torch": os.environ.get("DLWS_TORCH_VERSION", "2.14.1"),
    "torchaudio": os.environ.get("DLWS_TORCHAUDIO_VERSION", "2.11.1"),
    "torchvision": os.environ.get("DLWS_TORCHVISION_VERSION", "0.29.1"),
}
main, label = "torch", "rocm7.14"


def release(version):
    parts = version.lower().split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return parts


def fits(name, version):
    have = m.version(name)
    if "+" in version:
        return have.lower() == version.lower()
    public, _, local = have.lower().partition("+")
    return release(public) == release(version) and local in ((label,) if name == main else (label, ""))


try:
    sys.exit(0 if all(fits(name, version) for name, version in wanted.items()) else 1)
except m.PackageNotFoundError:
    sys.exit(1)
'; then
  echo '    already done'
else
  "$DLWS_ENV/bin/python" -m pip install --index-url https://download.pytorch.org/whl/rocm7.14 \
    "torch==${DLWS_TORCH_VERSION}" \
    "torchvision==${DLWS_TORCHVISION_VERSION}" \
    "torchaudio==${DLWS_TORCHAUDIO_VERSION}"
  if ! { "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "torch": os.environ.get("DLWS_TORCH_VERSION", "2.14.1"),
    "torchaudio": os.environ.get("DLWS_TORCHAUDIO_VERSION", "2.11.1"),
    "torchvision": os.environ.get("DLWS_TORCHVISION_VERSION", "0.29.1"),
}
main, label = "torch", "rocm7.14"


def release(version):
    parts = version.lower().split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return parts


def fits(name, version):
    have = m.version(name)
    if "+" in version:
        return have.lower() == version.lower()
    public, _, local = have.lower().partition("+")
    return release(public) == release(version) and local in ((label,) if name == main else (label, ""))


try:
    sys.exit(0 if all(fits(name, version) for name, version in wanted.items()) else 1)
except m.PackageNotFoundError:
    sys.exit(1)
'; }; then
    echo 'dlws: step install-pytorch did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '3/3 verify' 'Import the frameworks, list their devices and run a matrix product' 'proves the install works on this machine'"'"'s hardware'
"$DLWS_ENV/bin/python" -c 'import torch
mps = getattr(torch.backends, "mps", None)
metal = mps is not None and mps.is_available()
device = "cuda" if torch.cuda.is_available() else "mps" if metal else "cpu"
print("torch", torch.__version__, "GPUs:", torch.cuda.device_count())
import sys
seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
caps = {"%d.%d" % torch.cuda.get_device_capability(i) for i in range(seen)} if torch.version.cuda else set()
build = "torch %s (CUDA %s, ROCm %s)" % (torch.__version__, torch.version.cuda, getattr(torch.version, "hip", None))
expected, wanted = 8, set([])
if seen < expected or not wanted <= (caps or wanted):
    import os
    saw = " of compute capability " + ", ".join(sorted(caps)) if caps else ""
    made = ", ".join(sorted(wanted)) or "compute capability unknown"
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    why = "; CUDA_VISIBLE_DEVICES=%r" % hidden if hidden is not None else ""
    sys.exit("dlws: %s sees %d GPU(s)%s; the plan was made for %d (%s)%s" % (build, seen, saw, expected, made, why))
a = torch.randn(256, 256, device=device)
print("torch matmul on", device, float((a @ a).sum()))
'

echo
echo 'dlws setup: done'
