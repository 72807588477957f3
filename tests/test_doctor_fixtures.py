"""The doctor on every snapshot fixture: each check fires on a real machine's outputs and stays quiet on another's.

FIRES names, for every rule (plus DLWS-REQ-001 from --require and the DLWS-TGT-* findings of --target), fixtures
where it must fire; the tests also find a fixture where it is quiet. Each fixture's complete verdict is pinned in a
golden file, tests/golden/doctor/<fixture>.json: the sorted, distinct (id, severity) pairs of a doctor run with
REQUIREMENTS and TARGET. After a deliberate change of a rule, a probe or the knowledge base, regenerate them with

    DLWS_UPDATE_GOLDEN=1 scripts/test tests/test_doctor_fixtures.py

and review the diff: every changed line is a changed verdict on a real machine.
"""

import datetime
import json
import os
import re
from collections import Counter
from functools import lru_cache
from xml.etree import ElementTree as ET

import pytest

from provision.doctor import all_checks, diagnose
from provision.doctor.model import at_least
from provision.doctor.report import to_json, to_junit, to_text
from provision.doctor.require import evaluate, parse
from provision.doctor.target import add_targets
from provision.inventory import collect
from provision.snapshot import open_snapshot

HERE = os.path.dirname(__file__)
SNAPSHOTS = os.path.join(HERE, "snapshots")
GOLDEN = os.path.join(HERE, "golden", "doctor")
FIXTURES = sorted(d for d in os.listdir(SNAPSHOTS) if os.path.isdir(os.path.join(SNAPSHOTS, d)))

#: The end-of-life check compares with today: every run judges as of this day.
TODAY = datetime.date(2026, 11, 25)
#: What the golden runs add to the rules: one requirement (DLWS-REQ-001) and one target (DLWS-TGT-*).
REQUIREMENTS = ("gpu.count >= 1",)
TARGET = "pytorch==2.4"  # a fixed release: a new torch in the knowledge base does not move the goldens

