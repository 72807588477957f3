"""Every doctor rule fires on the machine it is about and stays quiet on a healthy one."""

import copy
import datetime
import os
import sys

import pytest

from provision.doctor import all_checks, all_rules, diagnose, model, rule_modules
from provision.doctor.model import Rule
from provision.inventory.model import Ecc, Framework, Gpu, Inventory, Pcie, Toolkit
from provision.knowledge import queries

GiB = 2 ** 30
#: End-of-life checks compare with the day they are given: the tests pin it, so verdicts do not move with the calendar.
TODAY = datetime.date(2026, 11, 25)


def healthy():
    """A healthy 2-GPU Ubuntu server with a CUDA 12 torch."""
    inv = Inventory()
    inv.cpu.arch, inv.cpu.physical_cores, inv.cpu.logical_cores = "x86_64", 32, 64
    inv.cpu.flags = ["avx", "avx2", "fma", "lm"]
    inv.memory.total_bytes, inv.memory.swap_total_bytes = 256 * GiB, 8 * GiB
    inv.os.system, inv.os.id, inv.os.version = "linux", "ubuntu", "22.04"
    inv.nvidia.driver_version, inv.nvidia.cuda_driver_version, inv.nvidia.status = "580.95.05", "13.0", "ok"
    for i in range(2):
        inv.gpus.append(Gpu(index=i, vendor="nvidia", name="NVIDIA A100-SXM4-80GB", compute_capability="8.0",
                            memory_total_bytes=80 * GiB, memory_used_bytes=1 * GiB, processes=0,
                            pcie=Pcie(4, 4, 16, 16), ecc=Ecc(mode="enabled", volatile_uncorrected=0,
                                                             aggregate_uncorrected=0),
                            power_limit_watts=400.0, mig_mode="disabled", persistence_mode="enabled",
                            display_active=False,
                            throttle_reasons=[]))
    inv.os.virtual_machine, inv.os.secure_boot, inv.nvidia.pci_gpus = None, True, 2
    inv.nvidia.container_toolkit, inv.os.container_engines = "1.16.2", ["docker"]
    inv.cuda.toolkits = [Toolkit("12.4.131", "/usr/local/cuda-12.4", "/usr/local")]
    inv.cuda.path_selects = inv.cuda.ld_library_path_selects = "/usr/local/cuda-12.4"
    inv.frameworks["torch"] = Framework("2.4.1+cu121", "cuda 12.1", cuda="12.1", package="torch")
    inv.python.version, inv.os.glibc = "3.11.7", "2.35"
    d = inv.to_dict()
    d["disks"] = [{"mountpoint": "/", "device": "/dev/nvme0n1p2", "fstype": "ext4", "total_bytes": 1000 * GiB,
                   "free_bytes": 500 * GiB, "media": "nvme"}]
    d["cudnn"] = [{"version": "9.1.0.70", "source": "pip:nvidia-cudnn-cu12", "path": None}]
    return d


def fired(inv, rule_id, today=TODAY):
    return [f for f in diagnose(inv, today=today).findings if f.id == rule_id]


def gpu0(inv, **fields):
    inv["gpus"][0].update(fields)
    return inv


def rocm_torch(inv, gfx, version):
    """GPU 0 an AMD GPU of that gfx target, torch that ROCm build."""
    inv["gpus"][0].update(vendor="amd", name="AMD Radeon RX 580", gfx_target=gfx, compute_capability=None)
    inv["frameworks"]["torch"].update(version=version, build="rocm " + version.split("+rocm")[1], cuda=None,
                                      rocm=version.split("+rocm")[1])
    return inv


def dkms_build(kernel, built=True, version="550.120"):
    return {"module": "nvidia", "version": version, "kernel": kernel, "arch": "x86_64", "built": built,
            "installed": built}


def no_module_build(**fields):
    """After a kernel update that DKMS did not follow: 6.8.0-47 runs, the module exists only for 6.8.0-45."""
    build = {"running_kernel": "6.8.0-47-generic", "module_files": [], "headers": False,
             "installed_kernels": ["6.8.0-45-generic", "6.8.0-47-generic"], "newest_kernel": None,
             "dkms": [dkms_build("6.8.0-45-generic")]}
    build.update(fields)
    return build


def mutate(func):
    inv = healthy()
    func(inv)
    return inv


def driver550(i):
    """The driver the healthy server ran before R550 left NVIDIA's supported branches: CUDA 12.4."""
    i["nvidia"].update(driver_version="550.54.15", cuda_driver_version="12.4")


