"""The --require expression language: small, documented comparisons over the inventory JSON.

    requirement := subject [operator value]
    operator    := >= | <= | > | < | == | !=
    value       := a number (a size needs its unit: 24GiB, 500GB, 1.5TB), a version (12.1, 2.4.0, v3) or a word

Subjects (a subject without an operator asks that it is present / true):

    gpu.count  gpu.memory  gpu.compute_capability                the GPUs (memory and capability: the smallest GPU's)
    driver  cuda  cuda.toolkit  cudnn                            NVIDIA driver, the CUDA it supports, toolkits, cuDNN
    ram  swap  disk[/path].free  disk[/path].total               sizes (disk[/path]: the mount that holds /path)
    cpu.cores  cpu.threads  cpu.level  cpu.flag NAME             CPU (cpu.level compares v1..v4)
    python  glibc  os.id  os.version  rocm                       software
    FRAMEWORK  FRAMEWORK.cuda  FRAMEWORK.rocm  FRAMEWORK.cpu     torch (or pytorch), tensorflow, jax, jaxlib, mxnet, keras

Examples: ``gpu.count >= 2``, ``gpu.memory >= 24GiB``, ``driver >= 535``, ``disk[/data].free >= 500GB``,
``cpu.flag avx512f``, ``torch >= 2.4``, ``torch.cuda``.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from packaging.version import InvalidVersion, Version

from provision.doctor.model import declare
from provision.errors import UsageError
from provision.untrusted import excerpt

OPERATORS: Dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne,
}
UNITS = {
    "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
    "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40,
}
FRAMEWORK_ALIASES = {"pytorch": "torch", "tf": "tensorflow"}
FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "mxnet", "keras", "torchvision", "torchaudio")

TOKEN = re.compile(r"\s*(?:(?P<op>>=|<=|==|!=|>|<)|(?P<word>disk\[[^\]]*\][\w.]*|[^\s<>=!]+))")
#: TOKEN without "disk[...]", for where no "]" follows: "disk[" would scan to the end each time in vain.
TOKEN_NO_BRACKET = re.compile(r"\s*(?:(?P<op>>=|<=|==|!=|>|<)|(?P<word>[^\s<>=!]+))")
#: A requirement is a subject, an operator and a value; these bound what a CI file or a stranger can make dlws parse.
MAX_EXPRESSION_CHARS = 4096
MAX_REQUIREMENTS = 1000

Value = Union[float, Version, str]  # what _coerce makes of a value: a size or number, a version, a word


@dataclass
class Requirement:
    text: str
    subject: str
    op: Optional[str] = None
    value: Optional[str] = None
    argument: Optional[str] = None  # the NAME of cpu.flag NAME, the /path of disk[/path]


@dataclass
class Outcome:
    requirement: Requirement
    met: bool
    actual: str  # what the inventory says, for the finding's evidence


UNMET = declare("DLWS-REQ-001", "error", "Requirement not met", "require", """
    A requirement given with --require (or in a --require-file) that this machine does not meet. A requirement
    about something the inventory does not know (no GPU to compare, a tool that is not installed) is not met
    either. The evidence shows the requirement and what the inventory says; each requirement is a check of its
    own (one JUnit test case, named "require: EXPR").""")


def _fail(text: str, column: int, why: str) -> UsageError:
    return UsageError("bad --require %s at column %d: %s" % (excerpt(text), column + 1, why))


def _tokens(text: str) -> List[Tuple[int, str, str]]:
    """The tokens of text, in one pass (the end and the last "]" are found once, not at every token)."""
    out, pos, end, last_bracket = [], 0, len(text.rstrip()), text.rfind("]")
    while pos < end:
        match = (TOKEN if pos < last_bracket else TOKEN_NO_BRACKET).match(text, pos)
        if not match or match.end() == pos:
            pos += len(text[pos:]) - len(text[pos:].lstrip())
            raise _fail(text, pos, "unexpected %s" % excerpt(text[pos:pos + 1]))
        kind = "op" if match.group("op") else "word"
        out.append((match.start(kind), kind, match.group(kind)))
        pos = match.end()
    return out


def parse_all(texts: List[str]) -> List[Requirement]:
    """Parse every requirement; a usage error for more than MAX_REQUIREMENTS."""
    if len(texts) > MAX_REQUIREMENTS:
        raise UsageError("more than %d requirements (--require and --require-file together)" % MAX_REQUIREMENTS)
    return [parse(text) for text in texts]


def parse(text: str) -> Requirement:
    """Parse one requirement; UsageError (exit 2) that points at the bad token otherwise."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise UsageError("bad --require %s: longer than %d characters" % (excerpt(text, 40), MAX_EXPRESSION_CHARS))
    tokens = _tokens(text)
    if not tokens:
        raise _fail(text, 0, "empty requirement")
    column, kind, subject = tokens[0]
    if kind != "word":
        raise _fail(text, column, "expected a subject such as gpu.count, got %s" % excerpt(subject))
    req = Requirement(text=text.strip(), subject=subject.lower())
    rest = tokens[1:]
    match = re.fullmatch(r"disk\[([^\]]+)\]\.(free|total)", subject)
    if match:
        req.subject, req.argument = "disk." + match.group(2), match.group(1)
    elif req.subject == "cpu.flag":
        if len(rest) != 1 or rest[0][1] != "word":
            raise _fail(text, rest[0][0] if rest else len(text), "cpu.flag takes one flag name, e.g. cpu.flag avx512f")
        req.argument = rest[0][2].lower()
        return req
    if req.subject not in SUBJECTS and _framework(req.subject) is None:
        raise _fail(text, column, "unknown subject %s (see dlws doctor --help)" % excerpt(subject))
    if not rest:
        return req
    if rest[0][1] != "op":
        raise _fail(text, rest[0][0], "expected an operator (>=, <=, >, <, ==, !=), got %s" % excerpt(rest[0][2]))
    if len(rest) < 2:
        raise _fail(text, len(text), "expected a value after %s" % excerpt(rest[0][2]))
    if len(rest) > 2:
        raise _fail(text, rest[2][0], "unexpected %s after the value" % excerpt(rest[2][2]))
    req.op, req.value = rest[0][2], rest[1][2]
    _coerce(req, req.value, lambda why: _fail(text, rest[1][0], why))
    return req


