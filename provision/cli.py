"""The dlws command line.

Exit codes (a public contract): 0 nothing at or above the failing level; 1 findings at or above the failing level;
2 usage error (a bad option, expression or snapshot); 3 dlws itself failed; 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Dict, Optional, Tuple

import click

from provision import __version__
from provision.errors import DlwsError, UsageError
from provision.output import write_output

EXIT_CODES = """\b
Exit codes:
  0  nothing at or above the failing level
  1  findings at or above the failing level
  2  usage error (bad option, expression or snapshot)
  3  dlws itself failed
  130/143  interrupted by SIGINT/SIGTERM"""

_DEBUG = {"on": False}


def machine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--snapshot, --timeout and --debug, on every command that reads a machine."""

    @click.option("--snapshot", "snapshot_path", metavar="PATH",
                  help="Replay a recorded snapshot (folder or .tar.gz) instead of reading this machine.")
    @click.option("--timeout", metavar="SECONDS", default=None, envvar="DLWS_TIMEOUT",
                  help="Seconds each command may run, 0.1 to 3600 (default 5).")
    @click.option("--debug", is_flag=True, help="Show tracebacks of failing probes.")
    @functools.wraps(func)
    def wrapper(*args: Any, snapshot_path: Optional[str], timeout: Optional[str], debug: bool,
                **kwargs: Any) -> Any:
        _DEBUG["on"] = _DEBUG["on"] or debug
        return func(*args, host=_host(snapshot_path, timeout), **kwargs)

    return wrapper


def _host(snapshot_path: Optional[str], timeout: Optional[str]) -> Any:
    from provision.host import DEFAULT_TIMEOUT, MAX_TIMEOUT, LiveHost

    seconds = DEFAULT_TIMEOUT
    if timeout is not None:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not 0.1 <= seconds <= MAX_TIMEOUT:  # also refuses nan (no comparison holds) and inf
            raise UsageError("--timeout (or DLWS_TIMEOUT) must be from 0.1 to %g seconds, not %r"
                             % (MAX_TIMEOUT, timeout))
    if snapshot_path:
        from provision.snapshot import open_snapshot

        return open_snapshot(snapshot_path)
    return LiveHost(timeout=seconds)


def _collect(host: Any, env: Optional[str] = None) -> Any:
    from provision.inventory import collect

    return collect(host, debug=_DEBUG["on"], env=env)


#: --env on the commands that judge a machine's Python (setup's --env is the environment it creates).
ENV_HELP = ("The Python environment to judge: a venv or conda prefix, or an interpreter. Default: the activated "
            "one (VIRTUAL_ENV, else CONDA_PREFIX), else the python3 on PATH, else dlws's own. Every environment "
            "found is listed either way.")


def env_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """--env PATH, resolved to the environment's prefix on the machine read (exit 2 where none is there)."""

    @click.option("--env", "env_path", metavar="PATH", help=ENV_HELP)
    @functools.wraps(func)
    def wrapper(*args: Any, env_path: Optional[str], host: Any, **kwargs: Any) -> Any:
        return func(*args, host=host, env=_env_prefix(host, env_path), **kwargs)

    return wrapper


def _env_prefix(host: Any, path: Optional[str]) -> Optional[str]:
    import os

    from provision.host import LiveHost
    from provision.inventory.environments import named_prefix

    if path is None:
        return None
    absolute = os.path.abspath(path) if isinstance(host, LiveHost) else path
    prefix = named_prefix(host, absolute)
    if prefix is None:
        raise UsageError("--env %s: no Python environment there (a venv or conda folder, or an interpreter)" % path)
    return prefix


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES)
@click.version_option(__version__, "-V", "--version", prog_name="dlws")
def cli() -> None:
    """dlws: know, diagnose and provision a deep-learning machine.

    \b
    Examples:
      dlws inventory                 what this machine is made of
      dlws inventory --json          the whole inventory as JSON
      dlws snapshot -o box.tar.gz    record this machine for a bug report or a test
      dlws doctor                    what is wrong with this machine, and how to fix it
      dlws setup -f pytorch --dry-run   the install that fits this machine, as a script
      dlws fleet gather -i hosts.ini    the same for many machines, through Ansible
    """


