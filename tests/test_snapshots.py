"""Replay every snapshot fixture under tests/snapshots/ and check the facts its expected.json names.

Each fixture is a snapshot folder of a real machine (raw outputs copied from where SOURCE.md says) plus
expected.json: a subset of the inventory JSON. Dicts match on the keys given; lists match element by element
(expected list entries must match the first len(expected) entries, and the lengths must be equal unless the
expected list ends with the string "..."); scalars match exactly.
"""

import json
import os

import pytest

from provision.inventory import collect
from provision.snapshot import open_snapshot
from provision.summary import render

HERE = os.path.join(os.path.dirname(__file__), "snapshots")
FIXTURES = sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d)))


def mismatches(expected, actual, where="$"):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return ["%s: expected an object, got %r" % (where, actual)]
        out = []
        for key, value in expected.items():
            if key not in actual:
                out.append("%s.%s: missing" % (where, key))
            else:
                out.extend(mismatches(value, actual[key], "%s.%s" % (where, key)))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return ["%s: expected a list, got %r" % (where, actual)]
        open_ended = bool(expected) and expected[-1] == "..."
        items = expected[:-1] if open_ended else expected
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return ["%s: expected %d entries, got %d: %r" % (where, len(items), len(actual), actual)]
        out = []
        for i, value in enumerate(items):
            out.extend(mismatches(value, actual[i], "%s[%d]" % (where, i)))
        return out
    if expected != actual:
        return ["%s: expected %r, got %r" % (where, expected, actual)]
    return []


def test_there_are_fixtures():
    assert len(FIXTURES) >= 1


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_replays_to_expected_inventory(name):
    folder = os.path.join(HERE, name)
    assert os.path.isfile(os.path.join(folder, "SOURCE.md")), "every fixture says where its outputs come from"
    with open(os.path.join(folder, "expected.json")) as handle:
        expected = json.load(handle)
    inv = collect(open_snapshot(folder)).to_dict()
    problems = mismatches(expected, inv)
    assert not problems, "\n".join(problems)
    assert render(inv)  # the human summary renders whatever the fixture lacks


def test_mismatches_reports_differences():
    assert mismatches({"a": [1, "..."]}, {"a": [1, 2]}) == []
    assert mismatches({"a": [1]}, {"a": [1, 2]})
    assert mismatches({"a": {"b": 1}}, {"a": {"b": 2}})
    assert mismatches({"a": 1}, {})
