"""Memory, disks and OS probes: /proc/meminfo, /proc/mounts, disk media, WSL, containers, VMs, distributions.

Raw texts are copied from public reports; each says where it comes from.
"""

import json

import pytest

from provision.inventory import disks, memory, system
from provision.inventory.model import Inventory
from provision.snapshot import open_snapshot


def make_host(tmp_path, files=None, facts=None, links=None, listdir=None):
    """A snapshot folder with just these files, facts, realpath links and listings."""
    for path, text in (files or {}).items():
        target = tmp_path / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (tmp_path / "host.json").write_text(json.dumps({"facts": facts or {}, "realpath": links or {},
                                                    "listdir": listdir or {}}))
    return open_snapshot(str(tmp_path))


def run(module, host):
    inv = Inventory()
    module.probe(host, inv)
    return inv


# --- /proc/meminfo -------------------------------------------------------------------------------------------------

# OpenWrt on ARM, an old kernel without MemAvailable: GuillaumeGomez/sysinfo#164
OPENWRT_MEMINFO = """MemTotal:         125128 kB
MemFree:           80288 kB
Buffers:            7652 kB
Cached:            21700 kB
SwapCached:            0 kB
Active:            21340 kB
Inactive:           9376 kB
Active(anon):       6764 kB
Inactive(anon):       16 kB
Active(file):      14576 kB
Inactive(file):     9360 kB
Unevictable:           0 kB
Mlocked:               0 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Dirty:                 0 kB
Writeback:             0 kB
AnonPages:          1388 kB
Mapped:             1036 kB
Shmem:              5416 kB
Slab:              10436 kB
SReclaimable:       6144 kB
SUnreclaim:         4292 kB
KernelStack:         384 kB
PageTables:          212 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:       62564 kB
Committed_AS:       9376 kB
VmallocTotal:     892928 kB
VmallocUsed:       41764 kB
VmallocChunk:     829276 kB
"""

# A server with swap and no Buffers line (isaumya/wp-server-stats#3, first listing)
WP_SERVER_MEMINFO = """MemTotal:        5683284 kB
MemFree:         2510052 kB
Cached:           120284 kB
Buffers:               0 kB
Active:           245204 kB
Inactive:         199644 kB
SwapTotal:      11366564 kB
SwapFree:       10770844 kB
"""


def test_parse_meminfo_converts_kb_and_keeps_unitless_counts():
    info = memory.parse_meminfo(OPENWRT_MEMINFO + "HugePages_Total:       0\nHugepagesize:       2048 kB\n")
    assert info["MemTotal"] == 125128 * 1024
    assert info["Active(anon)"] == 6764 * 1024
    assert info["HugePages_Total"] == 0
    assert info["Hugepagesize"] == 2048 * 1024
    assert "MemAvailable" not in info


def test_old_kernel_without_memavailable_estimates_it():
    got = memory.linux_memory(OPENWRT_MEMINFO)
    assert got.total_bytes == 125128 * 1024
    assert got.available_bytes == (80288 + 7652 + 21700) * 1024  # MemFree + Buffers + Cached
    assert (got.swap_total_bytes, got.swap_free_bytes) == (0, 0)


def test_swap_is_reported():
    got = memory.linux_memory(WP_SERVER_MEMINFO)
    assert got.swap_total_bytes == 11366564 * 1024 and got.swap_free_bytes == 10770844 * 1024
    assert got.available_bytes == (2510052 + 120284) * 1024


def test_garbage_meminfo_gives_unknowns():
    got = memory.linux_memory("MemTotal: lots\nnonsense\n\x00")
    assert (got.total_bytes, got.available_bytes, got.swap_total_bytes) == (None, None, None)


def test_memory_probe_without_any_source_records_an_error(tmp_path):
    inv = run(memory, make_host(tmp_path, facts={"platform": {"system": "linux"}}))
    assert inv.memory.total_bytes is None
    assert [e.probe for e in inv.errors] == ["memory"]


