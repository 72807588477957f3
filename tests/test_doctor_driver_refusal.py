"""DLWS-DRV-014: the installed driver loads but drives no GPU: a GPU its branch dropped (the kernel log's "supported
through the NVIDIA 470.xx Legacy drivers", or the GPU's last branch older than the installed driver's), or a
pre-Turing GPU under the open kernel modules. The kernel-log parser, the probe (dmesg only where no driver answers)
and the rule firing and quiet."""

import json
import os

from provision.inventory import collect, nvrm
from provision.snapshot import open_snapshot

from test_doctor_rules import fired, gpu0, healthy, mutate, CASES

HERE = os.path.dirname(__file__)

#: NixOS/nixos-hardware#1880 (dmesg -T), trueos/trueos-core#397 (the older wording), negativo17/nvidia-driver#158.
NIXOS = """[Sun May 17 15:55:50 2026] NVRM: The NVIDIA NVIDIA GeForce GTX 1050 GPU installed in this system is
                           NVRM:  supported through the NVIDIA 580.xx Legacy drivers. Please
                           NVRM:  visit http://www.nvidia.com/object/unix.html for more
                           NVRM:  information.  The 595.71.05 NVIDIA driver will ignore
                           NVRM:  this GPU.  Continuing probe...
[Sun May 17 15:55:50 2026] NVRM: No NVIDIA GPU found.
"""
OLD_WORDING = 'NVRM: "The GeForce 9400M GPU installed is supported by the 340.xx Legacy drivers. Please see ....\n' \
              'NVRM: "The 379.39 driver will ignore this GPU."\n'
OPEN = """kernel: NVRM: The NVIDIA GPU 0000:09:00.0 (PCI ID: 10de:1d01)
             NVRM: installed in this system is not supported by open
             NVRM: nvidia.ko because it does not include the required GPU
             NVRM: System Processor (GSP).
kernel: nvidia 0000:09:00.0: probe with driver nvidia failed with error -1
kernel: NVRM: None of the NVIDIA devices were initialized.
"""


def test_the_legacy_message_broken_over_lines_is_read_whole():
    (gpu,) = nvrm.refused_gpus(nvrm.nvrm_lines(NIXOS))
    assert (gpu.reason, gpu.legacy_branch, gpu.driver_version) == ("legacy-branch", "580", "595.71.05")
    assert gpu.name == "NVIDIA GeForce GTX 1050"
    (old,) = nvrm.refused_gpus(nvrm.nvrm_lines(OLD_WORDING))
    assert (old.legacy_branch, old.driver_version, old.name) == ("340", "379.39", "GeForce 9400M")


def test_the_open_module_message_names_the_bus_and_device():
    (gpu,) = nvrm.refused_gpus(nvrm.nvrm_lines(OPEN))
    assert (gpu.reason, gpu.pci_bus_id, gpu.pci_device_id) == ("open-module", "0000:09:00.0", "0x1d01")


def test_other_nvrm_lines_and_repeats_refuse_nothing_twice():
    assert nvrm.refused_gpus(nvrm.nvrm_lines("NVRM: GPU 0000:98:00.0: RmInitAdapter failed! (0x62:0x65:1792)\n")) == []
    assert len(nvrm.refused_gpus(nvrm.nvrm_lines(NIXOS + NIXOS))) == 1
    assert len(nvrm.nvrm_lines("NVRM: x\n" * 10000)) == nvrm.MAX_LINES


