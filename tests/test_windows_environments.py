"""Python environments of a native Windows machine (issue 16), replayed from snapshots that store its files under
files/C:/...: a venv keeps Scripts\\python.exe and Lib\\site-packages, a conda env python.exe at its root and
Lib\\site-packages, conda's envs live under %USERPROFILE% (and its AppData\\Local) and are listed in
%USERPROFILE%\\.conda\\environments.txt. Names compare without case, as Windows compares them."""

import json
import os
import subprocess
import sys

from provision.doctor import diagnose
from provision.inventory import collect
from provision.inventory.environments import named_prefix, prefix_of
from provision.snapshot import open_snapshot

HOME = "C:\\Users\\u"
NVIDIA_SMI = ("<?xml version=\"1.0\" ?>\n<nvidia_smi_log>\n<driver_version>551.86</driver_version>\n"
              "<attached_gpus>1</attached_gpus>\n<gpu id=\"00000000:01:00.0\">\n"
              "<product_name>NVIDIA GeForce RTX 4080 Laptop GPU</product_name>\n<pci><pci_bus_id>00000000:01:00.0"
              "</pci_bus_id></pci>\n</gpu>\n</nvidia_smi_log>\n")


def windows_snapshot(tmp_path, files, env=None, listdir=None, manifest_env=None):
    """A snapshot of a Windows machine: files maps a Windows path to its text (a path ending in '\\' is a folder)."""
    root = tmp_path / "snap"
    for path, text in files.items():
        local = os.path.join(str(root), "files", path.replace("\\", "/"))
        if path.endswith("\\"):
            os.makedirs(local, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(local), exist_ok=True)
        with open(local, "w") as handle:
            handle.write(text)
    facts = {"platform": {"system": "windows", "machine": "AMD64", "release": "10"}, "env:USERPROFILE": HOME}
    facts.update({"env:" + name: value for name, value in (env or {}).items()})
    manifest = {"format": "dlws-snapshot/1"}
    if manifest_env:
        manifest["env"] = manifest_env
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    (root / "host.json").write_text(json.dumps({"facts": facts, "listdir": listdir or {}}))
    (root / "commands.json").write_text(json.dumps({"nvidia-smi -q -x": {"stdout": NVIDIA_SMI, "returncode": 0}}))
    return str(root)


def conda_env(prefix, torch=None, python="3.10.13", site="Lib\\site-packages"):
    files = {prefix + "\\conda-meta\\python-%s-he1021f5_0.json" % python: "{}", prefix + "\\python.exe": ""}
    files[prefix + "\\" + site + "\\"] = ""
    if torch:
        version, cuda = torch
        files[prefix + "\\" + site + "\\torch-%s.dist-info\\METADATA" % version] = "Name: torch\n"
        files[prefix + "\\" + site + "\\torch\\version.py"] = "cuda: Optional[str] = %r\n" % cuda
    return files


def venv(prefix, torch=None, scripts="Scripts", lib="Lib", cfg="home = C:\\Python311\nversion = 3.11.4\n"):
    files = {prefix + "\\pyvenv.cfg": cfg, prefix + "\\" + scripts + "\\python.exe": "",
             prefix + "\\" + lib + "\\site-packages\\": ""}
    if torch:
        files[prefix + "\\" + lib + "\\site-packages\\torch-%s.dist-info\\METADATA" % torch] = "Name: torch\n"
    return files


def inventory(folder):
    return collect(open_snapshot(folder)).to_dict()


def by_path(inv):
    return {env["path"]: env for env in inv["environments"]}


def test_an_activated_conda_env_in_miniconda3_envs_is_read_and_judged(tmp_path):
    prefix = HOME + "\\miniconda3\\envs\\ml"
    files = conda_env(prefix, torch=("2.2.2+cu121", None))
    files[HOME + "\\miniconda3\\conda-meta\\python-3.11.5-h955ad1f_0.json"] = "{}"
    files[HOME + "\\miniconda3\\python.exe"] = ""
    inv = inventory(windows_snapshot(tmp_path, files, env={"CONDA_PREFIX": prefix}))
    envs = by_path(inv)
    assert set(envs) == {prefix, HOME + "\\miniconda3"}  # the envs\ folder and the root, both found
    ml = envs[prefix]
    assert ml["kind"] == "conda" and ml["python"] == "3.10.13" and ml["active"]
    assert ml["executable"] == prefix + "\\python.exe" and not ml.get("error")
    assert ml["site_packages"] == [prefix + "\\Lib\\site-packages"]
    assert inv["frameworks"]["torch"]["build"] == "cuda 12.1"
    assert inv["python"]["conda_env"] == "ml"
    assert not any("bin/" in (e.get("error") or "") for e in inv["environments"])


def test_a_venv_with_scripts_and_lib_in_any_case_is_read(tmp_path):
    prefix = HOME + "\\proj\\.venv"
    files = venv(prefix, torch="2.3.1+cu118", scripts="scripts", lib="lib")
    inv = inventory(windows_snapshot(tmp_path, files, env={"VIRTUAL_ENV": prefix}))
    env = by_path(inv)[prefix]
    assert env["kind"] == "venv" and env["python"] == "3.11.4" and env["active"]
    assert env["executable"] == prefix + "\\scripts\\python.exe"
    assert env["site_packages"] == [prefix + "\\lib\\site-packages"]
    assert inv["frameworks"]["torch"]["build"] == "cuda 11.8"


