"""The builds of each torch release, derived from the binary build matrix of its release branch
(scripts/refresh-knowledge; never on the doctor's path).

A release row from 2.1 on names that matrix, ``matrix_script``: {repo, commit, ref, path}, pytorch/test-infra's
``tools/scripts/generate_binary_build_matrix.py`` at the tip of ``release/X.Y``. The file is Python and the tool never
runs it: it parses it (``ast``) and reads

* the module's literal assignments (``CUDA_ARCHES_DICT = {"test": ["12.6", ...]}``, ``TEST = "test"``, ...);
* the body of ``initialize_globals``, walked for one call: the ``test`` channel (on a release branch that is the
  release's own builds, its release candidates, which are promoted to the release; ``release`` still lists the
  previous release's), the operating system ``linux``, ``windows`` and ``linux-aarch64`` in turn, no
  ``build_python_only``. It follows assignments (``CUDA_ARCHES = CUDA_ARCHES_DICT[channel]``, also as
  ``mod.CUDA_ARCHES``), ``append`` / ``extend`` / ``remove`` / ``insert``, ``+`` and ``+=`` of lists, and ``if`` tests
  of ==, !=, in, and, or, not over the names it knows. Where the lists change in a way it cannot follow (a loop, a
  test on anything else, a call it does not know), it gives no answer, never a guess;
* ``CUDA_ARCHES_NO_WINDOWS`` (2.14 on: the CUDA versions with no Windows build), ``CUDA_AARCH64_ARCHES`` (2.7 on:
  ``"12.8-aarch64"``, the Linux aarch64 builds) and ``DOWNLOAD_URL_BASE``.

Each CUDA version X.Y becomes the variant ``cuXY`` and each ROCm version ``rocmX.Y``, as the file's
``translate_desired_cuda`` names them, beside ``cpu``; the release channel's index is
``<DOWNLOAD_URL_BASE>/whl/<variant>`` (``get_base_download_url_for_repo``). Written into a row:

* a variant the row lacks, with its ``cuda`` or ``rocm`` version (its other columns come from the other derivations or
  by hand); a CUDA variant Linux builds and Windows does not gets ``platforms: {"windows_amd64": false}``, one in
  ``CUDA_AARCH64_ARCHES`` (``12.8-aarch64``, 2.7 on) ``{"linux_aarch64": true}`` (never false: the validation
  matrix lists fewer aarch64 builds than some releases publish);
* ``index_url`` where the row has none.

A variant the row has and the matrix lacks is reported and kept (builds are published outside the matrix too), and a
value that differs from the row's is a conflict, kept unless the row lists it in ``unverified_fields`` or ``--force``
is given, as for the other derived columns. ``variants_source`` names the file and the date it was read.
"""

from __future__ import annotations

import ast
import copy
import re
from typing import Any, Dict, List, Optional, Set, Tuple

from provision.knowledge.refresh import Report
from provision.knowledge.refresh_arch import Scripts, Unknown

CHANNEL = "test"
#: The lists initialize_globals sets, which the variants are read from.
WATCHED = ("CUDA_ARCHES", "ROCM_ARCHES", "CUDA_AARCH64_ARCHES")
REQUIRED = ("CUDA_ARCHES", "ROCM_ARCHES")  # a release before 2.7 has no CUDA_AARCH64_ARCHES
#: initialize_globals' os for each wheel platform: the module's constant, else its value.
OPERATING_SYSTEMS = {"linux_x86_64": ("LINUX", "linux"), "windows_amd64": ("WINDOWS", "windows"),
                     "linux_aarch64": ("LINUX_AARCH64", "linux-aarch64")}
FUNCTION = "initialize_globals"
_METHODS = ("append", "extend", "remove", "insert")
_PARAMETERS = {"channel": CHANNEL, "build_python_only": False, "getting_started": False}


class _Missing:
    """A name whose value the tool does not know."""


