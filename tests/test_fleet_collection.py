"""dlws fleet collection: the collection ansible-galaxy installs, ansible-doc documents, and whose modules run on a
host's bare Python (nothing installed, nothing left), from a checkout and from a regular install."""

import ast
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from provision import __version__

BIN = os.path.dirname(sys.executable)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H100 = os.path.join(ROOT, "tests", "snapshots", "h100-sxm-server")
BARE = "/usr/bin/python3"  # the system's Python: no dlws, no packaging, no pynvml
OLD = "/root/.pyenv/versions/3.9.18/bin/python"
#: https://pypi.org/pypi/packaging/25.0/json: packaging-25.0-py3-none-any.whl, Requires-Python >=3.8
PACKAGING_25_SHA256 = "29572ef2b1f17581046b3a2227d5c611fb25ec70ca1ba8554b24b0e69331a484"

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


def test_the_collection_runs_on_python_3_9():
    """The host floor is dlws's own (3.9): packaging is carried from the 25.0 wheel (26.4 needs 3.10), as PyPI
    serves it."""
    from provision.fleet.collection import VENDOR_DIR, VENDOR_WHEELS, bundle

    files, floor, versions = bundle()
    assert floor == (3, 9) and versions["packaging"] == "25.0"
    with open(os.path.join(VENDOR_DIR, VENDOR_WHEELS["packaging"]), "rb") as handle:  # PyPI's sha256 of the file
        assert hashlib.sha256(handle.read()).hexdigest() == PACKAGING_25_SHA256
    assert "packaging/version.py" in files and "packaging/specifiers.py" in files


def carried_sources():
    """path -> text of every Python file the collection carries: its modules and module_utils, the bundle."""
    from provision.fleet.collection import SOURCE, bundle

    sources = dict(bundle()[0])
    for folder, _, names in os.walk(SOURCE):
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    sources[os.path.relpath(os.path.join(folder, name), SOURCE)] = handle.read()
    return sources


def test_every_carried_file_parses_as_python_3_9():
    sources = carried_sources()
    assert any(path.startswith("plugins/module_utils/") for path in sources) and "provision/compat.py" in sources
    failing = []
    for path, text in sorted(sources.items()):
        try:
            ast.parse(text, path, feature_version=(3, 9))
        except SyntaxError as exc:
            failing.append("%s: %s" % (path, exc))
    assert failing == []
    with pytest.raises(SyntaxError):  # the check can fail: 3.10's match statement
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 9))


@pytest.mark.skipif(not os.path.exists(OLD), reason="needs a Python 3.9 (%s)" % OLD)
def test_every_carried_module_compiles_and_imports_on_python_3_9(tmp_path):
    """Python 3.9 itself compiles every file and imports every module of the bundle (an `int | None` evaluated at
    import, a 3.10 stdlib name); only what the modules never import may be missing (click: the CLI, tomli:
    --require-file)."""
    for path, text in carried_sources().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    script = ("import compileall, importlib, pkgutil, sys\n"
              "assert compileall.compile_dir('.', quiet=1)\n"
              "import provision, packaging\n"
              "for info in pkgutil.walk_packages(provision.__path__, 'provision.'):\n"
              "    try:\n"
              "        importlib.import_module(info.name)\n"
              "    except ModuleNotFoundError as exc:\n"
              "        print('missing', exc.name)\n"
              "print('packaging', packaging.__version__)\n")
    result = run([OLD, "-c", script], cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "packaging 25.0" in result.stdout
    assert {line.split()[1] for line in result.stdout.splitlines() if line.startswith("missing")} <= {"click", "tomli"}


@pytest.mark.skipif(not os.path.exists(OLD), reason="needs a Python 3.9 (%s)" % OLD)
def test_modules_run_on_python_3_9(installed, tmp_path):
    dest = tmp_path / "box.tar.gz"
    playbook = tmp_path / "use.yml"
    playbook.write_text(PLAYBOOK.format(h100=H100, dest=dest))
    argv = [os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
            "-e", "ansible_python_interpreter=" + OLD]
    result = run(argv, env=env_for(installed), cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "failed=0" in result.stdout and "ignored=1" in result.stdout and dest.exists()


@pytest.mark.skipif(not os.path.exists(OLD), reason="needs a Python 3.9 (%s)" % OLD)
def test_a_python_below_the_collections_floor_fails_saying_so(installed, tmp_path):
    """A collection whose vendored packages need a newer Python than the host's fails each host saying so."""
    copy = tmp_path / "installed"
    shutil.copytree(str(installed / "installed"), str(copy))
    generated = copy / "ansible_collections" / "dlws" / "fleet" / "plugins" / "module_utils" / "dlws_bundle.py"
    text = generated.read_text()
    assert "REQUIRES_PYTHON = (3, 9)" in text
    generated.write_text(text.replace("REQUIRES_PYTHON = (3, 9)", "REQUIRES_PYTHON = (3, 10)"))
    argv = [os.path.join(BIN, "ansible"), "all", "-i", "localhost,", "-c", "local", "-m", "dlws.fleet.facts",
            "-e", "ansible_python_interpreter=" + OLD]
    result = run(argv, env=dict(env_for(installed), ANSIBLE_COLLECTIONS_PATH=str(copy)), cwd=str(tmp_path))
    assert result.returncode != 0 and "needs Python 3.10 or newer on the host" in result.stdout, result.stdout


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
    assert "packaging 25.0" in (tree / "galaxy.yml").read_text()  # the vendored wheel is package data
    assert str(target) in run([sys.executable, "-c", "import provision; print(provision.__file__)"], env=env,
                              cwd=str(tmp_path)).stdout
