"""Time whole processes side by side (medians of several runs) and print ratios; run through scripts/bench."""

import os
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
VENV_BIN = os.path.dirname(sys.executable)
#: A paste for the --error case: a warning, a traceback and the error (pytorch/pytorch#52736's text).
ERROR_TEXT = ("UserWarning: GeForce RTX 3070 with CUDA capability sm_86 is not compatible with the current PyTorch "
              "installation.\nTraceback (most recent call last):\n  File \"train.py\", line 9, in <module>\n"
              "RuntimeError: CUDA error: no kernel image is available for execution on the device\n") * 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "snapshots")
#: The knowledge tables as they were before issue 11 grew them (torch 2.0+, CUDA 11+), for the side-by-side row.
PREVIOUS_TABLES = "02b629e^"
TORCH_VERSION_PY = "cuda: Optional[str] = '12.1'\nhip: Optional[str] = None\n"


def touch(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def home_with_environments(root, count):
    """A HOME whose ~/.conda/environments.txt lists `count` conda prefixes, each with a Python and a torch in its
    metadata, the way conda writes them."""
    home = os.path.join(root, "home-%d" % count)
    prefixes = []
    for index in range(count):
        prefix = os.path.join(home, "miniconda3", "envs", "env%02d" % index)
        touch(os.path.join(prefix, "conda-meta", "python-3.11.5-h955ad1f_0.json"), "{}")
        touch(os.path.join(prefix, "bin", "python3"))
        site = os.path.join(prefix, "lib", "python3.11", "site-packages")
        touch(os.path.join(site, "torch-2.4.0.dist-info", "METADATA"), "Name: torch\nVersion: 2.4.0\n")
        touch(os.path.join(site, "torch", "version.py"), TORCH_VERSION_PY)
        prefixes.append(prefix)
    touch(os.path.join(home, ".conda", "environments.txt"), "".join(p + "\n" for p in prefixes))
    return home


def previous_tables(root):
    """The knowledge tables at PREVIOUS_TABLES, written to a folder DLWS_KNOWLEDGE_DIR can name; None outside a git
    checkout."""
    folder = os.path.join(root, "previous-tables")
    listing = subprocess.run(["git", "-C", ROOT, "ls-tree", "--name-only", PREVIOUS_TABLES,
                              "provision/knowledge/data/"], capture_output=True, text=True)
    if listing.returncode != 0 or not listing.stdout.strip():
        return None
    os.makedirs(folder)
    for path in listing.stdout.split():
        shown = subprocess.run(["git", "-C", ROOT, "show", "%s:%s" % (PREVIOUS_TABLES, path)], capture_output=True,
                               check=True)
        with open(os.path.join(folder, os.path.basename(path)), "wb") as handle:
            handle.write(shown.stdout)
    return folder


def median_seconds(argv, runs=RUNS, env=None, ok=(0,)):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        times.append(time.perf_counter() - start)
        if code not in ok:
            raise SystemExit("%s exited with %d" % (" ".join(argv), code))
    return statistics.median(times)


GATHER_HOSTS = 8


def bench_gather(dlws, env, root, runs):
    """`dlws fleet gather` of GATHER_HOSTS local hosts against `ansible all -m setup` on the same hosts (issue 15):
    the first gather builds the collection into an empty cache, the warm ones reuse it."""
    inventory = os.path.join(root, "hosts.ini")
    with open(inventory, "w") as handle:
        handle.write("[all]\n" + "".join("host%d ansible_connection=local ansible_python_interpreter=%s\n"
                                         % (n, sys.executable) for n in range(GATHER_HOSTS)))
    ansible = [os.path.join(VENV_BIN, "ansible"), "all", "-i", inventory, "-f", "10", "-m", "ansible.builtin.setup"]
    gather = dlws + ["fleet", "gather", "-i", inventory, "-o", os.path.join(root, "gathered")]
    cold = dict(env, XDG_CACHE_HOME=os.path.join(root, "gather-cache"))
    out = {}
    out["dlws fleet gather, %d local hosts, first (empty cache)" % GATHER_HOSTS] = median_seconds(gather, 1, cold)
    out["dlws fleet gather, %d local hosts, warm" % GATHER_HOSTS] = median_seconds(gather, runs, cold)
    out["ansible all -m setup, %d local hosts" % GATHER_HOSTS] = median_seconds(ansible, runs, env)
    for label, seconds in out.items():
        print("  %-60s %7.3f s" % (label, seconds), file=sys.stderr, flush=True)
    return out


def main():
    dlws = [os.path.join(VENV_BIN, "dlws")]
    fixture = os.path.join(FIXTURES, "h100-sxm-server") if os.path.isdir(FIXTURES) else None
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"], RUNS),
        ("dlws --version", dlws + ["--version"], RUNS),
        ("dlws inventory --json", dlws + ["inventory", "--json"], RUNS),
        ("dlws inventory (text)", dlws + ["inventory"], RUNS),
        ("dlws doctor", dlws + ["doctor"], RUNS),
        ("dlws doctor --format json", dlws + ["doctor", "--format", "json"], RUNS),
    ]
    if fixture:
        rows.append(("dlws inventory --json --snapshot " + os.path.basename(fixture),
                     dlws + ["inventory", "--json", "--snapshot", fixture], RUNS))
        rows.append(("dlws doctor --snapshot " + os.path.basename(fixture), dlws + ["doctor", "--snapshot", fixture],
                     RUNS))
        rows.append(("dlws doctor --error TEXT --snapshot " + os.path.basename(fixture),
                     dlws + ["doctor", "--snapshot", fixture, "--error", ERROR_TEXT], RUNS))
        rows.append(("dlws setup -f pytorch --dry-run --snapshot " + os.path.basename(fixture),
                     dlws + ["setup", "-f", "pytorch", "--dry-run", "--snapshot", fixture], RUNS))
        rows.append(("dlws setup -f pytorch --dry-run --format ansible --snapshot " + os.path.basename(fixture),
                     dlws + ["setup", "-f", "pytorch", "--dry-run", "--format", "ansible", "--snapshot", fixture],
                     RUNS))
    with tempfile.TemporaryDirectory() as tmp:
        # side by side: the doctor with 20 environments against none (issue 13), and with the tables before issue 11
        sides = [("dlws doctor, HOME without environments", dlws + ["doctor"], RUNS,
                  dict(os.environ, HOME=home_with_environments(tmp, 0))),
                 ("dlws doctor, HOME with 20 conda environments", dlws + ["doctor"], RUNS,
                  dict(os.environ, HOME=home_with_environments(tmp, 20)))]
        older = previous_tables(tmp)
        if older:
            sides.append(("dlws doctor, tables of " + PREVIOUS_TABLES, dlws + ["doctor"], RUNS,
                          dict(os.environ, DLWS_KNOWLEDGE_DIR=older)))
        rows.append(("dlws snapshot -o box.tar.gz", dlws + ["snapshot", "-o", os.path.join(tmp, "box.tar.gz")], RUNS))
        ansible = os.path.join(VENV_BIN, "ansible")
        ansible_env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        rows.append(("ansible localhost -c local -m setup",
                     [ansible, "localhost", "-c", "local", "-m", "ansible.builtin.setup"], max(5, RUNS // 3)))
        results = {}
        for label, argv, runs, env in [row + (ansible_env if row[1][0].endswith("ansible") else None,)
                                       for row in rows] + sides:
            # dlws doctor exits 1 when it finds errors: that is a result, not a failed run
            results[label] = median_seconds(argv, runs, env, ok=(0, 1) if "doctor" in argv else (0,))
            print("  %-60s %7.3f s" % (label, results[label]), file=sys.stderr, flush=True)
        results.update(bench_gather(dlws, ansible_env, tmp, max(3, RUNS // 5)))
        sys.path.insert(0, os.path.dirname(FIXTURES))  # tests/, for fleet_results
        from fleet_results import bench_fleet_report
        results.update(bench_fleet_report(dlws, max(5, RUNS // 3)))
    print("%d-core machine, medians of %d runs (Ansible: %d)" % (os.cpu_count() or 0, RUNS, max(5, RUNS // 3)))
    for label, seconds in results.items():
        print("  %-60s %7.3f s" % (label, seconds))
    inv = results["dlws inventory --json"]
    print("ratios:")
    print("  dlws inventory --json / python -c pass      %6.1fx" % (inv / results["python -c pass"]))
    print("  ansible setup / dlws inventory --json       %6.1fx faster" % (results["ansible localhost -c local -m setup"] / inv))
    print("  dlws doctor - dlws inventory --json         %+6.3f s" % (results["dlws doctor"] - inv))
    print("  dlws doctor, 20 environments / none         %6.2fx" % (results["dlws doctor, HOME with 20 conda environments"]
                                                                   / results["dlws doctor, HOME without environments"]))
    if "dlws doctor, tables of " + PREVIOUS_TABLES in results:
        print("  dlws doctor, today's tables / previous      %6.2fx"
              % (results["dlws doctor"] / results["dlws doctor, tables of " + PREVIOUS_TABLES]))
    setup = results["ansible all -m setup, %d local hosts" % GATHER_HOSTS]
    print("  dlws fleet gather / ansible -m setup, %d hosts: first %.2fx, warm %.2fx" % (
        GATHER_HOSTS, results["dlws fleet gather, %d local hosts, first (empty cache)" % GATHER_HOSTS] / setup,
        results["dlws fleet gather, %d local hosts, warm" % GATHER_HOSTS] / setup))
    if fixture:
        name = os.path.basename(fixture)
        replay = results["dlws inventory --json --snapshot " + name]
        print("  dlws doctor --error - dlws doctor (same snapshot)   %+6.3f s"
              % (results["dlws doctor --error TEXT --snapshot " + name] - results["dlws doctor --snapshot " + name]))
        print("  dlws setup --dry-run - dlws inventory (same snapshot) %+6.3f s"
              % (results["dlws setup -f pytorch --dry-run --snapshot " + name] - replay))


if __name__ == "__main__":
    main()
