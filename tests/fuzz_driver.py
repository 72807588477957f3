"""Feed hostile inputs to dlws in one process under an address-space cap: mutated snapshots (files, command output,
NVML answers, host facts, archives), mutated fleet results folders and random --require expressions.

Run by tests/test_fuzz.py (and by hand: python tests/fuzz_driver.py --seed 7 --cases 400 --seconds 120). Each case
runs dlws's real entry point (provision.cli.main) with a deadline; a case fails when it exits 3 or with a code the
README does not document, prints a traceback, takes longer than its deadline, prints an error line longer than
MAX_ERROR_CHARS, or when `fleet plan` writes a playbook with a play on hosts other than its class groups (code from
a host's results). Failures come out as JSON lines on stdout; the case about to run is kept in PROGRESS, so a crash
of the whole process (the address-space cap) still names its case.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import sys
import tarfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")
sys.path.insert(0, os.path.dirname(HERE))

from provision import cli  # noqa: E402  (after the path, so a checkout runs its own code)

DOCUMENTED_EXITS = {0, 1, 2}
MAX_ERROR_CHARS = 2000
CASE_SECONDS = 10
MEMORY_CAP = 2 * 1024 ** 3
PROGRESS = "progress.json"
PWNED = "/tmp/dlws-fuzz-pwned"  # what the hostile strings' commands would create


#: A placeholder for a JSON array nested this deep (building it as Python data would need the recursion it tests).
DEEP = "\x00dlws-deep-%d\x00"


class Deadline(BaseException):
    """Raised by the alarm: BaseException, so that no `except Exception` in dlws swallows it."""


# --- hostile values ---------------------------------------------------------------------------------------------------


def hostile_strings(rng: random.Random) -> str:
    return rng.choice([
        "0-99999999999", "0-4294967295,4-7", "18446744073709551615", "-1", "nan", "inf", "1e308", "9" * 5000,
        "X\n- hosts: localhost\n  tasks:\n    - ansible.builtin.command: touch /tmp/dlws-fuzz-pwned",
        "{{ lookup('pipe', 'touch /tmp/dlws-fuzz-pwned') }}", "{% for x in range(10**9) %}x{% endfor %}",
        "$(touch /tmp/dlws-fuzz-pwned)", "`id`", "'; rm -rf / #", "\"\\", "a\rb\x00c\u2028d\u202e",
        "\ud800", "\x1b[31mred", "../../../../etc/passwd", "-rf", "A" * 200_000, "", " ", "\n" * 1000,
        "\u00e9\u4e2d\U0001f600", "0x" + "f" * 100, "1.2.3.4.5.6.7.8.9" * 50, "12.4.", ".", "535.", "None",
        "<a>" * 20_000, "[" * 50_000, "cc " * 1000,
    ])


def hostile_value(rng: random.Random) -> Any:
    kind = rng.randrange(12)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2 ** 70, -(2 ** 63), 10 ** 30])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e308, float("nan"), float("inf")])
    if kind == 4:
        return []
    if kind == 5:
        return {}
    if kind == 6:
        return [hostile_strings(rng)] * rng.randrange(1, 4)
    if kind == 7:
        return {"a": hostile_strings(rng), "name": 3}
    if kind == 8:  # nested deeper than any parser's recursion: written out as text by _write_json
        return DEEP % rng.randrange(1000, 120_000)
    return hostile_strings(rng)


def hostile_text(rng: random.Random, original: str) -> str:
    """A file's or a command's output made hostile: replaced, truncated, spliced or padded."""
    kind = rng.randrange(7)
    if kind == 0:
        return hostile_strings(rng)
    if kind == 1:
        return original[: rng.randrange(len(original) + 1)]
    if kind == 2 and original:
        at = rng.randrange(len(original))
        return original[:at] + hostile_strings(rng) + original[at:]
    if kind == 3:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 3000)))
    if kind == 4:  # numbers where numbers were, out of every range
        return "".join(rng.choice(["99999999999", "-5", "nan", "0"]) if ch.isdigit() and rng.random() < 0.3 else ch
                       for ch in original)
    if kind == 5:
        return original * rng.randrange(2, 50)
    return "<?xml version='1.0'?><!DOCTYPE a [<!ENTITY b '%s'>]><a>%s</a>" % ("x" * 1000, "&b;" * 2000)


def mutate_json(rng: random.Random, data: Any, changes: int) -> Any:
    """data with `changes` leaves or containers replaced by values of other types."""
    data = copy.deepcopy(data)
    for _ in range(changes):
        holder, key = _random_slot(rng, data)
        if holder is None:
            return hostile_value(rng)
        holder[key] = hostile_value(rng)
    return data


def _random_slot(rng: random.Random, data: Any) -> Tuple[Any, Any]:
    holder, key = None, None
    node = data
    for _ in range(rng.randrange(1, 8)):
        if isinstance(node, dict) and node:
            holder, key = node, rng.choice(sorted(node, key=str))
        elif isinstance(node, list) and node:
            holder, key = node, rng.randrange(len(node))
        else:
            break
        node = holder[key]
    return holder, key


# --- cases ------------------------------------------------------------------------------------------------------------


def _read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_json(path: str, data: Any) -> None:
    text = re.sub(r'"\\u0000dlws-deep-(\d+)\\u0000"', lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)),
                  json.dumps(data))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def snapshot_case(rng: random.Random, work: str) -> List[List[str]]:
    """A fixture with a few of its files, commands, NVML answers or facts made hostile."""
    fixture = rng.choice(sorted(f for f in os.listdir(SNAPSHOTS) if os.path.isdir(os.path.join(SNAPSHOTS, f))))
    folder = os.path.join(work, "snap")
    shutil.copytree(os.path.join(SNAPSHOTS, fixture), folder)
    files = [os.path.join(d, f) for d, _, names in os.walk(os.path.join(folder, "files")) for f in names]
    docs = {name: _read_json(os.path.join(folder, name)) for name in ("commands.json", "nvml.json", "host.json")
            if os.path.exists(os.path.join(folder, name))}
    for _ in range(rng.randrange(1, 6)):
        target = rng.randrange(4)
        if target == 0 and files:
            path = rng.choice(files)
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as handle:
                handle.write(hostile_text(rng, text))
        elif target == 1 and "commands.json" in docs:
            for entry in docs["commands.json"].values():
                if rng.random() < 0.5 and isinstance(entry, dict):
                    entry["stdout"] = hostile_text(rng, str(entry.get("stdout") or ""))
        else:
            name = "nvml.json" if target == 2 else "host.json"
            if name in docs:
                docs[name] = mutate_json(rng, docs[name], rng.randrange(1, 5))
    for name, data in docs.items():
        _write_json(os.path.join(folder, name), data)
    snapshot = folder
    if rng.random() < 0.2:
        snapshot = os.path.join(work, "snap.tar.gz")
        with tarfile.open(snapshot, "w:gz") as tar:
            tar.add(folder, arcname="snapshot")
    out = os.path.join(work, "out")
    return [rng.choice([
        ["inventory", "--json"], ["inventory"], ["doctor", "--format", "json"], ["doctor", "--format", "junit"],
        ["doctor"], ["doctor", "--target", "torch"], ["doctor", "--target", "tensorflow==2.15"],
        ["doctor", "--require", "gpu.count >= 1", "--require", "cuda >= 12.1", "--require", "torch.cuda"],
        ["setup", "-f", "pytorch", "--dry-run", "--format", "ansible", "-o", out],
        ["setup", "-f", "tensorflow", "--dry-run", "--format", "shell", "-o", out],
        ["setup", "-f", "jax", "-f", "keras", "--dry-run", "--format", "json", "-o", out],
        ["snapshot", "--redact", "-o", out + ".tar.gz"],
    ]) + ["--snapshot", snapshot]]


def archive_case(rng: random.Random, work: str) -> List[List[str]]:
    """A .tar.gz of random members: names that escape, links, devices, FIFOs, odd sizes."""
    path = os.path.join(work, "bad.tar.gz")
    with tarfile.open(path, "w:gz", format=rng.choice([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])) as tar:
        for _ in range(rng.randrange(1, 8)):
            name = rng.choice(["snapshot/files/proc/cpuinfo", "../escape", "/etc/evil", "snapshot/../../x",
                               "snapshot/commands.json", "snapshot/" + "d/" * 200 + "f", "C:/x", "snapshot/host.json",
                               "snapshot/files/" + "n" * 5000])
            info = tarfile.TarInfo(name)
            info.type = rng.choice([tarfile.REGTYPE, tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE,
                                    tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
            info.linkname = rng.choice(["/etc/passwd", "../../x", ""])
            data = hostile_strings(rng).encode("utf-8", "surrogatepass") if info.isfile() else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return [["inventory", "--json", "--snapshot", path]]


def require_case(rng: random.Random, work: str) -> List[List[str]]:
    tokens = ["gpu.count", ">=", "<=", "==", "!=", ">", "<", "2", "24GiB", "cuda", "12.1", "driver", "535",
              "disk[/data].free", "500GB", "cpu.flag", "avx512f", "torch", ".cuda", "[", "]", "(", ")", "\x00",
              "nan", "1e999", "9" * 400, "gpu.memory", "os.id", "ubuntu", "cpu.level", "v3", "'", '"', ",", "  "]
    expr = "".join(rng.choice(tokens) + rng.choice(["", " "]) for _ in range(rng.randrange(1, 30)))
    fixture = os.path.join(SNAPSHOTS, rng.choice(["h100-sxm-server", "docker-no-gpu", "macos-m2-max"]))
    return [["doctor", "--require", expr, "--snapshot", fixture]]


_DOCTOR_CACHE: Dict[str, Any] = {}


def _doctor_of(fixture: str) -> Any:
    if fixture not in _DOCTOR_CACHE:
        from provision.doctor import diagnose
        from provision.doctor.report import to_json
        from provision.inventory import collect
        from provision.snapshot import open_snapshot

        inv = collect(open_snapshot(os.path.join(SNAPSHOTS, fixture))).to_dict()
        _DOCTOR_CACHE[fixture] = json.loads(to_json(diagnose(inv)))
    return _DOCTOR_CACHE[fixture]


def fleet_case(rng: random.Random, work: str) -> List[List[str]]:
    """A results folder of a few hosts; some have hostile doctor.json or status.json content."""
    folder = os.path.join(work, "fleet")
    fixtures = ["h100-sxm-server", "dgx-a100-8gpu", "rtx4090-ryzen-workstation", "graviton3-arm64-server",
                "docker-no-gpu", "gtx1080-pascal"]
    for number in range(rng.randrange(1, 6)):
        host = os.path.join(folder, "host%d" % number)
        os.makedirs(host)
        status: Any = {"host": "host%d" % number, "status": "ok", "message": None}
        doctor = _doctor_of(rng.choice(fixtures))
        if rng.random() < 0.6:
            doctor = mutate_json(rng, doctor, rng.randrange(1, 8))
        if rng.random() < 0.15:
            status = mutate_json(rng, status, rng.randrange(1, 3))
        _write_json(os.path.join(host, "status.json"), status)
        _write_json(os.path.join(host, "doctor.json"), doctor)
    out = os.path.join(work, "out")
    return [["fleet", "report", folder, "--format", fmt, "-o", out + "." + fmt]
            for fmt in ("text", "json", "junit", "html")] + [
        ["fleet", "plan", folder, "-f", rng.choice(["pytorch", "tensorflow", "jax"]), "-o", out + ".yml"],
        ["fleet", "plan", folder, "-f", "pytorch", "--format", "json", "-o", out + ".json"]]


CASES: List[Callable[[random.Random, str], List[List[str]]]] = [
    snapshot_case, snapshot_case, snapshot_case, fleet_case, fleet_case, archive_case, require_case]


# --- running ----------------------------------------------------------------------------------------------------------


def _alarm(_signum: int, _frame: Any) -> None:
    raise Deadline()


def run_dlws(argv: List[str]) -> Tuple[Optional[int], str, str]:
    """(exit code or None on a deadline, stdout, stderr) of dlws's real entry point, in this process."""
    # As a real process has them: stdout strict (text that cannot be encoded fails), stderr backslash-escaping.
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace")
    code: Optional[int] = None
    cli._DEBUG["on"] = False  # --debug sticks for the process; each case starts without it
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 3
            except Deadline:
                code = None
    finally:
        signal.alarm(0)
    out.flush()
    err.flush()
    return code, _text(out), _text(err)


