"""The layers of provision/ (DESIGN.md), pinned: imports run one way and only the host layer touches the machine.

Every module is parsed with ast, so lazy imports inside functions count as much as those at the top. A module
belongs to a part (a top-level module or package of provision/); LAYERS gives each part its tier.
"""

from __future__ import annotations

import ast
import os
import textwrap
from typing import Dict, List, Optional, Set, Tuple

PACKAGE = "provision"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Modules that belong to another part than their name says.
PART_OF = {
    "provision.host_nvml": "host",
    "provision.host_distro": "host",
    "provision.host_run": "host",  # runs a LiveHost's commands
    "provision.host_facts": "host",  # a LiveHost's facts that are neither a file nor a command
    "provision.snapshot_archive": "snapshot",  # the bounded tar reader that opening an archive unpacks with
    "provision.snapshot_rewrite": "snapshot",  # reads a snapshot folder back and replays it, to write it again
    "provision.redact_rules": "redact",  # what an identifier looks like and the placeholder it becomes
    "provision.redact_live": "redact",  # the recording machine's own identifiers, for --redact
    "provision.compat_jetson": "compat",  # the Jetson part of the one judgment
    "provision.compat_wheel": "compat",  # what an installed wheel's tags say it was built for
}

#: The parts, lowest tier first: a part imports only parts of its own tier or below (and no cycle at all).
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("provision", "errors", "untrusted"),  # the package (its __version__), error types, the untrusted-file reader
    ("host", "knowledge"),  # the one seam to the machine; the tables (data, asked by probes and judgment alike)
    ("inventory",),  # the probes over a Host, the typed model and its readers
    ("compat", "summary"),  # judgment over inventory + knowledge; an inventory as text
    ("doctor", "planner"),
    ("emit",),
    ("output", "redact", "snapshot", "execute", "setup_command", "doctor_command", "knowledge_command"),  # commands
    ("fleet",),  # beside the cli: doctor, planner and emit over many hosts
    ("cli", "__main__"),
)

#: The parts that may ask a Host: the rest work from an inventory (a recorded or a fleet host's alike).
HOST_USERS = {"host", "inventory", "snapshot", "doctor_command", "cli"}

#: Libraries that run commands on the machine or read it past the Host.
MACHINE_MODULES = {"subprocess", "pynvml", "ctypes", "multiprocessing", "pty", "psutil", "cpuinfo", "distro"}
#: os functions that run a command (and every os.exec*, os.spawn*, os.posix_spawn*).
OS_COMMANDS = {"system", "popen", "fork", "forkpty"}
OS_COMMAND_PREFIXES = ("exec", "spawn", "posix_spawn")
#: File system access: open(), these os and os.path functions, and these modules.
OS_FILES = {"open", "fdopen", "listdir", "scandir", "walk", "fwalk", "stat", "lstat", "statvfs", "access", "readlink",
            "remove", "unlink", "rename", "replace", "mkdir", "makedirs", "rmdir", "removedirs", "chmod", "chown",
            "truncate", "link", "symlink", "utime"}
OS_PATH_FILES = {"exists", "lexists", "isfile", "isdir", "islink", "ismount", "getsize", "getmtime", "getatime",
                 "getctime", "realpath", "samefile"}
FILE_MODULES = {"glob", "pathlib", "shutil", "tempfile", "fileinput"}

