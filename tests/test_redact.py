"""Redaction: identifying values become stable placeholders, everywhere, and nothing else changes."""

import json

from provision.redact import redact_members

XML = """<nvidia_smi_log><gpu id="00000000:07:00.0"><product_name>NVIDIA A100-SXM4-80GB</product_name>
<serial>1324021012345</serial><uuid>GPU-5c1f1a3e-9c2b-6b1e-2a8d-1f0e3b2c4d5e</uuid></gpu>
<gpu id="00000000:0F:00.0"><serial>1324021067890</serial><uuid>GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid></gpu>
</nvidia_smi_log>"""


def members():
    return {
        "files/etc/hostname": "gpu-node-17.lab.example.org\n",
        "files/proc/mounts": "/dev/nvme0n1p2 / ext4 rw 0 0\n/dev/sda1 /home/alice/data xfs rw 0 0\n",
        "commands.json": json.dumps({"nvidia-smi -q -x": {"stdout": XML, "stderr": "", "returncode": 0}}),
        "host.json": json.dumps({"facts": {"platform": {"node": "gpu-node-17"},
                                           "python": {"executable": "/home/alice/venv/bin/python"},
                                           "statvfs:/home/alice/data": {"total_bytes": 1, "free_bytes": 1}}}),
        "files/home/alice/.conda/environments.txt": "/home/alice/miniconda3\n",
        "files/sys/class/net/eth0/address": "3c:ec:ef:12:34:56\n",
        "files/proc/cpuinfo": "model name\t: AMD EPYC 7742 64-Core Processor\n",
    }


def test_identifying_values_are_gone():
    out = redact_members(members())
    text = "\n".join(list(out) + list(out.values()))
    for secret in ("gpu-node-17", "alice", "1324021012345", "5c1f1a3e", "3c:ec:ef:12:34:56"):
        assert secret not in text, secret


def test_placeholders_are_stable_and_distinct():
    out = redact_members(members())
    xml = json.loads(out["commands.json"])["nvidia-smi -q -x"]["stdout"]
    assert "<serial>SERIAL0001</serial>" in xml and "<serial>SERIAL0002</serial>" in xml
    uuids = [line for line in xml.split("<uuid>")[1:]]
    assert uuids[0] != uuids[1]
    # The same user becomes the same placeholder in file names, mounts and facts alike.
    assert "files/home/user1/.conda/environments.txt" in out
    assert "/home/user1/data" in out["files/proc/mounts"]
    facts = json.loads(out["host.json"])["facts"]
    assert "statvfs:/home/user1/data" in facts and facts["python"]["executable"] == "/home/user1/venv/bin/python"
    assert out["files/etc/hostname"] == "host1\n" and facts["platform"]["node"] == "host1"
    assert redact_members(members()) == out  # deterministic


def test_other_content_is_untouched():
    out = redact_members(members())
    assert out["files/proc/cpuinfo"] == members()["files/proc/cpuinfo"]
    assert "NVIDIA A100-SXM4-80GB" in out["commands.json"]


def test_hostnames_are_replaced_as_whole_words_only():
    out = redact_members({"files/etc/hostname": "gpu1\n", "files/x": "gpu1 gpu10 my-gpu1 gpu1.local"})
    assert out["files/x"] == "host1 gpu10 my-gpu1 host1.local"


def test_default_hostnames_are_left_alone():
    out = redact_members({"files/etc/hostname": "ubuntu\n", "files/etc/os-release": "ID=ubuntu\n"})
    assert out["files/etc/os-release"] == "ID=ubuntu\n"


def test_board_serial_in_cpuinfo_is_redacted():
    out = redact_members({"files/proc/cpuinfo": "processor\t: 0\n\nSerial\t\t: 10000000a43957f6\nModel\t\t: Pi\n"})
    assert "10000000a43957f6" not in out["files/proc/cpuinfo"] and "SERIAL0001" in out["files/proc/cpuinfo"]


# --- issue 8: what redaction used to leave, and what it used to break --------------------------------------------

import getpass
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tarfile

import pytest

from provision import redact
from provision.inventory import collect
from provision.snapshot import open_snapshot, write_snapshot

DLWS = [sys.executable, "-m", "provision"]
FIXTURES = os.path.join(os.path.dirname(__file__), "snapshots")


def dlws(*args):
    return subprocess.run(DLWS + list(args), capture_output=True, text=True, timeout=300)


def text_of(out):
    return "\n".join(list(out) + list(out.values()))


