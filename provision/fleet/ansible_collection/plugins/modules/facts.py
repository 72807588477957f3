#!/usr/bin/python
# dlws.fleet.facts: the host's dlws inventory (CPU, GPUs, driver, CUDA, Python environments, frameworks) as facts.
from __future__ import annotations

DOCUMENTATION = r"""
module: facts
short_description: The dlws inventory of the host as facts
description:
  - Reads the host as C(dlws inventory --json) does and returns the inventory (schema C(dlws.inventory/1)) as
    C(ansible_facts.dlws), so that a playbook can branch on the GPUs, the NVIDIA driver, the CPU flags or the
    Python environments.
  - The module carries dlws (as module_utils), so nothing is installed on the host and nothing
    is left there. It needs only the host's Python 3.9 or newer, on any CPU architecture.
  - Changes nothing on the host.
version_added: "0.1.0"
options:
  snapshot:
    description: A dlws snapshot on the host (folder or .tar.gz) to read instead of the host.
    type: path
  timeout:
    description: Seconds each command the probes run (nvidia-smi, an interpreter) may take.
    type: float
    default: 5
  env:
    description:
      - The Python environment to judge (a venv or conda prefix, or an interpreter); its Python and frameworks are
        the inventory's top-level python and frameworks. Default, the activated one, else the python3 on the PATH.
      - Every environment found is listed in environments either way.
    type: path
attributes:
  check_mode:
    support: full
author: dlws
"""

EXAMPLES = r"""
- name: Read the dlws inventory
  dlws.fleet.facts:

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

- name: Read a recorded machine
  dlws.fleet.facts:
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
        The whole inventory: cpu (model, arch, flags, logical_cores, ...), memory, disks, os, gpus (name, memory,
        compute capability, ...), nvidia (driver_version, cuda_driver_version, ...), cuda, cudnn, rocm, python,
        frameworks, environments (every Python environment found, with its frameworks), errors.
      returned: success
      type: dict
      sample: {"schema": "dlws.inventory/1", "cpu": {"logical_cores": 16, "flags": ["avx2"]}, "gpus": []}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dlws.fleet.plugins.module_utils.dlws_common import MACHINE_OPTIONS, read_machine, run_module


def facts(module: AnsibleModule) -> None:
    inventory = read_machine(module)[1]
    module.exit_json(changed=False, ansible_facts={"dlws": inventory})


def main() -> None:
    module = AnsibleModule(argument_spec=dict(MACHINE_OPTIONS), supports_check_mode=True)  # it only reads
    run_module(module, facts)


if __name__ == "__main__":
    main()
