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
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "snapshots")


def median_seconds(argv, runs=RUNS, env=None, ok=(0,)):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        times.append(time.perf_counter() - start)
        if code not in ok:
            raise SystemExit("%s exited with %d" % (" ".join(argv), code))
    return statistics.median(times)


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
        rows.append(("dlws snapshot -o box.tar.gz", dlws + ["snapshot", "-o", os.path.join(tmp, "box.tar.gz")], RUNS))
        ansible = os.path.join(VENV_BIN, "ansible")
        ansible_env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        rows.append(("ansible localhost -c local -m setup",
                     [ansible, "localhost", "-c", "local", "-m", "ansible.builtin.setup"], max(5, RUNS // 3)))
        results = {}
        for label, argv, runs in rows:
            env = ansible_env if argv[0].endswith("ansible") else None
            # dlws doctor exits 1 when it finds errors: that is a result, not a failed run
            results[label] = median_seconds(argv, runs, env, ok=(0, 1) if "doctor" in argv else (0,))
            print("  %-60s %7.3f s" % (label, results[label]), file=sys.stderr, flush=True)
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
    if fixture:
        name = os.path.basename(fixture)
        replay = results["dlws inventory --json --snapshot " + name]
        print("  dlws doctor --error - dlws doctor (same snapshot)   %+6.3f s"
              % (results["dlws doctor --error TEXT --snapshot " + name] - results["dlws doctor --snapshot " + name]))
        print("  dlws setup --dry-run - dlws inventory (same snapshot) %+6.3f s"
              % (results["dlws setup -f pytorch --dry-run --snapshot " + name] - replay))


if __name__ == "__main__":
    main()
