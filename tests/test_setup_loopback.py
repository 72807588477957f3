"""A CUDA plan run for real against a PEP 503 index on 127.0.0.1, reached through --mirror.

The index serves wheels this test builds: torch, torchvision and torchaudio with the plan's versions and its index's
local label (+cu126, +cu128, ... as PyPI's torch would never carry), a tiny torch whose CUDA sees no GPU. The plan is
the one made for the recorded 8x H100 server; its bash script, its playbook (ansible-playbook -c local) and dlws's run
mode each install from the index (the pip step verifies), then stop at the last step, which names what torch saw;
a second run installs nothing again.
"""

import base64
import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import zipfile

import pytest

from provision.inventory import collect
from provision.planner import plan as make_plan
from provision.planner import mirrors
from provision.setup_command import make_request, render
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
BIN = os.path.dirname(sys.executable)
PYTHON = "%d.%d" % sys.version_info[:2]  # the plan's venv is made with this machine's python3.X

FAKE_TORCH = '''
__version__ = "{version}"


class _Cuda:
    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0


class version:
    cuda = "{cuda}"
    hip = None


class backends:
    mps = None


cuda = _Cuda()
'''


def wheel(folder, name, version, files):
    """A minimal, valid py3-none-any wheel of name==version holding files (path -> text)."""
    dist = "%s-%s" % (name, version)
    info = "%s.dist-info" % dist
    contents = dict(files)
    contents[info + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    contents[info + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: dlws-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in sorted(contents.items()):
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
    contents[info + "/RECORD"] = "\n".join(record + ["%s/RECORD,," % info]) + "\n"
    path = os.path.join(folder, "%s-py3-none-any.whl" % dist)
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in sorted(contents.items()):
            archive.writestr(member, text)
    return os.path.basename(path)


def index(root, choice):
    """PyTorch's per-variant index, as /whl/<variant>/<package>/ pages listing the wheels (PEP 503)."""
    base = os.path.join(root, "whl", choice.variant)
    for name, version in choice.packages.items():
        folder = os.path.join(base, name)
        os.makedirs(folder)
        local = "%s+%s" % (version, choice.local)
        files = {"torch/__init__.py": FAKE_TORCH.format(version=local, cuda=choice.cuda)} if name == "torch" \
            else {"%s/__init__.py" % name: "__version__ = %r\n" % local}
        filename = wheel(folder, name, local, files)
        with open(os.path.join(folder, "index.html"), "w") as page:
            page.write('<!DOCTYPE html><html><body><a href="%s">%s</a></body></html>\n'
                       % (filename.replace("+", "%2B"), filename))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, "http://127.0.0.1:%d" % httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def cuda_plan(env, url):
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "h100-sxm-server"))).to_dict()
    mirror = ("https://download.pytorch.org=%s" % url,)
    result = make_plan(inv, make_request(("pytorch",), None, "auto", PYTHON, env, "keep", False, mirror))
    assert result.ok, result.impossible
    assert result.choices[0].variant.startswith("cu") and result.choices[0].index_url.startswith(url)
    return result


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL, **kwargs)


#: What the last step says when torch sees none of the recorded server's 8 H100s (compute capability 9.0).
SEEN = "sees 0 GPU(s); the plan was made for 8 (9.0)"


def installed(env):
    code = "import importlib.metadata as m; print(m.version('torch'))"
    return run([os.path.join(env, "bin", "python"), "-c", code]).stdout.strip()


def test_the_bash_script_installs_from_the_mirror_verifies_and_stops_at_the_gpu(server, tmp_path):
    root, url = server
    env = str(tmp_path / "env")
    result = cuda_plan(env, url)
    index(str(root), result.choices[0])
    script = tmp_path / "setup.sh"
    script.write_text(render(result, "shell"))
    first = run(["bash", str(script)])
    assert first.returncode == 1, first.stdout[-3000:] + first.stderr[-3000:]
    assert "did not verify" not in first.stderr  # the pip step's check accepts what the index installed
    assert SEEN in first.stderr
    assert installed(env) == "%s+%s" % (result.choices[0].packages["torch"], result.choices[0].local)
    again = run(["bash", str(script)])
    assert again.returncode == 1 and SEEN in again.stderr
    assert again.stdout.count("already done") >= 3  # python, the environment and the pip step: nothing reinstalled