def test_short_and_upper_case_hostnames_and_fqdn_are_redacted():
    out = redact_members({
        "files/etc/hostname": "vm\n",
        "host.json": json.dumps({"facts": {"platform": {"node": "vm"}}}),
        "commands.json": json.dumps({"hostname -f": {"stdout": "vm.corp.example.com\n", "returncode": 0},
                                     "tool": {"stdout": "vme vm2 GPU-NODE-17.CORP.EXAMPLE.COM",
                                              "stderr": "unable to resolve host VM (VM.CORP.EXAMPLE.COM)\n"}}),
        "files/proc/sys/kernel/hostname": "gpu-node-17\n",
    })
    text = text_of(out)
    assert not re.search(r"\bvm\b|corp\.example|gpu-node", text, re.I), text
    assert "vme vm2" in text  # other words that merely start with it stay


def test_network_mounts_lose_server_share_and_addresses():
    mounts = ("fs1.lab:/export/projects/bob /mnt/proj nfs4 rw,vers=4.2,addr=10.1.2.3,clientaddr=10.1.2.99 0 0\n"
              "//winbox/Finance$ /mnt/fin cifs rw,username=carol,domain=ACME,addr=fd00::17 0 0\n"
              "/dev/nvme0n1p2 / ext4 rw 0 0\n")
    out = redact_members({"files/proc/mounts": mounts})["files/proc/mounts"]
    for secret in ("fs1", "projects", "bob", "10.1.2", "winbox", "Finance", "carol", "ACME", "fd00::17"):
        assert secret not in out, (secret, out)
    assert " /mnt/proj nfs4 " in out and " /mnt/fin cifs " in out and "/dev/nvme0n1p2 / ext4 rw 0 0" in out


def test_user_names_outside_home_and_in_json_escaped_windows_paths():
    listing = json.dumps({"python": "C:\\Users\\bob\\AppData\\Local\\Programs\\Python\\python.exe"})
    out = redact_members({
        "host.json": json.dumps({"facts": {"python": {"executable": "/home/alice/venv/bin/python",
                                                      "path": ["/data/alice/lib", "/scratch/alice"]}}}),
        "commands.json": json.dumps({"where python": {"stdout": listing, "returncode": 0}}),
    })
    text = text_of(out)
    assert "alice" not in text and "bob" not in text, text
    assert "AppData" in text


def test_serials_host_ids_and_machine_ids_are_redacted():
    members = {
        "files/sys/class/dmi/id/product_serial": "VMware-56 4d 1e\n",
        "files/sys/class/dmi/id/board_serial": "BSN12345678\n",
        "files/sys/class/dmi/id/chassis_serial": "CSN-987654\n",
        "files/sys/class/dmi/id/product_uuid": "4c4c4544-0051-3510-8052-b4c04f564433\n",
        "files/etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n",
        "files/proc/sys/kernel/random/boot_id": "92c43a12-8bde-4f3a-8d26-a7ae33821ea8\n",
        "commands.json": json.dumps({"nvidia-smi -q -x": {"stdout": "<gpu><chassis_serial_number>1653922000123"
                                                                    "</chassis_serial_number><board_id>0x700</board_id>"
                                                                    "</gpu>", "returncode": 0},
                                     "tool": {"stdout": "Host ID: 007f0101\nlog in /var/log/journal/"
                                                        "3d1219c7c4c5404aaa1f6d2a48adfda4/\n"}}),
        "nvml.json": json.dumps({"gpus": [{"serial": "1324021012345", "board_serial": "BS-7"}]}),
    }
    text = text_of(redact_members(members))
    for secret in ("56 4d 1e", "BSN12345678", "CSN-987654", "4c4c4544", "3d1219c7", "92c43a12", "1653922000123",
                   "0x700", "007f0101", "1324021012345", "BS-7"):
        assert secret not in text, secret


def test_ip_addresses_go_and_versions_stay():
    members = {
        "host.json": json.dumps({"facts": {"env:KUBERNETES_SERVICE_HOST": "10.96.0.1",
                                           "platform": {"release": "5.15.167.4-microsoft-standard-WSL2"}},
                                 "listdir": {"/v/site-packages": ["nvidia_cudnn_cu12-8.9.2.26.dist-info"]}}),
        "files/v/site-packages/nvidia_cudnn_cu12-8.9.2.26.dist-info/METADATA": "Name: nvidia-cudnn-cu12\n"
                                                                              "Version: 8.9.2.26\n",
        "commands.json": json.dumps({"tool": {"stdout": "peer 192.168.7.21 via fe80::1c2:3ff:fe45:6789%eth0, "
                                                        "2001:db8:85a3::8a2e:370:7334; lo 127.0.0.1 ::1"}}),
    }
    text = text_of(redact_members(members))
    for secret in ("10.96.0.1", "192.168.7.21", "fe80::1c2", "85a3"):
        assert secret not in text, secret
    for kept in ("5.15.167.4-microsoft", "cu12-8.9.2.26.dist-info", "Version: 8.9.2.26", "127.0.0.1", "::1"):
        assert kept in text, kept


def _members_of(folder):
    from provision.snapshot_rewrite import read_members

    return read_members(folder)


