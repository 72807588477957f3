"""provision/knowledge/refresh_arch.py: torch's arch lists derived from the build scripts the rows name, replayed from
tests/data/pypi/build_scripts (no network), and the rules by which a derived list enters a row."""

import copy
import json
import os

import pytest

from provision.knowledge import queries, refresh_arch as ra
from provision.knowledge.refresh import Report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "data", "pypi", "build_scripts")
TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")


def shipped():
    with open(TABLE, encoding="utf-8") as handle:
        return json.load(handle)


def recorded(url):
    relative = url[len(ra.SCRIPTS) + 1:]
    with open(os.path.join(SCRIPTS, *relative.split("/")), encoding="utf-8") as handle:
        return handle.read()


def torch_rows():
    return shipped()["frameworks"]["pytorch"]["releases"]


def test_every_row_that_names_a_script_has_its_recording_and_its_lists_exactly():
    rows = [row for row in torch_rows() if "build_script" in row]
    assert [row["version"] for row in rows][:2] == ["1.0", "1.1"] and rows[-1]["version"] == "2.5"
    scripts = ra.Scripts(ra.SCRIPTS, recorded)
    for row in rows:
        assert row["arch_lists_source"].startswith("pytorch/builder %s at %s" % (
            row["build_script"]["path"], row["build_script"]["commit"]))
        for name, info in row["variants"].items():
            if info.get("cuda"):
                value = ra.evaluate(scripts.text(row["build_script"]), info["cuda"])
                assert ra.arch_of(value) == (info["arch_list"], info.get("ptx")), (row["version"], name, value)
    table = shipped()
    report = ra.refresh_arch(table, scripts, "2026-12-01")
    assert report.lines() == [] and table == shipped() and scripts.unread == []


def test_the_recordings_hold_what_the_shipped_lists_say_by_hand():
    # pytorch/builder release/2.4: 12.4 appends 9.0 on x86_64 (the aarch64 branch sets 9.0 alone), 11.8 adds 3.7
    script = {"repo": "pytorch/builder", "commit": "4ce1afeb2262808c1e9707b93682ac66acf2db2a",
              "path": "manywheel/build_cuda.sh"}
    text = recorded(ra.script_url(ra.SCRIPTS, script))
    assert ra.evaluate(text, "12.4") == "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
    assert ra.evaluate(text, "11.8") == "5.0;6.0;7.0;7.5;8.0;8.6;3.7;9.0"
    with pytest.raises(ra.Unknown):
        ra.evaluate(text, "12.6")  # no case for it: the script exits
    # main on 2019-11-01 (1.3.1): 3.7+PTX from the base
    script = {"repo": "pytorch/builder", "commit": "2d91d533eccbe0d859cfe38a9d508fe065f47534",
              "path": "manywheel/build.sh"}
    assert ra.arch_of(ra.evaluate(recorded(ra.script_url(ra.SCRIPTS, script)), "10.1")) == (
        ["3.7", "5.0", "6.0", "6.1", "7.0", "7.5"], "3.7")


CASES = '''#!/bin/bash
# a comment with (parentheses) and TORCH_CUDA_ARCH_LIST="0.0"
if [[ -z "$SOMETHING_ELSE" ]]; then
    CMAKE_ARGS=()
fi
TORCH_CUDA_ARCH_LIST="5.0;6.0"
case ${CUDA_VERSION} in
    13.0)
        TORCH_CUDA_ARCH_LIST="7.5;8.0;$([[ "$ARCH" == "aarch64" ]] && echo "11.0;" || echo "")12.0+PTX" # note
        ;;
    12.9|12.8)
        TORCH_CUDA_ARCH_LIST="7.0;7.5;12.0+PTX"
        if [[ "$PACKAGE_TYPE" == "libtorch" ]]; then
            TORCH_CUDA_ARCH_LIST="7.5;12.0"
        fi
        EXTRA_FLAGS+=("-DX=ON")
        ;;
    11.[67])
        if [[ "$GPU_ARCH_TYPE" = "cuda-aarch64" ]]; then
            TORCH_CUDA_ARCH_LIST="9.0"
        else
            TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};3.7+PTX;8.6"
        fi
        ;;
    10.*)
        if [[ "$OS_NAME" == *"Ubuntu"* ]]; then
            TORCH_CUDA_ARCH_LIST="6.1"
        fi
        ;;
    9.2) TORCH_CUDA_ARCH_LIST="$SOME_OTHER" ;;
    *) exit 1 ;;
esac
if [[ -n "$OVERRIDE_TORCH_CUDA_ARCH_LIST" ]]; then
    TORCH_CUDA_ARCH_LIST="$OVERRIDE_TORCH_CUDA_ARCH_LIST"
fi
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST}
'''

