"""DLWS-LIB-005: a TensorFlow GPU build whose CUDA runtime or cuDNN the dynamic loader cannot find."""

from tests.test_doctor_rules import fired, mutate

RULE = "DLWS-LIB-005"
DEFAULT = {"path": "/usr/lib/x86_64-linux-gnu", "source": "default", "libraries": {}}


def tensorflow(version="2.7.0", cuda="11.2", loader=(DEFAULT,), cudnn=(), toolkits=None):
    def change(inv):
        inv["frameworks"]["tensorflow"] = {"version": version, "build": "cuda " + cuda, "cuda": cuda}
        inv["cudnn"], inv["loader_path"] = list(cudnn), [dict(f) for f in loader]
        if toolkits is not None:
            inv["cuda"]["toolkits"] = toolkits
    return mutate(change)


def test_fires_when_neither_library_is_on_the_loader_path():
    finding = fired(tensorflow(), RULE)[0]
    assert finding.evidence["missing"] == ["libcudart.so.11.0", "libcudnn.so.8"]
    assert finding.evidence["folders_searched"] == ["/usr/lib/x86_64-linux-gnu"]
    assert "cudatoolkit=11.2 cudnn=8.1" in finding.fix


def test_quiet_when_the_loader_finds_both():
    found = {"path": "/usr/local/cuda-11.2/lib64", "source": "ld.so.conf",
             "libraries": {"libcudart": ["11.2.152"], "libcudnn": ["8.1.1"]}}
    assert not fired(tensorflow(loader=(found, DEFAULT)), RULE)


def test_only_the_missing_one_and_a_wrong_major_is_missing():
    found = {"path": "/usr/local/cuda/lib64", "source": "LD_LIBRARY_PATH",
             "libraries": {"libcudart": ["12.4.127"], "libcudnn": ["8.9.7"]}}
    assert fired(tensorflow(loader=(found, DEFAULT)), RULE)[0].evidence["missing"] == ["libcudart.so.11.0"]


def test_quiet_when_the_loader_path_is_unknown():
    unread = {"path": "/usr/local/cuda/lib64", "source": "LD_LIBRARY_PATH", "libraries": {}}
    assert not fired(tensorflow(loader=(unread,)), RULE)  # no default folder: /etc/ld.so.conf was not read
    assert not fired(tensorflow(loader=()), RULE)


def test_quiet_with_nvidia_wheels():
    wheel = {"version": "8.9.4.25", "source": "pip:nvidia-cudnn-cu12", "path": None}
    assert not fired(tensorflow(version="2.15.0", cuda="12.2", cudnn=(wheel,)), RULE)


def test_and_cuda_from_2_14_and_the_conda_folder_named():
    fix = fired(tensorflow(version="2.15.0", cuda="12.2"), RULE)[0].fix
    assert fix.startswith('pip install "tensorflow[and-cuda]==2.15.*"')
    conda = [{"version": "11.2.2", "path": "/home/u/miniconda3/envs/tmp", "source": "conda"}]
    finding = fired(tensorflow(toolkits=conda), RULE)[0]
    assert finding.fix.startswith("add /home/u/miniconda3/envs/tmp/lib (the conda environment")
    on_path = {"path": "/home/u/miniconda3/envs/tmp/lib", "source": "LD_LIBRARY_PATH", "libraries": {}}
    assert not fired(tensorflow(toolkits=conda, loader=(on_path, DEFAULT)), RULE)[0].fix.startswith("add")
    other = [{"version": "10.1.243", "path": "/home/u/miniconda3/envs/tmp", "source": "conda"}]
    assert fired(tensorflow(toolkits=other), RULE)[0].evidence["conda_lib"] is None


def test_default_folders_are_recorded_only_once_ld_so_conf_was_read(tmp_path):
    from provision.inventory import loader
    from tests.test_env_facts import make_host, run

    listdir = {"/usr/lib/x86_64-linux-gnu": ["libc.so.6"], "/lib": ["libcudart.so.11.0", "libcudart.so.11.2.152"]}
    conf = {"/etc/ld.so.conf": "/usr/lib/x86_64-linux-gnu\n"}  # named there, yet a default folder
    read = run(loader, make_host(tmp_path / "a", files=conf, listdir=listdir))
    assert [(f.path, f.source, f.libraries) for f in read.loader_path] == [
        ("/usr/lib/x86_64-linux-gnu", "default", {}), ("/lib", "default", {"libcudart": ["11.2.152"]})]
    assert run(loader, make_host(tmp_path / "b", listdir=listdir)).loader_path == []
