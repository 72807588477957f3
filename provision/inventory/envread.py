"""What one Python environment is, from its files: its kind, its Python's version and its site-packages folders.

The version comes from pyvenv.cfg (venv, virtualenv, pipx), conda-meta/python-X.Y.Z-*.json (conda, mamba,
micromamba) or a pyenv version folder's name. Only where no file says it (a system Python) is the interpreter
started, once, through the Host (so a snapshot replays it), and it prints its sys.path without importing anything.
"""

from __future__ import annotations

import posixpath
import re
from typing import Dict, List, NamedTuple, Optional

from provision.host import Host, windows_path
from provision.inventory.environments import entry_named, join, path_module
from provision.untrusted import last_line_object

#: Run as `python -S -c INTERPRETER_CODE`: -S skips the site module's .pth files (half the start-up); the site
#: folders it would add are asked of the site module instead. Python 2 syntax too: an old python3 must answer.
INTERPRETER_CODE = (
    "import json, site, sys\n"
    "paths = [p for p in sys.path if p]\n"
    "for get in ('getsitepackages', 'getusersitepackages'):\n"
    "    try:\n"
    "        found = getattr(site, get)()\n"
    "    except Exception:\n"
    "        continue\n"
    "    paths += [found] if isinstance(found, str) else list(found)\n"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3], 'implementation': sys.implementation.name,\n"
    "                  'prefix': sys.prefix, 'base_prefix': getattr(sys, 'base_prefix', sys.prefix),\n"
    "                  'executable': sys.executable, 'path': paths}))\n"
)

_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")
_LIB_PYTHON = re.compile(r"python(\d+\.\d+)t?")


class Layout(NamedTuple):
    kind: str
    version: Optional[str]
    executable: Optional[str]
    sites: List[str]
    implementation: Optional[str] = None
    error: Optional[str] = None


def parse_pyvenv_cfg(text: str) -> Dict[str, str]:
    """The key = value lines of pyvenv.cfg (venv writes 'version', virtualenv 'version_info' = '3.11.4.final.0')."""
    out: Dict[str, str] = {}
    for line in text.splitlines()[:100]:
        key, sep, value = line.partition("=")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def cfg_version(cfg: Dict[str, str]) -> Optional[str]:
    for key in ("version", "version_info"):
        match = _VERSION.match(cfg.get(key, ""))
        if match:
            return match.group(0)
    return None


def conda_python(entries: List[str]) -> Optional[str]:
    """'python-3.11.5-h955ad1f_0.json' in conda-meta/ -> '3.11.5' (conda names each package's record so)."""
    for entry in entries:
        match = re.fullmatch(r"python-(\d+\.\d+\.\d+)-[^-]+\.json", entry)
        if match:
            return match.group(1)
    return None


def lib_sites(host: Host, prefix: str, version: Optional[str], entries: List[str]) -> List[str]:
    """PREFIX/lib/pythonX.Y/site-packages, the one of the environment's Python first; on Windows, where venv and
    conda keep one folder for every version, PREFIX\\Lib\\site-packages (names in any case)."""
    windows = windows_path(prefix)
    lib = join(prefix, entry_named(entries, "lib", windows) or ("Lib" if windows else "lib"))
    listing = host.listdir(lib) or []
    if windows:
        site = entry_named(listing, "site-packages", True)
        return [join(lib, site)] if site else []
    names = [name for name in listing if _LIB_PYTHON.fullmatch(name)]
    wanted = "python" + ".".join((version or "").split(".")[:2])
    names.sort(key=lambda name: name.rstrip("t") != wanted)
    return [join(lib, name, "site-packages") for name in names]


def executable(host: Host, prefix: str, entries: List[str]) -> Optional[str]:
    """bin/python3 or bin/python; on Windows a venv's Scripts\\python.exe, else the python.exe at a conda
    environment's (or an installed Python's) root."""
    if windows_path(prefix):
        scripts = entry_named(entries, "Scripts", True)
        for folder, names in ((scripts, host.listdir(join(prefix, scripts)) if scripts else None), (None, entries)):
            found = entry_named(names or [], "python.exe", True)
            if found:
                return join(prefix, folder, found) if folder else join(prefix, found)
        return None
    if "bin" not in entries:
        return None
    names = host.listdir(posixpath.join(prefix, "bin")) or []
    for name in ("python3", "python"):
        if name in names:
            return posixpath.join(prefix, "bin", name)
    return None