CASES = {
    "DLWS-DRV-001": lambda i: (i["os"].update(secure_boot=False),
                              i["nvidia"].update(status="no-driver", driver_version=None)),
    "DLWS-DRV-002": lambda i: i["nvidia"].update(status="nouveau"),
    "DLWS-DRV-003": lambda i: i["nvidia"].update(status="version-mismatch",
                                                 message="Failed to initialize NVML: Driver/library version mismatch"),
    "DLWS-DRV-004": lambda i: i["nvidia"].update(status="gpu-lost"),
    "DLWS-DRV-005": lambda i: (driver550(i), i["cuda"]["toolkits"].append(
        {"version": "13.0.48", "path": "/usr/local/cuda-13.0", "source": "/usr/local"})),
    "DLWS-DRV-006": lambda i: i["nvidia"].update(status="nvml-error", message="Insufficient Permissions"),
    "DLWS-DRV-007": lambda i: (i["os"].update(wsl=2), i["nvidia"].update(
        wsl_linux_driver=["/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"])),
    "DLWS-DRV-008": lambda i: (i["os"].update(secure_boot=True), i["nvidia"].update(status="no-driver")),
    "DLWS-DRV-009": lambda i: i["nvidia"].update(pci_gpus=3),
    "DLWS-DRV-010": lambda i: (i["os"].update(wsl=2, secure_boot=None), i["nvidia"].update(
        status="nvml-error", message="Failed to initialize NVML: GPU access blocked by the operating system",
        driver_version=None, cuda_driver_version=None, pci_gpus=None, wsl_libraries=["libcuda.so.1", "nvidia-smi"]),
                              i.update(gpus=[])),
    "DLWS-DRV-011": lambda i: gpu0(i, compute_capability="3.7", name="Tesla K80"),
    "DLWS-DRV-012": lambda i: (i["nvidia"].update(status="no-driver", driver_version=None),
                               i["nvidia"]["module_build"].update(**no_module_build())),
    "DLWS-DRV-013": lambda i: i["nvidia"]["module_build"].update(
        running_kernel="6.8.0-45-generic", module_files=["updates/dkms/nvidia.ko.zst"], headers=True,
        installed_kernels=["6.8.0-45-generic", "6.8.0-47-generic"], newest_kernel="6.8.0-47-generic",
        newest_kernel_module_files=[], dkms=[dkms_build("6.8.0-45-generic")]),
    "DLWS-DRV-014": lambda i: (i["os"].update(secure_boot=False),
                               i["nvidia"].update(status="no-driver", driver_version=None,
                                                  library_version="535.183.01"),
                               gpu0(i, compute_capability="3.0", name="GeForce GTX 760")),
    # R535's Long Term Support ended June 2026 (NVIDIA Data Center Drivers, R615 documentation, Table 2)
    "DLWS-DRV-015": lambda i: i["nvidia"].update(driver_version="535.183.01", cuda_driver_version="12.2"),
    "DLWS-CTR-001": lambda i: i["containers"].update(docker="24.0.1", cgroup_v2=True, docker_runtimes=["nvidia"]),
    "DLWS-CTR-002": lambda i: i["containers"].update(cdi_specs=[{"path": "/etc/cdi/nvidia.yaml",
                                                                 "kinds": ["nvidia.com/gpu"],
                                                                 "driver_versions": ["535.183.01"]}]),
    "DLWS-CTR-003": lambda i: i["containers"].update(podman="3.4.4"),
    "DLWS-CTR-004": lambda i: i["containers"].update(toolkit_ldconfig="@/sbin/ldconfig.real",
                                                     toolkit_ldconfig_exists=False, host_ldconfigs=["/sbin/ldconfig"]),
    "DLWS-CTR-005": lambda i: i["containers"].update(docker="24.0.5", docker_snap=True),
    "DLWS-CTR-006": lambda i: i["containers"].update(kubelet=True, containerd_runtimes=["runc", "nvidia"],
                                                     containerd_nvidia_runtimes=["nvidia"],
                                                     containerd_default_runtime="runc"),
    "DLWS-GPU-009": lambda i: gpu0(i, memory_used_bytes=30 * GiB, processes=0, process_list=[]),
    "DLWS-OS-004": lambda i: (i["os"].update(container_engines=["docker"]), i["nvidia"].update(container_toolkit=None)),
    "DLWS-GPU-001": lambda i: i["gpus"][0]["ecc"].update(volatile_uncorrected=2),
    "DLWS-GPU-002": lambda i: i["gpus"][1]["ecc"].update(remapped_rows_pending=True),
    "DLWS-GPU-003": lambda i: gpu0(i, throttle_reasons=["hw_thermal_slowdown"]),
    "DLWS-GPU-004": lambda i: i["gpus"][0]["pcie"].update(width_current=8),
    "DLWS-GPU-005": lambda i: gpu0(i, persistence_mode="disabled"),
    "DLWS-GPU-006": lambda i: gpu0(i, mig_mode="enabled"),
    "DLWS-GPU-007": lambda i: gpu0(i, memory_used_bytes=70 * GiB, processes=3),
    "DLWS-GPU-008": lambda i: gpu0(i, compute_capability="7.0", name="Tesla V100-SXM2-16GB"),
    "DLWS-SYS-001": lambda i: i["memory"].update(total_bytes=64 * GiB),
    "DLWS-SYS-002": lambda i: i["memory"].update(swap_total_bytes=0),
    "DLWS-SYS-003": lambda i: i["disks"][0].update(free_bytes=3 * GiB),
    "DLWS-SYS-004": lambda i: i["disks"].append({"mountpoint": "/data", "device": "/dev/sda1", "fstype": "xfs",
                                                 "total_bytes": 16000 * GiB, "free_bytes": 9000 * GiB, "media": "hdd"}),
    "DLWS-SYS-005": lambda i: i["cpu"].update(physical_cores=6),
    "DLWS-OS-001": lambda i: i["os"].update(id="centos", version="7.9.2009"),
    "DLWS-OS-002": lambda i: i["os"].update(id="gentoo"),
    "DLWS-FW-001": lambda i: gpu0(i, compute_capability="6.1", name="NVIDIA GeForce GTX 1080") and
    i["frameworks"]["torch"].update(version="2.7.1+cu128", build="cuda 12.8", cuda="12.8"),
    "DLWS-FW-006": lambda i: (i["python"].update(version="3.13.1"),),
    "DLWS-FW-008": lambda i: rocm_torch(i, "gfx803", "2.4.1+rocm6.1"),
    "DLWS-OS-003": lambda i: (i["os"].update(container="docker"), i["nvidia"].update(status="no-driver")),
    "DLWS-FW-002": lambda i: i["frameworks"]["torch"].update(version="2.4.1+cpu", build="cpu", cuda=None),
    "DLWS-FW-003": lambda i: (driver550(i), i["frameworks"]["torch"].update(version="2.7.0+cu128",
                                                                             build="cuda 12.8", cuda="12.8")),
    "DLWS-FW-004": lambda i: i["frameworks"].update(tensorflow={"version": "2.12.0", "build": "cuda 11.8",
                                                                "cuda": "11.8"}),
    "DLWS-FW-005": lambda i: (i["cpu"].update(flags=["lm", "sse4_2"]),
                              i["frameworks"].update(tensorflow={"version": "2.15.0", "build": "cpu"})),
    "DLWS-FW-007": lambda i: i["frameworks"].update(mxnet={"version": "1.9.1", "build": "cuda 11.2",
                                                           "package": "mxnet-cu112"}),
    "DLWS-JET-001": lambda i: (i.update(jetson={"l4t": "36.4.3", "model": "NVIDIA Jetson AGX Orin Developer Kit"}),
                               i["frameworks"]["torch"].update(version="2.10.0", build="cpu", cuda=None)),
    "DLWS-JET-002": lambda i: (i.update(jetson={"l4t": "36.4.3", "model": "NVIDIA Jetson AGX Orin Developer Kit"}),
                               i["frameworks"]["torch"].update(version="2.1.0a0+41361538.nv23.06", build="cuda 11.4",
                                                               cuda="11.4")),
    "DLWS-CUDA-001": lambda i: i["cuda"].update(ld_library_path_selects="/usr/local/cuda-11.8"),
    "DLWS-CUDA-002": lambda i: i["cudnn"].append({"version": "8.9.2.26", "source": "pip:nvidia-cudnn-cu11"}),
    "DLWS-CUDA-003": lambda i: i["cuda"].update(cuda_home="/usr/local/cuda-11.8", cuda_home_from="CUDA_HOME", toolkits=[
        {"version": "11.8", "path": "/usr/local/cuda-11.8", "source": "CUDA_HOME", "nvcc": True}]),
    "DLWS-ENV-001": lambda i: i["env_vars"].update(CUDA_VISIBLE_DEVICES=""),
    "DLWS-ENV-002": lambda i: (rocm_torch(i, "gfx90a", "2.4.1+rocm6.1"), i["env_vars"].update(HIP_VISIBLE_DEVICES="1")),
    "DLWS-ENV-004": lambda i: (rocm_torch(i, "gfx1100", "2.4.1+rocm6.1"),
                               i["env_vars"].update(HSA_OVERRIDE_GFX_VERSION="10.3.0")),
    "DLWS-ENV-005": lambda i: (gpu0(i, name="NVIDIA GeForce RTX 3060"), i["env_vars"].update(CUDA_VISIBLE_DEVICES="1")),
    "DLWS-ENV-003": lambda i: (i["os"].update(container="docker"), i["nvidia"].update(status="no-driver"),
                               i["env_vars"].update(NVIDIA_VISIBLE_DEVICES="void")),
    "DLWS-EMU-001": lambda i: (i["os"].update(system="darwin", id="macos", version="15.3", emulation="rosetta"),
                               i["cpu"].update(model="Apple M2 Pro")),
    # pytorch/pytorch#139425: torch 2.5.1 on an M1 with macOS 12.7.6 (its MPS backend needs macOS 13).
    "DLWS-FW-009": lambda i: (i["os"].update(system="darwin", id="macos", version="12.7.6"),
                              i["cpu"].update(arch="arm64", model="Apple M1", flags=[]),
                              i["frameworks"]["torch"].update(version="2.5.1", build="metal", cuda=None)),
    # as in vladmandic/sdnext#3531 (torch 2.4.0+cu121 beside torchvision 0.20.1+cu124, torch 2.5's): torchvision::nms.
    "DLWS-FW-010": lambda i: i["frameworks"].update(torchvision={"version": "0.20.1+cu124", "build": "cuda 12.4",
                                                                 "cuda": "12.4"}),
    "DLWS-EMU-002": lambda i: i["os"].update(wsl=1, kernel="4.4.0-19041-Microsoft"),
    "DLWS-EMU-003": lambda i: (i["os"].update(system="windows", emulation="wow64"), i["python"].update(bits=32)),
    "DLWS-EMU-004": lambda i: i["os"].update(container="docker", emulation="qemu-user"),
    "DLWS-LIB-001": lambda i: i["loader_path"].append({"path": "/usr/local/cuda-12.4/lib64", "source": "LD_LIBRARY_PATH",
                                                       "libraries": {"libcudnn": ["9.0.0"]}}),
    # kohya-ss/sd-scripts#1186: torch 2.1.2+cu118 (cuDNN 8.7.0.84) beside TensorFlow 2.15 (8.9) and its wheel.
    "DLWS-LIB-002": lambda i: (i["frameworks"]["torch"].update(version="2.1.2+cu118", build="cuda 11.8", cuda="11.8"),
                               i["frameworks"].update(tensorflow={"version": "2.15.0.post1", "build": "cuda 12.2",
                                                                  "cuda": "12.2"}),
                               i.update(cudnn=[{"version": "8.9.4.25", "source": "pip:nvidia-cudnn-cu12"}])),
    "DLWS-LIB-003": lambda i: (driver550(i),
                               i["frameworks"].update(jax={"version": "0.4.28", "build": "cuda 12", "cuda": "12"}),
                               i["ptxas"].append({"version": "12.5.40", "source": "pip:nvidia-cuda-nvcc-cu12"})),
    # tensorflow/tensorflow#52988: TF 2.7 from pip, CUDA 11.2 and cuDNN 8.1 in the conda env, not on the loader path.
    "DLWS-LIB-005": lambda i: (i["frameworks"].update(tensorflow={"version": "2.7.0", "build": "cuda 11.2",
                                                                  "cuda": "11.2"}),
                               i.update(cudnn=[], loader_path=[{"path": "/usr/lib/x86_64-linux-gnu",
                                                                "source": "default", "libraries": {}}])),
    "DLWS-LIB-004": lambda i: (driver550(i), i["ptxas"].append(
        {"version": "13.1.80", "source": "triton", "path": "/x/triton/backends/nvidia/bin/ptxas-blackwell"})),
    # predibase/lorax#595: LD_PRELOAD names CUDA 12.x's compat libcuda, older than the running driver.
    "DLWS-LIB-006": lambda i: (i["env_vars"].update(LD_PRELOAD="libcuda.so"),
                               i.update(cuda_compat=[{"version": "535.54.03", "source": "/usr/local/cuda-12.2",
                                                      "path": "/usr/local/cuda-12.2/compat"}])),
}
ALWAYS_INFO = {"DLWS-SYS-006"}  # the power budget is information on every machine with GPU power limits


