"""The dnf variant of the driver steps, run for real against a signed rpm repository on 127.0.0.1 (through --mirror)
and a dnf --installroot, so that the machine itself is not changed.

A throwaway gpg home makes two RSA test keys; rpmbuild builds harmless noarch stand-ins for the packages the driver
step installs (a note under /usr/share/doc/NAME), rpmsign signs them, createrepo_c indexes them and modifyrepo_c adds
the module stream the driver step enables. A knowledge override (DLWS_KNOWLEDGE_DIR) pins the trusted test key. The
plan is the one made for the driver-not-loaded fixture (an RTX 2070 without a driver) as if it ran Rocky Linux 9: its
repository step fetches the key, checks its fingerprint, keeps and imports it, writes the .repo file itself (baseurl
and key URL through the mirror, gpgcheck=1) and is done when run again; its driver step enables the stream and
installs the stand-in, verified by dnf against the imported key. A key file of another key is refused by the
fingerprint; packages signed by another key are refused by dnf, and the plan stops there (in run mode as well). The
same through the playbook (ansible-playbook -c local; its dnf tasks get the installroot): yum_repository writes the very
bytes the bash script writes, rpm_key checks the fingerprint again, and a second run changes nothing.

Where the steps write: the plan's two system folders (/etc/yum.repos.d, /etc/pki/rpm-gpg) are moved under a temporary
root by rewriting the plan (the mirror mechanism, applied to paths), and dnf and rpm are wrappers on PATH that add
--installroot / --root. Debian 12 packages all of it (apt-get install createrepo-c rpm dnf; .ci/run does).
"""

import dataclasses
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import signing
from signing import gpg, run

from provision import knowledge
from provision.emit import ansible as ansible_emit
from provision.emit.shell import render, step_script
from provision.emit.yaml import dump
from provision.execute import StepFailed, run_plan
from provision.inventory import collect
from provision.planner import mirrors
from provision.planner import plan as make_plan
from provision.planner.model import DnfRepo, Packages
from provision.setup_command import make_request
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
NVIDIA_REPOS = "https://developer.download.nvidia.com/compute/cuda/repos"
KEY_FILE = "dlws-test.pub"
TOOLS = ("dnf", "rpm", "rpmbuild", "rpmsign", "createrepo_c", "modifyrepo_c", "gpg", "gpg-agent", "curl")
#: (key that the key file holds, key that signs the packages) of each repository the server publishes.
REPOS = {"good": ("trusted", "trusted"), "wrong-key": ("other", "other"), "bad-signature": ("trusted", "other")}
#: The system folders the plan writes, each moved under the test's root.
MOVED = ("/etc/yum.repos.d/", "/etc/pki/rpm-gpg/")
VERSION = "999.0-1"


def make_key(home, name):
    return signing.make_key(home, name, "rsa2048")  # RSA: rpm reads it everywhere


def build_rpm(top, name):
    """A noarch stand-in for package name, version 999.0: one note under /usr/share/doc/name."""
    spec = os.path.join(top, name + ".spec")
    with open(spec, "w") as handle:
        handle.write(textwrap.dedent("""\
            Name: %s
            Version: 999.0
            Release: 1
            Summary: dlws test stand-in
            License: MIT
            BuildArch: noarch
            %%description
            A stand-in built by dlws' tests: it installs a note and nothing else.
            %%install
            mkdir -p %%{buildroot}/usr/share/doc/%s
            echo 'dlws test stand-in' > %%{buildroot}/usr/share/doc/%s/README.dlws-test
            %%files
            /usr/share/doc/%s/README.dlws-test
            """ % ((name,) * 4)))
    done = run(["rpmbuild", "--define", "_topdir " + os.path.join(top, "rpmbuild"), "-bb", spec])
    assert done.returncode == 0, done.stderr[-2000:]
    return os.path.join(top, "rpmbuild", "RPMS", "noarch", "%s-%s.noarch.rpm" % (name, VERSION))


def modules_yaml(stream, names):
    """The module stream the driver step enables, listing the stand-ins (NVIDIA's repositories carry such a file)."""
    module, _, name = stream.partition(":")
    return textwrap.dedent("""\
        ---
        document: modulemd
        version: 2
        data:
          name: %s
          stream: %s
          version: 1
          context: dlwstest
          arch: x86_64
          summary: dlws test stream
          description: >-
            A stand-in for NVIDIA's driver stream.
          license:
            module:
            - MIT
          artifacts:
            rpms:
        %s
          profiles:
            default:
              rpms:
        %s
        ...
        ---
        document: modulemd-defaults
        version: 1
        data:
          module: %s
          profiles:
            %s: [default]
        ...
        """) % (module, name, "\n".join("    - %s-0:%s.noarch" % (n, VERSION) for n in names),
                "\n".join("      - %s" % n for n in names), module, name)


