#!/usr/bin/env bash
# dlws setup: jax 0.4.30 (cpu)
# Written by dlws 0.1.0: review it, then run it. Re-running is safe: each step checks whether it is done.
# Exit codes: 0 done; 3 reboot needed, then run it again; anything else: the failing step's command.
set -euo pipefail

# The environment and the interpreter; set DLWS_ENV or DLWS_PYTHON before running to choose others.
# shellcheck disable=SC2016 # a literal '$'
dlws_default_env='/opt/dl env/$HOME'"'"'s "jax"'
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
export DLWS_JAX_VERSION="${DLWS_JAX_VERSION:-0.4.30}"
export DLWS_JAXLIB_VERSION="${DLWS_JAXLIB_VERSION:-0.4.30}"

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
# shellcheck disable=SC2016 # a literal '$'
step '2/4 environment' 'Create the virtual environment /opt/dl env/$HOME'"'"'s "jax"' 'the frameworks go into an environment of their own, not into the system'"'"'s Python'
if test -x "$DLWS_ENV/bin/python"; then
  echo '    already done'
else
  "$DLWS_PYTHON" -m venv "$DLWS_ENV"
  if ! { test -x "$DLWS_ENV/bin/python"; }; then
    echo 'dlws: step environment did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '3/4 install-jax' 'Install jax==0.4.30, jaxlib==0.4.30' 'jax 0.4.30, cpu build, from PyPI'
if "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "jax": os.environ.get("DLWS_JAX_VERSION", "0.4.30"),
    "jaxlib": os.environ.get("DLWS_JAXLIB_VERSION", "0.4.30"),
}
main, label = "jax", ""


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
  "$DLWS_ENV/bin/python" -m pip install "jax==${DLWS_JAX_VERSION}" "jaxlib==${DLWS_JAXLIB_VERSION}"
  if ! { "$DLWS_ENV/bin/python" -c 'import importlib.metadata as m
import sys
import os
wanted = {
    "jax": os.environ.get("DLWS_JAX_VERSION", "0.4.30"),
    "jaxlib": os.environ.get("DLWS_JAXLIB_VERSION", "0.4.30"),
}
main, label = "jax", ""


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
    echo 'dlws: step install-jax did not verify (its check still fails)' >&2; exit 1
  fi
fi
step '4/4 verify' 'Import the frameworks, list their devices and run a matrix product' 'proves the install works on this machine'"'"'s hardware'
"$DLWS_ENV/bin/python" -c 'import jax
import jax.numpy as jnp
print("jax", jax.__version__, "devices:", jax.devices())
a = jnp.ones((256, 256))
print("jax matmul on", jax.devices()[0].platform, float((a @ a).sum()))
'

echo
echo 'dlws setup: done'
