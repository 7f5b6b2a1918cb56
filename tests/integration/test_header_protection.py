"""RFC 9788 header protection (issue 18 part 2), read by real peers. Outbound S/MIME: openssl
decrypts, the signed payload carries hp="cipher", the protected fields (the real Subject, no
Bcc) and HP-Outer lines; with policy.hide_subject the outer Subject is "[...]". (Outbound
PGP/MIME: test_pgp_flow.py::test_outbound_pgp_mime_gpg_decrypts_and_verifies.) Inbound: a partner's RFC 9788 message made with
openssl (protected Subject inside, "[...]" outside) is delivered with the protected values and
headers=protected; an outer From that differs from the signed inner one is reported, and the
signature is judged against the From that is delivered."""

import email
import os
import re

from sgrig import maildir_messages, wait_maildir
from test_smime_flow import (OPENSSL, alice_receives, decrypt_openssl, partner, run,  # noqa: F401
                             send, smime_gw)
from test_smime_trust import crlf, export_alice, send_raw, trust_partner


def first_part(signed):
    """The first part of a multipart/signed entity (the signed payload), CRLF."""
    boundary = re.search(rb'boundary="?([^";\r\n]+)"?', signed).group(1)
    return signed.split(b"--" + boundary + b"\r\n", 2)[1].rsplit(b"\r\n--" + boundary, 1)[0]


