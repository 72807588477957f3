"""Mirrors: every URL a plan uses (pip indexes, PyPI itself, NVIDIA's repositories and keys, wheel URLs) redirected
by prefix, FROM=TO. Applied to the plan itself, so the bash script, the playbook and `dlws setup` fetch from the same
place: a site's proxy of PyPI and download.pytorch.org, an air-gapped mirror, a test's server on loopback.

A mirror's URLs are restricted to characters that mean nothing to a shell, to YAML or to Ansible's templating (no
quotes, spaces, `$`, braces): they replace text inside the plan's quoted command lines and stay data there.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Sequence, Tuple

from provision.errors import UsageError
from provision.planner.model import Pip, Plan
from provision.untrusted import excerpt

#: The index pip uses when a plan names none: a mirror of it sets the index of those pip steps.
PYPI = "https://pypi.org/simple"
URL = re.compile(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9._~:/%@+,-]+")
MAX_MIRRORS = 100

Mirror = Tuple[str, str]


def parse(text: str, where: str = "--mirror") -> Mirror:
    """'https://download.pytorch.org=http://127.0.0.1:8080/pytorch' -> (FROM, TO); UsageError otherwise."""
    source, _, target = text.strip().partition("=")
    if not (URL.fullmatch(source) and URL.fullmatch(target)):
        raise UsageError("%s takes FROM=TO, two URLs of letters, digits and ._~:/%%@+,- (not %s)"
                         % (where, excerpt(text)))
    return source, target


def parse_file(text: str, path: str) -> List[Mirror]:
    """A mirrors file: one FROM=TO per line; blank lines and lines starting with # are skipped."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(parse(line, "%s line %d" % (path, number)))
    return out


def combine(*groups: Sequence[Mirror]) -> Tuple[Mirror, ...]:
    """The mirrors in effect: a later group's FROM replaces an earlier one's (--mirror over the config file)."""
    merged: Dict[str, str] = {}
    for group in groups:
        merged.update(group)
    if len(merged) > MAX_MIRRORS:
        raise UsageError("at most %d mirrors (got %d)" % (MAX_MIRRORS, len(merged)))
    return tuple(sorted(merged.items()))


def redirect(text: str, mirrors: Sequence[Mirror]) -> str:
    """Each occurrence of a FROM replaced by its TO, the longest FROM first, in one pass (no TO is rewritten)."""
    if not mirrors:
        return text
    table = dict(mirrors)
    pattern = re.compile("|".join(re.escape(source) for source in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda found: table[found.group(0)], text)


def _rewrite(value: Any, mirrors: Sequence[Mirror]) -> Any:
    if isinstance(value, str):
        return redirect(value, mirrors)
    if isinstance(value, list):
        return [_rewrite(item, mirrors) for item in value]
    return value


def _action(action: Any, mirrors: Sequence[Mirror]) -> Any:
    changes = {f.name: _rewrite(getattr(action, f.name), mirrors) for f in dataclasses.fields(action)}
    if isinstance(action, Pip) and action.index_url is None and redirect(PYPI, mirrors) != PYPI:
        changes["index_url"] = redirect(PYPI, mirrors)
    return dataclasses.replace(action, **changes)


def apply(plan: Plan, mirrors: Sequence[Mirror]) -> Plan:
    """The plan with every URL of its steps and choices redirected."""
    if not mirrors:
        return plan
    steps = [dataclasses.replace(step, actions=[_action(a, mirrors) for a in step.actions],
                                 check=_rewrite(step.check, mirrors), verify=_rewrite(step.verify, mirrors),
                                 why=redirect(step.why, mirrors), title=redirect(step.title, mirrors))
             for step in plan.steps]
    choices = [dataclasses.replace(choice, index_url=redirect(choice.index_url or PYPI, mirrors)
                                   if choice.index_url or redirect(PYPI, mirrors) != PYPI else None,
                                   requirements=_rewrite(choice.requirements, mirrors))
               for choice in plan.choices]
    return dataclasses.replace(plan, steps=steps, choices=choices)