def _framework(subject: str) -> Optional[Tuple[str, Optional[str]]]:
    name, _, build = subject.partition(".")
    name = FRAMEWORK_ALIASES.get(name, name)
    if name in FRAMEWORKS and build in ("", "cuda", "rocm", "cpu", "metal"):
        return name, build or None
    return None


def _size(text: str) -> Optional[float]:
    match = re.fullmatch(r"([\d.]+)\s*([a-zA-Z]*)", text)
    if not match or match.group(2).lower() not in UNITS and match.group(2):
        return None
    try:
        return float(match.group(1)) * UNITS.get(match.group(2).lower() or "b", 1)
    except ValueError:
        return None


def _version(text: str) -> Optional[Version]:
    if len(text) > MAX_EXPRESSION_CHARS:  # an inventory's (a snapshot's) version may be any length
        return None
    try:
        return Version(text.lstrip("vV"))
    except (InvalidVersion, ValueError):  # ValueError: a part of more digits than int() takes
        return None


def _coerce(req: Requirement, raw: str, fail: Callable[[str], UsageError]) -> Value:
    """The requirement's value in the type its subject compares as."""
    kind = SUBJECTS.get(req.subject, ("version", None))[0]
    if kind == "size":
        value = _size(raw)
        if value is None:
            raise fail("expected a size such as 24GiB or 500GB, got %s" % excerpt(raw))
        # "gpu.memory >= 100" would compare with 100 bytes and pass on any GPU: only zero needs no unit.
        if value and not re.search(r"[a-zA-Z]", raw):
            number = raw[:24]  # digits and dots only (_size took it); a long one is cut, not quoted in full
            raise fail("a size needs a unit: %s what? write %sGiB or %sGB" % (number, number, number))
        return value
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise fail("expected a number, got %s" % excerpt(raw)) from None
    if kind == "text":
        if req.op not in ("==", "!="):
            raise fail("%s compares with == or != only" % req.subject)
        return raw.lower()
    version = _version(raw)
    if version is None:
        raise fail("expected a version such as 12.1, got %s" % excerpt(raw))
    return version


# --- evaluation ---------------------------------------------------------------------------------------------------