# --- /proc/mounts --------------------------------------------------------------------------------------------------

# A Kubernetes pod (containerd) /proc/mounts kept as test data in a public Rust cgroup-stats crate (found by code
# search): overlay root, single-file bind mounts of /etc/hosts & co from the node's disk, many pseudo filesystems.
K8S_POD_MOUNTS = r"""overlay / overlay rw,relatime,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1001/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1543/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1543/work,uuid=on,nouserxattr 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755,inode64 0 0
devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666 0 0
mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime 0 0
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
cgroup /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0
/dev/mapper/vgubuntu-root /etc/hosts ext4 rw,relatime,errors=remount-ro,stripe=32 0 0
/dev/mapper/vgubuntu-root /dev/termination-log ext4 rw,relatime,errors=remount-ro,stripe=32 0 0
/dev/mapper/vgubuntu-root /etc/hostname ext4 rw,relatime,errors=remount-ro,stripe=32 0 0
/dev/mapper/vgubuntu-root /etc/resolv.conf ext4 rw,relatime,errors=remount-ro,stripe=32 0 0
shm /dev/shm tmpfs rw,relatime,size=65536k,inode64 0 0
tmpfs /run/secrets/kubernetes.io/serviceaccount tmpfs ro,relatime,size=131072k,inode64,noswap 0 0
overlay /sys/devices/virtual/dmi/id/product_name overlay ro,relatime,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1001/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1543/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1543/work,uuid=on,nouserxattr 0 0
proc /proc/bus proc ro,nosuid,nodev,noexec,relatime 0 0
tmpfs /proc/acpi tmpfs ro,relatime,inode64 0 0
tmpfs /sys/firmware tmpfs ro,relatime,inode64 0 0
"""

# A Docker container of a CTF write-up (found by code search): bind mounts of the host's disk onto files and a folder
CTF_CONTAINER_MOUNTS = """/dev/xvda1 /etc/resolv.conf ext4 rw,relatime,discard,data=ordered 0 0
/dev/xvda1 /etc/hostname ext4 rw,relatime,discard,data=ordered 0 0
/dev/xvda1 /etc/hosts ext4 rw,relatime,discard,data=ordered 0 0
shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0
/dev/xvda1 /var/www/flag.txt ext4 rw,relatime,discard,data=ordered 0 0
"""


def test_parse_mounts_keeps_the_overlay_root_and_drops_bind_mount_noise():
    assert disks.parse_mounts(K8S_POD_MOUNTS) == [("overlay", "/", "overlay")]


def test_parse_mounts_keeps_a_bind_mounted_data_path():
    assert disks.parse_mounts(CTF_CONTAINER_MOUNTS) == [("/dev/xvda1", "/var/www/flag.txt", "ext4")]


def test_parse_mounts_unescapes_octal_escapes():
    # proc(5): spaces, tabs and backslashes in /proc/mounts fields are written as \040, \011 and \134
    text = ("/dev/sdb1 /media/usb\\040stick vfat rw,relatime 0 0\n"
            "/dev/sdc1 /mnt/a\\011b ext4 rw 0 0\n"
            "C:\\134 /mnt/c 9p rw,noatime,aname=drvfs 0 0\n")
    assert disks.parse_mounts(text) == [("/dev/sdb1", "/media/usb stick", "vfat"), ("/dev/sdc1", "/mnt/a\tb", "ext4"),
                                        ("C:\\", "/mnt/c", "9p")]


def test_parse_mounts_rejoins_an_unescaped_space_in_the_source():
    # minio/minio#12104: `docker run --rm php:fpm-alpine cat /proc/mounts` shows a 7-column root line
    text = ("rootfs overlay / overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/SEVWW6MOCVHKBJ375ODYYCI43U,"
            "index=off,xino=off 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n")
    assert disks.parse_mounts(text) == [("rootfs overlay", "/", "overlay")]


