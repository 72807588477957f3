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