def publish(home, folder, rpms, stream, key, sign_fpr):
    """An rpm repository in folder: the stand-ins signed by sign_fpr, repodata with the module stream, and KEY_FILE,
    the armored public key key."""
    os.makedirs(folder)
    for path in rpms:
        shutil.copy(path, folder)
    signed = run(["rpmsign", "--define", "__gpg /usr/bin/gpg", "--define", "_gpg_name " + sign_fpr, "--define",
                  "_gpg_path " + home, "--addsign"] + [os.path.join(folder, os.path.basename(p)) for p in rpms])
    assert signed.returncode == 0, signed.stderr
    for argv in (["createrepo_c", "-q", folder], ["modifyrepo_c", "--mdtype=modules", stream,
                                                 os.path.join(folder, "repodata")]):
        done = run(argv)
        assert done.returncode == 0, done.stderr
    with open(os.path.join(folder, KEY_FILE), "w") as handle:
        handle.write(key)


def override(folder, fingerprint):
    """install.json with every dnf folder's key replaced by the test key (file name and fingerprint)."""
    with open(os.path.join(knowledge.DATA_DIR, "install.json"), encoding="utf-8") as handle:
        table = json.load(handle)
    for row in table["cuda_repo"]["dnf_keys"].values():
        row.update(key_file=KEY_FILE, key_fingerprint=fingerprint)
    with open(os.path.join(folder, "install.json"), "w", encoding="utf-8") as handle:
        json.dump(table, handle)


def rocky9():
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "driver-not-loaded"))).to_dict()
    inv["os"].update(id="rocky", version="9.4", glibc="2.34")
    return inv


def driver_plan(url, knowledge_dir, root):
    """The plan through the mirror, with the system folders it writes moved under root."""
    previous = os.environ.get("DLWS_KNOWLEDGE_DIR")
    os.environ["DLWS_KNOWLEDGE_DIR"] = knowledge_dir
    knowledge.load.cache_clear()
    try:
        result = make_plan(rocky9(), make_request(("pytorch",), None, "auto", "3.11", "/nonexistent/dlws-env",
                                                  "install", False, ("%s=%s" % (NVIDIA_REPOS, url),)))
    finally:
        if previous is None:
            os.environ.pop("DLWS_KNOWLEDGE_DIR", None)
        else:
            os.environ["DLWS_KNOWLEDGE_DIR"] = previous
        knowledge.load.cache_clear()
    assert result.ok, result.impossible
    assert [s.id for s in result.steps][1:4] == ["nvidia-repo", "nvidia-driver", "reboot"]
    return mirrors.apply(result, [(folder, root + folder) for folder in MOVED])


def repo_action(plan):
    return next(a for s in plan.steps for a in s.actions if isinstance(a, DnfRepo))


def driver_packages(plan):
    return [n for s in plan.steps if s.id == "nvidia-driver" for a in s.actions if isinstance(a, Packages)
            for n in a.names]


def stream(plan):
    return next(a.stream for s in plan.steps if s.id == "nvidia-driver" for a in s.actions if hasattr(a, "stream"))


def base_repository(top, gnupg2):
    """The distribution's own repository (BaseOS, where gpg comes from), as a folder of its .repo file."""
    folder, repos = os.path.join(top, "base"), os.path.join(top, "base-repos")
    os.makedirs(folder)
    os.makedirs(repos)
    shutil.copy(gnupg2, folder)
    done = run(["createrepo_c", "-q", folder])
    assert done.returncode == 0, done.stderr
    with open(os.path.join(repos, "dlws-test-base.repo"), "w") as handle:
        handle.write("[dlws-test-base]\nname=dlws-test-base\nbaseurl=file://%s\ngpgcheck=0\n" % folder)
    return repos