def _snapshot(tmp_path, commands, listdir=None):
    """A machine with a GTX 1050 on the bus and these command outputs."""
    root = tmp_path / "snap"
    device = root / "files/sys/bus/pci/devices/0000:01:00.0"
    device.mkdir(parents=True)
    for name, value in (("class", "0x030000"), ("vendor", "0x10de"), ("device", "0x1c81")):
        (device / name).write_text(value + "\n")
    (root / "files/etc").mkdir(parents=True)
    (root / "files/etc/os-release").write_text("ID=ubuntu\nVERSION_ID=24.04\n")
    (root / "MANIFEST.json").write_text(json.dumps({"format": "dlws-snapshot/1"}))
    listing = {"/sys/bus/pci/devices": ["0000:01:00.0"]}
    listing.update(listdir or {})
    (root / "host.json").write_text(json.dumps({"facts": {"platform": {"system": "linux", "machine": "x86_64"}},
                                                "listdir": listing}))
    (root / "commands.json").write_text(json.dumps(commands))
    return collect(open_snapshot(str(root))).to_dict()


SMI_FAILS = {"stdout": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", "stderr": "",
             "returncode": 9}


def test_the_probe_reads_the_kernel_log_only_where_no_driver_answers(tmp_path):
    inv = _snapshot(tmp_path, {"nvidia-smi -q -x": SMI_FAILS, "dmesg": {"stdout": NIXOS, "returncode": 0}},
                    {"/usr/lib/x86_64-linux-gnu": ["libnvidia-ml.so.595.71.05"]})
    nv = inv["nvidia"]
    assert nv["status"] == "no-driver" and nv["library_version"] == "595.71.05"
    assert [g["legacy_branch"] for g in nv["refused_gpus"]] == ["580"]
    # dmesg refused (kernel.dmesg_restrict without root): unknown, not "nothing refused"
    unread = _snapshot(tmp_path / "b", {"nvidia-smi -q -x": SMI_FAILS,
                                        "dmesg": {"stderr": "dmesg: read kernel buffer failed: Operation not "
                                                            "permitted", "returncode": 1}})
    assert unread["nvidia"]["kernel_log"] is None and unread["nvidia"]["refused_gpus"] is None
    # NixOS, no kernel log: the driver in use by its /run/opengl-driver/lib links, against the GTX 1050's 580
    nixos = _snapshot(tmp_path / "c", {"nvidia-smi -q -x": SMI_FAILS},
                      {"/run/opengl-driver/lib": ["libcuda.so", "libcuda.so.1", "libcuda.so.595.71.05"]})
    assert nixos["nvidia"]["library_version"] == "595.71.05" and nixos["nvidia"]["kernel_log"] is None
    (found,) = fired(nixos, "DLWS-DRV-014")
    assert found.evidence["installed_driver"] == "595.71.05" and "580 branch" in found.fix
    ok = collect(open_snapshot(os.path.join(HERE, "snapshots", "rtx4090-ryzen-workstation"))).to_dict()
    assert ok["nvidia"]["status"] == "ok" and ok["nvidia"]["kernel_log"] is None


def test_fires_from_the_log_and_says_it_alone():
    inv = mutate(CASES["DLWS-DRV-001"])
    gpu0(inv, name="GeForce GTX 1050", compute_capability="6.1")
    inv["nvidia"]["refused_gpus"] = [{"reason": "legacy-branch", "name": "NVIDIA GeForce GTX 1050",
                                      "legacy_branch": "580", "driver_version": "595.71.05", "message": "..."}]
    (found,) = fired(inv, "DLWS-DRV-014")
    assert found.evidence["installed_driver"] == "595.71.05" and "580 branch" in found.fix
    assert found.severity == "error" and not fired(inv, "DLWS-DRV-001")
    inv["os"]["secure_boot"] = True  # the module loaded and spoke: Secure Boot did not refuse it
    assert fired(inv, "DLWS-DRV-014") and not fired(inv, "DLWS-DRV-008")


def test_fires_from_the_gpus_branch_without_a_log_and_not_on_the_branch_that_drives_it():
    inv = mutate(CASES["DLWS-DRV-014"])
    (found,) = fired(inv, "DLWS-DRV-014")
    assert "470 branch" in found.fix and found.evidence["kernel_log"] == "not read"
    inv["nvidia"]["library_version"] = "470.256.02"  # the Kepler's own branch: something else keeps it from loading
    assert not fired(inv, "DLWS-DRV-014") and fired(inv, "DLWS-DRV-001")
    inv["nvidia"]["library_version"] = None  # no installed driver known: no judgment
    assert not fired(inv, "DLWS-DRV-014")


