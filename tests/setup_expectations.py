"""What each golden setup plan should pick, written by hand, and the checker that holds a plan to it.

The goldens in tests/golden/setup/ are the code's own output; these expectations say, per case, which framework
release and build, which driver and which NVIDIA repository are right for that machine, and why. Values follow the
knowledge tables where the right pick moves with a new release, so adding one touches data only:

- release: an exact row ("2.4") or NEWEST, the table's newest row of that framework that has a build the variant
  names (for Keras: its one row);
- variant: an exact build ("cpu", "cuda", "cuda12", "cu121", "jax" for a Keras backend), "cu<=X.Y" (the newest
  CUDA build of the chosen release at or below CUDA X.Y: what the driver runs natively) or "rocm" (its newest ROCm
  build);
- driver: "keep" (a working driver stays), "none" (no NVIDIA GPU), "manual" (the plan leaves the install to the
  user), "open" (the newest open-module branch of install.json) or a branch ("580");
- repo: the folder of NVIDIA's CUDA repository the plan adds ("ubuntu2004"), or None;
- repo_key: (key file, fingerprint) of the key that repository is trusted with, pinned (a dnf .repo file must also
  check signatures: gpgcheck=1); absent where the plan adds no repository;
- toolkit: whether a CUDA toolkit of the chosen build's CUDA is installed;
- impossible / alternatives (requests that cannot be met): words each of which some reason contains, and the
  (framework, release, variant) of each way out the plan offers.

A case whose golden I believe wrong carries golden_wrong (why) and python (the interpreter its plan's own python step
installs): its test is an xfail until the planner picks what the expectation says.
"""

import re

from packaging.version import Version

from provision.knowledge import load

NEWEST = "newest"

