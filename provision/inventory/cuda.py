"""Placeholder: filled in by its own change."""

from provision.host import Host
from provision.inventory.model import Inventory


def probe(host: Host, inv: Inventory) -> None:
    return None
