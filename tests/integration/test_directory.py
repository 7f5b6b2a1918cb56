"""Employees and the organisation's directory, against a real slapd (slapd_rig.py: StartTLS
with its own CA, an inetOrgPerson tree and an Active Directory-style variant): `sealgate
directory test`, employee login on the portal (wrong, empty, unknown, injected names, a
disabled account, the directory down), and the sync that revokes the certificates of employees
who left or were disabled, and nobody's when the directory cannot be reached."""
import re
import subprocess

import pytest

import sgrig
from slapd_rig import AD_FILTER
from test_portal import PASSWORD, Browser, register

INJECTIONS = ["*)(uid=*", "*", "alice)(|(uid=*", "al*", "alice\\2a"]


@pytest.fixture
def dirgw(gw_factory, slapd):
    g = gw_factory()
    g.set(**slapd.settings())
    g.slapd = slapd
    return g


def dtest(g, user, password=None):
    args = ["directory", "test", user] + (["--password-stdin"] if password is not None else [])
    return g.cli(*args, input=None if password is None else password + "\n")


def test_directory_test_cli_openldap(dirgw):
    r = dtest(dirgw, "alice", "alice-pw")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(StartTLS)" in r.stdout and "found: uid=alice,ou=people,dc=example,dc=com" in r.stdout
    assert "addresses: alice@example.com\n" in r.stdout and "bind: ok" in r.stdout
    r = dtest(dirgw, "juergen", "j\u00fcrgen-pw")  # non-ASCII name and password, UTF-8 both ways
    assert r.returncode == 0 and "J\u00fcrgen M\u00fcller-\u0141\u00f3d\u017a" in r.stdout, r.stdout
    assert "language: de" in r.stdout
    r = dtest(dirgw, "bob@example.com")
    assert r.returncode == 0 and "addresses: bob@example.com robert.baker@example.com" in r.stdout
    assert "bind: not tried" in r.stdout
    cases = [("alice", "wrong", "bind: denied: the directory refused the password"),
             ("alice", "", "bind: denied: an empty password is refused"),
             ("nobody", "x", "bind: denied: no employee matches this name"),
             ("dave", "dave-pw", "bind: disabled: the employee's account is disabled")]
    cases += [(name, "alice-pw", "bind: denied: no employee matches this name") for name in INJECTIONS]
    for user, pw, want in cases:
        r = dtest(dirgw, user, pw)
        assert r.returncode == 1 and want in r.stdout, (user, r.stdout, r.stderr)
        assert "found:" not in r.stdout or user == "dave", (user, r.stdout)
    r = dtest(dirgw, "alice", "wrong")
    assert "wrong" not in r.stdout + r.stderr  # the password never shows


def test_directory_test_cli_active_directory_schema(dirgw):
    dirgw.set(**{"directory.user_filter": AD_FILTER})
    r = dtest(dirgw, "carol@corp.example.com", "carol-pw")  # by userPrincipalName
    assert r.returncode == 0, r.stdout + r.stderr
    # proxyAddresses: SMTP: primary, smtp: alias, X400: ignored
    assert "addresses: carol@example.com c.clark@example.com\n" in r.stdout and "login: carol" in r.stdout
    r = dtest(dirgw, "frank", "frank-pw")  # userAccountControl 514: bit 2, disabled
    assert r.returncode == 1 and "account: disabled" in r.stdout and "bind: disabled" in r.stdout
    r = dtest(dirgw, "alice", "alice-pw")  # an inetOrgPerson, not objectClass user
    assert r.returncode == 1 and "no employee matches" in r.stdout


def test_directory_test_cli_errors(dirgw, slapd):
    dirgw.set(**{"directory.tls_ca": "/etc/ssl/certs/ca-certificates.crt"})  # not slapd's CA
    r = dtest(dirgw, "alice", "alice-pw")
    assert r.returncode == 1 and "cannot be reached" in r.stdout, r.stdout + r.stderr
    dirgw.set(**{"directory.tls_ca": slapd.ca, "directory.bind_dn": "cn=nobody,dc=example,dc=com"})
    r = dtest(dirgw, "alice")
    assert r.returncode == 1 and "refused the service account" in r.stderr, r.stderr
    dirgw.set(**{"directory.url": ""})
    r = dtest(dirgw, "alice")
    assert r.returncode == 1 and "directory.url is not set" in r.stderr


