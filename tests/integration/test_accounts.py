"""Separate accounts (issue 16, part 2): `init --user` creates sealgate-smtp and sealgate-ldap
beside the gateway's account; smtpd and ldapd run as them (proved from /proc/PID/status), and
those accounts cannot open the master key, the store or the CA key (EACCES, asked by a helper
running as each account, while the gateway's own account can: the check can fail). Mail still
flows through the shared spool, ldapd still answers from the store it opened before the drop,
a SIGHUP still works, and check-config names every wrong owner or mode with the command that
fixes it. Needs root (CI runs as root)."""
import errno
import grp
import os
import pwd
import re
import signal
import smtplib
import subprocess
import sys

import pytest

import sgrig
from sgrig import maildir_messages, wait_maildir

USER, SMTP, LDAP = "sealgate", "sealgate-smtp", "sealgate-ldap"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing accounts needs root")

# Run as the account (no supplementary groups, as the master runs smtpd and ldapd): opens
# each path and prints the errno name, or OK.
PROBE = """
import errno, sys
for p in sys.argv[1:]:
    try:
        open(p, "rb").close()
        print("OK")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""


def ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def as_account(name, *argv, groups=()):
    uid, gid = ids(name)
    grp_args = [f"--groups={','.join(str(g) for g in groups)}"] if groups else ["--clear-groups"]
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", *grp_args, *argv]


def probe(name, *paths):
    r = subprocess.run(as_account(name, sys.executable, "-c", PROBE, *paths),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def roles(master_pid):
    """{role: pid} of the master's children, from their command lines."""
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    found = {}
    for pid in (int(p) for p in out.split()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except FileNotFoundError:
            continue
        if len(argv) > 2 and argv[1] == b"__role":
            found[argv[2].decode()] = pid
    return found


def account_of(pid):
    st = status(pid)
    return (st["Uid"].split(), st["Gid"].split(), sorted(int(g) for g in st["Groups"].split()))


def as_user_cli(g, *args):
    """A command as the gateway's account with its groups (sudo -u, as the docs say)."""
    return sgrig.run_cli(["runuser", "-u", USER, "--", sgrig.SEALGATE_BIN, *args, "-c", g.conf],
                         capture_output=True, text=True, timeout=120)


def mail_arrives(g, text, count):
    """One message through smtpd (its own account) and qmgr to bob's Maildir, the count-th."""
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", ["bob@example.com"], f"Subject: x\r\n\r\n{text}\r\n")
    box = os.path.join(g.md, "bob@example.com")
    wait_maildir(box, count)
    assert any(text.encode() in m for m in maildir_messages(box))


@pytest.fixture
def owned(gw_factory):
    g = gw_factory(init_args=("--user", USER))
    g.md = os.path.join(g.dir, "mail")
    return g


def wait_roles(g, names=("smtpd", "qmgr", "ldapd", "portal", "tick", "metrics")):
    def changed():
        r = roles(g.proc.pid)
        try:
            return all(n in r and status(r[n])["Uid"].split()[0] != "0" for n in names) and r
        except FileNotFoundError:
            return False
    return sgrig.wait_for(changed, 30, what="every child started and changed account")


def test_init_creates_the_accounts_and_the_layout(owned):
    g = owned
    conf = open(g.conf).read()
    assert f"user = {USER}" in conf and f"smtp_user = {SMTP}" in conf
    assert f"ldap_user = {LDAP}" in conf
    smtp_gid = ids(SMTP)[1]
    assert USER in grp.getgrgid(smtp_gid).gr_mem  # `sudo -u sealgate sealgate queue ...`
    st = os.stat(g.dir)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (ids(USER)[0], smtp_gid, 0o710)
    sp = os.stat(os.path.join(g.dir, "spool"))
    assert (sp.st_gid, sp.st_mode & 0o7777) == (smtp_gid, 0o2770)
    for name in ("master.key", "sealgate.db", "ca", "tls", "sealgate.conf"):
        assert os.stat(os.path.join(g.dir, name)).st_mode & 0o007 == 0, name
    r = g.cli("check-config")
    assert r.returncode == 0 and "configuration is valid" in r.stdout, r.stderr


def test_each_role_runs_as_its_account(owned):
    g = owned
    g.start()
    kids = wait_roles(g)
    uid, gid = ids(USER)
    suid, sgid = ids(SMTP)
    luid, lgid = ids(LDAP)
    assert status(g.proc.pid)["Uid"].split()[0] == "0"  # the master binds and restarts
    assert account_of(kids["smtpd"]) == ([str(suid)] * 4, [str(sgid)] * 4, [sgid])
    assert account_of(kids["ldapd"]) == ([str(luid)] * 4, [str(lgid)] * 4, [lgid])
    for role in ("qmgr", "portal", "tick"):
        assert account_of(kids[role]) == ([str(uid)] * 4, [str(gid)] * 4, sorted({gid, sgid})), role
    for pid in kids.values():
        st = status(pid)
        assert st["NoNewPrivs"] == "1" and st["CapEff"] == "0000000000000000", pid


def test_the_role_accounts_cannot_open_the_secrets(owned):
    g = owned
    secrets = [os.path.join(g.dir, p) for p in
               ("master.key", "sealgate.db", "ca/ca.key", "tls/server.key", "sealgate.conf")]
    assert probe(USER, *secrets) == ["OK"] * len(secrets)  # the check can fail
    for account in (SMTP, LDAP):
        assert probe(account, *secrets) == ["EACCES"] * len(secrets), account
    # smtpd's account reaches the spool and the recipient list; ldapd's reaches nothing
    spool = os.path.join(g.dir, "spool")
    marker = os.path.join(spool, "probe")
    open(marker, "w").close()
    os.chown(marker, ids(USER)[0], ids(SMTP)[1])
    os.chmod(marker, 0o660)
    assert probe(SMTP, marker) == ["OK"]
    assert probe(LDAP, marker) == ["EACCES"]
    os.unlink(marker)


def test_mail_flows_ldapd_answers_and_reload_keeps_the_accounts(owned):
    g = owned
    base = "dc=example,dc=com"
    g.set(**{"ldap.base_dn": base, "ldap.anonymous_search": "full"})
    g.start()
    kids = wait_roles(g)
    mail_arrives(g, "written by sealgate-smtp", 1)
    r = as_user_cli(g, "cert", "issue", "carol@example.com")
    assert r.returncode == 0, r.stderr

    def published():
        out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://127.0.0.1:{g.ldap_port}",
                              "-b", base, "(mail=carol@example.com)", "mail"],
                             capture_output=True, text=True, timeout=30).stdout
        return "carol@example.com" in out
    sgrig.wait_for(published, 20, what="ldapd (as sealgate-ldap) reading the store it kept open")
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"master\[\d+\]: SIGHUP: reload done", 90)
    assert "reload incomplete" not in g.log()
    after = wait_roles(g)
    assert after["smtpd"] != kids["smtpd"] and after["ldapd"] != kids["ldapd"]
    assert account_of(after["smtpd"])[0][0] == str(ids(SMTP)[0])
    assert account_of(after["ldapd"])[0][0] == str(ids(LDAP)[0])
    mail_arrives(g, "after the reload", 2)
    assert published()


