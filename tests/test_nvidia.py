"""NVIDIA probe and NVML query, against real driver-stack outputs.

XML: nvidia-smi -q -x of real machines (the fixtures' own copies, and excerpts of influxdata/telegraf's test data
plugins/inputs/nvidia_smi/testdata/tesla-t4.xml and a100-sxm4-v12.xml, trimmed to the elements the parser reads).
Failure messages: as users pasted them in public bug reports (each test names its report).
"""

import json
import os
import sys
import types
from typing import Any, Dict, List, Optional, Sequence

import pytest

from provision import host_nvml
from provision.host import MAX_GPUS, RC_NOT_FOUND, CommandResult, Host, command_key
from provision.inventory import nvidia, nvidia_smi
from provision.inventory.model import Inventory
from provision.knowledge import gpus as gpu_table

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")


def fixture_command(name: str, line: str = "nvidia-smi -q -x") -> str:
    with open(os.path.join(SNAPSHOTS, name, "commands.json")) as handle:
        return json.load(handle)[line]["stdout"]


# telegraf testdata/tesla-t4.xml (driver 515.105.01): the pre-535 names clocks_throttle_reasons and
# power_readings/enforced_power_limit; supported_clocks and unread blocks left out.
TESLA_T4_515 = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">
<nvidia_smi_log>
    <timestamp>Mon Apr 24 16:22:39 2023</timestamp>
    <driver_version>515.105.01</driver_version>
    <cuda_version>11.7</cuda_version>
    <attached_gpus>1</attached_gpus>
    <gpu id="00000000:00:1E.0">
        <product_name>Tesla T4</product_name>
        <product_brand>NVIDIA</product_brand>
        <product_architecture>Turing</product_architecture>
        <persistence_mode>Disabled</persistence_mode>
        <mig_mode>
            <current_mig>N/A</current_mig>
            <pending_mig>N/A</pending_mig>
        </mig_mode>
        <uuid>GPU-d37e67a5-91dd-3774-a5cb-99096249601a</uuid>
        <pci>
            <pci_device_id>1EB810DE</pci_device_id>
            <pci_bus_id>00000000:00:1E.0</pci_bus_id>
            <pci_gpu_link_info>
                <pcie_gen>
                    <max_link_gen>3</max_link_gen>
                    <current_link_gen>3</current_link_gen>
                </pcie_gen>
                <link_widths>
                    <max_link_width>16x</max_link_width>
                    <current_link_width>8x</current_link_width>
                </link_widths>
            </pci_gpu_link_info>
        </pci>
        <clocks_throttle_reasons>
            <clocks_throttle_reason_gpu_idle>Not Active</clocks_throttle_reason_gpu_idle>
            <clocks_throttle_reason_applications_clocks_setting>Not Active</clocks_throttle_reason_applications_clocks_setting>
            <clocks_throttle_reason_sw_power_cap>Not Active</clocks_throttle_reason_sw_power_cap>
            <clocks_throttle_reason_hw_slowdown>Not Active</clocks_throttle_reason_hw_slowdown>
            <clocks_throttle_reason_hw_thermal_slowdown>Not Active</clocks_throttle_reason_hw_thermal_slowdown>
            <clocks_throttle_reason_hw_power_brake_slowdown>Not Active</clocks_throttle_reason_hw_power_brake_slowdown>
            <clocks_throttle_reason_sync_boost>Not Active</clocks_throttle_reason_sync_boost>
            <clocks_throttle_reason_sw_thermal_slowdown>Not Active</clocks_throttle_reason_sw_thermal_slowdown>
            <clocks_throttle_reason_display_clocks_setting>Not Active</clocks_throttle_reason_display_clocks_setting>
        </clocks_throttle_reasons>
        <fb_memory_usage>
            <total>15360 MiB</total>
            <reserved>388 MiB</reserved>
            <used>1032 MiB</used>
            <free>13939 MiB</free>
        </fb_memory_usage>
        <ecc_mode>
            <current_ecc>Enabled</current_ecc>
            <pending_ecc>Enabled</pending_ecc>
        </ecc_mode>
        <ecc_errors>
            <volatile>
                <sram_correctable>0</sram_correctable>
                <sram_uncorrectable>0</sram_uncorrectable>
                <dram_correctable>0</dram_correctable>
                <dram_uncorrectable>0</dram_uncorrectable>
            </volatile>
            <aggregate>
                <sram_correctable>0</sram_correctable>
                <sram_uncorrectable>0</sram_uncorrectable>
                <dram_correctable>0</dram_correctable>
                <dram_uncorrectable>0</dram_uncorrectable>
            </aggregate>
        </ecc_errors>
        <retired_pages>
            <pending_blacklist>No</pending_blacklist>
            <pending_retirement>No</pending_retirement>
        </retired_pages>
        <remapped_rows>N/A</remapped_rows>
        <temperature>
            <gpu_temp>40 C</gpu_temp>
        </temperature>
        <power_readings>
            <power_state>P0</power_state>
            <power_management>Supported</power_management>
            <power_draw>26.78 W</power_draw>
            <power_limit>70.00 W</power_limit>
            <default_power_limit>70.00 W</default_power_limit>
            <enforced_power_limit>70.00 W</enforced_power_limit>
        </power_readings>
    </gpu>
