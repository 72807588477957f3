#!/usr/bin/env bash
# dlws setup: pytorch 2.5 (jetpack)
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

step '1/4 python' 'Install Python 3 with venv support' 'the plan creates a virtual environment with python3'
if command -v python3 >/dev/null && python3 -c 'import ensurepip, venv'; then
  echo '    already done'
else
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv
  if ! { command -v python3 >/dev/null && python3 -c 'import ensurepip, venv'; }; then
    echo 'dlws: step python did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '2/4 environment' 'Create the virtual environment /opt/dlws/env' 'the frameworks go into an environment of their own, not into the system'"'"'s Python'
if test -x "$DLWS_ENV/bin/python"; then
  echo '    already done'
else
  "$DLWS_PYTHON" -m venv "$DLWS_ENV"
  if ! { test -x "$DLWS_ENV/bin/python"; }; then
    echo 'dlws: step environment did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '3/4 install-pytorch' 'Install torch==2.5.0a0+872d972e41.nv24.08' 'pytorch 2.5, jetpack build, from https://developer.download.nvidia.com/compute/redist/jp/v61/pytorch/torch-2.5.0a0+872d972e41.nv24.08.17622132-cp310-cp310-linux_aarch64.whl; could not judge whether NVIDIA'"'"'s pytorch wheel for JetPack 6.2 (L4T R36.4.3: CUDA 12.6, cuDNN 9.3, TensorRT 10.3, Ubuntu 22.04) is as dlws'"'"'s table says (unverified: url, version); NVIDIA'"'"'s JetPack wheel is torch alone: dlws'"'"'s Jetson table has no companion wheels (torchvision, torchaudio) for it'
if "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import json
import sys
wanted = {
    "torch": "https://developer.download.nvidia.com/compute/redist/jp/v61/pytorch/"
        "torch-2.5.0a0+872d972e41.nv24.08.17622132-cp310-cp310-linux_aarch64.whl",
}
try:
    have = {name: json.loads(m.distribution(name).read_text("direct_url.json") or "{}").get("url")
            for name in wanted}
except m.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if have == wanted else 1)
'; then
  echo '    already done'
else
  "$DLWS_ENV/bin/python" -m pip install \
    https://developer.download.nvidia.com/compute/redist/jp/v61/pytorch/torch-2.5.0a0+872d972e41.nv24.08.17622132-cp310-cp310-linux_aarch64.whl
  if ! { "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import json
import sys
wanted = {
    "torch": "https://developer.download.nvidia.com/compute/redist/jp/v61/pytorch/"
        "torch-2.5.0a0+872d972e41.nv24.08.17622132-cp310-cp310-linux_aarch64.whl",
}
try:
    have = {name: json.loads(m.distribution(name).read_text("direct_url.json") or "{}").get("url")
            for name in wanted}
except m.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if have == wanted else 1)
'; }; then
    echo 'dlws: step install-pytorch did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '4/4 verify' 'Import the frameworks, list their devices and run a matrix product' 'proves the install works on this machine'"'"'s hardware'
"$DLWS_ENV/bin/python" -c 'import torch
mps = getattr(torch.backends, "mps", None)
metal = mps is not None and mps.is_available()
device = "cuda" if torch.cuda.is_available() else "mps" if metal else "cpu"
print("torch", torch.__version__, "GPUs:", torch.cuda.device_count())
import sys
seen = torch.cuda.device_count() if torch.cuda.is_available() else 0
caps = {"%d.%d" % torch.cuda.get_device_capability(i) for i in range(seen)} if torch.version.cuda else set()
build = "torch %s (CUDA %s, ROCm %s)" % (torch.__version__, torch.version.cuda, getattr(torch.version, "hip", None))
expected, wanted = 1, set(["8.7"])
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
