"""The AMD PCI id table (amd_gpus devices, written by scripts/refresh_amd_gpus.py) and the rocm table: hand-checked
expectations, not a restatement of the tables."""

import importlib.util
import os

from provision.inventory import amd
from provision.knowledge import load, queries
from provision.knowledge import rocm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def refresh_script():
    spec = importlib.util.spec_from_file_location("refresh_amd_gpus", os.path.join(ROOT, "scripts",
                                                                                     "refresh_amd_gpus.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pci_ids_name_the_gfx_target():
    # amdgpu_drv.c: 0x67DF CHIP_POLARIS10, 0x687F CHIP_VEGA10, 0x73BF CHIP_SIENNA_CICHLID; kfd_device.c: Polaris10
    # 80003, GC 9.0.1 90000, GC 10.3.0 100300. pci.ids: 744c 'Navi 31 [Radeon RX 7900 XT/7900 XTX/...]', 74a1
    # 'Aqua Vanjaram [Instinct MI300X]'; ROCm's specifications: RX 7900 XTX gfx1100, MI300X gfx942.
    expected = {"0x67df": "gfx803", "0x687f": "gfx900", "0x73bf": "gfx1030", "0x744c": "gfx1100", "0x74a1": "gfx942",
                "0x66af": "gfx906", "0x731f": "gfx1010", "0x73df": "gfx1031", "0x7550": "gfx1201", "0x75a3": "gfx950"}
    assert {device: amd.lookup(device)["gfx_target"] for device in expected} == expected
    assert amd.lookup("0x67DF", "0xe1")["name"] == "AMD Radeon RX 590 Series"  # amdgpu.ids 67DF, E1
    assert amd.lookup("0x7550", "0xc0")["name"] == "AMD Radeon RX 9070 XT"


def test_the_table_covers_each_family_and_no_board_function():
    devices = load("amd_gpus")["devices"]
    targets = {row["gfx_target"] for row in devices.values()}
    assert {"gfx803", "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx950", "gfx1010", "gfx1012", "gfx1030",
            "gfx1032", "gfx1100", "gfx1102", "gfx1200", "gfx1201"} <= targets
    assert "0x7446" not in devices and "0xab30" not in devices  # Navi 31 USB, Navi 31 HDMI/DP audio
    assert len(devices) > 150


def test_refresh_script_reads_its_sources():
    script = refresh_script()
    drv = "static const struct pci_device_id pciidlist[] = {\n\t{0x1002, 0x67DF, PCI_ANY_ID, PCI_ANY_ID, 0, 0, " \
          "CHIP_POLARIS10},\n\t{0x1002, 0x6780, PCI_ANY_ID, PCI_ANY_ID, 0, 0, CHIP_TAHITI},\n"
    assert script.pciidlist(drv) == {"0x67df": "CHIP_POLARIS10", "0x6780": "CHIP_TAHITI"}
    names = script.pci_names("1002  Advanced Micro Devices\n\t744c  Navi 31 [Radeon RX 7900 XT]\n\t7446  Navi 31 USB\n"
                             "\t75a0  Aqua Vanjaram [Instinct MI350X]\n\t\t1002 0b0c  sub\n10de  NVIDIA\n\t744d  x\n")
    assert names == {"0x744c": "Navi 31 [Radeon RX 7900 XT]", "0x7446": "Navi 31 USB",
                     "0x75a0": "Aqua Vanjaram [Instinct MI350X]"}
    kernel = script.pciidlist(drv)
    assert script.chip_of("0x67df", kernel, names)[:3] == ("Polaris 10", "gfx803", "GCN4.0")
    assert script.chip_of("0x6780", kernel, names) is None  # Tahiti: GCN1, no ROCm target here
    assert script.chip_of("0x744c", kernel, names)[1] == "gfx1100"
    assert script.chip_of("0x7446", kernel, names) is None
    assert script.chip_of("0x75a0", kernel, names)[1:3] == ("gfx950", "CDNA4")
    assert script.amdgpu_ids("67DF,\tC1,\tAMD Radeon(TM) RX 580 Series\n# x\n") == {
        "0x67df": {"0xc1": "AMD Radeon RX 580 Series"}}


def test_a_row_that_disagrees_with_its_chip_fails_the_refresh():
    script = refresh_script()
    current = {"0x67df": {"reference": {"chip": "Polaris 10"}, "name": "x", "gfx_target": "gfx804",
                          "architecture": "GCN4.0", "source": "s"}}
    sources = {"kernel": "k", "libdrm": "l", "pciids": "p"}
    _, problems = script.build({"0x67df": "CHIP_POLARIS10"}, {}, {}, current, sources)
    assert problems == ["0x67df: the table says gfx804 GCN4.0, its chip Polaris 10 gives gfx803 GCN4.0"]
    current["0x67df"]["gfx_target"] = "gfx803"
    assert script.build({"0x67df": "CHIP_POLARIS10"}, {}, {}, current, sources)[1] == []


def test_rocm_tables():
    assert rocm.torch_rocm_gfx_targets("2.4.1+rocm6.1", "rocm6.1") == [
        "gfx900", "gfx906", "gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100"]
    assert "gfx1100" not in rocm.torch_rocm_gfx_targets("2.0.1", "rocm5.4.2")  # RDNA3 came with torch 2.1
    assert "gfx1201" in rocm.torch_rocm_gfx_targets("2.7", "rocm6.3")
    assert rocm.torch_rocm_gfx_targets("2.4", "rocm9.9") is None and rocm.torch_rocm_gfx_targets(None, 1) is None
    assert rocm.rocm_release_gfx_targets("6.1") == ["gfx908", "gfx90a", "gfx942", "gfx1030", "gfx1100"]
    assert "gfx906" in rocm.rocm_release_gfx_targets("5.7.1") and rocm.rocm_release_gfx_targets("4.5") is None


def test_rocm_rows_exist_in_frameworks():
    # Only builds frameworks.json publishes: a variant here that it lacks would never be asked about.
    for release, variants in load("rocm")["torch_builds"].items():
        row = queries.torch_release(release)
        assert row and set(variants) <= set(row["variants"]), release
