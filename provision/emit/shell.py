"""Render a plan as a bash script: set -euo pipefail, every value quoted, each step announced and idempotent."""

from __future__ import annotations

import re
import shlex
from typing import List, Union

from provision import __version__
from provision.planner.keys import key_is_pinned
from provision.planner.model import (PINNED, AptRepo, DnfModule, DnfRepo, Manual, Packages, Pip, Plan, PythonCheck,
                                     Reboot, Step, Venv, pinned, version_variable)

#: Exit code of the script when a reboot must happen before it can go on (re-run it afterwards).
EXIT_REBOOT = 3

HEADER = """\
#!/usr/bin/env bash
# {title}
# Written by dlws {version}: review it, then run it. Re-running is safe: each step checks whether it is done.
# Exit codes: 0 done; {reboot} reboot needed, then run it again; anything else: the failing step's command.
set -euo pipefail

# The environment and the interpreter; set DLWS_ENV or DLWS_PYTHON before running to choose others.
dlws_default_env={env}
dlws_default_python={python}
DLWS_ENV="${{DLWS_ENV:-$dlws_default_env}}"
DLWS_PYTHON="${{DLWS_PYTHON:-$dlws_default_python}}"

as_root() {{
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}}

step() {{
  printf '\\n==> [%s] %s\\n    why: %s\\n' "$1" "$2" "$3"
}}
"""


def q(value: str) -> str:
    return shlex.quote(value)


def _packages(action: Packages) -> List[str]:
    names = " ".join(q(n) for n in action.names)
    if action.manager == "apt":
        return ["as_root apt-get update",
                "as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends %s" % names]
    return ["as_root dnf install -y %s" % names]


def set_aside_other_sources(action: Union[AptRepo, DnfRepo], root: str) -> List[str]:
    """Move every other source file naming the repository's URL to NAME.disabled, which apt and dnf ignore: apt
    refuses a cuda-keyring list (or an older one) signed by another keyring ("Conflicting values set for option
    Signed-By"), and dnf would take packages from an older .repo file unchecked where it says gpgcheck=0."""
    why = "apt refuses two Signed-By for one source" if isinstance(action, AptRepo) else \
        "dnf could install from it with other checks"
    return [
        "while IFS= read -r other; do",
        "  echo \"dlws: $other also names NVIDIA's repository (%s): moved to $other.disabled\"" % why,
        '  %smv "$other" "$other.disabled"' % root,
        "done < <(%s)" % action.others,
    ]


def _protocols(url: str) -> str:
    """curl's --proto for a key URL: https only (no redirect down to http), or a mirror's own scheme where the user
    chose one (--mirror to http://); the pinned fingerprint is what makes the key trusted, either way."""
    scheme = re.sub(r"[^a-z0-9+.-]", "", url.partition("://")[0].lower())  # a mirror's scheme is of these already
    return "=https" if scheme == "https" else "=%s,https" % scheme


def _pinned_key(action: Union[AptRepo, DnfRepo], install: str) -> List[str]:
    """Fetch the repository's key into a scratch file and, only if it is the pinned one alone, install it there."""
    return [
        'key="$(mktemp)"',
        "curl -fsSL --proto '%s' %s -o \"$key\"" % (_protocols(action.key_url), q(action.key_url)),
        "# Trust the key only if it is the one NVIDIA publishes (fingerprint pinned in dlws' knowledge base).",
        "if ! %s; then" % key_is_pinned('"$key"', action.key_fingerprint),
        "  echo 'NVIDIA repository key fingerprint mismatch: refusing to trust it' >&2; rm -f \"$key\"; exit 1",
        "fi",
        "as_root install %s \"$key\" %s" % (install, q(action.keyring if isinstance(action, AptRepo) else
                                                        action.key_path)),
        'rm -f "$key"',
    ]


def _apt_repo(action: AptRepo) -> List[str]:
    listing = action.listing
    return _pinned_key(action, "-m 0644") + [
        "echo %s | as_root tee %s >/dev/null" % (q(action.line), q(listing)),
        # A source apt refuses (its InRelease signed by another key) fails every later apt-get update: take it out.
        "if ! as_root apt-get update; then",
        "  as_root rm -f %s" % q(listing),
        "  echo %s >&2; exit 1" % q("dlws: apt-get update failed with the repository added (see above): removed %s"
                                    % listing),
        "fi",
    ]


def _dnf_repo(action: DnfRepo) -> List[str]:
    return [
        # curl-minimal (there by default) clashes with a curl package: installed only where there is no curl at all
        "command -v curl >/dev/null || as_root dnf install -y curl",
    ] + _pinned_key(action, "-D -m 0644") + [
        "as_root rpm --import %s" % q(action.key_path),
        "%s \\\n  | as_root tee %s >/dev/null" % (action.printf, q(action.file)),
    ]


def _requirement(action: Pip, requirement: str) -> str:
    """A pinned requirement reads its version from its variable ("torch==${DLWS_TORCH_VERSION}"): the name and the
    extra are plain PINNED characters, safe inside double quotes. Any other requirement stays a quoted literal."""
    parts = pinned(requirement)
    if parts is None or action.pins.get(parts[0]) != parts[2]:
        return q(requirement)
    return '"%s%s==${%s}"' % (parts[0], parts[1], version_variable(parts[0]))