def test_the_playbook_installs_from_the_mirror_and_is_idempotent_up_to_the_gpu(server, tmp_path):
    root, url = server
    env = str(tmp_path / "env")
    result = cuda_plan(env, url)
    index(str(root), result.choices[0])
    playbook = tmp_path / "setup.yml"
    playbook.write_text(render(result, "ansible"))
    ansible = os.path.join(BIN, "ansible-playbook")
    ansible = ansible if os.path.exists(ansible) else shutil.which("ansible-playbook")
    environ = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                   ANSIBLE_HOME=str(tmp_path / "ansible"))
    command = [ansible, "-i", "localhost,", "-c", "local", str(playbook),
               "-e", "ansible_python_interpreter=" + sys.executable]
    check = run(command + ["--check"], env=environ)
    assert check.returncode == 0, check.stdout[-3000:]
    assert not os.path.exists(env)  # --check changes nothing
    first = run(command, env=environ)
    assert first.returncode != 0 and SEEN in first.stdout, first.stdout[-4000:]
    assert "install-pytorch | verify" in first.stdout and installed(env).endswith("+" + result.choices[0].local)
    again = run(command, env=environ)
    assert again.returncode != 0 and SEEN in again.stdout
    assert "changed=0" in again.stdout  # the environment and the wheels were there: nothing ran again


def test_run_mode_installs_from_the_mirror_and_stops_at_the_gpu(server, tmp_path, capsys):
    from provision.setup_command import _run

    root, url = server
    env = str(tmp_path / "env")
    result = cuda_plan(env, url)
    index(str(root), result.choices[0])
    assert _run(result, True, str(tmp_path / "setup.log")) == 1
    log = (tmp_path / "setup.log").read_text()
    assert SEEN in log and "did not verify" not in log
    assert installed(env).endswith("+" + result.choices[0].local)


@pytest.mark.parametrize("text", ["https://a=http://b c", "https://a=http://b'c", "https://a=http://$HOME",
                                  "https://a=http://{{x}}", "https://a", "=http://b", "ftp:/a=http://b"])
def test_a_mirror_that_is_not_two_plain_urls_is_a_usage_error(text):
    from provision.errors import UsageError

    with pytest.raises(UsageError, match="FROM=TO"):
        mirrors.parse(text)


def test_mirrors_redirect_the_longest_prefix_once():
    table = [("https://download.pytorch.org", "http://127.0.0.1:1/pt"),
             ("https://download.pytorch.org/whl/cu126", "http://127.0.0.1:1/cu126"),
             ("http://127.0.0.1:1", "http://never")]
    assert mirrors.redirect("https://download.pytorch.org/whl/cu126 https://download.pytorch.org/whl/cpu", table) \
        == "http://127.0.0.1:1/cu126 http://127.0.0.1:1/pt/whl/cpu"


def test_a_pypi_mirror_gives_pypi_steps_its_index_and_the_config_file_is_read(tmp_path, monkeypatch):
    (tmp_path / "mirrors").write_text("# a site's proxy\nhttps://pypi.org/simple=http://127.0.0.1:1/pypi\n\n")
    monkeypatch.setenv("DLWS_CONFIG_DIR", str(tmp_path))
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "h100-sxm-server"))).to_dict()
    request = make_request(("jax",), None, "cpu", PYTHON, "/opt/env", "keep", False)
    assert request.mirrors == (("https://pypi.org/simple", "http://127.0.0.1:1/pypi"),)
    result = make_plan(inv, request)
    pip = next(a for s in result.steps for a in s.actions if type(a).__name__ == "Pip")
    assert pip.index_url == "http://127.0.0.1:1/pypi" and result.choices[0].index_url == "http://127.0.0.1:1/pypi"
    overridden = make_request(("jax",), None, "cpu", PYTHON, "/opt/env", "keep", False,
                              ("https://pypi.org/simple=http://127.0.0.1:2/other",))
    assert overridden.mirrors == (("https://pypi.org/simple", "http://127.0.0.1:2/other"),)  # --mirror wins
    (tmp_path / "mirrors").write_text("https://pypi.org/simple http://127.0.0.1:1/pypi\n")
    from provision.errors import UsageError
    with pytest.raises(UsageError, match="line 1"):
        make_request(("jax",), None, "cpu", PYTHON, "/opt/env", "keep", False)
