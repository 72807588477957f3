#!/usr/bin/env python3
"""Regenerate the columns of provision/knowledge/data/frameworks.json that PyPI's JSON API answers (for maintainers):
the logic is provision/knowledge/refresh.py (wheel tags: platforms, glibc floors, Requires-Python) and
provision/knowledge/refresh_cuda.py (CUDA, cuDNN, NCCL from one Linux x86_64 wheel's METADATA a release) and
provision/knowledge/refresh_arch.py (torch's arch lists, from the build script a row names) and
provision/knowledge/refresh_variants.py (torch's builds and their index, from the build matrix a row names); their
docstrings say what is derived and how. --check also fails when a METADATA, a build script or a matrix cannot be read.

    scripts/refresh-knowledge                 # print what would change (a unified diff), the conflicts and stale rows
    scripts/refresh-knowledge --write         # and write it
    scripts/refresh-knowledge --check         # exit 1 when anything would change (CI, the tests)
    scripts/refresh-knowledge --record DIR    # also save the responses, stripped, for the tests (tests/data/pypi)
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import os
import sys
import urllib.error
import urllib.parse
from typing import Any, Callable, Dict, List, Optional

from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from provision.knowledge.refresh import (PACKAGES, PYPI, derive, dump, dump_recording, fetch,  # noqa: E402
                                         glibc_of, platform_of, python_of, refresh, strip)
from provision.knowledge import refresh_arch, refresh_variants, wheel_metadata  # noqa: E402
from provision.knowledge.refresh_cuda import (JAX_PACKAGES, Wheels, recorded_metadata, recorded_urls,  # noqa: E402
                                              refresh_cuda)

TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")
__all__ = ["PACKAGES", "PYPI", "derive", "dump", "glibc_of", "main", "platform_of", "python_of", "refresh"]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypi-url", default=os.environ.get("DLWS_PYPI_URL") or PYPI,
                        help="base of PyPI's JSON API (env DLWS_PYPI_URL; default %(default)s)")
    parser.add_argument("--scripts-url", default=os.environ.get("DLWS_SCRIPTS_URL") or refresh_arch.SCRIPTS,
                        help="where <repo>/<commit>/<path> of the build scripts and matrices rows name is read (env "
                             "DLWS_SCRIPTS_URL; default %(default)s)")
    parser.add_argument("--table", default=TABLE, help="the frameworks table to refresh")
    parser.add_argument("--write", action="store_true", help="write the refreshed table")
    parser.add_argument("--check", action="store_true", help="exit 1 when anything would change")
    parser.add_argument("--force", action="store_true", help="overwrite hand-verified floors with the tags'")
    parser.add_argument("--record", metavar="DIR", help="save the stripped responses in DIR (for the tests)")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="the date sources name")
    args = parser.parse_args(argv)

    with open(args.table, encoding="utf-8") as handle:
        before = handle.read()
    table = json.loads(before)
    documents: Dict[str, Dict[str, Any]] = {}
    for package in list(PACKAGES.values()) + list(JAX_PACKAGES):
        try:
            documents[package] = fetch(args.pypi_url, package)
        except (OSError, ValueError, urllib.error.URLError) as error:
            print("cannot read %s: %s" % (package, error), file=sys.stderr)
    report = refresh(table, documents, args.pypi_url, args.date, args.force)
    wheels = Wheels(documents, args.pypi_url, _recording_reader(args.record))
    refresh_cuda(table, wheels, args.date, args.force, report)
    scripts = refresh_arch.Scripts(args.scripts_url, refresh_arch.read)
    refresh_arch.refresh_arch(table, scripts, args.date, args.force, report)
    matrices = refresh_arch.Scripts(args.scripts_url, refresh_arch.read)
    refresh_variants.refresh_variants(table, matrices, args.date, args.force, report)
    if args.record:
        _record(args.record, table, documents, wheels)
        _record_scripts(args.record, scripts, refresh_arch.recorded_script)
        _record_scripts(args.record, matrices, refresh_variants.recorded_matrix)
    after = dump(table)
    sys.stdout.writelines(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                               os.path.relpath(args.table), os.path.relpath(args.table) + " (PyPI)"))
    print("\n".join(report.lines()))
    if args.write and after != before:
        with open(args.table, "w", encoding="utf-8") as handle:
            handle.write(after)
    unread = len(documents) < len(PACKAGES) + len(JAX_PACKAGES) or wheels.unread or scripts.unread or matrices.unread
    for url in scripts.unread + matrices.unread:
        print("cannot read %s" % url, file=sys.stderr)
    return 1 if args.check and (after != before or unread) else 0


def _recording_reader(folder: Optional[str]) -> Callable[[str], str]:
    """wheel_metadata.read, saving each METADATA (cut to what the tool reads) in folder/metadata when recording."""
    def read(url: str) -> str:
        text = wheel_metadata.read(url)
        if folder:
            os.makedirs(os.path.join(folder, "metadata"), exist_ok=True)
            name = os.path.basename(urllib.parse.urlsplit(url).path) + ".metadata"
            with open(os.path.join(folder, "metadata", name), "w", encoding="utf-8") as handle:
                handle.write(recorded_metadata(text))
        return text
    return read


def _record(folder: str, table: Dict[str, Any], documents: Dict[str, Dict[str, Any]], wheels: Wheels) -> None:
    """The project documents, stripped: the frameworks' from their oldest row on, JAX's packages to the wheels read;
    no METADATA of a wheel this run did not read."""
    os.makedirs(folder, exist_ok=True)
    metadata = os.path.join(folder, "metadata")
    read = {filename + ".metadata" for filename, _ in wheels.texts.values()}
    for name in os.listdir(metadata) if os.path.isdir(metadata) else []:
        if name not in read:
            os.remove(os.path.join(metadata, name))
    for package, document in documents.items():
        framework = next((f for f, p in PACKAGES.items() if p == package), None)
        rows = table["frameworks"].get(framework or "", {}).get("releases") or []
        if framework and not rows:
            continue
        since = min(tuple(Version(row["version"]).release) for row in rows) if framework else (0,)
        stripped = strip(document, since, recorded_urls(wheels, document, package), only=framework is None)
        with open(os.path.join(folder, package + ".json"), "w", encoding="utf-8") as handle:
            handle.write(dump_recording(stripped))


def _record_scripts(folder: str, scripts: refresh_arch.Scripts, cut: Callable[[str], str]) -> None:
    """The build scripts (or matrices) read, cut to what the tool reads, at folder/build_scripts/<repo>/<commit>/<path>."""
    for url, text in scripts.texts.items():
        relative = url[len(scripts.base.rstrip("/")) + 1:]
        path = os.path.join(folder, "build_scripts", *relative.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(cut(text))


if __name__ == "__main__":
    sys.exit(main())