FIRES = {
    "DLWS-DRV-001": ["driver-not-loaded"],  # with Secure Boot on, DLWS-DRV-008 says it alone
    "DLWS-DRV-002": ["gtx970-nouveau-bound"],
    "DLWS-DRV-003": ["ubuntu2004-driver-library-mismatch", "ubuntu2404-driver550-module-library-mismatch",
                     "debian12-driver520-library525-apt-unfinished"],
    "DLWS-DRV-004": ["opensuse-2080ti-gpu-lost"],
    "DLWS-DRV-005": ["rtx4090-driver535-cuda13-mixed-venv"],
    "DLWS-DRV-006": ["rtx3090-no-devices-found"],
    "DLWS-DRV-007": ["wsl2-linux-driver-installed"],
    "DLWS-DRV-008": ["secure-boot-nvidia-key-rejected", "fedora34-akmods-secure-boot-rtx2060s-no-driver"],
    "DLWS-DRV-009": ["nixos-4x-rtx2070-one-missing"],
    "DLWS-DRV-010": ["wsl2-l40s-winserver2025-gpu-access-blocked"],  # quiet on wsl2-rtx4070-laptop (ok) and
    # wsl2-linux-driver-installed (DLWS-DRV-007 says it)
    "DLWS-DRV-011": ["gtx1080-pascal", "v100-sxm2-c4130-power-brake"],  # 580 is their last branch (info)
    "DLWS-DRV-012": ["ubuntu1404-kernel-update-run-installer-no-module",  # DLWS-DRV-001 quiet there
                     "pop2204-kernel6.4-gcc11-dkms-nvidia535-failed"],  # the make.log names the kernel's gcc
    "DLWS-DRV-013": ["void-linux7.1-installed-nvidia580-dkms-failed"],
    "DLWS-DRV-014": ["nixos-gtx1050-driver595-legacy580", "fedora-negativo17-gt1030-driver560-open-module",
                     "linuxmint213-gtx760-driver535-ignored"],  # DLWS-DRV-001 quiet there
    "DLWS-DRV-015": ["rtx4090-ryzen-workstation",  # R535: its Long Term Support ended June 2026
                     "dgx-a100-8gpu"],  # R450: older than every branch NVIDIA lists now; quiet on 580 and newer
    "DLWS-CTR-001": ["debian11-rtx4070ti-docker-systemd-cgroup-gpus-lost"],  # OS-004 quiet: daemon.json's runtime
    "DLWS-CTR-002": ["fedora39-cdi-spec-libegl-550.54.14-driver-550.67"],
    "DLWS-CTR-003": ["ubuntu2204-podman344-cdi-unsupported"],
    "DLWS-CTR-004": ["debian9-nvidia-docker2-ldconfig-real-missing"],
    "DLWS-CTR-005": ["ubuntu2004-docker-snap-gpus-no-device-driver"],  # OS-004 quiet: the snap's own toolkit
    "DLWS-CTR-006": ["tumbleweed-k8s121-containerd144-default-runc-rtx3060"],
    "DLWS-ENV-001": ["titanx-pascal-cuda-visible-devices-2"],  # nvidia-smi lists GPU 0; CUDA was asked for GPU 2
    "DLWS-ENV-002": ["frontier-mi250x-rocr1-cuda1-no-hip-gpu"],  # HIP's index 1 among the one GCD ROCR left
    "DLWS-ENV-003": ["jupyterhub-docker-a6000-nvidia-visible-devices-void"],
    "DLWS-ENV-004": ["mi210-rx6600-hsa-override-gfx1030",  # GPU 0 only: the RX 6600 is of gfx1030's family
                     "strix-halo-gfx1151-hsa-override-11.0.0-memory-fault"],  # info: 11.0.0 is of gfx1151's family
    "DLWS-ENV-005": ["8gpu-mixed-titanv-v100-cuda-visible-devices-3-fastest-first"],  # CUDA's 3 was nvidia-smi's 5
    "DLWS-EMU-001": ["macos-m2pro-x86-64-python-rosetta",
                     "macos11-m1-x86-64-python38-rosetta-tensorflow24-illegal-instruction"],  # error: TF needs AVX
    "DLWS-EMU-002": ["wsl1-ubuntu2004-nvidia-driver-440"],  # an error there: nvidia-smi of a Linux driver package
    "DLWS-EMU-003": ["windows10-python37-32bit-wow64"],
    "DLWS-EMU-004": ["m1-docker-amd64-qemu-tensorflow27-no-avx"],  # DLWS-FW-005 quiet: the flags are the host's
    "DLWS-GPU-001": ["gh200-aggregate-uncorrectable-ecc"],
    "DLWS-GPU-002": ["a100-sxm4-row-remap-pending"],
    "DLWS-GPU-003": ["v100-sxm2-c4130-power-brake"],
    "DLWS-GPU-004": ["rtx2080-pcie-x8-i9-9900k"],
    "DLWS-GPU-005": ["gtx1080-pascal"],  # the RTX 2080 drives a display; the P4 output does not say
    "DLWS-GPU-006": ["a100-sxm4-row-remap-pending", "a100x4-mig-on-no-instances-gpu-burn-init-error"],
    "DLWS-GPU-007": ["h100-sxm-server"],
    "DLWS-GPU-008": ["gtx1080-pascal", "v100-sxm2-c4130-power-brake", "macos-m2-max"],
    "DLWS-GPU-009": ["openpai-job-titan-memory-no-process"],  # quiet where a listed process holds the memory
    "DLWS-SYS-001": ["nixos-4x-rtx2070-one-missing"],
    "DLWS-SYS-002": ["h100-sxm-server", "cpu-without-avx"],
    "DLWS-SYS-003": ["centos7-k80", "graviton3-arm64-server"],
    "DLWS-SYS-004": ["nixos-4x-rtx2070-one-missing"],
    "DLWS-SYS-005": ["mi250x-rocm-server"],
    "DLWS-SYS-006": ["dgx-a100-8gpu", "rtx4090-ryzen-workstation"],
    "DLWS-OS-001": ["centos7-k80", "ubuntu2004-driver-library-mismatch"],
    "DLWS-OS-002": ["centos7-k80", "opensuse-2080ti-gpu-lost", "core2duo-tensorflow114-no-avx"],
    "DLWS-OS-003": ["docker-container-a100-no-gpus-flag"],
    "DLWS-OS-004": ["centos7-tesla-p4-docker-no-toolkit"],
    "DLWS-FW-001": ["gtx1050-torch28-cu128-driver550", "rtx3070-torch171-cu102-no-kernel-image",
                     "rtx5090d-torch260-cu126-sm120-driver570"],  # too old a GPU, then too new
    "DLWS-FW-002": ["rtx4090-driver535-cuda13-mixed-venv",
                     "conda-forge-jaxlib0432-cuda-no-plugin-driver560",  # jaxlib without a CUDA plugin
                     "windows11-rtx4080-laptop-torch222-pypi-cpu",  # PyPI's Windows torch is a CPU build
                     "windows11-rtx3060-laptop-anaconda-torch1121-cpu-cudatoolkit113"],  # read by --env
    "DLWS-FW-003": ["gtx1050-torch28-cu128-driver550", "titanxp-8gpu-torch131-cu101-driver410",
                     "gke-cos-driver470-torch210-cu121"],  # CUDA 12 build on a CUDA 11.4 driver
    "DLWS-FW-004": ["tf212-torch21-mxnet-cu112-venv"],
    "DLWS-FW-005": ["core2duo-tensorflow114-no-avx"],
    "DLWS-FW-006": ["python313-torch24-source-build"],
    "DLWS-FW-007": ["tf212-torch21-mxnet-cu112-venv"],
    "DLWS-FW-009": ["macos12.2-m1-torch113-nightly-mps-unavailable",  # below 12.3
                     "macos12.7-m1-torch251-mps-needs-ventura"],  # 12.3+, but torch 2.5 needs 13.0
    "DLWS-FW-008": ["rx6700xt-torch22-rocm57-gfx1031"],  # quiet on mi250x-rocm-server (no ROCm torch there)
    "DLWS-FW-010": ["torch190-cu102-torchvision070-no-such-operator-nms",  # torchvision of torch 1.6 beside 1.9
                     "macos12.2-m1-torch113-nightly-mps-unavailable"],  # 1.11's companions beside a 1.13 nightly
    "DLWS-JET-001": ["jetson-agx-orin-torch271-cpu"],  # quiet on jetson-agx-orin (no torch there)
    "DLWS-JET-002": ["jetson-orin-jp62-torch280-jetson-ai-lab-no-cudss",  # quiet on jetson-agx-orin-torch271-cpu
                     "jetson-nano-jp44-torch140-jp42-wheel-no-libcudart100"],
    "DLWS-CUDA-001": ["cuda-multi-toolkit-torch"],
    "DLWS-CUDA-002": ["rtx4090-driver535-cuda13-mixed-venv"],
    "DLWS-CUDA-003": ["ubuntu2004-conda-torch1102-cu113-apt-nvcc101"],  # quiet: cuda-multi-toolkit-torch (12.4, cu121)
    "DLWS-LIB-001": ["fair-torch112-cu113-ld-library-path-cudnn803"],  # no wheel: LD_LIBRARY_PATH's 8.0.3 < 8.3.2
    "DLWS-LIB-002": ["runpod-kohya-torch212-cu118-tf215-wd14-tagger"],  # torch's cuDNN 8.7 loaded first, TF needs 8.9
    "DLWS-LIB-003": ["jax0424-cuda12-pip-driver535-ptxas123"],
    "DLWS-LIB-004": ["torch220-cu118-driver470-triton-ptxas123"],
    "DLWS-LIB-005": ["conda-tf27-cudatoolkit112-cudnn81-not-on-loader-path"],  # $CONDA_PREFIX/lib not searched
    "DLWS-LIB-006": ["lorax-cuda124-base-ld-preload-compat-libcuda-803"],  # driver unknown there: info
    "DLWS-REQ-001": ["docker-no-gpu", "driver-not-loaded"],
    "DLWS-TGT-001": ["gtx1080-pascal", "core2duo-tensorflow114-no-avx"],
    "DLWS-TGT-002": ["h100-sxm-server", "rtx4090-ryzen-workstation"],
}
#: Checks a snapshot cannot show (they run the frameworks): tests/test_deep.py has them.
DEEP_IDS = {"DLWS-DEEP-001", "DLWS-DEEP-002", "DLWS-DEEP-003", "DLWS-DEEP-004"}
#: Findings of --error alone (they need an error text, not a machine): tests/test_doctor_error.py fires them.
ERROR_IDS = {"DLWS-ERR-001", "DLWS-ERR-002"}
#: A probe that raised: collect() turns it into an inventory error "<ExceptionClass>: message".
PROBE_CRASH = re.compile(r"^[A-Z]\w*(Error|Exception): ")


