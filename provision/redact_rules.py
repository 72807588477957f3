"""What redaction replaces and with what: the patterns of identifying values (addresses, ids, serial numbers, home
folders, host names in their fields), the values never worth hiding, and the Redactor that gives each value one
stable placeholder and replaces it in any text.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable, Dict, Optional, Set, Tuple

UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
#: Ethernet (6 bytes) and InfiniBand (20 bytes) hardware addresses; Windows writes Ethernet ones with dashes.
MAC = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{2}(?:(?::[0-9A-Fa-f]{2}){5,19}|(?:-[0-9A-Fa-f]{2}){5})(?![0-9A-Fa-f:-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
#: A dotted quad next to '-', '+' or a letter is a version ("nvidia_cudnn_cu12-8.9.2.26", "5.15.167.4-microsoft").
IPV4 = re.compile(r"(?<![\w.+-])%s(?:\.%s){3}(?![\w+-]|\.\d)" % (_OCTET, _OCTET))
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%[\w.]+)?(?![\w:])")
VERSION_BEFORE = re.compile(r"version\W{0,4}$", re.I)
#: A container's id in cgroup and mount paths (a Docker container's hostname is its first 12 characters).
CONTAINER_ID = re.compile(r"(?<=[/-])[0-9a-f]{64}(?![0-9a-f])")
HOME_PATH = re.compile(r"(/home/|/Users/|\\+Users\\+)([^/\\\s\"'<>:;,=|*?]+)")
#: Fields that hold a serial number or another per-machine id, in XML, JSON, "Key: value" lines and mount options.
ID_KEY = r"[\w ]*?serial[\w ]*?|board[ _]?id|host[ _]?id|[\w ]*?asset[ _]tag|machine[ _]?id|boot[ _]?id|product[ _]uuid"
ID_XML = re.compile(r"<(%s)>\s*([^<\s][^<]*?)\s*</" % ID_KEY, re.I)
ID_LINE = re.compile(r"^([ \t]*(?:%s)[ \t]*[:=][ \t]*)(\S[^\n]*?)[ \t]*$" % ID_KEY, re.I | re.M)
ID_QUOTED = re.compile(r"\"((?:%s)|IOPlatformUUID)\"\s*[:=]\s*\"([^\"]+)\"" % ID_KEY, re.I)  # JSON text, ioreg
ID_JSON_KEY = re.compile(r"^(?:%s)$" % ID_KEY, re.I)
HOST_KEYS = {"hostname", "host_name", "nodename", "fqdn"}
HOST_XML = re.compile(r"<(hostname|host_name|nodename|fqdn)>\s*([^<\s][^<]*?)\s*</", re.I)
MOUNT_USER_OPTION = re.compile(r"(?<=[,\s])(user(?:name)?|domain)=([^,\s]+)")
#: Files that are nothing but an identifier.
ID_FILES = ("etc/machine-id", "var/lib/dbus/machine-id", "proc/sys/kernel/random/boot_id", "etc/hostid")
DMI_ID_FILE = re.compile(r"(?:^|/)dmi/id/(?:\w*serial|product_uuid|\w*asset_tag)$")
HOSTNAME_FILES = ("files/etc/hostname", "files/proc/sys/kernel/hostname", "files/etc/mailname")
HOSTNAME_COMMANDS = ("hostname", "hostname -f", "hostname --fqdn", "hostname -s", "uname -n")
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "glusterfs", "ceph", "fuse.sshfs", "afs", "lustre", "beegfs"}
#: An id shorter than this (a board id such as "0x700") is replaced only in its own field, not as a word everywhere.
MIN_ID_WORD = 6
#: Values never worth hiding.
NOT_SECRET = {"", "n/a", "[n/a]", "none", "null", "unknown", "0", "localhost", "localhost.localdomain", "root", "public",
              "shared", "default", "all users", "not specified", "to be filled by o.e.m.", "default string",
              "system serial number", "0123456789", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}


class Redactor:
    def __init__(self, vocabulary: Set[str]) -> None:
        self.vocabulary = vocabulary
        self.mapping: Dict[Tuple[str, str], str] = {}
        self.counts: Dict[str, int] = {}
        self.words: Dict[str, str] = {}  # lower-cased value -> placeholder, replaced as whole words everywhere
        self.pattern: Optional["re.Pattern[str]"] = None

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self.mapping:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.mapping[key] = PLACEHOLDERS[kind](self.counts[kind], value)
        return self.mapping[key]

    def name(self, kind: str, value: str) -> str:
        """The placeholder of a host, user or server name; a distinctive one is also replaced everywhere."""
        value = value.strip()
        if value.lower() in NOT_SECRET:
            return value
        short = value.split(".")[0]
        if kind == "host" and short and short != value:  # a fully-qualified name shares its short name's placeholder
            placeholder = self.mapping.setdefault((kind, value.lower()), self.name(kind, short))
            self._word(value, placeholder)
            return placeholder
        placeholder = self.placeholder(kind, value)
        if value.lower() not in self.vocabulary:
            self._word(value, placeholder)
        return placeholder

    def identifier(self, kind: str, value: str) -> str:
        """A serial number or another id: replaced where found and, unless it is short, everywhere."""
        value = value.strip()
        if value.lower() in NOT_SECRET:
            return value
        placeholder = self.placeholder(kind, value)
        if len(value) >= MIN_ID_WORD:
            self._word(value, placeholder)
        return placeholder

    def _word(self, value: str, placeholder: str) -> None:
        if self.words.get(value.lower()) != placeholder:
            self.words[value.lower()] = placeholder
            self.pattern = None

    def apply(self, text: str) -> str:
        text = UUID.sub(lambda m: self.placeholder("uuid", m.group(0)), text)
        text = CONTAINER_ID.sub(lambda m: self.placeholder("container", m.group(0)), text)
        text = MAC.sub(lambda m: m.group(0) if m.group(0).lower() in NOT_SECRET else self.placeholder("mac", m.group(0)),
                       text)
        text = IPV6.sub(self._ipv6, text)
        text = IPV4.sub(self._ipv4, text)
        text = HOME_PATH.sub(self._home, text)
        if self.words:
            if self.pattern is None:
                alternatives = sorted(self.words, key=len, reverse=True)
                self.pattern = re.compile(r"(?<![A-Za-z0-9_-])(?:%s)(?![A-Za-z0-9_-])"
                                          % "|".join(re.escape(word) for word in alternatives), re.I)
            text = self.pattern.sub(lambda m: self.words[m.group(0).lower()], text)
        return text

    def _home(self, match: "re.Match[str]") -> str:
        user = match.group(2)
        return match.group(0) if user.lower() in NOT_SECRET else match.group(1) + self.placeholder("user", user)

    def _ipv4(self, match: "re.Match[str]") -> str:
        value = match.group(0)
        if value.startswith(("127.", "0.", "255.")) or VERSION_BEFORE.search(match.string[max(0, match.start() - 24):
                                                                                            match.start()]):
            return value
        return self.placeholder("ipv4", value)

    def _ipv6(self, match: "re.Match[str]") -> str:
        value = match.group(0)
        try:
            address = ipaddress.IPv6Address(value.split("%")[0])
        except ValueError:
            return value
        return value if address.is_loopback or address.is_unspecified else self.placeholder("ipv6", value)


PLACEHOLDERS: Dict[str, Callable[[int, str], str]] = {
    "host": lambda n, _: "host%d" % n,
    "domain": lambda n, _: "domain%d.example" % n,
    "server": lambda n, _: "server%d" % n,
    "share": lambda n, _: "/share%d" % n,
    "user": lambda n, _: "user%d" % n,
    "serial": lambda n, _: "SERIAL%04d" % n,
    "uuid": lambda n, _: "00000000-0000-4000-8000-%012d" % n,
    "container": lambda n, _: "%064x" % n,
    "mac": lambda n, value: ":".join(["02"] + ["00"] * (len(value) // 3 - 2) + ["%02x" % (n % 256)]),
    "ipv4": lambda n, _: "192.0.2.%d" % n,  # RFC 5737 documentation addresses
    "ipv6": lambda n, _: "2001:db8::%x" % n,  # RFC 3849
}
