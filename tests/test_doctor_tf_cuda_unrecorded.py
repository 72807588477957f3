"""DLWS-FW-003 for a TensorFlow GPU build that does not record its CUDA (tensorflow-gpu before 2.1 writes only
is_cuda_build in build_info.py): the CUDA of the conda environment it lies in, else its release's tested build
configuration, judged against the driver. Before, such a build on a driver too old for it got no finding."""

from provision import compat

from test_doctor_rules import TODAY, fired
from test_old_stacks import machine


def tf_gpu(driver, cuda_driver, version="1.13.1", location="/usr/local/lib/python3.6/dist-packages"):
    """One GTX 1080 on that driver; tensorflow-gpu of that version, its CUDA unrecorded."""
    inv = machine("6.1", "GeForce GTX 1080", driver, cuda_driver, python="3.6.9")
    inv["frameworks"].pop("torch", None)
    inv["frameworks"]["tensorflow"] = {"version": version, "build": "cuda", "cuda": None,
                                       "package": "tensorflow-gpu", "location": location}
    return inv


def test_tensorflow_gpu_113_on_a_cuda_9_driver_needs_cuda_10s_driver():
    (found,) = fired(tf_gpu("384.130", "9.0"), "DLWS-FW-003", today=TODAY)
    assert found.severity == "error" and "410.48" in found.fix
    assert (found.evidence["cuda"], found.evidence["cuda_from"]) == ("10.0", "release table")
    assert not fired(tf_gpu("410.48", "10.0"), "DLWS-FW-003", today=TODAY)


def test_a_conda_environments_cudatoolkit_is_the_cuda_it_loads():
    # ContinuumIO/anaconda-issues#10224: conda's TF 1.11 "compiled against CUDA 9.2 which requires a minimum driver
    # version of 396.26", on driver 390.87 (TF 1.11 is older than the frameworks table: only the toolkit says)
    env = "/home/user/anaconda3/envs/tf"
    inv = tf_gpu("390.87", "9.1", version="1.11.0", location=env + "/lib/python3.6/site-packages")
    inv["cuda"]["toolkits"] = [{"version": "9.2", "path": env, "source": "conda"}]
    (found,) = fired(inv, "DLWS-FW-003", today=TODAY)
    assert (found.evidence["cuda"], found.evidence["cuda_from"]) == ("9.2", "conda cudatoolkit")
    assert compat.installed_cuda(inv, "tensorflow", inv["frameworks"]["tensorflow"]) == ("9.2", "conda cudatoolkit")


def test_nothing_is_implied_for_a_cpu_build_a_recorded_cuda_or_another_framework():
    cpu = tf_gpu("384.130", "9.0")
    cpu["frameworks"]["tensorflow"]["build"] = "cpu"
    assert not fired(cpu, "DLWS-FW-003", today=TODAY)
    recorded = tf_gpu("384.130", "9.0")
    recorded["frameworks"]["tensorflow"]["cuda"] = "10.0"
    assert compat.installed_cuda(recorded, "tensorflow", recorded["frameworks"]["tensorflow"]) == ("10.0", "build")
    torch = {"version": "1.3.1", "build": "cuda", "cuda": None, "package": "torch"}
    assert compat.installed_cuda(recorded, "torch", torch) == (None, "")
    unknown = tf_gpu("384.130", "9.0", version="1.9.0")  # older than the table, outside conda: unknown
    assert not fired(unknown, "DLWS-FW-003", today=TODAY)
