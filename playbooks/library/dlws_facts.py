#!/usr/bin/python
# dlws: the host's inventory (CPU, GPUs, driver, CUDA, frameworks) as Ansible facts.
from __future__ import annotations

DOCUMENTATION = r"""
module: dlws_facts
short_description: The dlws inventory of the host as facts
description:
  - Runs C(dlws inventory --json) on the host (or replays a recorded snapshot with C(--snapshot)) and returns the
    inventory as C(ansible_facts.dlws), so a playbook can branch on the GPUs, the NVIDIA driver or the CPU flags.
  - dlws must be on the host already; the gather playbook (C(dlws fleet gather)) installs it in
    C(~/.cache/dlws/venv-VERSION) without root and without internet on the host.
  - Changes nothing on the host; supports check mode.
options:
  dlws:
    description:
      - Path of the dlws command on the host.
      - Default, the newest C(~/.cache/dlws/venv-*/bin/dlws) the gather installed, else C(dlws) on the PATH.
    type: path
  snapshot:
    description: A snapshot on the host (folder or .tar.gz) to replay instead of reading the host.
    type: path
  timeout:
    description: Seconds each command dlws runs may take.
    type: float
    default: 5
author: dlws
"""

EXAMPLES = r"""
- name: Read the dlws inventory
  dlws_facts:

- name: Say which GPUs the host has
  ansible.builtin.debug:
    msg: "{{ ansible_facts.dlws.gpus | map(attribute='name') | list }}"

- name: Only where the NVIDIA driver is 535 or newer
  ansible.builtin.debug:
    msg: "driver {{ ansible_facts.dlws.nvidia.driver_version }}"
  when: (ansible_facts.dlws.nvidia.driver_version or '0') is version('535', '>=')

- name: Only where the CPU has AVX2
  ansible.builtin.debug:
    msg: AVX2 here
  when: "'avx2' in ansible_facts.dlws.cpu.flags"

- name: Replay a recorded machine
  dlws_facts:
    dlws: /opt/dlws/bin/dlws
    snapshot: /tmp/box.tar.gz
"""

RETURN = r"""
ansible_facts:
  description: The inventory, schema dlws.inventory/1, under the key dlws.
  returned: success
  type: complex
  contains:
    dlws:
      description: >-
        The whole inventory: cpu (model, flags, logical_cores, ...), memory, disks, os, gpus (name, memory,
        compute capability, ...), nvidia (driver_version, cuda_driver_version, ...), cuda, cudnn, rocm, python,
        frameworks, errors.
      returned: success
      type: dict
      sample: {"schema": "dlws.inventory/1", "cpu": {"logical_cores": 16, "flags": ["avx2"]}, "gpus": []}
dlws_path:
  description: The dlws command that ran.
  returned: always
  type: str
  sample: /home/me/.cache/dlws/venv-0.1.0/bin/dlws
"""

import glob
import json
import os
import re
from typing import List, Optional

from ansible.module_utils.basic import AnsibleModule

GATHER_VENVS = "~/.cache/dlws/venv-*/bin/dlws"


def _version_key(path: str) -> List[int]:
    """venv-0.10.0 sorts after venv-0.9.1."""
    match = re.search(r"venv-([0-9.]+)", path)
    return [int(part) for part in match.group(1).split(".") if part] if match else []


def find_dlws(module: AnsibleModule) -> Optional[str]:
    """The dlws the gather installed (newest version), else the one on the PATH."""
    installed = [p for p in glob.glob(os.path.expanduser(GATHER_VENVS)) if os.access(p, os.X_OK)]
    if installed:
        return max(installed, key=_version_key)
    return module.get_bin_path("dlws")


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(dlws=dict(type="path"), snapshot=dict(type="path"),
                           timeout=dict(type="float", default=5.0)),
        supports_check_mode=True,  # it only reads the host
    )
    dlws = module.params["dlws"] or find_dlws(module)
    if not dlws or not os.access(dlws, os.X_OK):
        module.fail_json(msg="dlws not found at %s: run the gather playbook (dlws fleet gather) to install it, or "
                             "give its path with dlws=" % (dlws or GATHER_VENVS + " or on the PATH"),
                         dlws_path=dlws)
        return  # fail_json exits; said again for the type checker, to which ansible is untyped
    argv = [dlws, "inventory", "--json", "--timeout", str(module.params["timeout"])]
    if module.params["snapshot"]:
        argv += ["--snapshot", module.params["snapshot"]]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg="%s failed with exit code %d: %s" % (" ".join(argv), rc, err.strip()), rc=rc,
                         dlws_path=dlws)
    try:
        inventory = json.loads(out)
    except ValueError as exc:
        module.fail_json(msg="dlws inventory --json printed no JSON (%s)" % exc, dlws_path=dlws)
    module.exit_json(changed=False, ansible_facts={"dlws": inventory}, dlws_path=dlws)


if __name__ == "__main__":
    main()