@lru_cache(maxsize=None)
def inventory_json(name):
    """The inventory as JSON text (cached; every test decodes its own copy, so none can change another's)."""
    return json.dumps(collect(open_snapshot(os.path.join(SNAPSHOTS, name))).to_dict())


def inventory(name):
    return json.loads(inventory_json(name))


def doctor(name, requirements=REQUIREMENTS, targets=(TARGET,), fail_on="error", today=TODAY):
    """A doctor run as `dlws doctor --require ... --target pytorch==2.4` does it (see provision/doctor_command.py)."""
    inv = inventory(name)
    report = diagnose(inv, [evaluate(parse(text), inv) for text in requirements], fail_on=fail_on, today=today)
    add_targets(report, targets)
    return report


def golden_text(found):
    """One finding per line, so that a changed verdict is a one-line diff."""
    lines = ",\n".join("  " + json.dumps(pair) for pair in found["findings"])
    return '{"fixture": %s, "findings": [\n%s\n]}\n' % (json.dumps(found["fixture"]), lines)


def verdict(report):
    return sorted({(f.id, f.severity) for f in report.findings})


def fired(name, today=TODAY):
    return {f.id for f in doctor(name, today=today).findings}


def test_the_table_covers_every_check_and_names_real_fixtures():
    assert set(FIRES) == set(all_checks()) - DEEP_IDS - ERROR_IDS - {"DLWS-KB-001"}  # of dlws's tables, not of a machine
    for rule_id, names in FIRES.items():
        assert names, rule_id
        assert set(names) <= set(FIXTURES), "%s names a fixture that does not exist" % rule_id