</nvidia_smi_log>
"""

# telegraf testdata/a100-sxm4-v12.xml (driver 535.54.03, MIG enabled); mig_devices and clocks left out.
A100_MIG_535 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log>
    <driver_version>535.54.03</driver_version>
    <cuda_version>12.2</cuda_version>
    <attached_gpus>4</attached_gpus>
    <gpu id="00000000:01:00.0">
        <product_name>NVIDIA A100-SXM4-80GB</product_name>
        <product_architecture>Ampere</product_architecture>
        <persistence_mode>Disabled</persistence_mode>
        <mig_mode>
            <current_mig>Enabled</current_mig>
            <pending_mig>Enabled</pending_mig>
        </mig_mode>
        <uuid>GPU-513536b6-7d19-9063-b049-1e69664bb298</uuid>
        <pci>
            <pci_device_id>20B210DE</pci_device_id>
            <pci_bus_id>00000000:01:00.0</pci_bus_id>
        </pci>
        <fb_memory_usage>
            <total>81920 MiB</total>
            <reserved>869 MiB</reserved>
            <used>50 MiB</used>
            <free>80999 MiB</free>
        </fb_memory_usage>
        <ecc_mode>
            <current_ecc>Enabled</current_ecc>
            <pending_ecc>Enabled</pending_ecc>
        </ecc_mode>
        <remapped_rows>N/A</remapped_rows>
        <gpu_power_readings>
            <power_state>P0</power_state>
            <power_draw>67.03 W</power_draw>
            <current_power_limit>500.00 W</current_power_limit>
        </gpu_power_readings>
        <processes />
        <accounted_processes />
    </gpu>
</nvidia_smi_log>
"""

# https://github.com/GoogleCloudPlatform/compute-gpu-installation/issues/33 (and NVIDIA/nvidia-docker#988);
# nvidia-smi exits 9 with it.
SMI_NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the "
                 "latest NVIDIA driver is installed and running.\n")
# https://github.com/lyulyul/shine-cluster/issues/30 (an unattended upgrade replaced libnvidia-common only)
SMI_MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\n"
# https://github.com/tinygrad/open-gpu-kernel-modules/issues/47 (newer drivers add the library's version)
SMI_MISMATCH_NEW = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 570.124\n"
# https://github.com/JosephKJ/OWOD/issues/81
SMI_GPU_LOST = ("Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. "
                "Reboot the system to recover this GPU\n")
# https://github.com/AlexeyAB/darknet/issues/86 (Windows driver 369.30 wraps the line)
SMI_GPU_LOST_WRAPPED = ("Unable to determine the device handle for GPU 0000:03:00.0: GPU is lost.  Reboot\n"
                        " the system to recover this GPU\n")
# /proc/driver/nvidia/version as a user pasted it (a Chinese troubleshooting note on a lost driver, GitHub)
PROC_VERSION_515 = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  515.76  Mon Sep 12 19:21:56 UTC 2022\n"
                    "GCC version:  gcc version 7.5.0 (Ubuntu 7.5.0-3ubuntu1~18.04)\n")


# --- parsing ------------------------------------------------------------------------------------------------------


def test_parse_rtx4090_driver_535():
    driver, cuda, gpus, error = nvidia_smi.parse_nvidia_smi_xml(fixture_command("rtx4090-ryzen-workstation"))
    assert (driver, cuda, error) == ("535.86.05", "12.2", None)
    (gpu,) = gpus
    assert gpu.name == "NVIDIA GeForce RTX 4090" and gpu.vendor == "nvidia"
    assert gpu.uuid == "GPU-71d1acc2-662d-2166-bf9f-65272d2fc437"
    assert gpu.pci_bus_id == "00000000:84:00.0" and gpu.pci_device_id == "0x2684"
    assert gpu.memory_total_bytes == 24564 * 1024 ** 2 and gpu.memory_used_bytes == 2 * 1024 ** 2
    assert gpu.architecture == "Ada Lovelace" and gpu.compute_capability is None  # the XML never has it
    assert (gpu.pcie.gen_current, gpu.pcie.gen_max, gpu.pcie.width_current, gpu.pcie.width_max) == (1, 3, 16, 16)
    assert gpu.power_limit_watts == 450.0 and gpu.temperature_c == 40.0
    assert gpu.ecc.mode == "disabled" and gpu.ecc.volatile_uncorrected is None  # all "N/A"
    assert gpu.ecc.remapped_rows_pending is False and gpu.ecc.remapped_rows_failure is False
    assert gpu.mig_mode is None and gpu.persistence_mode == "enabled"
    assert gpu.throttle_reasons == ["gpu_idle"]  # the one "Active"; "Not Active\n   " spans two lines there
    assert gpu.processes == 0


def test_parse_tesla_t4_pre_535_names():
    driver, cuda, gpus, error = nvidia_smi.parse_nvidia_smi_xml(TESLA_T4_515)
    assert (driver, cuda, error) == ("515.105.01", "11.7", None)
    (gpu,) = gpus
    assert gpu.power_limit_watts == 70.0  # power_readings/enforced_power_limit
    assert gpu.throttle_reasons == []  # clocks_throttle_reasons, none active
    assert (gpu.pcie.width_current, gpu.pcie.width_max) == (8, 16)
    assert gpu.ecc.mode == "enabled"
    assert (gpu.ecc.volatile_uncorrected, gpu.ecc.aggregate_uncorrected, gpu.ecc.volatile_corrected) == (0, 0, 0)
    assert gpu.ecc.retired_pages_pending is False
    assert gpu.ecc.remapped_rows_pending is None  # "<remapped_rows>N/A</remapped_rows>"
    assert gpu.processes is None  # no <processes> element in the excerpt: unknown, not zero


def test_parse_a100_mig_enabled():
    _, _, (gpu,), error = nvidia_smi.parse_nvidia_smi_xml(A100_MIG_535)
    assert error is None
    assert gpu.mig_mode == "enabled" and gpu.persistence_mode == "disabled"
    assert gpu.pci_device_id == "0x20b2" and gpu.power_limit_watts == 500.0
    assert gpu.processes == 0  # "<processes />"


def test_parse_counts_compute_processes_only():
    text = A100_MIG_535.replace("<processes />", """<processes>
            <process_info><pid>1930</pid><type>G</type><process_name>/usr/lib/xorg/Xorg</process_name></process_info>
            <process_info><pid>2753460</pid><type>C</type><process_name>VLLM::Worker_TP0</process_name></process_info>
            <process_info><pid>2753461</pid><type>C+G</type><process_name>python</process_name></process_info>
        </processes>""")
    assert nvidia_smi.parse_nvidia_smi_xml(text)[2][0].processes == 2