#: Modules that may run commands or use machine libraries, and why.
MACHINE_ALLOWED = {
    "provision.host_run": "runs the probes' commands with a timeout, output capped, the process group killed",
    "provision.host_facts": "asks psutil and py-cpuinfo for the facts /proc and sysctl do not give",
    "provision.host_nvml": "asks NVML through pynvml for the host's nvml fact",
    "provision.host_distro": "lets the distro library read the release files under a host's root, checked first",
    "provision.execute": "the plan executor: runs a plan's steps, the only code that changes the machine",
    "provision.fleet.gather": "runs ansible-playbook on the controller, killed with its SSH clients past its limit",
    "provision.fleet.collection": "runs ansible-galaxy collection build on the controller, with a timeout",
    "provision.redact_live": "psutil's addresses of the recording machine, read past the RecordingHost, to redact",
}
#: Modules that may touch files directly (all on the controller, none a probe's evidence), and why.
FILES_ALLOWED = {
    "provision.host": "reads files and lists folders for a LiveHost or from a snapshot folder",
    "provision.host_facts": "the statvfs fact",
    "provision.host_distro": "checks each release file distro would open (regular, small, inside the root)",
    "provision.untrusted": "the one reader of files anyone may have written (regular files only, bounded)",
    "provision.knowledge": "loads the tables from the package data or DLWS_KNOWLEDGE_DIR",
    "provision.output": "writes a report or a script to -o",
    "provision.snapshot": "opens snapshot folders and writes snapshot folders and archives",
    "provision.snapshot_archive": "unpacks a snapshot archive into a private folder, bounded",
    "provision.snapshot_rewrite": "reads a snapshot folder's files back (bounded) and replays them in a scratch folder",
    "provision.setup_command": "appends the setup log, reads the mirrors file",
    "provision.knowledge_command": "lists the packaged tables, writes refreshed ones into the user's cache",
    "provision.redact_live": "reads the recording machine's ids (machine-id, MAC addresses) to redact them, unrecorded",
    "provision.fleet.results": "lists a fleet results folder",
    "provision.fleet.gather": "writes each host's results (what the host returned, checked) on the controller",
    "provision.fleet.collection": "reads the package and the vendored packages' files, writes the collection tree",
}
#: Known violations, each to be removed here once fixed (the test fails on an entry that no longer violates).
PENDING: Dict[str, str] = {}


# --- the checker ----------------------------------------------------------------------------------------------------


def find_modules(root: str, package: str = PACKAGE) -> Dict[str, str]:
    """Every module of the package under root: dotted name -> path."""
    found = {}
    for folder, dirs, files in os.walk(os.path.join(root, package)):
        dirs[:] = sorted(d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py")))
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                dotted = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                found[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
    return found


def _parse(path: str) -> ast.AST:
    with open(path, encoding="utf-8") as handle:
        return ast.parse(handle.read(), path)


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a from-import names, relative ones resolved against the importing module."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[:len(parts) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(module: str, path: str, modules: Dict[str, str]) -> List[Tuple[str, int]]:
    """(module of the package imported, line) for every import anywhere in the module, lazy ones included, in the
    order of the lines."""
    is_package = path.endswith("__init__.py")
    found: Set[Tuple[int, str]] = set()
    for node in ast.walk(_parse(path)):
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
            continue
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node)
            # `from provision import host` imports the module provision.host; `from provision.host import Host` a name
            names = [base + "." + alias.name if base + "." + alias.name in modules else base for alias in node.names]
        elif isinstance(node, ast.Call) and _name(node.func) in ("importlib.import_module", "import_module",
                                                                 "__import__"):
            names = [arg.value for arg in node.args[:1] if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        for name in names:
            while name and name not in modules:  # import provision.x.y.name: the deepest module it names
                name = name.rpartition(".")[0]
            if name:
                found.add((node.lineno, name))
    return [(name, line) for line, name in sorted(found)]


def part_of(module: str) -> str:
    if module in PART_OF:
        return PART_OF[module]
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(root: str) -> Dict[str, Dict[str, List[str]]]:
    """module -> imported module -> where ("provision/x.py:12")."""
    modules = find_modules(root)
    graph: Dict[str, Dict[str, List[str]]] = {module: {} for module in modules}
    for module, path in modules.items():
        for target, line in imports_of(module, path, modules):
            if target != module:
                graph[module].setdefault(target, []).append("%s:%d" % (os.path.relpath(path, root), line))
    return graph


def part_graph(graph: Dict[str, Dict[str, List[str]]]) -> Dict[str, Dict[str, List[str]]]:
    """part -> imported part -> where, for imports between different parts."""
    parts: Dict[str, Dict[str, List[str]]] = {part_of(module): {} for module in graph}
    for module, targets in graph.items():
        for target, where in targets.items():
            if part_of(target) != part_of(module):
                parts[part_of(module)].setdefault(part_of(target), []).extend(where)
    return parts


def find_cycle(graph: Dict[str, Dict[str, List[str]]]) -> Optional[List[str]]:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, {})):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def describe_cycle(cycle: List[str], graph: Dict[str, Dict[str, List[str]]]) -> str:
    return " -> ".join(cycle) + " (" + "; ".join(
        "%s -> %s at %s" % (a, b, ", ".join(graph[a][b])) for a, b in zip(cycle, cycle[1:])) + ")"


