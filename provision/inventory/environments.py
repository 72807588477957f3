"""Where the Python environments of a machine are: the activated one, the python3 on PATH, dlws's own, conda's,
pipx's, a project's .venv and pyenv's (issue 13). Only names and small files are read here, through the Host;
envread.py reads each one found.

Every list is bounded (MAX_ENVIRONMENTS, MAX_LINES) and no folder is walked deeper than the layouts these tools
write (ROOT/envs/NAME, PIPX_HOME/venvs/NAME, PYENV_ROOT/versions/NAME).
"""

from __future__ import annotations

import ntpath
import posixpath
from typing import Any, Dict, List, NamedTuple, Optional

from provision.host import Host, windows_path

#: More environments than any machine holds; the rest are named in an error, not read.
MAX_ENVIRONMENTS = 64
#: Lines of ~/.conda/environments.txt read.
MAX_LINES = 1000

#: Where conda, mamba and micromamba installers put their root, under HOME and /opt.
CONDA_ROOTS = ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba", "conda", ".conda")
SYSTEM_CONDA_ROOTS = ("/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/opt/miniforge3", "/opt/mambaforge")


class Candidate(NamedTuple):
    path: str  # the environment's prefix, as found (links not resolved: a venv's bin/python is a link)
    kind: str  # venv | conda | system | pipx | pyenv (what the finder expects; the reader confirms)
    found_by: str  # --env | VIRTUAL_ENV | CONDA_PREFIX | PATH | dlws | conda | pipx | .venv | pyenv


def path_module(path: str) -> Any:
    """ntpath for a Windows path (C:\\Users\\u\\anaconda3), else posixpath: a Windows machine's sys.path and
    environment variables name folders so, and a snapshot of one replays them as recorded."""
    return ntpath if windows_path(path) else posixpath


def clean_path(path: Any) -> Optional[str]:
    """An absolute path without a trailing separator; None for anything else (a relative or binary value)."""
    if not isinstance(path, str) or "\0" in path or "\n" in path or len(path) > 4096:
        return None
    if not path.startswith("/") and path_module(path) is posixpath:
        return None
    return path_module(path).normpath(path)


def join(folder: str, *names: str) -> str:
    """folder/name with the separator of folder's machine (C:\\u\\envs + x -> C:\\u\\envs\\x)."""
    return str(path_module(folder).join(folder, *names))


def entry_named(entries: List[str], name: str, windows: bool) -> Optional[str]:
    """The entry of a listing that is name, as the machine compares names: on Windows without case ('Lib' is
    'lib', 'Scripts' is 'scripts'), elsewhere exactly."""
    if not windows:
        return name if name in entries else None
    return next((entry for entry in entries if entry.lower() == name.lower()), None)


def prefix_of(interpreter: str) -> str:
    """/home/u/venv/bin/python -> /home/u/venv (the folder above bin/, where pyvenv.cfg and conda-meta live);
    C:\\u\\venv\\Scripts\\python.exe -> C:\\u\\venv; C:\\u\\anaconda3\\python.exe -> C:\\u\\anaconda3."""
    paths = path_module(interpreter)
    folder = paths.dirname(interpreter)
    below = paths.basename(folder)
    above = below.lower() in ("bin", "scripts") if paths is ntpath else below in ("bin", "Scripts")
    return paths.dirname(folder) if above else folder


def named_prefix(host: Host, path: str) -> Optional[str]:
    """The prefix --env names: a venv or conda folder, or an interpreter in one's bin/ (Scripts\\ or its root on
    Windows); None where there is no folder with a Python in it."""
    clean = clean_path(path)
    if clean is None:
        return None
    entries = host.listdir(clean)
    if entries is None:  # a file: an interpreter
        return prefix_of(clean) if host.exists(clean) else None
    windows = windows_path(clean)
    marks = ("pyvenv.cfg", "conda-meta") + (("scripts", "python.exe") if windows else ("bin",))
    return clean if any(entry_named(entries, mark, windows) for mark in marks) else None


def _home(host: Host) -> Optional[str]:
    """HOME, else USERPROFILE: Windows sets the second (C:\\Users\\u), not the first."""
    return clean_path(host.env("HOME")) or clean_path(host.env("USERPROFILE"))


def _subfolders(host: Host, folder: str) -> List[str]:
    """The folders under folder; a name that no folder of that machine can have (a Windows name holding '\\', '/'
    or ':', as a recorded listing may) is not joined into a path."""
    bad = set("\\/:") if windows_path(folder) else set("/")
    return [join(folder, name) for name in (host.listdir(folder) or [])
            if not name.startswith(".") and not bad & set(name)]


def activated(host: Host) -> List[Candidate]:
    """VIRTUAL_ENV first: a venv activated inside a conda env is the one `python` runs."""
    out = []
    for name, kind in (("VIRTUAL_ENV", "venv"), ("CONDA_PREFIX", "conda")):
        path = clean_path(host.env(name))
        if path:
            out.append(Candidate(path, kind, name))
    return out


