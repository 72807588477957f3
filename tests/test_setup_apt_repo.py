"""The driver steps of a plan run for real against a signed apt repository on 127.0.0.1, reached through --mirror.

A throwaway gpg home makes two test keys; dpkg-deb builds harmless stand-ins for the packages the driver step
installs (a note in /usr/share/doc/NAME, nothing else), apt-ftparchive indexes them and gpg signs the InRelease. A
knowledge override pins the trusted test key's fingerprint and key file. The plan is the one made for the
driver-not-loaded fixture (an NVIDIA GPU without a driver): its repository step adds the repository (signed-by),
trusts only the pinned key, sets aside another source of the same URL, runs apt-get update against the signed
InRelease and is done when run again; its driver step installs the stand-in from that repository (then fails its
verification: there is no nvidia-smi). A key file of another key is refused by the fingerprint; an InRelease signed by
another key is refused by apt, and the plan stops there. The same through the playbook (ansible-playbook -c local).

It changes the machine (an apt source, a keyring, a package), so it runs only as root with the tools there, never
where any of those paths or packages exist already, and restores the machine even when it fails.
"""

import dataclasses
import functools
import glob
import http.server
import json
import os
import shutil
import sys
import threading

import pytest

import signing
from signing import gpg, run

from provision import knowledge
from provision.emit import ansible as ansible_emit
from provision.emit.shell import step_script
from provision.emit.yaml import dump
from provision.execute import StepFailed, run_plan
from provision.inventory import collect
from provision.planner import plan as make_plan
from provision.planner.model import AptRepo, Packages
from provision.setup_command import make_request
from provision.snapshot import open_snapshot

SNAPSHOTS = os.path.join(os.path.dirname(__file__), "snapshots")
NVIDIA_REPOS = "https://developer.download.nvidia.com/compute/cuda/repos"
KEY_FILE = "dlws-test.pub"
LISTS = "/var/lib/apt/lists"
#: What the test needs, and what the repository step would otherwise install (and the test not remove): curl.
TOOLS = ("apt-get", "dpkg", "dpkg-deb", "apt-ftparchive", "gpg", "gpg-agent", "curl")
#: Set aside by the repository step: another source of the same URL with another keyring (as cuda-keyring writes).
OTHER = "/etc/apt/sources.list.d/dlws-test-cuda-keyring.list"
#: (key that signs the key file, key that signs the InRelease) of each repository the server publishes.
REPOS = {"good": ("trusted", "trusted"), "wrong-key": ("other", "other"), "bad-signature": ("trusted", "other")}


def make_key(home, name):
    return signing.make_key(home, name, "ed25519")  # ed25519: what apt's sqv and gpgv read


def build_deb(folder, name):
    """A stand-in for package name: version 999, architecture all, one note under /usr/share/doc/name."""
    root = os.path.join(folder, "build-" + name)
    os.makedirs(os.path.join(root, "DEBIAN"))
    os.makedirs(os.path.join(root, "usr", "share", "doc", name))
    with open(os.path.join(root, "DEBIAN", "control"), "w") as control:
        control.write("Package: %s\nVersion: 999.0~dlws.test\nArchitecture: all\nSection: misc\nPriority: optional\n"
                      "Maintainer: dlws tests <dlws-test@127.0.0.1>\n"
                      "Description: dlws test stand-in for %s\n installs a note and nothing else\n" % (name, name))
    with open(os.path.join(root, "usr", "share", "doc", name, "README.dlws-test"), "w") as note:
        note.write("A stand-in built by dlws' tests; dpkg --purge %s removes it.\n" % name)
    done = run(["dpkg-deb", "--root-owner-group", "--build", root, os.path.join(folder, "%s_999.0~dlws.test_all.deb"
                                                                                  % name)])
    assert done.returncode == 0, done.stderr
    shutil.rmtree(root)


