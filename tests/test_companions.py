"""DLWS-FW-010: torchvision / torchaudio built for another torch release or CUDA than the installed torch, and the
companion facts it asks (provision/knowledge/companions.py over the frameworks table)."""

from provision.doctor import diagnose
from provision.knowledge import companions

from test_doctor_rules import TODAY, healthy


def _with(torch, **packages):
    inv = healthy()
    version, cuda = torch
    inv["frameworks"]["torch"].update(version=version, cuda=cuda, build=("cuda %s" % cuda) if cuda else "cpu")
    for name, (v, c) in packages.items():
        inv["frameworks"][name] = {"version": v, "cuda": c, "build": ("cuda %s" % c) if c else None}
    return inv


def _fw010(inv):
    return [f for f in diagnose(inv, today=TODAY).findings if f.id == "DLWS-FW-010"]


# --- facts ---------------------------------------------------------------------------------------------------------

def test_pairing_comes_from_the_release_rows_pins():
    # torchvision 0.16.2's METADATA: Requires-Dist torch (==2.1.2) (tests/pypi_framework_metadata.json)
    assert companions.paired_torch_releases("torchvision", "0.16.0+cu121") == ["2.1"]
    assert companions.paired_torch_releases("torchvision", "0.7.0") == ["1.6"]
    assert companions.paired_torch_releases("torchaudio", "2.4.1") == ["2.4"]
    # torchaudio 2.11.1 (py3-none) requires torch>=2.11: the rows 2.11 on pin it
    assert "2.11" in companions.paired_torch_releases("torchaudio", "2.11.1")
    assert "2.12" in companions.paired_torch_releases("torchaudio", "2.11.1")


def test_unknown_pairings_answer_none():
    assert companions.paired_torch_releases("torchvision", "0.99.0") is None  # newer than the table
    assert companions.paired_torch_releases("torchvision", "0.2.2") is None  # before compiled operators
    assert companions.paired_torch_releases("xformers", "0.0.23") is None
    assert companions.paired_torch_releases("torchvision", None) is None
    assert companions.paired_torch_releases("torchvision", "garbage") is None


def test_what_the_import_check_compares():
    assert companions.companion_cuda_check("torchvision", "0.15.2+cu118") == "major.minor"
    assert companions.companion_cuda_check("torchvision", "0.16.0+cu121") == "major"
    assert companions.companion_cuda_check("torchvision", "0.4.0") is None  # before the check was read
    assert companions.companion_cuda_check("torchaudio", "2.0.2+cu117") == "major.minor"
    assert companions.companion_cuda_check("torchaudio", "0.13.1") is None


def test_companion_pin_of_a_torch_release():
    assert companions.companion_pin("torchvision", "2.4.0+cu121") == "0.19.1"
    assert companions.companion_pin("torchvision", "9.9.0") is None


# --- the rule ------------------------------------------------------------------------------------------------------

def test_fires_on_a_torchvision_of_another_torch_release():
    # vladmandic/sdnext#3531: torch 2.4.0+cu121 beside torchvision 0.20.1+cu124 (torch 2.5's)
    (finding,) = _fw010(_with(("2.4.0+cu121", "12.1"), torchvision=("0.20.1+cu124", "12.4")))
    assert finding.severity == "error" and finding.subject == "torchvision"
    assert "built for torch 2.5" in finding.evidence["problems"][0]
    assert finding.fix == ("pip install --force-reinstall torch==2.4.1 torchvision==0.19.1 "
                           "--index-url https://download.pytorch.org/whl/cu121")


def test_fires_on_another_cuda_major():
    # "PyTorch has CUDA Version=11.8 and torchvision has CUDA Version=12.1"
    (finding,) = _fw010(_with(("2.1.0+cu118", "11.8"), torchvision=("0.16.0+cu121", "12.1")))
    assert finding.severity == "error"
    assert "compares the major" in finding.evidence["problems"][0]
    assert "--index-url https://download.pytorch.org/whl/cu118" in finding.fix


def test_minor_cuda_difference_only_where_the_companion_compares_it():
    assert _fw010(_with(("2.1.2+cu118", "11.8"), torchvision=("0.16.2+cu117", "11.7"))) == []  # 0.16: major only
    (older,) = _fw010(_with(("2.0.1+cu118", "11.8"), torchvision=("0.15.2+cu117", "11.7")))
    assert older.severity == "error" and "major.minor" in older.evidence["problems"][0]
    (audio,) = _fw010(_with(("2.0.1+cu118", "11.8"), torchaudio=("2.0.2+cu117", "11.7")))  # mli/autocut#106
    assert audio.subject == "torchaudio"


def test_quiet_on_a_matching_pair():
    assert _fw010(_with(("2.4.1+cu121", "12.1"), torchvision=("0.19.1+cu121", "12.1"),
                        torchaudio=("2.4.1+cu121", "12.1"))) == []
    assert _fw010(_with(("2.4.1", "12.1"), torchvision=("0.19.1", None))) == []  # both PyPI's: one build
    assert _fw010(healthy()) == []  # no companion


def test_unknown_pairing_cannot_judge_never_fine():
    (unknown,) = _fw010(_with(("2.4.1+cu121", "12.1"), torchvision=("0.99.0+cu121", "12.1")))
    assert unknown.severity == "info" and unknown.evidence["cannot_judge"]
    (torch_unknown,) = _fw010(_with(("9.1.0+cu121", "12.1"), torchvision=("0.19.1+cu121", "12.1")))
    assert torch_unknown.severity == "info"
    # an unlabelled torchvision beside torch from a labelled index: its CUDA cannot be compared
    (unlabelled,) = _fw010(_with(("2.4.1+cu118", "11.8"), torchvision=("0.19.1", None)))
    assert unlabelled.severity == "info"


def test_a_nightly_torch_is_pointed_at_the_nightly_companions():
    (finding,) = _fw010(_with(("1.13.0.dev20220525", None), torchvision=("0.12.0", None)))
    assert finding.severity == "error" and finding.fix.startswith("install the torchvision nightly")


def test_garbage_never_crashes():
    inv = _with(("2.4.1+cu121", "12.1"))
    inv["frameworks"]["torchvision"] = {"version": None}
    inv["frameworks"]["torchaudio"] = {"version": "not a version", "cuda": "x.y"}
    assert [f.severity for f in _fw010(inv)] in ([], ["info"])
