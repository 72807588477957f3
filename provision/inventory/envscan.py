"""Find and read every Python environment, each within a deadline, and choose the one that is judged.

A live machine's home may sit on a hung NFS mount, where a listdir never returns: the finders and each
environment's reader run in daemon threads that are given up at their deadline (the environment is listed with an
error, its frameworks unknown). A snapshot cannot block, so it is read in line, the same way every time.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from provision.host import Host
from provision.inventory import environments as finders
from provision.inventory.envread import Layout, read_layout
from provision.inventory.environments import Candidate
from provision.inventory.model import Environment, Framework

#: (host, site folders, errors) -> the frameworks installed there; python_env.py's reader.
FrameworkReader = Callable[[Host, List[str], List[str]], Dict[str, Framework]]

#: Which way of finding an environment makes it the judged one without --env, best first.
JUDGED_ORDER = ("--env", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "dlws")


def deadline_of(host: Host) -> float:
    """Seconds one environment (and the finders together) may take: the command timeout, at least 2 s."""
    return max(2.0, host.timeout)


def within(host: Host, seconds: float, func: Callable[[], Any]) -> Tuple[bool, Any]:
    """(finished, value) of func run with a deadline where the host can block; in line where it cannot."""
    if not host.can_block:
        return True, func()
    import threading

    box: Dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except Exception as exc:  # an unexpected layout must not take the other environments with it
            box["error"] = "%s: %s" % (type(exc).__name__, exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False, None
    if "error" in box:
        raise RuntimeError(box["error"])
    return True, box.get("value")


def own_layout(host: Host, prefix: str) -> Optional[Layout]:
    """dlws's own environment, from what its interpreter said of itself (no file read for the version)."""
    from provision.inventory.packages import site_folders

    py = host.fact("python")
    if not isinstance(py, dict) or finders.clean_path(py.get("prefix")) != prefix:
        return None
    entries = host.listdir(prefix) or []
    kind = "venv" if "pyvenv.cfg" in entries else "conda" if "conda-meta" in entries else "system"
    exe = py.get("executable") if isinstance(py.get("executable"), str) else None
    version = py.get("version") if isinstance(py.get("version"), str) else None
    return Layout(kind, version, exe, site_folders(py), py.get("implementation"))


def read_environment(host: Host, found: List[Candidate], frameworks: FrameworkReader) -> Optional[Environment]:
    """One environment (found by every candidate of one prefix), its frameworks included; None where no
    environment is there."""
    prefix = found[0].path
    ways = [c.found_by for c in found]
    layout = own_layout(host, prefix) if "dlws" in ways else None
    layout = layout or read_layout(host, prefix, found[0].kind, max(0.5, host.timeout / 2))
    if layout is None:
        return None
    kind = "pipx" if "pipx" in ways and layout.kind == "venv" else layout.kind
    errors: List[str] = [layout.error] if layout.error else []
    env = Environment(path=prefix, kind=kind, python=layout.version, executable=layout.executable,
                      found_by=ways, dlws="dlws" in ways, site_packages=layout.sites)
    env.frameworks = frameworks(host, layout.sites, errors)
    env.error = "; ".join(errors) or None
    return env


def _judged(envs: List[Environment]) -> Optional[Environment]:
    for way in JUDGED_ORDER:
        for env in envs:
            if way in env.found_by:
                return env
    return None


def scan(host: Host, frameworks: FrameworkReader, chosen: Optional[str] = None) -> Tuple[List[Environment], List[str]]:
    """Every environment, the judged one marked active, and the errors met (as inventory error messages)."""
    limit = deadline_of(host)
    found: List[Candidate] = [Candidate(chosen, "venv", "--env")] if chosen else []
    seed = len(found)
    errors: List[str] = []
    try:
        done, _ = within(host, limit, lambda: finders.discover(host, found))
    except RuntimeError as exc:  # a finder that failed: the others' candidates are kept
        errors.append("finding Python environments: %s" % exc)
        done = True
    if not done:
        errors.append("finding Python environments: no answer within %gs (a hung home folder?); %d found by then"
                      % (limit, len(found) - seed))
    groups = list(finders.unique(list(found)).values())
    if len(groups) > finders.MAX_ENVIRONMENTS:
        errors.append("%d Python environments found; the first %d read" % (len(groups), finders.MAX_ENVIRONMENTS))
        groups = groups[:finders.MAX_ENVIRONMENTS]
    envs = _one_per_folder(_read_all(host, groups, frameworks, limit, errors))
    for found_by in ("--env", "VIRTUAL_ENV", "CONDA_PREFIX"):
        named = next((c.path for c in found if c.found_by == found_by), None)
        if named and not any(found_by in env.found_by for env in envs):
            errors.append("%s names %s, where no Python environment is" % (found_by, named))
    judged = _judged(envs)
    if judged is not None:
        judged.active = True
    return envs, errors


def _one_per_folder(read: List[Tuple[Environment, Optional[str]]]) -> List[Environment]:
    """Prefixes that are one folder under two names (a link) become one environment, under the first name found."""
    out: List[Environment] = []
    seen: Dict[str, Environment] = {}
    for env, real in read:
        first = seen.get(real) if real else None
        if first is None:
            out.append(env)
            if real:
                seen[real] = env
            continue
        first.found_by += [way for way in env.found_by if way not in first.found_by]
        first.dlws = first.dlws or env.dlws
    return out


def _read_all(host: Host, groups: List[List[Candidate]], frameworks: FrameworkReader, limit: float,
              errors: List[str]) -> List[Tuple[Environment, Optional[str]]]:
    """Each environment (with its folder, links resolved) read in a thread of its own where the host can block,
    all within one deadline."""
    if not host.can_block:
        return [read for read in (_read_one(host, found, frameworks, errors) for found in groups) if read]
    import threading

    boxes: List[Dict[str, Any]] = [{"errors": []} for _ in groups]

    def target(found: List[Candidate], box: Dict[str, Any]) -> None:
        box["read"] = _read_one(host, found, frameworks, box["errors"])

    workers = [threading.Thread(target=target, args=(found, box), daemon=True) for found, box in zip(groups, boxes)]
    for worker in workers:
        worker.start()
    end = time.monotonic() + limit
    out: List[Tuple[Environment, Optional[str]]] = []
    for found, worker, box in zip(groups, workers, boxes):
        worker.join(max(0.0, end - time.monotonic()))
        if worker.is_alive() or "read" not in box:
            out.append((Environment(path=found[0].path, kind=found[0].kind, found_by=[c.found_by for c in found],
                                    dlws=any(c.found_by == "dlws" for c in found),
                                    error="no answer within %gs: its frameworks are unknown" % limit), None))
            continue
        errors.extend(box["errors"])
        if box["read"] is not None:
            out.append(box["read"])
    return out


def _read_one(host: Host, found: List[Candidate], frameworks: FrameworkReader,
              errors: List[str]) -> Optional[Tuple[Environment, Optional[str]]]:
    try:
        env = read_environment(host, found, frameworks)
        return (env, host.realpath(env.path)) if env is not None else None
    except Exception as exc:  # one odd environment must not hide the others
        errors.append("%s: %s: %s" % (found[0].path, type(exc).__name__, exc))
        return None