@cli.command(epilog=EXIT_CODES)
@click.option("--json", "as_json", is_flag=True, help="Print the whole inventory as JSON (schema dlws.inventory/1).")
@machine_options
@env_option
def inventory(host: Any, as_json: bool, env: Optional[str]) -> None:
    """Show what this machine is made of: CPU, memory, disks, OS, GPUs, CUDA, Python and frameworks.

    \b
    Examples:
      dlws inventory
      dlws inventory --json | jq '.gpus[].name'
      dlws inventory --snapshot box.tar.gz
      dlws inventory --env ~/venvs/ml    judge that environment's Python and frameworks
    """
    inv = _collect(host, env).to_dict()
    if as_json:
        click.echo(json.dumps(inv, indent=2, sort_keys=True))
    else:
        from provision.summary import render

        write_output(render(inv))


@cli.command(epilog=EXIT_CODES)
@click.option("-o", "--output", required=True, metavar="PATH",
              help="Where to write: a .tar.gz, or a folder when PATH ends in '/'.")
@click.option("--redact", is_flag=True,
              help="Replace host and user names, serial numbers, machine ids, UUIDs, MAC and IP addresses, and "
                   "network mounts' servers with placeholders.")
@click.option("--deep", is_flag=True,
              help="Also record the runs of dlws doctor --deep (each installed framework imported and timed), so "
                   "that dlws doctor --deep --snapshot replays them.")
@machine_options
@env_option
def snapshot(host: Any, output: str, redact: bool, deep: bool, env: Optional[str]) -> None:
    """Record the evidence the probes read, so the machine can be replayed elsewhere with --snapshot.

    With --snapshot, rewrite a recorded snapshot instead (to redact it, or to turn a folder into a .tar.gz).

    \b
    Examples:
      dlws snapshot -o box.tar.gz
      dlws snapshot --redact -o bug-report.tar.gz
      dlws snapshot -o box/
      dlws snapshot --deep -o box.tar.gz
      dlws snapshot --snapshot box/ --redact -o bug-report.tar.gz
    """
    from provision.host import LiveHost, RecordingHost
    from provision.snapshot import snapshot_members, write_snapshot
    from provision.snapshot_rewrite import read_members, replay_inventory

    if isinstance(host, LiveHost):
        recording = RecordingHost(host)
        inv = _collect(recording, env).to_dict()
        if deep:
            from provision.doctor_command import record_deep

            record_deep(recording, inv)
        members = snapshot_members(recording, inv, env)
    elif deep:
        raise UsageError("--deep records the framework runs of a live machine: it cannot add them to --snapshot")
    else:
        members = read_members(host.folder)
    if redact:
        from provision.redact import Known, redact_members
        from provision.redact_live import live_identifiers

        members.pop("inventory.json", None)  # computed again below, from what is left
        members = redact_members(members, live_identifiers() if isinstance(host, LiveHost) else Known())
    if "inventory.json" not in members:
        members["inventory.json"] = replay_inventory(members)
    try:
        written = write_snapshot(members, output)
    except OSError as exc:
        raise UsageError("cannot write snapshot %s: %s" % (output, exc.strerror or exc)) from None
    click.echo("snapshot written to %s (%d files)" % (written, len(members)), err=True)


@cli.command(epilog=EXIT_CODES)
@click.option("--require", "requires", multiple=True, metavar="EXPR",
              help="A requirement the machine must meet, e.g. 'gpu.count >= 2' (repeatable; see below).")
@click.option("--require-file", metavar="FILE",
              help="TOML file with require = [...] (a pyproject.toml: under [tool.dlws]).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE instead of standard output.")
@click.option("--explain", metavar="ID", help="Print the long explanation of a check (e.g. DLWS-DRV-003) and exit.")
@click.option("--target", "targets", multiple=True, metavar="FRAMEWORK[==VERSION]",
              help="Check readiness for a framework that is not installed yet: pytorch (torch), tensorflow, jax, "
                   "mxnet (repeatable).")
@click.option("--deep", is_flag=True,
              help="Also import each installed framework in a subprocess and run a small matrix product on it.")
@click.option("--error", "errors", multiple=True, metavar="TEXT",
              help="An error message to diagnose on this machine ('-': read it from standard input; repeatable).")
