#!/usr/bin/env bash
# dlws setup: pytorch 2.8 (cu129)
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
export DLWS_TORCH_VERSION="${DLWS_TORCH_VERSION:-2.8.0}"
export DLWS_TORCHAUDIO_VERSION="${DLWS_TORCHAUDIO_VERSION:-2.8.0}"
export DLWS_TORCHVISION_VERSION="${DLWS_TORCHVISION_VERSION:-0.23.0}"

step '1/7 python' 'Install Python 3 with venv support' 'the plan creates a virtual environment with python3'
if command -v python3 >/dev/null && python3 -c 'import ensurepip, venv'; then
  echo '    already done'
else
  as_root dnf install -y python3 python3-pip
  if ! { command -v python3 >/dev/null && python3 -c 'import ensurepip, venv'; }; then
    echo 'dlws: step python did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '2/7 nvidia-repo' 'Add NVIDIA'"'"'s signed CUDA repository (rhel9)' 'the NVIDIA driver is missing; the chosen builds need a driver >= 525 (open kernel modules for these GPUs)'
if printf '%s\n' \
    '[cuda-rhel9-x86_64]' \
    'baseurl = https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64' \
    'enabled = 1' \
    'gpgcheck = 1' \
    'gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9' \
    'name = cuda-rhel9-x86_64' \
    'repo_gpgcheck = 0' \
    '' \
  | cmp -s - /etc/yum.repos.d/cuda-rhel9.repo &&
[ "$(gpg --show-keys --with-colons /etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9 2>/dev/null \
  | grep -A1 '^pub:' | grep '^fpr:' | cut -d: -f10)" = 610C7B14E068A878070DA4E99CD0A493D42D0685 ] &&
rpm -q gpg-pubkey --qf '%{DESCRIPTION}\n' 2>/dev/null \
  | gpg --show-keys --with-colons 2>/dev/null \
  | grep '^fpr:*:610C7B14E068A878070DA4E99CD0A493D42D0685:' >/dev/null &&
[ -z "$(find /etc/yum.repos.d/ -maxdepth 1 -type f -name '*.repo' ! -name cuda-rhel9.repo \
  -exec grep -lF https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64 {} + 2>/dev/null || true)" ]; then
  echo '    already done'
else
  while IFS= read -r other; do
    echo "dlws: $other also names NVIDIA's repository (dnf could install from it with other checks): moved to $other.disabled"
    as_root mv "$other" "$other.disabled"
  done < <(find /etc/yum.repos.d/ -maxdepth 1 -type f -name '*.repo' ! -name cuda-rhel9.repo \
  -exec grep -lF https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64 {} + 2>/dev/null || true)
  as_root dnf install -y gnupg2
  command -v curl >/dev/null || as_root dnf install -y curl
  key="$(mktemp)"
  curl -fsSL --proto '=https' https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64/D42D0685.pub -o "$key"
  # Trust the key only if it is the one NVIDIA publishes (fingerprint pinned in dlws' knowledge base).
  if ! [ "$(gpg --show-keys --with-colons "$key" 2>/dev/null \
  | grep -A1 '^pub:' | grep '^fpr:' | cut -d: -f10)" = 610C7B14E068A878070DA4E99CD0A493D42D0685 ]; then
    echo 'NVIDIA repository key fingerprint mismatch: refusing to trust it' >&2; rm -f "$key"; exit 1
  fi
  as_root install -D -m 0644 "$key" /etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9
  rm -f "$key"
  as_root rpm --import /etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9
  printf '%s\n' \
    '[cuda-rhel9-x86_64]' \
    'baseurl = https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64' \
    'enabled = 1' \
    'gpgcheck = 1' \
    'gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9' \
    'name = cuda-rhel9-x86_64' \
    'repo_gpgcheck = 0' \
    '' \
  | as_root tee /etc/yum.repos.d/cuda-rhel9.repo >/dev/null
  if ! { printf '%s\n' \
    '[cuda-rhel9-x86_64]' \
    'baseurl = https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64' \
    'enabled = 1' \
    'gpgcheck = 1' \
    'gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9' \
    'name = cuda-rhel9-x86_64' \
    'repo_gpgcheck = 0' \
    '' \
  | cmp -s - /etc/yum.repos.d/cuda-rhel9.repo &&
[ "$(gpg --show-keys --with-colons /etc/pki/rpm-gpg/RPM-GPG-KEY-NVIDIA-cuda-rhel9 2>/dev/null \
  | grep -A1 '^pub:' | grep '^fpr:' | cut -d: -f10)" = 610C7B14E068A878070DA4E99CD0A493D42D0685 ] &&
rpm -q gpg-pubkey --qf '%{DESCRIPTION}\n' 2>/dev/null \
  | gpg --show-keys --with-colons 2>/dev/null \
  | grep '^fpr:*:610C7B14E068A878070DA4E99CD0A493D42D0685:' >/dev/null &&
[ -z "$(find /etc/yum.repos.d/ -maxdepth 1 -type f -name '*.repo' ! -name cuda-rhel9.repo \
  -exec grep -lF https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64 {} + 2>/dev/null || true)" ]; }; then
    echo 'dlws: step nvidia-repo did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '3/7 nvidia-driver' 'Install the NVIDIA driver (nvidia-open, >= 525)' 'the NVIDIA driver is missing; the chosen builds need a driver >= 525 (open kernel modules for these GPUs)'