EXPECTED = {
    "jetson-agx-orin--pytorch": dict(
        picks=[("pytorch", "2.5", "jetpack")], driver="none", repo=None,
        why="an AGX Orin on L4T R36.4.3 (JetPack 6.2, CUDA 12.6): the driver is part of L4T (no driver step), and "
            "PyTorch's aarch64 cu1xx wheels are SBSA builds that do not run on Tegra, so NVIDIA's JetPack wheel "
            "(torch 2.5.0a0+872d972e41.nv24.08, cp310 for Ubuntu 22.04's Python 3.10) by its URL"),
    "jetson-agx-orin--tensorflow": dict(
        impossible=["SBSA"], alternatives=[("tensorflow", NEWEST, "cpu")], driver="none", repo=None,
        why="the jetson table has no NVIDIA TensorFlow wheel for JetPack 6.2 and the generic aarch64 CUDA wheels are "
            "SBSA builds: no CUDA build can be chosen; the CPU build from PyPI runs"),
    "h100-sxm-server--pytorch": dict(
        picks=[("pytorch", NEWEST, "cu<=12.8")], driver="keep", repo=None,
        why="H100 is Hopper (sm_90), in every torch CUDA arch list; driver 570.195.03 runs CUDA 12.8 natively, so "
            "the newest torch with a CUDA <= 12.8 build (CUDA 13 builds need driver >= 580); a working driver is kept"),
    "h100-sxm-server--pytorch+jax": dict(
        picks=[("pytorch", NEWEST, "cu<=12.8"), ("jax", "0.6.2", "cuda12")], driver="keep", repo=None,
        why="torch as alone; JAX must share CUDA 12 and run on 22.04's Python 3.10: jax 0.6.2 (the last for 3.10) "
            "cuda12 (cuda13 needs driver >= 580)"),
    "h100-sxm-server--tensorflow": dict(
        picks=[("tensorflow", NEWEST, "cuda")], driver="keep", repo=None,
        why="the newest TensorFlow's one wheel with its and-cuda extra (tested with CUDA 12.5 <= the driver's "
            "12.8); the Xeon has AVX"),
    "h100-sxm-server--pytorch--with_cuda_toolkit-True": dict(
        picks=[("pytorch", NEWEST, "cu<=12.8")], driver="keep", repo="ubuntu2204", toolkit=True,
        repo_key=("3bf863cc.pub", "EB693B3035CD5710E231E123A4B469963BF863CC"),
        why="the same torch build; the toolkit asked for matches its CUDA 12.8 and comes from NVIDIA's ubuntu2204 "
            "repository (Ubuntu 22.04)"),
    "h100-sxm-server--keras+jax": dict(
        impossible=["needs Python >="], alternatives=[], driver="keep", repo=None,
        why="Keras 3.15 (the table's one release) needs Python >= 3.11, and the plan's environment gets 22.04's "
            "Python 3.10"),
    "macos-m2-max--pytorch": dict(
        picks=[("pytorch", NEWEST, "cpu")], driver="none", repo=None,
        why="macOS arm64 has one torch wheel, from PyPI, which the table calls cpu and which uses the M2 Max GPU "
            "through MPS (Metal); no NVIDIA driver on a Mac"),
    "rtx4090-ryzen-workstation--pytorch--version-2.4": dict(
        picks=[("pytorch", "2.4", "cu121")], driver="keep", repo=None,
        why="--version 2.4; RTX 4090 is Ada (sm_89, runs the sm_86 SASS); driver 535.86.05 runs CUDA 12.2 natively: "
            "cu121, not cu124 (only under minor-version compatibility, no PTX JIT)"),
    "dgx-a100-8gpu--jax--driver-upgrade": dict(
        impossible=["no wheels for Python 3.8"], alternatives=[], driver="keep", repo=None,
        why="the newest open branch (A100 is Ampere, sm_80) would allow jax[cuda13], but no JAX release in the "
            "table has wheels for 20.04's Python 3.8: nothing to install, the driver included"),
    "driver-not-loaded--pytorch": dict(
        picks=[("pytorch", "2.4", "cu124")], driver="open", repo="ubuntu2004",
        repo_key=("3bf863cc.pub", "EB693B3035CD5710E231E123A4B469963BF863CC"),
        why="RTX 2070 (Turing, sm_75) with no driver: the newest open branch from NVIDIA's ubuntu2004 repository; "
            "torch 2.4 is the last for 20.04's Python 3.8, its newest CUDA build cu124 (sm_75 in its arch list)"),
    "driver-not-loaded--pytorch--os-rocky-9.4": dict(
        picks=[("pytorch", "2.8", "cu<=13.2")], driver="open", repo="rhel9",
        repo_key=("D42D0685.pub", "610C7B14E068A878070DA4E99CD0A493D42D0685"),
        why="the same RTX 2070 without a driver on Rocky Linux 9: NVIDIA's rhel9 repository (Rocky 9 is a RHEL 9 "
            "rebuild), its .repo file written by the plan with gpgcheck=1 and the RPM key D42D0685, whose full "
            "fingerprint NVIDIA prints in cuda-repo-management's SIGNATURES.md; the open branch's module stream; "
            "Rocky 9's python3 is 3.9, so torch 2.8 (its last), whose newest CUDA build the 595 driver runs"),
    "gtx1080-pascal--pytorch--driver-upgrade": dict(
        impossible=["dlws cannot install one on ubuntu 18.04"], alternatives=[("pytorch", "1.12", "cu102")],
        driver="manual", repo=None,
        why="GTX 1080 is Pascal (sm_61): with driver 580 (its last branch) torch 2.5 cu124 would fit (glibc 2.27 is "
            "below torch >= 2.6's manylinux_2_28), but dlws does not manage 18.04's packages, so it cannot install "
            "that driver: a plan that needs it cannot work (exit 1); the way out keeps driver 430 (CUDA 10.2): torch "
            "1.12 cu102, the newest with a CUDA 10.2 build, whose sm_60 SASS runs on sm_61"),
    "cpu-without-avx--pytorch": dict(
        picks=[("pytorch", "2.8", "cpu")], driver="none", repo=None,
        why="no GPU: the CPU build (torch needs no AVX); torch 2.8 is the last for Debian 11's Python 3.9"),
    "graviton3-arm64-server--jax": dict(
        picks=[("jax", "0.6.2", "cpu")], driver="none", repo=None,
        why="Graviton3 has no GPU: jaxlib's aarch64 CPU wheel; jax 0.6.2 is the last for 22.04's Python 3.10"),
    "mi250x-rocm-server--pytorch": dict(
        picks=[("pytorch", NEWEST, "rocm")], driver="none", repo=None,
        why="MI250X (gfx90a, CDNA2) is in the ROCm builds: the newest torch with a ROCm wheel, which brings ROCm's "
            "user space; no NVIDIA driver (the OS is unknown: nothing to install by package)"),
    "wsl2-rtx4070-laptop--pytorch": dict(
        picks=[("pytorch", NEWEST, "cu<=12.7")], driver="keep", repo=None,
        why="WSL 2: the Windows driver 566.36 (CUDA 12.7) serves the GPU and is never replaced from Linux; RTX 4070 "
            "Laptop is Ada (sm_89): the newest torch with a CUDA <= 12.7 build (12.8 only under minor-version "
            "compatibility)"),
    "docker-no-gpu--jax--variant-cpu": dict(
        picks=[("jax", "0.4.30", "cpu")], driver="none", repo=None,
        why="--variant cpu in a container without a GPU; jax 0.4.30 is the last for Debian 11's Python 3.9"),
    "centos7-k80--pytorch": dict(
        picks=[("pytorch", "2.5", "cpu")], driver="none", repo=None,
        why="the fixture has no GPU evidence yet, so the CPU build; glibc 2.17 (CentOS 7) loads manylinux2014 "
            "wheels only: torch 2.5 is the last; dlws does not manage CentOS 7's packages (Python is the user's)"),
    "cpu-without-avx--tensorflow": dict(
        impossible=["no AVX"], alternatives=[], driver="none", repo=None,
        why="every TensorFlow x86_64 wheel needs AVX and the Atom C3758 has none; there is no other build to offer"),
    "gtx1080-pascal--pytorch--driver-keep": dict(
        picks=[("pytorch", "1.12", "cu102")], driver="keep", repo=None,
        why="driver 430.26 reports CUDA 10.2: torch 1.12 is the newest release with a CUDA 10.2 build, from its "
            "per-variant index (1.11 on; older rows' CUDA builds sit on a find-links page dlws does not plan), and "
            "its cu102 arch list has sm_60 SASS, which runs on the GTX 1080's sm_61"),
    "debian12-docker-epyc-dev--mxnet": dict(
        impossible=["no wheels for Python 3.11"], alternatives=[], driver="none", repo=None,
        why="MXNet is retired; its last release 1.9.1 has wheels up to Python 3.8 and the machine's is 3.11.7"),
    "dgx-a100-8gpu--jax": dict(
        impossible=["no wheels for Python 3.8"], alternatives=[], driver="keep", repo=None,
        why="driver 450.51.06 (CUDA 11.0) is below jax[cuda12] and --driver install keeps it; but no JAX release "
            "has wheels for 20.04's Python 3.8, so neither a driver upgrade nor the CPU build is a way out"),
}