def test_parse_mounts_centos7_rootfs_line_is_not_a_disk():
    # CentOS 7 lists the initramfs "rootfs" before the real root
    text = "rootfs / rootfs rw 0 0\n/dev/mapper/centos-root / xfs rw,relatime,attr2,inode64,noquota 0 0\n"
    assert disks.parse_mounts(text) == [("/dev/mapper/centos-root", "/", "xfs")]


def test_parse_mounts_network_and_snap_and_a_mount_on_top():
    text = ("fs-0123.efs.us-east-1.amazonaws.com:/ /mnt/efs nfs4 rw,relatime,vers=4.1,hard,proto=tcp 0 0\n"
            "/dev/loop3 /snap/core20/1974 squashfs ro,nodev,relatime 0 0\n"
            "/dev/sda1 /data ext4 rw 0 0\n"
            "/dev/sdb1 /data xfs rw 0 0\n"
            "short line\n")
    assert disks.parse_mounts(text) == [("fs-0123.efs.us-east-1.amazonaws.com:/", "/mnt/efs", "nfs4"),
                                        ("/dev/sdb1", "/data", "xfs")]


# --- disk media ----------------------------------------------------------------------------------------------------


def block_links(*pairs):
    """realpath entries: /dev/<node> -> /dev/<node>, /sys/class/block/<name> -> its sysfs device path."""
    links = {}
    for name, target in pairs:
        links["/dev/" + name] = "/dev/" + name
        links["/sys/class/block/" + name] = target
    return links


def test_medium_nvme_partition(tmp_path):
    target = "/sys/devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1/nvme0n1p2"
    host = make_host(tmp_path, {"/sys/class/block/nvme0n1p2/partition": "2\n"},
                     links=block_links(("nvme0n1p2", target)))
    assert disks.medium(host, "/dev/nvme0n1p2", "ext4") == "nvme"


@pytest.mark.parametrize("rotational, media", [("0\n", "ssd"), ("1\n", "hdd"), ("x\n", "unknown")])
def test_medium_sata_by_rotational(tmp_path, rotational, media):
    files = {"/sys/class/block/sda1/partition": "1\n", "/sys/block/sda/queue/rotational": rotational}
    target = "/sys/devices/pci0000:00/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1"
    host = make_host(tmp_path, files, links=block_links(("sda1", target)))
    assert disks.medium(host, "/dev/sda1", "ext4") == media


def test_medium_whole_disk_without_partition(tmp_path):
    host = make_host(tmp_path, {"/sys/block/vdb/queue/rotational": "1\n"},
                     links=block_links(("vdb", "/sys/devices/pci0000:00/0000:00:05.0/virtio2/block/vdb")))
    assert disks.medium(host, "/dev/vdb", "xfs") == "hdd"


def test_medium_dm_crypt_over_nvme_follows_the_slaves(tmp_path):
    # LUKS root: /dev/mapper/cryptroot -> /dev/dm-0, whose slave is the NVMe partition
    links = block_links(("nvme0n1p3", "/sys/devices/pci0000:00/0000:00:06.0/nvme/nvme0/nvme0n1/nvme0n1p3"),
                        ("dm-0", "/sys/devices/virtual/block/dm-0"))
    links["/dev/mapper/cryptroot"] = "/dev/dm-0"
    host = make_host(tmp_path, {"/sys/class/block/nvme0n1p3/partition": "3\n"}, links=links,
                     listdir={"/sys/block/dm-0/slaves": ["nvme0n1p3"]})
    assert disks.medium(host, "/dev/mapper/cryptroot", "ext4") == "nvme"


