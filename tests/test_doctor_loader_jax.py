"""DLWS-LIB-001 for JAX: without the nvidia-cudnn wheel (jax[cudaNN-local]) the first cuDNN the loader finds is judged
against the cuDNN floor of the installed release's jax[cudaNN] extra (frameworks.json releases[].cuda_extra_requires:
cuda13 '>=9.12.0,<10.0' for 0.12.0.1; cuda12 '>=9.8,<10.0' for 0.11.1, '>=9.10.2,<10.0' from 0.11.2 on); with the
wheel, JAX's plugin loads the wheel's copy by its path from 0.6.2 on and the rule stays quiet for such a JAX."""

import pytest

from provision.doctor.rules.loader import cudnn_needed
from test_doctor_rules import fired, healthy


def jax_machine(version, cuda, cudnn, source="LD_LIBRARY_PATH", wheel=False):
    inv = healthy()
    inv["frameworks"] = {name: {"version": version, "build": "cuda %s" % cuda, "cuda": cuda, "package": name}
                         for name in ("jax", "jaxlib")}
    inv["cudnn"] = [{"version": "9.12.0.46", "source": "pip:nvidia-cudnn-cu%s" % cuda, "path": None}] if wheel else []
    inv["loader_path"] = [{"path": "/usr/local/cuda-%s.0/lib64" % cuda, "source": source,
                           "libraries": {"libcudnn": [cudnn]}}]
    return inv


def test_the_floor_is_the_extras_per_release_and_cuda_major():
    assert cudnn_needed("jax", {"version": "0.12.0.1", "cuda": "13"}) == "9.12.0"
    assert cudnn_needed("jax", {"version": "0.12.0.1", "cuda": "12"}) == "9.10.2"
    assert cudnn_needed("jax", {"version": "0.11.1", "cuda": "12"}) == "9.8"
    assert cudnn_needed("jax", {"version": "0.4.21", "cuda": "12"}) is None  # no extra: no floor known
    assert cudnn_needed("jaxlib", {"version": "0.12.0.1", "cuda": "13"}) is None  # judged through jax


@pytest.mark.parametrize("source", ["LD_LIBRARY_PATH", "ld.so.conf"])
def test_a_system_cudnn_older_than_the_floor_fires_once_for_jax(source):
    (finding,) = fired(jax_machine("0.12.0.1", "13", "9.8.0", source), "DLWS-LIB-001")
    assert finding.severity == "error" and finding.subject == "jax"
    assert finding.evidence["cudnn_needed"] == "9.12.0" and finding.evidence["loaded"] == "9.8.0"


@pytest.mark.parametrize("version,cudnn,fires", [
    ("0.11.1", "9.9.0", False),  # floor 9.8
    ("0.11.2", "9.9.0", True),   # floor 9.10.2
    ("0.11.2", "9.10.2", False),
])
def test_the_floor_moves_with_the_release(version, cudnn, fires):
    assert bool(fired(jax_machine(version, "12", cudnn), "DLWS-LIB-001")) is fires


def test_quiet_at_or_above_the_floor_and_where_the_wheel_is_loaded():
    assert fired(jax_machine("0.12.0.1", "13", "9.14.0"), "DLWS-LIB-001") == []
    assert fired(jax_machine("0.12.0.1", "13", "9.8.0", wheel=True), "DLWS-LIB-001") == []


def test_before_0_6_2_the_loader_path_copy_still_shadows_the_wheel():
    """jax 0.6.1's plugin did not load the wheels by path yet (jax-ml/jax#17497: LD_LIBRARY_PATH's copy first)."""
    (finding,) = [f for f in fired(jax_machine("0.6.1", "12", "9.1.0", wheel=True), "DLWS-LIB-001")
                  if f.subject == "jax"]
    assert finding.severity == "error" and finding.evidence["cudnn_needed"] == "9.8"
