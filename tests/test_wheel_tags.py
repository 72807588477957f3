"""The installed wheel's tags (dist-info/WHEEL) win over the knowledge table's Python range and glibc floor: a
wheel tagged for this Python is no problem, one tagged for another is certain; without tags the table judges and the
finding says so (issue 16: never a confident wrong answer built from metadata the installed files contradict)."""

import os
import subprocess
import sys

import pytest

from provision import compat_wheel
from provision.host import LiveHost
from provision.inventory import collect

from test_doctor_rules import fired, healthy


@pytest.mark.parametrize("tags, python, fits", [
    (["cp312-cp312-manylinux_2_27_x86_64"], "3.12.3", True),
    (["cp311-cp311-manylinux_2_27_x86_64"], "3.12.3", False),
    (["py3-none-any"], "3.13.0", True),
    (["py2.py3-none-any"], "3.8.10", True),
    (["cp38-abi3-manylinux_2_17_x86_64"], "3.12.1", True),
    (["cp313-abi3-manylinux_2_17_x86_64"], "3.12.1", False),
    (["py2-none-any"], "3.11.0", False),
    (["cp39-cp39-win_amd64", "cp310-cp310-win_amd64"], "3.10.4", True),
    ([], "3.12.3", None),
    (["cp312-cp312-manylinux_2_27_x86_64"], None, None),
])
def test_python_fits(tags, python, fits):
    assert compat_wheel.python_fits(tags, python) is fits


@pytest.mark.parametrize("tags, floor", [
    (["cp311-cp311-manylinux_2_28_x86_64"], "2.28"),
    (["cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"], "2.17"),
    (["cp36-cp36m-manylinux2010_x86_64"], "2.12"),
    (["cp36-cp36m-manylinux1_x86_64"], "2.5"),
    (["cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_17_x86_64"], "2.17"),
    (["py3-none-any"], None),
    (["cp311-cp311-linux_x86_64"], None),
    ([], None),
])
def test_glibc_floor(tags, floor):
    assert compat_wheel.glibc_floor(tags) == floor


def torch_on(python, version="1.7.1", tags=(), glibc="2.35"):
    """The healthy server with an installed torch of that version (whose table range is 3.6-3.9 for 1.7)."""
    inv = healthy()
    inv["python"]["version"], inv["os"]["glibc"] = python, glibc
    inv["frameworks"]["torch"].update(version=version, build="cuda 10.2", cuda="10.2", wheel_tags=list(tags))
    return inv


def python_findings(inv):
    return [f for f in fired(inv, "DLWS-FW-006") if "glibc_needed" not in f.evidence]


def test_a_wheel_tagged_for_this_python_wins_over_the_table():
    # the table says torch 1.7 has wheels for Python 3.6-3.9 only; the installed wheel says 3.12: it wins
    assert not python_findings(torch_on("3.12.3", tags=["cp312-cp312-manylinux_2_17_x86_64"]))
    # no tags (an egg, a conda package): the table judges, and says it is the table
    (found,) = python_findings(torch_on("3.12.3"))
    assert "knowledge table" in found.evidence["judged_from"]
    # a wheel built for another Python in this environment's folders: certain, named by its tags
    (found,) = python_findings(torch_on("3.12.3", tags=["cp39-cp39-manylinux2014_x86_64"]))
    assert found.evidence["wheel_tags"] == "cp39-cp39-manylinux2014_x86_64" and "judged_from" not in found.evidence
    # and the table's own range, with the wheel agreeing: quiet
    assert not python_findings(torch_on("3.8.10", tags=["cp38-cp38-manylinux2014_x86_64"]))


def test_the_installed_wheels_glibc_tag_judges_glibc():
    def glibc_findings(inv):
        return [f for f in fired(inv, "DLWS-FW-006") if "glibc_needed" in f.evidence]

    new = ["cp311-cp311-manylinux_2_28_x86_64"]
    (found,) = glibc_findings(torch_on("3.11.7", "2.4.1", new, glibc="2.17"))
    assert found.evidence["glibc_needed"] == "2.28" and found.evidence["wheel_tags"] == new[0]
    # the table says 2.17 for torch 2.4; an installed manylinux_2_28 wheel on glibc 2.31 still runs: quiet
    assert not glibc_findings(torch_on("3.11.7", "2.4.1", new, glibc="2.31"))
    # a wheel tagged 2.17 on glibc 2.17: quiet, and without tags the table's 2.17 agrees
    assert not glibc_findings(torch_on("3.11.7", "2.4.1", ["cp311-cp311-manylinux_2_17_x86_64"], glibc="2.17"))
    assert not glibc_findings(torch_on("3.11.7", "2.4.1", glibc="2.17"))


def test_the_probe_reads_wheel_tags_from_the_installed_files(tmp_path):
    """A real venv with a dist-info as pip writes it (WHEEL with Tag lines); hostile lines are dropped."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = venv / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    info = site / "jaxlib-0.4.30.dist-info"
    info.mkdir(parents=True)
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: bdist_wheel (0.43.0)\nRoot-Is-Purelib: false\n"
                                "Tag: cp312-cp312-manylinux2014_x86_64\nTag: $(reboot)-x-y\nTag: a b-c-d\n")
    (site / "jax-0.4.30.dist-info").mkdir()
    inv = collect(LiveHost(), env=str(venv)).to_dict()
    assert inv["frameworks"]["jaxlib"]["wheel_tags"] == ["cp312-cp312-manylinux2014_x86_64"]
    assert inv["frameworks"]["jax"]["wheel_tags"] == []  # no WHEEL file: unknown, never guessed
    assert os.path.isdir(str(site))
