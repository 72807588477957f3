"""Issue 16, class 1: the ptxas XLA compiles with (the nvidia-cuda-nvcc wheel first, else PATH's), read through the
host and replayed; DLWS-LIB-003 when it is newer than the driver's CUDA."""

import json

from provision.inventory import packages, ptxas
from provision.inventory.model import Inventory, Toolkit
from provision.snapshot import open_snapshot
from tests.test_doctor_rules import fired, mutate

SITE = "/home/ana/venv/lib/python3.11/site-packages"


def host(tmp_path, sites, path=None, links=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    facts = {"python": {"path": [SITE]}}
    if path:
        facts["env:PATH"] = path
    (tmp_path / "host.json").write_text(json.dumps({"facts": facts, "listdir": {SITE: sites},
                                                    "realpath": links or {}}))
    return open_snapshot(str(tmp_path))


def probe(found, toolkits=()):
    inv = Inventory()
    inv.cuda.toolkits = list(toolkits)
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
