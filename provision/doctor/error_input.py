"""The error text of dlws doctor --error TEXT / --error-file FILE / --error - (standard input): read bounded, decoded,
cleaned of what terminals add (colours, progress bars redrawn with carriage returns, control characters) and of what
the way it was pasted adds (a UTF-16 file from PowerShell's redirection, zero-width characters from a web page, the
"> " of a quoted reply, the "name-1  | " of docker compose logs, the timestamp and process of journald/syslog and vLLM
lines, the frame of a rich traceback).

Only the first HEAD_BYTES and the last TAIL_BYTES of a long paste are kept (the root cause is often the first error,
the fatal one the last); no more than READ_LIMIT bytes are read from a stream that does not end.
"""

from __future__ import annotations

import codecs
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO, List, Optional, Sequence, Tuple

from provision.errors import UsageError
from provision.untrusted import excerpt, open_regular, read_capped

HEAD_BYTES = 256 * 1024
TAIL_BYTES = 768 * 1024
READ_LIMIT = 64 * 1024 * 1024
#: Share of NUL bytes and undecodable bytes past which the input is no text (a core dump, an image).
BINARY_SHARE = 0.1
STDIN = "-"

#: CSI sequences (colours, cursor moves), OSC sequences (titles, links) and the two-byte escapes.
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: What a copy loses of an escape sequence: the ESC shown as "←" (Windows' console) or "^[", or dropped ("[0m").
ORPHAN_SGR = re.compile(r"(?:\u2190|\^\[)\[[0-?]*[ -/]*[@-~]|\[(?:\d{1,3};)*\d{1,3}m")
#: Zero-width characters a web page or chat copies along (they split a word the patterns look for).
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
#: What a line of a quoted reply, a docker compose log or a journald/syslog line starts with, before the program's
#: own text: dropped so that a message over several lines reads as it was printed.
LINE_PREFIX = re.compile(r"^(?:(?:> ?)+|[\w.-]+\s+\| |\u2502 ?"
                         r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^\s:\[]+(?:\[\d+\])?: "
                         r"|(?:\([^()\n]{1,80}\) )?(?:ERROR|WARNING|INFO|DEBUG) \d\d-\d\d \d\d:\d\d:\d\d"
                         r" \[?[\w.]+:\d+\] )")
#: What ends such a line: the right edge of a rich traceback's box, a carriage return a copy spelled "^M".
LINE_SUFFIX = re.compile(r"(?:\s*\u2502|\^M)\s*$")
#: The shortest line taken for a terminal's hard wrap (shorter repeated lengths are a table's or a log's own).
WRAP_MIN = 40
#: A progress bar's line (tqdm's "45%|████▌     | 9/20 [00:01<00:02, 4.1it/s]", pip's "━━━━ 1.2/3.4 MB").
PROGRESS = re.compile(r"\d{1,3}%\|[^|\n]*\||\d+(?:\.\d+)?(?:it|s)/(?:s|it)\]|━{3,}")


@dataclass
class ErrorText:
    text: str  # cleaned: the only form matched, quoted and never echoed whole
    read_bytes: int  # bytes read, over every source
    kept_bytes: int  # bytes searched
    truncated: bool  # a source was longer than what was kept
    sources: List[str]


def read_error(texts: Sequence[str], error_file: Optional[str], stdin: Optional[BinaryIO] = None) -> ErrorText:
    """Every --error TEXT (STDIN: standard input, read once) and the --error-file; a one-line usage error for a file
    that is no regular file or no text."""
    parts: List[Tuple[str, bytes, int, bool]] = []
    for text in texts:
        if text == STDIN:
            parts.append(_stdin(stdin))
        else:
            raw = text.encode("utf-8", "surrogateescape")
            parts.append(("--error", raw[:HEAD_BYTES] + raw[-TAIL_BYTES:] if len(raw) > HEAD_BYTES + TAIL_BYTES
                          else raw, len(raw), len(raw) > HEAD_BYTES + TAIL_BYTES))
    if error_file == STDIN:
        parts.append(_stdin(stdin))
    elif error_file:
        parts.append(_file(error_file))
    decoded = [_decode(name, raw) for name, raw, _, _ in parts]
    return ErrorText(clean("\n".join(decoded)), sum(p[2] for p in parts), sum(len(p[1]) for p in parts),
                     any(p[3] for p in parts), [p[0] for p in parts])


def _stdin(stdin: Optional[BinaryIO]) -> Tuple[str, bytes, int, bool]:
    stream = stdin or sys.stdin.buffer
    if stream.isatty():
        print("dlws: reading the error from standard input (end it with Ctrl-D)", file=sys.stderr)
    kept, total, more = read_capped(stream, HEAD_BYTES, TAIL_BYTES, READ_LIMIT)
    return "standard input", kept, total, more or total > len(kept)


def _file(path: str) -> Tuple[str, bytes, int, bool]:
    try:
        # open_regular: a FIFO or a device would block or never end
        with open_regular(path) as handle:
            kept, total, more = read_capped(handle, HEAD_BYTES, TAIL_BYTES, READ_LIMIT)
    except OSError as exc:
        raise UsageError("cannot read --error-file %s: %s" % (excerpt(path), exc.strerror or exc)) from None
    return "--error-file " + path, kept, total, more or total > len(kept)


def _decode(name: str, raw: bytes) -> str:
    text = raw.decode(_encoding(raw), "replace")
    sample = text[:65536]
    odd = sample.count("\x00") + sample.count("\ufffd")
    if sample and odd > BINARY_SHARE * len(sample):
        raise UsageError("%s does not look like text (%d%% NUL or undecodable bytes): give the error message "
                         "the program printed" % (name, 100 * odd // len(sample)))
    return text


def _encoding(raw: bytes) -> str:
    """UTF-16 where a byte-order mark or the NUL bytes of ASCII text in UTF-16 say so (PowerShell 5's "> log.txt"
    writes UTF-16LE), UTF-8 otherwise."""
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if raw[:3] == codecs.BOM_UTF8:
        return "utf-8-sig"
    sample = raw[:4096]
    half = len(sample) // 2
    if half >= 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 0.4 * half and even < 0.05 * half:
            return "utf-16-le"
        if even > 0.4 * half and odd < 0.05 * half:
            return "utf-16-be"
    return "utf-8"


def clean(text: str) -> str:
    """Text as a person reads it on the terminal: escape sequences and control characters dropped, each run of a
    progress bar's redrawn lines reduced to its last."""
    text = ZERO_WIDTH.sub("", ORPHAN_SGR.sub("", ANSI.sub("", text)))
    lines = [LINE_SUFFIX.sub("", LINE_PREFIX.sub("", CONTROL.sub("", line)))
             for line in re.split(r"\r\n|\r|\n", text)]
    kept: List[str] = []
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if PROGRESS.search(line) and PROGRESS.search(following):
            continue
        kept.append(line)
    return "\n".join(kept)


def unwrapped(text: str) -> Optional[Tuple[str, List[int]]]:
    """The text with a terminal's hard wrap undone (tmux, screen and notebooks cut long lines at a fixed width, inside
    words): each line exactly as long as the most common length of the long lines (WRAP_MIN characters or more, seen
    at least twice) is joined to the next without a separator; with the offsets of the line breaks removed. None where
    no width repeats."""
    lengths = Counter(len(line) for line in text.split("\n") if len(line) >= WRAP_MIN)
    if not lengths:
        return None
    width, seen = lengths.most_common(1)[0]
    if seen < 2:
        return None
    lines = text.split("\n")
    removed: List[int] = []
    offset = -1
    for line in lines[:-1]:
        offset += len(line) + 1
        if len(line) == width:
            removed.append(offset)
    return "".join(line if len(line) == width else line + "\n" for line in lines[:-1]) + lines[-1], removed
