"""Every Python environment on the machine (issue 13): found, read from files, judged, replayed, bounded.

Each layout is built in a temporary HOME the way its tool writes it: a real `python -m venv`, conda prefixes with
conda-meta/python-X.Y.Z-BUILD.json records, a pipx home, pyenv versions. Framework metadata is dist-info folders.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from provision.doctor import diagnose
from provision.host import LiveHost, RecordingHost
from provision.inventory import collect
from provision.inventory.envread import conda_python, parse_pyvenv_cfg, cfg_version
from provision.snapshot import open_snapshot, snapshot_members, write_snapshot

TORCH_VERSION_PY = "cuda: Optional[str] = '12.1'\nhip: Optional[str] = None\n"


def touch(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def site(prefix, version="3.11"):
    return os.path.join(prefix, "lib", "python" + version, "site-packages")


def install(prefix, *dists, version="3.11"):
    for dist in dists:
        os.makedirs(os.path.join(site(prefix, version), dist + ".dist-info"), exist_ok=True)


def conda_prefix(prefix, python="3.11.5", *dists):
    touch(os.path.join(prefix, "conda-meta", "python-%s-h955ad1f_0.json" % python), "{}")
    touch(os.path.join(prefix, "bin", "python3"))
    install(prefix, *dists, version=".".join(python.split(".")[:2]))


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A HOME and a working folder of their own, nothing activated, no python3 on PATH."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_EXE", "MAMBA_ROOT_PREFIX", "PIPX_HOME",
                 "PYENV_ROOT", "PYENV_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.chdir(work)
    return home


def envs(inv):
    return {e.path: e for e in inv.environments}


def real_venv(path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    version = "%d.%d" % sys.version_info[:2]
    install(str(path), "torch-2.4.0", version=version)
    touch(os.path.join(site(str(path), version), "torch", "version.py"), TORCH_VERSION_PY)
    return str(path)


# --- the files ------------------------------------------------------------------------------------------------------


def test_versions_from_files():
    assert cfg_version(parse_pyvenv_cfg("home = /usr/bin\nversion = 3.11.4\n")) == "3.11.4"
    assert cfg_version(parse_pyvenv_cfg("version_info = 3.10.12.final.0\n")) == "3.10.12"  # virtualenv
    assert cfg_version(parse_pyvenv_cfg("garbage\nversion = x\n")) is None
    assert conda_python(["numpy-1.26.4-py311h_0.json", "python-3.11.5-h955ad1f_0.json"]) == "3.11.5"
    assert conda_python(["python_abi-3.11-4_cp311.json", "python-dateutil-2.8.2-pyhd8ed1ab_0.json"]) is None


# --- discovery ------------------------------------------------------------------------------------------------------


def test_a_real_venv_activated_is_judged(machine, monkeypatch):
    venv = real_venv(machine / "ml")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    inv = collect(LiveHost())
    env = envs(inv)[venv]
    assert env.active and env.kind == "venv" and env.python == "%d.%d.%d" % sys.version_info[:3]
    assert env.found_by == ["VIRTUAL_ENV"] and not env.dlws
    assert (inv.frameworks["torch"].version, inv.frameworks["torch"].build) == ("2.4.0", "cuda 12.1")
    assert inv.python.virtualenv == venv and inv.python.executable == os.path.join(venv, "bin", "python3")
    own = [e for e in inv.environments if e.dlws]
    assert len(own) == 1 and not own[0].active


def test_conda_pipx_pyenv_and_project_venv_are_found(machine):
    conda_prefix(str(machine / "miniconda3"), "3.12.2")
    conda_prefix(str(machine / "miniconda3" / "envs" / "tf"), "3.10.14", "tensorflow_cpu-2.16.1")
    conda_prefix(str(machine / "elsewhere" / "jax"), "3.11.9", "jax-0.4.30", "jaxlib-0.4.30")
    touch(str(machine / ".conda" / "environments.txt"), "%s\n\nnot a path\n" % (machine / "elsewhere" / "jax"))
    touch(str(machine / ".local/share/pipx/venvs/black/pyvenv.cfg"), "version = 3.11.2\n")
    install(str(machine / ".local/share/pipx/venvs/black"), "black-24.1.0")
    install(str(machine / ".pyenv/versions/3.9.18"), "torch-1.13.1+cu117", version="3.9")
    touch(os.path.join(os.getcwd(), ".venv", "pyvenv.cfg"), "version_info = 3.11.8.final.0\n")
    found = envs(collect(LiveHost()))
    expected = {
        str(machine / "miniconda3"): ("conda", "3.12.2", []),
        str(machine / "miniconda3/envs/tf"): ("conda", "3.10.14", ["tensorflow"]),
        str(machine / "elsewhere/jax"): ("conda", "3.11.9", ["jax", "jaxlib"]),
        str(machine / ".local/share/pipx/venvs/black"): ("pipx", "3.11.2", []),
        str(machine / ".pyenv/versions/3.9.18"): ("pyenv", "3.9.18", ["torch"]),
        os.path.join(os.getcwd(), ".venv"): ("venv", "3.11.8", []),
    }
    for path, (kind, python, frameworks) in expected.items():
        assert (found[path].kind, found[path].python, sorted(found[path].frameworks)) == (kind, python, frameworks)
        assert not found[path].active
    assert found[str(machine / ".pyenv/versions/3.9.18")].frameworks["torch"].cuda == "11.7"


def test_pyenv_virtualenv_and_conda_in_pyenv_envs_are_found(machine):
    """pyenv-virtualenv's VERSION/envs/NAME, linked as versions/NAME: one environment (a venv); a miniconda
    installed by pyenv lists its envs/ too."""
    versions = machine / ".pyenv" / "versions"
    inner = versions / "3.11.9" / "envs" / "proj"
    touch(str(inner / "pyvenv.cfg"), "home = %s\nversion = 3.11.9\n" % (versions / "3.11.9" / "bin"))
    install(str(inner), "torch-2.4.0")
    os.symlink(str(inner), str(versions / "proj"))
    install(str(versions / "3.11.9"), "numpy-2.0.0")
    conda_prefix(str(versions / "miniconda3-latest"), "3.12.2")
    conda_prefix(str(versions / "miniconda3-latest" / "envs" / "tf"), "3.10.14", "tensorflow_cpu-2.16.1")
    found = envs(collect(LiveHost()))
    assert (found[str(versions / "proj")].kind, sorted(found[str(versions / "proj")].frameworks)) == ("venv", ["torch"])
    assert str(inner) not in found  # the link and its target are one environment
    tf = found[str(versions / "miniconda3-latest" / "envs" / "tf")]
    assert (tf.kind, tf.python, sorted(tf.frameworks)) == ("conda", "3.10.14", ["tensorflow"])


def test_system_site_packages_are_read_after_the_venvs_own(machine, tmp_path):
    """A venv made with --system-site-packages imports the base interpreter's packages (and the user's site),
    after its own: the folders dlws reads are the ones the venv's Python puts on sys.path, in that order."""
    venv = tmp_path / "sys-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    version = "%d.%d" % sys.version_info[:2]
    user_site = machine / ".local" / "lib" / ("python" + version) / "site-packages"
    user_site.mkdir(parents=True)
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import json, sys; print(json.dumps(sys.path))"],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=str(machine)))
    real = [p for p in json.loads(out.stdout) if p.endswith(("site-packages", "dist-packages"))]
    found = envs(collect(LiveHost(), env=str(venv)))[str(venv)]
    assert found.site_packages == [p for p in real if os.path.isdir(p)] and len(found.site_packages) >= 3
    # a framework only in the base interpreter's packages is the venv's too; the venv's own copy wins
    base = tmp_path / "base"
    touch(str(base / "bin" / "python3"))
    install(str(base), "tensorflow_cpu-2.16.1", "torch-2.1.0")
    own = tmp_path / "own"
    touch(str(own / "pyvenv.cfg"), "home = %s\ninclude-system-site-packages = true\nversion = 3.11.4\n" % (base / "bin"))
    install(str(own), "torch-2.4.0")
    found = envs(collect(LiveHost(), env=str(own)))[str(own)]
    assert sorted(found.frameworks) == ["tensorflow", "torch"] and found.frameworks["torch"].version == "2.4.0"
    touch(str(own / "pyvenv.cfg"), "home = %s\ninclude-system-site-packages = false\nversion = 3.11.4\n" % (base / "bin"))
    assert sorted(envs(collect(LiveHost(), env=str(own)))[str(own)].frameworks) == ["torch"]