def test_outbound_smime_payload_is_protected_and_the_subject_hidden(smime_gw, partner, workdir):
    smime_gw.set(**{"policy.hide_subject": "yes"})
    smime_gw.stop()
    smime_gw.start()
    send(smime_gw.port, ["bob@partner.test"], "[secure] The FooCorp contract",
         body="cancel it today\r\n", rcpts=["bob@partner.test", "dave@partner.test"],
         extra="Bcc: dave@partner.test\r\nKeywords: contract\r\n")
    box = os.path.join(smime_gw.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    path = os.path.join(box, "new", os.listdir(os.path.join(box, "new"))[0])
    raw = open(path, "rb").read()
    outer = email.message_from_bytes(raw)
    assert outer["Subject"] == "[...]" and outer["Keywords"] is None, raw[:600]
    assert b"FooCorp" not in raw and b"dave@partner.test" not in raw
    inner = crlf(decrypt_openssl(path, partner))
    payload = first_part(inner)
    head = payload.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert re.search(rb'^Content-Type: text/plain; charset=utf-8;\r\n hp="cipher"\r$', head, re.M), head
    assert b"\r\nSubject: The FooCorp contract\r\n" in head
    assert b"\r\nFrom: alice@example.com\r\n" in head and b"\r\nKeywords: contract\r\n" in head
    assert b"HP-Outer: Subject: [...]\r\n" in head and b"HP-Outer: To: bob@partner.test" in head
    assert b"HP-Outer: Keywords" not in head  # removed outside: no line (hcp_baseline)
    # Bcc as a field name (three letters may occur by chance in the base64 of the signature)
    assert not re.search(rb"(?im)^Bcc:", inner) and b"dave@partner.test" not in inner
    (workdir / "signed.eml").write_bytes(inner)
    out = run(OPENSSL, "cms", "-verify", "-in", str(workdir / "signed.eml"),
              "-CAfile", smime_gw.ca).stdout  # the protected fields are signed too
    assert b"Subject: The FooCorp contract" in out and b"cancel it today" in out


def rfc9788_mail(workdir, crt, key, alice_crt, inner_from, outer_from, subject):
    """What an RFC 9788 client sends: the payload signed by crt/key (protected fields inside,
    hp="cipher", HP-Outer), encrypted to alice, "[...]" and outer_from outside."""
    payload = (f'Content-Type: text/plain; charset=us-ascii; hp="cipher"\r\n'
               f"From: {inner_from}\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
               f"Message-ID: <hp-in@partner.test>\r\n"
               f"HP-Outer: From: {outer_from}\r\nHP-Outer: To: alice@example.com\r\n"
               f"HP-Outer: Subject: [...]\r\n\r\nsee the protected subject\r\n").encode()
    f = workdir / "payload.eml"
    f.write_bytes(payload)
    signed = run(OPENSSL, "cms", "-sign", "-in", str(f), "-signer", str(crt), "-inkey", str(key),
                 "-md", "sha256", "-crlfeol", "-binary").stdout
    f.write_bytes(crlf(signed))
    return crlf(run(OPENSSL, "cms", "-encrypt", "-in", str(f), "-aes256", "-from", outer_from,
                    "-to", "alice@example.com", "-subject", "[...]", str(alice_crt)).stdout)


def test_inbound_protected_headers_are_delivered_with_a_verdict(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    msg = rfc9788_mail(workdir, partner / "bob.crt", partner / "bob.key",
                       export_alice(smime_gw, workdir), "bob@partner.test", "bob@partner.test",
                       "Merger talks on Friday")
    send_raw(smime_gw, "bob@partner.test", msg)
    raw, field = alice_receives(smime_gw)
    got = email.message_from_bytes(raw)
    assert got["Subject"] == "Merger talks on Friday", raw[:800]
    assert got["Message-ID"] == "<hp-in@partner.test>"
    head = raw.split(b"\n\n", 1)[0]  # the signed payload below keeps its fields as signed
    assert len(got.get_all("From")) == 1 and b"HP-Outer" not in head
    assert b"decrypted=yes" in field and b"signature=valid; signer=<bob@partner.test>" in field
    assert b"headers=protected (hp=cipher)" in field and b"from-mismatch" not in field, field


def test_outer_from_other_than_the_protected_one_is_reported(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    msg = rfc9788_mail(workdir, partner / "bob.crt", partner / "bob.key",
                       export_alice(smime_gw, workdir), "bob@partner.test",
                       "ceo@example.com", "Invoice")
    send_raw(smime_gw, "ceo@example.com", msg)
    raw, field = alice_receives(smime_gw)
    got = email.message_from_bytes(raw)
    assert got["From"] == "bob@partner.test"  # the signed value, not the forged outer one
    assert b"from-mismatch (outside <ceo@example.com>" in field, field
    assert b"signature=valid; signer=<bob@partner.test>" in field, field


# RFC 9788 Appendix C.3.1.2 (smime-signed-enc-hp-baseline): the payload as the RFC prints it once
# both layers are off: the field order of another implementation (structural fields first, every
# protected field with its HP-Outer twin, Content-Type last, a User-Agent we do not restore).
RFC9788_C312_PAYLOAD = (
    "MIME-Version: 1.0\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "Subject: smime-signed-enc-hp-baseline\r\n"
    "Message-ID: <smime-signed-enc-hp-baseline@example>\r\n"
    "From: Alice <alice@smime.example>\r\n"
    "To: Bob <bob@smime.example>\r\n"
    "Date: Sat, 20 Feb 2021 10:09:02 -0500\r\n"
    "User-Agent: Sample MUA Version 1.0\r\n"
    "HP-Outer: Subject: [...]\r\n"
    "HP-Outer: Message-ID: <smime-signed-enc-hp-baseline@example>\r\n"
    "HP-Outer: From: Alice <alice@smime.example>\r\n"
    "HP-Outer: To: Bob <bob@smime.example>\r\n"
    "HP-Outer: Date: Sat, 20 Feb 2021 10:09:02 -0500\r\n"
    "HP-Outer: User-Agent: Sample MUA Version 1.0\r\n"
    'Content-Type: text/plain; charset="utf-8"; hp="cipher"\r\n'
    "\r\n"
    "This is the\r\nsmime-signed-enc-hp-baseline\r\nmessage.\r\n").encode()


def rfc_alice(partner):
    """alice@smime.example, the RFC's sender, issued by the partner CA (the RFC 9216 example
    keys are not available here: the payload is the RFC's, the signature and envelope ours)."""
    cnf = partner / "rfc-alice.cnf"
    cnf.write_text("[user]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=emailProtection\nsubjectAltName=email:alice@smime.example\n")
    key, csr, crt = (partner / f"rfc-alice.{x}" for x in ("key", "csr", "crt"))
    run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=Alice")
    run(OPENSSL, "x509", "-req", "-in", str(csr), "-CA", str(partner / "ca.crt"), "-CAkey",
        str(partner / "ca.key"), "-CAcreateserial", "-out", str(crt), "-days", "30",
        "-extfile", str(cnf), "-extensions", "user")
    return crt, key


def test_rfc9788_appendix_payload_is_read_as_the_rfc_says(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    crt, key = rfc_alice(partner)
    f = workdir / "rfc-payload.eml"
    f.write_bytes(RFC9788_C312_PAYLOAD)
    signed = run(OPENSSL, "cms", "-sign", "-in", str(f), "-signer", str(crt), "-inkey", str(key),
                 "-md", "sha256", "-crlfeol", "-binary").stdout
    f.write_bytes(crlf(signed))
    outer = run(OPENSSL, "cms", "-encrypt", "-in", str(f), "-aes256",
                "-from", "Alice <alice@smime.example>", "-to", "Bob <bob@smime.example>",
                "-subject", "[...]", str(export_alice(smime_gw, workdir))).stdout
    send_raw(smime_gw, "alice@smime.example", crlf(outer))
    raw, field = alice_receives(smime_gw)
    got = email.message_from_bytes(raw)
    assert got["Subject"] == "smime-signed-enc-hp-baseline", raw[:800]
    assert got["Message-ID"] == "<smime-signed-enc-hp-baseline@example>"
    assert got["Date"] == "Sat, 20 Feb 2021 10:09:02 -0500"
    assert got["From"] == "Alice <alice@smime.example>" and got["To"] == "Bob <bob@smime.example>"
    head = raw.split(b"\n\n", 1)[0]
    assert len(got.get_all("Subject")) == 1 and b"HP-Outer" not in head
    assert b"smime-signed-enc-hp-baseline\r\nmessage." in raw or b"smime-signed-enc-hp-baseline\nmessage." in raw
    assert b"headers=protected (hp=cipher)" in field and b"from-mismatch" not in field, field
    assert b"signature=valid; signer=<alice@smime.example>" in field, field
