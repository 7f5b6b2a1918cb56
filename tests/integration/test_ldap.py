"""The certificate directory (ldapd) against real clients: ldapsearch (ldap-utils) and Debian's
python3-ldap. Outlook's name-resolution filter, Thunderbird's certificate lookup, StartTLS,
binds, only valid certificates published, changes without a restart, and hostile input:
malformed BER, oversized PDUs, deep filters, half-open and surplus connections."""

import base64
import os
import re
import socket
import subprocess
import time

import ldap
import pytest

import sgrig

BASE = "dc=example,dc=com"
OUTLOOK = "(&(mail=*)(|(mail={p}*)(|(cn={p}*)(|(sn={p}*)(givenName={p}*)))))"
NOTICE_OID = b"1.3.6.1.4.1.1466.20036"
POPULATE = os.path.join(os.path.dirname(sgrig.SEALGATE_BIN), "tests", "ldapd_populate")


def populate(g, *args):
    r = subprocess.run([POPULATE, "-c", g.conf, *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def ldapsearch(g, filt, *attrs, base=BASE, extra=(), env=None):
    argv = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", f"ldap://127.0.0.1:{g.ldap_port}",
            "-b", base, *extra, filt, *attrs]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})


def dns(out):
    return sorted(line[4:] for line in out.splitlines() if line.startswith("dn: "))


def wait_ldap(g):
    sgrig.wait_for(lambda: sgrig.port_open(g.ldap_port), 20, what="ldapd listening")
    g.wait_log(r"ldapd\[\d+\]: ready", 20)


@pytest.fixture
def directory(gw_factory):
    """A running gateway with alice (internal, RSA, instance CA), bob (external, proxy) and
    30 numbered internal users. Anonymous clients may search freely here (these tests are
    about the search engine); test_ldap_anonymous.py tests the default, lookups only."""
    g = gw_factory()
    g.set(**{"ldap.base_dn": BASE, "ldap.idle_timeout": "3s", "ldap.max_connections": "8",
             "ldap.anonymous_search": "full"})
    populate(g, "--prefix", "alice", "--cn", "Alice Example", "--ca", "--rsa")
    populate(g, "--prefix", "bob", "--domain", "partner.test", "--kind", "external", "--ca",
             "--rsa")
    populate(g, "--count", "30", "--prefix", "user")
    g.start()
    wait_ldap(g)
    return g


def test_outlook_filter_finds_the_right_entries(directory):
    r = ldapsearch(directory, OUTLOOK.format(p="ali"), "mail", "cn")
    assert r.returncode == 0, r.stderr
    assert dns(r.stdout) == [f"mail=alice@example.com,{BASE}"]
    assert "cn: Alice Example" in r.stdout
    # cn and sn of a partner come from the proxy certificate; sn prefix "exam" finds alice.
    assert dns(ldapsearch(directory, OUTLOOK.format(p="EXAM"), "mail").stdout) == \
        [f"mail=alice@example.com,{BASE}"]
    assert len(dns(ldapsearch(directory, OUTLOOK.format(p="user0001"), "mail").stdout)) == 10
    assert len(dns(ldapsearch(directory, OUTLOOK.format(p="given0002"), "mail").stdout)) == 10
    assert dns(ldapsearch(directory, OUTLOOK.format(p="bob"), "mail").stdout) == \
        [f"mail=bob@partner.test,{BASE}"]
    assert dns(ldapsearch(directory, OUTLOOK.format(p="nobody"), "mail").stdout) == []


def test_python_ldap_outlook_and_size_limit(directory):
    conn = ldap.initialize(f"ldap://127.0.0.1:{directory.ldap_port}")
    conn.protocol_version = 3
    conn.simple_bind_s("", "")
    res = conn.search_ext_s(BASE, ldap.SCOPE_SUBTREE, OUTLOOK.format(p="user"), ["mail"])
    assert len(res) == 30
    with pytest.raises(ldap.SIZELIMIT_EXCEEDED):
        conn.search_ext_s(BASE, ldap.SCOPE_SUBTREE, OUTLOOK.format(p="user"), ["mail"],
                          sizelimit=5)
    dse = conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)",
                        ["namingContexts", "supportedLDAPVersion", "supportedExtension"])
    attrs = dse[0][1]
    assert attrs["namingContexts"] == [BASE.encode()]
    assert attrs["supportedLDAPVersion"] == [b"3"]
    assert b"1.3.6.1.4.1.1466.20037" in attrs["supportedExtension"]
    with pytest.raises(ldap.UNWILLING_TO_PERFORM):
        conn.add_s(f"cn=x,{BASE}", [("objectClass", [b"top"])])
    conn.unbind_s()