def test_healthy_machine_has_no_findings_but_information():
    findings = diagnose(healthy(), today=TODAY).findings
    assert {f.id for f in findings} == ALWAYS_INFO


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_case_only(rule_id):
    inv = mutate(CASES[rule_id])
    found = fired(inv, rule_id)
    assert found, "%s did not fire" % rule_id
    finding = found[0]
    assert finding.title and finding.fix and finding.evidence
    assert not fired(healthy(), rule_id)


def test_every_rule_has_a_case_and_an_explanation():
    rules = all_rules()
    assert len(rules) >= 25
    assert set(rules) == set(CASES) | ALWAYS_INFO | {"DLWS-KB-001"}  # dlws's own tables: test_knowledge_command
    for rule in rules.values():
        assert rule.explain and rule.title and rule.severity in ("error", "warning", "info")


def test_rocm_torch_without_code_objects_for_the_gpu():
    # torch 2.4's ROCm wheels carry gfx900..gfx1100, not Polaris's gfx803: FW-008 names the target and the build.
    (found,) = fired(mutate(CASES["DLWS-FW-008"]), "DLWS-FW-008")
    assert found.evidence["variant"] == "rocm6.1" and "gfx803" not in found.evidence["gfx_targets"]
    assert found.evidence["judgment"][0].startswith("no code objects for gfx803 in pytorch 2.4 (rocm6.1)")
    # An MI250X (gfx90a) is in the list; a build the table has no list for (2.10 rocm7.1) is not judged, not blamed.
    assert fired(mutate(lambda i: rocm_torch(i, "gfx90a", "2.4.1+rocm6.1")), "DLWS-FW-008") == []
    assert fired(mutate(lambda i: rocm_torch(i, "gfx803", "2.10.0+rocm7.1")), "DLWS-FW-008") == []
    # RDNA3's gfx1101 (RX 7800 XT) came with the 2.7 wheels.
    assert fired(mutate(lambda i: rocm_torch(i, "gfx1101", "2.4.1+rocm6.1")), "DLWS-FW-008")
    assert fired(mutate(lambda i: rocm_torch(i, "gfx1101", "2.7.1+rocm6.3")), "DLWS-FW-008") == []


