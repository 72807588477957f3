"""The GPU architectures of each torch CUDA build, derived from the build script that set them
(scripts/refresh-knowledge; never on the doctor's path).

A release row may name the script its Linux x86_64 wheels were built with, ``build_script``: {repo, commit, path},
e.g. pytorch/builder ``manywheel/build_cuda.sh`` at its release/1.13 tip, or ``manywheel/build.sh`` on main at a
1.x release date (no release branch exists before 1.9). The tool reads that file at that commit
(``<scripts-url>/<repo>/<commit>/<path>``, raw.githubusercontent.com by default) and, for every CUDA variant of the
row, evaluates what the script sets ``TORCH_CUDA_ARCH_LIST`` to for that CUDA version:

* the script is walked command by command (a line's comment dropped, split at ';' outside quotes) as bash would
  for one build: a manywheel wheel for Linux x86_64 with ``CUDA_VERSION`` the variant's CUDA. ``case
  ${CUDA_VERSION} in`` items (bash globs: ``11.[123])``, ``10.*)``, ``12.8|12.9)``, one-line items ending ``;;``),
  ``if/elif [[ $CUDA_VERSION == "9.0" ]]`` chains and ``[[ test ]] &&`` guards pick the branch; conditions on the
  build's own kind are known (``GPU_ARCH_TYPE`` cuda, ``ARCH`` / ``uname -m`` x86_64, ``PACKAGE_TYPE`` manywheel, no
  ``OVERRIDE_TORCH_CUDA_ARCH_LIST``); an assignment under any other condition, a ``$(...)`` it cannot evaluate, or a
  CUDA version that reaches ``exit`` gives no answer (reported), never a guess;
* ``"3.7;5.0;6.0;7.0;7.5;8.0;8.6+PTX"`` -> ``arch_list`` ['3.7', ..., '8.6'] (sorted) and ``ptx`` '8.6' (the lowest
  +PTX entry: PTX JIT-compiles for any newer GPU); no +PTX entry -> no ``ptx`` key.

A value the variant lacks is written; one that differs is written where the row lists it in ``unverified_fields``
(``variants.cu118.arch_list``, ``variants.*.ptx``), else reported as a conflict and kept (``--force`` overwrites), as
for the other derived columns. ``arch_lists_source`` names the file and the date it was read. Rows without
``build_script`` (2.6 on: the scripts moved into pytorch/pytorch's ``.ci/manywheel``) are left alone.
"""

from __future__ import annotations

import fnmatch
import re
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

from packaging.version import Version

from provision.knowledge.refresh import Report

SCRIPTS = "https://raw.githubusercontent.com"
MAX_SCRIPT = 2**20  # a build script is a few KB
VARIABLE = "TORCH_CUDA_ARCH_LIST"
#: What the conditions of a script read, for the build the table describes (a Linux x86_64 manywheel wheel).
KNOWN = {"GPU_ARCH_TYPE": "cuda", "ARCH": "x86_64", "$(uname -m)": "x86_64", "PACKAGE_TYPE": "manywheel",
         "OVERRIDE_TORCH_CUDA_ARCH_LIST": ""}
Reader = Callable[[str], str]  # a script URL -> its text

_ASSIGN = re.compile(r"^(?:export\s+)?%s=" % VARIABLE)
_TEST = re.compile(r"^(?:if|elif)\s+\[\[?\s*(.*?)\s*\]\]?$")
_GUARD = re.compile(r"^\[\[\s*(.*?)\s*\]\]\s*&&\s*(.+)$")  # [[ test ]] && command
_COMPARE = re.compile(r"^(\S+)\s*(==|=|!=)\s*(\S+)$")
_TERNARY = re.compile(r"\$\(\[\[\s*(.*?)\s*\]\]\s*&&\s*echo\s+\"([^\"]*)\"\s*\|\|\s*echo\s+\"([^\"]*)\"\)")
_LABEL = re.compile(r"^([^\s()#][^()]*)\)\s*(.*)$")


class Unknown(Exception):
    """The script does not say, for this build, what it sets the list to."""


def _value(token: str, cuda: str) -> Optional[str]:
    """A word of a condition: '"$CUDA_VERSION"' -> '12.4', '"cuda-aarch64"' -> 'cuda-aarch64'; None for a
    variable the build does not fix."""
    word = token.strip("\"'")
    if word.startswith("$") and not word.startswith("$("):
        name = word.strip("${}")
        return cuda if name == "CUDA_VERSION" else KNOWN.get(name)
    return KNOWN.get(word) if word.startswith("$(") else word


