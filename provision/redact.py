"""Redaction of a snapshot for a public bug report: identifying values become stable placeholders.

The same value gets the same placeholder everywhere (file contents, file names, command lines, JSON keys), so a
redacted snapshot replays into the same inventory, apart from the identifying values themselves.

Two rules decide where a host or user name is replaced:

* where a value certainly is a name (/etc/hostname, the platform's node, a ``hostname`` field, the folder of a home
  directory, the server of a network mount), it is replaced whatever it is, however short;
* elsewhere it is replaced as a whole word, in any case, only when it is *distinctive*: when it is not a word of the
  machine's own software (the vocabulary: what the operating system, drivers and tools wrote, with the owner's paths
  left out). A host called ``linux`` or ``nvidia`` cannot be told apart from those words in /proc/version or in
  /sys/bus/pci/drivers/nvidia, and replacing them there would change the inventory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

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
#: Members that hold the owner's choices rather than the software's words: never part of the vocabulary.
OWNER_MEMBERS = re.compile(r"^files/(?:etc/(?:hostname|hosts|mailname|machine-id|hostid)|proc/(?:mounts|self/mount\w*|"
                           r"sys/kernel/(?:hostname|domainname|random/\w+))|sys/class/net/[^/]+/address|.*dmi/id/.*)$")
#: First folders of paths that belong to the operating system; any other absolute path is the owner's.
SYSTEM_ROOTS = ("usr", "lib", "lib32", "lib64", "libx32", "bin", "sbin", "etc", "opt", "proc", "sys", "dev", "run",
                "var", "boot", "snap", "nix", "System", "Library", "Applications", "private")
#: Files of installed packages, wherever the environment lies: their words are the software's.
PACKAGE_FILE = re.compile(r"/(?:site-packages|dist-packages|conda-meta)/|\.(?:dist|egg)-info/")
OWNER_PATH = re.compile(r"(?<![\w.~-])/(?!(?:%s)(?![\w.-]))[^\s\"':;,=()\[\]{}<>]*" % "|".join(SYSTEM_ROOTS))
WORD = re.compile(r"[A-Za-z0-9_-]+")
#: An id shorter than this (a board id such as "0x700") is replaced only in its own field, not as a word everywhere.
MIN_ID_WORD = 6
#: Values never worth hiding.
NOT_SECRET = {"", "n/a", "[n/a]", "none", "null", "unknown", "0", "localhost", "localhost.localdomain", "root", "public",
              "shared", "default", "all users", "not specified", "to be filled by o.e.m.", "default string",
              "system serial number", "0123456789", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}


class Known(NamedTuple):
    """Identifiers of the machine being recorded that the snapshot itself may not name (see live_identifiers)."""

    hosts: Tuple[str, ...] = ()
    users: Tuple[str, ...] = ()
    ids: Tuple[str, ...] = ()  # machine-id, boot id, serial numbers, addresses


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


# --- the vocabulary: words of the machine's software --------------------------------------------------------------


def vocabulary(members: Dict[str, str], data: Dict[str, Any], hosts: Iterable[str] = ()) -> Set[str]:
    """The lower-cased words of what the software wrote: files in the system's folders and in installed packages,
    command lines and their output, NVML and platform facts, leaving out identity files, error messages and every path
    of the owner's, and any name in the domain of the machine's hosts (a host's name there is no word of the software)."""
    words: Set[str] = set()
    names = [re.compile(r"(?<![\w-])[\w-]+\.%s(?![\w-])" % re.escape(domain), re.I) for domain in _domains(hosts)]

    def add(text: str) -> None:
        text = OWNER_PATH.sub(" ", HOME_PATH.sub(" ", text))
        for name in names:
            text = name.sub(" ", text)
        words.update(word.lower() for word in WORD.findall(text))

    for path, text in members.items():
        if path.startswith("files/"):
            add("/" + path[len("files/"):])
            if (not OWNER_PATH.match("/" + path[len("files/"):]) or PACKAGE_FILE.search(path)) \
                    and not OWNER_MEMBERS.match(path):
                add(text)
    for line, entry in _dict(data.get("commands.json")).items():
        if line not in HOSTNAME_COMMANDS and not line.startswith("uname"):
            add(line)  # stderr is left out: messages are where other programs name hosts ("unable to resolve host")
            _walk_strings(_dict(entry).get("stdout"), add)
    host = _dict(data.get("host.json"))
    for folder, entries in _dict(host.get("listdir")).items():
        if not OWNER_PATH.match(folder) and not HOME_PATH.search(folder):
            add(folder)
            _walk_strings(entries, add)
    _walk_strings(host.get("realpath"), add, keys=True)
    for name, fact in _dict(host.get("facts")).items():
        if not name.startswith(("env:", "statvfs:")):
            _walk_strings({k: v for k, v in fact.items() if k != "node"} if isinstance(fact, dict) else fact, add)
    _walk_strings(data.get("nvml.json"), add)
    return words


def _domains(hosts: Iterable[str]) -> Set[str]:
    return {host.split(".", 1)[1].lower() for host in hosts if "." in host.strip(".") and host.lower() not in NOT_SECRET}


def _walk_strings(value: Any, visit: Callable[[str], None], keys: bool = False) -> None:
    if isinstance(value, str):
        visit(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                visit(str(key))
            if str(key).lower() not in HOST_KEYS and not ID_JSON_KEY.match(str(key)):
                _walk_strings(item, visit, keys)
    elif isinstance(value, list):
        for item in value:
            _walk_strings(item, visit, keys)


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- finding the identifiers --------------------------------------------------------------------------------------


def _host_names(members: Dict[str, str], data: Dict[str, Any], known: Known) -> List[str]:
    """The machine's names, from the places that certainly hold them."""
    hosts: List[str] = list(known.hosts)
    hosts += [members[path].strip() for path in HOSTNAME_FILES if path in members]
    commands = _dict(data.get("commands.json"))
    for line in HOSTNAME_COMMANDS:
        hosts.append(str(_dict(commands.get(line)).get("stdout") or "").strip())
    uname = str(_dict(commands.get("uname -a")).get("stdout") or "").split()
    hosts += uname[1:2]
    hosts.append(str(_dict(_dict(_dict(data.get("host.json")).get("facts")).get("platform")).get("node") or ""))
    for text in _all_strings(members, data):
        hosts += [m.group(2) for m in HOST_XML.finditer(text)]
    return [host.strip() for host in hosts if host.strip()]


def _find_names(redactor: Redactor, members: Dict[str, str], data: Dict[str, Any], known: Known,
                hosts: List[str]) -> None:
    for host in hosts:
        redactor.name("host", host)
    for domain in _domains(hosts):  # the machine's domain names its owner, with any host in it
        redactor.name("domain", domain)
    users: List[str] = list(known.users)
    for text in _all_strings(members, data):
        users += [m.group(2) for m in HOME_PATH.finditer(text)]
    for user in users:
        redactor.name("user", user)
    for server in _mount_servers(members.get("files/proc/mounts", "")):
        redactor.name("server", server)
    for value in known.ids:
        redactor.identifier("serial", value)
    for path, text in members.items():
        if path[len("files/"):] in ID_FILES or DMI_ID_FILE.search(path):
            redactor.identifier("serial", text)
    for text in _all_strings(members, data):
        for pattern in (ID_XML, ID_LINE, ID_QUOTED):
            for match in pattern.finditer(text):
                if not UUID.fullmatch(match.group(2).strip()):
                    redactor.identifier("serial", match.group(2))
    _find_json_ids(redactor, data)


def _find_json_ids(redactor: Redactor, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and ID_JSON_KEY.match(str(key)) and not UUID.fullmatch(item):
                redactor.identifier("serial", item)
            else:
                _find_json_ids(redactor, item)
    elif isinstance(value, list):
        for item in value:
            _find_json_ids(redactor, item)


def _all_strings(members: Dict[str, str], data: Dict[str, Any]) -> Iterable[str]:
    found: List[str] = []
    for path, text in members.items():
        found.append(path)
        if path not in data:
            found.append(text)
    _walk_strings(data, found.append, keys=True)
    return found


def _mount_servers(text: str) -> List[str]:
    return [_server(fields[0]) for fields in (line.split(" ") for line in text.splitlines())
            if len(fields) >= 3 and fields[2] in NETWORK_FS and _server(fields[0])]


def _server(source: str) -> str:
    """The server of a network mount's source: "fs1:/export", "//fs1/share", "bob@fs1:/home", "10.0.0.1@tcp:/lustre"."""
    return re.split(r"[:/@]", source.lstrip("/"))[0]


# --- replacing ----------------------------------------------------------------------------------------------------


def _mounts(redactor: Redactor, text: str) -> str:
    """Network mounts: the whole source (server and share) becomes a placeholder, and so do user options."""
    lines = []
    for line in text.splitlines(True):
        fields = line.split(" ")
        if len(fields) >= 3 and fields[2] in NETWORK_FS:
            server = redactor.name("server", _server(fields[0])) if _server(fields[0]) else "server"
            share = redactor.placeholder("share", fields[0])
            fields[0] = "/%s%s" % (server, share) if fields[0].startswith("//") else "%s:%s" % (server, share)
            line = " ".join(fields)
        lines.append(MOUNT_USER_OPTION.sub(lambda m: "%s=%s" % (m.group(1), redactor.placeholder("user", m.group(2))),
                                           line))
    return "".join(lines)


def _text_member(redactor: Redactor, path: str, text: str) -> str:
    if path in HOSTNAME_FILES:
        return "".join(redactor.name("host", part) if part.strip() else part
                       for part in re.split(r"(\s+)", text))
    if path[len("files/"):] in ID_FILES or DMI_ID_FILE.search(path):
        return text.replace(text.strip(), redactor.identifier("serial", text)) if text.strip() else text
    if path == "files/etc/hosts":
        text = "\n".join(" ".join(redactor.name("host", word) if i and not IPV4.fullmatch(word) else word
                                  for i, word in enumerate(line.split(" "))) if not line.startswith("#") else line
                         for line in text.split("\n"))
    if path == "files/proc/mounts":
        text = _mounts(redactor, text)
    text = HOST_XML.sub(lambda m: m.group(0).replace(m.group(2), redactor.name("host", m.group(2))), text)
    text = ID_XML.sub(lambda m: m.group(0).replace(m.group(2), redactor.identifier("serial", m.group(2))), text)
    text = ID_LINE.sub(lambda m: m.group(1) + redactor.identifier("serial", m.group(2)), text)
    text = ID_QUOTED.sub(lambda m: m.group(0).replace(m.group(2), redactor.identifier("serial", m.group(2))), text)
    return redactor.apply(text)


def _json_value(redactor: Redactor, value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "platform" and isinstance(value.get("node"), str):
            value = dict(value, node=redactor.name("host", value["node"]))
        return {_text(redactor, str(k)): _json_value(redactor, v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(redactor, item, key) for item in value]
    if not isinstance(value, str):
        return value
    if key.lower() in HOST_KEYS:
        return redactor.name("host", value)
    if ID_JSON_KEY.match(key) and not UUID.fullmatch(value):
        return redactor.identifier("serial", value)
    return _text(redactor, value)


def _text(redactor: Redactor, text: str) -> str:
    return _text_member(redactor, "", text)


def _commands(redactor: Redactor, commands: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for line, entry in commands.items():
        if isinstance(entry, dict) and isinstance(entry.get("stdout"), str):
            stdout = entry["stdout"]
            if line in HOSTNAME_COMMANDS:
                stdout = _text_member(redactor, HOSTNAME_FILES[0], stdout)
            elif line == "uname -a" and len(stdout.split(" ")) > 1:
                parts = stdout.split(" ")
                stdout = " ".join(parts[:1] + [redactor.name("host", parts[1])] + parts[2:])
            entry = dict(entry, stdout=stdout)
        out[_text(redactor, line)] = _json_value(redactor, entry)
    return out


def redact_members(members: Dict[str, str], known: Known = Known()) -> Dict[str, str]:
    """A copy of a snapshot's members (path -> text) with identifying values replaced."""
    data: Dict[str, Any] = {}
    for path, text in members.items():
        if path.endswith(".json") and not path.startswith("files/"):
            try:
                data[path] = json.loads(text)
            except ValueError:
                pass
    hosts = _host_names(members, data, known)
    redactor = Redactor(vocabulary(members, data, hosts))
    _find_names(redactor, members, data, known, hosts)
    out = {}
    for path, text in sorted(members.items()):
        if path == "commands.json" and isinstance(data.get(path), dict):
            redacted = json.dumps(_commands(redactor, data[path]), indent=1, sort_keys=True) + "\n"
        elif path in data:
            redacted = json.dumps(_json_value(redactor, data[path]), indent=1, sort_keys=True) + "\n"
        else:
            redacted = _text_member(redactor, path, text)
        out[redactor.apply(path)] = redacted
    return out


# --- this machine's identifiers -----------------------------------------------------------------------------------


def live_identifiers() -> Known:
    """The identifiers of this machine, found outside the probes: a recording redacts them wherever they appear."""
    import getpass
    import platform
    import pwd
    import socket

    hosts = {socket.gethostname(), socket.getfqdn(), platform.node()}
    users = set()
    try:
        users.add(getpass.getuser())
    except (KeyError, OSError):
        pass
    for entry in pwd.getpwall():  # people's accounts: those with a home folder of their own
        if 1000 <= entry.pw_uid < 65534 and os.path.isdir(entry.pw_dir):
            users.add(entry.pw_name)
    ids = set()
    paths = ["/" + path for path in ID_FILES] + ["/sys/class/dmi/id/" + name for name in (
        "product_serial", "product_uuid", "board_serial", "chassis_serial", "board_asset_tag", "chassis_asset_tag")]
    net = "/sys/class/net"
    paths += [os.path.join(net, name, "address") for name in (os.listdir(net) if os.path.isdir(net) else [])]
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                ids.add(handle.read(4096).strip())
        except OSError:
            pass
    try:
        import psutil

        for addresses in psutil.net_if_addrs().values():
            ids.update(a.address.split("%")[0] for a in addresses if a.address)
    except (ImportError, OSError):
        pass
    generic = {"127.0.0.1", "::1"}
    return Known(tuple(sorted(h for h in hosts if h)), tuple(sorted(u for u in users if u)),
                 tuple(sorted(i for i in ids if i and i not in generic)))