def wrappers(top, root, base):
    """dnf and rpm on PATH, each bound to the installroot (and dnf to the moved repository folder and the base)."""
    folder = os.path.join(top, "bin")
    os.mkdir(folder)
    for name, line in (("dnf", 'exec /usr/bin/dnf --installroot=%s --releasever=9 --setopt=reposdir=%s,%s '
                               '--setopt=cachedir=%s/var/cache/dnf "$@"' % (root, root + MOVED[0], base, root)),
                       ("rpm", 'exec /usr/bin/rpm --root=%s "$@"' % root)):
        with open(os.path.join(folder, name), "w") as handle:
            handle.write("#!/bin/sh\n" + line + "\n")
        os.chmod(os.path.join(folder, name), 0o755)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two keys, the three repositories on a loopback server, and a plan for each (dict name -> plan)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("dnf installs into its --installroot only as root (CI runs it as root)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip("needs %s (apt-get install createrepo-c rpm dnf gpg gpg-agent curl; .ci/run installs them)"
                    % ", ".join(missing))
    top = tmp_path_factory.mktemp("dnf-repo")
    home = str(top / "gnupg")
    os.mkdir(home, 0o700)
    keys = {name: make_key(home, name) for name in ("trusted", "other")}
    armored = {name: gpg(home, "--armor", "--export", fpr) for name, fpr in keys.items()}
    override(str(top), keys["trusted"])
    www = top / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%d" % httpd.server_address[1]
    try:
        plans = {name: driver_plan("%s/%s" % (base, name), str(top), str(top / ("root-" + name))) for name in REPOS}
        names = driver_packages(plans["good"])
        rpms = [build_rpm(str(top), name) for name in names + ["gnupg2"]]
        with open(str(top / "modules.yaml"), "w") as handle:
            handle.write(modules_yaml(stream(plans["good"]), names))
        for name, (key, signer) in REPOS.items():
            folder = repo_action(plans[name]).baseurl[len(base):].strip("/")  # the plan's folder (rhel9/x86_64)
            publish(home, str(www / name / folder.split("/", 1)[1]), rpms[:-1], str(top / "modules.yaml"),
                    armored[key], keys[signer])
        yield dict(plans=plans, keys=keys, armored=armored, home=home, base=base, top=str(top), gnupg2=rpms[-1],
                   base_repos=base_repository(str(top), rpms[-1]))
    finally:
        httpd.shutdown()
        httpd.server_close()
        run(["gpgconf", "--homedir", home, "--kill", "all"])


@pytest.fixture
def machine(world):
    """A fresh installroot per test (gpg there already, as on every RHEL: the stand-in gnupg2), the folders the plan
    writes under it; everything lies under the test's temporary folder."""
    roots = {}
    for name, plan in world["plans"].items():
        root = world["top"] + "/root-" + name
        shutil.rmtree(root, ignore_errors=True)
        for folder in MOVED:
            os.makedirs(root + folder)
        os.makedirs(root + "/var/lib/rpm")
        done = run(["rpm", "--root", root, "--initdb"])
        assert done.returncode == 0, done.stderr
        done = run(["rpm", "--root", root, "-i", "--nosignature", "--nodeps", world["gnupg2"]])
        assert done.returncode == 0, done.stderr
        roots[name] = root
    yield dict(roots=roots)
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)


def environment(world, machine, name, tmp_path):
    folder = os.path.join(str(tmp_path), name)
    os.makedirs(folder, exist_ok=True)
    bin_dir = wrappers(folder, machine["roots"][name], world["base_repos"])
    return dict(os.environ, GNUPGHOME=world["home"], LC_ALL="C.UTF-8", PATH=bin_dir + os.pathsep + os.environ["PATH"])


def step(world, env, plan, step_id):
    """Run one step of plan as `dlws setup` does (its own bash script)."""
    number = [s.id for s in plan.steps].index(step_id) + 1
    return run(["bash", "-c", step_script(plan, number)], env=env)


