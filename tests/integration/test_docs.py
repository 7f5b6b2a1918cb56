"""Docs that match the code: every command of the command table (src/main.c) and every option
a parser compares against is in sealgate(8); every role of src/daemon/roles.c is in
docs/architecture.md; the committed man pages are what the binary writes now and render
without a groff warning; each usage error prints the table's lines for its command."""

import os
import re
import subprocess

import pytest

import sgrig

ROOT = sgrig._CHECKOUT
MAN8 = os.path.join(ROOT, "docs", "man", "sealgate.8")
MAN5 = os.path.join(ROOT, "docs", "man", "sealgate.conf.5")


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def _commands():
    """(name, hidden) of each row of main.c's command table."""
    rows = re.findall(r'\{"([a-z_-]+)", [a-z_]+, (true|false)\}', _read("src", "main.c"))
    assert len(rows) >= 12, "main.c's command table was not found: update this test's pattern"
    return [(name, hidden == "true") for name, hidden in rows]


def _options():
    """Every "--option" a CLI parser compares argv against."""
    found = set()
    for d in ("src/cli", "src"):
        for name in os.listdir(os.path.join(ROOT, d)):
            if name.endswith(".c") and (d == "src/cli" or name == "main.c"):
                found |= set(re.findall(r'"(--[a-z][a-z-]*)"', _read(d, name)))
    assert len(found) >= 15, found
    return found


def _man_text(path):
    """The page as man renders it (hyphens unescaped), for searching."""
    with open(path, encoding="utf-8") as f:
        return f.read().replace("\\-", "-")


def test_every_command_and_option_is_in_sealgate_8():
    man = _man_text(MAN8)
    help_out = sgrig.run_cli([sgrig.SEALGATE_BIN, "help"], text=True).stdout
    for name, hidden in _commands():
        if hidden:
            assert f".SS {name}\n" not in man, f"hidden command {name} is in sealgate(8)"
            continue
        assert f".SS {name}\n" in man, f"command {name} has no section in docs/man/sealgate.8"
        assert f"  sealgate {name}" in help_out, f"`sealgate help` does not list {name}"
    for opt in sorted(_options()):
        assert re.search(r"^\.BR \"    [^\n]*" + re.escape(opt) + r"\b", man, re.M), \
            f"option {opt} is parsed by the CLI but not described in docs/man/sealgate.8"


def test_every_role_is_in_architecture_md():
    roles = re.findall(r'\.name = "([a-z-]+)"', _read("src", "daemon", "roles.c"))
    assert len(roles) >= 5, roles
    arch = _read("docs", "architecture.md")
    for role in roles:
        assert re.search(rf"^\| {re.escape(role)} \| ", arch, re.M), \
            f"role {role} of src/daemon/roles.c is not in the role table of docs/architecture.md"


def test_committed_man_pages_are_current_and_render_cleanly():
    for path, argv in ((MAN8, ["help", "--man"]), (MAN5, ["config", "docs", "--man"])):
        now = sgrig.run_cli([sgrig.SEALGATE_BIN] + argv, text=True)
        assert now.returncode == 0, now.stderr
        with open(path, encoding="utf-8") as f:
            assert f.read() == now.stdout, f"{path} is stale: run `make docs`"
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and r.stderr == "", f"groff warns about {path}:\n{r.stderr}"


@pytest.mark.parametrize("argv,expect", [
    (["cert", "-c", "/nonexistent"], "sealgate cert issue -c FILE EMAIL"),
    (["queue"], "sealgate queue show -c FILE ID [--body]"),
    (["config"], "sealgate config set -c FILE section.key value"),
    (["run"], "sealgate run -c FILE"),
])
def test_usage_errors_print_the_tables_lines(argv, expect):
    r = sgrig.run_cli([sgrig.SEALGATE_BIN] + argv, text=True)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert expect in r.stderr, r.stderr