@pytest.mark.parametrize("rule_id,name", [(r, n) for r, names in sorted(FIRES.items()) for n in names])
def test_check_fires_on_its_fixture(rule_id, name):
    assert rule_id in fired(name), "%s did not fire on %s" % (rule_id, name)


@pytest.mark.parametrize("rule_id", sorted(FIRES))
def test_check_is_quiet_on_another_fixture(rule_id):
    quiet = [n for n in FIXTURES if n not in FIRES[rule_id] and rule_id not in fired(n)]
    assert quiet, "%s fires on every fixture" % rule_id


@pytest.mark.parametrize("name", FIXTURES)
def test_doctor_never_fails_on_a_fixture(name):
    report = doctor(name)
    broken = [f.title for f in report.findings if f.title.startswith("dlws check")]
    assert not broken, broken
    crashed = [e for e in report.inventory.get("errors") or [] if PROBE_CRASH.match(e.get("message") or "")]
    assert not crashed, crashed
    for finding in report.findings:
        assert finding.title and finding.fix and finding.severity in ("error", "warning", "info"), finding
    assert json.loads(to_json(report))["findings"] is not None
    assert to_text(report, colour=False) and to_junit(report)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_verdict_matches_golden(name):
    path = os.path.join(GOLDEN, name + ".json")
    found = {"fixture": name, "findings": [list(pair) for pair in verdict(doctor(name))]}
    if os.environ.get("DLWS_UPDATE_GOLDEN") == "1":
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as handle:
            handle.write(golden_text(found))
    assert os.path.isfile(path), "no golden for %s: regenerate (see the module docstring)" % name
    with open(path) as handle:
        assert json.load(handle) == found


def test_every_golden_has_its_fixture():
    stale = [f for f in os.listdir(GOLDEN) if f[: -len(".json")] not in FIXTURES]
    assert not stale, stale


