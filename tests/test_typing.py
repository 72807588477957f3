"""provision/ type-checks: mypy (the test extra) finds no error, with imports it has no types for left unchecked."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -e '.[test]' brings it)")
def test_mypy_finds_no_error_in_provision():
    # mypy's cache is .mypy_cache beside the package (git ignores it): a rerun checks only what changed.
    argv = [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir",
            os.path.join(ROOT, ".mypy_cache"), "provision"]
    result = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=600)
    assert result.returncode == 0, "mypy failed (exit %d):\n%s" % (result.returncode, result.stdout)
