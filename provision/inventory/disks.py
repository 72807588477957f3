"""Disks: every real mount, its size, free space and medium (nvme, ssd, hdd, network)."""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from provision.host import Host
from provision.inventory.common import MAX_MOUNTS
from provision.inventory.model import Disk, Inventory

#: Filesystems that hold data; everything else in /proc/mounts (proc, tmpfs, cgroup, squashfs, ...) is noise.
DATA_FS = {
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "bcachefs", "vfat", "exfat", "ntfs",
    "ntfs3", "fuseblk", "apfs", "hfs", "hfsplus", "9p", "drvfs", "virtiofs", "lustre", "gpfs", "beegfs", "wekafs",
}
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "glusterfs", "ceph", "fuse.sshfs", "afs"}
#: Files a container runtime bind-mounts from the host: not disks of their own.
BIND_MOUNT_NOISE = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev/termination-log")


def parse_mounts(text: str) -> List[Tuple[str, str, str]]:
    """(device, mountpoint, fstype) for the data mounts of /proc/mounts, in order, each mountpoint once."""
    out: Dict[str, Tuple[str, str, str]] = {}  # by mountpoint: a later mount over the same point hides the earlier
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        if len(fields) > 6:  # an unescaped space in the source: "rootfs overlay / overlay ..." in some containers
            fields = [" ".join(fields[:-5])] + fields[-5:]
        device, mountpoint, fstype = (_unescape(f) for f in fields[:3])
        keep = fstype in DATA_FS or fstype in NETWORK_FS or (fstype == "overlay" and mountpoint == "/")
        if not keep or mountpoint in BIND_MOUNT_NOISE or mountpoint.startswith(("/snap/", "/proc/", "/sys/")):
            continue
        out.pop(mountpoint, None)  # and the later one comes last
        out[mountpoint] = (device, mountpoint, fstype)
    return list(out.values())


def _unescape(field: str) -> str:
    """/proc/mounts writes spaces and tabs in paths as octal escapes ('\\040')."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def _block_name(host: Host, device: str) -> Optional[str]:
    """The whole-disk name in /sys/block behind a device node (partition -> its disk)."""
    if not device.startswith("/dev/"):
        return None
    node = host.realpath(device) or device
    name = os.path.basename(node)
    sys_path = host.realpath("/sys/class/block/" + name)
    if sys_path is None:
        return None
    if host.read("/sys/class/block/%s/partition" % name) is not None:
        return os.path.basename(os.path.dirname(sys_path))
    return name


def medium(host: Host, device: str, fstype: str, depth: int = 0, memo: Optional[Dict[str, str]] = None) -> str:
    """nvme | ssd | hdd | network | unknown, from the device name and /sys/block/*/queue/rotational.

    memo holds the medium of each block device already seen: every device is looked at once, however many list it
    beneath them (a snapshot's slaves listings could otherwise make the walk exponential)."""
    if fstype in NETWORK_FS:
        return "network"
    name = _block_name(host, device)
    if name is None:
        return "unknown"
    memo = {} if memo is None else memo
    if name not in memo:
        memo[name] = "unknown"  # what a device beneath itself (a loop) sees
        memo[name] = _block_medium(host, name, fstype, depth, memo)
    return memo[name]


def _block_medium(host: Host, name: str, fstype: str, depth: int, memo: Dict[str, str]) -> str:
    slaves = host.listdir("/sys/block/%s/slaves" % name) or []
    if slaves and depth < 4:  # device-mapper (LVM, LUKS) and md RAID: the medium of what lies beneath
        media = {medium(host, "/dev/" + s, fstype, depth + 1, memo) for s in slaves}
        return media.pop() if len(media) == 1 else "unknown"
    if name.startswith("nvme"):
        return "nvme"
    rotational = host.read("/sys/block/%s/queue/rotational" % name)
    if rotational is None:
        return "unknown"
    return {"0": "ssd", "1": "hdd"}.get(rotational.strip(), "unknown")


def probe(host: Host, inv: Inventory) -> None:
    mounts = host.read("/proc/mounts")
    if mounts is not None:
        entries = parse_mounts(mounts)
    else:
        entries = [(d["device"], d["mountpoint"], d["fstype"]) for d in host.fact("disks") or []]
        if not entries and host.fact("disks") is None:
            inv.error("disks", "no /proc/mounts and no other source of mounts")
    if len(entries) > MAX_MOUNTS:
        inv.error("disks", "more than %d data mounts: only the first %d are listed" % (MAX_MOUNTS, MAX_MOUNTS))
        entries = entries[:MAX_MOUNTS]
    memo: Dict[str, str] = {}
    for device, mountpoint, fstype in entries:
        disk = Disk(mountpoint=mountpoint, device=device, fstype=fstype, media=medium(host, device, fstype, memo=memo))
        usage = host.fact("statvfs", mountpoint)
        if isinstance(usage, dict) and usage.get("error"):
            inv.error("disks", "size of %s unknown: statvfs: %s" % (mountpoint, usage["error"]))
        elif isinstance(usage, dict):  # an absent fact (a hand-made snapshot) leaves the size unknown
            disk.total_bytes, disk.free_bytes = usage.get("total_bytes"), usage.get("free_bytes")
        inv.disks.append(disk)
