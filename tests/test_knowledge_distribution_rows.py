"""Distribution rows added after the first table: Ubuntu 26.04, Fedora 43/44, SLES 16. Where their end of support was
not read it is unknown (None), never a date made up from a rule the vendor states for the family."""

import datetime

from provision.knowledge import queries as q


def test_ubuntu_2604():
    assert q.distribution("ubuntu", "26.04")["name"].startswith("Ubuntu 26.04 LTS")
    # Canonical's table of releases (ubuntu.com/security/esm, revision of 2026-07-01): "May 2031", "May 2036"
    assert q.distribution_eol("ubuntu", "26.04") == datetime.date(2031, 5, 1)  # month only: its first day
    assert q.support_end("ubuntu", "26.04")["extended_until"] == datetime.date(2036, 5, 1)
    assert q.cuda_repo_folder("ubuntu", "26.04", "x86_64") == "ubuntu2604"
    assert q.cuda_repo_folder("ubuntu", "26.04", "aarch64") is None  # sbsa not on an NVIDIA page yet


def test_fedora_43_and_44_have_their_repository_but_no_made_up_end():
    for version in ("43", "44"):
        assert q.cuda_repo_folder("fedora", version, "x86_64") == "fedora" + version
        assert q.distribution_eol("fedora", version) is None and q.support_end("fedora", version) is None
    assert q.distribution("fedora", "41")["version"] == "*"  # the other releases keep the family row
    assert q.cuda_repo_folder("fedora", "41", "x86_64") is None


def test_sles_16_minor_releases_share_the_row():
    assert q.distribution("sles", "16.0")["version"] == "16"
    assert q.cuda_repo_folder("sles", "16.1", "x86_64") == "sles16"
    assert q.distribution_eol("sles", "16.0") is None
    assert q.distribution("sles", "15.6")["version"] == "15"