@click.option("--error-file", metavar="FILE", help="A file holding the error output to diagnose (a log).")
@machine_options
@env_option
def doctor(host: Any, requires: Tuple[str, ...], require_file: Optional[str], fail_on: str, fmt: str,
           output: Optional[str], explain: Optional[str], targets: Tuple[str, ...], deep: bool,
           errors: Tuple[str, ...], error_file: Optional[str], env: Optional[str]) -> int:
    """Diagnose this machine: findings with a severity, the evidence and a concrete fix.

    \b
    Examples:
      dlws doctor
      dlws doctor --require 'gpu.count >= 2' --require 'driver >= 535' --format junit -o doctor.xml
      dlws doctor --require-file pyproject.toml --fail-on warning
      dlws doctor --explain DLWS-DRV-003
      dlws doctor --deep             also run each framework on the GPUs
      dlws doctor --target pytorch==2.4
      python train.py 2>&1 | dlws doctor --error -   which cause of this error is it here
      dlws doctor --error 'CUDA error: no kernel image is available for execution on the device'
      dlws doctor --env ~/miniconda3/envs/ml   judge that environment (default: the activated one)

    \b
    Requirements (--require): SUBJECT [OP VALUE], OP one of >= <= > < == !=
      gpu.count, gpu.memory, gpu.compute_capability, driver, cuda, cuda.toolkit, cudnn,
      ram, swap, disk[/path].free, disk[/path].total, cpu.cores, cpu.threads, cpu.level,
      cpu.flag NAME, python, glibc, os.id, os.version, rocm,
      FRAMEWORK (torch, tensorflow, jax, ...), FRAMEWORK.cuda, FRAMEWORK.rocm, FRAMEWORK.cpu
      sizes take units: 24GiB, 500GB; versions compare as many parts as given (driver >= 535).
    """
    from provision import doctor_command as command

    if explain:
        click.echo(command.explain(explain))
        return 0
    request = command.make_request(requires, require_file, targets, deep, fail_on, errors, error_file)
    report = command.run_doctor(host, _collect(host, env).to_dict(), request, _DEBUG["on"])
    write_output(command.render(report, fmt, output), output)
    return 1 if report.failing else 0


#: --mirror, for setup and fleet plan: the same redirection in bash, Ansible and run mode.
mirror_option = click.option(
    "--mirror", "mirror", multiple=True, metavar="FROM=TO",
    help="Fetch every URL starting with FROM from TO instead (repeatable; pip indexes, PyPI as "
         "https://pypi.org/simple, NVIDIA's repositories and keys); also read from ~/.config/dlws/mirrors "
         "(DLWS_CONFIG_DIR), one FROM=TO per line.")


@cli.command(epilog=EXIT_CODES)
@click.option("-f", "--framework", "frameworks", multiple=True, required=True, metavar="NAME",
              help="pytorch (torch), tensorflow, jax, mxnet, keras; repeat for several in one environment.")
@click.option("--version", "version", metavar="SPEC", help="Version of the (first) framework, e.g. 2.4 or 2.4.1.")
@click.option("--variant", default="auto", show_default=True, metavar="VARIANT",
              help="auto, cpu, cuda, cuXYZ (cu121), rocm or metal.")
@click.option("--python", "python", metavar="X.Y", help="Python of the environment (default: the inventory's).")
@click.option("--env", "env", default=".venv-dlws", show_default=True, metavar="PATH",
              help="The virtual environment to create or reuse.")
@click.option("--driver", type=click.Choice(["install", "keep", "upgrade"]), default="install", show_default=True,
              help="install a missing NVIDIA driver; keep the driver as it is; upgrade an old one too.")
@click.option("--with-cuda-toolkit", is_flag=True, help="Also install a system CUDA toolkit (wheels bring their own).")
@click.option("--dry-run", is_flag=True, help="Print the plan and the script; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["shell", "ansible", "json"]),
              help="What --dry-run prints (default: shell).")