def _inventory(members, tmp_path, name):
    folder = str(tmp_path / name) + "/"
    write_snapshot(members, folder)
    return collect(open_snapshot(folder)).to_dict()


MASKS = ((redact.UUID, "<uuid>"), (re.compile(r"(?<=/home/)[^/\"]+"), "<user>"))


def masked(inv):
    text = json.dumps(inv, sort_keys=True)
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return json.loads(text)


@pytest.mark.parametrize("hostname", ["linux", "x86_64", "gnu", "nvidia", "ubuntu", "Linux"])
@pytest.mark.parametrize("fixture", ["dgx-a100-8gpu", "wsl2-rtx4070-laptop", "cuda-multi-toolkit-torch",
                                     "gtx970-nouveau-bound", "docker-container-a100-no-gpus-flag",
                                     "driver-not-loaded", "macos-m2-max", "jetson-agx-orin"])
def test_a_hostname_that_is_a_word_of_the_software_keeps_the_replay(tmp_path, fixture, hostname):
    members = _members_of(os.path.join(FIXTURES, fixture))
    members["files/etc/hostname"] = hostname + "\n"
    host = json.loads(members["host.json"])
    host.setdefault("facts", {}).setdefault("platform", {})["node"] = hostname
    members["host.json"] = json.dumps(host)
    out = redact_members(members)
    assert out["files/etc/hostname"] == "host1\n"
    assert json.loads(out["host.json"])["facts"]["platform"]["node"] == "host1"
    assert masked(_inventory(out, tmp_path, "red")) == masked(_inventory(members, tmp_path, "orig"))


@pytest.mark.parametrize("form", ["folder", "tar.gz"])
def test_an_existing_snapshot_is_redacted_and_replays(tmp_path, form):
    source = os.path.join(FIXTURES, "cuda-multi-toolkit-torch")
    if form == "tar.gz":
        archive = str(tmp_path / "in.tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(source, arcname="in")
        source = archive
    out = str(tmp_path / "out.tar.gz")
    made = dlws("snapshot", "--snapshot", source, "--redact", "-o", out)
    assert made.returncode == 0, made.stderr
    with tarfile.open(out) as tar:
        names = tar.getnames()
        text = "\n".join(names + [tar.extractfile(m).read().decode() for m in tar if m.isfile()])
    assert "/home/dev/" not in text and "snapshot/inventory.json" in names and "snapshot/files/etc/os-release" in names
    replay = dlws("inventory", "--json", "--snapshot", out)
    assert replay.returncode == 0, replay.stderr
    with open(os.path.join(open_snapshot(out).folder, "inventory.json")) as handle:
        assert json.loads(replay.stdout) == json.load(handle)
    original = dlws("inventory", "--json", "--snapshot", os.path.join(FIXTURES, "cuda-multi-toolkit-torch"))
    assert masked(json.loads(replay.stdout)) == masked(json.loads(original.stdout))


GENERIC = {"", "root", "localhost", "localhost.localdomain", "127.0.0.1", "::1", "00:00:00:00:00:00", "nobody"}


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def machine_identifiers():
    """Every identifier this machine has, gathered independently of dlws."""
    host = socket.gethostname()
    found = {host, host.lower(), host.upper(), socket.getfqdn(), socket.getfqdn().upper()}
    found |= {_read(p) for p in glob.glob("/sys/class/net/*/address")}
    try:
        addresses = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True).stdout or "[]")
        found |= {a.get("local", "") for link in addresses for a in link.get("addr_info", [])}
    except OSError:
        pass
    import psutil

    found |= {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs}
    found |= {_read("/etc/machine-id"), _read("/proc/sys/kernel/random/boot_id")}
    found |= {_read(p) for p in glob.glob("/sys/class/dmi/id/*serial") + glob.glob("/sys/class/dmi/id/product_uuid")}
    found |= {e.pw_name for e in pwd.getpwall() if e.pw_uid >= 1000 and os.path.isdir(e.pw_dir)}
    found.add(getpass.getuser())
    return {value for value in found if value.lower() not in GENERIC}


def test_a_redacted_recording_of_this_machine_holds_none_of_its_identifiers(tmp_path):
    out = str(tmp_path / "me.tar.gz")
    made = dlws("snapshot", "--redact", "-o", out)
    assert made.returncode == 0, made.stderr
    members = {}
    with tarfile.open(out) as tar:
        for member in tar:
            members[member.name] = tar.extractfile(member).read().decode() if member.isfile() else ""
    plain = str(tmp_path / "plain/")
    assert dlws("snapshot", "-o", plain + "/").returncode == 0
    words = redact.vocabulary(_members_of(plain), {})
    text = text_of(members)
    for value in machine_identifiers():
        if value.lower() in words:  # a word of the software itself: only its identifying places are checked
            assert not re.search(r"\bnode\": \"%s\"" % re.escape(value), text), value
        else:
            assert not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(value), text, re.I), value
