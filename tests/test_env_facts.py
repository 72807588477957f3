"""Issue 16, classes 1-3: environment variables, the loader's folders and emulation, read through the host and
replayed from a snapshot; HSA_OVERRIDE_GFX_VERSION in the ROCm judgment."""

import json

from provision.host_facts import live_fact
from provision.inventory import emulation, envvars, loader
from provision.inventory.model import Inventory
from provision.snapshot import open_snapshot
from provision import compat
from tests.test_doctor_rules import fired, mutate, rocm_torch


def make_host(tmp_path, files=None, facts=None, commands=None, listdir=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for path, text in (files or {}).items():
        target = tmp_path / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (tmp_path / "host.json").write_text(json.dumps({"facts": facts or {}, "listdir": listdir or {}}))
    (tmp_path / "commands.json").write_text(json.dumps(commands or {}))
    return open_snapshot(str(tmp_path))


def run(module, host):
    inv = Inventory()
    module.probe(host, inv)
    return inv


def test_ld_preload_is_recorded_as_file_names_only(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "/home/ana/lib/libcudnn.so.8:/usr/lib/libjemalloc.so.2 ")
    assert live_fact("env", "LD_PRELOAD", 1) == "libcudnn.so.8 libjemalloc.so.2"
    monkeypatch.setenv("HSA_OVERRIDE_GFX_VERSION", "10.3.0")
    assert live_fact("env", "HSA_OVERRIDE_GFX_VERSION", 1) == "10.3.0"


def test_env_vars_replay_and_unset_ones_are_left_out(tmp_path):
    host = make_host(tmp_path, facts={"env:CUDA_VISIBLE_DEVICES": "", "env:HSA_OVERRIDE_GFX_VERSION": "11.0.0"})
    assert run(envvars, host).env_vars == {"CUDA_VISIBLE_DEVICES": "", "HSA_OVERRIDE_GFX_VERSION": "11.0.0"}
    assert run(envvars, make_host(tmp_path / "none")).env_vars == {}


def test_loader_path_in_the_loader_order(tmp_path):
    host = make_host(tmp_path, facts={"env:LD_LIBRARY_PATH": "/usr/local/cuda/lib64/::relative:/opt/cudnn/lib"},
                     files={"/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
                            "/etc/ld.so.conf.d/cuda.conf": "/usr/local/cuda-12.4/targets/x86_64-linux/lib # cuda\n",
                            "/etc/ld.so.conf.d/loop.conf": "include /etc/ld.so.conf\n"},
                     listdir={"/etc/ld.so.conf.d": ["cuda.conf", "loop.conf", "README"],
                              "/usr/local/cuda/lib64": ["libcudart.so.12", "libcudart.so.12.4.127"],
                              "/opt/cudnn/lib": ["libcudnn.so.8", "libcudnn.so.8.4.0"],
                              "/usr/local/cuda-12.4/targets/x86_64-linux/lib": ["libcublas.so.12.4.5.8"]})
    found = [(f.path, f.source, f.libraries) for f in run(loader, host).loader_path]
    assert found == [("/usr/local/cuda/lib64", "LD_LIBRARY_PATH", {"libcudart": ["12.4.127"]}),
                     ("/opt/cudnn/lib", "LD_LIBRARY_PATH", {"libcudnn": ["8.4.0"]}),
                     ("/usr/local/cuda-12.4/targets/x86_64-linux/lib", "ld.so.conf", {"libcublas": ["12.4.5.8"]})]


def test_emulation_rosetta_qemu_user_and_wow64(tmp_path):
    mac = {"platform": {"system": "darwin", "machine": "x86_64"}}
    translated = {"sysctl -n sysctl.proc_translated": {"stdout": "1\n", "stderr": "", "returncode": 0}}
    assert run(emulation, make_host(tmp_path / "a", facts=mac, commands=translated)).os.emulation == "rosetta"
    native = {"sysctl -n sysctl.proc_translated": {"stdout": "0\n", "stderr": "", "returncode": 0}}
    assert run(emulation, make_host(tmp_path / "b", facts=mac, commands=native)).os.emulation is None
    arm = {"platform": {"system": "linux", "machine": "aarch64"}}
    x86_cpuinfo = {"/proc/cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu lm\n"}
    assert run(emulation, make_host(tmp_path / "c", facts=arm, files=x86_cpuinfo)).os.emulation == "qemu-user"
    arm_cpuinfo = {"/proc/cpuinfo": "processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n"}
    assert run(emulation, make_host(tmp_path / "d", facts=arm, files=arm_cpuinfo)).os.emulation is None
    win = {"platform": {"system": "windows", "machine": "AMD64"}, "python": {"bits": 32}}
    assert run(emulation, make_host(tmp_path / "e", facts=win)).os.emulation == "wow64"
    win["python"]["bits"] = 64
    assert run(emulation, make_host(tmp_path / "f", facts=win)).os.emulation is None


def test_override_target_and_effect():
    assert compat.override_target("10.3.0") == "gfx1030" and compat.override_target("9.0.0") == "gfx900"
    assert compat.override_target("gfx1030") is None and compat.override_target("9.0.10") is None
    assert compat.override_effect("gfx1031", "10.3.0")[0] == "note"
    assert compat.override_effect("gfx1100", "10.3.0")[0] == "problem"
    assert compat.override_effect("gfx90a", "10.3.0")[0] == "problem"  # gfx9 is not gfx10, family or not
    assert compat.override_effect("gfx908", "9.0.0")[0] == "unknown"  # in no generic family: cannot tell
    assert compat.override_effect("gfx1030", "10.3.0")[0] == "same"


def test_override_changes_the_rocm_judgment():
    # torch 2.2 ROCm lacks gfx1031 (DLWS-FW-008); HSA_OVERRIDE_GFX_VERSION=10.3.0 loads gfx1030's code objects.
    bare = mutate(lambda i: rocm_torch(i, "gfx1031", "2.2.0+rocm5.7"))
    assert fired(bare, "DLWS-FW-008")
    overridden = mutate(lambda i: (rocm_torch(i, "gfx1031", "2.2.0+rocm5.7"),
                                   i["env_vars"].update(HSA_OVERRIDE_GFX_VERSION="10.3.0")))
    assert not fired(overridden, "DLWS-FW-008")
    # in the GPU's own family: it runs, unsupported by AMD; an info line, never an error
    assert [f.severity for f in fired(overridden, "DLWS-ENV-004")] == ["info"]
    wrong = mutate(lambda i: (rocm_torch(i, "gfx1031", "2.2.0+rocm5.7"),
                              i["env_vars"].update(HSA_OVERRIDE_GFX_VERSION="11.0.0")))
    assert [(f.severity, f.evidence["loads"]) for f in fired(wrong, "DLWS-ENV-004")] == [("error", "gfx1100")]
    assert "another ISA" in fired(wrong, "DLWS-FW-008")[0].evidence["judgment"][0]
    garbled = mutate(lambda i: (rocm_torch(i, "gfx1031", "2.2.0+rocm5.7"),
                                i["env_vars"].update(HSA_OVERRIDE_GFX_VERSION="gfx1030")))
    assert fired(garbled, "DLWS-ENV-004")[0].severity == "warning"
