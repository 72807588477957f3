"""AMD, Intel, Jetson and Apple GPUs: the parsers and probes on real outputs, and the tables they read."""

import json
import re
from typing import Any, Dict, List, Optional, Sequence

import pytest

from provision import knowledge
from provision.host import RC_NOT_FOUND, CommandResult, Host, command_key
from provision.inventory import amd, apple, intel, jetson
from provision.inventory.model import Gpu, Inventory, Memory

# --- a host made of a few files ----------------------------------------------------------------------------------


class FakeHost(Host):
    def __init__(self, files: Dict[str, str], links: Optional[Dict[str, str]] = None,
                 commands: Optional[Dict[str, CommandResult]] = None, facts: Optional[Dict[str, Any]] = None):
        self.files, self.links = files, links or {}
        self.commands, self.facts = commands or {}, facts or {}

    def read(self, path: str) -> Optional[str]:
        return self.files.get(path)

    def listdir(self, path: str) -> Optional[List[str]]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in self.files if p.startswith(prefix)}
        return sorted(names) or None

    def realpath(self, path: str) -> Optional[str]:
        if path in self.links:
            return self.links[path]
        return path if path in self.files or self.listdir(path) else None

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        return self.commands.get(command_key(argv), CommandResult("", "not found", RC_NOT_FOUND))

    def fact(self, name: str, arg: str = "") -> Any:
        return self.facts.get("%s:%s" % (name, arg) if arg else name)


def pci_device(address: str, vendor: str, device: str, pci_class: str = "0x038000", revision: str = "0x00",
               driver: Optional[str] = None, **extra: str):
    base = "/sys/bus/pci/devices/%s/" % address
    files = {base + "vendor": vendor + "\n", base + "device": device + "\n", base + "class": pci_class + "\n",
             base + "revision": revision + "\n"}
    files.update({base + name: value + "\n" for name, value in extra.items()})
    links = {base + "driver": "/sys/bus/pci/drivers/" + driver} if driver else {}
    return files, links


def host_with(*devices, **kwargs) -> FakeHost:
    files: Dict[str, str] = dict(kwargs.pop("files", {}))
    links: Dict[str, str] = {}
    for device_files, device_links in devices:
        files.update(device_files)
        links.update(device_links)
    return FakeHost(files, links, **kwargs)


# --- AMD ---------------------------------------------------------------------------------------------------------

# An MI250X card is two GCDs, two PCI devices: 1002:740c rev 01 per libdrm's amdgpu.ids, 64 GiB less the driver's
# reserve each (68702699520 bytes, as rocm-smi / HIP report it on an MI250X).
MI250X = [pci_device("0000:%s:00.0" % bus, "0x1002", "0x740c", revision="0x01", driver="amdgpu",
                     mem_info_vram_total="68702699520") for bus in ("c1", "c6")]


def test_each_mi250x_gcd_is_a_gpu_named_from_its_pci_id():
    inv = Inventory()
    amd.probe(host_with(*MI250X), inv)
    assert [g.pci_bus_id for g in inv.gpus] == ["0000:c1:00.0", "0000:c6:00.0"]
    assert [g.index for g in inv.gpus] == [0, 1]
    for gpu in inv.gpus:
        assert (gpu.vendor, gpu.name, gpu.gfx_target, gpu.architecture) == (
            "amd", "AMD Instinct MI250X / MI250", "gfx90a", "CDNA2")
        assert gpu.memory_total_bytes == 68702699520  # sysfs wins over the table's 64 GiB
        assert gpu.kernel_driver == "amdgpu" and gpu.integrated is False


def test_an_unknown_amd_id_is_still_a_gpu_with_its_id():
    inv = Inventory()
    amd.probe(host_with(pci_device("0000:03:00.0", "0x1002", "0x1234", pci_class="0x030000",
                                   mem_info_vram_total="8573157376")), inv)
    (gpu,) = inv.gpus
    assert gpu.name is None and gpu.gfx_target is None and gpu.integrated is None
    assert gpu.pci_device_id == "0x1234" and gpu.memory_total_bytes == 8573157376 and gpu.kernel_driver is None


def test_the_revision_names_one_of_several_products_behind_an_id():
    assert amd.lookup("0x744C", "0xc8")["name"] == "AMD Radeon RX 7900 XTX"
    assert amd.lookup("0x744c", "0xce")["memory_gib"] == 16
    family = amd.lookup("0x744c", "0x99")  # a revision the table does not know: the family, no memory
    assert family["name"].startswith("AMD Radeon RX 7900") and family["memory_gib"] is None
    assert family["gfx_target"] == "gfx1100"
    assert amd.lookup("0xffff") == {}