def test_dlws_in_its_own_pipx_venv_is_listed_once_and_flagged(tmp_path):
    from cuda_fake_root import make_root

    prefix = "/home/ana/.local/share/pipx/venvs/dlws"
    py = {"version": "3.12.3", "executable": prefix + "/bin/python", "prefix": prefix, "base_prefix": "/usr",
          "path": [prefix + "/lib/python3.12/site-packages"]}
    host = make_root(tmp_path, {prefix + "/pyvenv.cfg": "version = 3.12.3\n"},
                     listdir={"/home/ana/.local/share/pipx/venvs": ["dlws"]},
                     facts={"python": py, "env:HOME": "/home/ana"})
    inv = collect(host)
    assert [(e.path, e.kind, e.dlws, e.active, e.found_by) for e in inv.environments] == [
        (prefix, "pipx", True, True, ["dlws", "pipx"])]


def test_python3_on_path_is_asked_once_and_judged(machine, monkeypatch, tmp_path):
    """A system Python has no file that says its version: the interpreter answers, without its site's .pth."""
    bin_dir = tmp_path / "sys" / "bin"
    bin_dir.mkdir(parents=True)
    base = os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2])
    os.symlink(base, str(bin_dir / "python3"))
    monkeypatch.setenv("PATH", str(bin_dir))
    inv = collect(LiveHost())
    env = envs(inv)[str(tmp_path / "sys")]
    assert env.active and env.kind == "system" and env.found_by == ["PATH"]
    assert env.python == "%d.%d.%d" % sys.version_info[:3] and inv.python.version == env.python


