"""The error text of dlws doctor --error TEXT / --error-file FILE / --error - (standard input): read bounded, decoded,
cleaned of what terminals add (colours, progress bars redrawn with carriage returns, control characters).

Only the first HEAD_BYTES and the last TAIL_BYTES of a long paste are kept (the root cause is often the first error,
the fatal one the last); no more than READ_LIMIT bytes are read from a stream that does not end.
"""

from __future__ import annotations

import re
import sys
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
    text = raw.decode("utf-8", "replace")
    sample = text[:65536]
    odd = sample.count("\x00") + sample.count("\ufffd")
    if sample and odd > BINARY_SHARE * len(sample):
        raise UsageError("%s does not look like text (%d%% NUL or undecodable bytes): give the error message "
                         "the program printed" % (name, 100 * odd // len(sample)))
    return text


def clean(text: str) -> str:
    """Text as a person reads it on the terminal: escape sequences and control characters dropped, each run of a
    progress bar's redrawn lines reduced to its last."""
    lines = [CONTROL.sub("", line) for line in re.split(r"\r\n|\r|\n", ANSI.sub("", text))]
    kept: List[str] = []
    for number, line in enumerate(lines):
        following = lines[number + 1] if number + 1 < len(lines) else ""
        if PROGRESS.search(line) and PROGRESS.search(following):
            continue
        kept.append(line)
    return "\n".join(kept)
