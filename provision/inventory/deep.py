"""The deep probe (`dlws doctor --deep`, `dlws snapshot --deep`): each installed framework imported in the
inventoried Python, a subprocess run through the Host like every probe's command, so a snapshot replays it.

What comes back is data (the probe's JSON line, or the process's output when there is none); provision.doctor.deep
judges it.
"""

from __future__ import annotations

import pkgutil
from typing import Any, Dict, List, NamedTuple, Optional

from provision.host import Host
from provision.untrusted import last_line_object
from provision.inventory import facts

FRAMEWORKS = ("torch", "jax", "tensorflow")
#: Importing TensorFlow or compiling the first JAX kernel can take tens of seconds on a cold cache.
TIMEOUT = 180.0
#: The probe runs as `python -c CODE FRAMEWORK`: the same command line wherever dlws is installed, so a snapshot
#: recorded with `dlws snapshot --deep` replays on any machine (read from the package, zipped or not).
PROBE_CODE = (pkgutil.get_data("provision.inventory", "deep_probe.py") or b"").decode("utf-8")


class DeepRun(NamedTuple):
    result: Optional[Dict[str, Any]]  # the probe's JSON answer: ok, error, version, devices, device, dtype, tflops
    output: str  # the end of what the process printed, for when there is no answer


def probe_command(python: str, name: str) -> List[str]:
    return [python, "-c", PROBE_CODE, name]


def deep_runs(inv: Dict[str, Any]) -> Dict[str, List[str]]:
    """The command line of each deep run the inventory calls for, by framework (none without a Python)."""
    python = (inv.get("python") or {}).get("executable") or ""
    return {name: probe_command(python, name) for name in FRAMEWORKS if python and name in facts.frameworks(inv)}


def run_framework(host: Host, argv: List[str]) -> DeepRun:
    run = host.run(argv, timeout=TIMEOUT)
    result = last_line_object(run.stdout)
    detail = "" if result is not None else \
        (run.stderr.strip() or run.stdout.strip() or "exit code %d" % run.returncode)[-1500:]
    return DeepRun(result, detail)


def run_deep(host: Host, inv: Dict[str, Any]) -> Dict[str, DeepRun]:
    """Every deep run the inventory calls for, by framework."""
    return {name: run_framework(host, argv) for name, argv in deep_runs(inv).items()}
