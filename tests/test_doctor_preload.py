"""LD_PRELOAD and /etc/ld.so.preload in the loader model: a preloaded libcudnn.so.<major> is the copy every framework
of the process gets (DLWS-LIB-001 judges it, DLWS-LIB-002's import order no longer matters), a preloaded soname
TensorFlow needs is not claimed missing (DLWS-LIB-005); only file names are recorded, so a version neither the name
nor the recorded folders give is an info line that names the preload, never a verdict."""

import json

from provision.doctor.rules.loader import preloaded
from provision.inventory import loader
from provision.snapshot import open_snapshot
from test_doctor_rules import CASES, fired, healthy, mutate
from test_env_facts import make_host, run

#: healthy()'s torch 2.4.1+cu121 was built with cuDNN 9.1.0.70 and loads the nvidia-cudnn-cu12 wheel 9.1.0.70.
SYSTEM = "/usr/lib/x86_64-linux-gnu"


def machine(preload=None, etc=(), folders=None, wheel=True):
    inv = healthy()
    if preload is not None:
        inv["env_vars"]["LD_PRELOAD"] = preload
    inv["ld_so_preload"] = list(etc)
    inv["loader_path"] = [{"path": path, "source": "default", "libraries": libs}
                          for path, libs in (folders or {}).items()]
    if not wheel:
        inv["cudnn"] = []
    return inv


def lib001(inv):
    return fired(inv, "DLWS-LIB-001")


def test_a_preloaded_older_cudnn_named_with_its_version_is_a_warning_naming_how_to_drop_it():
    (found,) = lib001(machine("libcudnn.so.9.0.0 libjemalloc.so.2"))
    assert found.severity == "warning" and found.subject == "torch"
    assert found.evidence["loaded"] == "9.0.0" and found.evidence["version_from"] == "its name"
    assert "take libcudnn.so.9.0.0 out of LD_PRELOAD" in found.fix and "9.1.0.70" in found.fix
    assert "cannot be preloaded" in found.fix  # a name whose file is missing is skipped by ld.so


def test_the_version_of_a_bare_soname_comes_from_the_folders_that_agree_on_it():
    (found,) = lib001(machine("libcudnn.so.9", folders={SYSTEM: {"libcudnn": ["9.0.0"]}}))
    assert found.severity == "warning" and found.evidence["version_from"] == SYSTEM
    # Two recorded copies that disagree: which one the name reaches is not known.
    (found,) = lib001(machine("libcudnn.so.9", folders={SYSTEM: {"libcudnn": ["9.0.0"]},
                                                         "/opt/cudnn/lib": {"libcudnn": ["9.3.0"]}}))
    assert found.severity == "info" and found.evidence["loaded"] is None and "cannot be judged" in found.title


def test_an_unknown_preloaded_version_is_an_info_line_naming_the_preload():
    (found,) = lib001(machine("libcudnn.so.9"))
    assert found.severity == "info" and found.evidence["preloaded"] == "libcudnn.so.9"
    assert "LD_PRELOAD preloads libcudnn.so.9" in found.title


def test_the_preload_beats_ld_library_path_and_etc_ld_so_preload_counts_too():
    inv = machine(etc=["libcudnn.so.9.0.0"])
    inv["loader_path"].insert(0, {"path": "/usr/local/cuda-12.4/lib64", "source": "LD_LIBRARY_PATH",
                                  "libraries": {"libcudnn": ["9.5.0"]}})
    (found,) = lib001(inv)
    assert found.evidence["named_in"] == "/etc/ld.so.preload" and found.evidence["loaded"] == "9.0.0"
    assert "edit /etc/ld.so.preload" in found.fix


def test_the_same_or_another_major_is_quiet():
    assert lib001(machine("libcudnn.so.9.1.0")) == []  # the wheel's own version
    assert lib001(machine("libcudnn.so.8.9.7 libtcmalloc.so.4")) == []  # another soname: its symbols are versioned
    assert lib001(machine("libjemalloc.so.2")) == []
    assert lib001(machine(None, folders={SYSTEM: {"libcudnn": ["9.0.0"]}})) == []  # not preloaded: after RUNPATH