def test_old_driver_xml_has_no_compute_capability_and_the_table_gives_it():
    _, cuda, (gpu,), _ = nvidia_smi.parse_nvidia_smi_xml(fixture_command("gtx1080-pascal"))
    assert cuda == "10.2" and gpu.compute_capability is None and gpu.architecture is None
    assert gpu_table.nvidia_row(gpu.name)["compute_capability"] == "6.1"


@pytest.mark.parametrize("text", [
    "",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
    "<html><body>502 Bad Gateway</body></html>",
    "<?xml version=\"1.0\" ?>\n<nvidia_smi_log>\n  <driver_version>550.54.15</driver_version>\n  <gpu id=\"0",
    "\x00\x00garbage\xff",
])
def test_garbage_and_truncated_xml_give_an_error_never_an_exception(text):
    driver, cuda, gpus, error = nvidia_smi.parse_nvidia_smi_xml(text)
    assert (driver, cuda, gpus) == (None, None, []) and error


def test_truncated_real_output_is_an_error():
    full = fixture_command("rtx4090-ryzen-workstation")
    assert nvidia_smi.parse_nvidia_smi_xml(full[: len(full) // 2])[3]


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA GeForce RTX 4090", "8.9"), ("GeForce GTX 1080 Ti", "6.1"), ("GeForce GTX 1080", "6.1"),
    ("A100-SXM4-40GB", "8.0"), ("NVIDIA H100 80GB HBM3", "9.0"), ("Tesla V100-SXM2-16GB", "7.0"),
    ("Tesla T4", "7.5"), ("NVIDIA RTX A6000", "8.6"), ("Quadro RTX 6000", "7.5"),
    ("NVIDIA RTX 6000 Ada Generation", "8.9"), ("NVIDIA GeForce RTX 4070 Laptop GPU", "8.9"),
    ("GeForce GTX TITAN X", "5.2"), ("NVIDIA GeForce RTX 5090", "12.0"), ("NVIDIA B200", "10.0"),
])
def test_nvidia_row(name, expected):
    assert gpu_table.nvidia_row(name)["compute_capability"] == expected


def test_lookup_unknown_gpu_is_none():
    assert gpu_table.nvidia_row("GeForce 410M") is None and gpu_table.nvidia_row(None) is None


def test_knowledge_rows_cite_a_source():
    from provision import knowledge

    for key, row in knowledge.load("nvidia_gpus")["gpus"].items():
        assert row["source"] and "verified" in row, key
        major, minor = row["compute_capability"].split(".")
        assert major.isdigit() and minor.isdigit(), key


def test_proc_driver_version():
    assert nvidia.parse_proc_driver_version(PROC_VERSION_515) == "515.76"
    open_module = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build  "
                   "(dvs-builder@U16-I3-B03-4-3)  Tue Aug 22 2023\n")
    assert nvidia.parse_proc_driver_version(open_module) == "535.104.05"
    assert nvidia.parse_proc_driver_version(None) is None
    assert nvidia.parse_proc_driver_version("garbage") is None


def test_cuda_version_string():
    assert nvidia.cuda_version_string(12040) == "12.4"
    assert nvidia.cuda_version_string(11000) == "11.0"
    assert nvidia.cuda_version_string(12080) == "12.8"
    assert nvidia.cuda_version_string(None) is None and nvidia.cuda_version_string("12040") is None


# --- the probe ----------------------------------------------------------------------------------------------------


class FakeHost(Host):
    """Files, commands and facts from dicts; remembers every command run."""

    def __init__(self, files: Optional[Dict[str, str]] = None, commands: Optional[Dict[str, CommandResult]] = None,
                 facts: Optional[Dict[str, Any]] = None, links: Optional[Dict[str, str]] = None) -> None:
        self.files = files or {}
        self.commands = commands or {}
        self.facts = facts or {}
        self.links = links or {}
        self.ran: List[str] = []

    def read(self, path: str) -> Optional[str]:
        return self.files.get(path)

    def listdir(self, path: str) -> Optional[List[str]]:
        prefix = path.rstrip("/") + "/"
        names = sorted({p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)})
        return names or None

    def realpath(self, path: str) -> Optional[str]:
        return self.links.get(path, path if path in self.files else None)

    def run(self, argv: Sequence[str], timeout: Optional[float] = None) -> CommandResult:
        self.ran.append(command_key(argv))
        return self.commands.get(command_key(argv), CommandResult("", "%s: command not found" % argv[0], RC_NOT_FOUND))

    def fact(self, name: str, arg: str = "") -> Any:
        return self.facts.get("%s:%s" % (name, arg) if arg else name)


def pci_gpu(address: str, device: str = "0x1f02", driver: Optional[str] = None) -> Dict[str, Any]:
    base = "/sys/bus/pci/devices/%s/" % address
    files = {base + "class": "0x030000\n", base + "vendor": "0x10de\n", base + "device": device + "\n"}
    links = {base + "driver": "/sys/bus/pci/drivers/" + driver} if driver else {}
    return {"files": files, "links": links}


def make_host(smi: Optional[CommandResult] = None, pci: Sequence[Dict[str, Any]] = (), nvml_fact: Any = None,
              files: Optional[Dict[str, str]] = None, **facts: Any) -> FakeHost:
    all_files, links = dict(files or {}), {}
    for device in pci:
        all_files.update(device["files"])
        links.update(device["links"])
    commands = {"nvidia-smi -q -x": smi} if smi is not None else {}
    all_facts = dict(facts)
    if nvml_fact is not None:
        all_facts["nvml"] = nvml_fact
    return FakeHost(all_files, commands, all_facts, links)


def run_probe(host: FakeHost, wsl: Optional[int] = None, container: Optional[str] = None) -> Inventory:
    inv = Inventory()
    inv.os.wsl, inv.os.container = wsl, container
    nvidia.probe(host, inv)
    return inv


def errors(inv: Inventory) -> List[str]:
    return [e.message for e in inv.errors if e.probe == "nvidia"]


