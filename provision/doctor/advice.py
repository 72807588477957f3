"""Fix phrases that several rules give, worded from the knowledge base."""

from __future__ import annotations

from typing import Tuple

from provision.knowledge import queries


def driver_for_cuda(cuda: Tuple[int, int]) -> str:
    """'the NVIDIA driver 550.54.14 or newer (CUDA 12.4's)': the driver the toolkit release shipped with, from
    NVIDIA's release notes (Table 3); without a row for that release, the CUDA version alone."""
    version = "%d.%d" % cuda
    driver = queries.min_driver_for_cuda(version)
    if driver is None:
        return "an NVIDIA driver that supports CUDA %s" % version
    return "the NVIDIA driver %s or newer (CUDA %s's)" % (driver, version)
