"""A finding's fix is a command line users paste into a root shell; the machine's own values in it (folders, kernel
releases, file names) come from the machine or a snapshot, so a hostile one must stay one quoted word.

Every fixture, and every rule's one-mutation case, is judged once more with a shell payload appended to each absolute
path, to the running kernel's release and to each installed package's name (the same everywhere, so the rules still
match path to path). Wherever the
payload reaches a fix it must sit inside a single-quoted word, as shlex.quote writes it.
"""

import os
import re

import pytest

from provision.doctor import diagnose
from provision.inventory import collect
from provision.snapshot import open_snapshot
from test_doctor_fixtures import FIXTURES, SNAPSHOTS, TODAY
from test_doctor_rules import CASES, mutate

PAYLOAD = "$(touch pwned)"
QUOTED = re.compile(r"'[^']*" + re.escape(PAYLOAD) + r"[^']*'")


def poisoned(value, kernel, key=None):
    """Each absolute path, the kernel release and each installed package's name (a dist-info folder's), with the
    payload appended; everything else as it was."""
    if isinstance(value, dict):
        return {k: poisoned(v, kernel, k) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, kernel, key) for v in value]
    if isinstance(value, str) and (value.startswith("/") or (kernel and value == kernel) or key == "package"
                                   or (key == "source" and value.startswith("pip:"))):
        return value + PAYLOAD
    if isinstance(value, str) and kernel and kernel in value:
        return value.replace(kernel, kernel + PAYLOAD)
    return value


def unquoted(fix):
    """How many times the payload appears outside a single-quoted word."""
    return fix.count(PAYLOAD) - sum(m.group(0).count(PAYLOAD) for m in QUOTED.finditer(fix))


def check(inv):
    kernel = (inv.get("os") or {}).get("kernel")
    report = diagnose(poisoned(inv, kernel), today=TODAY)
    bad = ["%s: %s" % (f.id, f.fix) for f in report.findings if f.fix and unquoted(f.fix)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_fixes_quote_the_machines_values(name):
    check(collect(open_snapshot(os.path.join(SNAPSHOTS, name))).to_dict())


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_case_fixes_quote_the_machines_values(rule_id):
    check(mutate(CASES[rule_id]))


def test_the_check_itself_tells_quoted_from_bare():
    assert unquoted("sudo dkms install nvidia/550 -k 6.1%s" % PAYLOAD) == 1
    assert unquoted("export CUDA_HOME='/opt/x%s' PATH='/opt/x%s/bin':\"$PATH\"" % (PAYLOAD, PAYLOAD)) == 0