def test_driver_not_loaded():
    inv = run_probe(make_host(CommandResult(SMI_NO_DRIVER, "", 9), [pci_gpu("0000:01:00.0")]))
    assert inv.nvidia.status == "no-driver" and [(g.name, g.compute_capability) for g in inv.gpus] == [
        ("GeForce RTX 2070", "7.5")]  # the PCI bus and the PCI ID database name it, no driver does
    assert inv.nvidia.message == SMI_NO_DRIVER.strip()
    assert errors(inv) == ["no-driver: " + SMI_NO_DRIVER.strip()]


def test_nouveau_holds_the_gpu():
    modules = "nouveau 2306048 3 - Live 0x0000000000000000\nmxm_wmi 16384 1 nouveau, Live 0x0000000000000000\n"
    host = make_host(CommandResult(SMI_NO_DRIVER, "", 9), [pci_gpu("0000:01:00.0")], files={"/proc/modules": modules})
    inv = run_probe(host)
    assert inv.nvidia.status == "nouveau" and "0000:01:00.0" in inv.nvidia.message and errors(inv)


def test_nouveau_bound_in_sysfs_without_nvidia_smi():
    inv = run_probe(make_host(None, [pci_gpu("0000:01:00.0", driver="nouveau")]))
    assert inv.nvidia.status == "nouveau"


@pytest.mark.parametrize("message", [SMI_MISMATCH, SMI_MISMATCH_NEW])
def test_version_mismatch(message):
    inv = run_probe(make_host(CommandResult(message, "", 18), [pci_gpu("0000:3b:00.0", "0x20b0", "nvidia")]))
    assert inv.nvidia.status == "version-mismatch" and inv.nvidia.message == message.strip()
    assert errors(inv) == ["version-mismatch: " + message.strip()]


@pytest.mark.parametrize("message", [SMI_GPU_LOST, SMI_GPU_LOST_WRAPPED])
def test_gpu_lost(message):
    inv = run_probe(make_host(CommandResult(message, "", 15), [pci_gpu("0000:02:00.0", "0x1e04", "nvidia")]))
    assert inv.nvidia.status == "gpu-lost" and "GPU is lost" in inv.nvidia.message and errors(inv)


def test_unknown_error_counts_as_gpu_lost():
    # nvidia-smi's words when the handle fails with NVML_ERROR_UNKNOWN (NVMLError's text for code 999)
    message = "Unable to determine the device handle for GPU 0000:02:00.0: Unknown Error\n"
    inv = run_probe(make_host(CommandResult(message, "", 255), [pci_gpu("0000:02:00.0", driver="nvidia")]))
    assert inv.nvidia.status == "gpu-lost"


def test_nvml_init_unknown_error_is_not_a_lost_gpu():
    # Inside a container after `systemctl daemon-reload` (NVIDIA/nvidia-container-toolkit#48): the GPUs are fine.
    message = "Failed to initialize NVML: Unknown Error\n"
    inv = run_probe(make_host(CommandResult(message, "", 255), [pci_gpu("0000:02:00.0", driver="nvidia")]),
                    container="docker")
    assert inv.nvidia.status == "nvml-error" and inv.nvidia.message == message.strip()


def test_other_failure_is_nvml_error_with_the_tools_words():
    inv = run_probe(make_host(CommandResult("No devices were found\n", "", 6), [pci_gpu("0000:02:00.0")]))
    assert inv.nvidia.status == "nvml-error" and inv.nvidia.message == "No devices were found"


def test_timeout_is_nvml_error():
    result = CommandResult("", "nvidia-smi: timed out after 5s", 124)
    inv = run_probe(make_host(result, [pci_gpu("0000:02:00.0", driver="nvidia")]))
    assert inv.nvidia.status == "nvml-error" and "timed out" in inv.nvidia.message


def test_no_nvidia_gpu_and_no_driver_is_not_an_error():
    inv = run_probe(make_host())
    assert inv.nvidia.status == "no-gpu" and inv.errors == [] and inv.gpus == []


def test_gpu_on_the_bus_without_any_driver_tools():
    inv = run_probe(make_host(None, [pci_gpu("0000:01:00.0")]))
    assert inv.nvidia.status == "no-driver" and "nvidia-smi not found" in inv.nvidia.message


def test_garbage_xml_with_exit_0_is_an_error_entry():
    inv = run_probe(make_host(CommandResult("<nvidia_smi_log><gpu>", "", 0), [pci_gpu("0000:01:00.0")]))
    assert inv.nvidia.status == "nvml-error" and errors(inv)
    assert [(g.pci_bus_id, g.uuid) for g in inv.gpus] == [("0000:01:00.0", None)]  # the bus's GPU, not the driver's


def test_xml_path_fills_compute_capability_from_the_table():
    host = make_host(CommandResult(fixture_command("gtx1080-pascal"), "", 0),
                     [pci_gpu("0000:01:00.0", "0x1b80", "nvidia")],
                     files={"/proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  430.26\n"})
    inv = run_probe(host)
    assert inv.nvidia.status == "ok" and inv.nvidia.source == "nvidia-smi"
    assert inv.nvidia.kernel_module_version == "430.26" and inv.nvidia.cuda_driver_version == "10.2"
    assert [(g.name, g.compute_capability, g.architecture) for g in inv.gpus] == [("GeForce GTX 1080", "6.1", "Pascal")]


def test_more_gpus_on_the_bus_than_the_driver_reports():
    devices = [pci_gpu("0000:84:00.0", "0x2684", "nvidia"), pci_gpu("0000:85:00.0", "0x2684", "nvidia")]
    inv = run_probe(make_host(CommandResult(fixture_command("rtx4090-ryzen-workstation"), "", 0), devices))
    assert inv.nvidia.status == "ok" and len(inv.gpus) == 1
    assert any("PCI lists 2 NVIDIA GPUs but the driver reports 1" in e for e in errors(inv))
    # inside a container NVIDIA_VISIBLE_DEVICES hides GPUs that sysfs still shows: no conclusion there
    inv = run_probe(make_host(CommandResult(fixture_command("rtx4090-ryzen-workstation"), "", 0), devices),
                    container="docker")
    assert errors(inv) == []