def test_a_venv_with_system_site_packages_reads_the_base_pythons_lib(tmp_path):
    prefix = HOME + "\\v"
    files = venv(prefix, cfg="home = C:\\Python311\ninclude-system-site-packages = true\nversion = 3.11.4\n")
    files["C:\\Python311\\Lib\\site-packages\\torch-2.1.0+cpu.dist-info\\METADATA"] = "Name: torch\n"
    files["C:\\Python311\\python.exe"] = ""
    inv = inventory(windows_snapshot(tmp_path, files, env={"VIRTUAL_ENV": prefix}))
    env = by_path(inv)[prefix]
    assert env["site_packages"] == [prefix + "\\Lib\\site-packages", "C:\\Python311\\Lib\\site-packages"]
    assert inv["frameworks"]["torch"]["build"] == "cpu"


def test_environments_txt_and_appdata_local_anaconda3_are_found(tmp_path):
    listed = "D:\\envs\\tf"
    local = HOME + "\\AppData\\Local\\anaconda3"
    files = conda_env(listed)
    files.update(conda_env(local + "\\envs\\edm", python="3.9.18"))
    files[HOME + "\\.conda\\environments.txt"] = listed + "\r\n"
    inv = inventory(windows_snapshot(tmp_path, files))
    envs = by_path(inv)
    assert envs[listed]["kind"] == "conda" and envs[listed]["found_by"] == ["conda"]
    assert envs[local + "\\envs\\edm"]["python"] == "3.9.18"


def test_a_tensorflow_build_info_of_windows_is_read_in_lib_site_packages(tmp_path):
    prefix = HOME + "\\anaconda3\\envs\\tf"
    files = conda_env(prefix, python="3.9.13")
    site = prefix + "\\Lib\\site-packages"
    files[site + "\\tensorflow-2.10.0.dist-info\\METADATA"] = "Name: tensorflow\n"
    files[site + "\\tensorflow\\python\\platform\\build_info.py"] = (
        "build_info = {'cuda_version': '64_112', 'cudnn_version': '64_8', 'is_cuda_build': True}\n")
    inv = inventory(windows_snapshot(tmp_path, files, env={"CONDA_PREFIX": prefix}))
    assert inv["frameworks"]["tensorflow"]["build"] == "cuda 11.2"


def test_env_option_names_a_windows_env_and_an_interpreter(tmp_path):
    prefix = HOME + "\\miniconda3\\envs\\ml"
    files = conda_env(prefix, torch=("2.2.2", None))
    files.update(venv(HOME + "\\v"))
    host = open_snapshot(windows_snapshot(tmp_path, files))
    assert named_prefix(host, prefix) == prefix
    assert named_prefix(host, prefix + "\\python.exe") == prefix
    assert named_prefix(host, HOME + "\\v\\Scripts\\python.exe") == HOME + "\\v"
    assert named_prefix(host, HOME + "\\v") == HOME + "\\v"
    assert named_prefix(host, HOME + "\\nothing") is None
    assert prefix_of("C:\\u\\v\\SCRIPTS\\python.exe") == "C:\\u\\v"
    inv = collect(host, env=prefix).to_dict()
    assert by_path(inv)[prefix]["active"] and inv["frameworks"]["torch"]["build"] == "cpu"


def dlws(*args):
    return subprocess.run([sys.executable, "-m", "provision", *args], capture_output=True, text=True, timeout=60)


def test_doctor_judges_the_env_named_and_fires_or_stays_quiet(tmp_path):
    for name, torch, fires in (("cpu", "2.2.2", True), ("gpu", "2.2.2+cu121", False)):
        env = HOME + "\\miniconda3\\envs\\" + name
        folder = windows_snapshot(tmp_path / name, conda_env(env, torch=(torch, None)))
        run = dlws("doctor", "--snapshot", folder, "--env", env, "--format", "json")
        assert run.returncode in (0, 1), run.stderr
        found = [f for f in json.loads(run.stdout)["findings"] if f["id"] == "DLWS-FW-002"]
        assert bool(found) is fires
        if fires:
            assert found[0]["evidence"]["environment"] == env


def test_hostile_folder_names_stay_data(tmp_path):
    envs = HOME + "\\miniconda3\\envs"
    quoted = envs + "\\it's \"$(touch x)\" `y`"
    long_name = envs + "\\" + "n" * 240
    files = conda_env(quoted, torch=("2.2.2", None))
    files.update(conda_env(long_name))
    files[HOME + "\\miniconda3\\conda-meta\\python-3.11.5-h955ad1f_0.json"] = "{}"
    files[HOME + "\\miniconda3\\python.exe"] = ""
    files["C:\\Users\\x\\conda-meta\\python-3.8.0-h_0.json"] = "{}"  # where ..\..\x would lead
    listing = {envs: ["..\\..\\x", "C:x", "a/b", "it's \"$(touch x)\" `y`", "n" * 240]}
    too_long = "C:\\" + "d\\" * 3000
    folder = windows_snapshot(tmp_path, files, listdir=listing,
                              env={"CONDA_PREFIX": quoted, "VIRTUAL_ENV": too_long})
    inv = inventory(folder)
    paths = set(by_path(inv))
    assert paths == {quoted, long_name, HOME + "\\miniconda3"}
    assert by_path(inv)[quoted]["active"] and by_path(inv)[quoted]["frameworks"]["torch"]["build"] == "cpu"
    assert not os.path.exists(os.path.join(folder, "x")) and not os.path.exists("x")
    report = diagnose(inv)
    assert any(f.id == "DLWS-FW-002" and f.evidence.get("environment") == quoted for f in report.findings)


def test_a_windows_env_without_python_says_where_it_looked(tmp_path):
    prefix = HOME + "\\broken"
    files = {prefix + "\\conda-meta\\history": "", prefix + "\\Lib\\site-packages\\": ""}
    inv = inventory(windows_snapshot(tmp_path, files, env={"CONDA_PREFIX": prefix}))
    env = by_path(inv)[prefix]
    assert env["error"] == "no python.exe in Scripts\\ nor in the folder"
