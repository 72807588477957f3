"""Test signing keys for the loopback package repositories (apt and dnf): a throwaway gpg home's keys, made without
a passphrase."""

import subprocess


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, **kwargs)


def gpg(home, *args):
    done = run(["gpg", "--batch", "--homedir", home] + list(args))
    assert done.returncode == 0, done.stderr
    return done.stdout


def make_key(home, name, algorithm):
    """A signing-only key of that algorithm ("ed25519"; "rsa2048" where rpm must read it); its fingerprint."""
    uid = "dlws %s test key <dlws-%s@127.0.0.1>" % (name, name)
    gpg(home, "--passphrase", "", "--quick-gen-key", uid, algorithm, "sign", "never")
    colons = gpg(home, "--with-colons", "--list-keys", uid)
    return next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