def test_table_memory_fills_in_when_sysfs_has_none():
    inv = Inventory()
    amd.probe(host_with(pci_device("0000:83:00.0", "0x1002", "0x74a1", pci_class="0x120000", driver="amdgpu")), inv)
    assert inv.gpus[0].name == "AMD Instinct MI300X" and inv.gpus[0].gfx_target == "gfx942"
    assert inv.gpus[0].memory_total_bytes == 192 * 1024 ** 3


def test_non_gpu_and_other_vendor_devices_are_not_amd_gpus():
    inv = Inventory()
    amd.probe(host_with(pci_device("0000:c1:00.1", "0x1002", "0xab38", pci_class="0x040300"),  # HDMI audio
                        pci_device("0000:01:00.0", "0x10de", "0x20b0", pci_class="0x030200")), inv)
    assert inv.gpus == []


@pytest.mark.parametrize("text, version", [("6.0.2-115\n", "6.0.2"), ("5.7.1\n", "5.7.1"), ("6.3.0-39", "6.3.0"),
                                           ("", None), ("unknown", None)])
def test_rocm_version_drops_the_build_number(text, version):
    assert amd.parse_rocm_version(text) == version


def test_rocm_path_is_preferred_and_the_link_is_resolved():
    host = FakeHost({"/opt/rocm/.info/version": "5.7.1-98\n", "/opt/rocm-6.1.0/.info/version": "6.1.0-82\n"},
                    links={"/opt/rocm": "/opt/rocm-5.7.1"}, facts={"env:ROCM_PATH": "/opt/rocm-6.1.0"})
    assert amd.rocm(host).version == "6.1.0" and amd.rocm(host).path == "/opt/rocm-6.1.0"
    del host.facts["env:ROCM_PATH"]
    assert (amd.rocm(host).version, amd.rocm(host).path) == ("5.7.1", "/opt/rocm-5.7.1")
    assert amd.rocm(FakeHost({})).version is None


# --- Intel -------------------------------------------------------------------------------------------------------


def test_intel_discrete_gpus_are_named_and_the_igpu_is_skipped():
    inv = Inventory()
    host = host_with(pci_device("0000:00:02.0", "0x8086", "0x4680", pci_class="0x030000", driver="i915"),  # iGPU
                     pci_device("0000:03:00.0", "0x8086", "0x56a0", pci_class="0x030000", driver="i915"),
                     pci_device("0000:4d:00.0", "0x8086", "0x0bd5", pci_class="0x038000", driver="i915"),
                     pci_device("0000:9a:00.0", "0x8086", "0xe20b", pci_class="0x030000", driver="xe"))
    intel.probe(host, inv)
    assert [(g.index, g.pci_bus_id, g.name, g.architecture) for g in inv.gpus] == [
        (0, "0000:03:00.0", "Intel Arc A770", "Xe-HPG"),
        (1, "0000:4d:00.0", "Intel Data Center GPU Max 1550", "Xe-HPC"),
        (2, "0000:9a:00.0", None, None),  # newer than the table, but not the iGPU slot: still reported
    ]
    assert [g.integrated for g in inv.gpus] == [False, False, None]


# --- Jetson ------------------------------------------------------------------------------------------------------

R32_NANO = ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, "
            "DATE: Sat Feb 19 17:05:08 UTC 2022\n")
R35 = ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
       "DATE: Tue Aug  1 19:57:35 UTC 2023\n")
R36 = ("# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64, "
       "DATE: Fri Jul 19 23:24:25 UTC 2024\n"
       "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n"
       "TARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n")
ORIN_64GB = "nvidia,p3737-0000+p3701-0005\x00nvidia,p3701-0005\x00nvidia,tegra234\x00nvidia,tegra23x\x00"


@pytest.mark.parametrize("text, l4t", [(R32_NANO, "32.7.1"), (R35, "35.4.1"), (R36, "36.3.0"),
                                       ("# R34 (release), REVISION: 1.1, GCID: 30414990", "34.1.1"),
                                       ("garbage", None), ("", None)])
def test_l4t_release(text, l4t):
    assert jetson.parse_l4t_release(text) == l4t


