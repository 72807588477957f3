"""Redaction of a snapshot for a public bug report: identifying values become stable placeholders.

The same value gets the same placeholder everywhere (file contents and file names alike), so a redacted snapshot
still replays into a consistent inventory.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Dict, List

UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
MAC = re.compile(r"\b[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\b")
USER_PATH = re.compile(r"(/home/|/Users/|\\Users\\)([^/\\\s\"'<>:]+)")
SERIAL_XML = re.compile(r"<(?:serial|board_id|product_serial)>\s*([^<\s][^<]*?)\s*</")
SERIAL_JSON = re.compile(r"\"serial\"\s*:\s*\"([^\"]+)\"")
SERIAL_CPUINFO = re.compile(r"^Serial\s*:\s*(\S+)", re.M)  # Raspberry Pi and other boards' /proc/cpuinfo
#: Values never worth hiding; default hostnames of distributions and boards are also words in their release files.
NOT_SECRET = {"", "N/A", "n/a", "None", "Unknown", "0", "[N/A]", "localhost", "localhost.localdomain", "root", "shared",
              "ubuntu", "debian", "fedora", "centos", "rocky", "almalinux", "archlinux", "raspberrypi", "jetson",
              "nvidia", "tegra-ubuntu"}


class Redactor:
    def __init__(self) -> None:
        self.mapping: Dict[str, str] = {}
        self.counts: Dict[str, int] = {}

    def placeholder(self, kind: str, value: str, make: Callable[[int], str]) -> str:
        if value not in self.mapping:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.mapping[value] = make(self.counts[kind])
        return self.mapping[value]

    def literal(self, kind: str, value: str, make: Callable[[int], str], alias: str = "") -> None:
        """Replace a literal value (and an alias of it, such as a host's fully-qualified name) everywhere."""
        value = value.strip()
        if value not in NOT_SECRET and len(value) >= 3:
            placeholder = self.placeholder(kind, value, make)
            if alias and alias != value:
                self.mapping[alias] = placeholder

    def apply(self, text: str) -> str:
        text = UUID.sub(lambda m: self.placeholder("uuid", m.group(0).lower(),
                                                   lambda n: "00000000-0000-4000-8000-%012d" % n), text)
        text = MAC.sub(lambda m: self.placeholder("mac", m.group(0).lower(), lambda n: "02:00:00:00:%02x:%02x" % divmod(n, 256)),
                       text)
        text = USER_PATH.sub(lambda m: m.group(1) + self.placeholder("user", m.group(2), lambda n: "user%d" % n), text)
        for value in sorted((v for v in self.mapping if self.mapping[v].startswith(("host", "SERIAL"))),
                            key=len, reverse=True):  # whole words only: a host named "gpu1" leaves "gpu10" alone
            text = re.sub(r"(?<![\w-])%s(?![\w-])" % re.escape(value), self.mapping[value], text)
        return text


def _hostnames(members: Dict[str, str]) -> List[str]:
    names = [members.get("files/etc/hostname", ""), members.get("files/proc/sys/kernel/hostname", "")]
    try:
        names.append(json.loads(members.get("host.json", "{}")).get("facts", {}).get("platform", {}).get("node") or "")
    except (ValueError, AttributeError):
        pass
    return [n.strip() for n in names if n and n.strip()]


def redact_members(members: Dict[str, str]) -> Dict[str, str]:
    """A copy of a snapshot's members (path -> text) with identifying values replaced."""
    redactor = Redactor()
    for name in _hostnames(members):
        redactor.literal("host", name.split(".")[0], lambda n: "host%d" % n, alias=name)
    for path in sorted(members):
        for pattern in (SERIAL_XML, SERIAL_JSON, SERIAL_CPUINFO):
            for match in pattern.finditer(members[path]):
                redactor.literal("serial", match.group(1), lambda n: "SERIAL%04d" % n)
    return {redactor.apply(path): redactor.apply(text) for path, text in sorted(members.items())}