def publish(home, folder, names, key, sign_fpr):
    """A flat repository (deb URL /) in folder: the stand-ins, Packages, Release, an InRelease signed by sign_fpr,
    and KEY_FILE, the armored public key key."""
    os.makedirs(folder)
    for name in names:
        build_deb(folder, name)
    for what, out in (("packages", "Packages"), ("release", "Release")):
        done = run(["apt-ftparchive", what, "."], cwd=folder)
        assert done.returncode == 0, done.stderr
        with open(os.path.join(folder, out), "w") as index:
            index.write(done.stdout)
    gpg(home, "--local-user", sign_fpr, "--clearsign", "-o", os.path.join(folder, "InRelease"),
        os.path.join(folder, "Release"))
    with open(os.path.join(folder, KEY_FILE), "w") as handle:
        handle.write(key)


def override(folder, fingerprint):
    """install.json with every apt folder's key replaced by the test key (file name and fingerprint)."""
    with open(os.path.join(knowledge.DATA_DIR, "install.json"), encoding="utf-8") as handle:
        table = json.load(handle)
    for row in table["cuda_repo"]["apt_keys"].values():
        row.update(key_file=KEY_FILE, key_fingerprint=fingerprint)
    with open(os.path.join(folder, "install.json"), "w", encoding="utf-8") as handle:
        json.dump(table, handle)


def driver_plan(url, knowledge_dir):
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "driver-not-loaded"))).to_dict()
    mirror = ("%s=%s" % (NVIDIA_REPOS, url),)
    previous = os.environ.get("DLWS_KNOWLEDGE_DIR")
    os.environ["DLWS_KNOWLEDGE_DIR"] = knowledge_dir
    knowledge.load.cache_clear()
    try:
        result = make_plan(inv, make_request(("pytorch",), None, "auto", "3.11", "/nonexistent/dlws-env", "install",
                                             False, mirror))
    finally:
        if previous is None:
            os.environ.pop("DLWS_KNOWLEDGE_DIR", None)
        else:
            os.environ["DLWS_KNOWLEDGE_DIR"] = previous
        knowledge.load.cache_clear()
    assert result.ok, result.impossible
    assert [s.id for s in result.steps][1:4] == ["nvidia-repo", "nvidia-driver", "reboot"]
    return result


def repo_action(plan):
    return next(a for s in plan.steps for a in s.actions if isinstance(a, AptRepo))