def test_the_soc_comes_from_the_nul_separated_compatible_list():
    entries = jetson.parse_compatible(ORIN_64GB)
    assert entries == ["nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234", "nvidia,tegra23x"]
    facts = jetson.soc_facts(entries)
    assert (facts["tegra"], facts["compute_capability"], facts["architecture"]) == ("tegra234", "8.7", "Ampere")
    assert jetson.soc_facts(["raspberrypi,4-model-b", "brcm,bcm2711"]) == {}


def _jetson_host(release: Optional[str], compatible: str, model: str) -> FakeHost:
    files = {"/proc/device-tree/compatible": compatible, "/proc/device-tree/model": model}
    if release is not None:
        files["/etc/nv_tegra_release"] = release
    return FakeHost(files)


def test_a_jetson_without_nvidia_smi_gets_its_integrated_gpu():
    inv = Inventory(memory=Memory(total_bytes=4051832 * 1024))
    inv.nvidia.status = "no-gpu"  # what the NVIDIA probe concludes on an L4T 32 Jetson Nano
    nano = "nvidia,p3449-0000-b00+p3448-0002-b00\x00nvidia,jetson-nano\x00nvidia,tegra210\x00"
    jetson.probe(_jetson_host(R32_NANO, nano, "NVIDIA Jetson Nano Developer Kit\x00"), inv)
    assert (inv.jetson.l4t, inv.jetson.model) == ("32.7.1", "NVIDIA Jetson Nano Developer Kit")
    (gpu,) = inv.gpus
    assert (gpu.vendor, gpu.integrated, gpu.compute_capability, gpu.architecture) == ("nvidia", True, "5.3", "Maxwell")
    assert gpu.memory_total_bytes == 4051832 * 1024
    assert (inv.nvidia.source, inv.nvidia.status) == ("jetson", "ok")


def test_jetson_leaves_a_gpu_the_nvidia_probe_found_and_its_failures_alone():
    inv = Inventory()
    inv.gpus.append(Gpu(index=0, vendor="nvidia", name="Orin (nvgpu)"))
    inv.nvidia.source, inv.nvidia.status = "nvidia-smi", "ok"
    jetson.probe(_jetson_host(R36, ORIN_64GB, "NVIDIA Jetson AGX Orin Developer Kit\x00"), inv)
    assert [g.name for g in inv.gpus] == ["Orin (nvgpu)"] and inv.nvidia.source == "nvidia-smi"
    assert inv.jetson.l4t == "36.3.0"

    broken = Inventory()
    broken.nvidia.status = "nvml-error"
    jetson.probe(_jetson_host(R35, ORIN_64GB, "NVIDIA Jetson AGX Orin Developer Kit\x00"), broken)
    assert broken.gpus[0].compute_capability == "8.7" and broken.nvidia.status == "nvml-error"


def test_not_a_jetson_and_a_garbled_release_file():
    inv = Inventory()
    jetson.probe(FakeHost({}), inv)
    assert inv.jetson.l4t is None and inv.gpus == [] and inv.errors == []
    jetson.probe(_jetson_host("not a release line\n", ORIN_64GB, "x\x00"), inv)
    assert inv.jetson.l4t is None and [e.probe for e in inv.errors] == ["jetson"]
    assert inv.gpus[0].compute_capability == "8.7"  # the device tree still names the SoC


# --- Apple -------------------------------------------------------------------------------------------------------

# `ioreg -rd1 -c AGXAccelerator` on an M2 Max, as captured in a public test (see tests/snapshots/macos-m2-max).
IOREG_M2_MAX = """+-o AGXAcceleratorG14X  <class AGXAcceleratorG14X, id 0x1000005da, registered>
    {
      "IOMatchedAtBoot" = Yes
      "PerformanceStatistics" = {"In use system memory (driver)"=0,"Alloc system memory"=10952982528,"Tiler Utilization %"=7,"Renderer Utilization %"=7,"Device Utilization %"=7,"In use system memory"=1202913280}
      "model" = "Apple M2 Max"
      "gpu-core-count" = 38
    }
"""


def test_ioreg_properties():
    props = apple.parse_ioreg(IOREG_M2_MAX)
    assert props["model"] == "Apple M2 Max" and props["gpu-core-count"] == "38"
    assert props["IOMatchedAtBoot"] == "Yes"
    assert apple.parse_ioreg("") == {}
    second = IOREG_M2_MAX + IOREG_M2_MAX.replace("Apple M2 Max", "Other").replace("= 38", "= 10")
    assert apple.parse_ioreg(second)["gpu-core-count"] == "38"  # the first entry only


def _mac(machine: str, ioreg: Optional[CommandResult]) -> FakeHost:
    commands = {command_key(apple.IOREG): ioreg} if ioreg else {}
    return FakeHost({}, commands=commands, facts={"platform": {"system": "darwin", "machine": machine}})


