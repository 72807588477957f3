"""Every knowledge table has a JSON Schema beside it (provision/knowledge/schema/<table>.schema.json) and keeps to
it; and every key of every table is read by some code, so that no fact lives in the tables while code restates it.
"""

import copy
import glob
import json
import os

import jsonschema
import pytest

from provision import knowledge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.path.join(os.path.dirname(knowledge.DATA_DIR), "schema")
TABLES = sorted(name[:-len(".json")] for name in os.listdir(knowledge.DATA_DIR) if name.endswith(".json"))

#: Keys that document a row for people (provenance, prose, what is unverified) and no code needs to read; so does a
#: key ending in one of DOCUMENTATION_SUFFIXES ('cc_source', 'pypi_note', 'products_description'). 'reference' holds a
#: row's facts kept for readers, not read by dlws (a chip's code name, the compiler of a tested build): what is under
#: a documentation key is not walked.
DOCUMENTATION_KEYS = {"source", "sources", "note", "notes", "description", "verified", "unverified",
                      "unverified_fields", "table", "reference"}
DOCUMENTATION_SUFFIXES = ("_source", "_sources", "_note", "_notes", "_description")


def schema(name):
    with open(os.path.join(SCHEMA_DIR, name + ".schema.json"), encoding="utf-8") as handle:
        return json.load(handle)


def errors(name, data):
    return sorted(error.message for error in jsonschema.Draft7Validator(schema(name)).iter_errors(data))


def test_every_table_has_a_schema_and_every_schema_a_table():
    schemas = sorted(name[:-len(".schema.json")] for name in os.listdir(SCHEMA_DIR) if name.endswith(".schema.json"))
    assert schemas == TABLES


@pytest.mark.parametrize("name", TABLES)
def test_table_keeps_to_its_schema(name):
    jsonschema.Draft7Validator.check_schema(schema(name))
    assert errors(name, knowledge.load(name)) == []


def test_schema_requires_a_source_and_an_honest_verified_flag():
    table = copy.deepcopy(knowledge.load("distributions"))
    del table["distributions"][0]["source"]
    assert errors("distributions", table) == ["'source' is a required property"]
    table = copy.deepcopy(knowledge.load("distributions"))
    table["distributions"][0].update(verified=True)  # Ubuntu 18.04: its python3 is unverified
    assert errors("distributions", table) == ["False was expected"]
    table = copy.deepcopy(knowledge.load("nvidia_gpus"))
    del next(iter(table["gpus"].values()))["verified"]  # GPU rows always say whether they were checked
    assert errors("nvidia_gpus", table) == ["'verified' is a required property"]
    table = copy.deepcopy(knowledge.load("frameworks"))
    table["frameworks"]["pytorch"]["releases"][0]["typo_field"] = 1  # a key the schema does not declare
    assert errors("frameworks", table) == ["Additional properties are not allowed ('typo_field' was unexpected)"]


# --- every key is read by some code -----------------------------------------------------------------------------


def data_keys(data, node):
    """The field names used in data, walked along its schema: the keys of maps (GPU names, PCI ids, variants) are
    values, not fields, and are not collected; nor is anything under a documentation key (a row's 'reference')."""
    found = set()
    if isinstance(data, dict):
        fields = node.get("properties")
        for key, value in data.items():
            if fields is not None:
                found.add(key)
                if documentation(key):
                    continue
            found |= data_keys(value, fields.get(key, {}) if fields is not None else
                               node.get("additionalProperties") or {})
    elif isinstance(data, list):
        for value in data:
            found |= data_keys(value, node.get("items") or {})
    return found


def documentation(key):
    return key in DOCUMENTATION_KEYS or key.endswith(DOCUMENTATION_SUFFIXES)


def code_text():
    text = []
    for path in sorted(glob.glob(os.path.join(ROOT, "provision", "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as handle:
            text.append(handle.read())
    return "\n".join(text)


def unread(tables, code):
    """table -> the keys of its data that appear in no code as a string literal ('"key"' or "'key'")."""
    out = {}
    for name, (data, node) in tables.items():
        keys = {key for key in data_keys(data, node) if not documentation(key)}
        missing = {key for key in keys if '"%s"' % key not in code and "'%s'" % key not in code}
        if missing:
            out[name] = missing
    return out


def shipped_tables():
    return {name: (knowledge.load(name), schema(name)) for name in TABLES}


def test_every_data_key_is_read_by_some_code():
    # No exceptions: a fact no code reads is read where code restates it, dropped where it copies another, or kept
    # for readers under its row's 'reference'.
    found = unread(shipped_tables(), code_text())
    assert {name: sorted(keys) for name, keys in found.items()} == {}


def test_the_unread_key_checker_finds_a_planted_key():
    tables = shipped_tables()
    data, node = tables["distributions"]
    planted = copy.deepcopy(data)
    planted["distributions"][0]["kernel_floor"] = "5.4"
    planted["setup"][0]["upstream_note"] = "documentation: not reported"
    reference = planted["distributions"][1].setdefault("reference", {})
    reference["init_system"] = "systemd"  # a fact kept for readers: not reported
    planted_node = copy.deepcopy(node)
    row_node = planted_node["properties"]["distributions"]["items"]
    row_node["properties"]["kernel_floor"] = {"type": "string"}
    row_node["properties"].setdefault("reference", {"type": "object", "properties": {}})["properties"][
        "init_system"] = {"type": "string"}
    tables["distributions"] = (planted, planted_node)
    found = unread(tables, code_text())
    assert found == {"distributions": {"kernel_floor"}}
    # A key of a map (a GPU's name) is a value, never reported; a literal in the code counts as reading.
    assert "RTX 4090" in data_keys(knowledge.load("nvidia_gpus")["gpus"], {"properties": {}}) and \
        "RTX 4090" not in data_keys(*tables["nvidia_gpus"])
    assert unread(tables, code_text() + '\n"kernel_floor"') == {}