def driver_packages(plan):
    return [n for s in plan.steps if s.id == "nvidia-driver" for a in s.actions if isinstance(a, Packages)
            for n in a.names]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Two keys, the three repositories on a loopback server, and a plan for each (dict name -> plan)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("adds an apt source and installs a package: runs as root only (CI runs it as root)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip("needs %s (.ci/run installs them)" % ", ".join(missing))
    top = tmp_path_factory.mktemp("apt-repo")
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
        plans = {name: driver_plan("%s/%s" % (base, name), str(top)) for name in REPOS}
        for name, (key, signer) in REPOS.items():
            folder = repo_action(plans[name]).url[len(base):].strip("/")  # the plan's folder (ubuntu2004/x86_64)
            publish(home, str(www / folder), driver_packages(plans[name]), armored[key], keys[signer])
        yield dict(plans=plans, keys=keys, armored=armored, home=home, base=base)
    finally:
        httpd.shutdown()
        httpd.server_close()
        run(["gpgconf", "--homedir", home, "--kill", "all"])


def status(name):
    """dpkg's status of a package ('install ok installed 999.0~dlws.test'), or None where dpkg has none of it."""
    done = run(["dpkg-query", "-W", "-f", "${Status} ${Version}", name])
    return done.stdout.strip() if done.returncode == 0 and " not-installed" not in done.stdout else None


def installed(name):
    """'install ok installed VERSION' while the package is installed, else None."""
    found = status(name)
    return found if found and found.split()[2] == "installed" else None


def our_paths(repo):
    return [repo.listing, repo.listing + ".disabled", repo.keyring, repo.keyring + ".download", OTHER,
            OTHER + ".disabled"]


@pytest.fixture
def machine(world):
    """Skips where the machine has any of the paths or packages the test makes; removes them all afterwards, whatever
    happened: the sources, the keyring, the stand-in packages, apt's lists and downloads from 127.0.0.1."""
    repo = repo_action(world["plans"]["good"])
    names = sorted({n for p in world["plans"].values() for n in driver_packages(p)})
    there = [p for p in our_paths(repo) if os.path.lexists(p)] + [n for n in names if status(n)]
    if there:
        pytest.skip("this machine has %s already: the test never touches a real setup" % ", ".join(there))
    try:
        yield repo
    finally:
        for path in our_paths(repo):
            if os.path.lexists(path):
                os.remove(path)
        for name in names:
            if status(name):
                run(["dpkg", "--purge", name])
            for deb in glob.glob("/var/cache/apt/archives/%s_999.0~dlws.test_all.deb" % name):
                os.remove(deb)
        for path in glob.glob(os.path.join(LISTS, "127.0.0.1[:_]*")) + glob.glob(os.path.join(LISTS, "partial",
                                                                                              "127.0.0.1[:_]*")):
            os.remove(path)


def step(world, plan, step_id):
    """Run one step of plan as `dlws setup` does (its own bash script); gpg's home is a throwaway one."""
    number = [s.id for s in plan.steps].index(step_id) + 1
    env = dict(os.environ, GNUPGHOME=world["home"], LC_ALL="C.UTF-8")
    return run(["bash", "-c", step_script(plan, number)], env=env)


def keyring_fingerprints(world, path):
    done = run(["gpg", "--homedir", world["home"], "--show-keys", "--with-colons", path])
    return [line.split(":")[9] for line in done.stdout.splitlines() if line.startswith("fpr:")]


def test_the_repository_step_adds_the_signed_repository_and_the_driver_step_installs_from_it(world, machine):
    plan, repo = world["plans"]["good"], machine
    assert repo.url.startswith(world["base"] + "/good/") and repo.key_url == repo.url + KEY_FILE
    assert repo.line == "deb [signed-by=%s] %s /" % (repo.keyring, repo.url)
    with open(OTHER, "w") as other:  # another source of the URL with another keyring: apt would refuse both
        other.write("deb [signed-by=/usr/share/keyrings/dlws-test-other.gpg] %s /\n" % repo.url)
    with open(repo.keyring, "w") as keyring:  # another key there (an older plan's): not done, the step replaces it
        keyring.write(world["armored"]["other"])
    first = step(world, plan, "nvidia-repo")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "already done" not in first.stdout and "moved to %s.disabled" % OTHER in first.stdout
    with open(repo.listing) as listing:
        assert listing.read() == repo.line + "\n"
    assert keyring_fingerprints(world, repo.keyring) == [world["keys"]["trusted"]]
    assert not os.path.exists(OTHER) and os.path.exists(OTHER + ".disabled")
    policy = run(["apt-cache", "policy"] + driver_packages(plan)).stdout  # apt read the signed InRelease
    assert "999.0~dlws.test" in policy and repo.url.rstrip("/") + "  Packages" in policy, policy
    again = step(world, plan, "nvidia-repo")
    assert again.returncode == 0 and "already done" in again.stdout, again.stdout[-2000:]

    assert all(installed(n) is None for n in driver_packages(plan))
    driver = step(world, plan, "nvidia-driver")
    assert [installed(n) for n in driver_packages(plan)] == ["install ok installed 999.0~dlws.test"]
    # the stand-in brings no nvidia-smi, so the step does not verify: the plan stops before the reboot
    assert driver.returncode == 1 and "step nvidia-driver did not verify" in driver.stderr, driver.stderr[-2000:]
    twice = step(world, plan, "nvidia-driver")
    assert "0 newly installed" in twice.stdout and twice.returncode == 1


def test_a_key_file_of_another_key_is_refused_by_its_fingerprint(world, machine):
    plan = world["plans"]["wrong-key"]
    repo = repo_action(plan)
    assert repo.key_fingerprint == world["keys"]["trusted"]
    result = step(world, plan, "nvidia-repo")
    assert result.returncode == 1
    assert "NVIDIA repository key fingerprint mismatch: refusing to trust it" in result.stderr, result.stderr[-2000:]
    assert not os.path.exists(repo.listing) and not os.path.exists(repo.keyring)


def test_an_inrelease_signed_by_another_key_is_refused_by_apt_and_the_plan_stops(world, machine, tmp_path,
                                                                                 monkeypatch):
    plan = world["plans"]["bad-signature"]
    repo = repo_action(plan)
    result = step(world, plan, "nvidia-repo")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert world["keys"]["other"][-16:] in out and ("NO_PUBKEY" in out or "not signed" in out), out[-3000:]
    # apt-get update fails for every later command while the source stays: the step takes it out again
    assert "removed %s" % repo.listing in result.stderr and not os.path.exists(repo.listing)
    assert run(["apt-get", "update"]).returncode == 0
    # run mode: the plan of the repository and driver steps stops at the first, saying what apt said
    steps = [s for s in plan.steps if s.id in ("nvidia-repo", "nvidia-driver")]
    said = []
    monkeypatch.setenv("GNUPGHOME", world["home"])
    with open(str(tmp_path / "setup.log"), "w") as log, pytest.raises(StepFailed) as failed:
        run_plan(dataclasses.replace(plan, steps=steps), log, said.append)
    assert failed.value.step_id == "nvidia-repo" and "NO_PUBKEY" in failed.value.tail
    assert said == ["[1/2] %s ..." % steps[0].title]
    assert all(installed(n) is None for n in driver_packages(plan))


def playbook(plan, path):
    """The playbook of the repository and driver steps only. The driver's tasks notify the reboot handler; the
    reboot step is left out, so is that notification: this test never reboots the machine."""
    steps = [s for s in plan.steps if s.id in ("nvidia-repo", "nvidia-driver")]
    play = ansible_emit.play(dataclasses.replace(plan, steps=steps))
    for task in play["tasks"]:
        task.pop("notify", None)
        if "ansible.builtin.apt_repository" in task:  # a refused InRelease fails at once, not after 5 tries
            task["ansible.builtin.apt_repository"]["update_cache_retries"] = 1
    path.write_text(dump([play]))
    return str(path)


def ansible(world, book, tmp_path):
    command = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    command = command if os.path.exists(command) else shutil.which("ansible-playbook")
    if command is None:
        pytest.skip("ansible-playbook is not installed")
    if run(["/usr/bin/python3", "-c", "import apt"]).returncode != 0:  # Ansible's apt modules would install it
        pytest.skip("the system's python3 has no apt module (python3-apt; .ci/run installs it)")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               ANSIBLE_HOME=str(tmp_path / "ansible"), GNUPGHOME=world["home"])
    return run([command, "-i", "localhost,", "-c", "local", book, "-e",
                "ansible_python_interpreter=" + sys.executable], env=env)


