"""The --require expression language: parsing (with errors that point at the bad token) and evaluation."""

import pytest

from provision.doctor.require import evaluate, parse
from provision.errors import UsageError

GiB = 2 ** 30
INV = {
    "gpus": [{"memory_total_bytes": 80 * GiB, "compute_capability": "9.0"},
             {"memory_total_bytes": 40 * GiB, "compute_capability": "8.0"}],
    "nvidia": {"driver_version": "550.54.15", "cuda_driver_version": "12.4"},
    "cuda": {"toolkits": [{"version": "11.8.89"}, {"version": "12.4.131"}]},
    "cudnn": [{"version": "8.9.7"}],
    "memory": {"total_bytes": 512 * GiB, "swap_total_bytes": 0},
    "disks": [{"mountpoint": "/", "free_bytes": 50 * 10 ** 9, "total_bytes": 100 * 10 ** 9},
              {"mountpoint": "/data", "free_bytes": 600 * 10 ** 9, "total_bytes": 2000 * 10 ** 9}],
    "cpu": {"physical_cores": 64, "logical_cores": 128, "x86_64_level": "v4", "flags": ["avx2", "avx512f"]},
    "python": {"version": "3.11.7"},
    "os": {"id": "ubuntu", "version": "22.04", "glibc": "2.35"},
    "rocm": {"version": None},
    "frameworks": {"torch": {"version": "2.4.1+cu121", "build": "cuda 12.1"},
                   "jax": {"version": "0.4.30", "build": "cpu"}},
}


@pytest.mark.parametrize("text,met", [
    ("gpu.count >= 2", True),
    ("gpu.count >= 3", False),
    ("gpu.memory >= 40GiB", True),
    ("gpu.memory >= 48GiB", False),  # the smallest GPU decides
    ("gpu.compute_capability >= 8.0", True),
    ("gpu.compute_capability >= 9.0", False),
    ("driver >= 535", True),
    ("driver >= 555", False),
    ("driver == 550", True),
    ("cuda >= 12.1", True),
    ("cuda >= 12.6", False),
    ("cuda.toolkit >= 12.4", True),
    ("cudnn >= 9", False),
    ("ram >= 64GiB", True),
    ("ram >= 1TB", False),
    ("swap > 0", False),
    ("disk[/data].free >= 500GB", True),
    ("disk[/data/imagenet].free >= 500GB", True),  # the mount that holds the path
    ("disk[/home].free >= 500GB", False),  # /home lies on /
    ("disk[/].total >= 100GB", True),
    ("cpu.flag avx512f", True),
    ("cpu.flag amx_tile", False),
    ("cpu.cores >= 32", True),
    ("cpu.threads < 100", False),
    ("cpu.level >= v3", True),
    ("python >= 3.10", True),
    ("python < 3.10", False),
    ("glibc >= 2.28", True),
    ("os.id == ubuntu", True),
    ("os.id != ubuntu", False),
    ("os.version >= 22.04", True),
    ("torch >= 2.4", True),
    ("pytorch >= 2.5", False),
    ("torch.cuda", True),
    ("torch.rocm", False),
    ("jax.cuda", False),
    ("jax", True),
    ("tensorflow", False),
    ("tensorflow >= 2.0", False),  # not installed never meets a requirement
    ("rocm >= 6.0", False),  # unknown never meets a requirement
])
def test_evaluate(text, met):
    assert evaluate(parse(text), INV).met is met


def test_outcome_shows_what_was_found():
    outcome = evaluate(parse("gpu.memory >= 48GiB"), INV)
    assert outcome.actual == "40.0 GiB"
    assert evaluate(parse("gpu.count >= 3"), INV).actual == "2"
    assert evaluate(parse("rocm >= 6"), INV).actual == "unknown"


@pytest.mark.parametrize("text,column,words", [
    ("", 1, "empty"),
    ("gpu.count >= two", 14, "expected a number"),
    ("gpus.count >= 2", 1, "unknown subject"),
    ("gpu.count 2", 11, "expected an operator"),
    ("gpu.count >=", 13, "expected a value"),
    ("gpu.count >= 2 3", 16, "unexpected '3'"),
    (">= 2", 1, "expected a subject"),
    ("ram >= 64XB", 8, "expected a size"),
    ("cuda >= twelve", 9, "expected a version"),
    ("os.id >= ubuntu", 10, "== or != only"),
    ("cpu.flag", 9, "one flag name"),
    ("gpu.count => 2", 11, "unexpected '='"),
])
def test_bad_expressions_point_at_the_bad_token(text, column, words):
    with pytest.raises(UsageError) as info:
        parse(text)
    message = str(info.value)
    assert "column %d" % column in message and words in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["gpu.memory >= 100", "ram >= 64", "swap >= 8", "disk[/data].free >= 500",
                                  "disk[/].total > 1.5"])
def test_a_size_without_a_unit_is_a_usage_error(text):
    """`gpu.memory >= 100` once meant 100 bytes and passed on every GPU; now it asks what was meant."""
    number = text.split()[-1]
    with pytest.raises(UsageError) as info:
        parse(text)
    assert "%s what? write %sGiB or %sGB" % (number, number, number) in str(info.value)
    assert "column %d" % (len(text) - len(number) + 1) in str(info.value)


@pytest.mark.parametrize("text,met", [("swap > 0", False), ("ram > 0", True), ("gpu.count >= 2", True),
                                      ("cpu.cores >= 64", True), ("gpu.memory >= 100B", True)])
def test_zero_counts_and_sizes_with_a_unit_need_none(text, met):
    assert evaluate(parse(text), INV).met is met
