"""Hostile values in the playbooks dlws emits: the YAML writer reads back exactly, and Ansible templates nothing.

Every emitted YAML is parsed with a safe loader that knows !unsafe and compared with what was meant; the playbooks
then run with ansible-playbook -c local --check, and a marker that a templated lookup would create must not exist.
"""

import os
import subprocess
import sys

import pytest
import yaml

from provision.emit.yaml import Unsafe, dump

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOTS = os.path.join(HERE, "snapshots")
BIN = os.path.dirname(sys.executable)


class Tagged(str):
    """What the test loader makes of a !unsafe scalar."""


class Loader(yaml.SafeLoader):
    """yaml.safe_load that knows Ansible's !unsafe tag."""


Loader.add_constructor("!unsafe", lambda loader, node: Tagged(loader.construct_scalar(node)))


def load(text):
    return yaml.load(text, Loader=Loader)


def marker_lookup(marker):
    return "{{ lookup('pipe', 'touch %s') }}" % marker


HOSTILE = [
    "X\n- hosts: localhost\n  tasks:\n    - ansible.builtin.shell: touch /tmp/pwned",
    "{{ lookup('pipe', 'id') }}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{# c #}",
    "quote \" and ' and \\ and `$(touch /tmp/pwned)`", "  leading spaces\nsecond line", "trailing  \nspace ",
    "a\r\nb", "nul\x00byte", "line\u2028sep", "next\x85line", "para\u2029sep", "bom\ufeff", "del\x7f",
    "tab\there\n\tindented", "# not a comment\n#nor this", "key: value\n- item", "less\n indented\nthan first",
    "ends with newline\n", "\nstarts with newline", "x" * 150, "x" * 150 + "\n" + "  y: z", "", " ", "\n",
    "- dash", ": colon", "? question", "&anchor", "*alias", "!tag", "%directive", "@at", "|", ">", "---", "...",
    "yes", "no", "on", "off", "null", "~", "1.0", "0x10", "1e3", "true", "émoji 😀", "lone \ud800 surrogate",
]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_every_string_reads_back_as_itself(value):
    document = [{"plain": value, "tagged": Unsafe(value), "list": [value, Unsafe(value), [value]],
                 value: {"nested": Unsafe(value)}, "empty": {}, "none": [], "n": 1, "b": False}]
    loaded = load(dump(document))
    assert loaded == document
    assert type(loaded[0]["tagged"]) is Tagged and type(loaded[0]["plain"]) is str
    assert type(loaded[0]["list"][1]) is Tagged and type(loaded[0][value]["nested"]) is Tagged


def test_keys_that_yaml_would_read_as_something_else_are_quoted():
    keys = ["yes", "No", "ON", "null", "1", "-x", "a b", "a: b", "#c", "", "x\ny", "ansible.builtin.shell"]
    assert load(dump({key: 1 for key in keys})) == {key: 1 for key in keys}


def test_a_value_with_every_kind_of_break_out_is_one_scalar():
    """Nothing after a hostile value is read as a key of its own."""
    for value in HOSTILE:
        assert set(load(dump({"a": value, "b": "after"}))) == {"a", "b"}


# --- dlws setup --format ansible with a hostile --env -------------------------------------------------------------


def ansible_env(tmp_path):
    return dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
                ANSIBLE_HOME=str(tmp_path / "ansible"), HOME=str(tmp_path))


def run(argv, timeout=600, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


def check_run(playbook, tmp_path, *inventory):
    """ansible-playbook -c local --check on localhost (or the given inventories' hosts)."""
    argv = [os.path.join(BIN, "ansible-playbook"), "-c", "local", "--check", str(playbook),
            "-e", "ansible_python_interpreter=" + sys.executable, "-e", "ansible_become_method=su"]
    argv += [a for i in (inventory or ["localhost,"]) for a in ("-i", i)]
    return run(argv, env=ansible_env(tmp_path), cwd=str(tmp_path))


def test_setup_playbook_with_a_hostile_env_templates_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    env = "/tmp/dlws env\n- hosts: localhost\n%s $(touch %s) {%% raw %%}'\"" % (marker_lookup(marker), marker)
    playbook = tmp_path / "setup.yml"
    made = run([sys.executable, "-m", "provision", "setup", "--framework", "jax", "--variant", "cpu", "--driver",
                "keep", "--env", env, "--dry-run", "--format", "ansible", "-o", str(playbook),
                "--snapshot", os.path.join(SNAPSHOTS, "docker-no-gpu")])
    assert made.returncode == 0, made.stderr
    plays = load(playbook.read_text())
    assert len(plays) == 1 and plays[0]["vars"]["dlws_env"] == env
    assert type(plays[0]["vars"]["dlws_env"]) is Tagged
    # the only templated values: dlws's own variables (the pinned versions among them), never the hostile path
    assert plays[0]["environment"] == {"DLWS_ENV": "{{ dlws_env }}", "DLWS_PYTHON": "{{ dlws_python }}",
                                       "DLWS_JAX_VERSION": "{{ dlws_jax_version }}",
                                       "DLWS_JAXLIB_VERSION": "{{ dlws_jaxlib_version }}"}
    result = check_run(playbook, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "PLAY [Set up jax" in result.stdout and result.stdout.count("PLAY [") == 1
    assert not marker.exists()
    assert not os.path.exists("/tmp/dlws env")
