"""DLWS-GPU-006 on a GPU with MIG on and no instance: CUDA sees no device there and numbers the other GPUs from 0
(wilicc/gpu-burn#122: a run on a GPU without MIG fails once GPU 0 has MIG on)."""

import os

from provision.doctor import diagnose
from provision.inventory import collect
from provision.snapshot import open_snapshot
from tests.test_doctor_rules import fired, gpu0, mutate

FIXTURE = os.path.join(os.path.dirname(__file__), "snapshots", "a100x4-mig-on-no-instances-gpu-burn-init-error")


def test_named_with_its_index_and_cudas_count_of_the_others():
    inv = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=0))
    (found,) = fired(inv, "DLWS-GPU-006")
    assert found.severity == "error" and "sudo nvidia-smi -i 0 -mig 0" in found.fix
    assert found.evidence["cuda_devices"] == "1 of the 2 GPUs nvidia-smi lists" and "not CUDA's" in found.fix


def test_cudas_count_is_unsaid_where_another_gpu_has_mig_devices_or_there_is_no_other():
    inv = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=0))
    inv["gpus"][1].update(mig_mode="enabled", mig_devices=2)
    (found,) = fired(inv, "DLWS-GPU-006")
    assert "cuda_devices" not in found.evidence and "not CUDA's" not in found.fix
    alone = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=0))
    del alone["gpus"][1]
    (found,) = fired(alone, "DLWS-GPU-006")
    assert "cuda_devices" not in found.evidence


def test_quiet_with_instances_or_mig_off():
    inv = mutate(lambda i: gpu0(i, mig_mode="enabled", mig_devices=3))
    assert [f.severity for f in fired(inv, "DLWS-GPU-006")] == ["info"]
    assert not fired(mutate(lambda i: gpu0(i, mig_mode="disabled")), "DLWS-GPU-006")


def test_the_gpu_burn_report_is_named():
    findings = [f for f in diagnose(collect(open_snapshot(FIXTURE)).to_dict()).findings if f.id == "DLWS-GPU-006"]
    (found,) = findings
    assert found.severity == "error" and found.evidence["cuda_devices"] == "3 of the 4 GPUs nvidia-smi lists"
