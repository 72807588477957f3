"""CPU: vendor, model, cores, frequencies, caches, flags and the x86-64 micro-architecture level."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Set, Tuple

from provision import knowledge
from provision.host import Host
from provision.inventory.common import MAX_CPU_FLAGS, MAX_CPUS, read_int, read_line, system, to_int
from provision.inventory.model import Cpu, CpuFeatures, Inventory

#: The x86-64 micro-architecture levels as the x86-64 psABI defines them (each level also needs the ones below),
#: with the flag names /proc/cpuinfo uses: "pni" is SSE3, "abm" is LZCNT, "lahf_lm" is LAHF-SAHF.
X86_64_LEVELS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("v1", ("lm", "cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2")),
    ("v2", ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")),
    ("v3", ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")),
    ("v4", ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
)

X86_ARCHES = ("x86_64", "amd64", "i686", "i386")


def x86_64_level(flags: Iterable[str]) -> Optional[str]:
    """The highest level whose flags (and those of every lower level) are all present; None below v1."""
    present = set(flags)
    level = None
    for name, needed in X86_64_LEVELS:
        if not present.issuperset(needed):
            break
        level = name
    return level


def features(flags: Iterable[str]) -> CpuFeatures:
    present = sorted(set(flags))
    return CpuFeatures(
        avx="avx" in present,
        avx2="avx2" in present,
        fma="fma" in present,
        avx512=[f for f in present if f.startswith("avx512")],
        amx=[f for f in present if f.startswith("amx")],
        neon="asimd" in present or "neon" in present,
        sve="sve" in present,
    )


# --- Linux: /proc/cpuinfo and sysfs ---------------------------------------------------------------------------------


def parse_cpuinfo(text: str, limit: int = MAX_CPUS + 2) -> List[Dict[str, str]]:
    """One dict per block of /proc/cpuinfo (per logical CPU on x86; ARM adds a trailing global block), at most
    limit of them: more than MAX_CPUS make the CPU count unknown anyway."""
    blocks: List[Dict[str, str]] = []
    current: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
                if len(blocks) >= limit:
                    return blocks
            continue
        key, sep, value = line.partition(":")
        if sep:
            current.setdefault(key.strip(), value.strip())
    if current:
        blocks.append(current)
    return blocks


def parse_cpu_list(text: str) -> Optional[Set[int]]:
    """'0-3,8,10-11' (sysfs CPU lists) into a set of CPU numbers; None when a number is MAX_CPUS or more (a
    '0-99999999999' would otherwise be expanded into memory)."""
    cpus: Set[int] = set()
    for part in text.strip().split(","):
        start, _, end = part.partition("-")
        first = to_int(start) if start.strip().isdigit() else None
        if first is None:
            continue
        last = to_int(end) if end else first
        if last is None or first >= MAX_CPUS or last >= MAX_CPUS:
            return None
        cpus.update(range(first, last + 1))
    return cpus


_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)", re.I)


def parse_size(text: str) -> Optional[int]:
    """'32K', '1024 KB', '36864K' into bytes."""
    match = _SIZE.match(text or "")
    number = to_int(match.group(1)) if match else None
    if match is None or number is None:
        return None
    return number * {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[match.group(2).upper()]


def _arm_names(block: Dict[str, str]) -> Tuple[Optional[str], Optional[str]]:
    """Vendor and core name from the 'CPU implementer' and 'CPU part' ids, as lscpu names them."""
    table = knowledge.load("arm_cpus")
    implementer = block.get("CPU implementer", "").lower()
    part = block.get("CPU part", "").lower()
    vendor = table["implementers"].get(implementer, {})
    core = vendor.get("parts", {}).get(part)
    return vendor.get("name"), core


def _logical_blocks(blocks: List[Dict[str, str]]) -> List[Dict[str, str]]:
    return [b for b in blocks if b.get("processor", "").isdigit() and to_int(b["processor"]) is not None]


def _topology_from_sysfs(host: Host, cpus: Iterable[int]) -> Dict[int, Tuple[str, str]]:
    """processor -> (package, siblings) from sysfs, where /proc/cpuinfo has no 'physical id'/'core id' (ARM)."""
    topo = {}
    for cpu in cpus:
        base = "/sys/devices/system/cpu/cpu%d/topology/" % cpu
        package = read_line(host, base + "physical_package_id")
        siblings = read_line(host, base + "thread_siblings_list") or read_line(host, base + "core_cpus_list")
        if package is None or siblings is None:
            return {}
        topo[cpu] = (package, siblings)
    return topo


def _linux_cores(host: Host, cpu: Cpu, logical: List[Dict[str, str]], inv: Inventory) -> None:
    if len(logical) > MAX_CPUS or any(int(b["processor"]) >= MAX_CPUS for b in logical):
        inv.error("cpu", "/proc/cpuinfo lists more than %d CPUs: the core counts are unknown" % MAX_CPUS)
        return
    cores: Dict[int, Tuple[str, str]] = {}
    if logical and all("core id" in b for b in logical):
        cores = {int(b["processor"]): (b.get("physical id", "0"), b["core id"]) for b in logical}
    elif logical:
        cores = _topology_from_sysfs(host, (int(b["processor"]) for b in logical))
    cpu.logical_cores = len(logical) or None
    if cores:
        cpu.physical_cores = len(set(cores.values()))
        cpu.sockets = len({package for package, _ in cores.values()})
        _hybrid_cores(host, cpu, cores, inv)


def _hybrid_cores(host: Host, cpu: Cpu, cores: Dict[int, Tuple[str, str]], inv: Inventory) -> None:
    """Performance/efficiency core counts on hybrid Intel parts (Alder Lake and later)."""
    p_list = read_line(host, "/sys/devices/cpu_core/cpus")
    e_list = read_line(host, "/sys/devices/cpu_atom/cpus")
    if p_list is None or e_list is None:
        return
    p_cpus, e_cpus = parse_cpu_list(p_list), parse_cpu_list(e_list)
    if p_cpus is None or e_cpus is None:
        inv.error("cpu", "a CPU number of %d or more in /sys/devices/cpu_core/cpus or cpu_atom/cpus: the "
                  "performance and efficiency core counts are unknown" % MAX_CPUS)
        return
    cpu.performance_cores = len({cores[c] for c in p_cpus if c in cores})
    cpu.efficiency_cores = len({cores[c] for c in e_cpus if c in cores})


def _linux_frequencies_and_caches(host: Host, cpu: Cpu) -> None:
    base = "/sys/devices/system/cpu/cpu0/"
    max_khz = read_int(host, base + "cpufreq/cpuinfo_max_freq")
    base_khz = read_int(host, base + "cpufreq/base_frequency")
    cpu.max_mhz = max_khz / 1000 if max_khz else None
    if base_khz:
        cpu.base_mhz = base_khz / 1000
    else:
        match = re.search(r"@\s*(\d{1,3}(?:\.\d{1,6})?)\s*GHz", cpu.model or "")
        cpu.base_mhz = float(match.group(1)) * 1000 if match else None
    for index in host.listdir(base + "cache") or []:
        if not index.startswith("index"):
            continue
        folder = base + "cache/" + index + "/"
        level, kind, size = (read_line(host, folder + name) for name in ("level", "type", "size"))
        if level is None or size is None:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind or "", "")
        parsed = parse_size(size)
        if parsed:
            cpu.caches["L%s%s" % (level, suffix)] = parsed


def linux_cpu(host: Host, text: str, arch: Optional[str], inv: Inventory) -> Cpu:
    blocks = parse_cpuinfo(text)
    logical = _logical_blocks(blocks)
    first = logical[0] if logical else (blocks[0] if blocks else {})
    cpu = Cpu(arch=arch)
    flags = first.get("flags") or first.get("Features") or ""
    words = flags.split(None, MAX_CPU_FLAGS)  # split no further than the limit, past which probe() drops them
    cpu.flags = words if len(words) > MAX_CPU_FLAGS else sorted(set(words))
    if "CPU implementer" in first:
        if cpu.arch is None:
            # the arm64 kernel always prints 8; a 32-bit ARM kernel prints 7 (or older), even on ARMv8 hardware
            cpu.arch = "aarch64" if first.get("CPU architecture", "8") == "8" else None
        vendor, core = _arm_names(first)
        cpu.vendor = vendor
        # The core's name as lscpu prints it ("Neoverse-V1", "Cortex-A72"); a 32-bit kernel's "model name" is only
        # "ARMv7 Processor rev 3 (v7l)", and the board line ("Model: Raspberry Pi 4 ...") names no CPU.
        cpu.model = core or first.get("model name") or blocks[-1].get("Model")
    else:
        cpu.vendor = first.get("vendor_id")
        cpu.model = first.get("model name")
        if cpu.arch is None and "lm" in cpu.flags:
            cpu.arch = "x86_64"
    _linux_cores(host, cpu, logical, inv)
    _linux_frequencies_and_caches(host, cpu)
    return cpu


# --- macOS: sysctl --------------------------------------------------------------------------------------------------


def parse_sysctl(text: str) -> Dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def darwin_cpu(values: Dict[str, str], arch: Optional[str]) -> Cpu:
    def number(key: str) -> Optional[int]:
        value = values.get(key, "")
        return to_int(value) if value.isdigit() else None

    cpu = Cpu(arch=arch, model=values.get("machdep.cpu.brand_string"), vendor=values.get("machdep.cpu.vendor"))
    if cpu.vendor is None and (cpu.model or "").startswith("Apple"):
        cpu.vendor = "Apple"
    cpu.physical_cores, cpu.logical_cores = number("hw.physicalcpu"), number("hw.logicalcpu")
    cpu.sockets = number("hw.packages")
    # hw.nperflevels is not always among the lines a user pastes; the perflevel keys themselves are enough
    if number("hw.nperflevels") in (None, 2) and "hw.perflevel1.physicalcpu" in values:
        cpu.performance_cores = number("hw.perflevel0.physicalcpu")
        cpu.efficiency_cores = number("hw.perflevel1.physicalcpu")
    max_hz = number("hw.cpufrequency_max")
    cpu.max_mhz = max_hz / 1e6 if max_hz else None
    for key, name in (("hw.l1dcachesize", "L1d"), ("hw.l1icachesize", "L1i"), ("hw.l2cachesize", "L2"),
                      ("hw.l3cachesize", "L3")):
        size = number(key)
        if size:
            cpu.caches[name] = size
    flags: Set[str] = set()
    for key in ("machdep.cpu.features", "machdep.cpu.leaf7_features", "machdep.cpu.extfeatures"):
        flags.update(_darwin_x86_flag(f) for f in values.get(key, "").split())
    flags.update(key.rsplit(".", 1)[-1].lower() for key, value in values.items()
                 if key.startswith("hw.optional.") and value == "1")
    cpu.flags = sorted(flags)
    return cpu


def _darwin_x86_flag(name: str) -> str:
    """sysctl's x86 feature names in the spelling /proc/cpuinfo uses ('SSE4.2' -> 'sse4_2', 'AVX1.0' -> 'avx')."""
    name = name.lower().replace(".", "_")
    return {"avx1_0": "avx", "sse3": "pni", "lahf": "lahf_lm", "lzcnt": "abm", "avx512vnni": "avx512_vnni",
            "avx512bf16": "avx512_bf16", "em64t": "lm"}.get(name, name)


