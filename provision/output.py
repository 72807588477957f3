"""Where a command's report, script or playbook goes: standard output, or the file named by -o; and text that a
terminal whose locale is not UTF-8 can show."""

from __future__ import annotations

import codecs
import os
import re
import sys
from typing import Optional, Tuple

import click

from provision.errors import UsageError

#: The encoding of stdout and stderr under a locale that is not UTF-8: ASCII, with what dlws prints spelled out.
ASCII_CODEC = "dlws_ascii"
ASCII = str.maketrans({"\u2192": "->", "\u00d7": "x", "\u2026": "...", "\u2014": "-", "\u2013": "-",
                       "\u00b7": "|", "\u2713": "ok", "\u2717": "x", "\u2265": ">=", "\u2264": "<=",
                       "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " ",
                       "\u00b5": "u", "\u00ae": "(R)", "\u2122": "(TM)"})


#: What a terminal would obey rather than show: C0 controls but tab and newline (a carriage return rewrites the line),
#: DEL, C1 controls and the bidirectional overrides that reorder what is shown ("Trojan Source"); ESC except dlws's
#: own colours. A snapshot or a fleet host may carry them in any value (an OSC 52 sequence writes the clipboard).
_OBEYED = re.compile(r"\x1b\[(?:0|3[1236])m|([\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069])")


def printable(text: str) -> str:
    """text as a terminal shows it: each character it would obey spelled out as Python writes it (\\x1b, \\r)."""
    return _OBEYED.sub(lambda m: m.group(0) if m.group(1) is None else repr(m.group(1))[1:-1], text)


def _encode(text: str, errors: str = "strict") -> Tuple[bytes, int]:
    return text.translate(ASCII).encode("ascii", "replace"), len(text)


class _AsciiEncoder(codecs.IncrementalEncoder):
    def encode(self, text: str, final: bool = False) -> bytes:
        return _encode(text)[0]


def _find_codec(name: str) -> Optional[codecs.CodecInfo]:
    if name != ASCII_CODEC:
        return None
    plain = codecs.lookup("ascii")
    return codecs.CodecInfo(_encode, plain.decode, name=ASCII_CODEC, incrementalencoder=_AsciiEncoder,
                            incrementaldecoder=plain.incrementaldecoder)


def _utf8_asked() -> bool:
    """Whether the user turned Python's UTF-8 mode on (PYTHONUTF8=1, -X utf8): they want UTF-8 whatever the locale."""
    return os.environ.get("PYTHONUTF8") == "1" or sys._xoptions.get("utf8") in (True, "1")


def locale_is_utf8() -> bool:
    """Whether the user's locale (LC_ALL, else LC_CTYPE, else LANG; none set is the C locale) names UTF-8."""
    # UTF-8 mode on by itself means Python started in the C or POSIX locale (PEP 540) and then replaced LC_CTYPE
    # in os.environ with C.UTF-8 (PEP 538): that value is Python's, not the user's.
    coerced = sys.flags.utf8_mode and not _utf8_asked()
    for name in ("LC_ALL", "LANG") if coerced else ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(name)
        if value:  # language_TERRITORY.CODESET@modifier, or a bare codeset ("UTF-8" on macOS)
            codeset = value.partition(".")[2] if "." in value else value
            return codeset.partition("@")[0].lower().replace("-", "") == "utf8"
    return False


def fit_streams_to_locale() -> None:
    """Under a locale that is not UTF-8, make stdout and stderr write ASCII (the translation table, then '?').

    A codec of its own name, not "ascii": click treats an ASCII stream as misconfigured and writes UTF-8 to it."""
    if os.environ.get("PYTHONIOENCODING") or _utf8_asked() or locale_is_utf8():
        return
    try:
        codecs.lookup(ASCII_CODEC)
    except LookupError:
        codecs.register(_find_codec)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding=ASCII_CODEC)


def write_output(text: str, output: Optional[str] = None, verbatim: bool = False) -> None:
    """Write text (ending in a newline) to stdout or to output; a file that cannot be written is a usage error.

    verbatim: a script or playbook, written as its exact UTF-8 bytes whatever the locale (same plan, same bytes);
    anything else is a report, whose machine values may hold what a terminal would obey (printable)."""
    text = text if text.endswith("\n") else text + "\n"
    if not verbatim:
        text = printable(text)
    if output is None:
        click.echo(text.encode("utf-8", "surrogateescape") if verbatim else text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError("cannot write %s: %s" % (output, exc.strerror or exc)) from None