def test_thunderbird_certificate_lookup(directory, workdir):
    conn = ldap.initialize(f"ldap://127.0.0.1:{directory.ldap_port}")
    res = conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(mail=Alice@Example.com)",
                        ["usercertificate;binary"])
    assert len(res) == 1
    der = res[0][1]["userCertificate;binary"][0]
    pem = workdir / "alice.pem"
    subprocess.run(["openssl", "x509", "-inform", "DER", "-out", str(pem)], input=der, check=True)
    subj = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-subject", "-email"],
                          capture_output=True, text=True, check=True).stdout
    assert "alice@example.com" in subj
    # The certificate works for S/MIME encryption as Thunderbird would use it.
    msg = workdir / "msg.txt"
    msg.write_text("Subject: hi\r\n\r\nsecret\r\n")
    enc = subprocess.run(["openssl", "cms", "-encrypt", "-aes256", "-in", str(msg), str(pem)],
                         capture_output=True)
    assert enc.returncode == 0 and b"application/pkcs7-mime" in enc.stdout
    # userSMIMECertificate (Outlook's first choice): PKCS#7 with the certificate and the CA,
    # under either spelling.
    for name in ("userSMIMECertificate", "userSMIMECertificate;binary"):
        res = conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(mail=alice@example.com)", [name])
        p7 = res[0][1][name][0]
        certs = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout"],
                               input=p7, capture_output=True, check=True).stdout
        assert certs.count(b"subject=") == 2, certs


def test_only_valid_certificates_and_changes_without_restart(gw_factory):
    g = gw_factory()
    g.set(**{"ldap.base_dn": BASE, "ldap.anonymous_search": "full"})
    populate(g, "--prefix", "expired", "--from", "-30", "--to", "-1")
    populate(g, "--prefix", "future", "--from", "5", "--to", "30")
    populate(g, "--prefix", "revoked", "--revoked")
    populate(g, "--prefix", "harvested", "--domain", "partner.test", "--kind", "external",
             "--revoked")
    populate(g, "--prefix", "valid")
    g.start()
    wait_ldap(g)
    assert dns(ldapsearch(g, "(mail=*)", "mail").stdout) == [f"mail=valid@example.com,{BASE}"]
    populate(g, "--prefix", "newcomer", "--cn", "New Comer")
    found = sgrig.wait_for(lambda: "newcomer" in ldapsearch(g, OUTLOOK.format(p="new")).stdout,
                           10, what="new entry visible")
    assert found


def test_starttls_with_the_instance_certificate(directory):
    r = ldapsearch(directory, "(mail=alice@example.com)", "mail", extra=("-ZZ",),
                   env={"LDAPTLS_CACERT": directory.ca, "LDAPTLS_REQCERT": "demand"})
    assert r.returncode == 0, r.stderr
    assert dns(r.stdout) == [f"mail=alice@example.com,{BASE}"]


def test_simple_bind_when_anonymous_is_off(gw_factory, workdir):
    g = gw_factory()
    pw = workdir / "ldap.pw"
    pw.write_text("reader-secret\n")
    g.set(**{"ldap.base_dn": BASE, "ldap.allow_anonymous": "no",
             "ldap.bind_dn": f"cn=reader,{BASE}", "ldap.bind_password_file": str(pw)})
    populate(g, "--prefix", "alice")
    g.start()
    wait_ldap(g)
    r = ldapsearch(g, "(mail=*)", "mail")  # ldapsearch -x binds anonymously first
    assert r.returncode == 48, r.stderr  # inappropriateAuthentication
    conn = ldap.initialize(f"ldap://127.0.0.1:{g.ldap_port}")
    with pytest.raises(ldap.INSUFFICIENT_ACCESS):  # no bind at all
        conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(mail=*)", ["mail"])
    conn.unbind_s()
    r = ldapsearch(g, "(mail=*)", "mail", extra=("-D", f"cn=reader,{BASE}", "-w", "wrong"))
    assert r.returncode == 49
    r = ldapsearch(g, "(mail=*)", "mail", extra=("-D", f"cn=reader,{BASE}", "-w", "reader-secret"))
    assert r.returncode == 0 and dns(r.stdout) == [f"mail=alice@example.com,{BASE}"]