def _condition(text: str, cuda: str) -> Optional[bool]:
    """What a [[ ... ]] test gives for this build; None where it reads something else."""
    if "||" in text or "&&" in text:
        split = "||" if "||" in text else "&&"
        parts = [_condition(part.strip(), cuda) for part in text.split(split)]
        decided = (split == "||")  # one True decides an ||, one False an &&
        return decided if decided in parts else (None if None in parts else not decided)
    flag = re.match(r"^-([nz])\s+(\S+)$", text)
    if flag:
        value = _value(flag.group(2), cuda)
        return None if value is None else (value != "") == (flag.group(1) == "n")
    match = _COMPARE.match(text)
    if not match:
        return None
    left, right = _value(match.group(1), cuda), _value(match.group(3), cuda)
    if left is None or right is None:
        return None
    quoted = match.group(3)[:1] in "\"'"  # [[ x == "a*" ]] is a string, [[ x == a* ]] a glob
    equal = left == right if quoted else fnmatch.fnmatchcase(left, right)
    return equal if match.group(2) != "!=" else not equal


def _word(text: str) -> str:
    """The shell word text starts with: a quoted string (a $(...) inside it may hold quotes of its own), a
    single-quoted one, or up to a blank, ';' or '#'."""
    if text.startswith("'"):
        end = text.find("'", 1)
        return text if end < 0 else text[:end + 1]
    if not text.startswith('"'):
        bare = re.match(r"[^\s#;]*", text)
        return bare.group(0) if bare else ""
    depth, index = 0, 1
    while index < len(text):
        if text.startswith("$(", index):
            depth, index = depth + 1, index + 2
            continue
        char = text[index]
        if char == ")" and depth:
            depth -= 1
        elif char == '"' and not depth:
            return text[:index + 1]
        index += 1
    return text


def _assigned(word: str, current: str, cuda: str) -> str:
    """The value of TORCH_CUDA_ARCH_LIST=word, given its current value."""
    text = word[1:-1] if word[:1] in "\"'" and word[-1:] == word[:1] else word

    def ternary(match: "re.Match[str]") -> str:
        chosen = _condition(match.group(1), cuda)
        if chosen is None:
            raise Unknown("$(...) on %s" % match.group(1))
        return match.group(2) if chosen else match.group(3)

    text = _TERNARY.sub(ternary, text)
    text = text.replace("${%s}" % VARIABLE, current).replace("$%s" % VARIABLE, current)
    if "$" in text:
        raise Unknown("an assignment reads another variable: %s" % word)
    return text


class _Frame:
    """One open if/case: whether its current branch runs (None: cannot tell) and whether one already ran."""

    def __init__(self, kind: str, subject: Optional[str] = None) -> None:
        self.kind, self.subject = kind, subject
        self.active: Optional[bool] = False
        self.taken = False  # a branch ran
        self.maybe = False  # a branch may have run
        self.expect_label = kind == "case"

    def choose(self, runs: Optional[bool]) -> None:
        """The next branch, whose own test gives runs; it runs only if no branch before it did."""
        self.active = False if self.taken or runs is False else (None if self.maybe or runs is None else True)
        self.taken = self.taken or self.active is True
        self.maybe = self.maybe or self.active is None


def _running(stack: List[_Frame]) -> Optional[bool]:
    states = [frame.active for frame in stack]
    return False if False in states else (None if None in states else True)


def commands(line: str) -> List[str]:
    """A script line as bash reads it: its comment dropped and split into commands at ';' outside quotes, $(...)
    and ${...} ('if [[ x ]]; then' -> ['if [[ x ]]', 'then']); a ';;', which ends a case item, is a command of its
    own."""
    out: List[str] = []
    stack: List[str] = []  # the open quotes and substitutions
    start = index = 0
    while index < len(line):
        char, top = line[index], stack[-1] if stack else ""
        if top == "'":
            if char == "'":
                stack.pop()
        elif char == "\\":
            index += 1
        elif top == '"' and char == '"':
            stack.pop()
        elif line.startswith("$(", index) or line.startswith("${", index):
            stack.append(line[index + 1])
            index += 1
        elif top in ("(", "{") and char == (")" if top == "(" else "}"):
            stack.pop()
        elif top != '"' and char in "'\"":
            stack.append(char)
        elif not stack and char == "#" and (index == 0 or line[index - 1].isspace()):
            break
        elif not stack and char == ";":
            out.append(line[start:index])
            if line.startswith(";;", index):
                out.append(";;")
                index += 1
            start = index + 1
        index += 1
    out.append(line[start:index])
    return [command.strip() for command in out if command.strip()]


