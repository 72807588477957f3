#!/usr/bin/env bash
# dlws setup: tensorflow 2.21 (cuda)
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
export DLWS_TENSORFLOW_VERSION="${DLWS_TENSORFLOW_VERSION:-2.21.0}"

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
step '3/4 install-tensorflow' 'Install tensorflow[and-cuda]==2.21.0' 'tensorflow 2.21, cuda build, from PyPI'
if "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "tensorflow": os.environ.get("DLWS_TENSORFLOW_VERSION", "2.21.0"),
}
main, label = "tensorflow", ""


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
  "$DLWS_ENV/bin/python" -m pip install "tensorflow[and-cuda]==${DLWS_TENSORFLOW_VERSION}"
  if ! { "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "tensorflow": os.environ.get("DLWS_TENSORFLOW_VERSION", "2.21.0"),
}
main, label = "tensorflow", ""


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
    echo 'dlws: step install-tensorflow did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '4/4 verify' 'Import the frameworks, list their devices and run a matrix product' 'proves the install works on this machine'"'"'s hardware'
"$DLWS_ENV/bin/python" -c 'import tensorflow as tf
if not tf.executing_eagerly():
    tf.compat.v1.enable_eager_execution()
if hasattr(getattr(tf, "config", None), "list_physical_devices"):
    gpus = tf.config.list_physical_devices("GPU")
else:
    from tensorflow.python.client import device_lib
    gpus = [d for d in device_lib.list_local_devices() if d.device_type == "GPU"]
print("tensorflow", tf.__version__, "GPUs:", gpus)
import sys
seen = len(gpus)
details = getattr(getattr(getattr(tf, "config", None), "experimental", None), "get_device_details", None)
caps = {"%d.%d" % tuple(d["compute_capability"]) for d in map(details, gpus) if d.get("compute_capability")} if details else set()
info = tf.sysconfig.get_build_info() if hasattr(tf.sysconfig, "get_build_info") else {}
build = "tensorflow %s (CUDA %s)" % (tf.__version__, info.get("cuda_version"))
expected, wanted = 8, set(["9.0"])
if seen < expected or not wanted <= (caps or wanted):
    import os
    saw = " of compute capability " + ", ".join(sorted(caps)) if caps else ""
    made = ", ".join(sorted(wanted)) or "compute capability unknown"
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    why = "; CUDA_VISIBLE_DEVICES=%r" % hidden if hidden is not None else ""
    sys.exit("dlws: %s sees %d GPU(s)%s; the plan was made for %d (%s)%s" % (build, seen, saw, expected, made, why))
a = tf.random.normal((256, 256))
print("tensorflow matmul", float(tf.reduce_sum(a @ a)))
'

echo
echo 'dlws setup: done'