def test_wsl2_uses_the_wsl_lib_path_when_path_lacks_nvidia_smi():
    xml = fixture_command("wsl2-rtx4070-laptop", "/usr/lib/wsl/lib/nvidia-smi -q -x")
    host = FakeHost(commands={"/usr/lib/wsl/lib/nvidia-smi -q -x": CommandResult(xml, "", 0)})
    inv = run_probe(host, wsl=2)
    assert host.ran == ["nvidia-smi -q -x", "/usr/lib/wsl/lib/nvidia-smi -q -x"]
    assert inv.nvidia.status == "ok" and inv.gpus[0].name == "NVIDIA GeForce RTX 4070 Laptop GPU"
    host = FakeHost(commands={"/usr/lib/wsl/lib/nvidia-smi -q -x": CommandResult(xml, "", 0)})
    run_probe(host, wsl=None)
    assert host.ran == ["nvidia-smi -q -x"]  # not WSL: no such path to try


def test_container_toolkit_only_when_nvidia_ctk_is_on_path():
    out = "NVIDIA Container Toolkit CLI version 1.13.1\ncommit: 28b70663f1a2b982e59e83bcf1844177dc745208\n"
    host = make_host(CommandResult(SMI_NO_DRIVER, "", 9))
    host.commands["nvidia-ctk --version"] = CommandResult(out, "", 0)
    assert run_probe(host).nvidia.container_toolkit is None and "nvidia-ctk --version" not in host.ran
    host.facts["which:nvidia-ctk"] = "/usr/bin/nvidia-ctk"
    assert run_probe(host).nvidia.container_toolkit == "1.13.1"


# --- the probe on NVML's answer -----------------------------------------------------------------------------------


def nvml_gpu(index: int, **fields: Any) -> Dict[str, Any]:
    gpu = {"index": index, "error": None, "name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-%d" % index,
           "pci_bus_id": "00000000:%02X:00.0" % (0x18 + index), "pci_device_id": "0x2330",
           "memory_total_bytes": 81559 * 1024 ** 2, "memory_used_bytes": 0, "compute_capability": "9.0",
           "pcie": {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16},
           "power_limit_watts": 700.0, "temperature_c": 30,
           "ecc": {"mode": "enabled", "volatile_uncorrected": 0, "aggregate_uncorrected": 0, "volatile_corrected": 0,
                   "aggregate_corrected": 0, "retired_pages_pending": None, "remapped_rows_pending": False,
                   "remapped_rows_failure": False},
           "mig_mode": "disabled", "persistence_mode": "enabled", "throttle_reasons": [], "processes": 0}
    gpu.update(fields)
    return gpu


def test_nvml_answer_runs_no_command():
    fact = {"error": None, "driver_version": "550.54.15", "cuda_driver_version": 12040,
            "gpus": [nvml_gpu(0), nvml_gpu(1)]}
    host = make_host(CommandResult(SMI_NO_DRIVER, "", 9), [pci_gpu("0000:18:00.0", "0x2330", "nvidia"),
                                                           pci_gpu("0000:19:00.0", "0x2330", "nvidia")], fact)
    inv = run_probe(host)
    assert host.ran == []
    assert inv.nvidia.source == "nvml" and inv.nvidia.status == "ok" and inv.errors == []
    assert (inv.nvidia.driver_version, inv.nvidia.cuda_driver_version) == ("550.54.15", "12.4")
    assert [g.compute_capability for g in inv.gpus] == ["9.0", "9.0"]
    assert inv.gpus[1].pcie.gen_max == 5 and inv.gpus[1].ecc.remapped_rows_failure is False
    assert inv.gpus[0].architecture == "Hopper"  # NVML has no architecture name: from the table


def test_nvml_gpu_lost_while_the_other_reports():
    lost = {"index": 1, "error": {"name": "NVMLError_GpuIsLost", "message": "GPU is lost"}}
    fact = {"error": None, "driver_version": "550.54.15", "cuda_driver_version": 12040, "gpus": [nvml_gpu(0), lost]}
    inv = run_probe(make_host(None, [], fact))
    assert [g.index for g in inv.gpus] == [0]
    assert inv.nvidia.status == "gpu-lost" and "GPU 1" in inv.nvidia.message and errors(inv)


@pytest.mark.parametrize("name, message, status", [
    ("NVMLError_DriverNotLoaded", "Driver Not Loaded", "no-driver"),
    ("NVMLError_LibRmVersionMismatch", "RM has detected an NVML/RM version mismatch.", "version-mismatch"),
    ("NVMLError_GpuIsLost", "GPU is lost", "gpu-lost"),
])
def test_nvml_init_failures_without_nvidia_smi(name, message, status):
    fact = {"error": {"name": name, "message": message}, "driver_version": None, "cuda_driver_version": None,
            "gpus": []}
    inv = run_probe(make_host(None, [pci_gpu("0000:01:00.0", driver="nvidia")], fact))
    assert inv.nvidia.status == status and name in inv.nvidia.message


def test_nvml_library_missing_falls_back_to_nvidia_smi():
    fact = {"error": {"name": "ImportError", "message": "No module named 'pynvml'"}, "driver_version": None,
            "cuda_driver_version": None, "gpus": []}
    host = make_host(CommandResult(fixture_command("rtx4090-ryzen-workstation"), "", 0),
                     [pci_gpu("0000:84:00.0", "0x2684", "nvidia")], fact)
    inv = run_probe(host)
    assert host.ran == ["nvidia-smi -q -x"] and inv.nvidia.source == "nvidia-smi" and inv.nvidia.status == "ok"


def test_nvml_library_not_found_and_no_gpu_is_no_gpu():
    fact = {"error": {"name": "NVMLError_LibraryNotFound", "message": "NVML Shared Library Not Found"},
            "driver_version": None, "cuda_driver_version": None, "gpus": []}
    inv = run_probe(make_host(None, [], fact))
    assert inv.nvidia.status == "no-gpu" and inv.errors == []


# --- query_nvml with a stubbed pynvml -----------------------------------------------------------------------------


class FakeMemory:
    total, used, free = 85899345920, 1073741824, 84825604096


class FakePci:
    busId = b"00000000:18:00.0"  # bytes, as older nvidia-ml-py releases return it
    pciDeviceId = 0x233010DE


