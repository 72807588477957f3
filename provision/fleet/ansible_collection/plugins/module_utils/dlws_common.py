# dlws.fleet: what the modules share: the options that say which machine to read, and reading it.
from __future__ import annotations

import base64
import os
import traceback
from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.dlws.fleet.plugins.module_utils.dlws_loader import BundleError, load_dlws

#: The options of every module: the machine read is the host, or a snapshot recorded on it.
MACHINE_OPTIONS: Dict[str, Dict[str, Any]] = dict(
    snapshot=dict(type="path"),
    timeout=dict(type="float", default=5.0),
    env=dict(type="path"),
)


def read_machine(module: Any, record: bool = False) -> Tuple[Any, Dict[str, Any], Optional[Dict[str, str]]]:
    """(host, inventory, snapshot members) of the machine the options name; members only where record is set and
    the host is read live (a replayed snapshot is its own record)."""
    load_dlws()
    from provision.host import MAX_TIMEOUT, LiveHost, RecordingHost
    from provision.inventory import collect
    from provision.snapshot import open_snapshot, snapshot_members

    params = module.params
    if params["snapshot"]:
        host: Any = open_snapshot(params["snapshot"])
    else:
        if not 0.1 <= params["timeout"] <= MAX_TIMEOUT:
            module.fail_json(msg="timeout must be from 0.1 to %g seconds, not %r" % (MAX_TIMEOUT, params["timeout"]))
        host = LiveHost(timeout=params["timeout"])
        if record:
            host = RecordingHost(host)
    inventory = collect(host, env=_env_prefix(module, host)).to_dict()
    members = snapshot_members(host, inventory) if record and not params["snapshot"] else None
    return host, inventory, members


def _env_prefix(module: Any, host: Any) -> Optional[str]:
    from provision.inventory.environments import named_prefix

    path = module.params["env"]
    if path is None:
        return None
    prefix = named_prefix(host, os.path.abspath(path) if not module.params["snapshot"] else path)
    if prefix is None:
        module.fail_json(msg="env %s: no Python environment there (a venv or conda folder, or an interpreter)" % path)
    return prefix


def snapshot_archive(module: Any, members: Optional[Dict[str, str]]) -> bytes:
    """The .tar.gz of the machine read: the members recorded, or the snapshot replayed (an archive as it is)."""
    from provision.snapshot import archive_bytes
    from provision.snapshot_rewrite import read_members

    path = module.params["snapshot"]
    if members is not None:
        return archive_bytes(members)
    if os.path.isdir(path):
        return archive_bytes(read_members(path))
    with open(path, "rb") as handle:
        return handle.read()


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def run_module(module: Any, body: Callable[[Any], None]) -> None:
    """body(module) with the bundle loaded, with dlws's own errors (a bad snapshot, a usage error) and any other failure as the host's
    failure with its message: a module never leaves a traceback for a result."""
    try:
        load_dlws()
        body(module)
    except BundleError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none crashes the play
        from provision.errors import DlwsError

        if isinstance(exc, DlwsError):
            module.fail_json(msg=str(exc))
        module.fail_json(msg="dlws failed: %s: %s" % (type(exc).__name__, exc), exception=traceback.format_exc())