if nvidia-smi >/dev/null 2>&1 && [ "$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1 | cut -d. -f1)" -ge 525 ]; then
  echo '    already done'
else
  as_root dnf -y module enable nvidia-driver:open-dkms
  as_root dnf install -y nvidia-open
  if ! { command -v nvidia-smi >/dev/null; }; then
    echo 'dlws: step nvidia-driver did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '4/7 reboot' 'Reboot to load the new driver' 'a new kernel module loads at boot'
if nvidia-smi >/dev/null 2>&1; then
  echo '    already done'
else
  echo 'Reboot needed (the NVIDIA driver was installed): sudo reboot, then run this script again.'
  exit 3
fi
step '5/7 environment' 'Create the virtual environment /opt/dlws/env' 'the frameworks go into an environment of their own, not into the system'"'"'s Python'
if test -x "$DLWS_ENV/bin/python"; then
  echo '    already done'
else
  "$DLWS_PYTHON" -m venv "$DLWS_ENV"
  if ! { test -x "$DLWS_ENV/bin/python"; }; then
    echo 'dlws: step environment did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '6/7 install-pytorch' 'Install torch==2.8.0, torchvision==0.23.0, torchaudio==2.8.0' 'pytorch 2.8, cu129 build, from https://download.pytorch.org/whl/cu129'
if "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "torch": os.environ.get("DLWS_TORCH_VERSION", "2.8.0"),
    "torchaudio": os.environ.get("DLWS_TORCHAUDIO_VERSION", "2.8.0"),
    "torchvision": os.environ.get("DLWS_TORCHVISION_VERSION", "0.23.0"),
}
main, label = "torch", "cu129"


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
  "$DLWS_ENV/bin/python" -m pip install --index-url https://download.pytorch.org/whl/cu129 \
    "torch==${DLWS_TORCH_VERSION}" \
    "torchvision==${DLWS_TORCHVISION_VERSION}" \
    "torchaudio==${DLWS_TORCHAUDIO_VERSION}"
  if ! { "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "torch": os.environ.get("DLWS_TORCH_VERSION", "2.8.0"),
    "torchaudio": os.environ.get("DLWS_TORCHAUDIO_VERSION", "2.8.0"),
    "torchvision": os.environ.get("DLWS_TORCHVISION_VERSION", "0.23.0"),
}
main, label = "torch", "cu129"


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
step '7/7 verify' 'Import the frameworks, list their devices and run a matrix product' 'proves the install works on this machine'"'"'s hardware'
"$DLWS_ENV/bin/python" -c 'import torch
mps = getattr(torch.backends, "mps", None)
metal = mps is not None and mps.is_available()
device = "cuda" if torch.cuda.is_available() else "mps" if metal else "cpu"
print("torch", torch.__version__, "GPUs:", torch.cuda.device_count())
import sys
seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
caps = {"%d.%d" % torch.cuda.get_device_capability(i) for i in range(seen)} if torch.version.cuda else set()
build = "torch %s (CUDA %s, ROCm %s)" % (torch.__version__, torch.version.cuda, getattr(torch.version, "hip", None))
expected, wanted = 1, set(["7.5"])
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