def evaluate(text: str, cuda: str) -> str:
    """The TORCH_CUDA_ARCH_LIST a build script sets for a Linux x86_64 wheel of this CUDA ('11.8'); Unknown where
    it does not say."""
    current: Optional[str] = None
    stack: List[_Frame] = []
    for raw in text.splitlines():
        for command in commands(raw.strip()):
            frame = stack[-1] if stack else None
            if frame is not None and frame.kind == "case" and frame.expect_label:
                label = _LABEL.match(command)
                if label is not None:
                    subject = frame.subject
                    patterns = [p.strip().strip("\"'") for p in label.group(1).split("|")]
                    frame.choose(None if subject is None else any(fnmatch.fnmatchcase(subject, p)
                                                                  for p in patterns))
                    frame.expect_label = False
                    command = label.group(2).strip()
                    if not command:
                        continue
            if command == ";;":
                if stack and stack[-1].kind == "case":
                    stack[-1].active, stack[-1].expect_label = False, True
                continue
            current = _statement(command, stack, current, cuda)
    if current is None:
        raise Unknown("no %s for CUDA %s" % (VARIABLE, cuda))
    return current


def _statement(line: str, stack: List[_Frame], current: Optional[str], cuda: str) -> Optional[str]:
    """One line of the script: a control word changes the stack, an assignment that runs the value."""
    case = re.match(r"^case\s+\"?\$\{?(\w+)\}?\"?\s+in$", line)
    if case:
        stack.append(_Frame("case", cuda if case.group(1) == "CUDA_VERSION" else KNOWN.get(case.group(1))))
        return current
    if line == "esac" or line == "fi":
        if stack:
            stack.pop()
        return current
    if line.startswith("if ") or line.startswith("elif "):
        if line.startswith("if "):
            stack.append(_Frame("if"))
        test = _TEST.match(line)
        if stack:
            stack[-1].choose(_condition(test.group(1), cuda) if test else None)
        return current
    if line == "else" and stack:
        stack[-1].choose(True)
        return current
    if line in ("then", "do", "done", "{", "}"):
        return current
    guard = _GUARD.match(line)
    if guard:  # [[ test ]] && command: the command runs where the test holds
        holds = _condition(guard.group(1), cuda)
        if holds is None and _ASSIGN.match(guard.group(2)):
            raise Unknown("%s set under a condition the build does not fix" % VARIABLE)
        return _statement(guard.group(2), stack, current, cuda) if holds else current
    running = _running(stack)
    if running is False:
        return current
    assign = _ASSIGN.match(line)
    if assign:
        if running is None:
            raise Unknown("%s set under a condition the build does not fix" % VARIABLE)
        return _assigned(_word(line[assign.end():]), current or "", cuda)
    if running is True and re.match(r"^exit\b", line):  # an exit under an unknown test: the wheels exist
        raise Unknown("the script exits for CUDA %s" % cuda)
    return current


def arch_of(value: str) -> Tuple[List[str], Optional[str]]:
    """'3.7;5.0+PTX;6.0' -> (['3.7', '5.0', '6.0'], '5.0'); Unknown for an entry that is no X.Y[+PTX]."""
    arches, ptx = set(), []
    for entry in filter(None, re.split(r"[;\s]+", value)):
        match = re.fullmatch(r"(\d+\.\d+)(\+PTX)?", entry)
        if match is None:
            raise Unknown("an arch list entry dlws cannot read: %s" % entry)
        arches.add(match.group(1))
        if match.group(2):
            ptx.append(match.group(1))
    if not arches:
        raise Unknown("an empty arch list")
    return sorted(arches, key=Version), (min(ptx, key=Version) if ptx else None)


def script_url(base: str, script: Dict[str, Any]) -> str:
    return "%s/%s/%s/%s" % (base.rstrip("/"), script["repo"], script["commit"], script["path"])


