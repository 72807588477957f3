"""AMD APUs ROCm runs (RDNA 3.5: Strix Point gfx1150, Strix Halo gfx1151, Krackan gfx1152) named by PCI id, the
overrides users set on them, and the ROCm error texts that point at HSA_OVERRIDE_GFX_VERSION or a build without the
GPU's code objects (each text from the public report noted beside it)."""

import copy

from provision.doctor import diagnose
from provision.doctor.error_input import read_error
from provision.doctor.error_text import explain
from provision.doctor.rules.visibility import hsa_override
from provision.inventory import amd
from provision.knowledge import rocm
from test_amd_knowledge import refresh_script
from test_doctor_fixtures import TODAY, inventory

STRIX_HALO = "strix-halo-gfx1151-hsa-override-11.0.0-memory-fault"
#: ROCm/legacy-rocm-build#5824 (the Strix Halo fixture's report).
FAULT_5824 = ("Memory access fault by GPU node-1 (Agent handle: 0x1b376c50) on address 0x7f762a667000. Reason: Page "
              "not present or supervisor privilege.\nAborted (core dumped)")
#: ROCm/legacy-rocm-build#5238 (the MI210 fixture's report).
FAULT_5238 = "Memory access fault by GPU node-2 (Agent handle: 0x63155be5d980) on address (nil). Reason: Unknown."
#: ROCm/legacy-rocm-build#2536 (the RX 6700 XT fixture's report).
INVALID_2536 = "RuntimeError: HIP error: invalid device function\nHIP kernel errors might be asynchronously reported"
#: likelovewant/ROCmLibs-for-gfx1103-AMD780M-APU#37 (gfx1150 under HSA_OVERRIDE_GFX_VERSION=11.0.0).
INVALID_ISA = ("Callback: Queue 0x7f7f4d000000 aborting with error : HSA_STATUS_ERROR_INVALID_ISA: The instruction set "
               "architecture is invalid. code: 0x100f")


def run(inv, text):
    report = diagnose(inv, today=TODAY)
    explain(report, read_error([text], None))
    return report


def test_rdna35_apus_are_named_and_integrated():
    # pci.ids 1586 'Strix Halo [... Radeon 8060S Graphics]', 150e 'Strix [Radeon 880M / 890M]', 1114 'Krackan [...]';
    # LLVM AMDGPUUsage (llvm/llvm-project#163717): gfx1150 Radeon 890M, gfx1151 Radeon 8060S, gfx1152 Radeon 860M
    assert {d: amd.lookup(d)["gfx_target"] for d in ("0x1586", "0x150e", "0x1114")} == {
        "0x1586": "gfx1151", "0x150e": "gfx1150", "0x1114": "gfx1152"}
    assert all(amd.lookup(d)["integrated"] is True for d in ("0x1586", "0x150e", "0x1114"))
    assert amd.lookup("0x1586", "0xc1")["name"] == "AMD Radeon 8060S Graphics"  # amdgpu.ids 1586, C1
    assert amd.lookup("0x15bf") == {}  # Phoenix1 (gfx1103): LLVM names no product, so no row
    assert amd.lookup("0x744c")["integrated"] is None  # a discrete card's row says nothing; the probe reads False


def test_refresh_script_matches_the_whole_apu_code_name():
    script = refresh_script()
    names = script.pci_names("1002  AMD\n\t1586  Strix Halo [Radeon 8060S Graphics]\n\t150e  Strix [Radeon 890M]\n"
                             "\t15bf  Phoenix1\n\t1587  Strix Halo Audio Controller\n")
    assert script.chip_of("0x1586", {}, names)[:3] == ("Strix Halo", "gfx1151", "RDNA3.5")
    assert script.chip_of("0x150e", {}, names)[:3] == ("Strix", "gfx1150", "RDNA3.5")
    assert script.chip_of("0x15bf", {}, names) is None
    assert script.chip_of("0x1587", {}, names) is None  # a function of the APU that is no GPU
    row = script.new_row("0x1586", script.chip_of("0x1586", {}, names), names, {}, {"kernel": "k", "libdrm": "l",
                                                                                    "pciids": "p"})
    assert row["integrated"] is True and row["gfx_target"] == "gfx1151"


