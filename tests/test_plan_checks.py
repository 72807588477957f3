"""The checks a setup plan runs can pass and can fail: each is run for real, as the emitted script runs it.

The pip step's check reads the installed packages' metadata (here: dist-info folders written by the test, as pip
writes them); the last step imports the framework (here: a stand-in `torch` package that reports the GPUs the test
gives it). A GPU plan's last step must fail unless the framework sees the GPUs the plan was made for.
"""

import os
import subprocess
import sys

import pytest

from provision.inventory import collect
from provision.planner import plan as make_plan
from provision.setup_command import make_request
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")

#: A stand-in torch: what it reports comes from environment variables the test sets.
FAKE_TORCH = '''
import os


class _Tensor:
    def __matmul__(self, other):
        return self

    def sum(self):
        return 0.0

    def __float__(self):
        return 0.0


class _Cuda:
    @staticmethod
    def device_count():
        return int(os.environ.get("FAKE_GPUS", "0"))

    @staticmethod
    def is_available():
        return int(os.environ.get("FAKE_GPUS", "0")) > 0

    @staticmethod
    def get_device_capability(index):
        return tuple(int(x) for x in os.environ["FAKE_CC"].split("."))


class _Version:
    cuda = os.environ.get("FAKE_CUDA") or None
    hip = None


class _Backends:
    mps = None


__version__ = os.environ.get("FAKE_VERSION", "2.10.0+cu128")
cuda, version, backends = _Cuda(), _Version(), _Backends()


def randn(*shape, device=None):
    return _Tensor()
'''


def plan_for(fixture, variant="auto"):
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()
    result = make_plan(inv, make_request(("pytorch",), None, variant, None, "/opt/dlws/env", "keep", False))
    assert result.ok, result.impossible
    return result


def step(result, step_id):
    return next(s for s in result.steps if s.id == step_id)


def site(tmp_path, packages):
    """A folder of dist-info metadata, as pip leaves it, for the given name -> version."""
    root = tmp_path / "site"
    root.mkdir(exist_ok=True)
    for name, version in packages.items():
        info = root / ("%s-%s.dist-info" % (name, version))
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    return root


def run_check(command, tmp_path, path, **env):
    """Run a step's shell check with $DLWS_ENV/bin/python being this interpreter, on the given import path."""
    venv = tmp_path / "env"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    if not (venv / "bin" / "python").exists():
        os.symlink(sys.executable, str(venv / "bin" / "python"))
    environ = dict(os.environ, DLWS_ENV=str(venv), PYTHONPATH=str(path), PYTHONNOUSERSITE="1", **env)
    environ.pop("CUDA_VISIBLE_DEVICES", None)
    environ.update(env)
    return subprocess.run(["bash", "-c", command], env=environ, capture_output=True, text=True, timeout=60)


def labelled(pins, label):
    return {name: "%s+%s" % (version, label) for name, version in pins.items()}


def bump(version):
    parts = version.split(".")
    return ".".join(parts[:-1] + [str(int(parts[-1]) + 1)])


@pytest.mark.parametrize("change, ok", [
    (lambda p, v: labelled(p, v), True),  # what PyTorch's index installs: ==2.10.0 matches 2.10.0+cu128, as pip does
    (lambda p, v: dict(labelled(p, v), torchaudio=p["torchaudio"]), True),  # a companion without a label
    (lambda p, v: dict(labelled(p, v), torch=p["torch"] + "+cpu"), False),  # the CPU build is not the CUDA plan
    (lambda p, v: dict(labelled(p, v), torch=p["torch"]), False),  # nor an unlabelled torch (PyPI's, whatever it is)
    (lambda p, v: dict(labelled(p, v), torch=bump(p["torch"]) + "+" + v), False),  # another release
    (lambda p, v: dict(labelled(p, v), torchvision=p["torchvision"] + "+cu999"), False),  # a companion of another build
    (lambda p, v: {k: x for k, x in labelled(p, v).items() if k != "torchaudio"}, False),  # one missing
])
def test_the_pip_check_compares_as_pip_does_and_confirms_the_variant(tmp_path, change, ok):
    result = plan_for("h100-sxm-server")
    choice = result.choices[0]
    assert choice.variant.startswith("cu") and choice.local == choice.variant
    installed = change(choice.packages, choice.variant)
    done = run_check(step(result, "install-pytorch").check, tmp_path, site(tmp_path, installed))
    assert (done.returncode == 0) is ok, (installed, done.stderr)