def read(url: str, timeout: float = 60.0) -> str:
    """A script's text (bounded read)."""
    request = urllib.request.Request(url, headers={"User-Agent": "dlws-refresh"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (a maintainer's chosen URL)
        body = answer.read(MAX_SCRIPT + 1)
    if len(body) > MAX_SCRIPT:
        raise ValueError("%s: larger than %d bytes" % (url, MAX_SCRIPT))
    return body.decode("utf-8", "replace")


class Scripts:
    """The build scripts the rows name, each read once; what could not be read."""

    def __init__(self, base: str, reader: Reader) -> None:
        self.base, self.reader = base, reader
        self.texts: Dict[str, str] = {}
        self.unread: List[str] = []

    def text(self, script: Dict[str, Any]) -> str:
        url = script_url(self.base, script)
        if url not in self.texts and url not in self.unread:
            try:
                self.texts[url] = self.reader(url)
            except (OSError, ValueError) as error:
                self.unread.append(url)
                raise Unknown("cannot read %s: %s" % (url, error)) from error
        if url in self.unread:
            raise Unknown("cannot read %s" % url)
        return self.texts[url]


def _unverified(row: Dict[str, Any], variant: str, field: str) -> bool:
    listed = row.get("unverified_fields") or []
    return "variants.%s.%s" % (variant, field) in listed or "variants.*.%s" % field in listed


def _merge(row: Dict[str, Any], variant: str, field: str, derived: Any, fresh: bool, force: bool,
           report: Report) -> bool:
    """Write one derived field of a variant ('ptx' None: no PTX, so no key); True when it changed. fresh: the
    variant had no arch_list, so its lists are unknown (beside one, an absent ptx says 'no PTX')."""
    target = row["variants"][variant]
    current = target.get(field)
    if current == derived:
        return False
    label = "pytorch %s: variants.%s.%s" % (row.get("version"), variant, field)
    if fresh or force or _unverified(row, variant, field):
        report.changes.append("%s %s -> %s" % (label, current, derived))
        if derived is None:
            target.pop(field, None)
        else:
            target[field] = derived
        return True
    report.conflicts.append("%s is %s (hand-verified), the build script says %s" % (label, current, derived))
    return False


def refresh_row(row: Dict[str, Any], scripts: Scripts, today: str, force: bool, report: Report) -> None:
    script = row.get("build_script")
    if not isinstance(script, dict):
        return
    changed = False
    for name, info in sorted((row.get("variants") or {}).items()):
        if not isinstance(info, dict) or not info.get("cuda"):
            continue
        try:
            arches, ptx = arch_of(evaluate(scripts.text(script), info["cuda"]))
        except Unknown as why:
            report.notes.append("pytorch %s: variants.%s: %s" % (row.get("version"), name, why))
            continue
        fresh = "arch_list" not in info
        changed = _merge(row, name, "arch_list", arches, fresh, force, report) or changed
        changed = _merge(row, name, "ptx", ptx, fresh, force, report) or changed
    text = "%s %s at %s%s: %s per CUDA version (scripts/refresh-knowledge), read " % (
        script["repo"], script["path"], script["commit"], " (%s)" % script["ref"] if script.get("ref") else "",
        VARIABLE)
    if changed or not str(row.get("arch_lists_source", "")).startswith(text):
        row["arch_lists_source"] = text + today


def refresh_arch(table: Dict[str, Any], scripts: Scripts, today: str, force: bool = False,
                 report: Optional[Report] = None) -> Report:
    """Update the torch rows' arch lists in place from their build scripts."""
    report = report or Report()
    for row in table["frameworks"].get("pytorch", {}).get("releases") or []:
        refresh_row(row, scripts, today, force, report)
    return report


def _relevant(line: str) -> bool:
    """A line the evaluation reads: one with a control word, a case item, a ';;' or an assignment of the list (also
    behind a [[ test ]] &&)."""
    for command in commands(line.strip()):
        guard = _GUARD.match(command)
        if re.match(r"^(if|elif|else|fi|case|esac|exit)\b", command) or command == ";;" \
                or _LABEL.match(command) and "=" not in command.split(")")[0] \
                or _ASSIGN.match(guard.group(2) if guard else command):
            return True
    return False


def recorded_script(text: str) -> str:
    """A build script cut to what the tool reads (what tests/data/pypi/build_scripts keeps)."""
    return "".join(line + "\n" for line in text.splitlines() if _relevant(line))
