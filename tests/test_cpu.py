"""CPU probe: x86-64 levels, /proc/cpuinfo (x86, ARM, Raspberry Pi), sysfs lists and sizes, macOS sysctl, bad evidence.

Raw texts are copied from public reports; each says where it comes from.
"""

import json
import os

import pytest

from provision.host import SnapshotHost
from provision.inventory import cpu
from provision.inventory.model import Inventory
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")


def fixture_text(name, path):
    with open(os.path.join(SNAPSHOTS, name, "files", path)) as handle:
        return handle.read()


def flags_of(name):
    return cpu.parse_cpuinfo(fixture_text(name, "proc/cpuinfo"))[0]["flags"].split()


def make_host(tmp_path, files=None, facts=None, commands=None):
    """A snapshot folder with just these files, facts and commands."""
    for path, text in (files or {}).items():
        target = tmp_path / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (tmp_path / "host.json").write_text(json.dumps({"facts": facts or {}}))
    (tmp_path / "commands.json").write_text(json.dumps(commands or {}))
    return open_snapshot(str(tmp_path))


def probe(host):
    inv = Inventory()
    cpu.probe(host, inv)
    return inv


# --- x86-64 micro-architecture levels --------------------------------------------------------------------------------

# AMD EPYC 9754 in an LXC container, ollama/ollama#5554 (kept in ollama discover/cpu_linux_test.go)
EPYC_9754_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx "
    "mmxext fxsr_opt pdpe1gb rdtscp lm rep_good nopl cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 "
    "pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy "
    "svm cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw perfctr_core invpcid_single ssbd ibrs ibpb stibp "
    "ibrs_enhanced vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap "
    "avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_bf16 clzero "
    "xsaveerptr wbnoinvd arat npt lbrv nrip_save tsc_scale vmcb_clean flushbyasid pausefilter pfthreshold "
    "v_vmsave_vmload vgif avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg "
    "avx512_vpopcntdq la57 rdpid fsrm flush_l1d arch_capabilities"
).split()

# Intel Xeon E5-2670 v2 class flags without "lm": a 32-bit guest shows this (ollama test: "fpu sse sse2 hypervisor")
NO_LONG_MODE = "fpu sse sse2 hypervisor".split()


@pytest.mark.parametrize("flags, level", [
    (EPYC_9754_FLAGS, "v4"),
    (flags_of("intel-hybrid-alder-lake"), "v3"),  # AVX2 but no AVX-512
    (flags_of("cpu-without-avx"), "v2"),  # Atom C3758: SSE4.2, POPCNT, no AVX
    (NO_LONG_MODE, None),
    ([], None),
])
def test_x86_64_level_of_real_flag_sets(flags, level):
    assert cpu.x86_64_level(flags) == level


def test_x86_64_level_v1_is_the_baseline_alone():
    assert cpu.x86_64_level(cpu.X86_64_LEVELS[0][1]) == "v1"


@pytest.mark.parametrize("missing, level", [("avx512vl", "v3"), ("movbe", "v2"), ("abm", "v2"), ("popcnt", "v1"),
                                             ("cx16", "v1"), ("sse2", None), ("lm", None)])
def test_one_missing_flag_caps_the_level(missing, level):
    flags = [f for f in EPYC_9754_FLAGS if f != missing]
    assert cpu.x86_64_level(flags) == level


def test_a_higher_level_needs_every_lower_one():
    v4_only = [f for _, needed in cpu.X86_64_LEVELS for f in needed if f != "pni"]
    assert cpu.x86_64_level(v4_only) == "v1"


# --- /proc/cpuinfo -------------------------------------------------------------------------------------------------

# Raspberry Pi 4, 64-bit Raspberry Pi OS (uname: 6.12.47+rpt-rpi-v8 aarch64): a blog post of wklteam64 (found by code
# search) quoting `cat /proc/cpuinfo`. The board lines form a trailing block with no "processor".
PI4_AARCH64 = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 1
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 2
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 3
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Revision\t: c03111
Serial\t\t: 10000000a43957f6
Model\t\t: Raspberry Pi 4 Model B Rev 1.1

