"""NVIDIA's CUDA repository per distribution and CPU, the apt source it must not collide with, and what ends when a
release reaches its end of support (DLWS-OS-001)."""

import datetime
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from provision.doctor import diagnose  # noqa: E402
from provision.emit import shell  # noqa: E402
from provision.knowledge import queries  # noqa: E402
from provision.planner import plan as make_plan  # noqa: E402
from provision.setup_command import make_request, render  # noqa: E402
from test_setup import inventory, tool  # noqa: E402

DEBIAN13 = "https://developer.download.nvidia.com/compute/cuda/repos/debian13/x86_64/"


def driverless(os_id, version, arch="x86_64"):
    """driver-not-loaded (an NVIDIA GPU, no driver: the plan installs one) as another release on another CPU."""
    inv = inventory("driver-not-loaded")
    inv["os"].update(id=os_id, version=version)
    inv["cpu"]["arch"] = arch
    return make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/dlws/env", "install", False))


def repo_actions(plan):
    return [a for s in plan.steps if s.id == "nvidia-repo" for a in s.actions if type(a).__name__ == "AptRepo"]


# --- which folders NVIDIA publishes per CPU --------------------------------------------------------------------------


def test_folder_is_published_per_cpu():
    assert queries.cuda_repo_folder("ubuntu", "24.04", "aarch64") == "ubuntu2404"
    assert queries.cuda_repo_folder("debian", "13", "x86_64") == "debian13"
    assert queries.cuda_repo_folder("debian", "13", "aarch64") is None  # NVIDIA's table: debian13 amd64 only
    assert queries.cuda_repo_folder("debian", "13", "ppc64le") is None
    assert queries.cuda_repo_folder("fedora", "42", "x86_64") is None  # no folder the table knows


def test_debian13_on_aarch64_gets_no_repository_and_says_so():
    plan = driverless("debian", "13", "aarch64")
    assert not [s for s in plan.steps if s.id in ("nvidia-repo", "nvidia-driver", "reboot")]
    said = plan.notes + plan.impossible  # a build that needs the driver makes the plan impossible, with the reason
    assert any(n.startswith("NVIDIA publishes no CUDA repository for Debian 13 (trixie) on aarch64") and
               n.endswith("install the NVIDIA driver yourself") for n in plan.notes), plan.notes
    assert not plan.ok or "debian13/sbsa" not in render(plan, "shell")
    assert not any("debian13/sbsa" in n for n in said)


def test_debian13_on_x86_64_and_ubuntu_on_aarch64_get_theirs():
    plan = driverless("debian", "13")
    assert [a.url for a in repo_actions(plan)] == [DEBIAN13]
    assert not [n for n in plan.notes if "publishes no CUDA repository" in n]
    arm = driverless("ubuntu", "24.04", "aarch64")
    assert [a.url for a in repo_actions(arm)] == [
        "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/sbsa/"]


def test_a_release_without_folder_says_so():
    plan = driverless("fedora", "42")
    assert not repo_actions(plan) and not [s for s in plan.steps if s.id == "nvidia-driver"]
    assert any(n.startswith("NVIDIA publishes no CUDA repository for fedora 42") for n in plan.notes), plan.notes


def test_an_architecture_name_from_the_machine_stays_out_of_the_note():
    plan = driverless("debian", "13", "arm64; rm -rf /")
    assert any("on this CPU" in n for n in plan.notes) and not any("rm -rf" in n for n in plan.notes)


# --- an older NVIDIA source for the same URL -----------------------------------------------------------------------


def test_the_check_wants_our_line_the_pinned_key_and_no_other_source():
    [repo] = repo_actions(driverless("debian", "13"))
    check = [s for s in driverless("debian", "13").steps if s.id == "nvidia-repo"][0].check
    assert "grep -qxF %s" % shell.q(repo.line) in check
    assert "cut -d: -f10)\" = 02182E60104FCDC26EAE1B8597A5D4CB8793F200 ]" in check  # 3bf863cc in the keyring: not done
    assert repo.others in check