def fake_pynvml(init_error: Optional[str] = None, lost: Sequence[int] = (), unsupported: Sequence[str] = (),
                count: int = 2) -> types.ModuleType:
    """A pynvml stand-in: the constants and functions query_nvml uses, and NVMLError subclasses by name."""
    mod = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    mod.NVMLError = NVMLError
    for name in ("NotSupported", "GpuIsLost", "LibraryNotFound", "DriverNotLoaded", "LibRmVersionMismatch"):
        setattr(mod, "NVMLError_" + name, type("NVMLError_" + name, (NVMLError,), {}))
    mod.NVML_MEMORY_ERROR_TYPE_CORRECTED, mod.NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 0, 1
    mod.NVML_VOLATILE_ECC, mod.NVML_AGGREGATE_ECC, mod.NVML_TEMPERATURE_GPU, mod.NVML_DEVICE_MIG_ENABLE = 0, 1, 0, 1
    for i, (_, const) in enumerate(host_nvml.THROTTLE_REASONS):
        setattr(mod, const, 1 << i)
    calls: List[str] = []
    mod.calls = calls

    def init() -> None:
        calls.append("init")
        if init_error:
            raise getattr(mod, init_error)()

    def handle(index: int) -> int:
        if index in lost:
            raise mod.NVMLError_GpuIsLost("GPU is lost")
        return index

    values = {
        "nvmlSystemGetDriverVersion": lambda: "550.54.15",
        "nvmlSystemGetCudaDriverVersion": lambda: 12040,
        "nvmlDeviceGetCount": lambda: count,
        "nvmlDeviceGetName": lambda h: b"NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetUUID": lambda h: "GPU-%d" % h,
        "nvmlDeviceGetPciInfo": lambda h: FakePci(),
        "nvmlDeviceGetMemoryInfo": lambda h: FakeMemory(),
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetCurrPcieLinkGeneration": lambda h: 5,
        "nvmlDeviceGetMaxPcieLinkGeneration": lambda h: 5,
        "nvmlDeviceGetCurrPcieLinkWidth": lambda h: 16,
        "nvmlDeviceGetMaxPcieLinkWidth": lambda h: 16,
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700000,
        "nvmlDeviceGetTemperature": lambda h, sensor: 31,
        "nvmlDeviceGetEccMode": lambda h: [1, 1],
        "nvmlDeviceGetTotalEccErrors": lambda h, kind, counter: 2 if (kind, counter) == (0, 1) else 0,
        "nvmlDeviceGetRetiredPagesPendingStatus": lambda h: 0,
        "nvmlDeviceGetRemappedRows": lambda h: (0, 0, 1, 0),
        "nvmlDeviceGetMigMode": lambda h: [0, 0],
        "nvmlDeviceGetPersistenceMode": lambda h: 1,
        # sw_power_cap (bit 2) and hw_slowdown (bit 3) active
        "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: 0b1100,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [object()],
    }
    for name, func in values.items():
        if name in unsupported:
            def func(*args: Any, _name: str = name) -> Any:
                raise mod.NVMLError_NotSupported("Not Supported")
        setattr(mod, name, func)
    mod.nvmlInit = init
    mod.nvmlDeviceGetHandleByIndex = handle
    mod.nvmlShutdown = lambda: calls.append("shutdown")
    return mod