def test_verdicts_do_not_change_with_the_calendar():
    """Before CentOS 7's end of support (2024-06-30) the same machine has no end-of-life finding."""
    assert "DLWS-OS-001" in fired("centos7-k80")
    assert "DLWS-OS-001" not in fired("centos7-k80", today=datetime.date(2024, 1, 1))


FINDING_LINE = re.compile(r"^  \[(DLWS-[A-Z]+-\d+)\] ")
SUMMARY_LINE = re.compile(r"^(OK|FAIL): (\d+) errors, (\d+) warnings, (\d+) info from (\d+) checks")
HEADINGS = {"ERRORS": "error", "WARNINGS": "warning", "INFO": "info"}
#: A text line that stands for identical findings on several GPUs: "— GPUs 0–3, 5 (NVIDIA H100 80GB HBM3)".
GROUPED = re.compile(r" — GPUs ([\d–, ]+) \(")


def _findings_on(line):
    """How many findings a finding's text line stands for: one, or as many as the GPUs it groups."""
    match = GROUPED.search(line)
    if not match:
        return 1
    spans = [part.split("–") for part in match.group(1).split(", ")]
    return sum(int(span[-1]) - int(span[0]) + 1 for span in spans)


def _text_says(report):
    """The failing ids (with repeats), the number of checks and the verdict, as the text report prints them."""
    failing, severity = Counter(), "info"
    for line in to_text(report, colour=False).splitlines():
        heading, finding, summary = line.split(" (")[0], FINDING_LINE.match(line), SUMMARY_LINE.match(line)
        severity = HEADINGS.get(heading, severity)
        if finding and at_least(severity, report.fail_on):
            failing[finding.group(1)] += _findings_on(line)
        if summary:
            checks, verdict = int(summary.group(5)), summary.group(1)
    return failing, checks, verdict


def _junit_says(report):
    suite = ET.fromstring(to_junit(report)).find("testsuite")
    cases = suite.findall("testcase")
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    failing = Counter(re.match(r"\[(DLWS-[A-Z]+-\d+)\]", line).group(1) for failure in failures
                      for line in failure.text.splitlines() if line.startswith("[DLWS-"))
    assert int(suite.get("tests")) == len(cases) and int(suite.get("failures")) == len(failures)
    return failing, len(cases), "FAIL" if failures else "OK"


@pytest.mark.parametrize("fail_on", ["error", "warning"])
@pytest.mark.parametrize("name", FIXTURES)
def test_junit_and_text_agree(name, fail_on):
    """Same failing ids, as many times each, the same number of checks and the same verdict; a --require and a
    --target that fail everywhere are cases of their own."""
    report = doctor(name, requirements=REQUIREMENTS + ("gpu.count >= 64",), targets=(TARGET, "mxnet"),
                    fail_on=fail_on)
    assert _junit_says(report) == _text_says(report)
    failing = _junit_says(report)[0]
    assert failing["DLWS-REQ-001"] >= 1 and failing["DLWS-TGT-001"] >= 1
    names = [c.get("name") for c in ET.fromstring(to_junit(report)).iter("testcase")]
    assert "require: gpu.count >= 64" in names and "target: mxnet" in names
    assert len(names) == len(set(names)) == len(report.checks)


def test_inside_wsl_the_fix_is_on_windows_never_a_linux_driver():
    """A WSL 2 machine whose NVML fails gets DLWS-DRV-010 alone; a working one, and one where a Linux driver shadows
    the Windows driver's libraries (DLWS-DRV-007), do not get it."""
    blocked = {f.id: f for f in doctor("wsl2-l40s-winserver2025-gpu-access-blocked").findings}
    assert "DLWS-DRV-010" in blocked and not {"DLWS-DRV-001", "DLWS-DRV-003", "DLWS-DRV-006"} & set(blocked)
    assert "wsl --update" in blocked["DLWS-DRV-010"].fix and "apt" not in blocked["DLWS-DRV-010"].fix
    assert "DLWS-DRV-010" not in fired("wsl2-rtx4070-laptop")
    assert "DLWS-DRV-010" not in fired("wsl2-linux-driver-installed")