def test_a_pyenv_shim_on_path_means_the_global_version(machine, monkeypatch):
    install(str(machine / ".pyenv/versions/3.12.1"), "jax-0.4.30", version="3.12")
    touch(str(machine / ".pyenv/version"), "3.12.1\n")
    touch(str(machine / ".pyenv/shims/python3"), "#!/bin/sh\n")
    os.chmod(str(machine / ".pyenv/shims/python3"), 0o755)
    monkeypatch.setenv("PATH", str(machine / ".pyenv/shims"))
    inv = collect(LiveHost())
    assert envs(inv)[str(machine / ".pyenv/versions/3.12.1")].active and "jax" in inv.frameworks


# --- --env -----------------------------------------------------------------------------------------------------------


def dlws(*args, env=None):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=env)


def test_env_option_judges_the_named_environment(machine, monkeypatch):
    venv = real_venv(machine / "ml")
    other = real_venv(machine / "other")
    monkeypatch.setenv("VIRTUAL_ENV", other)
    for named in (venv, os.path.join(venv, "bin", "python")):
        result = dlws("inventory", "--json", "--env", named, env=dict(os.environ))
        inv = json.loads(result.stdout)
        active = [e["path"] for e in inv["environments"] if e["active"]]
        assert active == [venv] and inv["python"]["virtualenv"] == venv and "torch" in inv["frameworks"]
    result = dlws("doctor", "--env", str(machine / "nothing-here"), env=dict(os.environ))
    assert result.returncode == 2 and "--env" in result.stderr
    assert "--env PATH" in dlws("doctor", "--help").stdout



def judged(inv):
    return [e["path"] for e in inv["environments"] if e["active"]]