@click.option("-o", "--output", metavar="FILE", help="Write the script, playbook or JSON to FILE (with --dry-run).")
@click.option("-y", "--yes", is_flag=True, help="Run without asking (needed without a terminal).")
@click.option("--log", "log_path", metavar="FILE", help="Where to log every command's output (default: dlws-setup.log).")
@mirror_option
@machine_options
def setup(host: Any, frameworks: Tuple[str, ...], version: Optional[str], variant: str, python: Optional[str],
          env: str, driver: str, with_cuda_toolkit: bool, dry_run: bool, fmt: Optional[str], output: Optional[str],
          yes: bool, log_path: Optional[str], mirror: Tuple[str, ...]) -> int:
    """Plan the install of a framework that fits this machine; print it (--dry-run) or run it.

    \b
    Examples:
      dlws setup --framework pytorch --dry-run > setup.sh
      dlws setup --framework jax --variant cpu --env ~/venvs/jax --yes
      dlws setup --framework pytorch --framework jax --dry-run --format ansible -o setup.yml
      dlws setup --framework tensorflow --snapshot box.tar.gz --dry-run --format json

    \b
    Without --dry-run it shows the plan, asks before changing anything (--yes skips the question; with no
    terminal and no --yes it refuses), runs the steps with progress, logs every command's output, and stops at
    the first failure; running it again picks up where it stopped. It exits 3, as its script does, when a
    reboot must come first (a new driver): reboot, then run it again.
    """
    from provision.host import LiveHost
    from provision.setup_command import check_printing, make_request, run_setup

    request = make_request(frameworks, version, variant, python, env, driver, with_cuda_toolkit, mirror)
    check_printing(dry_run, fmt, output)
    if not dry_run and not isinstance(host, LiveHost):
        raise UsageError("a recorded machine cannot be changed: add --dry-run to plan for --snapshot")
    return run_setup(_collect(host).to_dict(), request, dry_run, fmt or "shell", output, yes, log_path)


@cli.group(epilog=EXIT_CODES)
def fleet() -> None:
    """Inventory, diagnose and provision many machines through Ansible.

    \b
    Examples:
      dlws fleet gather -i hosts.ini -o fleet/
      dlws fleet report fleet/ --format html -o fleet.html
      dlws fleet plan fleet/ --framework pytorch --format ansible -o site.yml
    """


@fleet.command("gather", epilog=EXIT_CODES)
@click.option("-i", "--inventory", "inventory_path", required=True, metavar="INVENTORY",
              help="The Ansible inventory (file or folder) of the hosts to gather.")
@click.option("--limit", metavar="PATTERN", help="Only the hosts matching this Ansible pattern.")
@click.option("--forks", type=click.IntRange(min=1), default=10, show_default=True, help="Hosts gathered at once.")
@click.option("-o", "--output", default="dlws-fleet", show_default=True, metavar="DIR",
              help="Folder of the results: one folder per host.")
@click.option("--host-timeout", type=click.IntRange(min=1), default=300, show_default=True, metavar="SECONDS",
              help="Seconds a host may take; past it the host is reported as failed.")
def fleet_gather(inventory_path: str, limit: Optional[str], forks: int, output: str, host_timeout: int) -> int:
    """Record every host's snapshot and doctor report through the dlws.fleet collection, into DIR/<host>/.

    Nothing is installed on the hosts: the module carries dlws and runs with each host's own Python (3.9 or
    newer, any CPU architecture).

    \b
    Examples:
      dlws fleet gather -i hosts.ini -o fleet/
      dlws fleet gather -i hosts.ini --limit gpu_nodes --forks 20
    Exit code 0 when every host answered, 1 when some were unreachable or failed.
    """
    from provision.fleet.gather import run_gather

    return run_gather(inventory_path, limit, forks, output, host_timeout)


@fleet.command("collection", epilog=EXIT_CODES)
@click.option("-o", "--output", required=True, metavar="DIR",
              help="Folder of the collection: DIR/ansible_collections/dlws/fleet/ and DIR/dlws-fleet-VERSION.tar.gz.")
def fleet_collection(output: str) -> int:
    """Build the Ansible collection dlws.fleet (modules facts, doctor, snapshot) of this dlws.

    The modules carry dlws: a host needs only its Python 3.9 or newer, on any CPU architecture.

    \b
    Examples:
      dlws fleet collection -o build/
      ansible-galaxy collection install build/dlws-fleet-*.tar.gz
      ansible-doc dlws.fleet.doctor
    """
    from provision.fleet.collection import build_tarball

    tree, tarball = build_tarball(output)
    click.echo("dlws.fleet %s: %s (tree %s)" % (__version__, tarball, tree), err=True)
    return 0


@fleet.command("report", epilog=EXIT_CODES)
@click.argument("folder", metavar="DIR")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit", "html"]), default="text",
              show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True,
              help="Exit 1 when a host has a finding at or above this severity, or did not answer.")
def fleet_report(folder: str, fmt: str, output: Optional[str], fail_on: str) -> int:
    """One table of the fleet, the findings by id with the hosts they hit, and drift within hardware classes.

    \b
    Examples:
      dlws fleet report fleet/
      dlws fleet report fleet/ --format html -o fleet.html
      dlws fleet report fleet/ --format junit -o fleet.xml --fail-on warning
    """
    from provision.fleet.report import run_report

    return run_report(folder, fmt, output, fail_on)


