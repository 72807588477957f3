"""dlws fleet collection: the collection ansible-galaxy installs, ansible-doc documents, and whose modules run on a
host's bare Python (nothing installed, nothing left), from a checkout and from a regular install."""

import os
import subprocess
import sys

import pytest

from provision import __version__

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H100 = os.path.join(ROOT, "tests", "snapshots", "h100-sxm-server")
BARE = "/usr/bin/python3"  # the system's Python: no dlws, no packaging, no pynvml
OLD = "/root/.pyenv/versions/3.9.18/bin/python"

PLAYBOOK = """\
- name: Use dlws.fleet
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the host
      dlws.fleet.facts:
    - name: Check the facts
      ansible.builtin.assert:
        that: [ansible_facts.dlws.schema == 'dlws.inventory/1', ansible_facts.dlws.cpu.logical_cores >= 1]
    - name: Require what the recorded H100 server has
      dlws.fleet.doctor:
        snapshot: {h100}
        require: ["gpu.count >= 8", "driver >= 535"]
      register: met
    - name: Require more than it has
      dlws.fleet.doctor:
        snapshot: {h100}
        require: ["gpu.count >= 16"]
      register: unmet
      ignore_errors: true
    - name: Check the doctor's verdicts
      ansible.builtin.assert:
        that:
          - met is succeeded and met.failing == [] and met.report.schema == 'dlws.doctor/1'
          - unmet is failed and unmet.failing == ['DLWS-REQ-001'] and unmet.findings | length > 0
    - name: Record the host into a file on it
      dlws.fleet.snapshot:
        dest: {dest}
      register: written
    - name: Record the host for the controller
      dlws.fleet.snapshot:
      register: returned
    - name: Check the snapshots
      ansible.builtin.assert:
        that: [written is changed, returned.snapshot_b64 | length > 1000]
"""


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The collection built by `dlws fleet collection` and installed by ansible-galaxy."""
    base = tmp_path_factory.mktemp("collection")
    built = run([sys.executable, "-m", "provision", "fleet", "collection", "-o", str(base / "build")])
    assert built.returncode == 0, built.stderr
    tarball = base / "build" / ("dlws-fleet-%s.tar.gz" % __version__)
    install = run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(base / "installed"),
                   str(tarball)], env=dict(os.environ, ANSIBLE_HOME=str(base / "a")))
    assert install.returncode == 0, install.stdout + install.stderr
    return base


def env_for(base, **extra):
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(base / "installed"), ANSIBLE_HOME=str(base / "a"),
                ANSIBLE_LOCAL_TEMP=str(base / "local"), ANSIBLE_REMOTE_TMP=str(base / "remote"),
                ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING="True", **extra)


@pytest.mark.parametrize("module", ["facts", "doctor", "snapshot"])
def test_ansible_doc_documents_each_module(installed, module):
    result = run([os.path.join(BIN, "ansible-doc"), "dlws.fleet." + module], env=env_for(installed))
    assert result.returncode == 0 and "check_mode" in result.stdout and "snapshot" in result.stdout, result.stderr


@pytest.mark.skipif(not os.path.exists(BARE), reason="needs the system's %s" % BARE)
@pytest.mark.parametrize("check", [False, True], ids=["run", "check-mode"])
def test_modules_run_on_a_bare_python_and_leave_nothing(installed, tmp_path, check):
    dest = tmp_path / "box.tar.gz"
    playbook = tmp_path / "use.yml"
    playbook.write_text(PLAYBOOK.format(h100=H100, dest=dest))
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
            "-e", "ansible_python_interpreter=" + BARE] + (["--check"] if check else [])
    result = run(argv, env=env_for(installed), cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout and "ignored=1" in result.stdout
    assert dest.exists() is not check  # check mode reads the host but writes nothing
    assert not os.listdir(str(installed / "remote")) if (installed / "remote").exists() else True


@pytest.mark.skipif(not os.path.exists(OLD), reason="needs a Python 3.9 (%s)" % OLD)
def test_a_python_below_the_vendored_packages_floor_fails_saying_so(installed, tmp_path):
    from provision.fleet.collection import bundle

    floor = bundle()[1]
    argv = [os.path.join(BIN, "ansible"), "all", "-i", "localhost,", "-c", "local", "-m", "dlws.fleet.facts",
            "-e", "ansible_python_interpreter=" + OLD]
    result = run(argv, env=env_for(installed), cwd=str(tmp_path))
    if floor <= (3, 9):
        assert result.returncode == 0, result.stdout
    else:
        assert result.returncode != 0 and "needs Python %d.%d or newer on the host" % floor in result.stdout


def test_a_regular_install_builds_the_collection(tmp_path):
    """A wheel's dlws (no checkout beside it) builds the same collection."""
    target = tmp_path / "site"
    pip = run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
               str(target), ROOT])
    assert pip.returncode == 0, pip.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    built = run([sys.executable, "-m", "provision", "fleet", "collection", "-o", str(tmp_path / "out")],
                env=env, cwd=str(tmp_path))
    assert built.returncode == 0, built.stderr
    tree = tmp_path / "out" / "ansible_collections" / "dlws" / "fleet"
    assert sorted(os.listdir(str(tree / "plugins" / "modules"))) == ["doctor.py", "facts.py", "snapshot.py"]
    assert (tmp_path / "out" / ("dlws-fleet-%s.tar.gz" % __version__)).is_file()
    assert str(target) in run([sys.executable, "-c", "import provision; print(provision.__file__)"], env=env,
                              cwd=str(tmp_path)).stdout
