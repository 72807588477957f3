"""This machine's own identifiers, for ``dlws snapshot --redact`` of a live machine: its host names, its people's
user names, its machine-id, boot id, DMI serial numbers and hardware and network addresses, read outside the probes
(a RecordingHost would record them) so that redact_members replaces them wherever the snapshot holds them.
"""

from __future__ import annotations

import os

from provision.redact import Known
from provision.redact_rules import ID_FILES


def live_identifiers() -> Known:
    """The identifiers of this machine, found outside the probes: a recording redacts them wherever they appear."""
    import getpass
    import platform
    import pwd
    import socket

    hosts = {socket.gethostname(), socket.getfqdn(), platform.node()}
    users = set()
    try:
        users.add(getpass.getuser())
    except (KeyError, OSError):
        pass
    for entry in pwd.getpwall():  # people's accounts: those with a home folder of their own
        if 1000 <= entry.pw_uid < 65534 and os.path.isdir(entry.pw_dir):
            users.add(entry.pw_name)
    ids = set()
    paths = ["/" + path for path in ID_FILES] + ["/sys/class/dmi/id/" + name for name in (
        "product_serial", "product_uuid", "board_serial", "chassis_serial", "board_asset_tag", "chassis_asset_tag")]
    net = "/sys/class/net"
    paths += [os.path.join(net, name, "address") for name in (os.listdir(net) if os.path.isdir(net) else [])]
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                ids.add(handle.read(4096).strip())
        except OSError:
            pass
    try:
        import psutil

        for addresses in psutil.net_if_addrs().values():
            ids.update(a.address.split("%")[0] for a in addresses if a.address)
    except (ImportError, OSError):
        pass
    generic = {"127.0.0.1", "::1"}
    return Known(tuple(sorted(h for h in hosts if h)), tuple(sorted(u for u in users if u)),
                 tuple(sorted(i for i in ids if i and i not in generic)))
