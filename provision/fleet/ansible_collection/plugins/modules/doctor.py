#!/usr/bin/python
# dlws.fleet.doctor: diagnose the host as dlws doctor does; a pre-flight step that fails the host when unmet.
from __future__ import annotations

DOCUMENTATION = r"""
module: doctor
short_description: Diagnose the host with dlws doctor; fail it when a requirement is unmet
description:
  - Reads the host and runs the dlws doctor's checks on it, with the requirements and target frameworks given, as
    C(dlws doctor --format json) does; the report (inventory, findings, summary) is in the result.
  - The host fails when a finding is at or above O(fail_on) (an unmet requirement is an error), as a pre-flight step
    for any playbook, before a training job or after provisioning.
  - The module carries dlws, so nothing is installed on the host and nothing is left there. It needs only the host's
    Python 3.9 or newer, on any CPU architecture.
  - Changes nothing on the host.
version_added: "0.1.0"
options:
  require:
    description:
      - Requirements the host must meet, as C(dlws doctor --require) takes them, e.g. C(gpu.count >= 2),
        C(driver >= 535), C(gpu.memory >= 40GiB), C(cpu.flag avx2), C(torch.cuda).
    type: list
    elements: str
    default: []
  target:
    description: Frameworks to check readiness for, as C(dlws doctor --target) takes them (C(pytorch==2.4), C(jax)).
    type: list
    elements: str
    default: []
  fail_on:
    description: Fail the host on a finding at or above this severity; C(none) never fails it (the report only).
    type: str
    choices: [error, warning, info, none]
    default: error
  return_snapshot:
    description: Also return the snapshot the report was made from (a .tar.gz, base64), as C(dlws fleet gather) does.
    type: bool
    default: false
  snapshot:
    description: A dlws snapshot on the host (folder or .tar.gz) to diagnose instead of the host.
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
author: dlws
"""

EXAMPLES = r"""
- name: Check the host before the training job
  dlws.fleet.doctor:
    require:
      - gpu.count >= 8
      - driver >= 535
      - torch.cuda
    target:
      - pytorch==2.4

- name: Report only, never fail
  dlws.fleet.doctor:
    fail_on: none
  register: diagnosis

- name: Say what the doctor found
  ansible.builtin.debug:
    msg: "{{ diagnosis.findings | map(attribute='id') | list }}"
"""

RETURN = r"""
report:
  description: The report as C(dlws doctor --format json) prints it (schema dlws.doctor/1, with the inventory).
  returned: success, and when the host fails on a finding
  type: dict
findings:
  description: The findings (id, severity, title, evidence, fix, ...), most severe first.
  returned: success, and when the host fails on a finding
  type: list
  elements: dict
summary:
  description: How many findings of each severity.
  returned: success, and when the host fails on a finding
  type: dict
  sample: {"error": 0, "warning": 2, "info": 1}
failing:
  description: The ids of the findings at or above fail_on.
  returned: success, and when the host fails on a finding
  type: list
  elements: str
snapshot_b64:
  description: The snapshot the report was made from, a .tar.gz, base64.
  returned: when return_snapshot is true
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dlws.fleet.plugins.module_utils.dlws_common import (
    MACHINE_OPTIONS, encode, read_machine, run_module, snapshot_archive)

SEVERITY_ORDER = ("info", "warning", "error")


def doctor(module: AnsibleModule) -> None:
    from provision.doctor_command import make_request, render, run_doctor

    params = module.params
    fail_on = params["fail_on"]
    request = make_request(params["require"], None, params["target"], False, "error" if fail_on == "none" else fail_on)
    host, inventory, members = read_machine(module, record=params["return_snapshot"])
    report = json.loads(render(run_doctor(host, inventory, request, False), "json", None))
    findings = report.get("findings") or []
    failing = [] if fail_on == "none" else [
        f["id"] for f in findings if SEVERITY_ORDER.index(f["severity"]) >= SEVERITY_ORDER.index(fail_on)]
    result = dict(changed=False, report=report, findings=findings, summary=report.get("summary"), failing=failing)
    if params["return_snapshot"]:
        result["snapshot_b64"] = encode(snapshot_archive(module, members))
    if failing:
        module.fail_json(msg="%d findings at or above %s: %s" % (len(failing), fail_on, ", ".join(failing)), **result)
    module.exit_json(**result)


def main() -> None:
    options = dict(MACHINE_OPTIONS, require=dict(type="list", elements="str", default=[]),
                   target=dict(type="list", elements="str", default=[]),
                   fail_on=dict(type="str", choices=["error", "warning", "info", "none"], default="error"),
                   return_snapshot=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=options, supports_check_mode=True)  # it only reads
    run_module(module, doctor)


if __name__ == "__main__":
    main()
