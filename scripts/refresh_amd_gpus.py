#!/usr/bin/env python3
"""Rebuild the 'devices' of provision/knowledge/data/amd_gpus.json from the kernel's, libdrm's and pci.ids's lists.

    scripts/refresh_amd_gpus.py --kernel DRM_TREE --libdrm LIBDRM_REPO --pciids PCIIDS_REPO

Each argument is a git directory (HEAD is read and its commit noted) or, for a copy, the file itself:
--kernel a tree holding drivers/gpu/drm/amd/amdgpu/amdgpu_drv.c (torvalds/linux, or freebsd/drm-kmod which carries the
same file), --libdrm mesa/drm (data/amdgpu.ids), --pciids pciutils/pciids (pci.ids).

Which device ids, and their gfx target (the LLVM processor ROCm loads code objects for, what rocminfo prints):
* the amdgpu driver's pciidlist maps a device id to its chip (CHIP_POLARIS10); KFD (amdkfd/kfd_device.c,
  kgd2kfd_probe) gives each chip its gfx_target_version (CHIP_POLARIS10 -> 80003 = gfx803, Vega 10 = GC 9.0.1 ->
  90000 = gfx900). KERNEL_CHIPS restates that switch for the discrete GCN 3/4/5, CDNA 1/2 and RDNA 1/2 chips;
* newer chips have no id list: amdgpu binds every AMD display/accelerator device (CHIP_IP_DISCOVERY) and reads the
  GC version from the chip. Their ids come from pci.ids, by the chip code name its device names begin with
  (DISCOVERY_CHIPS: 'Navi 31 [...]' -> gfx1100), from the products AMD and LLVM list per gfx target.
APUs are left out (their iGPU ids) but for the RDNA 3.5 ones LLVM names products for (APU_CHIPS, integrated: true), as
are functions of a board that are no GPU (USB, audio, PCIe switch ports).

Rows already in the table are kept as they are (their names, revisions, memory and notes were read by hand); the
script fails where such a row's gfx target or architecture disagrees with the chip's, and adds any revision
amdgpu.ids names that the row lacks. New rows are named from amdgpu.ids (one product: its name; several: each by
revision, the row named by pci.ids's bracketed name).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "provision", "knowledge", "data", "amd_gpus.json")

#: amdgpu_drv.c chip -> (chip name as pci.ids and ROCm call it, gfx target, architecture), as kfd_device.c's
#: kgd2kfd_probe assigns gfx_target_version: FIJI/POLARIS10/POLARIS11/POLARIS12/VEGAM 80003; GC 9.0.1 (VEGA10) 90000,
#: 9.2.1 (VEGA12) 90004, 9.4.0 (VEGA20) 90006, 9.4.1 (ARCTURUS) 90008, 9.4.2 (ALDEBARAN) 90010; GC 10.1.10 (NAVI10)
#: 100100, 10.1.2 (NAVI12) 100101, 10.1.1 (NAVI14) 100102; GC 10.3.0 (SIENNA_CICHLID) 100300, 10.3.2 (NAVY_FLOUNDER)
#: 100301, 10.3.4 (DIMGREY_CAVEFISH) 100302, 10.3.5 (BEIGE_GOBY) 100304. Architectures as ROCm's GPU hardware
#: specifications table names them (MI8 GCN3.0, MI6 GCN4.0, MI25 GCN5.0, Radeon VII GCN5.1, W5500 RDNA).
KERNEL_CHIPS: Dict[str, Tuple[str, str, str]] = {
    "CHIP_FIJI": ("Fiji", "gfx803", "GCN3.0"),
    "CHIP_POLARIS10": ("Polaris 10", "gfx803", "GCN4.0"),
    "CHIP_POLARIS11": ("Polaris 11", "gfx803", "GCN4.0"),
    "CHIP_POLARIS12": ("Polaris 12", "gfx803", "GCN4.0"),
    "CHIP_VEGAM": ("Vega M (Polaris 22)", "gfx803", "GCN4.0"),
    "CHIP_VEGA10": ("Vega 10", "gfx900", "GCN5.0"),
    "CHIP_VEGA12": ("Vega 12", "gfx904", "GCN5.0"),
    "CHIP_VEGA20": ("Vega 20", "gfx906", "GCN5.1"),
    "CHIP_ARCTURUS": ("Arcturus", "gfx908", "CDNA"),
    "CHIP_ALDEBARAN": ("Aldebaran", "gfx90a", "CDNA2"),
    "CHIP_NAVI10": ("Navi 10", "gfx1010", "RDNA"),
    "CHIP_NAVI12": ("Navi 12", "gfx1011", "RDNA"),
    "CHIP_NAVI14": ("Navi 14", "gfx1012", "RDNA"),
    "CHIP_SIENNA_CICHLID": ("Navi 21", "gfx1030", "RDNA2"),
    "CHIP_NAVY_FLOUNDER": ("Navi 22", "gfx1031", "RDNA2"),
    "CHIP_DIMGREY_CAVEFISH": ("Navi 23", "gfx1032", "RDNA2"),
    "CHIP_BEIGE_GOBY": ("Navi 24", "gfx1034", "RDNA2"),
}
KERNEL_CHIPS_SOURCE = ("chip: the amdgpu driver's pciidlist (drivers/gpu/drm/amd/amdgpu/amdgpu_drv.c); gfx target: "
                       "amdkfd kgd2kfd_probe (drivers/gpu/drm/amd/amdkfd/kfd_device.c, ROCm/amdgpu 006ab929), "
                       "gfx_target_version of the chip")
#: pci.ids chip code name -> (gfx target, architecture) for chips amdgpu finds by IP discovery: Navi 31/32/33 from
#: ROCm's GPU hardware specifications (RX 7900 XTX / W7900 gfx1100, RX 7800 XT / W7700 / V710 gfx1101, RX 7600
#: gfx1102) and LLVM AMDGPUUsage (llvm/llvm-project#170469: gfx1100 RX 7900 XTX/XT/GRE, gfx1101 RX 7800 XT/7700 XT,
#: gfx1102 RX 7600 XT/7600); Navi 44/48 from LLVM AMDGPUUsage (llvm/llvm-project#155577: gfx1200 RX 9060 / 9060 XT,
#: gfx1201 RX 9070 / 9070 XT / 9070 GRE); Aqua Vanjaram (MI300A/MI300X/MI325X) gfx942 from ROCm's GPU hardware
#: specifications and KFD (GC 9.4.3/9.4.4 -> 90402).
DISCOVERY_CHIPS: Dict[str, Tuple[str, str]] = {
    "Navi 31": ("gfx1100", "RDNA3"), "Navi 32": ("gfx1101", "RDNA3"), "Navi 33": ("gfx1102", "RDNA3"),
    "Navi 44": ("gfx1200", "RDNA4"), "Navi 48": ("gfx1201", "RDNA4"),
    "Aqua Vanjaram": ("gfx942", "CDNA3"),
}
#: pci.ids chip code name -> (gfx target, architecture) of APUs whose integrated GPU ROCm runs (RDNA 3.5), from LLVM
#: AMDGPUUsage's processor table (llvm/llvm-project#163717: gfx1150 APU Radeon 890M, gfx1151 APU Radeon 8060S, gfx1152
#: APU Radeon 860M) and pci.ids's names ('Strix [Radeon 880M / 890M]', 'Strix Halo [... Radeon 8060S Graphics]',
#: 'Krackan [Radeon 840M / 860M Graphics]'). Matched on the whole code name: 'Strix' is not 'Strix Halo'. Their rows
#: say integrated: true. Older APUs (Phoenix gfx1103, ...) stay out: LLVM names no product for them.
APU_CHIPS: Dict[str, Tuple[str, str]] = {
    "Strix": ("gfx1150", "RDNA3.5"), "Strix Halo": ("gfx1151", "RDNA3.5"), "Krackan": ("gfx1152", "RDNA3.5"),
}
APU_SOURCE = ("chip: pci.ids device name; gfx target: LLVM AMDGPUUsage processor table "
              "(https://llvm.org/docs/AMDGPUUsage.html#processors, llvm/llvm-project#163717: APU products of the chip)")
#: pci.ids files the MI350 series under 'Aqua Vanjaram' too; it is CDNA4, gfx950 (ROCm GPU specifications: MI350X,
#: MI355X gfx950; KFD GC 9.5.0 -> 90500).
MARKETING_OVERRIDES = ((re.compile(r"\bMI35\d"), "MI350 series", "gfx950", "CDNA4"),)
DISCOVERY_SOURCE = ("chip: pci.ids device name; gfx target: ROCm GPU hardware specifications "
                    "(https://rocm.docs.amd.com/en/latest/reference/gpu-arch-specs.html) and LLVM AMDGPUUsage "
                    "processor table (https://llvm.org/docs/AMDGPUUsage.html#processors) products of the chip")
#: Words of a pci.ids name that say the function is not the GPU itself.
NOT_A_GPU = re.compile(r"\b(USB|Audio|Port|Switch|Controller|Bridge)\b", re.IGNORECASE)
_PCIID = re.compile(r"\{0x1002,\s*0x([0-9A-Fa-f]{4}),[^}]*?(CHIP_[A-Z0-9_]+)")
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def read(where: str, path: str) -> Tuple[str, str]:
    """The text of path in the git directory where (and 'commit X of DATE'), or of the file where."""
    if os.path.isdir(where):
        text = subprocess.run(["git", "-C", where, "show", "HEAD:" + path], check=True, capture_output=True,
                              text=True, errors="replace").stdout
        commit = subprocess.run(["git", "-C", where, "log", "-1", "--format=%H %cI"], check=True, capture_output=True,
                                text=True).stdout.split()
        return text, "commit %s of %s" % tuple(commit) if len(commit) == 2 else "HEAD"
    with open(where, encoding="utf-8", errors="replace") as handle:
        return handle.read(), os.path.basename(where)


def pciidlist(text: str) -> Dict[str, str]:
    """device id -> CHIP_xxx of amdgpu_drv.c's pciidlist."""
    return {"0x" + m.group(1).lower(): m.group(2) for m in _PCIID.finditer(text)}