def test_a_newer_preload_replacing_the_wheel_is_information_and_without_a_wheel_it_is_fine():
    (found,) = lib001(machine("libcudnn.so.9.5.1"))
    assert found.severity == "info" and "replaces torch's own" in found.title
    assert lib001(machine("libcudnn.so.9.5.1", wheel=False)) == []
    (older,) = lib001(machine("libcudnn.so.9.0.0", wheel=False))
    assert older.severity == "warning" and "preload a cuDNN >= 9.1.0.70" in older.fix


def test_jax_that_loads_the_wheel_by_path_still_gets_the_preloaded_copy():
    inv = machine("libcudnn.so.9.1.0")
    inv["frameworks"] = {name: {"version": "0.12.0.1", "build": "cuda 13", "cuda": "13", "package": name}
                         for name in ("jax", "jaxlib")}
    inv["cudnn"] = [{"version": "9.12.0.46", "source": "pip:nvidia-cudnn-cu13", "path": None}]
    (found,) = lib001(inv)
    assert found.subject == "jax" and found.severity == "warning"  # 9.1 < the extra's floor 9.12.0


def test_preloaded_parses_names_and_sources():
    inv = machine("libcudart.so.11.0", etc=["libnccl.so.2.18.1"])
    assert preloaded(inv, "libcudart", 11)["version"] is None  # .so.11.0 is cudart 11's soname, not a version
    assert preloaded(inv, "libnccl", 2) == {"preloaded": "libnccl.so.2.18.1", "named_in": "/etc/ld.so.preload",
                                            "version": "2.18.1", "version_from": "its name"}
    assert preloaded(inv, "libcudnn", 9) is None
    assert preloaded(machine("libcudnn_ops_infer.so.8"), "libcudnn", 8) is None  # another soname
    # a hand-made recording may keep ld.so's colons and the folders: the names are what counts
    assert preloaded(machine("/opt/x/libcudnn.so.9.0.0:libjemalloc.so.2"), "libcudnn", 9)["version"] == "9.0.0"


def test_lib002_import_order_does_not_matter_under_a_preload():
    inv = mutate(CASES["DLWS-LIB-002"])
    assert fired(inv, "DLWS-LIB-002")
    inv["env_vars"]["LD_PRELOAD"] = "libcudnn.so.8.9.7"
    assert fired(inv, "DLWS-LIB-002") == []
    # 8.9.7 meets torch cu118's 8.7 and TensorFlow's 8.9: it only replaces the wheel's 8.9.4.25, for both.
    assert {(f.subject, f.severity) for f in lib001(inv)} == {("torch", "info"), ("tensorflow", "info")}


def test_lib005_a_preloaded_soname_is_not_claimed_missing():
    inv = mutate(CASES["DLWS-LIB-005"])
    (error,) = fired(inv, "DLWS-LIB-005")
    assert error.severity == "error" and "preloaded" not in error.evidence
    inv["env_vars"]["LD_PRELOAD"] = "libcudart.so.11.0"
    (still,) = fired(inv, "DLWS-LIB-005")  # libcudnn.so.8 is still nowhere
    assert still.severity == "error" and still.evidence["missing"] == ["libcudnn.so.8"]
    assert still.evidence["preloaded"] == ["libcudart.so.11.0"]
    inv["env_vars"]["LD_PRELOAD"] = "libcudart.so.11.0 libcudnn.so.8.1.0"
    (info,) = fired(inv, "DLWS-LIB-005")
    assert info.severity == "info" and "cannot judge" in info.title and info.evidence["missing"] == []


def test_the_probe_records_etc_ld_so_preload_as_file_names(tmp_path):
    host = make_host(tmp_path, files={"/etc/ld.so.preload": "# for the NCCL tests\n/usr/local/lib/libnccl.so.2 "
                                                            "/home/ana/libx.so:libjemalloc.so.2\n\n"})
    assert run(loader, host).ld_so_preload == ["libnccl.so.2", "libx.so", "libjemalloc.so.2"]
    assert run(loader, make_host(tmp_path / "none")).ld_so_preload == []


