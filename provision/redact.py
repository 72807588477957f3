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

This module walks a snapshot's members: it learns the vocabulary, finds the identifiers and replaces them.
What an identifier looks like and what it becomes are in redact_rules; the recording machine's own identifiers,
which the snapshot may not name, are found by redact_live.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Set, Tuple

from provision.redact_rules import (DMI_ID_FILE, HOME_PATH, HOST_KEYS, HOST_XML, HOSTNAME_COMMANDS, HOSTNAME_FILES,
                                    ID_FILES, ID_JSON_KEY, ID_LINE, ID_QUOTED, ID_XML, IPV4, MOUNT_USER_OPTION,
                                    NETWORK_FS, NOT_SECRET, UUID, Redactor)


class Known(NamedTuple):
    """Identifiers of the machine being recorded that the snapshot itself may not name (see redact_live)."""

    hosts: Tuple[str, ...] = ()
    users: Tuple[str, ...] = ()
    ids: Tuple[str, ...] = ()  # machine-id, boot id, serial numbers, addresses


# --- the vocabulary: words of the machine's software --------------------------------------------------------------

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