def test_minor_cuda_mismatch_is_info_below_the_floor_or_major_an_error():
    # torch cu128 on a CUDA 12.4 driver runs under minor-version compatibility, as setup plans it: an info.
    minor = fired(mutate(CASES["DLWS-FW-003"]), "DLWS-FW-003")[0]
    assert minor.severity == "info" and "PTX JIT" in minor.evidence["judgment"][0]
    major = fired(mutate(lambda i: (driver550(i), i["frameworks"]["torch"].update(cuda="13.0", build="cuda 13.0"))),
                  "DLWS-FW-003")[0]
    assert major.severity == "error"
    # CUDA 11.0's launch driver is below CUDA 11's minor-version floor: cu118 cannot run.
    floor = queries.minor_compat_floor("11.0")
    old = mutate(lambda i: (i["nvidia"].update(driver_version="450.51.06", cuda_driver_version="11.0"),
                            i["frameworks"]["torch"].update(version="2.4.1+cu118", build="cuda 11.8", cuda="11.8")))
    below = fired(old, "DLWS-FW-003")[0]
    assert below.severity == "error" and floor in below.evidence["judgment"][0]
    old["nvidia"]["driver_version"] = floor
    assert fired(old, "DLWS-FW-003")[0].severity == "info"


def test_an_older_build_the_fix_names_is_one_minor_version_compatibility_runs():
    # pytorch/pytorch#112553: torch 2.1.0+cu121 on driver 470.182.03 (CUDA 11.4), where torch 2.0.1 (cu117) ran.
    # "CUDA <= 11.4" would send the user to torch 1.12's cu113; the fix names the build setup plans (CUDA 11.x).
    inv = mutate(lambda i: (i["nvidia"].update(driver_version="470.182.03", cuda_driver_version="11.4"),
                            i["frameworks"]["torch"].update(version="2.1.0+cu121", build="cuda 12.1", cuda="12.1")))
    (found,) = fired(inv, "DLWS-FW-003")
    assert found.severity == "error" and "CUDA <= 11.4" not in found.fix
    assert "https://download.pytorch.org/whl/cu118" in found.fix and "--force-reinstall torch==" in found.fix
    # A package that is not a framework of the tables keeps the bound.
    inv["frameworks"]["torchvision"] = {"version": "0.16.0+cu121", "build": "cuda 12.1", "cuda": "12.1"}
    assert "torchvision built for CUDA <= 11.4" in [f for f in fired(inv, "DLWS-FW-003")
                                                    if f.subject == "torchvision"][0].fix


def test_the_driver_cuda_is_derived_when_the_driver_does_not_report_it():
    inv = mutate(lambda i: (driver550(i), i["nvidia"].update(cuda_driver_version=None),
                            i["frameworks"]["torch"].update(version="2.7.0+cu130", build="cuda 13.0", cuda="13.0")))
    found = fired(inv, "DLWS-FW-003")[0]
    assert found.severity == "error" and found.evidence["driver_cuda_derived"] is True
    assert found.evidence["driver_cuda"] == queries.max_cuda_for_driver("550.54.15")


def test_toolkit_of_the_drivers_major_runs_under_minor_version_compatibility():
    inv = mutate(lambda i: (driver550(i), i["cuda"]["toolkits"].append(
        {"version": "12.8.61", "path": "/usr/local/cuda-12.8", "source": "/usr/local"})))
    assert [f.severity for f in fired(inv, "DLWS-DRV-005")] == ["info"]
    assert [f.severity for f in fired(mutate(CASES["DLWS-DRV-005"]), "DLWS-DRV-005")] == ["error"]


def test_cuda_visible_devices_is_read_as_the_cuda_runtime_reads_it():
    """Empty, -1, a word or a repeat hides both GPUs; an index past the last ends the list (error when nothing is
    left, warning when some is); indices that exist, a deliberate -1 after them and UUIDs the inventory lacks: quiet."""
    def severity(value):
        inv = healthy()
        inv["env_vars"]["CUDA_VISIBLE_DEVICES"] = value
        return [f.severity for f in fired(inv, "DLWS-ENV-001")]
    for value in ("", "-1", "NoDevFiles", "2", "0,0", "5,0"):
        assert severity(value) == ["error"], value
    assert severity("0,2") == ["warning"]
    for value in ("0", "1,0", "1gpu", "0,-1,1", "GPU-8932f937"):
        assert severity(value) == [], value
    unloaded = healthy()
    unloaded["env_vars"]["CUDA_VISIBLE_DEVICES"], unloaded["nvidia"]["status"] = "", "no-driver"
    assert not fired(unloaded, "DLWS-ENV-001")  # no driver: DLWS-DRV-001 says why, not the variable