def newest_release(framework):
    if framework == "keras":
        return load("frameworks")["keras"]["version"]
    return max((row["version"] for row in load("frameworks")["frameworks"][framework]["releases"]), key=Version)


def _variant(framework, release, spec):
    """The build name a variant spec means for one release row (an exact name stands for itself)."""
    if framework == "keras" or not (spec == "rocm" or spec.startswith("cu<=")):
        return spec
    row = next(r for r in load("frameworks")["frameworks"][framework]["releases"] if r["version"] == release)
    if spec == "rocm":
        return max((n for n in row["variants"] if n.startswith("rocm")), key=lambda n: Version(n[4:]), default=None)
    ceiling = Version(spec[4:])
    cuda = [(Version(info["cuda"]), n) for n, info in row["variants"].items()
            if info.get("cuda") and Version(info["cuda"]) <= ceiling]
    return max(cuda)[1] if cuda else None


def resolve(framework, release, variant):
    """(framework, release, variant) with NEWEST and the variant rules replaced by the table's names."""
    if release == NEWEST:  # the newest row that has such a build (torch 2.15 has no CUDA 12 build; 2.14 has cu126)
        release = next((r for r in releases_newest_first(framework) if _variant(framework, r, variant)),
                       newest_release(framework))
    return framework, release, _variant(framework, release, variant)


def releases_newest_first(framework):
    if framework == "keras":
        return [load("frameworks")["keras"]["version"]]
    return sorted((row["version"] for row in load("frameworks")["frameworks"][framework]["releases"]), key=Version,
                  reverse=True)


