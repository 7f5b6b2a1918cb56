"""Key discovery from DNS (issue 26 part 3): SMIMEA (RFC 8162) and OPENPGPKEY (RFC 7929)
records in the test's DNSSEC-signed zone (dns_rig.py: unbound, ldns-signzone) are used -> the
partner's next mail is S/MIME or PGP/MIME to them; the same records in an unsigned zone are
ignored, a tampered (bogus) answer is a failure, a malformed SMIMEA record is refused. What is
not used leaves the mail on its way without discovery (held for the SecurePDF registration)."""

import os
import re
import smtplib
import subprocess

import pytest

import dns_rig as rigmod
from lookup_rig import Gpg, Pki
from sgrig import maildir_messages, wait_maildir


def send(port, to):
    msg = (f"From: alice@example.com\r\nTo: {to}\r\nSubject: [secure] figures\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nDNS figures: 42\r\n").encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.com", [to], msg)


def dns_line(g, addr):
    lines = re.findall(rf"key lookup <{re.escape(addr)}> dns: .*", g.log())
    assert len(lines) == 1, lines
    return lines[0]


def held(g, addr):
    g.wait_log(rf"to=<{re.escape(addr)}>.*status=held", timeout=40)


def mail(g, addr):
    box = os.path.join(g.md_ext, addr)
    wait_maildir(box, 1)
    return maildir_messages(box)[0]


@pytest.fixture
def dnsgw(gw_factory, workdir, dns_rig):
    pki = Pki(str(workdir))
    g = gw_factory()
    g.md_int, g.md_ext = os.path.join(workdir, "md-int"), os.path.join(workdir, "md-ext")
    g.set(**dns_rig.settings())
    g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}",
             "policy.key_lookup": "dns", "lookup.max_wait": "5s"})
    assert g.cli("ca", "trust", pki.ca).returncode == 0
    assert g.cli("cert", "issue", "alice@example.com").returncode == 0
    assert g.cli("pgp", "generate", "alice@example.com").returncode == 0
    g.pki = pki
    return g


def test_smimea_in_the_signed_zone_is_used(dnsgw, dns_rig, workdir):
    addr = f"sam@{dns_rig.zone_name('signed')}"
    crt, key = dnsgw.pki.cert(addr)
    dns_rig.add_smimea("signed", "sam", Pki.der(crt))
    dns_rig.commit()
    dnsgw.start()
    send(dnsgw.port, addr)
    raw = mail(dnsgw, addr)
    assert b"application/pkcs7-mime" in raw and b"DNS figures" not in raw
    (workdir / "enc.eml").write_bytes(raw)
    clear = subprocess.run(["openssl", "cms", "-decrypt", "-in", str(workdir / "enc.eml"),
                            "-inkey", key, "-recip", crt], capture_output=True, timeout=60)
    assert b"DNS figures: 42" in clear.stdout
    assert "found" in dns_line(dnsgw, addr)


def test_openpgpkey_in_the_signed_zone_is_used(dnsgw, dns_rig, workdir):
    addr = f"pia@{dns_rig.zone_name('signed')}"
    gpg = Gpg(str(workdir / "gnupg"))
    try:
        gpg.new_key(addr)
        dns_rig.add_openpgpkey("signed", "pia", gpg.export(addr))
        dns_rig.commit()
        dnsgw.start()
        send(dnsgw.port, addr)
        raw = mail(dnsgw, addr)
        armor = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", raw, re.S)
        assert armor and b"DNS figures: 42" in gpg.decrypt(armor.group(0))
        assert "found" in dns_line(dnsgw, addr)
    finally:
        gpg.close()


def test_records_in_the_unsigned_zone_are_ignored(dnsgw, dns_rig, workdir):
    addr = f"uma@{dns_rig.zone_name('plain')}"
    crt, _ = dnsgw.pki.cert(addr)
    dns_rig.add_smimea("plain", "uma", Pki.der(crt))
    dns_rig.commit()
    dnsgw.start()
    send(dnsgw.port, addr)
    held(dnsgw, addr)
    line = dns_line(dnsgw, addr)
    assert "not DNSSEC-secure (insecure)" in line and "answer refused" in line, line


def test_bogus_answer_is_a_failure(dnsgw, dns_rig):
    addr = f"bob@{dns_rig.zone_name('signed')}"
    crt, _ = dnsgw.pki.cert(addr)
    der = Pki.der(crt)
    dns_rig.add("signed", rigmod.hashed_owner("bob", "_smimecert"), "SMIMEA",
                f"3 0 0 {der.hex()}", tamper=True)
    dns_rig.commit()
    dnsgw.start()
    send(dnsgw.port, addr)
    held(dnsgw, addr)
    line = dns_line(dnsgw, addr)
    assert "no answer" in line and "bogus" in line.lower(), line


def test_malformed_smimea_record_is_refused(dnsgw, dns_rig):
    addr = f"mal@{dns_rig.zone_name('signed')}"
    dns_rig.add_generic("signed", rigmod.hashed_owner("mal", "_smimecert"), 53,
                        b"\x03\x00\x00\x30\x82\xff")  # a certificate's first bytes only
    dns_rig.commit()
    dnsgw.start()
    send(dnsgw.port, addr)
    held(dnsgw, addr)
    line = dns_line(dnsgw, addr)
    assert "answer refused" in line, line
