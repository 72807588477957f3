"""The inventory's types at its boundary: a wrongly typed value from a snapshot or a fleet host's doctor.json becomes
unknown with a problem naming it; a well-typed inventory passes unchanged."""

import json
import os

import pytest

from provision.inventory import collect
from provision.inventory.conform import MAX_STRING, conform_inventory
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snapshots")


@pytest.mark.parametrize("fixture", sorted(os.listdir(SNAPSHOTS)))
def test_recorded_inventories_pass_unchanged(fixture):
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()
    typed, problems = conform_inventory(inv)
    assert problems == []
    assert typed.to_dict() == inv


def test_wrong_types_become_unknown_and_are_named():
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "dgx-a100-8gpu"))).to_dict()
    inv["gpus"][0]["name"] = ["X\n- hosts: localhost"]
    inv["gpus"][1]["index"] = "1"  # a required field: the GPU cannot be kept
    inv["gpus"][2]["compute_capability"] = 8
    inv["cpu"]["flags"] = ["avx", 1, None]
    inv["memory"] = 5
    inv["os"]["glibc"] = "x" * (MAX_STRING + 1)
    inv["nvidia"]["pci_gpus"] = 2 ** 70
    inv["gpus"][3]["temperature_c"] = float("nan")
    typed, problems = conform_inventory(json.loads(json.dumps(inv)))
    out = typed.to_dict()
    assert out["gpus"][0]["name"] is None and out["gpus"][0]["index"] == 0
    assert [g["index"] for g in out["gpus"]] == [0, 2, 3, 4, 5, 6, 7]
    assert out["gpus"][1]["compute_capability"] is None
    assert out["cpu"]["flags"] == ["avx"]
    assert out["memory"]["total_bytes"] is None
    assert out["os"]["glibc"] is None and out["nvidia"]["pci_gpus"] is None
    assert out["gpus"][2]["temperature_c"] is None
    assert len(problems) == 9
    assert all(len(p) < 200 for p in problems)


def test_whatever_is_not_an_object_gives_an_empty_inventory():
    for value in (None, [], "inventory", 3):
        typed, problems = conform_inventory(value)
        assert typed.gpus == [] and len(problems) == 1