def _gpus(inv: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The GPUs a job can use: NVIDIA GPUs no driver answered for (nvidia.source null: only the PCI bus shows them)
    are not counted."""
    served = bool((inv.get("nvidia") or {}).get("source"))
    return [g for g in inv.get("gpus") or [] if served or g.get("vendor") != "nvidia"]


def _min(values: List[Any]) -> Any:
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _disk_for(inv: Dict[str, Any], path: str) -> Optional[Dict[str, Any]]:
    """The mount that holds path: the longest mountpoint that is a prefix of it."""
    best = None
    for disk in inv.get("disks") or []:
        mount = disk.get("mountpoint") or ""
        if path == mount or path.startswith(mount.rstrip("/") + "/") or mount == "/":
            if best is None or len(mount) > len(best.get("mountpoint") or ""):
                best = disk
    return best


def _parsed(versions: List[Optional[str]]) -> List[Tuple[str, Version]]:
    """Each version that parses, with its parsed form."""
    pairs = [(v, _version(v)) for v in versions if v]
    return [(v, parsed) for v, parsed in pairs if parsed is not None]


def _highest(versions: List[Optional[str]]) -> Optional[str]:
    parsed = _parsed(versions)
    return max(parsed, key=lambda pair: pair[1])[0] if parsed else None


#: subject -> (kind, reader of the inventory JSON); disk.* has none here, _actual reads it with its /path
SUBJECTS: Dict[str, Tuple[str, Optional[Callable[[Dict[str, Any]], Any]]]] = {
    "gpu.count": ("number", lambda inv: len(_gpus(inv))),
    "gpu.memory": ("size", lambda inv: _min([g.get("memory_total_bytes") for g in _gpus(inv)])),
    "gpu.compute_capability": ("version", lambda inv: _min_version([g.get("compute_capability") for g in _gpus(inv)])),
    "driver": ("version", lambda inv: (inv.get("nvidia") or {}).get("driver_version")),
    "cuda": ("version", lambda inv: (inv.get("nvidia") or {}).get("cuda_driver_version")),
    "cuda.toolkit": ("version", lambda inv: _highest([t.get("version") for t in (inv.get("cuda") or {}).get("toolkits") or []])),
    "cudnn": ("version", lambda inv: _highest([lib.get("version") for lib in inv.get("cudnn") or []])),
    "ram": ("size", lambda inv: (inv.get("memory") or {}).get("total_bytes")),
    "swap": ("size", lambda inv: (inv.get("memory") or {}).get("swap_total_bytes")),
    "disk.free": ("size", None),
    "disk.total": ("size", None),
    "cpu.cores": ("number", lambda inv: (inv.get("cpu") or {}).get("physical_cores")),
    "cpu.threads": ("number", lambda inv: (inv.get("cpu") or {}).get("logical_cores")),
    "cpu.level": ("version", lambda inv: (inv.get("cpu") or {}).get("x86_64_level")),
    "python": ("version", lambda inv: (inv.get("python") or {}).get("version")),
    "glibc": ("version", lambda inv: (inv.get("os") or {}).get("glibc")),
    "os.id": ("text", lambda inv: (inv.get("os") or {}).get("id")),
    "os.version": ("version", lambda inv: (inv.get("os") or {}).get("version")),
    "rocm": ("version", lambda inv: (inv.get("rocm") or {}).get("version")),
}


def _min_version(values: List[Optional[str]]) -> Optional[str]:
    parsed = _parsed(values)
    return min(parsed, key=lambda pair: pair[1])[0] if parsed else None


def _actual(req: Requirement, inv: Dict[str, Any]) -> Any:
    if req.subject == "cpu.flag":
        return req.argument in ((inv.get("cpu") or {}).get("flags") or [])
    if req.subject.startswith("disk."):
        disk = _disk_for(inv, req.argument or "/")
        return disk.get(req.subject[len("disk."):] + "_bytes") if disk else None
    framework = _framework(req.subject)
    if framework and req.subject not in SUBJECTS:
        name, build = framework
        entry = (inv.get("frameworks") or {}).get(name)
        if entry is None:
            return None
        if build:
            return (entry.get("build") or "").split(" ")[0] == build
        return entry.get("version")
    reader = SUBJECTS[req.subject][1]
    return reader(inv) if reader is not None else None


def _show(req: Requirement, actual: Any) -> str:
    if actual is None:
        return "unknown"
    if isinstance(actual, bool):
        return "yes" if actual else "no"
    if SUBJECTS.get(req.subject, ("",))[0] == "size" and isinstance(actual, (int, float)) and abs(actual) < 2 ** 1000:
        return "%.1f GiB" % (actual / 2 ** 30)
    if isinstance(actual, float) and actual.is_integer():
        return str(int(actual))
    return str(actual)


def evaluate(req: Requirement, inv: Dict[str, Any]) -> Outcome:
    """Judge one parsed requirement against an inventory; unknown facts never meet a requirement."""
    actual = _actual(req, inv)
    if req.op is None:
        met = bool(actual) if isinstance(actual, bool) else actual not in (None, 0, "")
        return Outcome(req, met, _show(req, actual))
    if actual is None:
        return Outcome(req, False, "unknown")
    wanted = _coerce(req, req.value or "", lambda why: UsageError(why))
    have: Value
    if isinstance(wanted, Version):  # the subject compares as a version
        parsed = _version(str(actual))
        if parsed is None:
            return Outcome(req, False, _show(req, actual))
        # "driver >= 535" means the 535 branch: compare only as many components as were asked for.
        have = Version(".".join(str(p) for p in parsed.release[:len(wanted.release)]))
    elif isinstance(wanted, str):  # as text
        have = str(actual).lower()
    else:
        try:
            have = float(actual)
        except (TypeError, ValueError, OverflowError):  # no number, or an int past any float (a snapshot's)
            return Outcome(req, False, _show(req, actual))
    return Outcome(req, OPERATORS[req.op or "=="](have, wanted), _show(req, actual))