def test_the_playbook_adds_the_repository_installs_from_it_and_is_idempotent(world, machine, tmp_path):
    plan, repo = world["plans"]["good"], machine
    book = playbook(plan, tmp_path / "driver.yml")
    with open(repo.keyring, "w") as keyring:  # an older plan's key: get_url alone would have kept it
        keyring.write(world["armored"]["other"])
    with open(OTHER, "w") as other:  # set aside before the first apt update, which it would fail
        other.write("deb [signed-by=/usr/share/keyrings/dlws-test-other.gpg] %s /\n" % repo.url)
    first = ansible(world, book, tmp_path)
    # the stand-in brings no nvidia-smi: the driver step's verify fails, after the install
    assert first.returncode == 2 and "nvidia-driver | verify" in first.stdout, first.stdout[-4000:]
    assert "nvidia-repo | verify" in first.stdout.split("fatal:")[0]
    with open(repo.listing) as listing:
        assert listing.read().strip() == repo.line
    assert keyring_fingerprints(world, repo.keyring) == [world["keys"]["trusted"]]
    assert not os.path.exists(repo.keyring + ".download")
    assert not os.path.exists(OTHER) and os.path.exists(OTHER + ".disabled")
    assert [installed(n) for n in driver_packages(plan)] == ["install ok installed 999.0~dlws.test"]
    again = ansible(world, book, tmp_path)
    assert again.returncode == 2 and "changed=0" in again.stdout, again.stdout[-4000:]


