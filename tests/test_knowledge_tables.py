"""The small name tables of the knowledge base: every row cites a source, and a few facts match it."""

import json
import os

import pytest

from provision import knowledge

DATA = knowledge.DATA_DIR


def test_every_table_names_itself_and_a_source():
    for name in sorted(os.listdir(DATA)):
        with open(os.path.join(DATA, name)) as handle:
            table = json.load(handle)
        assert table.get("table") == name[:-len(".json")], name
        assert table.get("source") or table.get("description"), name


def test_arm_rows_cite_lscpu_and_match_it():
    table = knowledge.load("arm_cpus")["implementers"]
    for implementer, row in table.items():
        assert "lscpu-arm.c" in row["source"], implementer
    # util-linux sys-utils/lscpu-arm.c arm_part[]: { 0xd0c, "Neoverse-N1" }, { 0xd40, "Neoverse-V1" },
    # { 0xd4f, "Neoverse-V2" }, { 0xd42, "Cortex-A78AE" }; ampere_part[]: { 0xac3, "Ampere-1" }
    assert table["0x41"]["parts"]["0xd0c"] == "Neoverse-N1"
    assert table["0x41"]["parts"]["0xd40"] == "Neoverse-V1"
    assert table["0x41"]["parts"]["0xd4f"] == "Neoverse-V2"
    assert table["0x41"]["parts"]["0xd42"] == "Cortex-A78AE"
    assert table["0xc0"]["name"] == "Ampere" and table["0xc0"]["parts"]["0xac3"] == "Ampere-1"


@pytest.mark.parametrize("section", ["frameworks", "plugins"])
def test_python_package_rows_cite_a_source(section):
    for row in knowledge.load("python_packages")[section]:
        assert len(row.get("source", "")) > 10, row


def test_python_package_facts():
    table = knowledge.load("python_packages")
    packages = {row.get("package") or row["package_prefix"]: row for row in table["frameworks"]}
    assert packages["tensorflow-cpu"]["build"] == "cpu"
    plugins = {row["package"]: row for row in table["plugins"]}
    assert plugins["jax-cuda13-plugin"]["cuda"] == "13" and plugins["tensorflow-metal"]["build"] == "metal"
    for name, row in table["libraries"].items():
        assert row["source"] and row["wheels"], name


def test_override_folder_replaces_a_table(tmp_path, monkeypatch):
    (tmp_path / "arm_cpus.json").write_text(json.dumps({"table": "arm_cpus", "implementers": {}}))
    monkeypatch.setenv("DLWS_KNOWLEDGE_DIR", str(tmp_path))
    knowledge.load.cache_clear()
    try:
        assert knowledge.load("arm_cpus")["implementers"] == {}
        assert "pytorch" in knowledge.load("frameworks")["frameworks"]  # tables not overridden still load
    finally:
        knowledge.load.cache_clear()