def login(b, name, pw):
    return b.post("/login", {"email": name, "password": pw})


@pytest.fixture
def dirportal(dirgw):
    dirgw.set(**{"portal.throttle_free_attempts": "20"})  # the refusals below are many
    dirgw.start()
    sgrig.wait_for(lambda: sgrig.port_open(dirgw.portal_port), 20, what="portal port")
    return dirgw


def test_employee_login_and_pages(dirportal):
    g = dirportal
    g.cli("cert", "issue", "bob@example.com")
    b = Browser(g.portal_port)
    r = login(b, "bob", "bob-pw")
    assert r.status == 303 and r.headers["Location"] == "/employee", r.text
    home = b.get("/employee")
    assert home.status == 200 and "Bob Baker" in home.text and "bob@example.com" in home.text
    assert "valid" in home.text and "<code>" in home.text  # the certificate issued above
    # Employees never see partner pages, and partners never see employee pages.
    for path in ("/account", "/compose", "/account/password"):
        r = b.get(path)
        assert r.status == 303 and r.headers["Location"] == "/employee", (path, r.status)
    assert b.get("/").headers["Location"] == "/employee"
    r = b.post("/account/channel", {"channel": "pdf"}, page_path="/employee")
    assert r.status == 303 and r.headers["Location"] == "/employee"
    partner = Browser(g.portal_port)
    register(g, partner)
    r = partner.get("/employee")
    assert r.status == 303 and r.headers["Location"] == "/account"
    # Log in by address and with a non-ASCII password; German page.
    j = Browser(g.portal_port)
    j.cookies["lang"] = "de"
    r = login(j, "juergen@example.com", "j\u00fcrgen-pw")
    assert r.status == 303, r.text
    page = j.get("/employee").text
    assert "J\u00fcrgen M\u00fcller-\u0141\u00f3d\u017a" in page and "Ihre Zertifikate" in page
    r = b.post("/logout", {}, page_path="/employee")
    assert r.status == 303 and b.get("/employee").headers["Location"] == "/login"
    audit = g.cli("audit").stdout
    assert re.search(r"employee-login\s+bob@example.com", audit), audit
    assert re.search(r"logout\s+bob@example.com", audit), audit


def test_employee_login_refusals(dirportal):
    g = dirportal
    cases = [("alice", "wrong", "the address (or user name) or the password is wrong"),
             ("alice", "", "the address (or user name) or the password is wrong"),
             ("nobody", "x", "the address (or user name) or the password is wrong"),
             ("alice@example.com", "bob-pw", "the address (or user name) or the password is wrong"),
             ("dave", "dave-pw", "Your account is disabled in the directory")]
    cases += [(name, "alice-pw", "the address (or user name) or the password is wrong")
              for name in INJECTIONS]
    for name, pw, want in cases:
        b = Browser(g.portal_port)
        r = login(b, name, pw)
        assert r.status == 200 and want in r.text, (name, r.status, r.text[-600:])
        assert "sg_session" not in b.cookies or b.get("/employee").status == 303, name
        assert "ou=people" not in r.text and "dc=example" not in r.text, name  # nothing leaks
    audit = g.cli("audit").stdout
    assert re.search(r"login-failed\s+nobody", audit) and "employee-disabled" in audit, audit
    assert "alice-pw" not in g.log() and "bob-pw" not in g.log()


def test_employee_lockout(dirportal):
    g = dirportal
    b = Browser(g.portal_port)
    statuses = [login(b, "alice", f"wrong{i}").status for i in range(24)]
    assert 429 in statuses, statuses
    r = login(b, "alice", "alice-pw")  # right, but locked: still refused
    assert r.status == 429 and "Too many failed attempts" in r.text
    assert "lockout" in g.cli("audit").stdout


def test_employee_login_directory_down(dirportal):
    g = dirportal
    g.slapd.stop()
    b = Browser(g.portal_port)
    r = login(b, "alice", "alice-pw")
    assert r.status == 503 and "The directory cannot be reached; try again later." in r.text, r.text
    assert b.get("/employee").headers["Location"] == "/login"
    assert "directory-down" in g.cli("audit").stdout
    # A partner still logs in: the directory is only for employees.
    p = Browser(g.portal_port)
    register(g, p)
    assert login(Browser(g.portal_port), "partner@partner.test", PASSWORD).status == 303