def test_a_snapshot_remembers_its_env(machine, monkeypatch, tmp_path):
    """snapshot --env X replays with X judged (also once redacted); an --env given on the replay still wins; a
    snapshot without one judges by the default rule."""
    venv = real_venv(machine / "ml")
    other = real_venv(machine / "other")
    monkeypatch.setenv("VIRTUAL_ENV", other)
    box = str(tmp_path / "box") + "/"
    assert dlws("snapshot", "--env", venv, "-o", box, env=dict(os.environ)).returncode == 0
    with open(os.path.join(box, "MANIFEST.json")) as handle:
        assert json.load(handle)["env"] == venv
    replay = json.loads(dlws("inventory", "--json", "--snapshot", box).stdout)
    assert judged(replay) == [venv] and replay["python"]["virtualenv"] == venv
    assert judged(json.loads(dlws("inventory", "--json", "--snapshot", box, "--env", other).stdout)) == [other]
    redacted = str(tmp_path / "redacted") + "/"
    assert dlws("snapshot", "--snapshot", box, "--redact", "-o", redacted).returncode == 0
    with open(os.path.join(redacted, "inventory.json")) as handle:
        recomputed = json.load(handle)
    again = json.loads(dlws("inventory", "--json", "--snapshot", redacted).stdout)
    assert judged(recomputed) == judged(again) and len(judged(again)) == 1  # "ml" reads as a user's name: redacted
    plain = str(tmp_path / "plain") + "/"
    assert dlws("snapshot", "-o", plain, env=dict(os.environ)).returncode == 0
    with open(os.path.join(plain, "MANIFEST.json")) as handle:
        assert "env" not in json.load(handle)
    assert judged(json.loads(dlws("inventory", "--json", "--snapshot", plain).stdout)) == [other]