def test_medium_lvm_over_mixed_disks_is_unknown(tmp_path):
    links = block_links(("nvme0n1p1", "/sys/devices/pci0000:00/nvme/nvme0/nvme0n1/nvme0n1p1"),
                        ("sda1", "/sys/devices/pci0000:00/ata1/block/sda/sda1"),
                        ("dm-1", "/sys/devices/virtual/block/dm-1"))
    host = make_host(tmp_path, {"/sys/class/block/nvme0n1p1/partition": "1\n", "/sys/class/block/sda1/partition": "1\n",
                                "/sys/block/sda/queue/rotational": "1\n"},
                     links=links, listdir={"/sys/block/dm-1/slaves": ["nvme0n1p1", "sda1"]})
    assert disks.medium(host, "/dev/dm-1", "xfs") == "unknown"


@pytest.mark.parametrize("device, fstype", [("fs-0123.efs.us-east-1.amazonaws.com:/", "nfs4"), ("//nas/share", "cifs"),
                                            ("server:/export", "nfs")])
def test_medium_network(tmp_path, device, fstype):
    assert disks.medium(make_host(tmp_path), device, fstype) == "network"


@pytest.mark.parametrize("device", ["overlay", "rootfs overlay", "/dev/sdz9", "C:\\"])
def test_medium_unknown_without_sysfs(tmp_path, device):
    assert disks.medium(make_host(tmp_path), device, "ext4") == "unknown"


def test_disks_probe_with_missing_and_failed_statvfs(tmp_path):
    mounts = "/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /data ext4 rw 0 0\nnas:/vol /mnt/nas nfs4 rw 0 0\n"
    host = make_host(tmp_path, {"/proc/mounts": mounts},
                     facts={"statvfs:/": {"total_bytes": 100, "free_bytes": 40},
                            "statvfs:/mnt/nas": {"error": "timed out after 5s"}})
    inv = run(disks, host)
    assert [(d.mountpoint, d.total_bytes, d.free_bytes) for d in inv.disks] == [
        ("/", 100, 40), ("/data", None, None), ("/mnt/nas", None, None)]
    # Not recorded (a hand-made snapshot) is merely unknown; a recorded failure is an error entry.
    assert [(e.probe, "/mnt/nas" in e.message and "timed out" in e.message) for e in inv.errors] == [("disks", True)]


def test_disks_probe_without_proc_mounts_uses_the_disks_fact(tmp_path):
    facts = {"disks": [{"device": "/dev/disk3s1s1", "mountpoint": "/", "fstype": "apfs"}],
             "statvfs:/": {"total_bytes": 494384795648, "free_bytes": 200000000000}}
    inv = run(disks, make_host(tmp_path, facts=facts))
    assert [(d.device, d.fstype, d.media) for d in inv.disks] == [("/dev/disk3s1s1", "apfs", "unknown")]
    assert inv.errors == []


def test_disks_probe_without_any_source_records_an_error(tmp_path):
    inv = run(disks, make_host(tmp_path))
    assert inv.disks == [] and [e.probe for e in inv.errors] == ["disks"]


# --- WSL -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("proc_version, wsl", [
    # microsoft/WSL#4555 (WSL 1 build 18985 and WSL 2 4.19 kernel, as quoted by a WSL maintainer)
    ("Linux version 4.4.0-18985-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #1-Microsoft "
     "Fri Sep 13 14:26:00 PST 2019", 1),
    ("Linux version 4.19.67-microsoft-standard (oe-user@oe-host) (gcc version 8.2.0 (GCC)) #1 SMP "
     "Sun Aug 18 13:37:54 UTC 2019", 2),
    # microsoft/WSL#1090: the first WSL 1 releases
    ("Linux version 3.4.0-Microsoft (Microsoft@Microsoft.com) (gcc version 4.7 (GCC) ) #1 SMP PREEMPT "
     "Wed Dec 31 14:42:53 PST 2014", 1),
    # leoheck/kiri#28: WSL 2 5.4 kernel with the -WSL2 suffix
    ("Linux version 5.4.72-microsoft-standard-WSL2 (oe-user@oe-host) (gcc version 8.2.0 (GCC)) #1 SMP "
     "Wed Oct 28 23:40:43 UTC 2020", 2),
    # microsoft/WSL#8361: a self-built WSL 2 kernel (the builder's own host name, Ubuntu's gcc)
    ("Linux version 4.19.104-microsoft-standard (jkp@DESKTOP-DKG6ENQ) (gcc version 7.5.0 "
     "(Ubuntu 7.5.0-3ubuntu1~18.04)) #5 SMP Mon Jun 15 23:43:17 CEST 2020", 2),
    # a native kernel (Raspberry Pi OS, from the same kind of report as the Pi cpuinfo of test_cpu.py)
    ("Linux version 6.12.47+rpt-rpi-v8 (serge@raspberrypi.com) #1 SMP PREEMPT Debian 1:6.12.47-1+rpt1~bookworm", None),
    ("", None),
    (None, None),
])
def test_wsl_version(proc_version, wsl):
    assert system.wsl_version(proc_version) == wsl


