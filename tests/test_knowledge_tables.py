"""The small name tables of the knowledge base: every row cites a source, and a few facts match it; the doctor and
the setup planner read one copy of each fact."""

import copy
import json
import os

import pytest

from provision import compat, knowledge, planner
from provision.knowledge import frameworks as framework_queries, queries
from provision.planner import select
from provision.planner.model import Request

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


# --- one copy of each fact: the doctor and the setup planner read the same rows -------------------------------------


def _findings(inv, rule_id):
    from provision.doctor import diagnose

    return [f for f in diagnose(inv).findings if f.id == rule_id]


def _distribution_cases():
    """(id, version) of every distribution row; a row for any version ('*') at its family's oldest and at 40."""
    for row in knowledge.load("distributions")["distributions"]:
        if row["version"] != "*":
            yield row["id"], row["version"]
        else:
            family = queries.setup_family(row["id"]) or {}
            for version in {str(family.get("oldest_major") or 1), "40"}:
                yield row["id"], version


@pytest.mark.parametrize("id,version", sorted(set(_distribution_cases())))
def test_doctor_and_planner_agree_on_what_can_be_provisioned(id, version):
    inv = {"os": {"system": "linux", "id": id, "version": version}, "cpu": {"arch": "x86_64"}}
    manager = planner.package_manager(inv)
    complaint = _findings(inv, "DLWS-OS-002")
    assert bool(complaint) is (manager is None), (id, version, manager, complaint)


def test_fedora_40_has_a_dnf_plan_and_no_doctor_complaint():
    inv = {"os": {"system": "linux", "id": "fedora", "version": "40"}, "cpu": {"arch": "x86_64"},
           "python": {"version": "3.12.3"}}
    plan = planner.plan(inv, Request(("jax",)))
    assert plan.ok and plan.steps[0].id == "python" and plan.steps[0].actions[0].manager == "dnf"
    assert not _findings(inv, "DLWS-OS-002")


def test_macos_is_provisioned_with_pip_only():
    inv = {"os": {"system": "darwin", "id": "macos", "version": "14.5"}, "cpu": {"arch": "arm64"}}
    assert planner.package_manager(inv) is None and not _findings(inv, "DLWS-OS-002")


def test_release_rows_agree_with_their_family():
    """A release at or past its family's oldest has the package manager the planner drives there."""
    for row in knowledge.load("distributions")["distributions"]:
        family = queries.setup_family(row["id"])
        if family and family["package_manager"] and row["version"] != "*" \
                and int(row["version"].split(".")[0]) >= family["oldest_major"]:
            assert row["package_manager"] == family["package_manager"], row["id"]


def _gpu_box(gpu, cc, driver, cuda, frameworks, flags=("avx", "avx2")):
    return {"os": {"system": "linux", "id": "ubuntu", "version": "24.04", "glibc": "2.39"},
            "cpu": {"arch": "x86_64", "flags": list(flags), "model": "test CPU"}, "python": {"version": "3.12.3"},
            "nvidia": {"status": "ok", "driver_version": driver, "cuda_driver_version": cuda},
            "gpus": [{"index": 0, "vendor": "nvidia", "name": gpu, "compute_capability": cc}],
            "frameworks": frameworks}


def test_cpu_torch_hint_is_the_build_the_planner_chooses():
    # Blackwell (sm_120): only the CUDA 12.8+ builds carry its kernels, so a cu126 hint would install a torch that
    # fails with "no kernel image"; the hint is the planner's choice for this machine.
    inv = _gpu_box("NVIDIA GeForce RTX 5090", "12.0", "570.133.07", "12.8",
                   {"torch": {"version": "2.9.0+cpu", "build": "cpu"}})
    [finding] = _findings(inv, "DLWS-FW-002")
    verdict, _ = select.choose_framework(inv, Request(("pytorch",)), "pytorch", None)
    assert verdict.build.variant == "cu128" and "cu126" not in finding.fix
    assert finding.fix.startswith("pip install --force-reinstall torch==")
    assert "--index-url https://download.pytorch.org/whl/cu128 " in finding.fix
    # TensorFlow's GPU wheel comes from PyPI with its CUDA extra, quoted for the shell.
    inv["frameworks"] = {"tensorflow": {"version": "2.20.0", "build": "cpu"}}
    [finding] = _findings(inv, "DLWS-FW-002")
    assert finding.fix.startswith("pip install --force-reinstall 'tensorflow[and-cuda]==")
    assert "index-url" not in finding.fix


def test_cpu_build_hint_when_no_gpu_build_fits():
    inv = _gpu_box("NVIDIA GeForce RTX 5090", "12.0", "470.82.01", "11.4",
                   {"torch": {"version": "2.9.0+cpu", "build": "cpu"}})
    [finding] = _findings(inv, "DLWS-FW-002")
    assert "no pytorch GPU build fits" in finding.fix and "dlws setup --framework pytorch --dry-run" in finding.fix


def test_avx_and_retirement_come_from_the_frameworks_table(monkeypatch):
    old_tf = _gpu_box("Tesla T4", "7.5", "550.54.14", "12.4", {"tensorflow": {"version": "1.5.0", "build": "cpu"},
                                                                 "mxnet": {"version": "1.9.1", "package": "mxnet"}},
                      flags=("sse4_2",))
    assert not _findings(old_tf, "DLWS-FW-005")  # AVX since 1.6 only
    old_tf["frameworks"]["tensorflow"]["version"] = "2.15.1"
    assert _findings(old_tf, "DLWS-FW-005") and _findings(old_tf, "DLWS-FW-007")
    tf = compat.Build("tensorflow", "2.16", "cpu")
    assert compat.judge(old_tf, tf).problems == ["the CPU has no AVX, which TensorFlow's wheels need"]
    table = copy.deepcopy(knowledge.load("frameworks"))
    table["frameworks"]["mxnet"]["retired"] = False
    table["frameworks"]["tensorflow"]["avx"]["required"] = False
    monkeypatch.setattr(framework_queries, "load", lambda name: table if name == "frameworks" else knowledge.load(name))
    assert not _findings(old_tf, "DLWS-FW-007") and not _findings(old_tf, "DLWS-FW-005")
    assert compat.judge(old_tf, tf).ok and not compat.judge(old_tf, compat.Build("mxnet", "1.9", "cpu")).notes
