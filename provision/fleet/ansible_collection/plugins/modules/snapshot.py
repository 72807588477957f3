#!/usr/bin/python
# dlws.fleet.snapshot: record the evidence dlws reads on the host, for the controller or in a file on the host.
from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot
short_description: A dlws snapshot of the host, returned to the controller or written on the host
description:
  - Records what the dlws probes read on the host (files, command outputs, NVML's answers) as C(dlws snapshot)
    does; C(dlws doctor --snapshot) and C(dlws inventory --snapshot) replay it anywhere.
  - Without O(dest), the snapshot (a .tar.gz) comes back to the controller in the result, base64, and nothing is
    written on the host; save it there with C(ansible.builtin.copy) and C(b64decode), as the example shows.
  - The module carries dlws, so nothing is installed on the host. It needs only the host's Python 3.9 or newer.
version_added: "0.1.0"
options:
  dest:
    description:
      - Where to write the snapshot on the host, a .tar.gz (or a folder when the path ends with C(/)); replaced
        whole or not at all. Without it, the snapshot is returned.
    type: str
  redact:
    description: Replace host and user names, serial numbers, machine ids, UUIDs, MAC and IP addresses with placeholders.
    type: bool
    default: false
  snapshot:
    description: A dlws snapshot on the host to read instead of the host (to return it, or redact it).
    type: path
  timeout:
    description: Seconds each command the probes run may take.
    type: float
    default: 5
  env:
    description: The Python environment to judge (a venv or conda prefix, or an interpreter).
    type: path
attributes:
  check_mode:
    support: full
    details: In check mode the host is read but O(dest) is not written.
author: dlws
"""

EXAMPLES = r"""
- name: Record the host
  dlws.fleet.snapshot:
  register: recorded

- name: Keep it on the controller
  ansible.builtin.copy:
    content: "{{ recorded.snapshot_b64 | b64decode }}"
    dest: "snapshots/{{ inventory_hostname }}.tar.gz"
    mode: "0644"
  delegate_to: localhost

- name: Record the host, redacted, into a file on the host
  dlws.fleet.snapshot:
    dest: /tmp/bug-report.tar.gz
    redact: true
"""

RETURN = r"""
snapshot_b64:
  description: The snapshot, a .tar.gz, base64.
  returned: when dest is not given
  type: str
dest:
  description: The snapshot written on the host.
  returned: when dest is given
  type: str
files:
  description: How many files the snapshot holds.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dlws.fleet.plugins.module_utils.dlws_common import (
    MACHINE_OPTIONS, encode, read_machine, run_module, snapshot_archive)


def snapshot(module: AnsibleModule) -> None:
    from provision.redact import Known, redact_members
    from provision.redact_live import live_identifiers
    from provision.snapshot import write_snapshot
    from provision.snapshot_rewrite import read_members, replay_inventory

    params = module.params
    _, inventory, members = read_machine(module, record=True)
    if params["redact"] or params["dest"]:
        if members is None:  # a recorded snapshot, rewritten
            from provision.snapshot import snapshot_folder

            members = read_members(snapshot_folder(params["snapshot"]))
        if params["redact"]:
            members.pop("inventory.json", None)  # computed again below, from what is left
            members = redact_members(members, Known() if params["snapshot"] else live_identifiers())
            members["inventory.json"] = replay_inventory(members)
    if not params["dest"]:
        module.exit_json(changed=False, snapshot_b64=encode(snapshot_archive(module, members)),
                         files=len(members) if members is not None else 0)
    assert members is not None
    if not module.check_mode:
        write_snapshot(members, params["dest"])
    module.exit_json(changed=True, dest=params["dest"], files=len(members))


def main() -> None:
    options = dict(MACHINE_OPTIONS, dest=dict(type="str"), redact=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=options, supports_check_mode=True)
    run_module(module, snapshot)


if __name__ == "__main__":
    main()