def test_check_config_names_each_wrong_owner_and_mode(owned):
    g = owned
    key, db = os.path.join(g.dir, "master.key"), os.path.join(g.dir, "sealgate.db")
    spool_file = os.path.join(g.dir, "spool", "stray")
    open(spool_file, "w").close()  # root's, group root: smtpd could not read it
    os.chown(key, ids(SMTP)[0], -1)
    os.chmod(db, 0o644)
    r = g.cli("check-config")
    assert r.returncode == 1, r.stdout
    assert f"{key} belongs to another account" in r.stderr
    assert f"chown -R {USER} {g.dir}" in r.stderr  # the owner only: the groups stay
    assert f"{db} is open to every account (mode 0644)" in r.stderr
    assert f"chmod o-rwx {db}" in r.stderr
    assert f"{spool_file}: the spool is shared with smtpd's account {SMTP}" in r.stderr
    # the master refuses to start on the same grounds, with the same commands
    r = sgrig.run_cli([sgrig.SEALGATE_BIN, "run", "-c", g.conf], capture_output=True,
                      text=True, timeout=30)
    assert r.returncode == 1 and f"chmod o-rwx {db}" in r.stderr, r.stderr
    for cmd in re.findall(r"run `([^`]+)`", r.stderr):
        subprocess.run(cmd, shell=True, check=True)
    r = g.cli("check-config")
    assert r.returncode == 0, r.stderr


def test_an_instance_of_one_account_upgrades_with_the_printed_commands(gw_factory):
    """docs/admin-guide.md: an instance made before the role accounts (one account) turns
    them on with two settings and the commands check-config prints."""
    g = gw_factory(init_args=("--user", USER, "--one-account"))
    g.md = os.path.join(g.dir, "mail")
    for name in (SMTP, LDAP):  # made by a previous init on this machine, or now
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], capture_output=True)
    subprocess.run(["usermod", "--append", "--groups", SMTP, USER], check=True)
    g.start()
    mail_arrives(g, "before the separation", 1)  # a spool with files of the past
    g.stop()
    g.set(**{"gateway.smtp_user": SMTP, "gateway.ldap_user": LDAP})
    r = g.cli("check-config")
    assert r.returncode == 1
    assert f"{g.dir} must let smtpd's account through to the spool" in r.stderr, r.stderr
    assert "the spool is shared with smtpd's account" in r.stderr
    for cmd in re.findall(r"run `([^`]+)`", r.stderr):
        subprocess.run(cmd, shell=True, check=True)
    r = g.cli("check-config")
    assert r.returncode == 0, r.stderr
    g.start()
    kids = wait_roles(g)
    assert account_of(kids["smtpd"])[0][0] == str(ids(SMTP)[0])
    mail_arrives(g, "after the separation", 2)
    assert probe(SMTP, os.path.join(g.dir, "master.key")) == [errno.errorcode[errno.EACCES]]
