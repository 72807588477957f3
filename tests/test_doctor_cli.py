"""dlws doctor end to end: formats, exit codes, --fail-on, --require-file, --explain."""

import json
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest


def dlws(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "provision"] + list(args), capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def test_json_report_has_inventory_and_findings():
    result = dlws("doctor", "--format", "json", "--require", "gpu.count >= 64")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["inventory"]["schema"] == "dlws.inventory/1"
    finding = [f for f in report["findings"] if f["id"] == "DLWS-REQ-001"][0]
    assert set(finding) >= {"id", "severity", "title", "evidence", "fix"}
    assert finding["evidence"]["requirement"] == "gpu.count >= 64"
    assert report["summary"]["failed"] is True


def test_met_requirement_exits_zero():
    result = dlws("doctor", "--format", "json", "--require", "cpu.threads >= 1", "--require", "ram >= 1MB")
    report = json.loads(result.stdout)
    assert result.returncode == (1 if report["summary"]["error"] else 0)
    assert not [f for f in report["findings"] if f["id"] == "DLWS-REQ-001"]


def test_junit_has_one_case_per_check_and_counts_failures(tmp_path):
    out = tmp_path / "doctor.xml"
    result = dlws("doctor", "--format", "junit", "-o", str(out), "--require", "gpu.count >= 64",
                  "--require", "cpu.threads >= 1", "--target", "mxnet")
    assert result.returncode == 1
    suites = ET.parse(str(out)).getroot()
    suite = suites.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) >= 27
    failed = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failed) >= 1
    assert "require: gpu.count >= 64" in [c.get("name") for c in failed]
    assert "require: cpu.threads >= 1" not in [c.get("name") for c in failed]
    assert "target: mxnet" in [c.get("name") for c in failed]  # MXNet is retired: an error everywhere


def test_require_file_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.dlws]\nrequire = ["gpu.count >= 64"]\n')
    result = dlws("doctor", "--format", "json", "--require-file", str(tmp_path / "pyproject.toml"))
    assert result.returncode == 1
    assert any(f["id"] == "DLWS-REQ-001" for f in json.loads(result.stdout)["findings"])


@pytest.mark.parametrize("name,content,words", [
    ("req.toml", "require = [", "not valid TOML"),
    ("req.toml", "require = [1, 2]", "list of strings"),
    ("req.toml", 'require = ["gpu.count >= lots"]', "column 14"),
    # A typo'd key once passed with zero requirements: the gate a CI file meant to set was silently open.
    ("pyproject.toml", 'requires = ["gpu.count >= 64"]',
     "unknown key 'requires' at the top level (the key is 'require')"),
    ("pyproject.toml", '[project]\nname = "x"\n[tool.dlws]\nrequre = ["gpu.count >= 64"]',
     "unknown key 'requre' in [tool.dlws] (the key is 'require')"),
    ("pyproject.toml", '[project]\nname = "x"\n[tool.ruff]\nline-length = 120', "has no requirements"),
    ("pyproject.toml", "", "has no requirements"),
])
def test_bad_require_file_is_a_usage_error(tmp_path, name, content, words):
    path = tmp_path / name
    path.write_text(content)
    result = dlws("doctor", "--require-file", str(path))
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_explicit_empty_require_list_is_fine(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n[tool.dlws]\nrequire = []\n')
    result = dlws("doctor", "--format", "json", "--require-file", str(path))
    assert result.returncode in (0, 1) and json.loads(result.stdout)["summary"]["checks"] > 0


def test_bad_expression_is_usage_error_pointing_at_token():
    result = dlws("doctor", "--require", "gpu.memory >= 24 GiB")
    assert result.returncode == 2
    assert "column 18" in result.stderr and "Traceback" not in result.stderr


def test_explain():
    result = dlws("doctor", "--explain", "dlws-drv-003")
    assert result.returncode == 0 and "version mismatch" in result.stdout.lower()
    assert dlws("doctor", "--explain", "DLWS-NOPE").returncode == 2


@pytest.mark.parametrize("check_id", ["DLWS-REQ-001", "DLWS-TGT-001", "DLWS-TGT-002", "DLWS-DEEP-001",
                                      "DLWS-DEEP-004"])
def test_explain_knows_the_checks_outside_the_rules(check_id):
    result = dlws("doctor", "--explain", check_id)
    assert result.returncode == 0 and result.stdout.startswith(check_id + " (")
    assert len(result.stdout.split("\n\n", 1)[1]) > 80  # the long form, not only the title


def test_text_report_without_colour_when_piped():
    result = dlws("doctor", "--require", "gpu.count >= 64")
    assert "\033[" not in result.stdout
    assert "requirement not met: gpu.count >= 64" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("FAIL:")


def test_fail_on_info_fails_on_information(tmp_path):
    snap = tmp_path / "snap"
    (snap / "files/etc").mkdir(parents=True)
    (snap / "files/etc/os-release").write_text("ID=gentoo\n")
    assert dlws("doctor", "--snapshot", str(snap)).returncode == 0
    assert dlws("doctor", "--snapshot", str(snap), "--fail-on", "info").returncode == 1


def _on_a_terminal(extra_env):
    """Run dlws doctor with a pseudo-terminal as standard output; what it wrote there."""
    import os
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(extra_env)
    proc = subprocess.Popen([sys.executable, "-m", "provision", "doctor", "--require", "gpu.count >= 64"],
                            stdout=slave, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_unless_no_color():
    assert "\033[31m" in _on_a_terminal({})
    assert "\033[" not in _on_a_terminal({"NO_COLOR": "1"})