def installed(env, name):
    done = run(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", name], env=env)
    return done.stdout if done.returncode == 0 else None


def test_the_repository_step_writes_the_repo_file_trusts_only_the_pinned_key_and_the_driver_installs(
        world, machine, tmp_path):
    plan = world["plans"]["good"]
    repo, root = repo_action(plan), machine["roots"]["good"]
    env = environment(world, machine, "good", tmp_path)
    assert repo.baseurl == world["base"] + "/good/rhel9/x86_64" and repo.key_url == repo.baseurl + "/" + KEY_FILE
    assert repo.file == root + "/etc/yum.repos.d/cuda-rhel9.repo"
    first = step(world, env, plan, "nvidia-repo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "already done" not in first.stdout
    with open(repo.file) as handle:
        text = handle.read()
    assert text == "\n".join(repo.lines) + "\n"
    assert "baseurl = %s\n" % repo.baseurl in text and "gpgcheck = 1\n" in text and "repo_gpgcheck = 0\n" in text
    assert "gpgkey = file://%s\n" % repo.key_path in text  # the checked copy: dnf -y never imports another
    keys = run(["rpm", "-q", "gpg-pubkey", "--qf", "%{DESCRIPTION}\n"], env=env).stdout
    imported = subprocess.run(["gpg", "--show-keys", "--with-colons"], input=keys, capture_output=True, text=True,
                              env=env, timeout=60).stdout
    assert "fpr:::::::::%s:" % world["keys"]["trusted"] in imported
    again = step(world, env, plan, "nvidia-repo")
    assert again.returncode == 0 and "already done" in again.stdout, again.stdout[-2000:]

    assert all(installed(env, n) is None for n in driver_packages(plan))
    driver = step(world, env, plan, "nvidia-driver")
    assert [installed(env, n) for n in driver_packages(plan)] == [VERSION], driver.stdout[-3000:]
    assert os.path.exists(root + "/usr/share/doc/%s/README.dlws-test" % driver_packages(plan)[0])
    # the stand-in brings no nvidia-smi, so the step does not verify: the plan stops before the reboot
    if shutil.which("nvidia-smi") is None:
        assert driver.returncode == 1 and "step nvidia-driver did not verify" in driver.stderr, driver.stderr[-2000:]
        twice = step(world, env, plan, "nvidia-driver")
        assert "Nothing to do" in twice.stdout and twice.returncode == 1, twice.stdout[-2000:]


def test_an_older_repo_file_naming_the_repository_is_set_aside(world, machine, tmp_path):
    """A .repo file an older install left (NVIDIA's URL, gpgcheck=0: dnf could take the driver from it unchecked) is
    moved to .disabled, which dnf ignores; while it is there the step is not done, even with ours in place."""
    plan = world["plans"]["good"]
    repo, root = repo_action(plan), machine["roots"]["good"]
    env = environment(world, machine, "good", tmp_path)
    old = root + "/etc/yum.repos.d/cuda-old.repo"
    unrelated = root + "/etc/yum.repos.d/epel.repo"
    with open(old, "w") as handle:
        handle.write("[cuda]\nname=cuda\nbaseurl=%s\nenabled=1\ngpgcheck=0\n" % repo.baseurl)
    with open(unrelated, "w") as handle:
        handle.write("[epel]\nname=epel\nbaseurl=https://dl.fedoraproject.org/pub/epel/9/Everything/x86_64/\nenabled=0\n")
    first = step(world, env, plan, "nvidia-repo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert not os.path.exists(old) and os.path.exists(old + ".disabled") and os.path.exists(unrelated)
    assert "cuda-old.repo also names NVIDIA's repository" in first.stdout
    assert "already done" in step(world, env, plan, "nvidia-repo").stdout
    os.rename(old + ".disabled", old)  # back again: not done, set aside once more
    again = step(world, env, plan, "nvidia-repo")
    assert again.returncode == 0 and "already done" not in again.stdout and not os.path.exists(old)


def test_a_key_file_of_another_key_is_refused_by_its_fingerprint(world, machine, tmp_path):
    plan = world["plans"]["wrong-key"]
    repo = repo_action(plan)
    env = environment(world, machine, "wrong-key", tmp_path)
    assert repo.key_fingerprint == world["keys"]["trusted"]
    result = step(world, env, plan, "nvidia-repo")
    assert result.returncode == 1
    assert "NVIDIA repository key fingerprint mismatch: refusing to trust it" in result.stderr, result.stderr[-2000:]
    assert not os.path.exists(repo.file) and not os.path.exists(repo.key_path)
    assert run(["rpm", "-q", "gpg-pubkey"], env=env).returncode != 0  # nothing imported


def test_packages_signed_by_another_key_are_refused_by_dnf_and_the_plan_stops(world, machine, tmp_path,
                                                                               monkeypatch):
    plan = world["plans"]["bad-signature"]
    env = environment(world, machine, "bad-signature", tmp_path)
    steps = [s for s in plan.steps if s.id in ("nvidia-repo", "nvidia-driver")]
    said = []
    for name in ("GNUPGHOME", "PATH", "LC_ALL"):
        monkeypatch.setenv(name, env[name])
    with open(str(tmp_path / "setup.log"), "w") as log, pytest.raises(StepFailed) as failed:
        run_plan(dataclasses.replace(plan, steps=steps), log, said.append)
    assert failed.value.step_id == "nvidia-driver", failed.value.tail
    assert "Error: GPG check FAILED" in failed.value.tail and "not correct for this package" in failed.value.tail, \
        failed.value.tail
    assert said[:1] == ["[1/2] %s ..." % steps[0].title]
    assert all(installed(env, n) is None for n in driver_packages(plan))


def playbook(world, machine, plan, name, path):
    """The playbook of the repository and driver steps only (the reboot step and its notification left out: this test
    never reboots), its dnf tasks bound to the installroot as the wrappers bind the bash script's dnf."""
    root = machine["roots"][name]
    conf = str(path) + ".dnf.conf"
    with open(conf, "w") as handle:
        handle.write("[main]\nreposdir=%s,%s\n" % (root + MOVED[0], world["base_repos"]))
    steps = [s for s in plan.steps if s.id in ("nvidia-repo", "nvidia-driver")]
    play = ansible_emit.play(dataclasses.replace(plan, steps=steps))
    for task in play["tasks"]:
        task.pop("notify", None)
        if "ansible.builtin.dnf" in task:
            task["ansible.builtin.dnf"].update(installroot=root, conf_file=conf, releasever="9", use_backend="dnf4")
    path.write_text(dump([play]))
    return str(path)


def ansible(env, book, tmp_path):
    command = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = command if os.path.exists(command) else shutil.which("ansible-playbook")
    if command is None:
        pytest.skip("ansible-playbook is not installed")
    if run(["/usr/bin/python3", "-c", "import dnf"]).returncode != 0:  # ansible.builtin.dnf drives dnf's Python API
        pytest.skip("the system's python3 has no dnf module (python3-dnf, which apt-get install dnf brings)")
    env = dict(env, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "ans"))
    return run([command, "-i", "localhost,", "-c", "local", book, "-e", "ansible_python_interpreter=/usr/bin/python3"],
               env=env)


def failed_task(output):
    """The name of the task that failed (the last TASK header before 'fatal:')."""
    return output.split("fatal:")[0].rsplit("TASK [", 1)[-1].split("]", 1)[0]


def test_the_playbook_adds_the_repository_installs_from_it_and_is_idempotent(world, machine, tmp_path):
    plan = world["plans"]["good"]
    repo, env = repo_action(plan), environment(world, machine, "good", tmp_path)
    book = playbook(world, machine, plan, "good", tmp_path / "driver.yml")
    first = ansible(env, book, tmp_path)
    if shutil.which("nvidia-smi") is None:  # the stand-in brings no nvidia-smi: the driver step's verify fails
        assert first.returncode == 2 and failed_task(first.stdout).endswith("nvidia-driver | verify"), \
            first.stdout[-4000:]
    assert "nvidia-repo | verify" in first.stdout.split("fatal:")[0]
    with open(repo.file) as handle:  # yum_repository wrote the bytes the bash script writes: one check for both
        assert handle.read() == "\n".join(repo.lines) + "\n"
    assert not os.path.exists(repo.key_path + ".download")
    assert [installed(env, n) for n in driver_packages(plan)] == [VERSION]
    again = ansible(env, book, tmp_path)
    assert "changed=0" in again.stdout, again.stdout[-4000:]


def test_the_playbook_refuses_another_key_and_another_signature(world, machine, tmp_path):
    env = environment(world, machine, "wrong-key", tmp_path)
    repo = repo_action(world["plans"]["wrong-key"])
    wrong = ansible(env, playbook(world, machine, world["plans"]["wrong-key"], "wrong-key", tmp_path / "w.yml"),
                    tmp_path)
    assert wrong.returncode == 2 and failed_task(wrong.stdout).endswith("check the key's fingerprint and keep it")
    assert "NVIDIA repository key fingerprint mismatch: refusing to trust it" in wrong.stdout, wrong.stdout[-4000:]
    assert not any(os.path.exists(p) for p in (repo.file, repo.key_path, repo.key_path + ".download"))
    env = environment(world, machine, "bad-signature", tmp_path)
    bad = ansible(env, playbook(world, machine, world["plans"]["bad-signature"], "bad-signature",
                                tmp_path / "b.yml"), tmp_path)
    assert bad.returncode == 2 and "nvidia-driver" in failed_task(bad.stdout), bad.stdout[-4000:]
    assert "GPG" in bad.stdout.split("fatal:", 1)[1], bad.stdout[-4000:]
    assert all(installed(env, n) is None for n in driver_packages(world["plans"]["bad-signature"]))


# --- what the plan says, as text: these need neither root nor the tools --------------------------------------------


def loopback_plan():
    mirror = "%s=http://127.0.0.1:9/repos" % NVIDIA_REPOS
    return make_plan(rocky9(), make_request(("pytorch",), None, "auto", "3.11", "/opt/env", "install", False,
                                            (mirror,)))


def test_a_mirror_rewrites_the_repo_files_baseurl_and_the_key_url():
    plan = loopback_plan()
    repo = repo_action(plan)
    assert (repo.baseurl, repo.key_url) == ("http://127.0.0.1:9/repos/rhel9/x86_64",
                                            "http://127.0.0.1:9/repos/rhel9/x86_64/D42D0685.pub")
    script = render(plan)
    assert "developer.download.nvidia.com" not in script and "config-manager" not in script
    assert "'baseurl = http://127.0.0.1:9/repos/rhel9/x86_64'" in script
    assert "curl -fsSL --proto '=http,https' http://127.0.0.1:9/repos/rhel9/x86_64/D42D0685.pub" in script


def test_the_repository_step_pins_nvidias_rpm_key_and_imports_it_only_after_the_check():
    plan = make_plan(rocky9(), make_request(("pytorch",), None, "auto", "3.11", "/opt/env", "install", False))
    repo = repo_action(plan)
    assert repo.key_fingerprint == "610C7B14E068A878070DA4E99CD0A493D42D0685"  # NVIDIA SIGNATURES.md, D42D0685
    assert repo.name == "cuda-rhel9-x86_64" and repo.file == "/etc/yum.repos.d/cuda-rhel9.repo"
    body = step_script(plan, 2).split("\nelse\n", 1)[1]
    assert body.index("fingerprint mismatch") < body.index("rpm --import") < body.index("as_root tee")
    assert "curl -fsSL --proto '=https' %s/rhel9/x86_64/D42D0685.pub" % NVIDIA_REPOS in body
    tasks = [t for t in ansible_emit.play(plan)["tasks"] if "nvidia-repo" in t["name"]]
    assert [t["name"].split(" | ")[-1] for t in tasks] == [
        "already done?", "set aside other sources of the repository", "Step 2/7 nvidia-repo",
        "download the signing key", "check the key's fingerprint and keep it", "import the key into rpm",
        "add the repository", "verify"]
    rpm_key = next(t["ansible.builtin.rpm_key"] for t in tasks if "ansible.builtin.rpm_key" in t)
    assert rpm_key == {"key": repo.key_path, "fingerprint": repo.key_fingerprint, "state": "present"}
    added = next(t["ansible.builtin.yum_repository"] for t in tasks if "ansible.builtin.yum_repository" in t)
    assert (added["gpgcheck"], added["repo_gpgcheck"], added["gpgkey"]) == (True, False, "file://" + repo.key_path)


def test_rhel10_gets_no_repository_while_its_keys_fingerprint_is_unknown():
    inv = rocky9()
    inv["os"].update(id="rhel", version="10.0")
    plan = make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/env", "install", False))
    assert not plan.ok and not plan.steps
    assert any("no fingerprint of the key NVIDIA signs its rhel10 repository with (CDF6BA43.pub)" in n
               for n in plan.notes), plan.notes
    kept = make_plan(inv, make_request(("pytorch",), None, "cpu", "3.12", "/opt/env", "install", False))
    assert kept.ok and not any(s.id == "nvidia-repo" for s in kept.steps)


def test_a_key_file_with_a_second_key_beside_the_pinned_one_is_refused(tmp_path):
    """The check takes the primary keys of the file, all of them: NVIDIA's key and another is not NVIDIA's key (apt
    and dnf steps alike)."""
    if shutil.which("gpg") is None:
        pytest.skip("needs gpg")
    home = str(tmp_path / "gnupg")
    os.mkdir(home, 0o700)
    one, two = make_key(home, "one"), make_key(home, "two")
    both, alone = str(tmp_path / "both.pub"), str(tmp_path / "one.pub")
    gpg(home, "--armor", "--export", "-o", both, one, two)
    gpg(home, "--armor", "--export", "-o", alone, one)
    from provision.planner.keys import key_is_pinned  # the apt steps' test too
    env = dict(os.environ, GNUPGHOME=home)

    def status(test):  # as the scripts run it: under pipefail, where `gpg | grep -q` could fail on a SIGPIPE
        return run(["bash", "-c", "set -euo pipefail\nif %s; then exit 0; else exit 1; fi" % test], env=env).returncode
    assert status(key_is_pinned(alone, one)) == 0
    assert status(key_is_pinned(both, one)) == 1
    assert status(key_is_pinned(alone, two)) == 1
    assert status(key_is_pinned(str(tmp_path / "missing.pub"), one)) == 1
    run(["gpgconf", "--homedir", home, "--kill", "all"])


def test_the_expectation_of_a_dnf_repository_fails_where_the_repo_file_checks_no_signature():
    """setup_expectations' repo_key: the golden's own plan meets it; the same plan with gpgcheck off does not."""
    from setup_expectations import EXPECTED, mismatches
    key = "driver-not-loaded--pytorch--os-rocky-9.4"
    with open(os.path.join(os.path.dirname(__file__), "golden", "setup", key + ".json")) as handle:
        plan = json.load(handle)
    assert mismatches(plan, EXPECTED[key]) == []
    for action in (a for s in plan["steps"] for a in s["actions"] if a["kind"] == "dnfrepo"):
        action["gpgcheck"] = False
    assert [m for m in mismatches(plan, EXPECTED[key]) if m.startswith("repo_key:")] == [
        "repo_key: expected ('D42D0685.pub', '610C7B14E068A878070DA4E99CD0A493D42D0685'), got gpgcheck off"]


def test_each_dnf_key_names_a_dnf_folder_and_is_the_key_its_file_names():
    """install.json's cuda_repo.dnf_keys: a folder listed is the cuda_repo of a dnf distribution (a typo would
    silently fall back to the default key), and NVIDIA names a key file by the last 8 digits of its fingerprint."""
    dnf_folders = {row["cuda_repo"] for row in knowledge.load("distributions")["distributions"]
                   if row["package_manager"] == "dnf" and row["cuda_repo"]}
    keys = knowledge.load("install")["cuda_repo"]["dnf_keys"]
    assert set(keys) - {"default"} <= dnf_folders and {"rhel10", "fedora43", "fedora44"} <= set(keys)
    for folder, key in keys.items():
        assert key["key_fingerprint"] is None or key["key_fingerprint"].endswith(key["key_file"][:-4].upper()), folder
        assert key["key_fingerprint"] is not None or not key["verified"], folder  # an unknown is never verified


@pytest.mark.parametrize("os_id,version,folder,key,fingerprint", [
    ("rhel", "8.10", "rhel8", "D42D0685.pub", "610C7B14E068A878070DA4E99CD0A493D42D0685"),
    ("almalinux", "9.4", "rhel9", "D42D0685.pub", "610C7B14E068A878070DA4E99CD0A493D42D0685"),
    ("amzn", "2023", "amzn2023", "D42D0685.pub", "610C7B14E068A878070DA4E99CD0A493D42D0685"),
    ("fedora", "44", "fedora44", "73CD9B30.pub", "129994480EC63D2789BC98E490DFED2F73CD9B30"),  # its own key (#49)
    ("fedora", "43", "fedora43", None, None),  # 1940C73E: its full fingerprint unknown, so no repository
    ("rocky", "10.0", "rhel10", None, None),  # CDF6BA43: likewise
])
def test_each_dnf_folder_is_trusted_with_its_own_key(os_id, version, folder, key, fingerprint):
    inv = rocky9()
    inv["os"].update(id=os_id, version=version)
    plan = make_plan(inv, make_request(("pytorch",), None, "auto", "3.12", "/opt/env", "install", False))
    repos = [a for s in plan.steps for a in s.actions if isinstance(a, DnfRepo)]
    if key is None:
        assert not repos and any("repository with (" in n for n in plan.notes), plan.notes
        return
    url = "%s/%s/x86_64/" % (NVIDIA_REPOS, folder)
    assert [(r.key_url, r.key_fingerprint, r.baseurl) for r in repos] == [(url + key, fingerprint, url[:-1])]
    assert "D42D0685" not in render(plan) if key != "D42D0685.pub" else "73CD9B30" not in render(plan)