def test_a_pypi_build_carries_no_label(tmp_path):
    # macOS: torch comes from PyPI, whose wheels carry no local label, so an unlabelled torch is the plan's
    result = plan_for("macos-m2-max")
    pins = result.choices[0].packages
    assert result.choices[0].local == ""
    assert run_check(step(result, "install-pytorch").check, tmp_path, site(tmp_path, pins)).returncode == 0


def verify(result, tmp_path, **env):
    code = step(result, "verify").actions[0].code
    package = tmp_path / "fake" / "torch"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(FAKE_TORCH)
    environ = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"), PYTHONNOUSERSITE="1")
    environ.pop("CUDA_VISIBLE_DEVICES", None)
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60)


def test_a_gpu_plans_last_step_fails_unless_the_framework_sees_the_gpus(tmp_path):
    result = plan_for("h100-sxm-server")  # 8 H100s, compute capability 9.0
    seen = verify(result, tmp_path, FAKE_GPUS="8", FAKE_CC="9.0", FAKE_CUDA="12.8")
    assert seen.returncode == 0, seen.stderr
    cpu_only = verify(result, tmp_path, FAKE_VERSION="2.10.0+cpu")
    assert cpu_only.returncode == 1
    assert "dlws: torch 2.10.0+cpu (CUDA None, ROCm None) sees 0 GPU(s); the plan was made for 8 (9.0)" \
        in cpu_only.stderr
    hidden = verify(result, tmp_path, FAKE_GPUS="1", FAKE_CC="9.0", FAKE_CUDA="12.8", CUDA_VISIBLE_DEVICES="0")
    assert hidden.returncode == 1 and "CUDA_VISIBLE_DEVICES='0'" in hidden.stderr
    other = verify(result, tmp_path, FAKE_GPUS="8", FAKE_CC="8.0", FAKE_CUDA="12.8")
    assert other.returncode == 1 and "of compute capability 8.0" in other.stderr


def test_a_cpu_plans_last_step_runs_on_the_cpu(tmp_path):
    result = plan_for("h100-sxm-server", variant="cpu")
    done = verify(result, tmp_path, FAKE_VERSION="2.10.0+cpu")
    assert done.returncode == 0, done.stderr
    assert "sees" not in step(result, "verify").actions[0].code


#: A stand-in TensorFlow 1.x: no tf.config, GPUs only through device_lib, no get_build_info.
FAKE_TF1 = {
    "tensorflow/__init__.py": '''
import os


class _Tensor:
    def __matmul__(self, other):
        return self

    def __float__(self):
        return 0.0


class sysconfig:
    pass


class random:
    @staticmethod
    def normal(shape):
        return _Tensor()


def executing_eagerly():
    return True


def reduce_sum(tensor):
    return tensor


__version__ = "1.15.5"
''',
    "tensorflow/python/__init__.py": "",
    "tensorflow/python/client/__init__.py": "",
    "tensorflow/python/client/device_lib.py": '''
import os


class _Device:
    def __init__(self, kind):
        self.device_type = kind


def list_local_devices():
    return [_Device("CPU")] + [_Device("GPU") for _ in range(int(os.environ.get("FAKE_GPUS", "0")))]
''',
}


def test_the_tensorflow_check_runs_on_tensorflow_1(tmp_path):
    """TF 1.x has no tf.config.list_physical_devices: the last step counts its GPUs through device_lib."""
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "h100-sxm-server"))).to_dict()
    result = make_plan(inv, make_request(("tensorflow",), None, "auto", None, "/opt/dlws/env", "keep", False))
    code = step(result, "verify").actions[0].code
    for path, text in FAKE_TF1.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    environ = dict(os.environ, PYTHONPATH=str(tmp_path), PYTHONNOUSERSITE="1")
    environ.pop("CUDA_VISIBLE_DEVICES", None)
    none = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60)
    assert none.returncode == 1 and "tensorflow 1.15.5 (CUDA None) sees 0 GPU(s)" in none.stderr
    eight = subprocess.run([sys.executable, "-c", code], env=dict(environ, FAKE_GPUS="8"), capture_output=True,
                           text=True, timeout=60)
    assert eight.returncode == 0, eight.stderr
