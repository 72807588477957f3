"""Where the dynamic loader finds the CUDA libraries a framework asks for, in the order it looks.

ld.so(8): a library's DT_RUNPATH (which torch's and TensorFlow's own libraries point at their nvidia-* wheels) is
searched after LD_LIBRARY_PATH, and the folders of /etc/ld.so.conf (the cache ldconfig builds from them) after both.
So a cuDNN in an LD_LIBRARY_PATH folder is loaded instead of the wheel's whenever its file name (the soname,
libcudnn.so.8) is the same. The versions come from the folders' file names (libcudnn.so.8.9.7): one listing each.
/etc/ld.so.cache is binary; the text files it is built from are read instead, and the loader's own default folders
(glibc's trusted /lib, /usr/lib and their 64-bit and multiarch forms) after them: those are recorded, even empty, only
when /etc/ld.so.conf was read, so that one recorded says the whole path is known (an absence may then be claimed).
Ahead of all of them ld.so loads the preloaded libraries: LD_PRELOAD's (recorded with the other variables,
provision/inventory/envvars.py), then /etc/ld.so.preload's, both as file names only (their folders may name a user).
The toolkits' forward-compatibility libcuda copies are recorded too: the ones a preloaded libcuda.so may name.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import Dict, List

from provision.host import Host
from provision.inventory.libraries import library_versions
from provision.inventory.model import Inventory, Library, LoaderFolder

#: The libraries whose copies decide what a CUDA framework runs with (cuDSS: what Jetson torch builds from 2.8 link,
#: which JetPack does not install; libcublasLt: what the nvidia-cublas wheel's libcublas needs, found by soname).
LIBRARIES = ("libcudnn", "libcudart", "libcublas", "libcublasLt", "libnccl", "libcudss")
#: The folders ld.so searches after its cache whatever ld.so.conf says (glibc's system search path: lib64 on
#: 64-bit Fedora/RHEL, the multiarch folders on Debian and Ubuntu); those missing here are left out.
DEFAULT_FOLDERS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                   "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")
#: More folders than any loader path has; the rest are left out.
MAX_FOLDERS = 64
#: Nested include lines followed at most this deep (a conf file may include itself).
MAX_DEPTH = 4
#: More names than any preload list has; the rest are left out.
MAX_PRELOADS = 64


def _libraries(host: Host, folder: str) -> Dict[str, List[str]]:
    entries = host.listdir(folder) or []
    found = {name: library_versions(entries, name) for name in LIBRARIES}
    return {name: versions for name, versions in found.items() if versions}


def ld_library_path(value: str) -> List[str]:
    """The absolute folders of an LD_LIBRARY_PATH value, in order, each once (an empty entry is the current
    folder, which depends on where a program starts: left out)."""
    out: List[str] = []
    for item in value.replace(";", ":").split(":"):
        folder = item.strip()
        folder = folder.rstrip("/") or folder  # "/usr/lib/" is "/usr/lib"; "/" stays
        if folder.startswith("/") and folder not in out:
            out.append(folder)
    return out


def ld_so_conf(host: Host, path: str = "/etc/ld.so.conf", depth: int = 0) -> List[str]:
    """The folders /etc/ld.so.conf names, following its 'include' lines (globs such as /etc/ld.so.conf.d/*.conf,
    read in name order as ldconfig does)."""
    out: List[str] = []
    for line in (host.read(path) or "").splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("include") and line[7:8].isspace():
            if depth < MAX_DEPTH:
                for pattern in line[7:].split():
                    pattern = pattern if pattern.startswith("/") else posixpath.join(posixpath.dirname(path), pattern)
                    folder, glob = posixpath.split(pattern)
                    for name in host.listdir(folder) or []:
                        if fnmatch.fnmatchcase(name, glob):
                            out += ld_so_conf(host, posixpath.join(folder, name), depth + 1)
        elif line.startswith("/"):
            out.append(line.split("=", 1)[0].rstrip("/"))  # old "dir=TYPE" lines
    return out


def preload_names(text: str) -> List[str]:
    """The file names /etc/ld.so.preload lists: ld.so drops '#' comments to the end of the line and splits the rest
    at spaces, tabs, newlines and colons (glibc elf/rtld.c, dl_main); each item's folder is left out."""
    text = "\n".join(line.split("#", 1)[0] for line in (text or "").splitlines())
    names = [posixpath.basename(item) for item in re.split(r"[:\s]+", text) if item]
    return [name for name in names if name][:MAX_PRELOADS]


def cuda_compat(host: Host, inv: Inventory) -> List[Library]:
    """The forward-compatibility libcuda versions (libcuda.so.550.54.14) in the compat/ folder of each toolkit found
    and of each /usr/local/cuda* (a container's toolkit may lack what the toolkit probe looks for), each folder once."""
    roots = [tk.path for tk in inv.cuda.toolkits if tk.source != "conda"]
    roots += [posixpath.join("/usr/local", entry) for entry in host.listdir("/usr/local") or []
              if re.fullmatch(r"cuda(-\d+(\.\d+)*)?", entry)]
    out: List[Library] = []
    for root in roots:
        real = host.realpath(posixpath.join(root, "compat"))
        if real is None or any(lib.path == real for lib in out):
            continue
        versions = library_versions(host.listdir(real) or [], "libcuda")
        out += [Library(version=v, source=root, path=real) for v in versions if "." in v]  # not the soname's .so.1
    return out


def _defaults(host: Host) -> List[str]:
    """The default folders that exist here, when /etc/ld.so.conf was read (else none: the path is not known)."""
    if host.read("/etc/ld.so.conf") is None:
        return []
    return [folder for folder in DEFAULT_FOLDERS if host.listdir(folder) is not None]


def probe(host: Host, inv: Inventory) -> None:
    seen: List[str] = []
    found: List[LoaderFolder] = []
    for source, folders in (("LD_LIBRARY_PATH", ld_library_path(host.env("LD_LIBRARY_PATH") or "")),
                            ("ld.so.conf", ld_so_conf(host)), ("default", _defaults(host))):
        for folder in folders:
            # a default folder ld.so.conf named but left out (no CUDA library) is recorded as the default it is
            if (folder in seen and (source != "default" or folder in (f.path for f in found))) \
                    or len(seen) >= MAX_FOLDERS:
                continue
            seen.append(folder)
            libraries = _libraries(host, folder)
            if libraries or source != "ld.so.conf":  # every LD_LIBRARY_PATH folder: its order is the point
                found.append(LoaderFolder(folder, source, libraries))
    inv.loader_path = found
    inv.ld_so_preload = preload_names(host.read("/etc/ld.so.preload") or "")
    inv.cuda_compat = cuda_compat(host, inv)
