"""A wheel's METADATA read without downloading the wheel (scripts/refresh-knowledge; never on the doctor's path).

PyPI serves it beside the wheel as ``<wheel url>.metadata`` (PEP 658 / 714). Where that answers an error (mirrors
that carry only the files), the METADATA member is read from the wheel's zip with HTTP range requests: the end of
the archive (its central directory) and the member itself, a few MB of a wheel of hundreds, bounded by BUDGET.
"""

from __future__ import annotations

import email.parser
import http.client
import io
import re
import urllib.error
import urllib.request
import zipfile
from typing import Any, Dict, List, Optional, Tuple

TAIL = 256 * 2**10  # the first read: the end of the archive, where the central directory ends
BUDGET = 48 * 2**20  # bytes one wheel may cost: torch's central directory is a few MB
MAX_METADATA = 2**20  # a METADATA bigger than this is no wheel's
#: The METADATA fields the tool reads, all a recording keeps (the long description is dropped).
KEEP = ("Metadata-Version", "Name", "Version", "Requires-Python", "Requires-Dist", "Provides-Extra")
HEADERS = {"User-Agent": "dlws-refresh"}


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file through HTTP range requests, each bounded, all within a budget."""

    def __init__(self, url: str, timeout: float, budget: int = BUDGET) -> None:
        super().__init__()
        self.url, self.timeout, self.budget = url, timeout, budget
        self.spent = 0
        self.position = 0
        self.chunks: List[Tuple[int, bytes]] = []
        tail, total = self._get("bytes=-%d" % TAIL)
        if total is None:
            raise ValueError("%s: no Content-Range in the answer (no range requests)" % url)
        self.size = total
        self.chunks.append((total - len(tail), tail))

    def _get(self, byte_range: str) -> Tuple[bytes, Optional[int]]:
        request = urllib.request.Request(self.url, headers=dict(HEADERS, Range=byte_range))
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 (PyPI's file URL)
            if answer.status != 206:
                raise ValueError("%s: answered %s to a range request" % (self.url, answer.status))
            match = re.match(r"bytes \d+-\d+/(\d+)$", answer.headers.get("Content-Range") or "")
            body = answer.read(self.budget - self.spent + 1)
        self.spent += len(body)
        if self.spent > self.budget:
            raise ValueError("%s: more than %d bytes read for one METADATA" % (self.url, self.budget))
        return body, int(match.group(1)) if match else None

    def _cached(self, start: int, end: int) -> Optional[bytes]:
        for offset, data in self.chunks:
            if offset <= start and end <= offset + len(data):
                return data[start - offset:end - offset]
        return None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        data = self._cached(self.position, end)
        if data is None:  # fetch at least 64 KiB: zipfile reads a member's header and its data in small steps
            fetch_end = min(self.size, max(end, self.position + 2**16))
            body, _ = self._get("bytes=%d-%d" % (self.position, fetch_end - 1))
            self.chunks.append((self.position, body))
            data = body[:end - self.position]
        self.position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def from_zip(url: str, timeout: float, budget: int = BUDGET) -> str:
    """The .dist-info/METADATA member of the wheel at url, by range requests; ValueError for a broken archive."""
    try:
        with zipfile.ZipFile(RangeFile(url, timeout, budget)) as archive:
            names = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(names) != 1:
                raise ValueError("%s: %d .dist-info/METADATA members" % (url, len(names)))
            if archive.getinfo(names[0]).file_size > MAX_METADATA:
                raise ValueError("%s: METADATA larger than %d bytes" % (url, MAX_METADATA))
            return archive.read(names[0]).decode("utf-8", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, http.client.HTTPException) as error:
        raise ValueError("%s: %s" % (url, error)) from None


def read(url: str, timeout: float = 120.0) -> str:
    """A wheel's METADATA: PEP 658's file beside it, else the member of its zip (module docstring)."""
    request = urllib.request.Request(url + ".metadata", headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (PyPI's file URL)
            body = answer.read(MAX_METADATA + 1)
    except urllib.error.HTTPError:  # no PEP 658 file here (404): the wheel itself
        return from_zip(url, timeout)
    except http.client.HTTPException as error:
        raise ValueError("%s.metadata: %s" % (url, error)) from None
    if len(body) > MAX_METADATA:
        raise ValueError("%s.metadata: larger than %d bytes" % (url, MAX_METADATA))
    return body.decode("utf-8", "replace")


def fields(text: str) -> Dict[str, List[str]]:
    """The KEEP fields of a METADATA text, each a list of its values in order."""
    message = email.parser.Parser().parsestr(text, headersonly=True)
    return {name: [str(v) for v in message.get_all(name) or []] for name in KEEP if message.get_all(name)}


def stripped(text: str) -> str:
    """A METADATA text cut to the KEEP fields (what tests/data/pypi/metadata records)."""
    found = fields(text)
    return "".join("%s: %s\n" % (name, value) for name in KEEP for value in found.get(name, []))