MISSING = _Missing()
_MODULE_ALIAS = ast.dump(ast.parse("sys.modules[__name__]", mode="eval").body)  # mod = sys.modules[__name__]


def _module(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise Unknown("the matrix does not parse: %s" % type(error).__name__) from error


def literals(tree: ast.Module) -> Tuple[Dict[str, Any], Set[str]]:
    """The module's names bound to literals (a later binding wins; one to anything else forgets the name), and the
    names bound to the module itself (``mod = sys.modules[__name__]``)."""
    values: Dict[str, Any] = {}
    aliases: Set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        if ast.dump(value) == _MODULE_ALIAS:
            aliases.add(target.id)
            continue
        try:
            values[target.id] = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            values.pop(target.id, None)
    return values, aliases


class _Walk:
    """One call of initialize_globals, statement by statement, over the module's literals."""

    def __init__(self, values: Dict[str, Any], aliases: Set[str]) -> None:
        self.env: Dict[str, Any] = copy.deepcopy(values)  # each call starts from the module as loaded
        self.aliases = aliases

    def name(self, node: ast.AST) -> Optional[str]:
        """The global a target or a read names: X, or mod.X through the module's alias."""
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.aliases:
            return node.attr
        return None

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        name = self.name(node)
        if name is not None:
            value = self.env.get(name, MISSING)
            if value is MISSING:
                raise Unknown("reads %s" % name)
            return value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.value(item) for item in node.elts]
        if isinstance(node, ast.Subscript):
            container, key = self.value(node.value), self.value(node.slice)
            try:
                return container[key]
            except (KeyError, IndexError, TypeError) as error:
                raise Unknown("no %r in %s" % (key, ast.unparse(node.value))) from error
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.value(node.operand)
        if isinstance(node, ast.BoolOp):
            return self.boolean(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            if not (isinstance(left, list) and isinstance(right, list)):
                raise Unknown("an addition it does not follow: %s" % ast.unparse(node)[:80])
            return left + right
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.compare(node.ops[0], self.value(node.left), self.value(node.comparators[0]))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "copy" \
                and not node.args:
            return copy.copy(self.value(node.func.value))
        raise Unknown("an expression it does not follow: %s" % ast.unparse(node)[:80])

    def boolean(self, node: ast.BoolOp) -> bool:
        """and / or: an operand that decides it decides it, even beside one the tool cannot read."""
        decides = isinstance(node.op, ast.Or)
        unknown: Optional[Unknown] = None
        for operand in node.values:
            try:
                if bool(self.value(operand)) == decides:
                    return decides
            except Unknown as why:
                unknown = why
        if unknown is not None:
            raise unknown
        return not decides

    @staticmethod
    def compare(op: ast.cmpop, left: Any, right: Any) -> bool:
        try:
            if isinstance(op, ast.Eq):
                return bool(left == right)
            if isinstance(op, ast.NotEq):
                return bool(left != right)
            if isinstance(op, ast.In):
                return left in right
            if isinstance(op, ast.NotIn):
                return left not in right
        except TypeError as error:
            raise Unknown("a comparison of %r and %r" % (left, right)) from error
        raise Unknown("a comparison it does not follow")

    def touches(self, node: ast.AST) -> bool:
        """Whether a statement names a watched list (reads it, sets it, or may change it)."""
        return any(self.name(child) in WATCHED for child in ast.walk(node))

    def block(self, statements: List[ast.stmt]) -> bool:
        """Walk statements; False once one returns."""
        for statement in statements:
            if not self.statement(statement):
                return False
        return True

    def statement(self, node: ast.stmt) -> bool:
        if isinstance(node, ast.Return):
            return False
        if isinstance(node, ast.If):
            try:
                chosen = node.body if self.value(node.test) else node.orelse
            except Unknown:
                if self.touches(node):
                    raise
                return True
            return self.block(chosen)
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            self.assign(node)
        elif isinstance(node, ast.AugAssign):
            self.augment(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.call(node.value)
        elif not isinstance(node, (ast.Global, ast.Nonlocal, ast.Pass, ast.Expr)) and self.touches(node):
            raise Unknown("a %s it does not follow changes the lists" % type(node).__name__)
        return True

    def assign(self, node: ast.stmt) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
        value_node = node.value  # type: ignore[attr-defined]
        for target in targets:
            name = self.name(target)
            if name is None:
                if self.touches(target):
                    raise Unknown("an assignment it does not follow: %s" % ast.unparse(target)[:80])
                continue
            if value_node is None:
                continue
            try:
                self.env[name] = self.value(value_node)
            except Unknown:
                if name in WATCHED:
                    raise
                self.env[name] = MISSING

    def augment(self, node: ast.AugAssign) -> None:
        name = self.name(node.target)
        if name not in WATCHED:
            return
        if not isinstance(node.op, ast.Add):
            raise Unknown("%s changed by an operator it does not follow" % name)
        self.env[name] = self.value(node.target) + list(self.value(node.value))

    def call(self, node: ast.Call) -> None:
        """X.append(...) and its kind on a known list; any other call that is handed a watched list is unknown."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _METHODS and not node.keywords:
            target = self.env.get(self.name(func.value) or "", MISSING)
            if isinstance(target, list):
                arguments = [self.value(argument) for argument in node.args]
                try:
                    getattr(target, func.attr)(*arguments)
                except (ValueError, TypeError, IndexError) as error:
                    raise Unknown("%s fails" % ast.unparse(node)[:80]) from error
                return
        if self.touches(node):
            raise Unknown("a call it does not follow: %s" % ast.unparse(node)[:80])


def _function(tree: ast.Module) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == FUNCTION:
            return node
    raise Unknown("no %s in the matrix" % FUNCTION)


def _call(tree: ast.Module, values: Dict[str, Any], aliases: Set[str], platform: str) -> Dict[str, List[str]]:
    """The watched lists after initialize_globals(channel='test', os=<the platform's>); an optional one the module
    never sets is absent."""
    function = _function(tree)
    walk = _Walk(values, aliases)
    arguments = function.args.args
    defaults = [None] * (len(arguments) - len(function.args.defaults)) + list(function.args.defaults)
    for argument, default in zip(arguments, defaults):
        name = argument.arg
        if name == "os":
            constant, value = OPERATING_SYSTEMS[platform]
            known = walk.env.get(constant, value)
        elif name in _PARAMETERS:
            known = _PARAMETERS[name]
        elif default is not None:
            known = walk.value(default)
        else:
            known = MISSING
        walk.env[name] = known
    walk.block(function.body)
    lists = {}
    for name in WATCHED:
        value = walk.env.get(name, MISSING)
        if value is MISSING and name not in REQUIRED:
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise Unknown("%s is not a list of versions after %s" % (name, FUNCTION))
        lists[name] = value
    return lists


_VERSION = re.compile(r"^\d+(\.\d+){1,2}$")


def _checked(versions: List[str], kind: str) -> List[str]:
    for version in versions:
        if not _VERSION.match(version):
            raise Unknown("a %s version dlws cannot read: %r" % (kind, version[:40]))
    return versions


class Matrix:
    """What a release's matrix says: its Linux x86_64 builds {variant: {'cuda'|'rocm': version}}, the CUDA versions
    with a Windows build and those with a Linux aarch64 build (None: the matrix lists none), and the index base."""

    def __init__(self, text: str) -> None:
        tree = _module(text)
        values, aliases = literals(tree)
        linux = _call(tree, values, aliases, "linux_x86_64")
        windows = _call(tree, values, aliases, "windows_amd64")
        aarch64 = _call(tree, values, aliases, "linux_aarch64").get("CUDA_AARCH64_ARCHES")
        excluded = values.get("CUDA_ARCHES_NO_WINDOWS") or []
        if not isinstance(excluded, list):
            raise Unknown("CUDA_ARCHES_NO_WINDOWS is not a list")
        self.builds: Dict[str, Dict[str, str]] = {"cpu": {}}
        for version in _checked(linux["CUDA_ARCHES"], "CUDA"):
            self.builds["cu" + version.replace(".", "")] = {"cuda": version}
        for version in _checked(linux["ROCM_ARCHES"], "ROCm"):
            self.builds["rocm" + version] = {"rocm": version}
        self.windows_cuda = [v for v in _checked(windows["CUDA_ARCHES"], "CUDA") if v not in excluded]
        self.aarch64_cuda = None if aarch64 is None else _checked(
            [v[:-len("-aarch64")] if v.endswith("-aarch64") else v for v in aarch64], "CUDA")
        base = values.get("DOWNLOAD_URL_BASE")
        self.index_url = base.rstrip("/") + "/whl/{variant}" if isinstance(base, str) and \
            re.match(r"^https://[A-Za-z0-9.-]+(/[A-Za-z0-9._/-]*)?$", base) else None

    def platforms(self, variant: str) -> Optional[Dict[str, bool]]:
        """What the matrix shows of a CUDA build beyond Linux x86_64: windows_amd64 False where Windows lacks it,
        linux_aarch64 True where aarch64 has it. An aarch64 build outside the list is not called missing: the
        validation matrix lists fewer aarch64 builds than some releases publish (2.8's cu128). None: nothing."""
        cuda = self.builds.get(variant, {}).get("cuda")
        if cuda is None:
            return None
        shown = {} if cuda in self.windows_cuda else {"windows_amd64": False}
        if self.aarch64_cuda is not None and cuda in self.aarch64_cuda:
            shown["linux_aarch64"] = True
        return shown or None


def _unverified(row: Dict[str, Any], field: str) -> bool:
    listed = row.get("unverified_fields") or []
    return field in listed or ("variants.*." + field.split(".")[-1]) in listed


def _set(row: Dict[str, Any], target: Dict[str, Any], key: str, derived: Any, field: str, force: bool,
         report: Report) -> bool:
    """Write one derived value: where it lacks one, where it is unverified, or with --force; else a conflict."""
    current = target.get(key)
    if current == derived:
        return False
    label = "pytorch %s: %s" % (row.get("version"), field)
    if current is None or force or _unverified(row, field):
        report.changes.append("%s %s -> %s" % (label, current, derived))
        target[key] = derived
        return True
    report.conflicts.append("%s is %s (hand-verified), the build matrix says %s" % (label, current, derived))
    return False


def source_text(script: Dict[str, Any]) -> str:
    return ("%s %s at %s%s: the builds of its %r channel (%s after %s; CUDA X.Y -> cuXY, ROCm X.Y -> rocmX.Y), each "
            "at <DOWNLOAD_URL_BASE>/whl/<variant> (scripts/refresh-knowledge), read " % (
                script["repo"], script["path"], script["commit"],
                " (%s)" % script["ref"] if script.get("ref") else "", CHANNEL, ", ".join(WATCHED), FUNCTION))


def refresh_row(row: Dict[str, Any], scripts: Scripts, today: str, force: bool, report: Report) -> None:
    script = row.get("matrix_script")
    if not isinstance(script, dict):
        return
    version = row.get("version")
    try:
        matrix = Matrix(scripts.text(script))
    except Unknown as why:
        report.notes.append("pytorch %s: variants: %s" % (version, why))
        return
    variants = row.setdefault("variants", {})
    changed = False
    for name, info in sorted(matrix.builds.items()):
        if name not in variants:
            report.changes.append("pytorch %s: variants.%s added (%s)" % (version, name, info or "cpu"))
            variants[name] = dict(info)
            changed = True
        for key, value in info.items():
            changed = _set(row, variants[name], key, value, "variants.%s.%s" % (name, key), force, report) \
                or changed
        platforms = matrix.platforms(name)
        if platforms is not None:
            changed = _set(row, variants[name], "platforms", platforms, "variants.%s.platforms" % name, force,
                           report) or changed
    for cuda in matrix.aarch64_cuda or []:
        if "cu" + cuda.replace(".", "") not in matrix.builds:
            report.notes.append("pytorch %s: the matrix builds CUDA %s for Linux aarch64 only (no variant added)" % (
                version, cuda))
    for name in sorted(set(variants) - set(matrix.builds)):
        report.notes.append("pytorch %s: variants.%s is not in the build matrix (kept)" % (version, name))
    if matrix.index_url is not None:
        changed = _set(row, row, "index_url", matrix.index_url, "index_url", force, report) or changed
    text = source_text(script)
    if changed or not str(row.get("variants_source", "")).startswith(text):
        row["variants_source"] = text + today


def refresh_variants(table: Dict[str, Any], scripts: Scripts, today: str, force: bool = False,
                     report: Optional[Report] = None) -> Report:
    """Update the torch rows' variants in place from their build matrices."""
    report = report or Report()
    for row in table["frameworks"].get("pytorch", {}).get("releases") or []:
        refresh_row(row, scripts, today, force, report)
    return report


def _kept(statements: List[ast.stmt], walk: _Walk) -> List[ast.stmt]:
    """The statements of initialize_globals that set or change a watched list, inside the ifs that hold them."""
    kept: List[ast.stmt] = []
    for node in statements:
        if isinstance(node, ast.If):
            body, orelse = _kept(node.body, walk), _kept(node.orelse, walk)
            if body or orelse:
                kept.append(ast.If(test=node.test, body=body or [ast.Pass()], orelse=orelse))
        elif isinstance(node, ast.Return) or (not isinstance(node, (ast.Global, ast.Nonlocal)) and walk.touches(node)
                                              and not _reads_only(node, walk)):
            kept.append(node)
    return kept


def _reads_only(node: ast.stmt, walk: _Walk) -> bool:
    """An assignment to another name that only reads the watched lists (the container images)."""
    if isinstance(node, ast.Assign):
        return all(walk.name(target) not in WATCHED and not walk.touches(target) for target in node.targets)
    if isinstance(node, ast.AnnAssign):
        return walk.name(node.target) not in WATCHED
    return False


def recorded_matrix(text: str) -> str:
    """A matrix cut to what the tool reads (what tests/data/pypi/build_scripts keeps): initialize_globals's
    signature and the statements that set the watched lists, with the ifs around them, and the module's literal
    assignments of the names those read, of CUDA_ARCHES_NO_WINDOWS, CUDA_AARCH64_ARCHES, LINUX_AARCH64 and
    DOWNLOAD_URL_BASE, and its module alias."""
    tree = _module(text)
    values, aliases = literals(tree)
    function = _function(tree)
    body = _kept(function.body, _Walk({}, aliases))
    cut = copy.copy(function)  # keeps the fields each Python's FunctionDef has
    cut.body, cut.decorator_list, cut.returns = body or [ast.Pass()], [], None
    read = {node.id for node in ast.walk(cut) if isinstance(node, ast.Name)} | \
        {node.attr for node in ast.walk(cut) if isinstance(node, ast.Attribute)} | \
        {"CUDA_ARCHES_NO_WINDOWS", "DOWNLOAD_URL_BASE", "CUDA_AARCH64_ARCHES", "LINUX_AARCH64"}
    lines = ["%s = sys.modules[__name__]" % alias for alias in sorted(aliases)]
    lines += ["%s = %r" % (name, values[name]) for name in values if name in read]
    lines.append(ast.unparse(ast.fix_missing_locations(cut)))
    return "\n".join(lines) + "\n"