def version_defaults(plan: Plan) -> List[str]:
    """The pinned versions as exported variables with the plan's defaults: set one before running to change it."""
    lines = []
    for action in (a for s in plan.steps for a in s.actions if isinstance(a, Pip)):
        for name, version in sorted(action.pins.items()):
            if not PINNED.fullmatch("x==" + version):
                raise ValueError("a pinned version that is not a plain version: %r" % version)
            lines.append('export %s="${%s:-%s}"' % ((version_variable(name),) * 2 + (version,)))
    return lines


def action_lines(action: object) -> List[str]:
    if isinstance(action, Packages):
        return _packages(action)
    if isinstance(action, AptRepo):
        return _apt_repo(action)
    if isinstance(action, DnfRepo):
        return _dnf_repo(action)
    if isinstance(action, DnfModule):
        return ["as_root dnf -y module enable %s" % q(action.stream)]
    if isinstance(action, Venv):
        return ['"$DLWS_PYTHON" -m venv "$DLWS_ENV"']
    if isinstance(action, Pip):
        head = '"$DLWS_ENV/bin/python" -m pip install' + (" --index-url %s" % q(action.index_url)
                                                          if action.index_url else "")
        requirements = [_requirement(action, r) for r in action.requirements]
        line = " ".join([head] + requirements)  # a long one a requirement a line (ansible-lint wants <= 160 columns)
        return [line if len(line) <= 120 else " \\\n    ".join([head] + requirements)]
    if isinstance(action, Reboot):
        return ["echo %s" % q("Reboot needed (%s): sudo reboot, then run this script again." % action.reason),
                "exit %d" % EXIT_REBOOT]
    if isinstance(action, PythonCheck):
        return ['"$DLWS_ENV/bin/python" -c %s' % q(action.code)]
    if isinstance(action, Manual):
        return ["echo %s >&2" % q("dlws: " + action.message), "exit 1"]
    raise TypeError("no shell rendering for %r" % (action,))


def _step(number: int, total: int, step: Step) -> List[str]:
    lines = ["step %s %s %s" % (q("%d/%d %s" % (number, total, step.id)), q(step.title), q(step.why))]
    # Other sources of a repository are set aside first: while one is there, every apt-get update fails (the
    # prerequisites' too), whether apt finds two Signed-By or the other source's keyring gone.
    body = [line for action in step.actions if isinstance(action, (AptRepo, DnfRepo))
            for line in set_aside_other_sources(action, "as_root ")]
    body += [line for action in step.actions for line in action_lines(action)]
    if step.verification and not any(isinstance(a, (Reboot, Manual)) for a in step.actions):
        # grouped: `! A && B` would negate A alone, so a verification of two commands would always fail or pass
        body += ["if ! { %s; }; then" % step.verification,
                 "  echo %s >&2; exit 1" % q("dlws: step %s did not verify (its check still fails)" % step.id),
                 "fi"]
    if step.check is None:
        return lines + body
    lines.append("if %s; then" % step.check)
    lines.append("  echo '    already done'")
    lines.append("else")
    lines.extend("  " + line for line in body)
    lines.append("fi")
    return lines


def preamble(plan: Plan) -> str:
    """The script's head: strict mode, the environment and interpreter as overridable variables, helpers."""
    title = "; ".join("%s %s (%s)" % (c.framework, c.release, c.variant) for c in plan.choices)
    python = next((a.python for s in plan.steps for a in s.actions if isinstance(a, Venv)), "python3")
    versions = version_defaults(plan)
    return HEADER.format(title="dlws setup: " + title, version=__version__, reboot=EXIT_REBOOT,
                         env=q(plan.request.env), python=q(python)) + (
        "\n# The pinned versions; set one before running to install another (the checks follow it).\n"
        + "\n".join(versions) + "\n" if versions else "")


def step_script(plan: Plan, number: int) -> str:
    """One step (numbered from 1) as a script of its own, as `dlws setup` runs them."""
    return preamble(plan) + "\n" + "\n".join(_step(number, len(plan.steps), plan.steps[number - 1])) + "\n"


#: A single-quoted word holding a "$": meant literally (a path the user chose), which shellcheck would question.
LITERAL_DOLLAR = re.compile(r"(?:^|[\s=])'[^'\n]*\$[^'\n]*'")


def _mark_literals(text: str) -> str:
    """Tell shellcheck (SC2016) that a quoted '$' is meant literally, on the lines that have one."""
    out = []
    for line in text.split("\n"):
        if LITERAL_DOLLAR.search(line):
            out.append(line[:len(line) - len(line.lstrip())] + "# shellcheck disable=SC2016 # a literal '$'")
        out.append(line)
    return "\n".join(out)


def render(plan: Plan) -> str:
    """The plan as a bash script (byte-identical for the same plan)."""
    if not plan.ok:
        raise ValueError("an impossible plan has no script")
    out = [preamble(plan)]
    for number, step in enumerate(plan.steps, 1):
        out.append("\n".join(_step(number, len(plan.steps), step)))
    out.append("\necho\necho 'dlws setup: done'\n")
    return _mark_literals("\n".join(out))
