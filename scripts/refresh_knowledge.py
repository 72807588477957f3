#!/usr/bin/env python3
"""Regenerate the columns of provision/knowledge/data/frameworks.json that PyPI's JSON API answers (for maintainers):
the logic is provision/knowledge/refresh.py (its docstring says what is derived and how).

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
from typing import Any, Dict, List, Optional

from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from provision.knowledge.refresh import (PACKAGES, PYPI, derive, dump, dump_recording, fetch,  # noqa: E402
                                         glibc_of, platform_of, python_of, refresh, strip)

TABLE = os.path.join(ROOT, "provision", "knowledge", "data", "frameworks.json")
__all__ = ["PACKAGES", "PYPI", "derive", "dump", "glibc_of", "main", "platform_of", "python_of", "refresh"]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypi-url", default=os.environ.get("DLWS_PYPI_URL") or PYPI,
                        help="base of PyPI's JSON API (env DLWS_PYPI_URL; default %(default)s)")
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
    for framework, package in PACKAGES.items():
        try:
            documents[package] = fetch(args.pypi_url, package)
        except (OSError, ValueError, urllib.error.URLError) as error:
            print("cannot read %s: %s" % (package, error), file=sys.stderr)
            continue
        rows = table["frameworks"].get(framework, {}).get("releases") or []
        if args.record and rows:
            os.makedirs(args.record, exist_ok=True)
            since = min(tuple(Version(row["version"]).release) for row in rows)
            with open(os.path.join(args.record, package + ".json"), "w", encoding="utf-8") as handle:
                handle.write(dump_recording(strip(documents[package], since)))
    report = refresh(table, documents, args.pypi_url, args.date, args.force)
    after = dump(table)
    sys.stdout.writelines(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                               os.path.relpath(args.table), os.path.relpath(args.table) + " (PyPI)"))
    print("\n".join(report.lines()))
    if args.write and after != before:
        with open(args.table, "w", encoding="utf-8") as handle:
            handle.write(after)
    return 1 if args.check and (after != before or len(documents) < len(PACKAGES)) else 0


if __name__ == "__main__":
    sys.exit(main())
