#!/usr/bin/env python3
"""Rebuild provision/knowledge/data/nvidia_pci_ids.json from the public PCI ID database (pci.ids).

    scripts/refresh_nvidia_pci_ids.py --repo PATH_TO_A_CLONE_OF_pciutils/pciids   # reads HEAD:pci.ids, notes the commit
    scripts/refresh_nvidia_pci_ids.py --file pci.ids                             # a copy (its Version line is noted)

It keeps vendor 10de's device lines that are GPUs: a device whose name begins with a GPU chip code name from Kepler
on (GK1xx/GK2xx, GM1xx/GM2xx, GP1xx, GV1xx, TU1xx, GA1xx, AD1xx, GH1xx, GB1xx/GB2xx) and names no other function of
the board (HD Audio, USB, UCSI, bridges, SMBus, Ethernet, PCIe host ports, data acquisition), plus any other device
whose bracketed marketing name matches a row of nvidia_gpus.json through knowledge.gpus.match_name (the one matcher of
GPU names). Each kept device id maps to its pci.ids name unchanged ('GP104 [GeForce GTX 1080]').

The 'families' (code-name prefix -> architecture) and 'chips' (chip -> compute capability) maps are written from the
constants below; the script checks them against nvidia_gpus.json: every device whose name matches a GPU row must get
that row's compute capability from its chip when the chip is of the row's architecture, or the script fails and names
the device; a chip of another architecture under a known name (pci.ids lists a GK107 'GeForce GT 1030' and AD106/AD107
'RTX 3050 A Laptop GPU's) is another GPU of the same name, printed as a note: the probe takes the chip's facts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from provision.knowledge import gpus, load  # noqa: E402  (after the path is set)

OUT = os.path.join(ROOT, "provision", "knowledge", "data", "nvidia_pci_ids.json")

#: GPU chip code names by family prefix: NVIDIA's own code names (GK = Kepler, GM = Maxwell, ... GB = Blackwell).
FAMILIES = {"GK": "Kepler", "GM": "Maxwell", "GP": "Pascal", "GV": "Volta", "TU": "Turing", "GA": "Ampere",
            "AD": "Ada Lovelace", "GH": "Hopper", "GB": "Blackwell"}
#: Compute capability of each discrete GPU chip (sm_XY of the products built on it, developer.nvidia.com/cuda-gpus).
CHIPS = {
    "GK104": "3.0", "GK106": "3.0", "GK107": "3.0", "GK110": "3.5", "GK180": "3.5", "GK208": "3.5", "GK210": "3.7",
    "GM107": "5.0", "GM108": "5.0", "GM200": "5.2", "GM204": "5.2", "GM206": "5.2",
    "GP100": "6.0", "GP102": "6.1", "GP104": "6.1", "GP106": "6.1", "GP107": "6.1", "GP108": "6.1",
    "GV100": "7.0",
    "TU102": "7.5", "TU104": "7.5", "TU106": "7.5", "TU116": "7.5", "TU117": "7.5",
    "GA100": "8.0", "GA102": "8.6", "GA103": "8.6", "GA104": "8.6", "GA106": "8.6", "GA107": "8.6",
    "AD102": "8.9", "AD103": "8.9", "AD104": "8.9", "AD106": "8.9", "AD107": "8.9",
    "GH100": "9.0",
    "GB100": "10.0", "GB102": "10.0", "GB110": "10.3",
    "GB202": "12.0", "GB203": "12.0", "GB205": "12.0", "GB206": "12.0", "GB207": "12.0",
}
#: The chip a pci.ids device name begins with ('GK110BGL [Tesla K40m]' -> GK110): what makes it a GPU.
GPU_CHIP = re.compile(r"^(G[KM][12]\d\d|GP1\d\d|GV1\d\d|TU1\d\d|GA1\d\d|AD1\d\d|GH1\d\d|GB[12]\d\d)[A-Z]*(?=\s|\[|$)")
#: Words of a name that say the function is not the GPU itself.
NOT_A_GPU = re.compile(r"\b(HD Audio|Audio|USB|UCSI|Bridge|SMBus|Ethernet|PCIe host|host|Data Acquisition|NVLink|"
                       r"Switch|Controller)\b", re.IGNORECASE)
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def marketing_name(name: str) -> Optional[str]:
    """The bracketed part of a pci.ids name: 'GP104 [GeForce GTX 1080]' -> 'GeForce GTX 1080'."""
    match = _BRACKETS.search(name)
    return match.group(1).strip() if match else None


def nvidia_devices(text: str) -> Dict[str, str]:
    """device id -> name for every device line of vendor 10de."""
    devices: Dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith("\t"):
            inside = line.startswith("10de ")
            if line.startswith("C "):  # the device classes at the end of the file
                inside = False
            continue
        if inside and not line.startswith("\t\t"):
            device, _, name = line.strip().partition(" ")
            devices["0x" + device.lower()] = name.strip()
    return devices


def select(devices: Dict[str, str]) -> Tuple[Dict[str, str], List[str]]:
    """The GPUs among the devices, and every disagreement of the chips map with nvidia_gpus.json."""
    rows = load("nvidia_gpus")["gpus"]
    kept: Dict[str, str] = {}
    problems: List[str] = []
    for device, name in sorted(devices.items()):
        market = marketing_name(name)
        key = gpus.match_name(market, rows) if market else None
        chip = GPU_CHIP.match(name)
        if (chip is None or NOT_A_GPU.search(name)) and key is None:
            continue
        kept[device] = name
        if key is None or chip is None:
            continue
        code = re.match(r"[A-Z]+\d+", chip.group(1))
        base = code.group(0) if code else chip.group(1)
        got = (FAMILIES[base[:2]], CHIPS.get(base))
        want = (rows[key]["architecture"], rows[key]["compute_capability"])
        if got[0] != want[0]:  # another chip under a known name (a Kepler GT 1030): the silicon decides
            print("note: %s %r is %s silicon, the %r row says %s" % (device, name, got[0], key, want[0]),
                  file=sys.stderr)
        elif got != want:  # the chips map disagrees with the GPU table: fix CHIPS
            problems.append("%s %r: chip %s gives %s, nvidia_gpus row %r %s" % (device, name, base, got, key, want))
    return kept, problems


def read_source(args: argparse.Namespace) -> Tuple[str, str]:
    if args.repo:
        text = subprocess.run(["git", "-C", args.repo, "show", "HEAD:pci.ids"], check=True, capture_output=True,
                              text=True).stdout
        commit = subprocess.run(["git", "-C", args.repo, "log", "-1", "--format=%H %cI"], check=True,
                                capture_output=True, text=True).stdout.split()
        where = "commit %s of %s" % (commit[0], commit[1]) if len(commit) == 2 else "HEAD"
    else:
        with open(args.file, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        where = os.path.basename(args.file)
    version = re.search(r"^#\s*Version:\s*(\S+)", text, re.MULTILINE)
    source = "pci.ids of https://github.com/pciutils/pciids (the PCI ID Project, https://pci-ids.ucw.cz/), %s%s" % (
        where, ", Version %s" % version.group(1) if version else "")
    return text, source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--repo", help="a clone of pciutils/pciids (HEAD:pci.ids is read)")
    group.add_argument("--file", help="a pci.ids file")
    parser.add_argument("-o", "--output", default=OUT)
    args = parser.parse_args()
    text, source = read_source(args)
    kept, problems = select(nvidia_devices(text))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    table = {
        "table": "nvidia_pci_ids",
        "version": 1,
        "description": "NVIDIA PCI device id (lowercase, 0x-prefixed, as the inventory's pci_device_id) -> the pci.ids "
                       "device name ('GP104 [GeForce GTX 1080]': chip code name, then the marketing name in "
                       "brackets). For GPUs no driver names: the bracketed name is matched against nvidia_gpus.json "
                       "for architecture and compute capability; where it matches no row, the chip gives them "
                       "('families': code-name prefix -> architecture, 'chips': chip -> compute capability). "
                       "Written by scripts/refresh_nvidia_pci_ids.py; do not edit by hand.",
        "source": source,
        "selection_note": "vendor 10de device lines whose name begins with a GPU chip code name from Kepler on "
                          "(GK1xx/2xx, GM1xx/2xx, GP1xx, GV1xx, TU1xx, GA1xx, AD1xx, GH1xx, GB1xx/2xx) and names no "
                          "other function (Audio, USB, UCSI, Bridge, SMBus, Ethernet, host, Controller, NVLink, "
                          "Switch, Data Acquisition), plus any device whose bracketed name matches an nvidia_gpus row "
                          "through knowledge.gpus.match_name; Tegra SoCs (GK20A, GB10B, GB20B) are not PCI GPUs",
        "families": FAMILIES,
        "families_source": "NVIDIA's GPU chip code names: the prefix names the architecture (GK104 Kepler, GM204 "
                           "Maxwell, GP104 Pascal, GV100 Volta, TU102 Turing, GA100 Ampere, AD102 Ada Lovelace, GH100 "
                           "Hopper, GB202 Blackwell), as the pci.ids names and NVIDIA's architecture whitepapers use "
                           "them",
        "chips": CHIPS,
        "chips_source": "compute capability of the products on each chip, https://developer.nvidia.com/cuda-gpus and "
                        "https://developer.nvidia.com/cuda-legacy-gpus; checked by the refresh script against every "
                        "pci.ids device whose name matches an nvidia_gpus.json row (same architecture and compute "
                        "capability)",
        "verified": False,
        "unverified_fields": ["chips of products nvidia_gpus.json lacks (Kepler, most Maxwell) not re-read"],
        "devices": kept,
    }
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(table, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print("%d NVIDIA GPU device ids -> %s" % (len(kept), args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
