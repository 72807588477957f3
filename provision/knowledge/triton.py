"""The ptxas copies a PyPI release of triton bundles, from the triton table.

Every function is pure and total: bad or unknown input answers None, never an exception.
"""

from __future__ import annotations

from typing import Any, Optional

from provision.knowledge import load
from provision.knowledge.versions import Row


def triton_release(version: Any) -> Optional[Row]:
    """The row of a triton release ('3.1.0'), or None for one the table does not know (a pytorch-triton build's
    '3.2.0+git4b3bb1f8' is not the PyPI wheel and is unknown)."""
    row = load("triton").get("releases", {}).get(version) if isinstance(version, str) else None
    return dict(row, triton=version) if isinstance(row, dict) else None