@fleet.command("plan", epilog=EXIT_CODES)
@click.argument("folder", metavar="DIR")
@click.option("-f", "--framework", "frameworks", multiple=True, required=True, metavar="NAME",
              help="pytorch (torch), tensorflow, jax, mxnet, keras (repeatable).")
@click.option("--version", "version", metavar="SPEC", help="Version of the (first) framework.")
@click.option("--variant", default="auto", show_default=True, metavar="VARIANT")
@click.option("--env", "env", default=".venv-dlws", show_default=True, metavar="PATH")
@click.option("--driver", type=click.Choice(["install", "keep", "upgrade"]), default="install", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["ansible", "json"]), default="ansible", show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write the playbook (and FILE's group inventory beside it).")
@mirror_option
def fleet_plan(folder: str, frameworks: Tuple[str, ...], version: Optional[str], variant: str, env: str,
               driver: str, fmt: str, output: Optional[str], mirror: Tuple[str, ...]) -> int:
    """Group the gathered hosts into classes that need the same plan; one playbook, one play per class.

    \b
    Examples:
      dlws fleet plan fleet/ --framework pytorch -o site.yml
      dlws fleet plan fleet/ --framework jax --variant cpu --format json
    """
    from provision.fleet.plan import run_fleet_plan
    from provision.setup_command import make_request

    request = make_request(frameworks, version, variant, None, env, driver, False, mirror)
    return run_fleet_plan(folder, request, fmt, output)


@cli.group("knowledge", invoke_without_command=True, epilog=EXIT_CODES)
@click.pass_context
def knowledge(ctx: click.Context) -> int:
    """The knowledge tables: as-of date, rows, where each loads from (the package, the cache, DLWS_KNOWLEDGE_DIR)
    and its source.

    \b
    Examples:
      dlws knowledge
      dlws knowledge update
    """
    from provision import knowledge_command

    if ctx.invoked_subcommand is None:
        click.echo(knowledge_command.show())
    return 0


@knowledge.command("update", epilog=EXIT_CODES)
@click.option("--pypi-url", default="https://pypi.org/pypi", show_default=True, metavar="URL",
              help="The base of PyPI's JSON API (a mirror's).")
@click.option("--time-budget", default=300.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=1.0, max=3600.0),
              help="The most the update may take; the wheel METADATA not read by then is reported, its rows kept.")
def knowledge_update(pypi_url: str, time_budget: float) -> int:
    """Refresh the frameworks table's PyPI columns (platforms, glibc floors, Requires-Python, and the CUDA, cuDNN
    and NCCL the wheels' METADATA pin) into the cache (~/.cache/dlws/knowledge), which later runs use; a value
    someone verified by hand that PyPI contradicts is reported and kept. Progress on stderr. Offline: an error
    (exit 1) and nothing changed."""
    import datetime

    from provision import knowledge_command
    from provision.planner.mirrors import URL

    if not URL.fullmatch(pypi_url):
        raise UsageError("--pypi-url takes a URL of letters, digits and ._~:/%%@+,- (not %r)" % pypi_url[:100])
    click.echo(knowledge_command.update(pypi_url, datetime.date.today(), lambda line: click.echo(line, err=True),
                                        time_budget))
    return 0


def main(argv: Optional[list] = None) -> None:
    """Run the CLI with the documented exit codes: one-line errors, a traceback only with --debug."""
    from provision.output import fit_streams_to_locale

    fit_streams_to_locale()
    try:
        code = cli.main(args=argv, prog_name="dlws", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:  # Ctrl-C (click turns KeyboardInterrupt into Abort) or Ctrl-D at a question
        click.echo("dlws: aborted", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = 2 if isinstance(exc, click.UsageError) else exc.exit_code
    except DlwsError as exc:
        click.echo("dlws: error: %s" % exc, err=True)
        code = exc.exit_code
    except Exception as exc:  # dlws itself failed: say so in one line, exit 3
        if _DEBUG["on"] or "--debug" in (argv if argv is not None else sys.argv):
            import traceback

            traceback.print_exc()
        click.echo("dlws: internal error: %s: %s (rerun with --debug for details)" % (type(exc).__name__, exc),
                   err=True)
        code = 3
    sys.exit(code if isinstance(code, int) else 0)