"""

# Raspberry Pi 4 under a 32-bit kernel (the Cortex-A72 reports "CPU architecture: 7"), as quoted in a Rust BCM2711
# detection module found by code search; processors 1-3 and the board block (block 0 was cut off in the excerpt).
PI4_ARMV7 = """processor\t: 1
model name\t: ARMv7 Processor rev 3 (v7l)
BogoMIPS\t: 108.00
Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer\t: 0x41
CPU architecture: 7
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 2
model name\t: ARMv7 Processor rev 3 (v7l)
BogoMIPS\t: 108.00
Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer\t: 0x41
CPU architecture: 7
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

processor\t: 3
model name\t: ARMv7 Processor rev 3 (v7l)
BogoMIPS\t: 108.00
Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer\t: 0x41
CPU architecture: 7
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Hardware\t: BCM2711
Revision\t: c03111
Serial\t\t: 100000001ffe16e4
Model\t\t: Raspberry Pi 4 Model B Rev 1.1
"""


def test_parse_cpuinfo_x86_one_block_per_logical_cpu():
    blocks = cpu.parse_cpuinfo(fixture_text("cpu-without-avx", "proc/cpuinfo"))
    assert len(blocks) == 8
    assert [b["processor"] for b in blocks] == [str(n) for n in range(8)]
    assert blocks[4]["core id"] == "8" and blocks[4]["model name"] == "Intel(R) Atom(TM) CPU C3758 @ 2.20GHz"
    assert blocks[0]["power management"] == ""  # a key with an empty value is kept, not dropped


def test_parse_cpuinfo_arm_keeps_the_trailing_board_block():
    blocks = cpu.parse_cpuinfo(PI4_AARCH64)
    assert len(blocks) == 5
    assert "processor" not in blocks[-1]
    assert blocks[-1] == {"Revision": "c03111", "Serial": "10000000a43957f6",
                          "Model": "Raspberry Pi 4 Model B Rev 1.1"}
    assert blocks[0]["CPU part"] == "0xd08" and blocks[0]["Features"] == "fp asimd evtstrm crc32 cpuid"


def test_raspberry_pi_aarch64(tmp_path):
    got = probe(make_host(tmp_path, {"/proc/cpuinfo": PI4_AARCH64})).cpu
    assert got.arch == "aarch64"  # from "CPU architecture: 8", no platform fact recorded
    assert got.vendor == "ARM"
    assert got.model == "Cortex-A72"  # the core, as lscpu names it, not the board block's Model line
    assert got.logical_cores == 4  # the board block is not a CPU
    assert got.features.neon and not got.features.sve
    assert got.x86_64_level is None


def test_raspberry_pi_32_bit_kernel_is_not_aarch64(tmp_path):
    got = probe(make_host(tmp_path, {"/proc/cpuinfo": PI4_ARMV7})).cpu
    assert got.arch is None  # a 32-bit kernel: "CPU architecture: 7" must not read as aarch64
    assert got.model == "Cortex-A72"  # the core, not the kernel's generic "ARMv7 Processor rev 3 (v7l)"
    assert got.vendor == "ARM"
    assert got.logical_cores == 3
    assert got.features.neon  # 32-bit spelling "neon" rather than "asimd"


def test_platform_machine_wins_over_the_cpuinfo_guess(tmp_path):
    got = probe(make_host(tmp_path, {"/proc/cpuinfo": PI4_ARMV7}, {"platform": {"machine": "armv7l"}})).cpu
    assert got.arch == "armv7l"


def test_arm_cores_from_sysfs_topology(tmp_path):
    files = {"/proc/cpuinfo": PI4_AARCH64}
    for n in range(4):  # Cortex-A72: one thread per core, one package (lscpu in the same kind of report)
        files["/sys/devices/system/cpu/cpu%d/topology/physical_package_id" % n] = "0\n"
        files["/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list" % n] = "%d\n" % n
    got = probe(make_host(tmp_path, files)).cpu
    assert (got.physical_cores, got.logical_cores, got.sockets) == (4, 4, 1)


def test_arm_topology_with_a_missing_cpu_stays_unknown(tmp_path):
    files = {"/proc/cpuinfo": PI4_AARCH64, "/sys/devices/system/cpu/cpu0/topology/physical_package_id": "0\n",
             "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list": "0\n"}
    got = probe(make_host(tmp_path, files)).cpu
    assert got.physical_cores is None and got.sockets is None


def test_hybrid_core_lists_need_both_files(tmp_path):
    text = fixture_text("intel-hybrid-alder-lake", "proc/cpuinfo")
    got = probe(make_host(tmp_path, {"/proc/cpuinfo": text, "/sys/devices/cpu_core/cpus": "0-15\n"})).cpu
    assert got.physical_cores == 16 and got.logical_cores == 24
    assert got.performance_cores is None and got.efficiency_cores is None


# --- sysfs lists and sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, cpus", [
    ("0-15\n", set(range(16))),
    ("16-23", set(range(16, 24))),
    ("0-1,3,6,8,10", {0, 1, 3, 6, 8, 10}),  # /sys/devices/cpu_core/cpus of flightlessmango/MangoHud#2106
    ("12-21", set(range(12, 22))),  # its cpu_atom/cpus
    ("5", {5}),
    ("", set()),
    ("\n", set()),
    ("garbage", set()),
    ("0-65535", set(range(65536))),
    ("0-99999999999", None),  # issue 8: was expanded into 24 GB of memory
    ("0,65536", None),
    ("0-" + "9" * 5000, None),
])
def test_parse_cpu_list(text, cpus):
    assert cpu.parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text, size", [
    ("32K", 32 * 1024),  # /sys/devices/system/cpu/cpu0/cache/index0/size
    ("1280K", 1280 * 1024),
    ("36864K", 36864 * 1024),
    ("2048 KB", 2048 * 1024),  # "cache size : 2048 KB" of /proc/cpuinfo
    ("30 M", 30 * 1024 ** 2),
    ("1G", 1024 ** 3),
    ("512", 512),
    ("", None),
    (None, None),
    ("K", None),
])
def test_parse_size(text, size):
    assert cpu.parse_size(text) == size


def test_caches_and_frequencies_from_sysfs(tmp_path):
    base = "/sys/devices/system/cpu/cpu0/"
    files = {"/proc/cpuinfo": fixture_text("cpu-without-avx", "proc/cpuinfo"),
             base + "cpufreq/cpuinfo_max_freq": "2200000\n"}
    for index, (level, kind, size) in enumerate((("1", "Data", "24K"), ("1", "Instruction", "32K"),
                                                 ("2", "Unified", "2048K"))):
        for name, value in (("level", level), ("type", kind), ("size", size)):
            files[base + "cache/index%d/%s" % (index, name)] = value + "\n"
    files[base + "cache/uevent"] = ""  # not an indexN folder: ignored
    got = probe(make_host(tmp_path, files)).cpu
    assert got.caches == {"L1d": 24 * 1024, "L1i": 32 * 1024, "L2": 2048 * 1024}
    assert got.max_mhz == 2200.0
    assert got.base_mhz == 2200.0  # "@ 2.20GHz" of the model name, there being no base_frequency file


# --- macOS sysctl --------------------------------------------------------------------------------------------------

# `sysctl -a | grep machdep.cpu` on an Intel Mac (i9-8950HK), dotnet/coreclr#22242 (the excerpt ends after
# machdep.cpu.mwait.linesize_min)
INTEL_MAC = """machdep.cpu.max_basic: 22
machdep.cpu.max_ext: 2147483656
machdep.cpu.vendor: GenuineIntel
machdep.cpu.brand_string: Intel(R) Core(TM) i9-8950HK CPU @ 2.90GHz
machdep.cpu.family: 6
machdep.cpu.model: 158
machdep.cpu.extmodel: 9
machdep.cpu.extfamily: 0
machdep.cpu.stepping: 10
machdep.cpu.feature_bits: 9221959987971750911
machdep.cpu.leaf7_feature_bits: 43806655
machdep.cpu.extfeature_bits: 1241984796928
machdep.cpu.signature: 591594
machdep.cpu.brand: 0
machdep.cpu.features: FPU VME DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE MCA CMOV PAT PSE36 CLFSH DS ACPI MMX FXSR \
SSE SSE2 SS HTT TM PBE SSE3 PCLMULQDQ DTES64 MON DSCPL VMX EST TM2 SSSE3 FMA CX16 TPR PDCM SSE4.1 SSE4.2 x2APIC MOVBE \
POPCNT AES PCID XSAVE OSXSAVE SEGLIM64 TSCTMR AVX1.0 RDRAND F16C
machdep.cpu.leaf7_features: SMEP ERMS RDWRFSGS TSC_THREAD_OFFSET BMI1 HLE AVX2 BMI2 INVPCID RTM SMAP RDSEED ADX IPT \
SGX FPU_CSDS MPX CLFSOPT
machdep.cpu.extfeatures: SYSCALL XD 1GBPAGE EM64T LAHF LZCNT PREFETCHW RDTSCP TSCI
machdep.cpu.logical_per_package: 16
machdep.cpu.cores_per_package: 8
machdep.cpu.microcode_version: 150
machdep.cpu.processor_flag: 5
machdep.cpu.mwait.linesize_min: 64
"""

# `sysctl hw machdep` on an Apple M4 Mac (12 cores), archspec/archspec#201; the first lines the excerpt shows
APPLE_M4 = """hw.ncpu: 12
hw.byteorder: 1234
hw.memsize: 25769803776
hw.activecpu: 12
hw.perflevel0.physicalcpu: 8
hw.perflevel0.physicalcpu_max: 8
hw.perflevel0.logicalcpu: 8
hw.perflevel0.logicalcpu_max: 8
hw.perflevel0.l1icachesize: 196608
hw.perflevel0.l1dcachesize: 131072
hw.perflevel0.l2cachesize: 16777216
hw.perflevel0.cpusperl2: 4
hw.perflevel0.name: Performance
hw.perflevel1.physicalcpu: 4
hw.perflevel1.physicalcpu_max: 4
hw.perflevel1.logicalcpu: 4
hw.perflevel1.logicalcpu_max: 4
hw.perflevel1.l1icachesize: 131072
hw.perflevel1.l1dcachesize: 65536
hw.perflevel1.l2cachesize: 4194304
hw.perflevel1.cpusperl2: 4
hw.perflevel1.name: Efficiency
hw.optional.arm.FEAT_CRC32: 1
hw.optional.arm.FEAT_FlagM: 1
hw.optional.arm.FEAT_FlagM2: 1
hw.optional.arm.FEAT_FHM: 1
hw.optional.arm.FEAT_DotProd: 1
hw.optional.arm.FEAT_SHA3: 1
hw.optional.arm.FEAT_RDM: 1
hw.optional.arm.FEAT_LSE: 1
hw.optional.arm.FEAT_SHA256: 1
hw.optional.arm.FEAT_SHA512: 1
hw.optional.arm.FEAT_SHA1: 1
hw.optional.arm.FEAT_AES: 1
hw.optional.arm.FEAT_PMULL: 1
hw.optional.arm.FEAT_SPECRES: 0
hw.optional.arm.FEAT_SPECRES2: 0
hw.optional.arm.FEAT_SB: 1
"""

# `sysctl -a hw.optional` and `sysctl -A machdep.cpu` of a MacBook Pro M1 (2020), archspec/archspec#38
APPLE_M1 = """hw.optional.floatingpoint: 1
hw.optional.watchpoint: 4
hw.optional.breakpoint: 6
hw.optional.neon: 1
hw.optional.neon_hpfp: 1
hw.optional.neon_fp16: 1
hw.optional.armv8_1_atomics: 1
hw.optional.armv8_crc32: 1
hw.optional.armv8_2_fhm: 1
hw.optional.armv8_2_sha512: 1
hw.optional.armv8_2_sha3: 1
hw.optional.amx_version: 2
hw.optional.ucnormal_mem: 1
hw.optional.arm64: 1
machdep.cpu.cores_per_package: 8
machdep.cpu.core_count: 8
machdep.cpu.logical_per_package: 8
machdep.cpu.thread_count: 8
machdep.cpu.brand_string: Apple processor
"""


def test_parse_sysctl_joins_nothing_and_keeps_colons_in_values():
    values = cpu.parse_sysctl(INTEL_MAC)
    assert values["machdep.cpu.brand_string"] == "Intel(R) Core(TM) i9-8950HK CPU @ 2.90GHz"
    assert values["machdep.cpu.extfeatures"].split()[3] == "EM64T"
    assert cpu.parse_sysctl("no separator here\n") == {}


def test_darwin_intel_mac_flags_in_linux_spelling():
    got = cpu.darwin_cpu(cpu.parse_sysctl(INTEL_MAC), "x86_64")
    assert got.vendor == "GenuineIntel"
    assert got.model == "Intel(R) Core(TM) i9-8950HK CPU @ 2.90GHz"
    for flag in ("avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe", "pni", "ssse3", "sse4_1", "sse4_2", "cx16",
                 "popcnt", "lahf_lm", "abm", "syscall", "lm", "xsave"):
        assert flag in got.flags, flag
    assert "avx1_0" not in got.flags and "sse4.2" not in got.flags
    assert cpu.x86_64_level(got.flags) == "v3"  # Coffee Lake: AVX2, no AVX-512


def test_darwin_probe_runs_sysctl_and_computes_the_level(tmp_path):
    facts = {"platform": {"system": "darwin", "machine": "x86_64"}}
    commands = {"sysctl hw machdep.cpu": {"stdout": INTEL_MAC, "stderr": "", "returncode": 0}}
    inv = probe(make_host(tmp_path, facts=facts, commands=commands))
    assert inv.cpu.x86_64_level == "v3"
    assert inv.cpu.features.avx2 and inv.cpu.features.fma and inv.cpu.features.avx512 == []
    assert inv.errors == []


def test_darwin_probe_records_a_failed_sysctl(tmp_path):
    inv = probe(make_host(tmp_path, facts={"platform": {"system": "darwin", "machine": "arm64"}}))
    assert inv.cpu.model is None and inv.cpu.arch == "arm64"
    assert [e.probe for e in inv.errors] == ["cpu"]


def test_darwin_apple_silicon_performance_and_efficiency_cores():
    got = cpu.darwin_cpu(cpu.parse_sysctl(APPLE_M4), "arm64")
    assert (got.performance_cores, got.efficiency_cores) == (8, 4)
    assert {"feat_crc32", "feat_dotprod", "feat_sha3", "feat_aes", "feat_sb"} <= set(got.flags)
    assert "feat_specres" not in got.flags  # reported as 0
    assert got.model is None and got.vendor is None  # no brand string in these lines: unknown, not guessed


def test_darwin_apple_m1_brand_and_neon():
    got = cpu.darwin_cpu(cpu.parse_sysctl(APPLE_M1), "arm64")
    assert got.vendor == "Apple" and got.model == "Apple processor"
    assert cpu.features(got.flags).neon
    assert got.performance_cores is None  # no perflevel keys


# --- bad or missing evidence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "this is not a cpuinfo file\n\x00\x01\x02",
    "processor\t: zero\nflags\t\t: \n",
    ":::\n\n\n:\n",
    "",
])
def test_garbage_cpuinfo_gives_unknowns_not_an_exception(tmp_path, text):
    inv = probe(make_host(tmp_path, {"/proc/cpuinfo": text}, {"platform": {"system": "linux", "machine": "x86_64"}}))
    assert inv.cpu.logical_cores is None and inv.cpu.physical_cores is None
    assert inv.cpu.arch == "x86_64"
    assert inv.cpu.x86_64_level is None  # no flags: no level, not v1


def test_empty_snapshot_gives_a_cpu_of_unknowns(tmp_path):
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"format": "dlws-snapshot/1"}))
    inv = probe(open_snapshot(str(tmp_path)))
    got = inv.cpu
    assert (got.vendor, got.model, got.arch, got.logical_cores, got.physical_cores, got.x86_64_level) == (None,) * 6
    assert got.flags == [] and not got.features.avx and not got.features.neon


def test_a_host_with_no_files_at_all(tmp_path):
    host = SnapshotHost(str(tmp_path), {}, {}, None)
    assert probe(host).cpu.model is None