def _driver(plan):
    step = next((s for s in plan["steps"] if s["id"] == "nvidia-driver"), None)
    if step is None:
        if any("install the NVIDIA driver yourself" in note for note in plan["notes"]):
            return "manual"
        return "keep" if plan["machine"]["driver"] else "none"
    names = [n for a in step["actions"] if a["kind"] == "packages" for n in a["names"]]
    for branch in load("install")["driver_branches"]:  # newest first: the first match names the branch
        if names in (branch["apt"], branch["dnf"]):
            newest_open = next(b for b in load("install")["driver_branches"] if b["flavour"] == "open")
            return "open" if branch is newest_open else branch["branch"]
    return "packages %s" % names


def _repo(plan):
    step = next((s for s in plan["steps"] if s["id"] == "nvidia-repo"), None)
    if step is None:
        return None
    text = " ".join(str(v) for a in step["actions"] for v in a.values())
    found = re.search(r"/compute/cuda/repos/([a-z0-9]+)/", text)
    return found.group(1) if found else "unreadable"


def _repo_key(plan):
    """(key file, pinned fingerprint) of the repository step's key, or why it trusts none the way it must: a dnf
    .repo file with gpgcheck off would install unsigned packages whatever key it names."""
    step = next((s for s in plan["steps"] if s["id"] == "nvidia-repo"), None)
    action = next((a for a in (step or {}).get("actions", []) if a.get("key_url")), None)
    if action is None:
        return None
    if action["kind"] == "dnfrepo" and not action["gpgcheck"]:
        return "gpgcheck off"
    return action["key_url"].rsplit("/", 1)[-1], action["key_fingerprint"]


def _alternative(text):
    """'... (pytorch 2.5, cu124)' -> ('pytorch', '2.5', 'cu124'); the CPU build's '(pytorch 2.5)' -> ..., 'cpu'."""
    found = re.search(r"\((\S+) (\S+?)(?:, (\S+))?\)$", text)
    return (found.group(1), found.group(2), found.group(3) or "cpu") if found else ("unreadable", text, None)


def mismatches(plan, expected):
    """How the plan (its JSON form) differs from the expectation; empty when it picks what is expected."""
    out = []
    picks = [(c["framework"], c["release"], c["variant"]) for c in plan["frameworks"]]
    if "picks" in expected:
        want = [resolve(*pick) for pick in expected["picks"]]
        if plan["impossible"]:
            out.append("expected a plan, got impossible: %s" % "; ".join(plan["impossible"]))
        elif picks != want:
            out.append("picks: expected %s, got %s" % (want, picks))
    elif not plan["impossible"]:
        out.append("expected impossible, got a plan: %s" % picks)
    else:
        for words in expected["impossible"]:
            if not any(words in reason for reason in plan["impossible"]):
                out.append("impossible: no reason says %r (%s)" % (words, "; ".join(plan["impossible"])))
    if "impossible" in expected:
        want = [resolve(*alt) for alt in expected["alternatives"]]
        have = [_alternative(text) for text in plan["alternatives"]]
        if have != want:
            out.append("alternatives: expected %s, got %s" % (want, have))
    for label, have, want in (("driver", _driver(plan), expected["driver"]), ("repo", _repo(plan), expected["repo"]),
                              ("repo_key", _repo_key(plan), expected.get("repo_key"))):
        if have != want:
            out.append("%s: expected %s, got %s" % (label, want, have))
    verify = next((s for s in plan["steps"] if s["id"] == "verify"), None)
    gpu = any(c["variant"] != "cpu" and c["framework"] != "keras" for c in plan["frameworks"])
    if verify is not None and gpu != ("the plan was made for" in str(verify["actions"])):
        out.append("verify: a GPU plan's last step must fail unless the GPUs are seen, a CPU plan's must not ask")
    toolkit = next((s for s in plan["steps"] if s["id"] == "cuda-toolkit"), None)
    if expected.get("toolkit", False):
        cuda = plan["frameworks"][0]["cuda"] if plan["frameworks"] else None
        package = "cuda-toolkit-%s" % (cuda or "?").replace(".", "-")
        if toolkit is None or package not in str(toolkit["actions"]):
            out.append("toolkit: expected %s, got %s" % (package, toolkit and toolkit["title"]))
    elif toolkit is not None:
        out.append("toolkit: expected none, got %s" % toolkit["title"])
    return out
