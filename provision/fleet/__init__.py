"""dlws for a fleet, through Ansible: gather snapshots and doctor reports, report on them, plan per hardware class.

The gather writes one folder per host of the Ansible inventory, named by its inventory_hostname where that is a
safe folder name (host_folder), under the output folder (a public layout that `fleet report` and `fleet plan` read):

    DIR/<host>/snapshot.tar.gz   the host's snapshot (dlws snapshot), replayable with --snapshot
    DIR/<host>/doctor.json       `dlws doctor --format json` of the host (inventory + findings)
    DIR/<host>/status.json       {"host": ..., "status": "ok" | "unreachable" | "failed", "message": ...}

A host that could not be reached or gathered has only status.json. status.json's "host" is the real
inventory_hostname, which the readers show (a folder name may be its safe form).
"""

import hashlib
import re

STATUS_FILE = "status.json"
DOCTOR_FILE = "doctor.json"
SNAPSHOT_FILE = "snapshot.tar.gz"

#: The characters a host's folder name may hold; a name made only of them (and not starting with "." or "-") is its
#: own folder, so an ordinary results folder reads as DIR/<inventory_hostname>/.
FOLDER_CHARS = re.compile(r"[^A-Za-z0-9._-]")
FOLDER_NAME_MAX = 128


def host_folder(host: str) -> str:
    """The folder of an inventory host under the results folder: the name itself where it is safe, else its safe
    characters (at most 64), "~" (which no safe name holds, so no two hosts share a folder) and 16 hex digits of
    its SHA-256. "../victim" -> "_victim~<hash>": no name climbs out, starts an option or hides itself."""
    clean = FOLDER_CHARS.sub("_", host)
    if clean == host and host[:1].isalnum() and len(host) <= FOLDER_NAME_MAX:
        return host
    digest = hashlib.sha256(host.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return "%s~%s" % (clean.lstrip(".-")[:64] or "host", digest)