def compat_machine(preload, compat=("535.54.03",), driver="550.54.15"):
    inv = machine(preload)
    inv["cuda_compat"] = [{"version": v, "source": "/usr/local/cuda-12.2", "path": "/usr/local/cuda-12.2/compat"}
                          for v in compat]
    inv["nvidia"]["driver_version"] = driver
    return inv


def lib006(inv):
    return fired(inv, "DLWS-LIB-006")


def test_a_preloaded_libcuda_that_may_be_an_older_compat_copy_is_a_warning():
    (found,) = lib006(compat_machine("libcuda.so"))  # predibase/lorax#595: compat 550.54.14 under driver 560
    assert found.severity == "warning" and "if it is the forward-compatibility copy" in found.title
    assert "Error 803" in found.title and found.evidence["copies"] == [
        {"version": "535.54.03", "from": "/usr/local/cuda-12.2/compat"}]
    assert "take libcuda.so out of LD_PRELOAD" in found.fix
    (named,) = lib006(compat_machine("libcuda.so.535.54.03", compat=()))  # its name says the version
    assert named.severity == "warning" and "if it is" not in named.title


def test_a_libcuda_preload_with_nothing_else_recorded_or_the_drivers_own_is_quiet():
    assert lib006(compat_machine("libcuda.so.1", compat=())) == []  # no other copy recorded: the driver's own
    assert lib006(compat_machine("libcuda.so.550.54.15")) == []  # the running driver's version
    assert lib006(compat_machine("libcuda.so", compat=("550.54.15",))) == []  # a compat copy of the same driver
    assert lib006(compat_machine("libjemalloc.so.2")) == []
    assert lib006(compat_machine(None)) == []  # the compat copy alone is loaded by nothing


def test_a_compat_folder_on_ld_library_path_is_found_before_the_drivers_libcuda():
    inv = compat_machine(None)
    inv["loader_path"] = [{"path": "/usr/local/cuda-12.2/compat", "source": "LD_LIBRARY_PATH", "libraries": {}}]
    (found,) = lib006(inv)
    assert found.severity == "warning" and "if it is" not in found.title and found.evidence["by"] == "LD_LIBRARY_PATH"
    assert "take /usr/local/cuda-12.2/compat out of LD_LIBRARY_PATH" in found.fix
    inv["loader_path"][0]["source"] = "ld.so.conf"  # the cache's order is not modelled: not judged
    assert lib006(inv) == []
    inv = compat_machine(None, compat=("550.54.15",))  # the driver's own version
    inv["loader_path"] = [{"path": "/usr/local/cuda-12.2/compat", "source": "LD_LIBRARY_PATH", "libraries": {}}]
    assert lib006(inv) == []


def test_a_newer_compat_copy_or_an_unknown_driver_is_information():
    (newer,) = lib006(compat_machine("libcuda.so", compat=("580.65.06",)))
    assert newer.severity == "info" and "data-center GPUs" in newer.title
    (unknown,) = lib006(compat_machine("libcuda.so", driver=None))
    assert unknown.severity == "info" and "cannot be judged" in unknown.title


def test_the_probe_records_each_toolkits_compat_libcuda_once(tmp_path):
    make_host(tmp_path)
    (tmp_path / "host.json").write_text(json.dumps({"facts": {}, "listdir": {
        "/usr/local": ["bin", "cuda", "cuda-12.4"],
        "/usr/local/cuda-12.4/compat": ["libcuda.so", "libcuda.so.1", "libcuda.so.550.54.14"]},
        "realpath": {"/usr/local/cuda/compat": "/usr/local/cuda-12.4/compat"}}))
    host = open_snapshot(str(tmp_path))
    found = [(lib.version, lib.source, lib.path) for lib in run(loader, host).cuda_compat]
    assert found == [("550.54.14", "/usr/local/cuda", "/usr/local/cuda-12.4/compat")]
