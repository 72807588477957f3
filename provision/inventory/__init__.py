"""Collect the inventory: run each probe against a Host, isolated, so one failure never hides the rest."""

from __future__ import annotations

import importlib
from typing import Callable, Optional, Tuple

from provision import __version__
from provision.host import Host
from provision.inventory.conform import typed
from provision.inventory.model import Inventory

#: (probe name, module) in the order they run; later probes read what earlier ones found (the OS probe reads the
#: CPU flags, the CUDA probe the GPUs). Each module has probe(host, inventory).
PROBES: Tuple[Tuple[str, str], ...] = (
    ("cpu", "provision.inventory.cpu"),
    ("memory", "provision.inventory.memory"),
    ("os", "provision.inventory.system"),
    ("emulation", "provision.inventory.emulation"),
    ("env_vars", "provision.inventory.envvars"),
    ("disks", "provision.inventory.disks"),
    ("nvidia", "provision.inventory.nvidia"),
    ("kernel_modules", "provision.inventory.kernel_modules"),
    ("containers", "provision.inventory.containers"),
    ("amd", "provision.inventory.amd"),
    ("intel", "provision.inventory.intel"),
    ("jetson", "provision.inventory.jetson"),
    ("apple", "provision.inventory.apple"),
    ("cuda", "provision.inventory.cuda"),
    ("python", "provision.inventory.python_env"),
    ("libraries", "provision.inventory.libraries"),
    ("loader", "provision.inventory.loader"),
    ("ptxas", "provision.inventory.ptxas"),
)


def _probe(module: str) -> Callable[[Host, Inventory], None]:
    return importlib.import_module(module).probe


def collect(host: Host, debug: bool = False, env: Optional[str] = None) -> Inventory:
    """The inventory of a host; a probe that raises becomes an entry in errors. env: the Python environment to
    judge (--env, else the one a snapshot was recorded with), else the python probe chooses."""
    env = env if env is not None else host.recorded_env
    inv = Inventory(dlws_version=__version__)
    for name, module in PROBES:
        try:
            if name == "python":
                importlib.import_module(module).probe(host, inv, env)
            else:
                _probe(module)(host, inv)
        except Exception as exc:  # never crash on a broken machine: that is where a doctor is run
            if debug:
                import sys
                import traceback

                traceback.print_exc(file=sys.stderr)
            inv.error(name, "%s: %s" % (type(exc).__name__, exc))
    return typed(inv)  # probes build it from evidence anyone can write