def _text(stream: io.TextIOWrapper) -> str:
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8", "replace")


def problems(argv: List[str], code: Optional[int], err: str, work: str) -> List[str]:
    found = []
    if code is None:
        found.append("ran past %d s" % CASE_SECONDS)
    elif code not in DOCUMENTED_EXITS:
        found.append("exit %s" % code)
    if "Traceback (most recent call last)" in err:
        found.append("traceback")
    if any(len(line) > MAX_ERROR_CHARS for line in err.splitlines() if line.startswith("dlws:")):
        found.append("an error line longer than %d characters" % MAX_ERROR_CHARS)
    if argv[:2] == ["fleet", "plan"] and "-o" in argv and argv[argv.index("-o") + 1].endswith(".yml"):
        found += _foreign_plays(argv[argv.index("-o") + 1])
    if os.path.exists(PWNED):
        found.append("a hostile value ran as code (%s exists)" % PWNED)
    return found


def _foreign_plays(playbook: str) -> List[str]:
    """A fleet playbook's plays must all be on dlws's class groups: anything else came from a host's results."""
    if not os.path.exists(playbook):
        return []
    import yaml  # PyYAML comes with ansible-core in the test environment

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))
    try:
        with open(playbook, encoding="utf-8") as handle:
            plays = yaml.load(handle, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        return ["fleet plan wrote a playbook that is not YAML (%s)" % str(exc)[:200]]
    if not isinstance(plays, list):
        return ["fleet plan wrote a playbook that is not a list of plays"]
    return ["fleet plan wrote a play on %r" % play.get("hosts") for play in plays
            if not isinstance(play, dict) or not str(play.get("hosts", "")).startswith("dlws_class_")]


def _last_frames(traceback: str) -> str:
    """The innermost frames of dlws's own code in a --debug traceback: where to look."""
    lines = traceback.splitlines()
    frames = [line.strip() for line in lines if line.strip().startswith("File ") and "/provision/" in line]
    return " <- ".join(reversed(frames[-3:])) + (" | " + lines[-2].strip()[:200] if len(lines) > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=45.0, help="stop early after this long")
    parser.add_argument("--work", required=True)
    parser.add_argument("--kinds", default="", help="only these case kinds (comma-separated: snapshot_case, ...)")
    parser.add_argument("--keep", type=int, default=-1, help="stop after running this case, keeping its files")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.kinds or c.__name__ in args.kinds.split(",")]
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(3000)  # Python's default; the deep JSON cases must hit it, not a raised one
    rng = random.Random(args.seed)
    if os.path.exists(PWNED):
        os.remove(PWNED)
    start, ran, seen = time.monotonic(), 0, set()
    for number in range(args.cases):
        if time.monotonic() - start > args.seconds:
            break
        case = cases[rng.randrange(len(cases))]
        work = os.path.join(args.work, "case")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        for argv in case(rng, work):
            _write_json(os.path.join(args.work, PROGRESS), {"case": number, "seed": args.seed, "argv": argv})
            code, _, err = run_dlws(argv)
            found = problems(argv, code, err, work)
            signature = (case.__name__, tuple(argv[:2]), tuple(found), err.strip()[:60])
            if found and signature not in seen:  # one line per kind of failure
                seen.add(signature)
                where = run_dlws(argv + ["--debug"])[2] if code == 3 and argv[0] != "fleet" else ""
                print(json.dumps({"case": number, "seed": args.seed, "kind": case.__name__, "argv": argv,
                                  "exit": code, "problems": found, "stderr": err[-600:],
                                  "traceback": _last_frames(where)}), flush=True)
                if len(seen) >= 20:
                    return 1
        ran += 1
        if number == args.keep:
            break
    print(json.dumps({"done": ran, "seconds": round(time.monotonic() - start, 1)}), flush=True)
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main())