@pytest.fixture
def stub(monkeypatch):
    def install(**kwargs: Any) -> types.ModuleType:
        mod = fake_pynvml(**kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", mod)
        return mod
    return install


def test_query_nvml_all_fine(stub):
    mod = stub()
    result = host_nvml.query_nvml(MAX_GPUS)
    assert result["error"] is None and result["driver_version"] == "550.54.15"
    assert result["cuda_driver_version"] == 12040 and len(result["gpus"]) == 2
    gpu = result["gpus"][0]
    assert gpu["name"] == "NVIDIA H100 80GB HBM3" and gpu["pci_bus_id"] == "00000000:18:00.0"
    assert gpu["pci_device_id"] == "0x2330" and gpu["compute_capability"] == "9.0"
    assert gpu["memory_total_bytes"] == FakeMemory.total and gpu["power_limit_watts"] == 700.0
    assert gpu["pcie"] == {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16}
    assert gpu["ecc"]["mode"] == "enabled" and gpu["ecc"]["aggregate_corrected"] == 2
    assert gpu["ecc"]["volatile_uncorrected"] == 0 and gpu["ecc"]["remapped_rows_pending"] is True
    assert gpu["ecc"]["retired_pages_pending"] is False
    assert gpu["mig_mode"] == "disabled" and gpu["persistence_mode"] == "enabled"
    assert gpu["throttle_reasons"] == ["sw_power_cap", "hw_slowdown"] and gpu["processes"] == 1
    assert json.loads(json.dumps(result)) == result  # plain JSON data
    assert mod.calls == ["init", "shutdown"]


def test_query_nvml_metric_not_supported_is_none(stub):
    stub(unsupported=("nvmlDeviceGetMigMode", "nvmlDeviceGetRemappedRows", "nvmlDeviceGetTemperature"))
    gpu = host_nvml.query_nvml(MAX_GPUS)["gpus"][0]
    assert gpu["mig_mode"] is None and gpu["temperature_c"] is None
    assert gpu["ecc"]["remapped_rows_pending"] is None and gpu["compute_capability"] == "9.0"


def test_query_nvml_gpu_lost_while_the_other_reports(stub):
    mod = stub(lost=(0,))
    gpus = host_nvml.query_nvml(MAX_GPUS)["gpus"]
    assert gpus[0] == {"index": 0, "error": {"name": "NVMLError_GpuIsLost", "message": "GPU is lost"}}
    assert gpus[1]["error"] is None and gpus[1]["name"] == "NVIDIA H100 80GB HBM3"
    assert mod.calls[-1] == "shutdown"


@pytest.mark.parametrize("name", ["NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded",
                                  "NVMLError_LibRmVersionMismatch"])
def test_query_nvml_init_failures(stub, name):
    mod = stub(init_error=name)
    result = host_nvml.query_nvml(MAX_GPUS)
    assert result["error"]["name"] == name and result["gpus"] == [] and result["driver_version"] is None
    assert "shutdown" not in mod.calls  # nothing to shut down


def test_query_nvml_without_pynvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    result = host_nvml.query_nvml(MAX_GPUS)
    assert result["error"]["name"] == "ImportError" and result["gpus"] == []


def test_query_nvml_real_library_decodes_throttle_bits():
    import pynvml

    mask = pynvml.nvmlClocksThrottleReasonGpuIdle | pynvml.nvmlClocksThrottleReasonHwPowerBrakeSlowdown
    assert host_nvml.decode_throttle_reasons(pynvml, mask) == ["gpu_idle", "hw_power_brake_slowdown"]
    assert host_nvml.decode_throttle_reasons(pynvml, 0) == []
    assert host_nvml.decode_throttle_reasons(pynvml, None) is None


def test_the_xml_fallback_names_the_throttle_reasons_as_nvml_does():
    assert nvidia_smi.THROTTLE_NAMES == tuple(name for name, _ in host_nvml.THROTTLE_REASONS)


def test_pci_gpu_count_and_no_nvml_when_the_bus_has_no_nvidia_device():
    devices = [pci_gpu("0000:84:00.0", "0x2684", "nvidia"), pci_gpu("0000:85:00.0", "0x2684", "nvidia")]
    inv = run_probe(make_host(CommandResult(fixture_command("rtx4090-ryzen-workstation"), "", 0), devices))
    assert inv.nvidia.pci_gpus == 2
    # A readable bus with only an Intel iGPU: no NVML import, no nvidia-smi, status no-gpu.
    igpu = {"/sys/bus/pci/devices/0000:00:02.0/class": "0x030000\n", "/sys/bus/pci/devices/0000:00:02.0/vendor": "0x8086\n"}
    host = make_host(files=igpu, nvml={"error": {"name": "NVMLError_LibraryNotFound", "message": "not found"}})
    inv = run_probe(host)
    assert (inv.nvidia.status, inv.nvidia.pci_gpus, host.ran) == ("no-gpu", 0, [])


def test_linux_driver_libraries_inside_wsl2():
    xml = fixture_command("wsl2-rtx4070-laptop", "/usr/lib/wsl/lib/nvidia-smi -q -x")
    files = {"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05": "", "/usr/lib/x86_64-linux-gnu/libcudnn.so.8": "",
             "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.104.05": ""}
    host = FakeHost(files=files, commands={"/usr/lib/wsl/lib/nvidia-smi -q -x": CommandResult(xml, "", 0)})
    assert run_probe(host, wsl=2).nvidia.wsl_linux_driver == [
        "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.104.05"]
    assert run_probe(host, wsl=None).nvidia.wsl_linux_driver == []


# --- kernel module against libraries, from files (SnapshotHost) ---------------------------------------------------


def snapshot_host(tmp_path, files: Dict[str, str], listdir: Dict[str, List[str]],
                  realpath: Optional[Dict[str, str]] = None, commands: Optional[Dict[str, Any]] = None,
                  nvml: Optional[Dict[str, Any]] = None):
    from provision.host import SnapshotHost

    for path, text in files.items():
        local = tmp_path / "files" / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text)
    return SnapshotHost(str(tmp_path), commands or {}, {"listdir": listdir, "realpath": realpath or {}}, nvml)


PROC_550_90 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.90.07  Fri May 31 09:35:42 UTC 2024\n"
LIBS_550_107 = {"/usr/lib/x86_64-linux-gnu": ["libc.so.6", "libcuda.so.1", "libcuda.so.550.107.02",
                                              "libnvidia-ml.so.1", "libnvidia-ml.so.550.107.02"]}


def test_module_and_libraries_differ_without_nvidia_smi(tmp_path):
    # Without nvidia-smi and without a readable PCI bus this used to be "no-gpu".
    host = snapshot_host(tmp_path, {"/proc/driver/nvidia/version": PROC_550_90}, LIBS_550_107)
    inv = run_probe(host)
    assert inv.nvidia.status == "version-mismatch" and inv.nvidia.source is None
    assert inv.nvidia.message == "kernel module 550.90.07, libraries 550.107.02: reboot to load the new module"
    assert (inv.nvidia.kernel_module_version, inv.nvidia.driver_version) == ("550.90.07", "550.107.02")
    assert errors(inv) == ["version-mismatch: " + inv.nvidia.message]


def test_module_version_from_sys_module_and_nvml_failing(tmp_path):
    # /sys/module/nvidia/version where /proc lacks it; a Debian layout; NVML's own error kept after the versions.
    nvml_fact = {"error": {"name": "NVMLError_LibRmVersionMismatch",
                           "message": "RM has detected an NVML/RM version mismatch."}, "gpus": []}
    listing = {"/usr/lib/x86_64-linux-gnu/nvidia/current": ["libcuda.so.1", "libcuda.so.535.183.01",
                                                            "libnvidia-ml.so.1", "libnvidia-ml.so.535.183.01"]}
    host = snapshot_host(tmp_path, {"/sys/module/nvidia/version": "535.161.07\n"}, listing, nvml=nvml_fact)
    inv = run_probe(host)
    assert inv.nvidia.status == "version-mismatch"
    assert inv.nvidia.message.startswith("kernel module 535.161.07, libraries 535.183.01: reboot")
    assert "NVMLError_LibRmVersionMismatch" in inv.nvidia.message


def test_module_and_libraries_agree_without_nvidia_smi(tmp_path):
    listing = {"/usr/local/nvidia/lib64": ["libcuda.so.1", "libcuda.so.550.90.07", "libnvidia-ml.so.550.90.07"]}
    host = snapshot_host(tmp_path, {"/proc/driver/nvidia/version": PROC_550_90}, listing)
    inv = run_probe(host)
    assert inv.nvidia.status == "no-gpu"  # what the other evidence says: nothing on the bus, no nvidia-smi
    assert (inv.nvidia.kernel_module_version, inv.nvidia.driver_version) == ("550.90.07", "550.90.07")
    host = snapshot_host(tmp_path / "unloaded", {}, listing)  # no module loaded: nothing to compare
    assert run_probe(host).nvidia.driver_version is None


