"""Shell tests of a repository's signing key against the fingerprint dlws pins, shared by the steps' checks and the
emitted scripts and playbooks.

Neither pipes into `grep -q`: under `set -o pipefail` (every dlws script) grep's early exit can kill gpg with SIGPIPE,
and the test then fails although the key is the pinned one.
"""

from __future__ import annotations

import shlex


def key_is_pinned(path: str, fingerprint: str) -> str:
    """True when the key file holds exactly one primary key, the pinned one: a file that carries another key beside
    NVIDIA's would have apt or rpm --import trust both. path is shell text (quoted by the caller, or "$key")."""
    return ("[ \"$(gpg --show-keys --with-colons %s 2>/dev/null \\\n"
            "  | grep -A1 '^pub:' | grep '^fpr:' | cut -d: -f10)\" = %s ]" % (path, shlex.quote(fingerprint)))


def rpm_has_imported(fingerprint: str) -> str:
    """True when rpm's database holds the pinned key (rpm --import stores each key as a gpg-pubkey package)."""
    return ("rpm -q gpg-pubkey --qf '%%{DESCRIPTION}\\n' 2>/dev/null \\\n  | gpg --show-keys --with-colons 2>/dev/null"
            " \\\n  | grep %s >/dev/null" % shlex.quote("^fpr:*:%s:" % fingerprint))