CHAIN = '''export TORCH_CUDA_ARCH_LIST="3.5;5.0+PTX"
if [[ $CUDA_VERSION == "9.0" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;7.0"
elif [[ $CUDA_VERSION == "10.0" || $CUDA_VERSION == "10.1" ]]; then
    export TORCH_CUDA_ARCH_LIST="$TORCH_CUDA_ARCH_LIST;6.0;6.1;7.0;7.5"
else
    echo "unknown cuda version $CUDA_VERSION"
    exit 1
fi
'''

# the pytorch/pytorch .ci/manywheel/build_cuda.sh shape (2.9 era, stored copy at 799d09f2): one-line case items with a
# comment after their ';;', an exit behind an echo, a guarded assignment
ONE_LINE = '''TORCH_CUDA_ARCH_LIST="7.0;7.5;8.0;8.6;9.0"
case ${CUDA_VERSION} in
    12.6) TORCH_CUDA_ARCH_LIST="5.0;6.0;${TORCH_CUDA_ARCH_LIST}" ;;  # Only 12.6 includes Legacy Maxwell/Pascal
    12.8) TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};10.0;12.0" ;;  # +Hopper/Blackwell support
    12.9) TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST};10.0;12.0+PTX" # + PTX for forward compatibility
        if [[ "$PACKAGE_TYPE" == "libtorch" ]]; then
            TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST//7.0;/}"  # Remove 7.0 to resolve the ld error
        fi
        ;;
    *) echo "unknown cuda version $CUDA_VERSION"; exit 1 ;;
esac
[[ "$ARCH" == "aarch64" ]] && TORCH_CUDA_ARCH_LIST=$(filter_aarch64_archs "$TORCH_CUDA_ARCH_LIST")
'''


@pytest.mark.parametrize("text,cuda,expected", [
    (ONE_LINE, "12.6", (["5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"], None)),
    (ONE_LINE, "12.8", (["7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0"], None)),  # past the first ';;  #'
    (ONE_LINE, "12.9", (["7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0"], "12.0")),
    (CASES, "13.0", (["7.5", "8.0", "12.0"], "12.0")),  # the aarch64 branch of $(...) is not taken
    (CASES, "12.8", (["7.0", "7.5", "12.0"], "12.0")),  # 'a|b)' items; the libtorch override is not this build's
    (CASES, "11.7", (["3.7", "5.0", "6.0", "8.6"], "3.7")),  # 11.[67]), else of a known test, an append
    (CHAIN, "9.0", (["3.5", "5.0", "6.0", "7.0"], "5.0")),
    (CHAIN, "10.1", (["3.5", "5.0", "6.0", "6.1", "7.0", "7.5"], "5.0")),
])
def test_a_script_is_evaluated_for_a_linux_x86_64_wheel_of_one_cuda(text, cuda, expected):
    assert ra.arch_of(ra.evaluate(text, cuda)) == expected
    assert ra.arch_of(ra.evaluate(ra.recorded_script(text), cuda)) == expected  # the recording keeps what counts


@pytest.mark.parametrize("text,cuda", [
    (CASES, "10.2"),  # set under a test on something the build does not fix (OS_NAME)
    (CASES, "9.2"),  # set from another variable
    (CASES, "12.6"),  # no item: the script exits
    (CHAIN, "9.2"),
    (ONE_LINE, "12.4"),  # '*) echo ...; exit 1 ;;': the exit after the ';' counts
    (ONE_LINE.replace('"$ARCH" == "aarch64"', '"$OS_NAME" == "x"'), "12.8"),  # a guard the build does not fix
    ("case ${CUDA_VERSION} in\n  *) ;;\nesac\n", "12.1"),  # never set
])
def test_what_a_script_does_not_say_is_unknown_never_a_guess(text, cuda):
    with pytest.raises(ra.Unknown):
        ra.evaluate(text, cuda)


def test_an_arch_value_becomes_a_sorted_list_and_its_lowest_ptx():
    assert ra.arch_of("8.0;3.7+PTX;5.0 6.0;9.0+PTX") == (["3.7", "5.0", "6.0", "8.0", "9.0"], "3.7")
    assert ra.arch_of("7.0;7.5") == (["7.0", "7.5"], None)
    for value in ("", "9.0a;10.0", "sm_80"):
        with pytest.raises(ra.Unknown):
            ra.arch_of(value)


def _row(variant, unverified=None):
    row = {"version": "9.9", "variants": {"cu999": dict(variant, cuda="9.9")},
           "build_script": {"repo": "o/r", "commit": "0" * 40, "path": "build.sh"}}
    if unverified:
        row.update(verified=False, unverified_fields=unverified)
    return row