def test_rocm_visibility_follows_rocr_then_hip():
    """ROCR_VISIBLE_DEVICES set but empty hides the AMD GPUs, an empty HIP_VISIBLE_DEVICES does not (ROCm/hip#3001);
    HIP (or CUDA_VISIBLE_DEVICES in its place) counts among the GPUs ROCR left (Parsl/parsl#3858)."""
    def severity(**env):
        inv = rocm_torch(healthy(), "gfx90a", "2.4.1+rocm6.1")
        inv["gpus"][1].update(vendor="amd", name="AMD Instinct MI210", gfx_target="gfx90a", compute_capability=None)
        inv["env_vars"].update(env)
        return [f.severity for f in fired(inv, "DLWS-ENV-002")]
    assert severity(ROCR_VISIBLE_DEVICES="") == ["error"]
    assert severity(ROCR_VISIBLE_DEVICES="1", CUDA_VISIBLE_DEVICES="1") == ["error"]
    assert severity(HIP_VISIBLE_DEVICES="2") == ["error"]
    assert severity(HIP_VISIBLE_DEVICES="01") == ["error"]  # HIP takes plain decimal indices only
    assert severity(ROCR_VISIBLE_DEVICES="0,3") == ["warning"]
    for env in ({"HIP_VISIBLE_DEVICES": ""}, {"HIP_VISIBLE_DEVICES": "", "CUDA_VISIBLE_DEVICES": ""},
                {"ROCR_VISIBLE_DEVICES": "1", "CUDA_VISIBLE_DEVICES": "0"}, {"ROCR_VISIBLE_DEVICES": "0x1"},
                {"HIP_VISIBLE_DEVICES": "1,0"}, {"ROCR_VISIBLE_DEVICES": "GPU-f980f88ef31631a2"},
                {"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "5"}):
        assert severity(**env) == [], env


def test_nvidia_visible_devices_counts_only_where_the_driver_does_not_answer():
    """none, void or empty in a container whose driver does not answer: error; a working driver (CDI injects GPUs
    with void), 'all', no container, or 'void' under Kubernetes (its CDI mode sets it): quiet."""
    def fires(value, container="docker", status="no-driver"):
        inv = healthy()
        inv["os"]["container"], inv["nvidia"]["status"] = container, status
        inv["env_vars"]["NVIDIA_VISIBLE_DEVICES"] = value
        return bool(fired(inv, "DLWS-ENV-003"))
    assert fires("void") and fires("none") and fires("") and fires("none", container="kubernetes")
    assert not fires("void", status="ok") and not fires("all") and not fires("void", container=None)
    assert not fires("void", container="kubernetes")


def test_a_rule_that_raises_becomes_a_finding(monkeypatch):
    broken = copy.copy(all_rules()["DLWS-SYS-001"])
    broken.check = lambda inv: 1 / 0
    monkeypatch.setitem(model.RULES, "DLWS-SYS-001", broken)
    findings = fired(healthy(), "DLWS-SYS-001")
    assert findings and "ZeroDivisionError" in findings[0].evidence["exception"]


def test_empty_inventory_never_raises():
    report = diagnose(Inventory().to_dict())
    assert all("exception" not in f.evidence for f in report.findings)


def test_glibc_older_than_the_frameworks_wheels():
    inv = mutate(lambda i: (i["os"].update(glibc="2.17"),
                            i["frameworks"]["torch"].update(version="2.10.0+cu128", build="cuda 12.8", cuda="12.8")))
    found = [f for f in fired(inv, "DLWS-FW-006") if "glibc" in f.title]
    assert found and found[0].evidence["glibc_needed"] == "2.28"


def test_a_glibc_floor_that_is_no_version_is_not_compared(monkeypatch):
    """The frameworks schema lets the floor be any string: one that is no version once raised TypeError."""
    from provision.knowledge import queries

    real = queries.framework_release
    monkeypatch.setattr(queries, "framework_release",
                        lambda name, version: dict(real(name, version) or {}, glibc_min_linux_x86_64="manylinux2014"))
    inv = mutate(lambda i: i["os"].update(glibc="2.17"))
    assert [f.evidence for f in fired(inv, "DLWS-FW-006")] == []


def test_secure_boot_explains_the_missing_driver_alone():
    """With Secure Boot refusing the module, DLWS-DRV-008 says why; DLWS-DRV-001 does not repeat it."""
    inv = mutate(CASES["DLWS-DRV-008"])
    assert fired(inv, "DLWS-DRV-008") and not fired(inv, "DLWS-DRV-001")


def test_mismatch_fix_finishes_an_interrupted_apt_upgrade_on_debian():
    """On apt systems a mismatch that survives the reboot is an unfinished upgrade; dnf systems get no apt step."""
    debian = mutate(lambda i: (CASES["DLWS-DRV-003"](i), i["os"].update(id="debian", version="12")))
    assert [f for f in fired(debian, "DLWS-DRV-003") if "apt-get install --fix-broken" in f.fix]
    fedora = mutate(lambda i: (CASES["DLWS-DRV-003"](i), i["os"].update(id="fedora", version="39")))
    assert [f for f in fired(fedora, "DLWS-DRV-003") if "apt-get" not in f.fix]


def test_secure_boot_fix_names_the_akmods_key_on_fedora():
    """Fedora builds the module with akmods (RPM Fusion), whose key is not DKMS's: the fix names the one that
    signs there, and keeps DKMS's elsewhere."""
    fedora = mutate(lambda i: (CASES["DLWS-DRV-008"](i), i["os"].update(id="fedora", version="34")))
    assert [f for f in fired(fedora, "DLWS-DRV-008") if "/etc/pki/akmods/certs/public_key.der" in f.fix
            and "shim-signed" not in f.fix]
    ubuntu = mutate(lambda i: (CASES["DLWS-DRV-008"](i), i["os"].update(id="ubuntu")))
    assert [f for f in fired(ubuntu, "DLWS-DRV-008") if "/var/lib/shim-signed/mok/MOK.der" in f.fix
            and "akmods" not in f.fix]


def test_inside_wsl_2_no_rule_says_install_a_linux_driver():
    """Under WSL 2 the driver is Windows': DLWS-DRV-010 names the Windows side; DLWS-DRV-001/003/006 (modprobe,
    rmmod, reinstalling driver packages) stay quiet, and so does DLWS-DRV-010 where DLWS-DRV-007 explains it."""
    for status, message in (("nvml-error", "Failed to initialize NVML: Unknown Error"),
                            ("no-driver", "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                                          "driver. Make sure that the latest NVIDIA driver is installed and running."),
                            ("version-mismatch", "Failed to initialize NVML: Driver/library version mismatch")):
        inv = mutate(CASES["DLWS-DRV-010"])
        inv["nvidia"].update(status=status, message=message)
        ids = {f.id for f in diagnose(inv, today=TODAY).findings}
        assert "DLWS-DRV-010" in ids and not {"DLWS-DRV-001", "DLWS-DRV-003", "DLWS-DRV-006"} & ids, (status, ids)
        found = fired(inv, "DLWS-DRV-010")[0]
        assert found.severity == "error" and found.evidence["nvidia.message"] == message
        assert "Windows driver" in found.fix and "wsl --update" in found.fix and "R470" in found.fix
        inv["nvidia"]["wsl_linux_driver"] = ["/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05"]
        assert fired(inv, "DLWS-DRV-007") and not fired(inv, "DLWS-DRV-010")


def test_wsl_2_without_the_windows_drivers_files_is_named():
    """nvidia-smi found nowhere and /usr/lib/wsl/lib without libcuda: the Windows driver maps nothing (a warning,
    the PC may have no NVIDIA GPU); with its files there, or another GPU answering, nothing is said."""
    inv = mutate(CASES["DLWS-DRV-010"])
    inv["nvidia"].update(status="no-gpu", message=None, wsl_libraries=["libd3d12.so", "libdxcore.so"])
    found = fired(inv, "DLWS-DRV-010")
    assert [f.severity for f in found] == ["warning"]
    assert found[0].evidence["/usr/lib/wsl/lib/libcuda.so.1"] == "missing"
    assert found[0].evidence["/usr/lib/wsl/lib/nvidia-smi"] == "missing"
    inv["nvidia"]["wsl_libraries"] = None
    assert fired(inv, "DLWS-DRV-010")[0].evidence["/usr/lib/wsl/lib/libcuda.so.1"] == "not read"
    inv["nvidia"]["wsl_libraries"] = ["libcuda.so.1", "nvidia-smi"]
    assert not fired(inv, "DLWS-DRV-010")
    inv["nvidia"]["wsl_libraries"] = []
    inv["gpus"] = [{"index": 0, "vendor": "amd", "name": "Radeon RX 7900 XTX"}]
    assert not fired(inv, "DLWS-DRV-010")


def test_end_of_life_is_judged_as_of_the_day_given():
    inv = mutate(CASES["DLWS-OS-001"])  # CentOS 7: standard support ended 2024-06-30
    assert fired(inv, "DLWS-OS-001", today=datetime.date(2024, 7, 1))
    assert not fired(inv, "DLWS-OS-001", today=datetime.date(2024, 6, 29))


def test_a_rule_is_a_typed_rule_object():
    from provision.doctor.rules import driver

    assert isinstance(driver.no_driver, Rule) and driver.no_driver is all_rules()["DLWS-DRV-001"]
    finding = driver.no_driver.finding({"x": 1}, "fix it")
    assert (finding.id, finding.severity, finding.title) == ("DLWS-DRV-001", "error", driver.no_driver.title)


def test_every_rule_module_registers_rules():
    from provision.doctor import rules

    files = sorted(f[:-3] for f in os.listdir(os.path.dirname(rules.__file__))
                   if f.endswith(".py") and f != "__init__.py")
    assert [name.rsplit(".", 1)[-1] for name in rule_modules()] == files
    areas = {rule.area for rule in all_rules().values()}
    assert areas == set(files)


def test_a_new_rule_module_is_found_without_being_listed(tmp_path, monkeypatch):
    from provision.doctor import rules

    (tmp_path / "zz_extra.py").write_text(
        "from provision.doctor.model import rule\n\n\n"
        "@rule('DLWS-ZZ-001', 'info', 'An extra rule')\n"
        "def extra(inv):\n"
        "    \"\"\"Found by discovery.\"\"\"\n"
        "    return extra.finding({'seen': True}, 'nothing to fix')\n")
    all_checks()  # everything else registered first: the copies below are thrown away afterwards
    monkeypatch.setattr(rules, "__path__", list(rules.__path__) + [str(tmp_path)])
    monkeypatch.setattr(model, "RULES", dict(model.RULES))
    monkeypatch.setattr(model, "CHECKS", dict(model.CHECKS))
    try:
        assert rule_modules()[-1] == "provision.doctor.rules.zz_extra"
        assert "DLWS-ZZ-001" in all_rules() and "DLWS-ZZ-001" in all_checks()
        assert fired(healthy(), "DLWS-ZZ-001")[0].evidence == {"seen": True}
    finally:
        sys.modules.pop("provision.doctor.rules.zz_extra", None)
        if hasattr(rules, "zz_extra"):
            delattr(rules, "zz_extra")


def test_rules_run_in_a_stable_order():
    assert list(all_rules()) == sorted(all_rules())
    assert diagnose(healthy(), today=TODAY).checks == sorted(all_rules())


def test_every_check_the_doctor_prints_is_registered():
    checks = all_checks()
    for prefix in ("DLWS-REQ-", "DLWS-TGT-", "DLWS-DEEP-"):
        assert [c for c in checks if c.startswith(prefix)], prefix
    for check in checks.values():
        assert check.explain and check.title and check.severity in ("error", "warning", "info"), check.id


def test_driver_upgrade_fixes_name_the_driver_from_the_table():
    from provision.doctor.advice import driver_for_cuda
    from provision.knowledge import queries

    fix = fired(mutate(CASES["DLWS-FW-003"]), "DLWS-FW-003")[0].fix
    assert "the NVIDIA driver %s or newer (CUDA 12.8's)" % queries.min_driver_for_cuda("12.8") in fix
    fix = fired(mutate(CASES["DLWS-DRV-005"]), "DLWS-DRV-005")[0].fix
    assert "the NVIDIA driver %s or newer (CUDA 13.0's)" % queries.min_driver_for_cuda("13.0") in fix
    # CUDA 12.7 was never released: no driver to name, so the CUDA version is the advice
    assert driver_for_cuda((12, 7)) == "an NVIDIA driver that supports CUDA 12.7"


def test_a_build_the_tables_lack_is_judged_by_what_its_cuda_can_compile():
    # A torch nightly for CUDA 12.1 on an RTX 5090 (sm_120): no arch list in the tables, but CUDA 12.1's nvcc stops
    # at sm_90, so the build has no kernels for the GPU (inferred, and said so).
    nightly = mutate(lambda i: gpu0(i, compute_capability="12.0", name="NVIDIA GeForce RTX 5090") and
                     i["frameworks"]["torch"].update(version="2.6.0.dev20241112+cu121", build="cuda 12.1", cuda="12.1"))
    (finding,) = fired(nightly, "DLWS-FW-001")
    assert finding.evidence["inferred"] == "CUDA 12.1 cannot compile for compute capability 12.0"
    # the same nightly on an H100 (sm_90), which CUDA 12.1 can compile for: no finding
    hopper = mutate(lambda i: gpu0(i, compute_capability="9.0", name="NVIDIA H100 80GB HBM3") and
                    i["frameworks"]["torch"].update(version="2.6.0.dev20241112+cu121", build="cuda 12.1", cuda="12.1"))
    assert fired(hopper, "DLWS-FW-001") == []


def test_inside_wsl2_the_driver_is_judged_in_windows_numbering_and_fixed_on_windows():
    # WSL 2's nvidia-smi reports the Windows driver (e.g. 551.23). In Linux numbering that meets CUDA 12.4's 550.54.14;
    # in Windows numbering CUDA 12.4 needs 551.61, so the driver supports CUDA 12.3 and a 12.4 toolkit runs only under
    # minor-version compatibility. The fix is the Windows driver, never a Linux driver install.
    def wsl(i):
        i["os"].update(wsl=2, secure_boot=None)
        i["nvidia"].update(driver_version="551.23", cuda_driver_version=None)
    found = fired(mutate(wsl), "DLWS-DRV-005")
    assert [f.severity for f in found] == ["info"]
    assert found[0].evidence["driver_cuda"] == "12.3" and found[0].evidence["driver_cuda_derived"] is True
    assert "on a CUDA 12.3 driver" in found[0].evidence["judgment"]
    fix = found[0].fix
    assert "the Windows NVIDIA driver %s or newer" % queries.min_driver_for_cuda("12.4", "windows") in fix
    assert "installed on Windows" in fix and "dlws setup" not in fix and "apt" not in fix
    assert fired(mutate(lambda i: i["nvidia"].update(driver_version="551.23", cuda_driver_version=None)),
                 "DLWS-DRV-005") == []  # the same number on Linux meets CUDA 12.4
    # Below CUDA 12's Windows minor-version floor (528.33) a 12.1 toolkit cannot run, though 527.56 >= 525.60.13.
    def old(i):
        wsl(i)
        i["nvidia"]["driver_version"] = "527.56"
        i["cuda"]["toolkits"] = [{"version": "12.1.105", "path": "/usr/local/cuda-12.1", "source": "/usr/local"}]
    assert [f.severity for f in fired(mutate(old), "DLWS-DRV-005")] == ["error"]


def test_a_kernel_update_without_the_module_is_named_with_its_fix():
    """No module for the running kernel: DLWS-DRV-012 alone (not DRV-001's modprobe, not DRV-008's Secure Boot),
    the headers first where they are missing; a module for a newer kernel means reboot; modules removed by the update
    mean reboot; an unread /lib/modules is no evidence."""
    inv = mutate(CASES["DLWS-DRV-012"])
    (found,) = fired(inv, "DLWS-DRV-012")
    assert found.evidence["headers"] is False and found.evidence["running_kernel"] == "6.8.0-47-generic"
    assert "linux-headers-6.8.0-47-generic" in found.fix and "dkms install nvidia/550.120 -k 6.8.0-47" in found.fix
    assert not fired(inv, "DLWS-DRV-001") and not fired(inv, "DLWS-DRV-008")  # healthy() has Secure Boot on
    inv["nvidia"]["module_build"].update(headers=True, dkms=[dkms_build("6.8.0-45-generic"),
                                                             dkms_build("6.8.0-47-generic", built=False)])
    (found,) = fired(inv, "DLWS-DRV-012")
    assert "linux-headers" not in found.fix and "make.log" in found.fix
    inv["nvidia"]["module_build"].update(dkms=None)  # a .run install without DKMS
    assert "reinstall the NVIDIA driver" in fired(inv, "DLWS-DRV-012")[0].fix
    inv["nvidia"]["module_build"] = no_module_build(installed_kernels=["6.8.0-49-generic"],
                                                    newest_kernel="6.8.0-49-generic",
                                                    newest_kernel_module_files=["updates/dkms/nvidia.ko.zst"])
    (found,) = fired(inv, "DLWS-DRV-012")
    assert found.fix.startswith("sudo reboot") and "removed" in found.title
    inv["nvidia"]["module_build"] = no_module_build(module_files=None)
    assert not fired(inv, "DLWS-DRV-012") and fired(inv, "DLWS-DRV-008")
    inv["os"]["container"] = "docker"
    inv["nvidia"]["module_build"] = no_module_build()
    assert not fired(inv, "DLWS-DRV-012")


def test_nvml_unknown_error_in_a_container_names_the_lost_devices():
    """DLWS-DRV-006 in a container: with /dev/nvidia* there it is the systemd-reload loss (toolkit#48) and its
    documented fix; without them the GPUs were never passed in; outside a container the general advice."""
    inv = mutate(lambda i: (i["os"].update(container="docker"), i["nvidia"].update(
        status="nvml-error", message="Failed to initialize NVML: Unknown Error"),
        i["containers"].update(nvidia_devices=["nvidia0", "nvidiactl", "nvidia-uvm"])))
    (found,) = fired(inv, "DLWS-DRV-006")
    assert "lost" in found.title and "create-dev-char-symlinks" in found.fix and "cgroupfs" in found.fix
    inv["containers"]["nvidia_devices"] = []
    assert "--gpus all" in fired(inv, "DLWS-DRV-006")[0].fix
    inv["os"]["container"] = None
    assert "permissions" in fired(inv, "DLWS-DRV-006")[0].fix


def test_mig_on_without_instances_is_an_error():
    inv = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=0))
    assert [f.severity for f in fired(inv, "DLWS-GPU-006")] == ["error"]
    inv["gpus"][0]["mig_devices"] = 3
    assert [f.severity for f in fired(inv, "DLWS-GPU-006")] == ["info"]


def test_gpu_memory_without_a_visible_process():
    """Memory used with no process listed, or only processes /proc does not have: named; a process seen here, an
    unread process list, a small amount, MIG or WSL: not."""
    inv = mutate(CASES["DLWS-GPU-009"])
    assert "fuser" in fired(inv, "DLWS-GPU-009")[0].fix
    inv["os"]["container"] = "docker"
    assert "--pid=host" in fired(inv, "DLWS-GPU-009")[0].fix
    inv["gpus"][0]["process_list"] = [{"pid": 4242, "type": "C", "name": "python", "visible": False}]
    assert fired(inv, "DLWS-GPU-009")
    inv["gpus"][0]["process_list"][0]["visible"] = True
    assert not fired(inv, "DLWS-GPU-009")
    for fields in ({"process_list": None}, {"process_list": [], "memory_used_bytes": 512 * 2 ** 20},
                   {"process_list": [], "mig_mode": "enabled"}):
        assert not fired(gpu0(mutate(CASES["DLWS-GPU-009"]), **fields), "DLWS-GPU-009"), fields
    wsl = mutate(CASES["DLWS-GPU-009"])
    wsl["os"]["wsl"] = 2
    assert not fired(wsl, "DLWS-GPU-009")


def test_the_next_kernel_is_judged_only_when_its_modules_were_read():
    """A newer kernel whose /lib/modules holds no nvidia module: build it before rebooting (the DKMS build named), or
    keep booting the running kernel; an unread folder, a module there, or no module now either: quiet."""
    inv = mutate(CASES["DLWS-DRV-013"])
    (found,) = fired(inv, "DLWS-DRV-013")
    assert "linux-headers-6.8.0-47-generic" in found.fix and "dkms install nvidia/550.120 -k 6.8.0-47" in found.fix
    assert "keep booting kernel 6.8.0-45-generic" in found.fix
    inv["nvidia"]["module_build"]["dkms"] = None  # /var/lib/dkms unread
    assert "dkms autoinstall -k 6.8.0-47-generic" in fired(inv, "DLWS-DRV-013")[0].fix
    for fields in ({"newest_kernel_module_files": None}, {"newest_kernel_module_files": ["updates/dkms/nvidia.ko"]},
                   {"newest_kernel": None}):
        quiet = mutate(CASES["DLWS-DRV-013"])
        quiet["nvidia"]["module_build"].update(fields)
        assert not fired(quiet, "DLWS-DRV-013"), fields
    broken = mutate(CASES["DLWS-DRV-013"])
    broken["nvidia"]["module_build"]["module_files"] = None
    assert fired(broken, "DLWS-DRV-013")  # the driver answers: the running kernel has its module
    broken["nvidia"].update(status="nvml-error")
    assert not fired(broken, "DLWS-DRV-013")


def test_a_systemd_reload_is_judged_only_where_docker_uses_systemd_cgroups():
    """Docker's systemd driver (explicit, or its default on cgroup v2) with the toolkit: NVIDIA's workarounds, and
    the /dev/char link where it is missing; cgroupfs, cgroup v1 with no driver set, an unread cgroup version, no
    toolkit, containerd alone or a container: quiet."""
    inv = mutate(CASES["DLWS-CTR-001"])
    (found,) = fired(inv, "DLWS-CTR-001")
    assert "cgroupfs" in found.fix and "create-dev-char-symlinks" not in found.fix
    inv["containers"]["dev_char_symlinks"] = False
    assert "create-dev-char-symlinks" in fired(inv, "DLWS-CTR-001")[0].fix
    for fields in ({"docker_cgroup_driver": "cgroupfs"}, {"cgroup_v2": False}, {"cgroup_v2": None},
                   {"docker": None, "containerd": "1.7.2"}):
        quiet = mutate(CASES["DLWS-CTR-001"])
        quiet["containers"].update(fields)
        assert not fired(quiet, "DLWS-CTR-001"), fields
    explicit = mutate(CASES["DLWS-CTR-001"])
    explicit["containers"].update(cgroup_v2=False, docker_cgroup_driver="systemd")
    assert fired(explicit, "DLWS-CTR-001")
    explicit["nvidia"]["container_toolkit"], explicit["containers"]["docker_runtimes"] = None, []
    assert not fired(explicit, "DLWS-CTR-001")
    inside = mutate(CASES["DLWS-CTR-001"])
    inside["os"]["container"] = "docker"
    assert not fired(inside, "DLWS-CTR-001")
    failing = mutate(CASES["DLWS-CTR-001"])
    failing["nvidia"]["status"] = "no-driver"
    assert not fired(failing, "DLWS-CTR-001")


def test_a_cdi_spec_is_stale_only_against_a_known_driver():
    inv = mutate(CASES["DLWS-CTR-002"])
    (found,) = fired(inv, "DLWS-CTR-002")
    assert found.fix == "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
    for change in (lambda i: i["containers"]["cdi_specs"][0].update(driver_versions=["580.95.05"]),
                   lambda i: i["containers"]["cdi_specs"][0].update(driver_versions=[]),  # names no version
                   lambda i: i["containers"]["cdi_specs"][0].update(kinds=["vendor.com/device"]),
                   lambda i: i["nvidia"].update(driver_version=None),
                   lambda i: i["os"].update(container="docker")):
        quiet = mutate(CASES["DLWS-CTR-002"])
        change(quiet)
        assert not fired(quiet, "DLWS-CTR-002")


def test_podman_older_than_4_1_is_named_where_the_gpus_are_meant_for_it():
    """Podman < 4.1 with the toolkit, the daemon.json runtime or an NVIDIA CDI spec: named, whatever the driver's
    state; Podman 4.1 on, no toolkit at all, an unknown version or a container: quiet."""
    inv = mutate(CASES["DLWS-CTR-003"])
    assert "4.1 or newer" in fired(inv, "DLWS-CTR-003")[0].fix
    inv["nvidia"].update(status="no-gpu")
    assert fired(inv, "DLWS-CTR-003")
    inv["nvidia"]["container_toolkit"] = None
    assert not fired(inv, "DLWS-CTR-003")
    inv["containers"]["cdi_specs"] = [{"path": "/etc/cdi/nvidia.yaml", "kinds": ["nvidia.com/gpu"],
                                       "driver_versions": []}]
    assert fired(inv, "DLWS-CTR-003")
    for fields in ({"podman": "4.1.0"}, {"podman": "5.0.3"}, {"podman": None}):
        quiet = mutate(CASES["DLWS-CTR-003"])
        quiet["containers"].update(fields)
        assert not fired(quiet, "DLWS-CTR-003"), fields
    inside = mutate(CASES["DLWS-CTR-003"])
    inside["os"]["container"] = "podman"
    assert not fired(inside, "DLWS-CTR-003")


def test_the_nvidia_runtime_in_daemon_json_is_the_toolkit():
    """DLWS-OS-004 (no toolkit) stays quiet where daemon.json names the nvidia runtime, though nvidia-ctk gave no
    version."""
    inv = mutate(CASES["DLWS-OS-004"])
    assert fired(inv, "DLWS-OS-004")
    inv["containers"]["docker_runtimes"] = ["nvidia", "runc"]
    assert not fired(inv, "DLWS-OS-004")