def test_quiet_where_the_driver_works_the_capability_is_unknown_or_the_kernel_is_not_ours():
    assert not fired(healthy(), "DLWS-DRV-014")
    working = mutate(CASES["DLWS-DRV-014"])
    working["nvidia"]["status"] = "ok"
    assert not fired(working, "DLWS-DRV-014")
    unknown = mutate(CASES["DLWS-DRV-014"])
    for gpu in unknown["gpus"]:
        gpu["compute_capability"] = None
    assert not fired(unknown, "DLWS-DRV-014")
    contained = mutate(CASES["DLWS-DRV-014"])
    contained["os"]["container"] = "docker"
    assert not fired(contained, "DLWS-DRV-014")


def test_the_open_module_fix_is_the_proprietary_flavour_unless_the_branch_dropped_the_gpu():
    inv = mutate(CASES["DLWS-DRV-001"])
    gpu0(inv, name="GeForce GT 1030", compute_capability="6.1", pci_bus_id="0000:09:00.0")
    inv["nvidia"]["refused_gpus"] = [{"reason": "open-module", "pci_bus_id": "0000:09:00.0",
                                      "pci_device_id": "0x1d01", "message": "..."}]
    inv["nvidia"]["library_version"] = "560.31.02"
    (found,) = fired(inv, "DLWS-DRV-014")
    assert "proprietary kernel module" in found.fix and "nvidia-driver-560 in place of nvidia-driver-560-open" \
        in found.fix
    inv["nvidia"]["library_version"] = "595.71.05"  # 590+ dropped Pascal in both flavours: the 580 branch
    (found,) = fired(inv, "DLWS-DRV-014")
    assert "580 branch" in found.fix and "proprietary" not in found.fix


def test_fixtures_name_the_root_cause():
    for name, words in (("nixos-gtx1050-driver595-legacy580", "nvidiaPackages.legacy_580"),
                        ("fedora-negativo17-gt1030-driver560-open-module", "kernel-open$/kernel/g"),
                        ("linuxmint213-gtx760-driver535-ignored", "nvidia-driver-470-server")):
        inv = collect(open_snapshot(os.path.join(HERE, "snapshots", name))).to_dict()
        (found,) = fired(inv, "DLWS-DRV-014")
        assert words in found.fix, (name, found.fix)
        assert not fired(inv, "DLWS-DRV-001")


# --- DLWS-DRV-012 and the DKMS build that failed: a version only added, its make.log --------------------------------

POP_LOG = """DKMS make.log for nvidia-535.98 for kernel 6.4.6-76060406-generic (x86_64)
make[1]: Entering directory '/usr/src/linux-headers-6.4.6-76060406-generic'
warning: the compiler differs from the one used to build the kernel
  The kernel was built by: x86_64-linux-gnu-gcc-12 (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0
  You are using:           cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0
make: *** [Makefile:82: modules] Error 2
"""


def test_a_make_log_names_its_kernel_compilers_and_errors():
    from provision.inventory.kernel_modules import parse_make_log

    log = parse_make_log("/var/lib/dkms/nvidia/535.98/build/make.log", POP_LOG)
    assert log.kernel == "6.4.6-76060406-generic" and log.kernel_compiler.startswith("x86_64-linux-gnu-gcc-12")
    assert log.compiler.startswith("cc (Ubuntu 11.4.0") and log.errors == ["make: *** [Makefile:82: modules] Error 2"]
    assert parse_make_log("/x", "").kernel is None