def test_apple_silicon_gpu_with_unified_memory():
    inv = Inventory(memory=Memory(total_bytes=68719476736))
    apple.probe(_mac("arm64", CommandResult(IOREG_M2_MAX, "", 0)), inv)
    (gpu,) = inv.gpus
    assert (gpu.vendor, gpu.name, gpu.cores, gpu.integrated) == ("apple", "Apple M2 Max", 38, True)
    assert gpu.memory_total_bytes == 68719476736 and inv.errors == []


def test_apple_gpu_falls_back_to_the_chip_name_when_ioreg_fails():
    inv = Inventory()
    inv.cpu.model = "Apple M1"
    apple.probe(_mac("arm64", None), inv)
    assert (inv.gpus[0].name, inv.gpus[0].cores) == ("Apple M1", None)
    assert [e.probe for e in inv.errors] == ["apple"]


def test_no_apple_gpu_off_apple_silicon():
    inv = Inventory()
    apple.probe(_mac("x86_64", CommandResult(IOREG_M2_MAX, "", 0)), inv)
    apple.probe(FakeHost({}, facts={"platform": {"system": "linux", "machine": "aarch64"}}), inv)
    assert inv.gpus == []


# --- the tables --------------------------------------------------------------------------------------------------

TABLES = {"amd_gpus": "devices", "intel_gpus": "devices", "jetson": "socs"}


@pytest.mark.parametrize("table, key", sorted(TABLES.items()))
def test_every_row_cites_its_source(table, key):
    data = knowledge.load(table)
    assert data.get("source")
    rows = data[key]
    assert rows
    for name, row in rows.items():
        assert isinstance(row.get("source"), str) and len(row["source"]) > 10, "%s %s has no source" % (table, name)


def test_table_keys_and_values_have_the_shape_the_probes_read():
    for device_id, row in knowledge.load("amd_gpus")["devices"].items():
        assert re.fullmatch(r"0x[0-9a-f]{4}", device_id), device_id
        assert re.fullmatch(r"gfx\d{2,3}[0-9a-f]", row["gfx_target"]), device_id
        assert row["name"].startswith("AMD ")
        for revision, product in row.get("revisions", {}).items():
            assert re.fullmatch(r"0x[0-9a-f]{2}", revision) and product["name"].startswith("AMD ")
    for device_id, row in knowledge.load("intel_gpus")["devices"].items():
        assert re.fullmatch(r"0x[0-9a-f]{4}", device_id) and row["name"].startswith("Intel ")
    for soc, row in knowledge.load("jetson")["socs"].items():
        assert soc.startswith("tegra") and re.fullmatch(r"\d+\.\d", row["compute_capability"])


# rocm-smi --showproductname --json: key spellings of ROCm 5 ("Card series") and 6 ("Card Series"), plus a system
# entry, as projects parsing it record them (e.g. the rocm-smi samples in llmbench and profiler test suites).
ROCM_SMI_PRODUCTS = json.dumps({
    "card1": {"Card Series": "AMD Instinct MI300X", "Card Model": "0x74a1", "Card Vendor": "Advanced Micro Devices"},
    "card0": {"Card series": "Radeon RX 7900 XTX", "Card model": "0x744c"},
    "system": {"Driver version": "6.7.0"},
})


def test_parse_rocm_smi_names():
    assert amd.parse_rocm_smi_names(ROCM_SMI_PRODUCTS) == ["Radeon RX 7900 XTX", "AMD Instinct MI300X"]
    assert amd.parse_rocm_smi_names("not json") == [] and amd.parse_rocm_smi_names("[1]") == []


def test_rocm_smi_names_a_gpu_the_table_does_not_know():
    unknown = pci_device("0000:03:00.0", "0x1002", "0x1234", pci_class="0x030000")
    one_card = json.dumps({"card0": {"Card Series": "AMD Radeon Future 9999"}})
    host = host_with(unknown, commands={"rocm-smi --showproductname --json": CommandResult(one_card, "", 0)},
                     facts={"which:rocm-smi": "/opt/rocm/bin/rocm-smi"})
    inv = Inventory()
    amd.probe(host, inv)
    assert inv.gpus[0].name == "AMD Radeon Future 9999"
    inv = Inventory()
    amd.probe(host_with(unknown, commands=host.commands), inv)  # no rocm-smi on PATH: no command, name unknown
    assert inv.gpus[0].name is None
