"""Which of a release's builds the judgment ranks first: by the CUDA or ROCm version each was made with, never by its
variant name as a string ('rocm6.1' < 'rocm6.2.4' and 'cu102' < 'cu92' as strings), and a ROCm build whose gfx list
is known before one whose list the table lacks."""

from provision import compat
from provision.doctor.rules import loader
from provision.knowledge import queries


def amd_machine(gfx="gfx90a"):
    """A Linux x86_64 box with one AMD GPU of that gfx target."""
    return {"nvidia": {"status": "no-gpu"}, "python": {"version": "3.10"},
            "gpus": [{"vendor": "amd", "index": 0, "name": "AMD Instinct MI250X", "gfx_target": gfx}],
            "cpu": {"arch": "x86_64", "flags": ["avx", "avx2"]},
            "os": {"system": "linux", "id": "ubuntu", "version": "22.04", "glibc": "2.35"}}


def rocm_builds(*versions):
    return lambda framework, release: [compat.Build(framework, release, "rocm" + v, rocm=v) for v in sorted(versions)]


def first(inv, release="2.6"):
    return compat.best_build(inv, "pytorch", release)[0].build.variant


def test_variants_order_by_version_not_name():
    row = {"variants": {"cu92": {"cuda": "9.2"}, "cu102": {"cuda": "10.2"}, "cu1210": {"cuda": "12.10"},
                        "cu130": {"cuda": "13.0"}, "rocm6.1": {"rocm": "6.1"}, "rocm6.2.4": {"rocm": "6.2.4"},
                        "rocm7.2": {"rocm": "7.2"}, "rocm7.14": {"rocm": "7.14"}, "cpu": {}}}
    assert queries.variants_newest_first(row) == [
        "cu130", "cu1210", "cu102", "cu92", "rocm7.14", "rocm7.2", "rocm6.2.4", "rocm6.1", "cpu"]
    assert queries.stack_version("6.2.4") > queries.stack_version("6.2") and queries.stack_version("x") == ()
    assert queries.variants_newest_first(None) == [] and queries.variants_newest_first({"variants": {"a": 1}}) == ["a"]


def test_the_newer_rocm_build_ranks_first(monkeypatch):
    monkeypatch.setattr(compat, "builds", rocm_builds("6.1", "6.2.4"))  # as strings 6.1 came first
    monkeypatch.setattr(queries, "torch_rocm_gfx_targets", lambda release, variant: ["gfx90a"])
    assert first(amd_machine()) == "rocm6.2.4"
    monkeypatch.setattr(compat, "builds", rocm_builds("7.2", "7.14", "6.10"))
    assert first(amd_machine()) == "rocm7.14"
    # not when the newer one cannot run here: a working build ranks before one with a problem
    monkeypatch.setattr(queries, "torch_rocm_gfx_targets",
                        lambda release, variant: ["gfx90a"] if variant == "rocm7.2" else ["gfx1100"])
    assert first(amd_machine()) == "rocm7.2"


def test_a_build_with_a_known_gfx_list_ranks_before_one_without(monkeypatch):
    monkeypatch.setattr(compat, "builds", rocm_builds("7.2", "7.14"))  # 7.14 would rank first by version
    monkeypatch.setattr(queries, "torch_rocm_gfx_targets",
                        lambda release, variant: ["gfx90a"] if variant == "rocm7.2" else None)
    assert first(amd_machine()) == "rocm7.2"
    monkeypatch.setattr(queries, "torch_rocm_gfx_targets", lambda release, variant: None)  # neither known: newest
    assert first(amd_machine()) == "rocm7.14"


def test_the_newest_cudnn_alternative_is_named(monkeypatch):
    # DLWS-LIB-002's alternative build of the same torch release: the newest CUDA whose cuDNN fits
    row = {"version": "1.7", "variants": {"cu92": {"cuda": "9.2", "cudnn": "7.6.3"},
                                          "cu102": {"cuda": "10.2", "cudnn": "7.6.5"}, "cpu": {}}}
    monkeypatch.setattr(queries, "framework_release", lambda framework, version: row)
    named = loader._alternative("torch", {"version": "1.7.1"}, (7, 6), (7, 6), None)
    assert named == "torch==1.7.1+cu102 (cuDNN 7.6.5)"
    assert loader._alternative("torch", {"version": "1.7.1"}, (8, 0), (8, 9), None) is None


def test_the_matrix_rocm_builds_are_in_the_tables():
    # test-infra's ROCM_ARCHES_DICT["test"] on each release branch; the gfx lists pytorch/builder's build_docker.sh
    assert [v for v in queries.variants_newest_first(queries.torch_release("2.14")) if v.startswith("rocm")] == [
        "rocm7.14", "rocm7.2"]
    assert queries.pip_index_url("pytorch", "2.14", "rocm7.14") == "https://download.pytorch.org/whl/rocm7.14"
    assert "variant_pins.rocm7.14" in queries.torch_release("2.14")["unverified_fields"]
    assert "gfx942" in queries.torch_rocm_gfx_targets("2.4", "rocm6.0")
    assert "gfx942" not in queries.torch_rocm_gfx_targets("2.3", "rocm5.7")  # added for ROCm >= 6.0 only
    assert queries.torch_rocm_gfx_targets("2.14", "rocm7.14") is None  # not read: cannot judge


def test_of_two_builds_that_both_have_the_gpu_the_newer_rocm_wins():
    # torch 2.4: rocm6.0 and rocm6.1 both carry gfx90a; by name alone rocm6.0 came first
    assert first(amd_machine("gfx90a"), "2.4") == "rocm6.1"
    assert first(amd_machine("gfx90a"), "2.7") == "rocm6.3"