def crl_text(g):
    r = g.cli("ca", "crl")
    assert r.returncode == 0, r.stderr
    return subprocess.run(["openssl", "crl", "-noout", "-text"], input=r.stdout, text=True,
                          capture_output=True, check=True).stdout


def serial_of(g, addr):
    r = g.cli("cert", "list", addr)
    m = re.search(r"\b([0-9A-F]{16,})\b", r.stdout)
    assert m, r.stdout
    return m.group(1)


EMPLOYEES = ["alice@example.com", "bob@example.com", "robert.baker@example.com",
             "dave@example.com", "erin@example.com", "carol@example.com", "frank@example.com"]


def test_sync_revokes_removed_and_disabled_not_when_down(dirportal):
    g, slapd = dirportal, dirportal.slapd
    for a in EMPLOYEES:
        assert g.cli("cert", "issue", a).returncode == 0
    serials = {a: serial_of(g, a) for a in EMPLOYEES}
    erin = Browser(g.portal_port)
    assert login(erin, "erin", "erin-pw").status == 303
    assert erin.get("/employee").status == 200
    slapd.modify("dn: uid=erin,ou=people,dc=example,dc=com\nchangetype: delete\n")
    r = g.cli("directory", "sync", "--dry-run")
    assert r.returncode == 0 and "erin@example.com: not in the directory: 1 certificate(s) would" in r.stdout
    assert "would be revoked" in r.stdout and serials["erin@example.com"] not in crl_text(g)
    r = g.cli("directory", "sync")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "erin@example.com: not in the directory: 1 certificate(s) revoked" in r.stdout
    assert "dave@example.com: account disabled" in r.stdout  # ppolicy lock
    assert "frank@example.com: account disabled" in r.stdout  # AD userAccountControl bit 2
    crl = crl_text(g)
    for a in ("erin@example.com", "dave@example.com", "frank@example.com"):
        i = crl.find(serials[a])
        assert i >= 0 and "Cessation Of Operation" in crl[i:i + 300], (a, crl)
    for a in ("alice@example.com", "bob@example.com", "robert.baker@example.com", "carol@example.com"):
        assert serials[a] not in crl, a
    assert erin.get("/employee").headers["Location"] == "/login"  # her session ended
    assert "directory-left" in g.cli("audit").stdout
    # No longer published in the gateway's LDAP directory; alice still is.
    def published(addr):
        out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://127.0.0.1:{g.ldap_port}",
                              "-b", g.cli("config", "get", "ldap.base_dn").stdout.strip(),
                              f"(mail={addr})", "userCertificate;binary"],
                             capture_output=True, text=True).stdout
        return "userCertificate;binary::" in out
    assert sgrig.wait_for(lambda: not published("erin@example.com"), 20, what="erin unpublished")
    assert published("alice@example.com")
    # The directory down: nothing is revoked, however long.
    slapd.stop()
    r = g.cli("directory", "sync")
    assert r.returncode == 1 and "cannot be reached" in r.stderr and "nothing was revoked" in r.stderr
    assert serials["alice@example.com"] not in crl_text(g)
    assert "revoked" not in g.cli("cert", "list", "alice@example.com").stdout


def test_sync_by_the_tick_role_and_address_change(dirgw):
    g, slapd = dirgw, dirgw.slapd
    g.set(**{"directory.sync_interval": "1s", "gateway.tick_interval": "1s"})
    for a in ("alice@example.com", "bob@example.com", "robert.baker@example.com"):
        g.cli("cert", "issue", a)
    g.start()
    g.wait_log(r"directory sync: 7 employee\(s\)", timeout=30)
    slapd.modify("dn: uid=bob,ou=people,dc=example,dc=com\nchangetype: modify\n"
                 "delete: mail\nmail: robert.baker@example.com\n")
    g.wait_log(r"directory sync: robert\.baker@example\.com: .*1 certificate\(s\) revoked", timeout=30)
    assert "revoked" in g.cli("cert", "list", "robert.baker@example.com").stdout
    assert "revoked" not in g.cli("cert", "list", "bob@example.com").stdout
    slapd.stop()
    g.wait_log(r"directory sync not done \(unreachable\)", timeout=30)
    assert "revoked" not in g.cli("cert", "list", "alice@example.com").stdout