def test_wsl2_is_also_the_virtual_machine(tmp_path):
    files = {"/proc/version": "Linux version 5.4.72-microsoft-standard-WSL2 (oe-user@oe-host) (gcc version 8.2.0 "
                              "(GCC)) #1 SMP Wed Oct 28 23:40:43 UTC 2020\n"}
    inv = run(system, make_host(tmp_path, files, facts={"platform": {"system": "linux"}}))
    assert (inv.os.wsl, inv.os.virtual_machine) == (2, "wsl")


# --- containers ----------------------------------------------------------------------------------------------------

DOCKER_CGROUP = "11:memory:/docker/98b476fc486aa7bac605b96724646ce0f192db5d2d8e38be1a8d7bd5f2c95eff\n6:rdma:/\n" \
                "1:name=systemd:/docker/98b476fc486aa7bac605b96724646ce0f192db5d2d8e38be1a8d7bd5f2c95eff\n" \
                "0::/system.slice/docker.service\n"  # vdloo/raptiformica#287
# neuvector/neuvector share/system/cgroup_test.go (TestDockerIDDebian): a Docker container whose cgroup paths carry
# only the container id, not the word "docker"
BARE_ID_CGROUP = "4:memory:/4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970\n" \
                 "2:cpu:/4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970\n"
KUBEPODS_CGROUP = "11:blkio:/kubepods.slice/...\n10:pids:/kubepods.slice/...\n4:memory:/kubepods.slice/...\n" \
                  "1:name=systemd:/kubepods.slice/...\n"  # a public Rust cgroup crate's test data (test_detect_v1)
HOST_CGROUP_V2 = "0::/init.scope\n"


@pytest.mark.parametrize("files, env, kind", [
    ({"/.dockerenv": ""}, {}, "docker"),
    ({"/.dockerenv": "", "/proc/1/cgroup": BARE_ID_CGROUP}, {}, "docker"),
    ({"/proc/1/cgroup": DOCKER_CGROUP}, {}, "docker"),
    ({"/run/.containerenv": ""}, {"env:container": "podman"}, "podman"),
    ({"/run/.containerenv": ""}, {}, "podman"),
    ({"/.dockerenv": "", "/var/run/secrets/kubernetes.io/serviceaccount/namespace": "default"}, {}, "kubernetes"),
    ({"/.dockerenv": ""}, {"env:KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "kubernetes"),
    ({"/proc/1/cgroup": KUBEPODS_CGROUP}, {}, "kubernetes"),
    ({}, {"env:container": "oci"}, "container"),
    ({"/proc/1/cgroup": HOST_CGROUP_V2}, {}, None),
    ({"/proc/1/cgroup": BARE_ID_CGROUP}, {}, None),  # the id alone proves nothing
    ({}, {}, None),
])
def test_container_kind(tmp_path, files, env, kind):
    assert system.container_kind(make_host(tmp_path, files, facts=env)) == kind


def test_inside_a_container_no_virtual_machine_is_claimed(tmp_path):
    files = {"/.dockerenv": "", "/sys/class/dmi/id/sys_vendor": "Amazon EC2\n"}
    inv = run(system, make_host(tmp_path, files, facts={"platform": {"system": "linux"}}))
    assert (inv.os.container, inv.os.virtual_machine) == ("docker", None)


# --- virtual machines ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sys_vendor, product_name, flags, vm", [
    ("QEMU", "Standard PC (i440FX + PIIX, 1996)", ["hypervisor"], "qemu"),
    ("VMware, Inc.", "VMware Virtual Platform", ["hypervisor"], "vmware"),
    ("innotek GmbH", "VirtualBox", ["hypervisor"], "oracle"),
    ("Amazon EC2", "c5.xlarge", ["hypervisor"], "amazon"),
    ("Google", "Google Compute Engine", ["hypervisor"], "google"),
    ("Microsoft Corporation", "Virtual Machine", ["hypervisor"], "microsoft"),
    ("Microsoft Corporation", "Surface Pro 4", [], None),  # real hardware made by Microsoft
    ("Dell Inc.", "PowerEdge R740", [], None),
    ("Dell Inc.", "PowerEdge R740", ["hypervisor"], "unknown"),  # a guest that hides its DMI
    (None, None, [], None),
])
def test_virtual_machine_from_dmi(tmp_path, sys_vendor, product_name, flags, vm):
    files = {}
    if sys_vendor is not None:
        files["/sys/class/dmi/id/sys_vendor"] = sys_vendor + "\n"
        files["/sys/class/dmi/id/product_name"] = product_name + "\n"
    assert system.virtual_machine(make_host(tmp_path, files), flags) == vm