def test_stale_libraries_beside_the_driver_use_the_linked_one(tmp_path):
    # NVIDIA/libnvidia-container#266: an image's old libnvidia-ml beside the host's, libnvidia-ml.so.1 -> the used one
    listing = {"/usr/lib/x86_64-linux-gnu": ["libnvidia-ml.so.1", "libnvidia-ml.so.470.129.06",
                                             "libnvidia-ml.so.525.105.17"]}
    links = {"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.525.105.17"}
    proc = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.129.06  Thu May 12 22:52:02 UTC 2022\n"
    host = snapshot_host(tmp_path, {"/proc/driver/nvidia/version": proc}, listing, links)
    assert nvidia.library_version(host) == "525.105.17"
    inv = run_probe(host)
    assert inv.nvidia.status == "version-mismatch" and "libraries 525.105.17" in inv.nvidia.message
    assert nvidia.library_version(snapshot_host(tmp_path / "unlinked", {}, listing)) is None  # no link: which one is unknown


def test_libraries_older_than_the_module_are_not_told_to_reboot(tmp_path):
    listing = {"/usr/lib64": ["libcuda.so.535.104.05", "libnvidia-ml.so.535.104.05"]}
    host = snapshot_host(tmp_path, {"/proc/driver/nvidia/version": PROC_550_90}, listing)
    inv = run_probe(host)
    assert inv.nvidia.status == "version-mismatch" and "older than the loaded module" in inv.nvidia.message


def test_a_working_nvml_or_nvidia_smi_answer_wins_over_the_files(tmp_path):
    files = {"/proc/driver/nvidia/version": PROC_550_90}
    fact = {"error": None, "driver_version": "550.54.15", "cuda_driver_version": 12040, "gpus": [nvml_gpu(0)]}
    inv = run_probe(snapshot_host(tmp_path, files, LIBS_550_107, nvml=fact))
    assert (inv.nvidia.status, inv.nvidia.source, inv.nvidia.driver_version) == ("ok", "nvml", "550.54.15")
    xml = fixture_command("rtx4090-ryzen-workstation")
    commands = {"nvidia-smi -q -x": {"stdout": xml, "stderr": "", "returncode": 0}}
    inv = run_probe(snapshot_host(tmp_path, files, LIBS_550_107, commands=commands))
    assert inv.nvidia.status == "ok" and inv.nvidia.source == "nvidia-smi" and errors(inv) == []


# --- GPUs no driver answers for: named from the PCI bus (knowledge table nvidia_pci_ids) -----------------------------


@pytest.mark.parametrize("device, name, architecture, cc", [
    ("0x1b80", "GeForce GTX 1080", "Pascal", "6.1"),
    ("0x1db1", "Tesla V100 SXM2 16GB", "Volta", "7.0"),
    ("0x1db4", "Tesla V100 PCIe 16GB", "Volta", "7.0"),
    ("0x2684", "GeForce RTX 4090", "Ada Lovelace", "8.9"),
    ("0x102d", "Tesla K80", "Kepler", "3.7"),
    ("0x13c2", "GeForce GTX 970", "Maxwell", "5.2"),
    ("0x0fc5", "GeForce GT 1030", "Kepler", "3.0"),  # a GK107 under a Pascal name: the chip decides
])
def test_driverless_gpu_is_named_from_the_pci_bus(device, name, architecture, cc):
    inv = run_probe(make_host(pci=[pci_gpu("0000:3b:00.0", device, driver="vfio-pci")]))
    assert inv.nvidia.status == "no-driver"
    assert [(g.index, g.vendor, g.name, g.architecture, g.compute_capability, g.pci_bus_id, g.pci_device_id,
             g.kernel_driver, g.uuid) for g in inv.gpus] == [
        (0, "nvidia", name, architecture, cc, "0000:3b:00.0", device, "vfio-pci", None)]


def test_driverless_gpus_in_bus_order_and_an_unknown_id_keeps_its_id():
    inv = run_probe(make_host(CommandResult(SMI_NO_DRIVER, "", 9),
                              [pci_gpu("0000:01:00.0", "0x1b80"), pci_gpu("0000:02:00.0", "0x0001")]))
    assert [(g.index, g.name, g.pci_device_id, g.compute_capability) for g in inv.gpus] == [
        (0, "GeForce GTX 1080", "0x1b80", "6.1"), (1, None, "0x0001", None)]


def test_a_working_driver_never_loads_the_pci_table(monkeypatch):
    from provision.inventory import pci

    def refuse(device_id):
        raise AssertionError("the PCI ID table was loaded for %s" % device_id)

    monkeypatch.setattr(pci, "nvidia_pci_name", refuse)
    inv = run_probe(make_host(nvml_fact={"driver_version": "550.54.15", "cuda_driver_version": 12040,
                                         "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 4090"}]},
                              pci=[pci_gpu("0000:01:00.0", "0x2684", driver="nvidia")]))
    assert inv.nvidia.source == "nvml" and [g.name for g in inv.gpus] == ["NVIDIA GeForce RTX 4090"]
    inv = run_probe(make_host())  # nothing on the bus: the probe stops before
    assert inv.gpus == [] and inv.nvidia.status == "no-gpu"


def test_every_pci_table_gpu_named_in_the_gpu_table_agrees_on_compute_capability():
    """The chips map and nvidia_gpus.json say the same of every device both know (where the chip is of the row's
    architecture: a rebadged chip under a known name is another GPU)."""
    from provision.inventory import pci
    from provision.knowledge import load

    checked = 0
    for device in load("nvidia_pci_ids")["devices"]:
        name, architecture, cc = pci.nvidia_pci_name(device) or (None, None, None)
        row = gpu_table.nvidia_row(name)
        if row is None or architecture != row["architecture"]:
            continue
        assert cc == row["compute_capability"], (device, name)
        checked += 1
    assert checked > 200