def failed_build(kernel_compiler, compiler, os_id="pop"):
    """The running kernel without a module, DKMS holding nvidia/535.98 only added, its make.log for this kernel."""
    inv = mutate(CASES["DLWS-DRV-012"])
    inv["os"]["id"] = os_id
    inv["nvidia"]["module_build"].update(dkms=[], dkms_versions=["nvidia/535.98"], headers=True, make_logs=[
        {"path": "/var/lib/dkms/nvidia/535.98/build/make.log", "kernel": "6.8.0-47-generic",
         "kernel_compiler": kernel_compiler, "compiler": compiler, "errors": ["make: *** [Makefile:82: modules] "
                                                                              "Error 2"]}])
    return inv


def test_the_kernels_newer_gcc_is_named_before_the_rebuild():
    (found,) = fired(failed_build("x86_64-linux-gnu-gcc-12 (Ubuntu 12.3.0-1ubuntu1~22.04) 12.3.0",
                                  "cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"), "DLWS-DRV-012")
    assert found.fix.startswith("install the compiler the kernel was built with: sudo apt-get install gcc-12 g++-12")
    assert "sudo dkms install nvidia/535.98 -k 6.8.0-47-generic" in found.fix
    assert found.evidence["make_log"]["compiler"].startswith("cc (Ubuntu 11.4.0")
    (other,) = fired(failed_build("gcc (GCC) 14.2.1", "gcc (GCC) 13.3.0", os_id="arch"), "DLWS-DRV-012")
    assert other.fix.startswith("install gcc 14, the compiler the kernel was built with")


def test_the_same_gcc_keeps_the_make_log_advice_and_an_added_version_is_rebuilt_not_reinstalled():
    (found,) = fired(failed_build("x86_64-linux-gnu-gcc-13 (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0",
                                  "cc (Ubuntu 13.3.0-6ubuntu2~24.04) 13.3.0"), "DLWS-DRV-012")
    assert "gcc-13" not in found.fix and "it failed before: read /var/lib/dkms/nvidia/535.98/build/make.log" \
        in found.fix
    assert "reinstall the NVIDIA driver" not in found.fix and found.evidence["dkms_versions"] == ["nvidia/535.98"]
    inv = failed_build(None, None)
    inv["nvidia"]["module_build"].update(dkms_versions=[], make_logs=[])
    (found,) = fired(inv, "DLWS-DRV-012")
    assert "reinstall the NVIDIA driver" in found.fix and "make_log" not in found.evidence


def test_the_probe_reads_the_make_log_of_a_version_only_added():
    inv = collect(open_snapshot(os.path.join(HERE, "snapshots", "pop2204-kernel6.4-gcc11-dkms-nvidia535-failed")))
    build = inv.to_dict()["nvidia"]["module_build"]
    assert build["dkms"] == [] and build["dkms_versions"] == ["nvidia/535.98"]
    (log,) = build["make_logs"]
    assert log["kernel"] == "6.4.6-76060406-generic" and len(log["errors"]) == 3
    (found,) = fired(inv.to_dict(), "DLWS-DRV-012")
    assert "sudo apt-get install gcc-12 g++-12" in found.fix


def test_a_build_tree_without_autoconf_h_is_reinstalled_headers():
    # zen-kernel/zen-kernel#305: "fatal error: /lib/modules/6.2.6-zen1-1-zen/build/include/linux/autoconf.h: No such
    # file or directory" with the headers' folder there
    inv = failed_build(None, None, os_id="ubuntu")
    inv["nvidia"]["module_build"]["make_logs"][0]["errors"] = [
        "<command-line>: fatal error: /lib/modules/6.8.0-47-generic/build/include/linux/autoconf.h: No such file or "
        "directory"]
    (found,) = fired(inv, "DLWS-DRV-012")
    assert found.fix.startswith("reinstall the headers of kernel 6.8.0-47-generic") and \
        "sudo apt-get install linux-headers-6.8.0-47-generic" in found.fix and "dkms install nvidia/535.98" in found.fix
