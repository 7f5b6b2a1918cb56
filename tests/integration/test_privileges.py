"""Privileges: started as root, the master stays root (to bind a privileged port) and every
child runs as gateway.user with no way back; the CLI refuses to leave root-owned files in an
instance that belongs to that account; a file the account cannot use stops the start with the
command that fixes it. Needs root (CI runs as root); the account is `nobody`."""
import os
import pwd
import smtplib
import subprocess

import pytest

import sgrig
from sgrig import maildir_messages, wait_maildir

ACCOUNT = "nobody"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing accounts needs root")


def give_to_account(g):
    g.set(**{"gateway.user": ACCOUNT})
    subprocess.run(["chown", "-R", f"{ACCOUNT}:", g.dir], check=True)


def privileged_port():
    """A port below 1024 nobody holds (bound, not merely unanswered), handed out once."""
    return sgrig.free_port(700, 1000)


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def as_account(*argv):
    pw = pwd.getpwnam(ACCOUNT)
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", *argv]


def traceable_by_account(pid):
    """Can another process of the account read pid's memory-derived files (ptrace read
    access)? Not if pid is not dumpable, which is what keeps it from tracing it too."""
    r = subprocess.run(as_account("cat", f"/proc/{pid}/environ"), capture_output=True)
    return r.returncode == 0


def children(master_pid):
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_children_run_as_the_account_behind_a_privileged_port(gw_factory):
    g = gw_factory()
    g.md = os.path.join(g.dir, "mail")
    g.port = privileged_port()
    g.set(**{"smtp.listen": f"127.0.0.1:{g.port}"})
    give_to_account(g)
    g.start()
    uid = pwd.getpwnam(ACCOUNT).pw_uid
    assert status(g.proc.pid)["Uid"].split()[0] == "0"  # the master binds and restarts

    def all_changed():  # smtpd answers first; the others may still be starting
        try:
            kids = children(g.proc.pid)
            return len(kids) >= 5 and all(status(p)["Uid"].split()[0] == str(uid) for p in kids)
        except FileNotFoundError:
            return False

    sgrig.wait_for(all_changed, 20, what="smtpd, qmgr, ldapd, portal and tick as the account")
    kids = children(g.proc.pid)
    for pid in kids:
        st = status(pid)
        assert st["Uid"].split() == [str(uid)] * 4, (pid, st["Uid"])
        assert st["Gid"].split()[0] == str(pwd.getpwnam(ACCOUNT).pw_gid)
        assert st["Groups"].split() == [str(pwd.getpwnam(ACCOUNT).pw_gid)]
        assert st["NoNewPrivs"] == "1"
        assert st["CapEff"] == "0000000000000000"
        assert not traceable_by_account(pid), (pid, "dumpable")
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", ["bob@example.com"],
                   b"Subject: as nobody\r\n\r\ndelivered by an unprivileged queue manager\r\n")
    box = os.path.join(g.md, "bob@example.com")
    wait_maildir(box, 1)
    assert b"unprivileged queue manager" in maildir_messages(box)[0]
    files = [os.path.join(d, f) for d, _, fs in os.walk(g.dir) for f in fs]
    assert all(os.lstat(f).st_uid == uid for f in files), \
        [f for f in files if os.lstat(f).st_uid != uid]


def test_cli_as_root_is_refused_and_works_as_the_account(gw_factory):
    g = gw_factory()
    give_to_account(g)
    r = g.cli("cert", "issue", "alice@example.com")
    assert r.returncode == 1 and f"sudo -u {ACCOUNT} sealgate" in r.stderr, r.stderr
    r = g.cli("queue", "list")
    assert r.returncode == 1 and "gateway.user" in r.stderr
    r = sgrig.run_cli(["runuser", "-u", ACCOUNT, "--", sgrig.SEALGATE_BIN, "cert", "issue",
                        "alice@example.com", "-c", g.conf], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # root may still edit the configuration: the file stays the account's
    g.set(**{"log.level": "debug"})
    assert os.stat(g.conf).st_uid == pwd.getpwnam(ACCOUNT).pw_uid


def test_a_command_that_opens_the_key_store_is_not_dumpable(gw_factory):
    g = gw_factory()
    give_to_account(g)
    pw = pwd.getpwnam(ACCOUNT)
    # `cert tool sign` opens the key store and the CA, then reads the entity from stdin
    p = subprocess.Popen(as_account(sgrig.SEALGATE_BIN, "cert", "tool", "sign", "-c", g.conf,
                                    "alice@example.com"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def reading_stdin():
            with open(f"/proc/{p.pid}/syscall") as f:
                return f.read().startswith("0 0x0 ")  # read(0, ...)
        sgrig.wait_for(reading_stdin, 30, what="the command waiting on its input")
        assert status(p.pid)["Uid"].split()[0] == str(pw.pw_uid)
        assert not traceable_by_account(p.pid), "the command is dumpable"
    finally:
        p.kill()
        p.communicate(timeout=30)


def test_a_file_the_account_does_not_own_stops_the_start_with_the_fix(gw_factory):
    g = gw_factory()
    give_to_account(g)
    os.chown(os.path.join(g.dir, "master.key"), 0, 0)
    r = sgrig.run_cli([sgrig.SEALGATE_BIN, "run", "-c", g.conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "master.key belongs to another account" in r.stderr
    assert f"chown -R {ACCOUNT}: {g.dir}" in r.stderr
    g.set(**{"gateway.user": "no-such-account-here"})
    r = sgrig.run_cli([sgrig.SEALGATE_BIN, "run", "-c", g.conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "no such account" in r.stderr, r.stderr


def test_init_with_user_gives_the_instance_to_the_account(workdir):
    d = str(workdir / "owned")
    r = sgrig.run_cli([sgrig.SEALGATE_BIN, "init", d, "--domain", "example.com",
                        "--user", ACCOUNT, "--one-account"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    uid = pwd.getpwnam(ACCOUNT).pw_uid
    paths = [d] + [os.path.join(p, f) for p, ds, fs in os.walk(d) for f in ds + fs]
    assert all(os.lstat(p).st_uid == uid for p in paths)
    assert f"user = {ACCOUNT}" in open(os.path.join(d, "sealgate.conf")).read()
    r = sgrig.run_cli([sgrig.SEALGATE_BIN, "init", str(workdir / "x"), "--domain",
                        "example.com", "--user", "no/such/account", "--one-account"],
                       capture_output=True, text=True)
    # init creates a missing account (test_accounts.py); a name it will not create stops it
    assert r.returncode == 1 and "no/such/account: no such account, and not a name" in r.stderr
    assert not os.path.exists(workdir / "x")