def test_the_strix_halo_fixture_is_an_integrated_gfx1151():
    gpu = inventory(STRIX_HALO)["gpus"][0]
    assert (gpu["gfx_target"], gpu["integrated"], gpu["vendor"]) == ("gfx1151", True, "amd")


def test_an_in_family_override_on_the_apu_is_an_info_and_another_family_an_error():
    inv = inventory(STRIX_HALO)
    found = hsa_override.run(inv, TODAY)
    assert [(f.id, f.severity) for f in found] == [("DLWS-ENV-004", "info")]
    assert found[0].evidence["loads"] == "gfx1100" and "gfx1151" in found[0].fix
    wrong = copy.deepcopy(inv)
    wrong["env_vars"]["HSA_OVERRIDE_GFX_VERSION"] = "10.3.0"  # RDNA2's target on an RDNA 3.5 GPU
    assert [f.severity for f in hsa_override.run(wrong, TODAY)] == ["error"]
    del wrong["env_vars"]["HSA_OVERRIDE_GFX_VERSION"]
    assert hsa_override.run(wrong, TODAY) == []


def test_a_memory_fault_names_the_override_it_cannot_confirm():
    report = run(inventory(STRIX_HALO), FAULT_5824)
    assert [m["signature"] for m in report.error["matches"]] == ["hsa-memory-access-fault"]
    unconfirmed = [f for f in report.findings if f.id == "DLWS-ERR-001"]
    assert len(unconfirmed) == 1 and not any(f.explains_error for f in report.findings)
    causes = unconfirmed[0].evidence["candidate causes"]
    assert "only an info finding, DLWS-ENV-004" in causes[0] and "nothing found" not in causes[0]
    assert "no check can see it" in causes[1]  # the MES firmware of ROCm/legacy-rocm-build#5724


def test_a_memory_fault_is_explained_by_an_override_of_another_family():
    report = run(inventory("mi210-rx6600-hsa-override-gfx1030"), FAULT_5238)
    assert sorted({f.id for f in report.findings if f.explains_error}) == ["DLWS-ENV-004"]
    assert not [f for f in report.findings if f.id == "DLWS-ERR-001"]


def test_invalid_device_function_is_explained_by_the_build_without_code_objects():
    report = run(inventory("rx6700xt-torch22-rocm57-gfx1031"), INVALID_2536)
    assert [m["signature"] for m in report.error["matches"]] == ["hip-invalid-device-function"]
    assert sorted({f.id for f in report.findings if f.explains_error}) == ["DLWS-FW-008"]


def test_invalid_isa_on_a_machine_without_override_stays_unconfirmed():
    report = run(inventory("rx6700xt-torch22-rocm57-gfx1031"), INVALID_ISA)
    assert [m["signature"] for m in report.error["matches"]] == ["hsa-invalid-isa"]
    assert sorted({f.id for f in report.findings if f.explains_error}) == ["DLWS-FW-008"]  # the build lacks gfx1031
    report = run(inventory(STRIX_HALO), INVALID_ISA)
    assert not any(f.explains_error for f in report.findings)


def test_torch_rocm64_and_rocm72_lists():
    # rocm6.4 wheels (2.8, 2.9) have no gfx1150/gfx1151 (pytorch/pytorch#167299: gfx115x only for ROCm >= 7.0);
    # the rocm7.2 torch of astral-sh/uv#18730 lists them
    for release in ("2.8.0", "2.9.0"):
        targets = rocm.torch_rocm_gfx_targets(release + "+rocm6.4", "rocm6.4")
        assert "gfx1201" in targets and "gfx1151" not in targets and "gfx950" not in targets
    assert {"gfx950", "gfx1150", "gfx1151"} <= set(rocm.torch_rocm_gfx_targets("2.11.0+rocm7.2", "rocm7.2"))
    assert rocm.torch_rocm_gfx_targets("2.10.0+rocm7.1", "rocm7.1") is None  # sources disagree: not judged