def test_xen_pv_guest_from_sys_hypervisor(tmp_path):
    assert system.virtual_machine(make_host(tmp_path, {"/sys/hypervisor/type": "xen\n"}), []) == "xen"


# --- distributions -------------------------------------------------------------------------------------------------

# beeware/briefcase tests/platforms/linux/os_release.py ("literal content of /etc/os-release ... keyed by Docker image")
UBUNTU_2204 = """PRETTY_NAME="Ubuntu 22.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.2 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=jammy
"""
DEBIAN_11 = """PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"
NAME="Debian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
RHEL_87 = """NAME="Red Hat Enterprise Linux"
VERSION="8.7 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.7"
PLATFORM_ID="platform:el8"
PRETTY_NAME="Red Hat Enterprise Linux 8.7 (Ootpa)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:redhat:enterprise_linux:8::baseos"
HOME_URL="https://www.redhat.com/"
DOCUMENTATION_URL="https://access.redhat.com/documentation/red_hat_enterprise_linux/8/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"

REDHAT_BUGZILLA_PRODUCT="Red Hat Enterprise Linux 8"
REDHAT_BUGZILLA_PRODUCT_VERSION=8.7
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="8.7"
"""
OPENSUSE_LEAP_154 = """NAME="openSUSE Leap"
VERSION="15.4"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.4"
PRETTY_NAME="openSUSE Leap 15.4"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.4"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
"""
ARCH_IMAGE = """NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
VERSION_ID=TEMPLATE_VERSION_ID
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
DOCUMENTATION_URL="https://wiki.archlinux.org/"
SUPPORT_URL="https://bbs.archlinux.org/"
BUG_REPORT_URL="https://bugs.archlinux.org/"
PRIVACY_POLICY_URL="https://terms.archlinux.org/docs/privacy-policy/"
LOGO=archlinux-logo
"""
# python-distro/distro tests/resources/distros/{rocky9,amazon2023,fedora42}
ROCKY_93 = """NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.3"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.3"
"""
AMAZON_2023 = """NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
SUPPORT_END="2028-03-01"
"""
FEDORA_42 = """NAME="Fedora Linux"
VERSION="42 (Forty Two)"
ID=fedora
VERSION_ID=42
VERSION_CODENAME=""
PLATFORM_ID="platform:f42"
PRETTY_NAME="Fedora Linux 42 (Forty Two)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:42"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f42/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=42
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=42
SUPPORT_END=2026-05-13
"""


@pytest.mark.parametrize("path, text, os_id, version, codename, pretty", [
    # best=True answers the point release of VERSION, not the VERSION_ID
    ("/etc/os-release", UBUNTU_2204, "ubuntu", "22.04.2", "jammy", "Ubuntu 22.04.2 LTS"),
    ("/etc/os-release", DEBIAN_11, "debian", "11", "bullseye", "Debian GNU/Linux 11 (bullseye)"),
    ("/etc/os-release", RHEL_87, "rhel", "8.7", "Ootpa", "Red Hat Enterprise Linux 8.7 (Ootpa)"),
    ("/usr/lib/os-release", ROCKY_93, "rocky", "9.3", "Blue Onyx", "Rocky Linux 9.3 (Blue Onyx)"),
    ("/etc/os-release", AMAZON_2023, "amzn", "2023", None, "Amazon Linux 2023"),
    ("/etc/os-release", OPENSUSE_LEAP_154, "opensuse", "15.4", None, "openSUSE Leap 15.4"),  # distro normalizes the id
    ("/usr/lib/os-release", FEDORA_42, "fedora", "42", None, "Fedora Linux 42 (Forty Two)"),  # VERSION_CODENAME=""
    ("/etc/os-release", ARCH_IMAGE, "arch", None, None, "Arch Linux"),  # a placeholder is not a version
])
def test_os_probe_on_real_os_release_files(tmp_path, path, text, os_id, version, codename, pretty):
    facts = {"platform": {"system": "linux", "machine": "x86_64", "release": "6.1.0", "libc": "glibc",
                          "libc_version": "2.36"}}
    got = run(system, make_host(tmp_path, {path: text}, facts=facts)).os
    assert (got.system, got.id, got.version, got.codename, got.pretty_name) == ("linux", os_id, version, codename,
                                                                               pretty)
    assert (got.kernel, got.glibc, got.wsl, got.container) == ("6.1.0", "2.36", None, None)


def test_os_probe_kernel_prefers_proc_over_the_platform_fact(tmp_path):
    files = {"/etc/os-release": DEBIAN_11, "/proc/sys/kernel/osrelease": "5.10.0-23-amd64\n"}
    got = run(system, make_host(tmp_path, files, facts={"platform": {"system": "linux", "release": "x"}})).os
    assert got.kernel == "5.10.0-23-amd64"


def test_os_probe_with_no_os_release(tmp_path):
    got = run(system, make_host(tmp_path, facts={"platform": {"system": "linux", "libc": "musl",
                                                              "libc_version": "1.2.4"}})).os
    assert (got.id, got.version, got.pretty_name, got.glibc) == (None, None, None, None)


def test_os_probe_on_macos(tmp_path):
    facts = {"platform": {"system": "darwin", "release": "23.4.0", "mac_version": "14.4.1", "libc": None}}
    got = run(system, make_host(tmp_path, facts=facts)).os
    assert (got.system, got.id, got.version, got.pretty_name, got.kernel) == ("darwin", "macos", "14.4.1",
                                                                              "macOS 14.4.1", "23.4.0")


# --- Secure Boot and container engines ------------------------------------------------------------------------------


@pytest.mark.parametrize("data,expected", [
    ("\x06\x00\x00\x00\x01", True),  # attributes NV+BS+RT, then the value byte
    ("\x06\x00\x00\x00\x00", False),
    ("", None),
])
def test_secure_boot_from_efivars(tmp_path, data, expected):
    files = {"/proc/version": "Linux version 6.8.0-45-generic"}
    if data:
        files[system.SECURE_BOOT_VAR] = data
    assert run(system, make_host(tmp_path, files)).os.secure_boot is expected


def test_container_engines_found_on_path(tmp_path):
    host = make_host(tmp_path, {"/proc/version": "Linux version 6.8.0"},
                     facts={"which:docker": "/usr/bin/docker", "which:podman": None})
    assert run(system, host).os.container_engines == ["docker"]
