"""CUDA toolkits: every one installed, its version, which one PATH and LD_LIBRARY_PATH select, and the one
torch.utils.cpp_extension would build extensions with.

Where toolkits live: /usr/local/cuda-X.Y (and the /usr/local/cuda link to one of them), /opt/cuda* (Arch Linux),
$CUDA_HOME, $CUDA_PATH, the nvcc that PATH finds, and the active conda env. A link and its target are one toolkit,
listed under the real path. The version comes from files (version.json, version.txt); nvcc --version is the last
resort, one command per toolkit that has neither.
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Dict, List, Optional, Tuple

from provision.host import Host
from provision.inventory.common import system
from provision.inventory.model import Cuda, Inventory, Toolkit

_DATE_PATCH = re.compile(r"^(\d+\.\d+)\.(20\d{6})$")


def parse_version_json(text: str) -> Optional[str]:
    """{"cuda": {"name": "CUDA SDK", "version": "12.4.1"}, ...} (CUDA >= 11.1). Runfile installs write the release
    date as the patch ("11.8.20220929"); that is no patch level, so only major.minor is kept."""
    try:
        data = json.loads(text)
        version = data["cuda"]["version"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+(\.\d+)*", version):
        return None
    dated = _DATE_PATCH.match(version)
    return dated.group(1) if dated else version


def parse_version_txt(text: str) -> Optional[str]:
    """'CUDA Version 10.2.89' (CUDA <= 11.0)."""
    match = re.search(r"CUDA Version\s+(\d+(?:\.\d+)+)", text or "")
    return match.group(1) if match else None


#: The toolkit a wrapper script of nvcc runs ("exec /usr/local/cuda-13.0/bin/nvcc "$@"").
WRAPPER_TARGET = re.compile(r"""["']?(/[^\s"']+)/bin/nvcc\b""")
#: CUDA 13 toolkits carry the dist-info folders of their pip components instead of version.json.
NVCC_DIST_INFO = re.compile(r"^nvidia_cuda_nvcc(?:_cu\d+)?-(\d+)\.(\d+)\.[\w.]+\.dist-info$")


def dist_info_version(names: List[str]) -> Optional[str]:
    """'13.0' from <toolkit>/dist-info/nvidia_cuda_nvcc-13.0.88.dist-info, as nvcc --version would say."""
    for name in names:
        match = NVCC_DIST_INFO.match(name)
        if match:
            return "%s.%s" % match.groups()
    return None


def parse_nvcc_version(text: str) -> Optional[str]:
    """'Cuda compilation tools, release 12.4, V12.4.131' -> '12.4' (the release, not the compiler's build)."""
    match = re.search(r"release (\d+\.\d+)", text or "")
    return match.group(1) if match else None


def parse_conda_meta(entries: List[str]) -> Dict[str, str]:
    """package -> version from conda-meta/<name>-<version>-<build>.json (names may hold '-', versions never)."""
    out: Dict[str, str] = {}
    for entry in entries:
        if entry.endswith(".json"):
            parts = entry[: -len(".json")].rsplit("-", 2)
            if len(parts) == 3:
                out.setdefault(parts[0], parts[1])
    return out


def conda_cuda_version(meta: Dict[str, str]) -> Tuple[bool, Optional[str]]:
    """(a CUDA toolkit is in the env, its version). cudatoolkit (CUDA <= 11) carries the full version; CUDA 12+ is
    split into cuda-* packages pinned by the cuda-version metapackage ("12.4"); cuda-nvcc alone gives major.minor."""
    if "cudatoolkit" in meta:
        return True, meta["cudatoolkit"]
    if "cuda-version" in meta and any(name.startswith(("cuda-cudart", "cuda-nvcc", "cuda-toolkit")) for name in meta):
        return True, meta["cuda-version"]
    if "cuda-nvcc" in meta:
        match = re.match(r"\d+\.\d+", meta["cuda-nvcc"])
        return True, match.group(0) if match else None
    return False, None


def split_path(value: Optional[str], windows: bool = False) -> List[str]:
    return [p.rstrip("/") or "/" for p in (value or "").split(";" if windows else ":") if p]


_LIB_DIR = re.compile(r"^(lib64|lib|targets/[^/]+/lib)$")


def library_dir_of(real_dir: str, toolkits: List[str]) -> Optional[str]:
    """The toolkit whose lib64/, lib/ or targets/<arch>/lib is real_dir (lib64 is a link to targets/<arch>/lib)."""
    for root in toolkits:
        if real_dir.startswith(root.rstrip("/") + "/") and _LIB_DIR.match(real_dir[len(root.rstrip("/")) + 1:]):
            return root
    return None


class _Finder:
    def __init__(self, host: Host, inv: Inventory) -> None:
        self.host = host
        self.inv = inv
        self.found: Dict[str, Toolkit] = {}
        self.windows = system(host) == "windows"
        self.nvcc_name = "nvcc.exe" if self.windows else "nvcc"
        self.first_nvcc: Optional[str] = None  # the nvcc PATH finds first, as PATH names it

    def real(self, path: str) -> str:
        return self.host.realpath(path) or posixpath.normpath(path)

    def add(self, path: str, source: str, conda_version: Optional[str] = None, conda: bool = False) -> Optional[str]:
        """Add the toolkit at path (once per real path, the first source wins); its real path, or None when no
        toolkit is there."""
        real = self.host.realpath(path)
        if real is None:
            return None
        real = real.rstrip("/") or "/"
        if real not in self.found:
            if not conda and not self._looks_like_toolkit(real):
                return None
            version = conda_version if conda else self.version(real)
            nvcc = self.host.exists(posixpath.join(real, "bin", self.nvcc_name))
            self.found[real] = Toolkit(version=version, path=real, source=source, nvcc=nvcc)
        return real

    def _looks_like_toolkit(self, root: str) -> bool:
        """A toolkit has nvvm/ (nvcc's back end) or a version file; Debian's packaging (root /usr) has
        include/cuda.h. An nvcc alone may be a wrapper script in /usr/local/bin, which is no toolkit."""
        return any(self.host.exists(posixpath.join(root, name))
                   for name in ("version.json", "version.txt", "nvvm", "include/cuda.h"))

    def version(self, root: str) -> Optional[str]:
        text = self.host.read(posixpath.join(root, "version.json"))
        if text is not None:
            version = parse_version_json(text)
            if version:
                return version
            self.inv.error("cuda", "unreadable %s/version.json" % root)
        text = self.host.read(posixpath.join(root, "version.txt"))
        if text is not None and parse_version_txt(text):
            return parse_version_txt(text)
        from_wheels = dist_info_version(self.host.listdir(posixpath.join(root, "dist-info")) or [])
        if from_wheels:
            return from_wheels
        nvcc = posixpath.join(root, "bin", "nvcc")
        if not self.host.exists(nvcc):
            return None
        result = self.host.run([nvcc, "--version"])
        version = parse_nvcc_version(result.stdout) if result.ok else None
        if version is None:
            self.inv.error("cuda", "%s --version: %s" % (nvcc, (result.stderr or result.stdout).strip()[:200]))
        return version

    def under(self, folder: str, source: str) -> None:
        """/usr/local/cuda, /usr/local/cuda-12.4, /opt/cuda, ... (one listdir)."""
        for entry in self.host.listdir(folder) or []:
            if re.fullmatch(r"cuda(-\d+(\.\d+)*)?", entry):
                self.add(posixpath.join(folder, entry), source)

    def on_path(self) -> Optional[str]:
        """Every nvcc on PATH, in PATH order; the real path of the toolkit the first one belongs to."""
        selected: Optional[str] = None
        for folder in split_path(self.host.env("PATH"), self.windows):
            nvcc = posixpath.join(folder, self.nvcc_name)
            if not self.host.exists(nvcc):
                continue
            added = self.add(posixpath.dirname(posixpath.dirname(self.real(nvcc))), "PATH")
            if self.first_nvcc is None:
                selected = added or self.wrapped(nvcc)
                self.first_nvcc = nvcc
        return selected

    def wrapped(self, nvcc: str) -> Optional[str]:
        """The toolkit behind an nvcc that lies outside any (a wrapper script): the one found toolkit of the
        release it reports, when exactly one has it."""
        script = self.host.read(nvcc) or ""
        target = WRAPPER_TARGET.search(script[:4096]) if script.startswith("#!") else None
        if target and self.host.realpath(target.group(1)) in self.found:
            return self.host.realpath(target.group(1))  # "exec /usr/local/cuda-13.0/bin/nvcc "$@"": no need to run it
        version = parse_nvcc_version(self.host.run([nvcc, "--version"]).stdout)
        matches = [tk.path for tk in self.found.values()
                   if version and tk.version and (tk.version == version or tk.version.startswith(version + "."))]
        return matches[0] if len(matches) == 1 else None

    def conda(self) -> None:
        prefix = self.host.env("CONDA_PREFIX")
        if not prefix:
            return
        meta = parse_conda_meta(self.host.listdir(posixpath.join(prefix, "conda-meta")) or [])
        present, version = conda_cuda_version(meta)
        if present:
            self.add(prefix, "conda", version, conda=True)


def probe(host: Host, inv: Inventory) -> None:
    finder = _Finder(host, inv)
    finder.under("/usr/local", "/usr/local")
    finder.under("/opt", "/opt")
    finder.conda()
    for name in ("CUDA_HOME", "CUDA_PATH"):
        value = host.env(name)
        if value:
            finder.add(value, name)
    path_selects = finder.on_path()
    roots = list(finder.found)
    ld_selects = None
    for folder in split_path(host.env("LD_LIBRARY_PATH")):
        ld_selects = library_dir_of(finder.real(folder), roots)
        if ld_selects:
            break
    cuda_home, cuda_home_from = torch_cuda_home(finder, path_selects)
    inv.cuda = Cuda(toolkits=list(finder.found.values()), path_selects=path_selects,
                    ld_library_path_selects=ld_selects, cuda_home=cuda_home, cuda_home_from=cuda_home_from)


def torch_cuda_home(finder: _Finder, path_selects: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(the toolkit torch.utils.cpp_extension takes, where it found it), as its _find_cuda_home looks (the frameworks
    table, pytorch.cpp_extension): a variable as set, existing or not; PATH's first nvcc's folder above bin/ (links
    not resolved: /usr/bin/nvcc gives /usr); /usr/local/cuda. (None, 'none') where it finds none; (None, None) on
    Windows, where its last guess (a glob of the installer's folders) is not read."""
    for name in ("CUDA_HOME", "CUDA_PATH"):
        value = finder.host.env(name)
        if value:
            return finder.add(value, name) or value, name
    if finder.first_nvcc is not None:
        return path_selects or posixpath.dirname(posixpath.dirname(finder.first_nvcc)), "PATH"
    if finder.windows:
        return None, None
    if finder.host.exists("/usr/local/cuda"):
        return finder.add("/usr/local/cuda", "/usr/local") or "/usr/local/cuda", "/usr/local/cuda"
    return None, "none"
