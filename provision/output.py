"""Where a command's report, script or playbook goes: standard output, or the file named by -o."""

from __future__ import annotations

from typing import Optional

import click

from provision.errors import UsageError


def write_output(text: str, output: Optional[str] = None) -> None:
    """Write text (ending in a newline) to stdout or to output; a file that cannot be written is a usage error."""
    text = text if text.endswith("\n") else text + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError("cannot write %s: %s" % (output, exc.strerror or exc)) from None
