"""Rewriting a snapshot (``dlws snapshot --snapshot FOLDER``, ``--redact``): read an existing snapshot folder's
members back within the limits an archive has, and compute the inventory.json that a replay of (rewritten) members
gives, so that the snapshot written replays into the inventory it carries.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Dict

from provision.errors import SnapshotError
from provision.snapshot import json_member, open_snapshot, write_snapshot
from provision.snapshot_archive import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_TOTAL_BYTES


def read_members(folder: str) -> Dict[str, str]:
    """Every file of a snapshot folder (relative path -> text), within the limits an archive has."""
    members: Dict[str, str] = {}
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            if len(members) >= MAX_MEMBERS:
                raise SnapshotError("snapshot %s has more than %d files" % (folder, MAX_MEMBERS))
            with open(path, "rb") as handle:
                data = handle.read(MAX_MEMBER_BYTES + 1)
            total += len(data)
            if len(data) > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                raise SnapshotError("snapshot %s is too large to rewrite" % folder)
            members[os.path.relpath(path, folder).replace(os.sep, "/")] = data.decode("utf-8", "replace")
    return members


def replay_inventory(members: Dict[str, str]) -> str:
    """inventory.json as a replay of these members computes it (so that a rewritten snapshot replays into it)."""
    from provision.inventory import collect  # the probes: only when a snapshot is rewritten

    folder = tempfile.mkdtemp(prefix="dlws-replay-")
    try:
        write_snapshot(members, folder + "/")
        return json_member(collect(open_snapshot(folder)).to_dict())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