def _refresh(row, text='TORCH_CUDA_ARCH_LIST="7.0;8.0+PTX"\n', force=False):
    report = Report()
    ra.refresh_row(row, ra.Scripts("http://scripts", lambda url: text), "2026-12-01", force, report)
    return report


def test_a_derived_list_is_written_kept_or_reported_never_silently_replaced():
    lacking = _row({})
    _refresh(lacking)
    assert lacking["variants"]["cu999"] == {"cuda": "9.9", "arch_list": ["7.0", "8.0"], "ptx": "8.0"}
    assert lacking["arch_lists_source"] == "o/r build.sh at %s: TORCH_CUDA_ARCH_LIST per CUDA version " \
                                           "(scripts/refresh-knowledge), read 2026-12-01" % ("0" * 40)
    verified = _row({"arch_list": ["6.0"]})
    report = _refresh(verified)
    assert verified["variants"]["cu999"]["arch_list"] == ["6.0"] and "ptx" not in verified["variants"]["cu999"]
    assert len(report.conflicts) == 2 and "hand-verified" in report.conflicts[0] and not report.changes
    forced = _row({"arch_list": ["6.0"]})
    _refresh(forced, force=True)
    assert forced["variants"]["cu999"]["arch_list"] == ["7.0", "8.0"]
    unverified = _row({"arch_list": ["6.0"], "ptx": "6.0"}, ["variants.*.arch_list", "variants.cu999.ptx"])
    report = _refresh(unverified, text='TORCH_CUDA_ARCH_LIST="7.0;8.0"\n')
    assert unverified["variants"]["cu999"] == {"cuda": "9.9", "arch_list": ["7.0", "8.0"]}  # no PTX: no key
    assert len(report.changes) == 2 and unverified["unverified_fields"] == ["variants.*.arch_list",
                                                                             "variants.cu999.ptx"]


def test_an_unreadable_or_silent_script_changes_nothing_and_is_reported():
    def unreachable(url):
        raise OSError("no route")

    table = shipped()
    scripts = ra.Scripts("http://127.0.0.1:9", unreachable)
    report = ra.refresh_arch(table, scripts, "2026-12-01")
    assert table == shipped() and len(scripts.unread) == 20
    assert any("cannot read http://127.0.0.1:9/pytorch/builder/" in note for note in report.notes)
    row = _row({"arch_list": ["6.0"]})
    report = _refresh(row, text="exit 1\n")
    assert row["variants"]["cu999"] == {"cuda": "9.9", "arch_list": ["6.0"]} and "arch_lists_source" in row
    assert report.notes == ["pytorch 9.9: variants.cu999: the script exits for CUDA 9.9"]


def test_torch_2_11_cu128_dropped_volta_and_2_7_cu128_carries_ptx():
    # pytorch/pytorch#182250: 2.10.0+cu128 lists sm_70, 2.11.0+cu128 starts at sm_75 (V100 needs cu126)
    assert queries.torch_kernels_for_cc("2.10.0", "cu128", "7.0") == "sass"
    assert queries.torch_kernels_for_cc("2.11.0", "cu128", "7.0") == "none"
    assert queries.torch_kernels_for_cc("2.11.0", "cu126", "7.0") == "sass"
    # the 2.7.1 cu128 Linux wheel reports compute_120: a GPU past sm_120's major JIT-compiles its PTX
    assert queries.torch_kernels_for_cc("2.7.1", "cu128", "13.0") == "ptx"
    assert queries.torch_kernels_for_cc("2.8.0", "cu128", "13.0") == "none"


def test_the_recording_keeps_only_the_lines_the_tool_reads():
    kept = ra.recorded_script(CASES).splitlines()
    assert "CMAKE_ARGS=()" not in "\n".join(kept) and not any("EXTRA_FLAGS" in line for line in kept)
    assert '    11.[67])' in kept and "esac" in kept and not any(line.lstrip().startswith("#") for line in kept)
    assert copy.deepcopy(kept) == ra.recorded_script("\n".join(kept)).splitlines()  # stable when re-recorded


@pytest.mark.parametrize("line,expected", [
    ('if [[ "$X" == "1" ]]; then', ['if [[ "$X" == "1" ]]', "then"]),
    ('A="a;b" ;; # c; d', ['A="a;b"', ";;"]),
    ("B='x;#y' # z", ["B='x;#y'"]),
    ('C=$(IFS=: ; echo "${D[*]}") # e', ['C=$(IFS=: ; echo "${D[*]}")']),
    ('E="${F//7.0;/}";G=1', ['E="${F//7.0;/}"', "G=1"]),
    ("url=http://x/#frag", ["url=http://x/#frag"]),  # '#' inside a word starts no comment
])
def test_a_line_is_split_into_commands_as_bash_reads_it(line, expected):
    assert ra.commands(line) == expected
