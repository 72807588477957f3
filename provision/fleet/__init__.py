"""dlws for a fleet, through Ansible: gather snapshots and doctor reports, report on them, plan per hardware class.

The gather writes one folder per host of the Ansible inventory, named by its inventory_hostname, under the output
folder (a public layout that `fleet report` and `fleet plan` read):

    DIR/<host>/snapshot.tar.gz   the host's snapshot (dlws snapshot), replayable with --snapshot
    DIR/<host>/doctor.json       `dlws doctor --format json` of the host (inventory + findings)
    DIR/<host>/status.json       {"host": ..., "status": "ok" | "unreachable" | "failed", "message": ...}

A host that could not be reached or gathered has only status.json.
"""

STATUS_FILE = "status.json"
DOCTOR_FILE = "doctor.json"
SNAPSHOT_FILE = "snapshot.tar.gz"