# --- the probe ------------------------------------------------------------------------------------------------------


def _generic_cpu(host: Host, arch: Optional[str]) -> Cpu:
    info = host.fact("cpuinfo") or {}
    return Cpu(arch=arch, vendor=info.get("vendor_id_raw"), model=info.get("brand_raw"),
               logical_cores=info.get("count"), flags=sorted(info.get("flags") or []))


def probe(host: Host, inv: Inventory) -> None:
    arch = (host.fact("platform") or {}).get("machine") or None
    os_name = system(host)
    cpuinfo = host.read("/proc/cpuinfo")
    if cpuinfo is not None:
        cpu = linux_cpu(host, cpuinfo, arch, inv)
    elif os_name == "darwin":
        result = host.run(["sysctl", "hw", "machdep.cpu"])
        cpu = darwin_cpu(parse_sysctl(result.stdout), arch)
        if not result.ok:
            inv.error("cpu", "sysctl failed: %s" % (result.stderr.strip() or result.returncode))
    else:
        cpu = _generic_cpu(host, arch)
    if len(cpu.flags) > MAX_CPU_FLAGS:  # real CPUs have a few hundred
        inv.error("cpu", "more than %d CPU flags: the flags are unknown" % MAX_CPU_FLAGS)
        cpu.flags = []
    if cpu.arch in ("AMD64", "amd64"):
        cpu.arch = "x86_64"
    if cpu.arch in X86_ARCHES:
        cpu.x86_64_level = x86_64_level(cpu.flags)
    cpu.features = features(cpu.flags)
    inv.cpu = cpu
