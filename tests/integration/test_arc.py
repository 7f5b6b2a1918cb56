"""ARC after inbound decryption (RFC 8617, issue 25): a partner's S/MIME message carrying a
valid DKIM signature of its sender is decrypted by sealgate for alice; sealgate checked that
signature before the change (libopendkim, keys from dkim.verify_keys_file) and adds an ARC set
signed with example.com's key, which dkimpy's ARC verifier accepts as cv=pass, with the
sender's DKIM result in ARC-Authentication-Results; a byte changed afterwards fails; a
broken sender signature is reported as such; Authentication-Results of a trusted upstream
(arc.trusted_authserv_ids) are carried over, an untrusted one's are not."""

import base64
import os
import re
import smtplib
import subprocess

import dkim
import pytest

from sgrig import maildir_messages, wait_maildir


def run(*args, input=None):
    r = subprocess.run(list(args), capture_output=True, input=input, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout


@pytest.fixture
def arc_gw(gw_factory, workdir):
    from conftest import maildir_routes
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    for args in (("cert", "issue", "alice@example.com"),
                 ("dkim", "generate", "example.com", "--selector", "gw")):
        r = g.cli(*args)
        assert r.returncode == 0, r.stderr
    (workdir / "alice.crt").write_text(g.cli("cert", "export", "alice@example.com").stdout)
    # the partner's DKIM key, published to sealgate through a keys file instead of DNS
    run("openssl", "genrsa", "-out", str(workdir / "partner.key"), "2048")
    der = run("openssl", "rsa", "-in", str(workdir / "partner.key"), "-pubout", "-outform", "DER")
    partner_rec = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    (workdir / "keys.txt").write_text(f"p1._domainkey.partner.test {partner_rec}\n")
    g.set(**{"dkim.verify_keys_file": str(workdir / "keys.txt"),
             "arc.trusted_authserv_ids": "mx.example.com"})
    recs = {"p1._domainkey.partner.test.": partner_rec.encode()}
    out = g.cli("dkim", "show", "example.com").stdout.split("\n")[0]
    recs[out.split()[0]] = "".join(re.findall(r'"([^"]*)"', out)).encode()
    g.recs = recs
    return g


def dnsfunc(recs):
    def f(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return recs.get(name if name.endswith(".") else name + ".")
    return f


def partner_mail(g, workdir, subject, extra=b"", tamper=False, hop=None):
    """bob's client encrypts to alice, his server DKIM-signs the result (partner.test, p1);
    with hop, a forwarder (hop.partner.test) then adds ARC set i=1 made by dkimpy's arc_sign,
    and hop(msg) may change the message afterwards."""
    (workdir / "content.eml").write_bytes(b"Content-Type: text/plain\r\n\r\nquarterly figures: 42\r\n")
    enc = run("openssl", "cms", "-encrypt", "-in", str(workdir / "content.eml"), "-aes256",
              "-from", "bob@partner.test", "-to", "alice@example.com", "-subject", subject,
              str(workdir / "alice.crt"))
    enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    enc = b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + subject.encode() + b"@partner.test>\r\n" + enc
    sig = dkim.sign(enc, b"p1", b"partner.test", (workdir / "partner.key").read_bytes(),
                    canonicalize=(b"relaxed", b"relaxed"))
    msg = extra + sig + enc
    if tamper:  # a hop on the way changed the subject: the sender's signature no longer verifies
        msg = msg.replace(subject.encode(), subject.encode() + b"!", 1)
    if hop is not None:
        msg = b"Authentication-Results: hop.partner.test; dkim=pass header.d=partner.test\r\n" + msg
        arc = dkim.arc_sign(msg, b"p1", b"partner.test", (workdir / "partner.key").read_bytes(),
                            b"hop.partner.test")
        assert len(arc) == 3, arc
        msg = hop(b"".join(arc) + msg)
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("bob@partner.test", ["alice@example.com"], msg)


def alice_gets(g, n=1):
    box = os.path.join(g.md_int, "alice@example.com")
    wait_maildir(box, n)
    return maildir_messages(box)[n - 1]


def test_arc_after_decryption_verifies_with_senders_dkim_result(arc_gw, workdir):
    g = arc_gw.start()
    partner_mail(g, workdir, "arc1",
                 extra=b"Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=partner.test\r\n"
                       b"Authentication-Results: evil.example; dmarc=pass header.from=partner.test\r\n")
    raw = alice_gets(g)
    assert b"quarterly figures: 42" in raw  # decrypted
    cv, results, reason = dkim.arc_verify(raw, dnsfunc=dnsfunc(g.recs))
    assert cv == b"pass", (cv, reason, raw[:3000])
    aar = re.search(rb"^ARC-Authentication-Results: (.*?)\n(?=\S)", raw, re.M | re.S).group(1)
    aar = re.sub(rb"\s+", b" ", aar)
    assert aar.startswith(b"i=1; gw.example.com;"), aar
    assert b"dkim=pass header.d=partner.test header.s=p1" in aar, aar
    assert b"spf=pass smtp.mailfrom=partner.test" in aar, aar
    assert b"dmarc=pass" not in aar, aar       # evil.example is not trusted
    assert b"cv=none" in raw and b"d=example.com" in raw
    # one byte of the body changed after sealgate: the ARC chain no longer holds
    i = raw.index(b"quarterly figures: 42")
    bad = raw[:i] + b"Q" + raw[i + 1:]
    assert dkim.arc_verify(bad, dnsfunc=dnsfunc(g.recs))[0] == b"fail"
    # the sender's own signature is what the change broke (why ARC is needed)
    assert not dkim.verify(raw, dnsfunc=dnsfunc(g.recs))


def test_broken_sender_signature_is_reported_as_fail(arc_gw, workdir):
    g = arc_gw.start()
    partner_mail(g, workdir, "arc2", tamper=True)
    raw = alice_gets(g)
    assert dkim.arc_verify(raw, dnsfunc=dnsfunc(g.recs))[0] == b"pass"
    aar = re.sub(rb"\s+", b" ", re.search(rb"^ARC-Authentication-Results: (.*?)\n(?=\S)", raw,
                                            re.M | re.S).group(1))
    assert b"dkim=fail" in aar and b"header.d=partner.test" in aar, aar


def test_no_key_no_arc_and_a_log_line(arc_gw, workdir):
    assert arc_gw.cli("dkim", "delete", "example.com", "gw").returncode == 0
    g = arc_gw.start()
    partner_mail(g, workdir, "arc3")
    raw = alice_gets(g)
    assert b"ARC-Seal" not in raw and b"quarterly figures: 42" in raw
    g.wait_log(r"arc: not sealed, recipient domain example\.com: no key for it")


def arc_sets(raw):
    """{instance: ARC-Seal value} of raw, unfolded."""
    seals = re.findall(rb"^ARC-Seal: (.*?)\n(?=\S)", raw, re.M | re.S)
    return {int(re.search(rb"i=(\d+)", v).group(1)): re.sub(rb"\s+", b" ", v) for v in seals}


def test_second_instance_over_a_passing_chain(arc_gw, workdir):
    g = arc_gw.start()
    partner_mail(g, workdir, "arc4", hop=lambda m: m)
    raw = alice_gets(g)
    assert b"quarterly figures: 42" in raw  # decrypted
    seals = arc_sets(raw)
    assert sorted(seals) == [1, 2], seals
    assert b"cv=pass" in seals[2] and b"d=example.com" in seals[2], seals[2]
    cv, results, reason = dkim.arc_verify(raw, dnsfunc=dnsfunc(g.recs))
    assert cv == b"pass", (cv, reason)
    assert results[0]["instance"] == 2 and results[0]["as-valid"] and results[0]["ams-valid"]
    assert results[1]["instance"] == 1 and results[1]["as-valid"]
    aar = re.sub(rb"\s+", b" ", re.search(rb"^ARC-Authentication-Results: (i=2.*?)\n(?=\S)",
                                          raw, re.M | re.S).group(1))
    assert b"arc=pass" in aar, aar
    g.wait_log(r"arc: sealed i=2 cv=pass by example\.com")
    # a byte of the body changed after sealgate: the chain fails
    i = raw.index(b"quarterly figures: 42")
    assert dkim.arc_verify(raw[:i] + b"Q" + raw[i + 1:], dnsfunc=dnsfunc(g.recs))[0] == b"fail"


def test_tampered_earlier_set_is_sealed_cv_fail(arc_gw, workdir):
    g = arc_gw.start()
    # after the hop sealed, someone changed its ARC-Authentication-Results: ARC-Seal i=1 breaks
    partner_mail(g, workdir, "arc5",
                 hop=lambda m: m.replace(b"header.d=partner.test", b"header.d=partner.tesT", 1))
    raw = alice_gets(g)
    seals = arc_sets(raw)
    assert sorted(seals) == [1, 2], seals
    assert b"cv=fail" in seals[2], seals[2]
    aar = re.sub(rb"\s+", b" ", re.search(rb"^ARC-Authentication-Results: (i=2.*?)\n(?=\S)",
                                          raw, re.M | re.S).group(1))
    assert b"arc=fail (an ARC-Seal does not verify)" in aar, aar
    # dkimpy: the chain ended with our failing set (None: "terminated"), never pass
    assert dkim.arc_verify(raw, dnsfunc=dnsfunc(g.recs))[0] != b"pass"
    g.wait_log(r"arc: sealed i=2 cv=fail by example\.com \(an ARC-Seal does not verify\)")
