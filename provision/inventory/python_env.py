"""Python and the deep-learning frameworks installed in it.

Nothing is imported (importing torch takes seconds and can crash on a broken CUDA install): versions come from
dist-info folder names (packages.py), builds from version tags and the small files each framework's build writes.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from provision import knowledge
from provision.host import Host
from provision.inventory import packages
from provision.inventory.common import machine, system
from provision.inventory.environments import join, path_module
from provision.inventory.model import Environment, Framework, Inventory, Python
from provision.inventory.packages import Dist


class Build(NamedTuple):
    build: Optional[str]  # "cuda 12.1" | "rocm 6.0" | "cpu" | "metal" | "xpu"
    cuda: Optional[str] = None
    rocm: Optional[str] = None


UNKNOWN = Build(None)


def split_local(version: Optional[str]) -> Tuple[str, str]:
    """'2.3.1+cu121' -> ('2.3.1', 'cu121'); the local label (PEP 440) is where wheels name their build."""
    public, _, local = (version or "").partition("+")
    return public, local


def packed_cuda(digits: str) -> Optional[str]:
    """'121' -> '12.1', '92' -> '9.2': CUDA as pytorch and mxnet pack it in names (major, then one minor digit)."""
    if not digits.isdigit() or not 2 <= len(digits) <= 4:  # 4: room for CUDA 100.0; more is no CUDA
        return None
    return "%d.%s" % (int(digits[:-1]), digits[-1])


def cuda_build(version: Optional[str]) -> Build:
    return Build("cuda " + version, cuda=version) if version else Build("cuda")


def rocm_build(version: Optional[str]) -> Build:
    return Build("rocm " + version, rocm=version) if version else Build("rocm")


def torch_local_build(local: str) -> Build:
    """The build a PyTorch wheel's local label names: pytorch/pytorch .github/scripts/generate_binary_build_matrix.py
    (translate_desired_cuda) makes "cu{version without dots}", "rocm{version}" and "cpu" (also "cpu.cxx11.abi");
    Intel GPU wheels are labelled "xpu"."""
    tag = local.split(".", 1)[0] if not local.startswith("rocm") else local
    if re.fullmatch(r"cu\d{2,3}", tag):
        return cuda_build(packed_cuda(tag[2:]))
    if re.fullmatch(r"rocm\d+(\.\d+)*", tag):
        return rocm_build(tag[4:])
    if tag in ("cpu", "xpu"):
        return Build(tag)
    return UNKNOWN


#: Spaces only, never newlines, and no lazy value before "\s*$": either would make a long line quadratic.
_ASSIGN = re.compile(r"^(\w+)[ \t]*(?::[^=\n]*)?=[ \t]*(.*\S)", re.M)


def parse_torch_version_py(text: str) -> Dict[str, Optional[str]]:
    """cuda and hip of torch/version.py, as pytorch/pytorch tools/generate_torch_version.py writes them:
    "cuda: Optional[str] = '12.1'" and "hip: Optional[str] = None" (older releases: "cuda = '10.2'")."""
    out: Dict[str, Optional[str]] = {}
    for name, value in _ASSIGN.findall(text or ""):
        if name in ("cuda", "hip"):
            try:
                literal = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                continue
            if literal is None or isinstance(literal, str):
                out[name] = literal or None
    return out


def torch_file_build(fields: Dict[str, Optional[str]]) -> Build:
    if "cuda" not in fields and "hip" not in fields:
        return UNKNOWN
    if fields.get("cuda"):
        return cuda_build(fields["cuda"])
    if fields.get("hip"):  # '6.0.32830-d62f6a171': HIP's major.minor is the ROCm release
        match = re.match(r"\d+\.\d+", fields["hip"] or "")
        return rocm_build(match.group(0) if match else None)
    return Build("cpu")


#: A key starts a word ((?<!\w)): tried from inside a long word too, the search would be quadratic.
_BUILD_INFO_PAIR = re.compile(r"""['"]?(?<!\w)(\w+)['"]?\s*[:,=]\s*('[^'\n]*'|"[^"\n]*"|True|False)""")


def parse_tf_build_info(text: str) -> Dict[str, Any]:
    """The scalar entries of tensorflow/python/platform/build_info.py. tensorflow/tools/build_info/gen_build_info.py
    writes "build_info = collections.OrderedDict([('cuda_version', '12.3'), ('is_cuda_build', True), ...])"; TF 2.3-era
    files hold a dict literal {'cuda_version': '64_101', 'is_cuda_build': True}; TF 2.1-era ones module variables
    (is_cuda_build = True, cuda_version_number = '10.1')."""
    out: Dict[str, Any] = {}
    for key, value in _BUILD_INFO_PAIR.findall(text or ""):
        out.setdefault(key, value == "True" if value in ("True", "False") else value[1:-1])
    return out


def tf_cuda_version(value: Any) -> Optional[str]:
    """'12.3' on Linux; '64_112' (the DLL suffix, cudart64_112.dll) on Windows -> '11.2'."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("64_"):
        return packed_cuda(value[3:])
    return value if re.fullmatch(r"\d+(\.\d+)*", value) else None


def tf_file_build(info: Dict[str, Any]) -> Build:
    if info.get("is_cuda_build") is True:
        return cuda_build(tf_cuda_version(info.get("cuda_version") or info.get("cuda_version_number")))
    if info.get("is_rocm_build") is True:
        return rocm_build(info.get("rocm_version") or None)
    if info.get("is_cuda_build") is False:
        return Build("cpu")
    return UNKNOWN


def jaxlib_local_build(local: str) -> Build:
    """Old jaxlib wheels named their build in the local label: '0.4.7+cuda12.cudnn88', '0.3.25+cuda11.cudnn82'."""
    match = re.match(r"cuda(\d+)", local)
    if match:
        return cuda_build(match.group(1))
    match = re.match(r"rocm(\d+(?:\.\d+)*)?", local)
    if match:
        return rocm_build(match.group(1))
    return UNKNOWN


def _row_build(row: Dict[str, Any]) -> Build:
    build = row.get("build")
    if build == "cuda":
        return cuda_build(row.get("cuda"))
    if build == "rocm":
        return rocm_build(row.get("rocm"))
    return Build(build) if build else UNKNOWN


def _plugin_build(framework: str, dists: Dict[str, Dist], plugins: List[Dict[str, Any]]) -> Build:
    for row in plugins:
        if row["framework"] == framework and row["package"] in dists:
            return _row_build(row)
    return UNKNOWN


def chosen_dists(rows: List[Dict[str, Any]], dists: Dict[str, Dist]) -> Dict[str, Tuple[Dict[str, Any], Dist]]:
    """framework key -> (table row, installed distribution); the first row of a key that is installed wins."""
    out: Dict[str, Tuple[Dict[str, Any], Dist]] = {}
    for row in rows:
        if row["key"] in out:
            continue
        if "package" in row and row["package"] in dists:
            out[row["key"]] = (row, dists[row["package"]])
        elif "package_prefix" in row:
            for name in sorted(dists):
                rest = name[len(row["package_prefix"]):]
                if name.startswith(row["package_prefix"]) and rest[:1].isdigit():
                    out[row["key"]] = (row, dists[name])
                    break
    return out


class _Context(NamedTuple):
    host: Host
    inv: Inventory
    dists: Dict[str, Dist]
    rows: List[Dict[str, Any]]
    plugins: List[Dict[str, Any]]
    apple_silicon: bool


def _torch_build(ctx: _Context, key: str, dist: Dist, version: str) -> Build:
    build = torch_local_build(split_local(version)[1])
    if build == UNKNOWN and key == "torch":
        text = ctx.host.read(join(dist.site, "torch", "version.py"))
        build = torch_file_build(parse_torch_version_py(text)) if text is not None else UNKNOWN
    if build.build == "cpu" and ctx.apple_silicon:  # macOS arm64 wheels carry the MPS (Metal) backend
        return Build("metal")
    return build


def _tensorflow_build(ctx: _Context, row: Dict[str, Any], dist: Dist) -> Build:
    path = join(dist.site, "tensorflow", "python", "platform", "build_info.py")
    text = ctx.host.read(path)
    build = tf_file_build(parse_tf_build_info(text)) if text is not None else UNKNOWN
    if text is not None and build == UNKNOWN:
        ctx.inv.error("python", "no build facts in %s" % path)
    if build == UNKNOWN:
        build = _row_build(row)
    plugin = _plugin_build("tensorflow", ctx.dists, ctx.plugins)
    return plugin if plugin != UNKNOWN and build.build in (None, "cpu") else build


def _jax_build(ctx: _Context) -> Build:
    """A plugin names the accelerator; else an old jaxlib's local label; else jaxlib alone runs on the CPU."""
    plugin = _plugin_build("jax", ctx.dists, ctx.plugins)
    if plugin != UNKNOWN:
        return plugin
    for row in ctx.rows:
        if row["key"] == "jaxlib" and row.get("package") in ctx.dists:
            build = jaxlib_local_build(split_local(packages.version(ctx.host, ctx.dists[row["package"]]))[1])
            if build == UNKNOWN:
                build = _row_build(row)
            return build if build != UNKNOWN else Build("cpu")
    return UNKNOWN


def _mxnet_build(row: Dict[str, Any], dist: Dist) -> Build:
    if "package_prefix" in row:  # mxnet-cu112, mxnet-cu100mkl
        digits = re.match(r"\d+", dist.name[len(row["package_prefix"]):])
        return cuda_build(packed_cuda(digits.group(0)) if digits else None)
    return _row_build(row)


def framework(ctx: _Context, key: str, row: Dict[str, Any], dist: Dist) -> Optional[Framework]:
    version = packages.version(ctx.host, dist)
    if version is None:
        return None
    if key in ("torch", "torchvision", "torchaudio"):
        build = _torch_build(ctx, key, dist, version)
    elif key == "tensorflow":
        build = _tensorflow_build(ctx, row, dist)
    elif key in ("jax", "jaxlib"):
        build = _jax_build(ctx)
    elif key == "mxnet":
        build = _mxnet_build(row, dist)
    else:
        build = _row_build(row)
    return Framework(version=version, build=build.build, cuda=build.cuda, rocm=build.rocm, package=dist.name,
                     location=dist.site, wheel_tags=packages.wheel_tags(ctx.host, dist))


def python_info(py: Dict[str, Any], env: Dict[str, Optional[str]]) -> Python:
    prefix, base = py.get("prefix"), py.get("base_prefix")
    virtualenv = prefix if prefix and base and prefix != base else env.get("VIRTUAL_ENV")
    conda_prefix = (env.get("CONDA_PREFIX") or "").rstrip("/\\")
    return Python(
        version=py.get("version"),
        executable=py.get("executable"),
        implementation=py.get("implementation"),
        virtualenv=virtualenv or None,
        conda_env=env.get("CONDA_DEFAULT_ENV") or path_module(conda_prefix).basename(conda_prefix) or None,
        bits=py.get("bits") if py.get("bits") in (32, 64) else None,
    )


def read_frameworks(host: Host, sites: List[str], errors: List[str]) -> Dict[str, Framework]:
    """The frameworks installed in these site-packages folders, as the first on the list would import them."""
    table = knowledge.load("python_packages")
    dists = packages.scan(host, sites)
    apple_silicon = system(host) == "darwin" and machine(host) in ("arm64", "aarch64")
    scratch = Inventory()
    ctx = _Context(host, scratch, dists, table["frameworks"], table["plugins"], apple_silicon)
    out: Dict[str, Framework] = {}
    for key, (row, dist) in chosen_dists(table["frameworks"], dists).items():
        found = framework(ctx, key, row, dist)
        if found is not None:
            out[key] = found
    errors.extend(error.message for error in scratch.errors)
    return out


def judged_python(env: Environment) -> Python:
    """The top-level python of an environment other than dlws's own."""
    return Python(version=env.python, executable=env.executable, implementation="cpython" if env.python else None,
                  virtualenv=env.path if env.kind in ("venv", "pipx") else None,
                  conda_env=(path_module(env.path).basename(env.path) or None) if env.kind == "conda" else None)


def probe(host: Host, inv: Inventory, env: Optional[str] = None) -> None:
    """Every environment; the top-level python and frameworks are the judged one's (env, else the activated one,
    else the python3 on PATH, else dlws's own)."""
    from provision.inventory.envscan import scan

    py = host.fact("python")
    variables = {name: host.env(name) for name in ("VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV")}
    inv.environments, errors = scan(host, read_frameworks, env)
    for message in errors:
        inv.error("python", message)
    judged = next((e for e in inv.environments if e.active), None)
    if judged is None or judged.dlws:
        inv.python = python_info(py if isinstance(py, dict) else {}, variables)
    else:
        inv.python = judged_python(judged)
    if judged is not None:
        inv.frameworks = dict(judged.frameworks)
        packages.remember(host, judged.site_packages)
        if judged.error:
            inv.error("python", "%s: %s" % (judged.path, judged.error))
