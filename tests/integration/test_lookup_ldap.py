"""Key discovery from a CA directory (issue 26 part 3): a real slapd holds, CA-directory style,
certificates under ou=cadir; with policy.key_lookup = ldap the partner's next mail is S/MIME to
the certificate found (openssl decrypts it), the answer is cached (a second mail asks nobody),
a miss is cached too, and hostile answers (a certificate for another address, one under an
untrusted CA, an expired one, a server that never answers, malformed LDAP) are refused with a
clear log line while the mail takes the way it would have taken without discovery (held for the
partner's SecurePDF registration, with an invitation), not later than lookup.max_wait."""

import base64
import os
import re
import smtplib
import subprocess
import time

import pytest

import sgrig
from lookup_rig import Pki, RawServer
from sgrig import maildir_messages, wait_maildir
from slapd_rig import SUFFIX

BASE = f"ou=cadir,{SUFFIX}"


def send(port, to, subject="[secure] figures", body="secret figures: 42\r\n"):
    msg = (f"From: alice@example.com\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.com", [to], msg)


def publish(slapd, entries):
    """entries: [(mail, DER certificate or None)] as inetOrgPerson entries under ou=cadir."""
    ldif = [f"dn: {BASE}", "changetype: add", "objectClass: organizationalUnit", "ou: cadir", ""]
    for i, (mail, der) in enumerate(entries):
        ldif += [f"dn: cn=holder{i},{BASE}", "changetype: add", "objectClass: inetOrgPerson",
                 f"cn: holder{i}", "sn: holder", f"mail: {mail}"]
        if der is not None:
            ldif.append("userCertificate;binary:: " + base64.b64encode(der).decode())
        ldif.append("")
    slapd.modify("\n".join(ldif) + "\n")


def lookups(g, addr):
    return re.findall(rf"key lookup <{re.escape(addr)}> ldap: .*", g.log())


def delivered(g, addr, n=1):
    box = os.path.join(g.md_ext, addr)
    wait_maildir(box, n)
    return maildir_messages(box)


def held(g, addr, n=1):
    """The recipient's mail was held for the SecurePDF registration: what happens to an
    unregistered partner without certificate or key. Returns the log lines."""
    rx = rf"to=<{re.escape(addr)}>.*status=held"
    sgrig.wait_for(lambda: len(re.findall(rx, g.log())) >= n, 30, what=f"{n} held for {addr}")
    return re.findall(rf"to=<{re.escape(addr)}>.*status=held.*", g.log())


@pytest.fixture
def pki(workdir):
    return Pki(str(workdir))


@pytest.fixture
def ldgw(gw_factory, workdir, slapd, pki):
    """A gateway asking slapd's ou=cadir, trusting the partner CA. The partners are not
    registered: without discovery their mail is held and they are invited to SecurePDF."""
    g = gw_factory()
    g.md_int, g.md_ext = os.path.join(workdir, "md-int"), os.path.join(workdir, "md-ext")
    g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}",
             "policy.key_lookup": "ldap", "lookup.ldap": f"ldap://127.0.0.1:{slapd.port}/{BASE}",
             "lookup.max_wait": "3s"})
    assert g.cli("ca", "trust", pki.ca).returncode == 0
    assert g.cli("cert", "issue", "alice@example.com").returncode == 0
    return g


def test_directory_certificate_makes_the_next_mail_smime(ldgw, slapd, pki, workdir):
    crt, key = pki.cert("bob@partner.test")
    publish(slapd, [("bob@partner.test", Pki.der(crt))])
    out = ldgw.cli("lookup", "bob@partner.test")
    assert out.returncode == 0 and re.search(r"^ldap\s+found\s", out.stdout, re.M), out.stdout
    ldgw.start()
    send(ldgw.port, "bob@partner.test")
    raw = delivered(ldgw, "bob@partner.test")[0]
    assert b"application/pkcs7-mime" in raw and b"secret figures" not in raw
    path = workdir / "enc.eml"
    path.write_bytes(raw)
    clear = subprocess.run(["openssl", "cms", "-decrypt", "-in", str(path), "-inkey", key,
                            "-recip", crt], capture_output=True, timeout=60)
    assert clear.returncode == 0 and b"secret figures: 42" in clear.stdout
    # the answer is cached: the second mail asks nobody
    send(ldgw.port, "bob@partner.test", body="second\r\n")
    raws = delivered(ldgw, "bob@partner.test", 2)
    assert all(b"application/pkcs7-mime" in r for r in raws)
    assert len(lookups(ldgw, "bob@partner.test")) == 1, lookups(ldgw, "bob@partner.test")
    # nothing of it reached the certificate table: discovered material is not "imported"
    assert "bob@partner.test" not in ldgw.cli("cert", "list").stdout


def test_a_miss_is_cached_and_the_mail_held_for_securepdf(ldgw, slapd):
    publish(slapd, [])
    ldgw.start()
    send(ldgw.port, "carol@partner.test")
    held(ldgw, "carol@partner.test")
    send(ldgw.port, "carol@partner.test", body="again\r\n")
    held(ldgw, "carol@partner.test", 2)
    hits = lookups(ldgw, "carol@partner.test")
    assert len(hits) == 1 and "nothing" in hits[0], hits


def test_hostile_directory_answers_are_refused(ldgw, slapd, pki, workdir):
    other = Pki(str(workdir), "rogue-ca", "Rogue CA")
    bob_crt, _ = pki.cert("bob@partner.test")
    frank_crt, _ = other.cert("frank@partner.test")
    olga_crt, _ = pki.cert("olga@partner.test", days=-1)
    publish(slapd, [("eve@partner.test", Pki.der(bob_crt)),      # another address's certificate
                    ("frank@partner.test", Pki.der(frank_crt)),  # chain to nobody we trust
                    ("olga@partner.test", Pki.der(olga_crt))])   # expired
    ldgw.start()
    for who in ("eve", "frank", "olga"):
        send(ldgw.port, f"{who}@partner.test")
    for who, why in (("eve", "names another address"), ("frank", "untrusted chain"),
                     ("olga", "expired")):
        held(ldgw, f"{who}@partner.test")
        lines = lookups(ldgw, f"{who}@partner.test")
        assert len(lines) == 1 and "answer refused" in lines[0] and why in lines[0], lines


@pytest.mark.parametrize("reply", [None, b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01",
                                   b"HTTP/1.0 200 OK\r\n\r\nnot ldap at all"],
                         ids=["never-answers", "claims-2-GB", "not-ldap"])
def test_silent_or_malformed_directory_means_securepdf_in_time(ldgw, reply):
    srv = RawServer(sgrig.free_port(), reply)
    try:
        ldgw.set(**{"lookup.ldap": f"ldap://127.0.0.1:{srv.port}/{BASE}", "lookup.max_wait": "2s"})
        ldgw.start()
        t0 = time.monotonic()
        send(ldgw.port, "bob@partner.test")
        line = held(ldgw, "bob@partner.test")[0]
        lines = lookups(ldgw, "bob@partner.test")
        assert len(lines) == 1 and "no answer" in lines[0], lines
        assert srv.accepted >= 1
        # the lookup gave up at lookup.max_wait: the queue manager's own delay says so
        delay = float(re.search(r"delay=([0-9.]+)", line).group(1))
        assert delay < 2 + 6, (delay, time.monotonic() - t0)
    finally:
        srv.stop()