def layer_violations(parts: Dict[str, Dict[str, List[str]]],
                     layers: Tuple[Tuple[str, ...], ...] = LAYERS) -> List[str]:
    """Every import of a higher tier's part, and every part LAYERS does not place."""
    tier = {part: rank for rank, names in enumerate(layers) for part in names}
    wrong = ["%s is in no tier of LAYERS" % part for part in sorted(parts) if part not in tier]
    for part, targets in sorted(parts.items()):
        for target, where in sorted(targets.items()):
            if part in tier and target in tier and tier[target] > tier[part]:
                wrong.append("%s (tier %d) imports %s (tier %d) at %s" % (
                    part, tier[part], target, tier[target], ", ".join(where)))
    return wrong


def _name(node: ast.AST) -> str:
    """The dotted name of a Name or Attribute chain ("os.path.exists"), or ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return base + "." + node.attr if base else ""
    return ""


def _kind(name: str) -> Optional[str]:
    """'machine' or 'files' for a dotted name that reaches the machine ("subprocess.run", "os.listdir"), or None."""
    head, _, rest = name.partition(".")
    if head in MACHINE_MODULES:
        return "machine"
    if head in FILE_MODULES or name in ("open", "io.open"):
        return "files"
    if head != "os":
        return None
    if rest.startswith("path."):
        return "files" if rest[len("path."):] in OS_PATH_FILES else None
    if rest in OS_COMMANDS or rest.startswith(OS_COMMAND_PREFIXES):
        return "machine"
    return "files" if rest in OS_FILES else None


def machine_access(module: str, path: str, modules: Dict[str, str]) -> List[Tuple[str, str]]:
    """(kind, "line N: what") for every import or call in the module that reaches the machine past the Host: kind
    "machine" (commands, machine libraries), "files" (file system), "host" (asks a Host outside HOST_USERS)."""
    found = []
    for node in ast.walk(_parse(path)):
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Call)):
            continue
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            # from os import system: the function; from subprocess import run: the module
            names = [node.module + "." + alias.name for alias in node.names] if node.module in ("os", "os.path") \
                else [node.module]
        elif isinstance(node, ast.Call):
            names = [_name(node.func)]
        found += [(node.lineno, kind, name) for kind, name in ((_kind(name), name) for name in names) if kind]
    if part_of(module) not in HOST_USERS:
        found += [(line, "host", "imports " + target) for target, line in imports_of(module, path, modules)
                  if part_of(target) == "host"]
    return [(kind, "line %d: %s" % (line, name)) for line, kind, name in sorted(found)]


def access_violations(root: str) -> Dict[str, List[str]]:
    """module -> what it does past the Host that no allowlist lets it."""
    wrong = {}
    modules = find_modules(root)
    for module, path in modules.items():
        allowed = {"machine": module in MACHINE_ALLOWED, "files": module in FILES_ALLOWED, "host": False}
        hits = ["%s (%s)" % (what, kind) for kind, what in machine_access(module, path, modules) if not allowed[kind]]
        if hits:
            wrong[module] = hits
    return wrong


# --- the package's layers -------------------------------------------------------------------------------------------


def test_no_import_cycle_between_modules():
    graph = import_graph(ROOT)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + describe_cycle(cycle, graph)


def test_no_import_cycle_between_parts():
    parts = part_graph(import_graph(ROOT))
    cycle = find_cycle(parts)
    assert cycle is None, "import cycle between parts: " + describe_cycle(cycle, parts)


def test_lower_layers_never_import_higher_ones():
    assert layer_violations(part_graph(import_graph(ROOT))) == []
    placed = [part for names in LAYERS for part in names]
    assert len(placed) == len(set(placed)), "a part in two tiers"


def test_only_the_host_layer_and_the_executor_reach_the_machine():
    wrong = access_violations(ROOT)
    assert {module: hits for module, hits in wrong.items() if module not in PENDING} == {}
    assert sorted(set(PENDING) - set(wrong)) == [], "fixed: remove from PENDING"


def test_every_allowance_is_still_needed():
    modules = find_modules(ROOT)
    for allowed, kind in ((MACHINE_ALLOWED, "machine"), (FILES_ALLOWED, "files")):
        for module in allowed:
            assert module in modules, "%s allowed %s access but does not exist" % (module, kind)
            assert any(k == kind for k, _ in machine_access(module, modules[module], modules)), \
                "%s no longer needs %s access: remove its allowance" % (module, kind)


# --- the checker catches what it is there for -----------------------------------------------------------------------


def _tree(root: str, files: Dict[str, str]) -> None:
    for name, text in files.items():
        path = os.path.join(root, PACKAGE, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(text))


def test_the_checker_reports_a_lazy_cycle_a_wrong_layer_and_a_probe_that_runs_commands(tmp_path):
    _tree(str(tmp_path), {
        "__init__.py": "",
        "host.py": """
            def fact():
                from provision.inventory import probe  # lazy, inside a function
                return probe
        """,
        "inventory/__init__.py": "from ..host import fact\n",  # relative
        "inventory/probe.py": """
            import os

            def read():
                import subprocess
                os.system("true")
                return open("/proc/cpuinfo").read(), os.path.exists("/dev/nvidia0"), subprocess
        """,
        "doctor.py": "import provision.host\n",
        "stray.py": "",
    })
    graph = import_graph(str(tmp_path))
    assert graph["provision.inventory"] == {"provision.host": ["provision/inventory/__init__.py:1"]}
    parts = part_graph(graph)
    cycle = find_cycle(parts)
    assert cycle in (["host", "inventory", "host"], ["inventory", "host", "inventory"])
    assert "host -> inventory at provision/host.py:3" in describe_cycle(cycle, parts)
    assert layer_violations(parts) == [
        "stray is in no tier of LAYERS",
        "host (tier 1) imports inventory (tier 2) at provision/host.py:3"]
    wrong = access_violations(str(tmp_path))
    assert wrong["provision.inventory.probe"] == [
        "line 5: subprocess (machine)", "line 6: os.system (machine)", "line 7: open (files)",
        "line 7: os.path.exists (files)"]
    assert wrong["provision.doctor"] == ["line 1: imports provision.host (host)"]
    assert "provision.host" not in wrong and "provision.inventory" not in wrong


def test_the_checker_reads_every_form_of_import(tmp_path):
    _tree(str(tmp_path), {
        "__init__.py": "",
        "a.py": "",
        "b/__init__.py": "from . import c\nfrom .c import name\n",
        "b/c.py": """
            import importlib

            def f():
                importlib.import_module("provision.a")
                from provision import a
        """,
    })
    graph = import_graph(str(tmp_path))
    assert graph["provision.b"] == {"provision.b.c": ["provision/b/__init__.py:1", "provision/b/__init__.py:2"]}
    assert graph["provision.b.c"] == {"provision.a": ["provision/b/c.py:5", "provision/b/c.py:6"]}