def failed_task(output):
    """The name of the task that failed (the last TASK header before 'fatal:')."""
    return output.split("fatal:")[0].rsplit("TASK [", 1)[-1].split("]", 1)[0]


def test_the_playbook_refuses_another_key_and_another_signature(world, machine, tmp_path):
    repo = machine
    wrong = ansible(world, playbook(world["plans"]["wrong-key"], tmp_path / "wrong.yml"), tmp_path)
    assert wrong.returncode == 2 and failed_task(wrong.stdout).endswith("check the key's fingerprint and trust it")
    assert "NVIDIA repository key fingerprint mismatch: refusing to trust it" in wrong.stdout, wrong.stdout[-4000:]
    assert not any(os.path.exists(p) for p in (repo.listing, repo.keyring, repo.keyring + ".download"))
    bad = ansible(world, playbook(world["plans"]["bad-signature"], tmp_path / "bad.yml"), tmp_path)
    assert bad.returncode == 2 and failed_task(bad.stdout).endswith("add the repository"), bad.stdout[-4000:]
    assert "NO_PUBKEY %s" % world["keys"]["other"][-16:] in bad.stdout
    assert not os.path.exists(repo.listing)  # apt_repository takes the source out again when the update fails


# --- what a real run showed, as text: these need neither root nor the tools --------------------------------------


def loopback_plan():
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "driver-not-loaded"))).to_dict()
    mirror = "%s=http://127.0.0.1:9/repos" % NVIDIA_REPOS
    return make_plan(inv, make_request(("pytorch",), None, "auto", "3.11", "/opt/env", "install", False, (mirror,)))


def test_the_key_of_an_http_mirror_is_fetched_over_http_and_nvidias_over_https_only():
    mirrored = step_script(loopback_plan(), 2)
    assert "curl -fsSL --proto '=http,https' http://127.0.0.1:9/repos/ubuntu2004/x86_64/3bf863cc.pub" in mirrored
    inv = collect(open_snapshot(os.path.join(SNAPSHOTS, "driver-not-loaded"))).to_dict()
    direct = make_plan(inv, make_request(("pytorch",), None, "auto", "3.11", "/opt/env", "install", False))
    assert "curl -fsSL --proto '=https' %s/ubuntu2004/x86_64/3bf863cc.pub" % NVIDIA_REPOS in step_script(direct, 2)


def test_other_sources_are_set_aside_before_the_first_apt_update_and_a_refused_source_is_taken_out():
    plan = loopback_plan()
    script = step_script(plan, 2)
    body = script.split("\nelse\n", 1)[1]
    assert body.index('mv "$other" "$other.disabled"') < body.index("apt-get update")
    assert "if ! as_root apt-get update; then\n    as_root rm -f /etc/apt/sources.list.d/nvidia-cuda.list" in script
    tasks = [t["name"].split(" | ")[-1] for t in ansible_emit.play(plan)["tasks"] if "nvidia-repo" in t["name"]]
    assert tasks == ["already done?", "set aside other sources of the repository", "Step 2/7 nvidia-repo",
                     "download the signing key", "check the key's fingerprint and trust it", "add the repository",
                     "verify"]


def test_the_playbook_trusts_a_downloaded_key_only_after_its_fingerprint():
    play = ansible_emit.play(loopback_plan())
    download = next(t for t in play["tasks"] if "ansible.builtin.get_url" in t)["ansible.builtin.get_url"]
    assert download["dest"] == "/usr/share/keyrings/nvidia-cuda.asc.download" and download["force"] is True
    trust = next(t for t in play["tasks"] if t["name"].endswith("trust it"))["ansible.builtin.shell"]["cmd"]
    assert trust.index("cut -d: -f10") < trust.index("mv /usr/share/keyrings/nvidia-cuda.asc.download "
                                                "/usr/share/keyrings/nvidia-cuda.asc")