# bindRequest, messageID 1, LDAPv3, empty name, simple empty password (anonymous).
ANON_BIND = b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"


def raw(g, data, timeout=8):
    """Sends data, returns everything until the server closes."""
    with socket.create_connection(("127.0.0.1", g.ldap_port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
        raise AssertionError("server did not close the connection")


def notice_code(reply):
    """The resultCode of a notice of disconnection (an ExtendedResponse with msgid 0)."""
    assert reply[0] == 0x30 and NOTICE_OID in reply, reply
    i = reply.index(b"\x0a\x01")  # ENUMERATED, one byte
    return reply[i + 2]


def test_hostile_input_gets_clean_errors(directory):
    g = directory
    assert notice_code(raw(g, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == 2  # protocolError
    assert notice_code(raw(g, b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01")) == 11  # too large
    assert notice_code(raw(g, b"\x30\x03\x02\x01\x00")) == 2  # msgid 0, no operation
    # Half-open: part of a request, then silence, ends with a notice at the idle timeout.
    t0 = time.monotonic()
    assert notice_code(raw(g, b"\x30\x20\x02\x01\x01\x63", timeout=15)) == 11
    assert 2 <= time.monotonic() - t0 < 14  # idle timeout 3 s; generous for a loaded ASan run
    # A filter nested deeper than the ceiling is refused, and the connection keeps working.
    deep = "(!" * 40 + "(mail=x)" + ")" * 40
    r = ldapsearch(g, deep, "mail")
    assert r.returncode == 11, r.stderr  # adminLimitExceeded
    wide = "(|" + "(cn=x)" * 300 + ")"
    assert ldapsearch(g, wide, "mail").returncode == 11
    assert ldapsearch(g, "(mail=alice@example.com)").returncode == 0
    assert not sgrig.log_problems(g.log())


def test_surplus_connections_are_told_busy(directory):
    g = directory
    # The fixture's 3 s idle timeout would free held slots on a slow (sanitized, loaded) run
    # before the ninth connection arrives: hold them under a long one.
    g.set(**{"ldap.idle_timeout": "60s"})
    g.stop()
    g.start()
    # The new ldapd's own ready line (no probe connection: it would take one of the eight slots)
    sgrig.wait_for(lambda: len(re.findall(r"ldapd\[\d+\]: ready", g.log())) >= 2, 20,
                   what="the restarted ldapd ready")
    held = [socket.create_connection(("127.0.0.1", g.ldap_port), timeout=10) for _ in range(8)]
    try:
        # Each held connection gets its bindResponse (an anonymous bind): ldapd has taken all
        # eight, so the ninth meets a full house (no sleep guessing how long accepting takes).
        for s in held:
            s.sendall(ANON_BIND)
            assert s.recv(4096)[5:6] == b"\x61", "a held connection was not bound"
        assert notice_code(raw(g, b"")) == 51  # busy
    finally:
        for s in held:
            s.close()
    sgrig.wait_for(lambda: ldapsearch(g, "(mail=alice@example.com)").returncode == 0, 10,
                   what="ldapd answers again")


def test_cert_commands_publish_and_revoke(gw_factory):
    """The real path: `sealgate cert issue` and `cert proxy` publish, `cert revoke` withdraws."""
    g = gw_factory()
    g.set(**{"ldap.base_dn": BASE, "ldap.anonymous_search": "full"})
    g.start()
    wait_ldap(g)
    user, partner = f"carol@{sgrig.DOMAIN}", "dan@partner.test"
    for args in (("cert", "issue", user), ("cert", "proxy", partner)):
        r = g.cli(*args)
        assert r.returncode == 0, r.stdout + r.stderr

    def visible():
        return dns(ldapsearch(g, "(mail=*)", "mail").stdout)
    want = sorted([f"mail={user},{BASE}", f"mail={partner},{BASE}"])
    assert sgrig.wait_for(lambda: visible() == want, 10, what="issued and proxy certificates")
    r = g.cli("cert", "revoke", user)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sgrig.wait_for(lambda: visible() == [f"mail={partner},{BASE}"], 10,
                          what="revoked certificate withdrawn")