@pytest.mark.skipif(not shutil.which("bash") or not shutil.which("find"), reason="needs bash and find")
def test_other_sources_of_the_url_are_set_aside_for_real(tmp_path):
    """Run the emitted fragment against a copy of sources.list.d: NVIDIA's cuda-keyring list for the same URL (signed
    by its own keyring: apt would refuse both) is moved to .disabled, which apt ignores silently (apt-pkg/init.cc,
    Dir::Ignore-Files-Silently '\\.disabled$'); another repository's list and ours stay."""
    [repo] = repo_actions(driverless("debian", "13"))
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    keyring_list = sources / "cuda-debian13-x86_64.list"
    keyring_list.write_text("deb [signed-by=/usr/share/keyrings/cuda-archive-keyring.gpg] %s /\n" % DEBIAN13)
    (sources / "nvidia-cuda.list").write_text(repo.line + "\n")
    (sources / "docker.list").write_text("deb https://download.docker.com/linux/debian trixie stable\n")

    def run(lines):
        script = "set -euo pipefail\n" + "\n".join(lines).replace("/etc/apt/sources.list.d", str(sources))
        return subprocess.run(["bash", "-c", script], capture_output=True, text=True)

    others = 'test -z "$(%s)"' % repo.others
    assert run([others]).returncode == 1  # the check is not done while the keyring's list is there
    moved = run(shell.set_aside_other_sources(repo, ""))
    assert moved.returncode == 0, moved.stderr
    assert "also names NVIDIA's repository" in moved.stdout
    assert sorted(p.name for p in sources.iterdir()) == ["cuda-debian13-x86_64.list.disabled", "docker.list",
                                                          "nvidia-cuda.list"]
    assert run([others]).returncode == 0 and run(shell.set_aside_other_sources(repo, "")).stdout == ""


def test_debian13_script_passes_shellcheck(tmp_path):
    script = tmp_path / "debian13.sh"
    script.write_text(render(driverless("debian", "13"), "shell"))
    assert "while IFS= read -r other; do" in script.read_text()
    checked = subprocess.run([tool("shellcheck"), "--shell=bash", "--severity=style", str(script)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_the_playbook_sets_other_sources_aside_too():
    playbook = render(driverless("debian", "13"), "ansible")
    assert "set aside other sources of the repository" in playbook and "dlws_other_sources.stdout" in playbook


# --- DLWS-OS-001: what ended, and until when extended support runs ----------------------------------------------------


def end_of_life(os_id, version, today):
    inv = inventory("driver-not-loaded")
    inv["os"].update(id=os_id, version=version, pretty_name=None)
    return [f for f in diagnose(inv, today=today).findings if f.id == "DLWS-OS-001"]


def test_ubuntu_past_standard_support_names_esm_until():
    [finding] = end_of_life("ubuntu", "20.04", datetime.date(2026, 1, 1))
    # ESM end "May 2030" in Canonical's table of releases (ubuntu.com/security/esm, revision of 2026-07-01)
    assert finding.title == ("Ubuntu 20.04 LTS (Focal): standard support ended 2025-05; Ubuntu Pro (ESM) runs until "
                             "2030-05")
    assert finding.evidence["ended"] == "standard support" and finding.evidence["extended_support_until"] == "2030-05"
    assert not end_of_life("ubuntu", "20.04", datetime.date(2025, 4, 30))


def test_debian_names_the_security_team_and_lts():
    [finding] = end_of_life("debian", "11", datetime.date(2025, 1, 1))
    assert finding.title == ("Debian 11 (bullseye): regular security support (Debian security team) ended "
                             "2024-08-14; Debian LTS (community) runs until 2026-08-31")
    [gone] = end_of_life("debian", "10", datetime.date(2025, 1, 1))
    assert gone.title.endswith("Debian LTS (community) ended 2024-06-30")


def test_rhel_names_maintenance_support_and_els_without_a_date():
    [finding] = end_of_life("rhel", "8.10", datetime.date(2030, 1, 1))
    assert finding.title == ("Red Hat Enterprise Linux 8: maintenance support ended 2029-05-31; Red Hat Extended "
                             "Life-cycle Support (ELS) add-on may still cover it")
    assert not end_of_life("rhel", "8.10", datetime.date(2029, 5, 30))
