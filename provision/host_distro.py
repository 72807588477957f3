"""The distribution, as the distro library reads it from a host's root (this machine's "/", or a snapshot's files/).

distro opens the release files itself, not through the Host, so this is part of the host layer: it first checks
every file distro would open (a FIFO would block it forever, a device has side effects, a link may lead out of a
snapshot, a huge file is parsed whole), and only then lets distro read them.
"""

from __future__ import annotations

import os
import stat
from typing import Dict, Optional, Tuple

#: What distro opens itself under the root: os-release, and the /etc names its (\w+)[-_](release|version) matches.
DISTRO_FILES = ("etc/os-release", "usr/lib/os-release")
DISTRO_SUFFIXES = ("-release", "_release", "-version", "_version")
#: Real release files are under 1 KiB; distro parses os-release whole, with shlex (slow on megabytes).
MAX_RELEASE_BYTES = 64 * 1024


def unsafe_release_file(root: str) -> Optional[str]:
    """Why distro must not read the release files under root, or None."""
    etc = os.path.join(root, "etc")
    try:
        names = os.listdir(etc)
    except OSError:
        names = []
    paths = list(DISTRO_FILES) + ["etc/" + name for name in names if name.endswith(DISTRO_SUFFIXES)]
    real_root = os.path.realpath(root)
    for path in paths:
        local = os.path.join(root, path)
        try:
            st = os.stat(local)
        except OSError:
            continue  # missing or unreadable: distro skips it as well
        if real_root != os.sep and not os.path.realpath(local).startswith(real_root + os.sep):
            return "/%s leads out of the snapshot" % path
        if stat.S_ISREG(st.st_mode) and st.st_size > MAX_RELEASE_BYTES:
            return "/%s is larger than %d bytes" % (path, MAX_RELEASE_BYTES)
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):  # distro fails fast on a folder
            return "/%s is not a regular file" % path
    return None


def distribution(root: str) -> Tuple[Optional[Dict[str, str]], Optional[str]]:
    """({id, version, codename, pretty_name} as distro says them, None), or (None, why distro was not asked)."""
    unsafe = unsafe_release_file(root)
    if unsafe:
        return None, unsafe
    import distro  # only on Linux, where a distribution is asked for

    dist = distro.LinuxDistribution(root_dir=root, include_lsb=False, include_uname=False, include_oslevel=False)
    return {"id": dist.id(), "version": dist.version(best=True), "codename": dist.codename(),
            "pretty_name": dist.name(pretty=True)}, None
