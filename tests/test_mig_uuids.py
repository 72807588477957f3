"""MIG device UUIDs in the inventory (NVML, nvidia-smi -q -x, else nvidia-smi -L) and DLWS-ENV-001 on a
CUDA_VISIBLE_DEVICES that names MIG devices this machine does not have."""

from provision import host_nvml
from provision.host import CommandResult
from provision.inventory import nvidia
from provision.inventory.model import Gpu
from provision.inventory.nvidia_smi import parse_mig_listing, parse_nvidia_smi_xml
from tests.test_doctor_rules import fired, gpu0, mutate
from tests.test_nvidia import FakeHost, fake_pynvml

#: `nvidia-smi -L` as NVIDIA/nvidia-container-toolkit#203 shows it (driver 530.30.02, two MIG 3g.40gb devices).
LISTING = """GPU 0: NVIDIA A100 80GB PCIe (UUID: GPU-932bfb2c-849a-2a22-1e84-9eff6bc02b39)
  MIG 3g.40gb     Device  0: (UUID: MIG-0929581a-2be6-5dec-bf34-0954c6c529a6)
  MIG 3g.40gb     Device  1: (UUID: MIG-3adbed3a-d03d-549f-a016-ba1fd7359f23)
"""
GPU_UUID = "GPU-932bfb2c-849a-2a22-1e84-9eff6bc02b39"
MIGS = ["MIG-0929581a-2be6-5dec-bf34-0954c6c529a6", "MIG-3adbed3a-d03d-549f-a016-ba1fd7359f23"]

XML = """<?xml version="1.0" ?>
<nvidia_smi_log><driver_version>530.30.02</driver_version><cuda_version>12.1</cuda_version>
<gpu id="00000000:17:00.0"><product_name>NVIDIA A100 80GB PCIe</product_name><uuid>%s</uuid>
<mig_mode><current_mig>Enabled</current_mig></mig_mode>
<mig_devices>%s</mig_devices></gpu></nvidia_smi_log>"""
DEVICE = "<mig_device><index>%d</index><gpu_instance_id>%d</gpu_instance_id><compute_instance_id>0</compute_instance_id>%s</mig_device>"


def test_the_listing_gives_each_gpus_mig_uuids():
    assert parse_mig_listing(LISTING) == {GPU_UUID: MIGS}
    assert parse_mig_listing("GPU 0: NVIDIA H100 (UUID: GPU-1)\nNo devices were found\n") == {"GPU-1": []}
    assert parse_mig_listing("\x00garbage\n  MIG 1g.5gb Device 0: (UUID: MIG-x)\n") == {}  # no GPU line above it


def test_the_xml_gives_them_where_every_device_names_one():
    named = "".join(DEVICE % (i, i + 1, "<uuid>%s</uuid>" % u) for i, u in enumerate(MIGS))
    (gpu,) = parse_nvidia_smi_xml(XML % (GPU_UUID, named))[2]
    assert gpu.mig_devices == 2 and gpu.mig_uuids == MIGS
    (gpu,) = parse_nvidia_smi_xml(XML % (GPU_UUID, DEVICE % (0, 1, "") + DEVICE % (1, 2, "")))[2]
    assert gpu.mig_devices == 2 and gpu.mig_uuids is None


def test_nvidia_smi_minus_l_fills_them_only_where_mig_devices_lack_them():
    host = FakeHost(commands={"nvidia-smi -L": CommandResult(LISTING, "", 0)})
    gpus = [Gpu(index=0, vendor="nvidia", uuid=GPU_UUID, mig_mode="enabled", mig_devices=2),
            Gpu(index=1, vendor="nvidia", uuid="GPU-2", mig_mode="disabled")]
    nvidia.fill_mig_uuids(host, gpus)
    assert gpus[0].mig_uuids == MIGS and gpus[1].mig_uuids is None and host.ran == ["nvidia-smi -L"]
    disagreeing = [Gpu(index=0, vendor="nvidia", uuid=GPU_UUID, mig_mode="enabled", mig_devices=3)]
    nvidia.fill_mig_uuids(host, disagreeing)
    assert disagreeing[0].mig_uuids is None  # the listing and the XML disagree: unknown
    quiet = FakeHost()
    nvidia.fill_mig_uuids(quiet, [Gpu(index=0, vendor="nvidia", uuid="GPU-1", mig_mode="disabled")])
    assert quiet.ran == []  # no MIG device: no extra command


def test_nvml_reads_each_mig_devices_uuid(monkeypatch):
    mod = fake_pynvml(count=1)
    mod.nvmlDeviceGetMigMode = lambda h: [1, 1]
    mod.nvmlDeviceGetMaxMigDeviceCount = lambda h: 7
    mod.nvmlDeviceGetMigDeviceHandleByIndex = lambda h, i: ("mig", i) if i < 2 else None
    mod.nvmlDeviceGetUUID = lambda h: MIGS[h[1]].encode() if isinstance(h, tuple) else GPU_UUID
    monkeypatch.setitem(__import__("sys").modules, "pynvml", mod)
    (gpu,) = host_nvml.query_nvml(8)["gpus"]
    assert gpu["mig_mode"] == "enabled" and gpu["mig_devices"] == 2 and gpu["mig_uuids"] == MIGS
    mod.nvmlDeviceGetMigMode = lambda h: [0, 0]
    (gpu,) = host_nvml.query_nvml(8)["gpus"]
    assert gpu["mig_devices"] is None and gpu["mig_uuids"] is None


def mig_machine(value):
    """The healthy 2-GPU machine with MIG on GPU 0 (two devices) and off on GPU 1, CUDA_VISIBLE_DEVICES=value."""
    inv = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=2, mig_uuids=list(MIGS)))
    inv["env_vars"]["CUDA_VISIBLE_DEVICES"] = value
    return inv


def test_a_mig_uuid_this_machine_does_not_have_hides_every_gpu():
    (found,) = fired(mig_machine("MIG-5c89852c-d268-c3f3-1b07-005d5ae1dc3f"), "DLWS-ENV-001")
    assert found.severity == "error" and MIGS[0] in found.fix and found.evidence["visible"] == 0
    off = mutate(lambda i: i["env_vars"].update(CUDA_VISIBLE_DEVICES=MIGS[0]))  # MIG off on both GPUs
    assert "MIG is off on every GPU" in fired(off, "DLWS-ENV-001")[0].fix


def test_quiet_where_it_names_one_of_them_or_cannot_tell():
    assert not fired(mig_machine(MIGS[1]), "DLWS-ENV-001")
    assert not fired(mig_machine(MIGS[0][:12]), "DLWS-ENV-001")  # a prefix, as CUDA accepts for UUIDs
    assert not fired(mig_machine("MIG-GPU-%s/1/0" % GPU_UUID[4:]), "DLWS-ENV-001")  # pre-R470 form: not judged
    unread = mig_machine("MIG-5c89852c-d268-c3f3-1b07-005d5ae1dc3f")
    unread["gpus"][0]["mig_uuids"] = None
    assert not fired(unread, "DLWS-ENV-001")
    unknown = mig_machine("MIG-5c89852c-d268-c3f3-1b07-005d5ae1dc3f")
    unknown["gpus"][1]["mig_mode"] = None
    assert not fired(unknown, "DLWS-ENV-001")