def on_path(host: Host) -> List[Candidate]:
    """The environment of the python3 first on PATH; behind a pyenv shim, the version pyenv selects."""
    python = clean_path(host.fact("which", "python3"))
    if not python:
        return []
    paths = path_module(python)
    if paths.basename(paths.dirname(python)) == "shims":
        return _pyenv_selected(host, paths.dirname(paths.dirname(python)))
    return [Candidate(prefix_of(python), "system", "PATH")]


def _pyenv_selected(host: Host, root: str) -> List[Candidate]:
    """PYENV_VERSION, else the first name in PYENV_ROOT/version (pyenv global); 'system' is the next python3 on
    PATH, which the shim hides, so it is left to the other finders."""
    names = (host.env("PYENV_VERSION") or host.read(join(root, "version")) or "").split()
    if not names or names[0] == "system" or "/" in names[0] or "\\" in names[0] or names[0] in (".", ".."):
        return []
    return [Candidate(join(root, "versions", names[0]), "pyenv", "PATH")]


def own(host: Host) -> List[Candidate]:
    py = host.fact("python")
    prefix = clean_path(py.get("prefix")) if isinstance(py, dict) else None
    return [Candidate(prefix, "venv", "dlws")] if prefix else []


def conda_roots(host: Host) -> List[str]:
    """Every conda root: CONDA_EXE's and MAMBA_ROOT_PREFIX, the usual install folders under HOME and /opt; on
    Windows under USERPROFILE and its AppData\\Local (where Anaconda's just-me installer also puts them)."""
    roots: List[str] = []
    exe = clean_path(host.env("CONDA_EXE"))
    if exe:
        roots.append(prefix_of(exe))
    mamba = clean_path(host.env("MAMBA_ROOT_PREFIX"))
    if mamba:
        roots.append(mamba)
    home = _home(host)
    if home:
        roots += [join(home, name) for name in CONDA_ROOTS]
    if home and windows_path(home):
        roots += [join(home, "AppData", "Local", name) for name in CONDA_ROOTS]
    else:
        roots += list(SYSTEM_CONDA_ROOTS)
    return list(dict.fromkeys(roots))


def conda(host: Host) -> List[Candidate]:
    """~/.conda/environments.txt (conda writes every env it creates there), then each root and its envs/."""
    paths: List[str] = []
    home = _home(host)
    if home:
        text = host.read(join(home, ".conda", "environments.txt")) or ""
        paths += [p for p in (clean_path(line.strip()) for line in text.splitlines()[:MAX_LINES]) if p]
    for root in conda_roots(host):
        entries = host.listdir(root)
        if entries is None:
            continue
        windows = windows_path(root)
        if entry_named(entries, "conda-meta", windows):
            paths.append(root)
        envs = entry_named(entries, "envs", windows)
        if envs:
            paths += _subfolders(host, join(root, envs))
    return [Candidate(path, "conda", "conda") for path in dict.fromkeys(paths)]


def pipx(host: Host) -> List[Candidate]:
    """PIPX_HOME/venvs/* (pipx's default home is ~/.local/share/pipx; before 1.2 it was ~/.local/pipx)."""
    homes = [clean_path(host.env("PIPX_HOME"))]
    home = _home(host)
    if home:
        homes += [join(home, ".local", "share", "pipx"), join(home, ".local", "pipx")]
    out = []
    for folder in dict.fromkeys(h for h in homes if h):
        out += [Candidate(path, "pipx", "pipx") for path in _subfolders(host, join(folder, "venvs"))]
    return out


def project(host: Host) -> List[Candidate]:
    cwd = clean_path(host.fact("cwd"))
    return [Candidate(join(cwd, ".venv"), "venv", ".venv")] if cwd else []


def pyenv(host: Host) -> List[Candidate]:
    root = clean_path(host.env("PYENV_ROOT"))
    home = _home(host)
    root = root or (join(home, ".pyenv") if home else None)
    if not root:
        return []
    versions = _subfolders(host, join(root, "versions"))
    # pyenv-virtualenv keeps VERSION/envs/NAME (linked as versions/NAME); a conda in pyenv keeps its envs there too
    inner = [path for version in versions for path in _subfolders(host, join(version, "envs"))]
    return [Candidate(path, "pyenv", "pyenv") for path in versions + inner]


#: The finders in the order their environments are listed; the first to find a prefix names it.
FINDERS = (activated, on_path, own, conda, pipx, project, pyenv)


def discover(host: Host, found: List[Candidate]) -> None:
    """Append every candidate to found, as each finder answers (a caller that gives up on a hung home keeps what
    the finders before it gave)."""
    for finder in FINDERS:
        found.extend(finder(host))


def unique(found: List[Candidate]) -> Dict[str, List[Candidate]]:
    """The candidates by prefix, in the order found; a prefix found twice keeps every way it was found."""
    out: Dict[str, List[Candidate]] = {}
    for candidate in found:
        out.setdefault(candidate.path, []).append(candidate)
    return out
