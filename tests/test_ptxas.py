"""Issue 16, class 1: the ptxas XLA compiles with (the nvidia-cuda-nvcc wheel first, else PATH's), read through the
host and replayed; DLWS-LIB-003 when it is newer than the driver's CUDA. The ptxas Triton compiles with (its wheel's,
by the triton table, or TRITON_PTXAS_PATH's); DLWS-LIB-004 when the driver cannot run its cubins."""

import json

from provision.doctor import diagnose
from provision.inventory import packages, ptxas
from provision.inventory.model import Gpu, Inventory, Toolkit
from provision.snapshot import open_snapshot
from tests.test_doctor_rules import driver550, fired, mutate

SITE = "/home/ana/venv/lib/python3.11/site-packages"


def host(tmp_path, sites, path=None, links=None, env=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    facts = {"python": {"path": [SITE]}}
    facts.update({"env:" + name: value for name, value in (env or {}).items()})
    if path:
        facts["env:PATH"] = path
    (tmp_path / "host.json").write_text(json.dumps({"facts": facts, "listdir": {SITE: sites},
                                                    "realpath": links or {}}))
    return open_snapshot(str(tmp_path))


def probe(found, toolkits=(), ccs=()):
    inv = Inventory()
    inv.cuda.toolkits = list(toolkits)
    inv.gpus = [Gpu(index=n, vendor="nvidia", compute_capability=cc) for n, cc in enumerate(ccs)]
    ptxas.probe(found, inv)
    return [(p.version, p.source, p.path) for p in inv.ptxas]


def test_the_wheel_comes_first_then_the_ptxas_on_path(tmp_path):
    found = host(tmp_path, ["nvidia_cuda_nvcc_cu12-12.5.40.dist-info"], path="/usr/bin:/usr/local/cuda/bin",
                 links={"/usr/local/cuda/bin/ptxas": "/usr/local/cuda-12.4/bin/ptxas"})
    packages.remember(found, [SITE])
    assert probe(found, [Toolkit("12.4.131", "/usr/local/cuda-12.4", "PATH")]) == [
        ("12.5.40", "pip:nvidia-cuda-nvcc-cu12", SITE + "/nvidia/cuda_nvcc/bin/ptxas"),
        ("12.4.131", "PATH", "/usr/local/cuda-12.4/bin/ptxas")]


def test_a_ptxas_in_no_known_toolkit_has_no_version_and_none_is_nothing(tmp_path):
    found = host(tmp_path / "a", [], path="/opt/bin", links={"/opt/bin/ptxas": "/opt/bin/ptxas"})
    packages.remember(found, [SITE])
    assert probe(found) == [(None, "PATH", "/opt/bin/ptxas")]
    bare = host(tmp_path / "b", ["numpy-1.26.4.dist-info"], path="/usr/bin")
    packages.remember(bare, [SITE])
    assert probe(bare) == []


def jax_with_ptxas(version, source="pip:nvidia-cuda-nvcc-cu12"):
    def change(i):
        driver550(i)  # CUDA 12.4
        i["frameworks"] = {"jax": {"version": "0.4.24", "build": "cuda 12", "cuda": "12"}}
        i["ptxas"] = [{"version": version, "source": source, "path": "/x/ptxas"}]
    return change


def test_lib003_fires_only_for_a_ptxas_newer_than_the_driver_and_a_cuda_jax():
    assert fired(mutate(jax_with_ptxas("12.5.40")), "DLWS-LIB-003")  # driver 550: CUDA 12.4
    assert not fired(mutate(jax_with_ptxas("12.4.131", "PATH")), "DLWS-LIB-003")
    assert not fired(mutate(jax_with_ptxas(None, "PATH")), "DLWS-LIB-003")  # unknown: no claim
    cpu = mutate(lambda i: (jax_with_ptxas("12.5.40")(i), i["frameworks"]["jax"].update(build="cpu", cuda=None)))
    assert not fired(cpu, "DLWS-LIB-003")
    unknown_driver = mutate(lambda i: (jax_with_ptxas("12.5.40")(i), i["nvidia"].update(cuda_driver_version=None)))
    assert not fired(unknown_driver, "DLWS-LIB-003")


BIN = SITE + "/triton/backends/nvidia/bin/"


def test_triton_runs_its_bundled_ptxas_or_ptxas_blackwell_by_the_gpus_architecture(tmp_path):
    found = host(tmp_path, ["triton-3.3.0.dist-info"], links={BIN + "ptxas": BIN + "ptxas"})
    packages.remember(found, [SITE])
    plain, blackwell = ("12.4.99", "triton", BIN + "ptxas"), ("12.8.61", "triton", BIN + "ptxas-blackwell")
    assert probe(found, ccs=["8.0"]) == [plain]  # the triton table: ptxas-blackwell from sm 100 in 3.3.0
    assert probe(found, ccs=["10.0"]) == [blackwell]
    assert probe(found, ccs=["8.0", "10.0"]) == [plain, blackwell]
    assert probe(found) == [plain, blackwell]  # no architecture known: both
    named = host(tmp_path / "b", ["triton-3.7.0.dist-info"], env={"TRITON_PTXAS_BLACKWELL_PATH": "/opt/ptxas"},
                 links={BIN + "ptxas": BIN + "ptxas", "/opt/ptxas": "/usr/local/cuda-12.8/bin/ptxas"})
    packages.remember(named, [SITE])
    assert probe(named, [Toolkit("12.8.93", "/usr/local/cuda-12.8", "PATH")], ccs=["10.0"]) == [
        ("12.8.93", "TRITON_PTXAS_BLACKWELL_PATH", "/usr/local/cuda-12.8/bin/ptxas")]  # 3.7.0 reads it


def test_triton_ptxas_path_comes_first_and_an_unknown_triton_has_no_version(tmp_path):
    found = host(tmp_path / "a", ["triton-2.2.0.dist-info"], env={"TRITON_PTXAS_PATH": "/usr/local/cuda/bin/ptxas"},
                 links={"/usr/local/cuda/bin/ptxas": "/usr/local/cuda-11.8/bin/ptxas",
                        SITE + "/triton/third_party/cuda/bin/ptxas": SITE + "/triton/third_party/cuda/bin/ptxas"})
    packages.remember(found, [SITE])
    assert probe(found, [Toolkit("11.8.89", "/usr/local/cuda-11.8", "PATH")], ccs=["8.0"]) == [
        ("11.8.89", "TRITON_PTXAS_PATH", "/usr/local/cuda-11.8/bin/ptxas")]
    missing = host(tmp_path / "b", ["triton-2.2.0.dist-info"], env={"TRITON_PTXAS_PATH": "/nowhere/ptxas"},
                   links={SITE + "/triton/third_party/cuda/bin/ptxas": SITE + "/triton/third_party/cuda/bin/ptxas"})
    packages.remember(missing, [SITE])
    assert probe(missing) == [("12.3.52", "triton", SITE + "/triton/third_party/cuda/bin/ptxas")]
    nightly = host(tmp_path / "c", ["pytorch_triton-3.2.0+git4b3bb1f8.dist-info"],
                   links={BIN + "ptxas": BIN + "ptxas"})
    packages.remember(nightly, [SITE])
    assert probe(nightly) == [(None, "triton", BIN + "ptxas")]  # a release the table does not know


def torch_with_triton(version, path="/x/triton/backends/nvidia/bin/ptxas", source="triton"):
    def change(i):
        i["ptxas"] = [{"version": version, "source": source, "path": path}]
    return change


def test_lib004_fires_only_for_a_triton_ptxas_of_a_cuda_the_driver_cannot_run():
    def on_driver(cuda, change):
        return mutate(lambda i: (change(i), i["nvidia"].update(cuda_driver_version=cuda)))

    old = on_driver("11.4", torch_with_triton("12.3.52"))
    assert fired(old, "DLWS-LIB-004")  # pytorch/pytorch#119054
    finding = next(f for f in diagnose(old).findings if f.id == "DLWS-LIB-004")
    assert "CUDA 12.3 or newer" in finding.fix and "triton " not in finding.fix.split("TRITON_PTXAS_PATH")[1]
    assert not fired(on_driver("12.2", torch_with_triton("12.4.99")), "DLWS-LIB-004")  # minor-version compatible
    assert not fired(on_driver("11.4", torch_with_triton("11.8.89", source="TRITON_PTXAS_PATH")), "DLWS-LIB-004")
    assert not fired(on_driver("11.4", torch_with_triton(None)), "DLWS-LIB-004")  # unknown: no claim
    assert not fired(mutate(lambda i: (torch_with_triton("13.1.80")(i), i["frameworks"]["torch"].update(
        build="cpu", cuda=None))), "DLWS-LIB-004")
    assert not fired(on_driver(None, torch_with_triton("13.1.80")), "DLWS-LIB-004")
    blackwell = on_driver("12.8", torch_with_triton("13.1.80", path="/x/triton/backends/nvidia/bin/ptxas-blackwell"))
    assert fired(blackwell, "DLWS-LIB-004")


def test_lib003_leaves_tritons_ptxas_to_lib004():
    def change(i):
        jax_with_ptxas("12.4.131", "PATH")(i)
        i["ptxas"].append({"version": "12.8.93", "source": "triton", "path": "/x/ptxas"})
    assert not fired(mutate(change), "DLWS-LIB-003")