# --- the kernel's KFD topology: the gfx target of a GPU the PCI id table lacks ------------------------------------

def kfd_node(node, **props):
    return {"%s/%s/properties" % (amd.KFD_NODES, node): "".join("%s %s\n" % kv for kv in props.items())}


def test_kfd_names_the_gfx_target_of_a_gpu_the_table_lacks():
    from test_gpus_other import host_with, pci_device

    files = {}
    files.update(kfd_node(0, cpu_cores_count=16, simd_count=0, gfx_target_version=0))  # the CPU node
    # a Phoenix APU (0x15bf: no table row), GC 11.0.3 at c4:00.0 (location_id = bus << 8 | devfn)
    files.update(kfd_node(1, simd_count=24, gfx_target_version=110003, location_id=0xC400, domain=0))
    files.update(kfd_node(2, simd_count=240, gfx_target_version=90010, location_id=0x0300, domain=0))  # MI210
    host = host_with(pci_device("0000:c4:00.0", "0x1002", "0x15bf", "0x030000", driver="amdgpu"),
                     pci_device("0000:03:00.0", "0x1002", "0x740f", driver="amdgpu"), files=files)
    targets = amd.kfd_gfx_targets(host)
    assert targets == {"0000:c4:00.0": "gfx1103", "0000:03:00.0": "gfx90a"}
    gpus = [amd.amd_gpu(host, i, d, targets) for i, d in enumerate(amd.pci.gpu_devices(host, "amd"))]
    assert {g.pci_bus_id: (g.gfx_target, g.integrated) for g in gpus} == {
        "0000:03:00.0": ("gfx90a", False), "0000:c4:00.0": ("gfx1103", None)}  # no table row: integrated unknown


def test_kfd_properties_that_are_not_numbers_or_targets_are_skipped():
    assert amd.parse_kfd_properties("gfx_target_version 110501\nname gfx1151\nx 1 2\nlong " + "9" * 40) == {
        "gfx_target_version": 110501}
    assert [amd.gfx_name(v) for v in (110501, 90010, 90402, 120001, 80003, 0, 111600, 10 ** 12)] == [
        "gfx1151", "gfx90a", "gfx942", "gfx1201", "gfx803", None, None, None]
    from test_gpus_other import FakeHost

    many = {}
    for node in range(amd.MAX_KFD_NODES + 50):
        many.update(kfd_node(node, simd_count=1, gfx_target_version=110000, location_id=node, domain=1))
    assert len(amd.kfd_gfx_targets(FakeHost(many))) <= amd.MAX_KFD_NODES
    assert amd.kfd_gfx_targets(FakeHost({})) == {}


def test_an_in_family_override_where_the_build_has_the_gpus_own_code_objects_is_a_warning():
    from test_doctor_rules import healthy, rocm_torch

    def found(gfx, version, value="11.0.0"):
        inv = rocm_torch(healthy(), gfx, version)
        inv["env_vars"]["HSA_OVERRIDE_GFX_VERSION"] = value
        return [(f.severity, f.evidence.get("installed build")) for f in hsa_override.run(inv, TODAY)]
    # torch 2.7 rocm6.3 carries gfx1101 (astral-sh/uv#14086): the override only swaps it for gfx1100's
    assert found("gfx1101", "2.7.1+rocm6.3") == [("warning", "torch 2.7.1+rocm6.3 has gfx1101")]
    assert found("gfx1101", "2.4.1+rocm6.1") == [("info", None)]  # 2.4 lacks gfx1101: the usual workaround
    assert found("gfx1151", "2.10.0+rocm7.1") == [("info", None)]  # no known list: no claim
    assert found("gfx1201", "2.7.1+rocm6.3") == [("error", None)]  # 11.0.0 on RDNA4: another family