def test_a_malformed_recorded_env_is_a_snapshot_error(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    (box / "MANIFEST.json").write_text(json.dumps({"format": "dlws-snapshot/1", "env": {"$ne": 1}}))
    result = dlws("inventory", "--snapshot", str(box))
    assert result.returncode == 2 and "MANIFEST.json env" in result.stderr and "Traceback" not in result.stderr

# --- doctor ----------------------------------------------------------------------------------------------------------


def no_avx_inventory(tensorflow_in):
    """A CPU without AVX, and environments of which some hold TensorFlow (DLWS-FW-005)."""
    tf = {"version": "2.16.1", "build": "cpu", "package": "tensorflow"}
    environments = [{"path": path, "kind": "venv", "python": "3.11.4", "active": i == 0,
                     "frameworks": {"tensorflow": tf} if path in tensorflow_in else {}}
                    for i, path in enumerate(("/srv/judged", "/srv/other"))]
    judged = environments[0]["frameworks"]
    return {"cpu": {"arch": "x86_64", "flags": ["sse2"], "model": "Core 2"}, "python": {"version": "3.11.4"},
            "frameworks": judged, "environments": environments}


def fw005(report):
    return [(f.subject, f.evidence.get("environment")) for f in report.findings if f.id == "DLWS-FW-005"]


def test_framework_findings_name_their_environment():
    assert fw005(diagnose(no_avx_inventory({"/srv/other"}))) == [("/srv/other", "/srv/other")]
    assert sorted(fw005(diagnose(no_avx_inventory({"/srv/judged", "/srv/other"})))) == [
        ("/srv/judged", "/srv/judged"), ("/srv/other", "/srv/other")]
    assert fw005(diagnose(no_avx_inventory(set()))) == []


def test_doctor_summary_lists_the_environments(machine, monkeypatch):
    from provision.doctor.report import to_text

    venv = real_venv(machine / "ml")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    text = to_text(diagnose(collect(LiveHost()).to_dict()), colour=False)
    assert "Environments" in text and venv + " (venv, Python" in text and "judged" in text


# --- snapshots -------------------------------------------------------------------------------------------------------


def test_a_snapshot_replays_the_same_environments(machine, monkeypatch, tmp_path):
    conda_prefix(str(machine / "miniforge3" / "envs" / "tf"), "3.10.14", "tensorflow_cpu-2.16.1")
    venv = real_venv(machine / "ml")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    recording = RecordingHost(LiveHost())
    inv = collect(recording).to_dict()
    out = str(tmp_path / "snap") + "/"
    write_snapshot(snapshot_members(recording, inv), out)
    replay = collect(open_snapshot(out)).to_dict()
    assert replay["environments"] == inv["environments"] and len(inv["environments"]) >= 3
    assert replay["frameworks"] == inv["frameworks"] and "torch" in replay["frameworks"]


# --- hostile machines -----------------------------------------------------------------------------------------------


def test_links_loops_fifos_and_junk_are_no_crash(machine):
    envs_dir = machine / "miniconda3" / "envs"
    conda_prefix(str(machine / "miniconda3"), "3.12.2")
    envs_dir.mkdir()
    os.symlink(str(envs_dir / "loop"), str(envs_dir / "loop"))  # a link to itself
    os.symlink(str(machine / "miniconda3"), str(envs_dir / "base-again"))  # the root under a second name
    fifo_env = envs_dir / "fifo"
    (fifo_env / "bin").mkdir(parents=True)
    os.mkfifo(str(fifo_env / "pyvenv.cfg"))
    os.mkfifo(str(fifo_env / "bin" / "python3"))
    os.mkfifo(str(machine / ".conda-environments"))
    (machine / ".conda").mkdir()
    os.symlink(str(machine / ".conda-environments"), str(machine / ".conda" / "environments.txt"))
    start = time.monotonic()
    inv = collect(LiveHost(timeout=1))
    assert time.monotonic() - start < 10
    found = envs(inv)
    assert str(envs_dir / "loop") not in found and str(envs_dir / "base-again") not in found
    assert found[str(machine / "miniconda3")].found_by.count("conda") >= 1
    assert found[str(fifo_env)].python is None and found[str(fifo_env)].frameworks == {}


def test_thousands_of_environments_are_capped(machine):
    versions = machine / ".pyenv" / "versions"
    for i in range(2000):
        (versions / ("3.11.%d" % i)).mkdir(parents=True)
    start = time.monotonic()
    inv = collect(LiveHost())
    assert len(inv.environments) <= 64 + 2 and time.monotonic() - start < 10
    assert any("Python environments found; the first 64 read" in e.message for e in inv.errors)


class HangingHost(LiveHost):
    """A home on a dead NFS server: listing one folder never returns (here: for a minute)."""

    def __init__(self, hung, **kwargs):
        super().__init__(**kwargs)
        self.hung = hung

    def listdir(self, path):
        if path.startswith(self.hung):
            time.sleep(60)
        return super().listdir(path)


def test_an_environment_that_hangs_is_given_up_at_its_deadline(machine):
    conda_prefix(str(machine / "miniconda3"), "3.12.2", "torch-2.4.0")
    conda_prefix(str(machine / "miniconda3" / "envs" / "nfs"), "3.11.5")
    start = time.monotonic()
    inv = collect(HangingHost(str(machine / "miniconda3" / "envs" / "nfs"), timeout=0.5))
    assert time.monotonic() - start < 6
    found = envs(inv)
    assert "no answer within" in found[str(machine / "miniconda3" / "envs" / "nfs")].error
    assert "torch" in found[str(machine / "miniconda3")].frameworks


def test_a_hung_home_does_not_hang_discovery(machine):
    start = time.monotonic()
    inv = collect(HangingHost(str(machine), timeout=0.5))
    assert time.monotonic() - start < 8
    assert any("finding Python environments: no answer" in e.message for e in inv.errors)
    assert any(e.dlws for e in inv.environments)  # found before the home was reached


def test_deep_runs_in_the_judged_environments_interpreter(machine, monkeypatch):
    from provision.inventory.deep import deep_runs

    venv = real_venv(machine / "ml")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    runs = deep_runs(collect(LiveHost()).to_dict())
    assert list(runs) == ["torch"] and runs["torch"][0] == os.path.join(venv, "bin", "python3")
