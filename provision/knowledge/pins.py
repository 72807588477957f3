"""What the setup planner installs: the exact pins, pip requirements and package index of a framework build,
JAX's CUDA extras and Keras (Keras 3: its pins and the backend it runs on; Keras 2 and tf-keras: the TensorFlow
release each pairs with).

Every function is pure and total: an unknown build answers None or an empty list, never an exception.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from provision.knowledge import load
from provision.knowledge.frameworks import framework_release, normalize_framework
from provision.knowledge.versions import Row


def framework_pins(framework: str, release: str, variant: str) -> Dict[str, str]:
    """package -> exact version for one build: ('pytorch', '2.4', 'cu121') -> {'torch': '2.4.1', 'torchvision':
    '0.19.1', 'torchaudio': '2.4.1'}; ('jax', '0.4.30', 'cuda12') -> {'jax': '0.4.30', 'jaxlib': '0.4.30'};
    ('mxnet', '1.9', 'cu112') -> {'mxnet-cu112': '1.9.1', 'numpy': '1.23.5'}.

    Empty when the release or the variant is unknown, or the release has no such build (jax[cuda13] before 0.7.2).
    """
    row = framework_release(framework, release)
    if row is None or not isinstance(variant, str) or not _has_variant(normalize_framework(framework), row, variant):
        return {}
    return dict((row.get("variant_pins") or {}).get(variant) or row.get("pins") or {})


def _has_variant(name: Optional[str], row: Row, variant: str) -> bool:
    if name == "jax":
        return variant == "cpu" or variant in row.get("cuda_extras", [])
    if name == "tensorflow":
        return variant == "cpu" or (variant == "cuda" and bool(row.get("cuda")))
    return variant in (row.get("variants") or {})


def pip_requirements(framework: str, release: str, variant: str) -> List[str]:
    """The pip requirement strings of a build, extras included: ['jax[cuda12]==0.4.30', 'jaxlib==0.4.30'],
    ['tensorflow[and-cuda]==2.15.1'] (the extra only from 2.14 on), ['torch==2.4.1', ...]. Empty when unknown."""
    pins = framework_pins(framework, release, variant)
    name = normalize_framework(framework)
    row = framework_release(framework, release) or {}
    extra = ""
    if name == "jax" and variant != "cpu":
        extra = "[%s]" % variant
    elif name == "tensorflow" and variant == "cuda" and row.get("and_cuda_extra"):
        extra = "[and-cuda]"
    main = (load("frameworks")["frameworks"].get(name or "") or {}).get("package")
    return ["%s%s==%s" % (package, extra if package == main else "", version) for package, version in pins.items()]


def pip_index_url(framework: str, release: str, variant: str, system: str = "linux") -> Optional[str]:
    """The index a build comes from: PyTorch's per-variant index on Linux and Windows
    ('https://download.pytorch.org/whl/cu126'); None for PyPI (TensorFlow, JAX, MXNet, torch on macOS), for builds
    the release does not have and for systems other than 'linux' and 'windows'."""
    row = framework_release(framework, release)
    if not framework_pins(framework, release, variant) or not isinstance(system, str):
        return None
    template = row.get("index_url") if row else None
    if not template or system.strip().lower() not in ("linux", "windows"):
        return None
    return template.format(variant=variant)


def installable(framework: str, release: str, variant: str, system: str = "linux") -> bool:
    """Whether a plan can install this build by its pins: from its index, or from PyPI where PyPI's wheel is that
    build. False for torch before 1.11 but for PyPI's default build: its other wheels sit on a find-links page
    (torch_stable.html), from which an unlabelled pin would install whichever build pip prefers."""
    row = framework_release(framework, release)
    if row is None or not framework_pins(framework, release, variant):
        return False
    if normalize_framework(framework) != "pytorch" or row.get("index_url") or system == "darwin":
        return True
    return variant == (row.get("reference") or {}).get("pypi_default_linux_x86_64")


def local_label(framework: str, release: str, variant: str, system: str = "linux") -> str:
    """The PEP 440 local label the build's wheels carry ('cu124': torch 2.4.1 from PyTorch's cu124 index installs as
    2.4.1+cu124); '' for wheels from PyPI, which carry none."""
    template = (load("frameworks")["frameworks"].get(normalize_framework(framework) or "") or {}).get("pip", {}) \
        .get("local_label")
    if not template or pip_index_url(framework, release, variant, system) is None:
        return ""
    return str(template).format(variant=variant)


def jax_cuda_extras(release: str) -> List[str]:
    """The CUDA extras that install from PyPI for a JAX release: ['cuda12', 'cuda13'] for 0.7.2 on, [] before
    0.4.22 (its CUDA jaxlibs came from Google's find-links page)."""
    row = framework_release("jax", release)
    return list(row.get("cuda_extras", [])) if row else []


def keras_info() -> Row:
    """The Keras 3 entry: pins, Python floor, backends with their minimum framework versions, KERAS_BACKEND."""
    return load("frameworks")["keras"]


def keras_pins() -> Dict[str, str]:
    """{'keras': '3.15.1'}: the Keras 3 release dlws installs on top of a backend framework."""
    return dict(keras_info().get("pins") or {})


def keras_backend(framework: Any) -> Optional[str]:
    """The KERAS_BACKEND value for a framework dlws installs: 'pytorch' -> 'torch', 'jax' -> 'jax', 'tf' ->
    'tensorflow'; None for frameworks Keras 3 cannot run on (MXNet) and for garbage."""
    name = normalize_framework(framework)
    backends = keras_info().get("backends") or {}
    return next((key for key, info in sorted(backends.items()) if name and info.get("framework") == name), None)


def keras2_for_tensorflow(release: Any) -> Optional[Row]:
    """The Keras 2 row TensorFlow `release` (its row, '2.15') requires: {'version': '2.15', 'pins': {'keras':
    '2.15.0'}, ...}; None from 2.16 (Keras 3) and before 2.6 (tf.keras inside TensorFlow)."""
    return _paired(keras_info().get("keras_2"), release)


def tf_keras_for_tensorflow(release: Any) -> Optional[Row]:
    """The tf-keras row (Keras 2 for TensorFlow >= 2.16, switched on by TF_USE_LEGACY_KERAS) of a TensorFlow
    release row; None where the table pairs none."""
    return _paired(keras_info().get("tf_keras"), release)


def _paired(entry: Any, release: Any) -> Optional[Row]:
    rows = (entry or {}).get("releases") or [] if isinstance(entry, dict) else []
    return next((row for row in rows if isinstance(release, str) and row.get("tensorflow") == release), None)