def pci_names(text: str) -> Dict[str, str]:
    """device id -> pci.ids name of vendor 1002's device lines."""
    devices: Dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith("\t"):
            inside = line.startswith("1002 ")
            continue
        if inside and not line.startswith("\t\t"):
            device, _, name = line.strip().partition(" ")
            devices["0x" + device.lower()] = name.strip()
    return devices


def amdgpu_ids(text: str) -> Dict[str, Dict[str, str]]:
    """device id -> {revision id -> product name} of libdrm's amdgpu.ids ('67DF,\tC1,\tAMD Radeon RX 580 Series')."""
    out: Dict[str, Dict[str, str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) == 3 and re.fullmatch(r"[0-9A-Fa-f]{4}", parts[0]) and re.fullmatch(r"[0-9A-Fa-f]{2}", parts[1]):
            name = re.sub(r"\s*\((TM|R)\)", "", parts[2])
            out.setdefault("0x" + parts[0].lower(), {})["0x" + parts[1].lower()] = name
    return out


def chip_of(device: str, kernel: Dict[str, str], names: Dict[str, str]) -> Optional[Tuple[str, str, str, str]]:
    """(chip, gfx target, architecture, source) of a device id, or None when it is no GPU this table covers."""
    if device in kernel:
        known = KERNEL_CHIPS.get(kernel[device])
        return known + (KERNEL_CHIPS_SOURCE,) if known else None
    name = names.get(device, "")
    if NOT_A_GPU.search(name):
        return None
    apu = APU_CHIPS.get(name.split(" [")[0].strip())
    if apu:
        return (name.split(" [")[0].strip(),) + apu + (APU_SOURCE,)
    for chip, (gfx, arch) in DISCOVERY_CHIPS.items():
        if re.match(re.escape(chip) + r"(?![0-9])", name):
            for pattern, other_chip, other_gfx, other_arch in MARKETING_OVERRIDES:
                if pattern.search(name):
                    return other_chip, other_gfx, other_arch, DISCOVERY_SOURCE
            return chip, gfx, arch, DISCOVERY_SOURCE
    return None


def new_row(device: str, chip: Tuple[str, str, str, str], names: Dict[str, str],
            products: Dict[str, str], sources: Dict[str, str]) -> Dict[str, Any]:
    bracket = _BRACKETS.search(names.get(device, ""))
    distinct = sorted(set(products.values()))
    if len(distinct) == 1:
        name = distinct[0]
    elif bracket:
        name = "AMD " + bracket.group(1).strip()
    else:  # pci.ids has only a code name ('Vega 12', 'Ellesmere [Polaris10]'), or no entry at all
        name = "AMD %s GPU" % chip[0]
    row: Dict[str, Any] = {"reference": {"chip": chip[0]}, "name": name, "gfx_target": chip[1],
                           "architecture": chip[2]}
    if chip[3] == APU_SOURCE:
        row["integrated"] = True
    if products:
        row["revisions"] = {rev: {"name": product} for rev, product in sorted(products.items())}
    named = "libdrm data/amdgpu.ids (%s)" % sources["libdrm"] if products else \
        "pci.ids (%s) (no amdgpu.ids entry)" % sources["pciids"]
    found = sources["kernel"] if chip[3] == KERNEL_CHIPS_SOURCE else "pci.ids, %s" % sources["pciids"]
    row["source"] = "%s (%s); names: %s" % (chip[3], found, named)
    return row


def build(kernel: Dict[str, str], names: Dict[str, str], products: Dict[str, Dict[str, str]],
          current: Dict[str, Any], sources: Dict[str, str]) -> Tuple[Dict[str, Any], List[str]]:
    rows: Dict[str, Any] = {}
    problems: List[str] = []
    for device in sorted(set(kernel) | set(names)):
        chip = chip_of(device, kernel, names)
        old = current.get(device)
        if chip is None:
            if old is not None:
                rows[device] = old  # a row the sources do not cover (read by hand): kept
            continue
        if old is None:
            rows[device] = new_row(device, chip, names, products.get(device, {}), sources)
            continue
        if (old["gfx_target"], old["architecture"]) != chip[1:3]:
            problems.append("%s: the table says %s %s, its chip %s gives %s %s" % (
                device, old["gfx_target"], old["architecture"], chip[0], chip[1], chip[2]))
        kept = json.loads(json.dumps(old))
        for rev, product in sorted(products.get(device, {}).items()):
            if "revisions" in kept and rev not in kept["revisions"]:
                kept["revisions"][rev] = {"name": product}
        rows[device] = kept
    for device, old in current.items():
        rows.setdefault(device, old)
    return dict(sorted(rows.items())), problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernel", required=True, help="a tree with drivers/gpu/drm/amd/amdgpu/amdgpu_drv.c, or it")
    parser.add_argument("--libdrm", required=True, help="a clone of mesa/drm, or its data/amdgpu.ids")
    parser.add_argument("--pciids", required=True, help="a clone of pciutils/pciids, or its pci.ids")
    parser.add_argument("--origin", default="amdgpu_drv.c of freebsd/drm-kmod (Linux's drivers/gpu/drm), data/amdgpu.ids "
                        "of the sailfishos-mirror/drm mirror of https://gitlab.freedesktop.org/mesa/drm, pci.ids of "
                        "https://github.com/pciutils/pciids", help="where the three clones came from, for the table")
    parser.add_argument("-o", "--output", default=OUT)
    args = parser.parse_args()
    drv, drv_at = read(args.kernel, "drivers/gpu/drm/amd/amdgpu/amdgpu_drv.c")
    ids, ids_at = read(args.libdrm, "data/amdgpu.ids")
    pci, pci_at = read(args.pciids, "pci.ids")
    sources = {"kernel": "amdgpu_drv.c, %s" % drv_at, "libdrm": ids_at, "pciids": pci_at}
    with open(args.output, encoding="utf-8") as handle:
        table = json.load(handle)
    rows, problems = build(pciidlist(drv), pci_names(pci), amdgpu_ids(ids), table["devices"], sources)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    table["devices"] = rows
    table["devices_source"] = ("%s: device ids and chips from amdgpu_drv.c's pciidlist (%s) and pci.ids (%s), names "
                               "from amdgpu.ids (%s); written by scripts/refresh_amd_gpus.py"
                               % (args.origin, drv_at, pci_at, ids_at))
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(table, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print("%d AMD GPU device ids -> %s" % (len(rows), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