def read_layout(host: Host, prefix: str, hint: str, timeout: float) -> Optional[Layout]:
    """The environment at prefix; None where nothing is there."""
    entries = host.listdir(prefix)
    if entries is None:
        return None
    exe = executable(host, prefix, entries)
    version: Optional[str] = None
    kind = hint
    cfg: Dict[str, str] = {}
    windows = windows_path(prefix)
    cfg_name, meta_name = entry_named(entries, "pyvenv.cfg", windows), entry_named(entries, "conda-meta", windows)
    if cfg_name:
        cfg = parse_pyvenv_cfg(host.read(join(prefix, cfg_name)) or "")
        version, kind = cfg_version(cfg), ("pipx" if hint == "pipx" else "venv")
    elif meta_name:
        version, kind = conda_python(host.listdir(join(prefix, meta_name)) or []), "conda"
    elif hint == "pyenv" and _VERSION.fullmatch(path_module(prefix).basename(prefix)):
        version = path_module(prefix).basename(prefix)
    else:
        kind = "pyenv" if hint == "pyenv" else "system"
    if version is None or kind == "system":
        missing = "no python.exe in Scripts\\ nor in the folder" if windows else "no python in bin/"
        return asked(host, exe, kind, timeout) if exe else Layout(kind, None, None, [], error=missing)
    sites = lib_sites(host, prefix, version, entries)
    if kind in ("venv", "pipx") and cfg.get("include-system-site-packages", "").lower() == "true":
        sites += shared_sites(host, cfg.get("home", ""), version)
    return Layout(kind, version, exe, sites, "cpython")


def shared_sites(host: Host, home: str, version: str) -> List[str]:
    """The folders a venv made with --system-site-packages also imports from, after its own, in the order its
    Python puts them on sys.path: the user's site, then the base interpreter's (pyvenv.cfg's home is that
    interpreter's bin/), Debian's dist-packages layout included. Only folders that are there."""
    if windows_path(home):
        return _windows_shared_sites(host, home)
    xy = ".".join(version.split(".")[:2])
    base = posixpath.dirname(home.rstrip("/")) if home.startswith("/") else None
    user = host.env("HOME")
    found = [posixpath.join(user, ".local", "lib", "python" + xy, "site-packages")] if user else []
    if base:
        found += [posixpath.join(base, "lib", "python" + xy, "site-packages"),
                  posixpath.join(base, "local", "lib", "python" + xy, "dist-packages"),
                  posixpath.join(base, "lib", "python3", "dist-packages"),
                  posixpath.join(base, "lib", "python" + xy, "dist-packages")]
    return [folder for folder in found if host.listdir(folder) is not None]


def _windows_shared_sites(host: Host, home: str) -> List[str]:
    """On Windows pyvenv.cfg's home is the folder of the base python.exe, which keeps Lib\\site-packages; the user
    site (under %APPDATA%, not recorded) is left out."""
    base = home.rstrip("\\/")
    site = lib_sites(host, base, None, host.listdir(base) or [])
    return [folder for folder in site if host.listdir(folder) is not None]


def asked(host: Host, exe: str, kind: str, timeout: float) -> Layout:
    """The interpreter's own answer: its version and sys.path."""
    run = host.run([exe, "-S", "-c", INTERPRETER_CODE], timeout=timeout)
    data = last_line_object(run.stdout) if run.ok else None
    if data is None:
        why = (run.stderr.strip().splitlines() or ["exit code %d" % run.returncode])[-1][:200]
        return Layout(kind, None, exe, [], error="%s did not say its version: %s" % (exe, why))
    from provision.inventory.packages import site_folders

    version = data.get("version") if isinstance(data.get("version"), str) else None
    impl = data.get("implementation") if isinstance(data.get("implementation"), str) else None
    return Layout(kind, version, exe, site_folders(data), impl)
