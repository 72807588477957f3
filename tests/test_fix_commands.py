"""Every `dlws ...` command the doctor recommends works on the machine it was recommended for.

The doctor runs on every snapshot fixture, with --target for each framework; each `dlws` command in a finding's
fix or evidence runs against that fixture (--snapshot added) in a subprocess. A setup command must be a dry run
that plans (exit 0: a fix never recommends an impossible plan); any other command may find problems (exit 1),
but never be a usage error (2) or crash (3).
"""

import os
import re
import subprocess
import sys

import click
import pytest

from provision.cli import cli
from test_doctor_fixtures import FIXTURES, SNAPSHOTS, doctor

TARGETS = ("pytorch", "tensorflow", "jax", "mxnet", "pytorch==2.4")
#: `dlws SUBCOMMAND`: where a command starts; prose such as "dlws setup plans for ..." is no command.
MENTION = re.compile(r"\bdlws ([a-z]+)\b")
#: What may close a command in a sentence: "(the whole plan: dlws setup ... --dry-run)", "...; then".
CLOSING = ")];,."
def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def commands_in(text):
    """The argv of each dlws command in text: its subcommand, then options (and the values of those that take
    one, as the real command's options say) up to the first word that is no option."""
    found = []
    for match in MENTION.finditer(text):
        command = cli.commands.get(match.group(1))
        if not isinstance(command, click.Command):
            continue
        takes_value = {name for param in command.params if isinstance(param, click.Option) and not param.is_flag
                       for name in param.opts}
        words, argv = text[match.end():].split(), [match.group(1)]
        if words and not words[0].startswith("-") and words[0][0] not in CLOSING:
            continue  # "dlws setup plans for the current ones": a mention, not a command
        while words and words[0].startswith("-"):
            option = words.pop(0)
            ends = option[-1] in CLOSING
            argv.append(option.rstrip(CLOSING))
            if option.rstrip(CLOSING) in takes_value and words and not ends:
                value = words.pop(0)
                ends = value[-1] in CLOSING
                argv.append(value.rstrip(CLOSING))
            if ends:
                break
        found.append(tuple(argv))
    return found


def recommended(name):
    """(the finding, the command) for every dlws command the doctor's findings name on this fixture."""
    report = doctor(name, targets=TARGETS)
    return sorted({(finding.id, argv) for finding in report.findings
                   for text in [finding.fix] + list(_strings(finding.evidence)) for argv in commands_in(text)})


def test_commands_are_found_in_sentences():
    assert commands_in("upgrade (plan it: dlws setup --framework pytorch --driver upgrade --dry-run), or") == [
        ("setup", "--framework", "pytorch", "--driver", "upgrade", "--dry-run")]
    assert commands_in("dlws setup --framework torch --dry-run says why") == [
        ("setup", "--framework", "torch", "--dry-run")]
    assert commands_in("upgrade (dlws setup plans for the current ones)") == []


def test_the_fixtures_recommend_commands():
    """The test below has something to run: the driver, MXNet and setup fixes, at least."""
    ids = {rule for name in FIXTURES for rule, _ in recommended(name)}
    assert {"DLWS-DRV-001", "DLWS-DRV-005", "DLWS-FW-004", "DLWS-OS-002", "DLWS-TGT-001",
            "DLWS-TGT-002"} <= ids


def run(name, argv, cwd):
    """dlws ARGV on the fixture (its --snapshot added), as a user would run it."""
    args = list(argv) + ([] if "--snapshot" in argv else ["--snapshot", os.path.join(SNAPSHOTS, name)])
    return subprocess.run([sys.executable, "-m", "provision"] + args, capture_output=True, text=True, timeout=120,
                          cwd=str(cwd), stdin=subprocess.DEVNULL,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.parametrize("name", FIXTURES)
def test_every_recommended_command_works_on_its_fixture(name, tmp_path):
    failed = []
    for rule, argv in recommended(name):
        if argv[0] == "setup" and "--dry-run" not in argv:
            failed.append("%s recommends setup without --dry-run: dlws %s" % (rule, " ".join(argv)))
            continue
        result = run(name, argv, tmp_path)
        if result.returncode not in ((0,) if argv[0] == "setup" else (0, 1)):
            failed.append("%s: dlws %s exits %d: %s" % (rule, " ".join(argv), result.returncode,
                                                         result.stderr.strip()[-300:]))
    assert not failed, "\n".join(failed)


def _mxnet_fix(name):
    return [f.fix for f in doctor(name, targets=("mxnet",)).findings if f.subject == "mxnet"][0]


def test_the_mxnet_fix_says_where_python_3_8_comes_from():
    """Debian 12 has no python3.8 package: `--python 3.8` alone planned an apt install that cannot work. Ubuntu
    20.04's python3 is 3.8, so there the plan's own step installs it."""
    debian = _mxnet_fix("debian12-docker-epyc-dev")
    assert "put a Python 3.8 on PATH first" in debian and "python3 is 3.11" in debian
    ubuntu = _mxnet_fix("tf212-torch21-mxnet-cu112-venv")
    assert ubuntu.endswith("dlws setup --framework mxnet --python 3.8 --dry-run") and "on PATH" not in ubuntu
