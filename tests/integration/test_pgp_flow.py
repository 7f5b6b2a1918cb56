"""OpenPGP on the mail path with GnuPG 2.2 as the partner: tagged mail to a partner with a key
leaves as PGP/MIME that gpg decrypts (signed by the sender's gateway-held key); a Bcc
recipient's key id never appears in another's copy; gpg's encrypted and signed mail to an
internal user is decrypted and verified; Autocrypt headers teach keys (unverified) but never
replace one silently; `user set-channel` chooses between certificate and key. The attacks on
these verdicts are in test_pgp_trust.py."""

import email
import os
import re
import smtplib
import subprocess

import pytest

from sgrig import maildir_messages, wait_maildir


class Gpg:
    def __init__(self, home):
        os.makedirs(home, mode=0o700)
        with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
            f.write("allow-loopback-pinentry\n")
        self.env = dict(os.environ, GNUPGHOME=home)
        self.home = home

    def run(self, *args, input=None, check=True):
        r = subprocess.run(["gpg", "--batch", "--yes", "--pinentry-mode", "loopback",
                            "--passphrase", "", *args], input=input, capture_output=True,
                           env=self.env, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"gpg {args}: {r.stderr.decode(errors='replace')}")
        return r

    def new_key(self, addr):
        self.run("--quick-gen-key", addr, "rsa3072", "sign,cert", "never")
        fpr = self.fpr(addr)
        self.run("--quick-add-key", fpr, "rsa3072", "encr", "never")
        return fpr

    def fpr(self, addr):
        out = self.run("--with-colons", "--list-keys", addr).stdout.decode()
        return re.search(r"^fpr:+([0-9A-F]{40}):", out, re.M).group(1)

    def export(self, addr):
        return self.run("--export", "--armor", addr).stdout

    def close(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True)


@pytest.fixture
def gpg(workdir):
    g = Gpg(str(workdir / "gnupg"))
    yield g
    g.close()


@pytest.fixture
def pgp_gw(gateway, gpg, workdir):
    gpg.new_key("bob@partner.test")
    (workdir / "bob.asc").write_bytes(gpg.export("bob@partner.test"))
    r = gateway.cli("pgp", "import", str(workdir / "bob.asc"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = gateway.cli("pgp", "generate", "alice@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    return gateway


def send(port, to, subject, body="Grüße – PGP figures: 42\r\n", rcpts=None, extra="",
         sender="alice@example.com", source=None):
    msg = (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n{extra}"
           f"\r\n{body}").encode()
    kw = {"source_address": (source, 0)} if source else {}
    with smtplib.SMTP("127.0.0.1", port, timeout=30, **kw) as s:
        s.sendmail(sender, rcpts or to, msg)


def pgp_payload(raw):
    """The ASCII-armoured part of a PGP/MIME message."""
    m = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", raw, re.S)
    assert m, raw[:2000]
    return m.group(0)


def test_outbound_pgp_mime_gpg_decrypts_and_verifies(pgp_gw, gpg, workdir):
    (workdir / "alice.asc").write_text(pgp_gw.cli("pgp", "export", "alice@example.com").stdout)
    gpg.run("--import", str(workdir / "alice.asc"))
    send(pgp_gw.port, ["bob@partner.test"], "[secure] quarterly")
    box = os.path.join(pgp_gw.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    assert b"multipart/encrypted" in raw and b"application/pgp-encrypted" in raw
    assert b"Subject: quarterly" in raw and b"PGP figures" not in raw
    r = gpg.run("--status-fd", "2", "--decrypt", input=pgp_payload(raw))
    assert "Grüße – PGP figures: 42".encode() in r.stdout
    assert b"GOODSIG" in r.stderr and b"GOODMDC" in r.stderr
    # RFC 9788 header protection (policy.header_protection, on by default): the fields inside
    assert b'hp="cipher"' in r.stdout and b"\nSubject: quarterly\r\n" in r.stdout, r.stdout[:800]
    assert b"HP-Outer: Subject: quarterly\r\n" in r.stdout


def test_bcc_key_id_is_not_in_other_copies(pgp_gw, gpg, workdir):
    gpg.new_key("carol@partner.test")
    (workdir / "carol.asc").write_bytes(gpg.export("carol@partner.test"))
    assert pgp_gw.cli("pgp", "import", str(workdir / "carol.asc")).returncode == 0
    send(pgp_gw.port, ["bob@partner.test"], "[secure] bcc",
         rcpts=["bob@partner.test", "carol@partner.test"], extra="Bcc: carol@partner.test\r\n")
    bob = os.path.join(pgp_gw.md_ext, "bob@partner.test")
    wait_maildir(bob, 1)
    wait_maildir(os.path.join(pgp_gw.md_ext, "carol@partner.test"), 1)
    packets = gpg.run("--list-packets", input=pgp_payload(maildir_messages(bob)[0]),
                      check=False).stdout.decode()
    recipients = re.findall(r"^:pubkey enc packet: .* keyid ([0-9A-F]{16})$", packets, re.M)

    def subkeys(addr):
        out = gpg.run("--with-colons", "--list-keys", addr).stdout.decode()
        return re.findall(r"^sub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):", out, re.M)
    # bob's copy is readable OpenPGP naming bob's key (gpg parsed it) and not carol's
    assert recipients and set(recipients) & set(subkeys("bob@partner.test")), packets
    carol_ids = subkeys("carol@partner.test")
    assert carol_ids and not set(carol_ids) & set(recipients), packets


def pgp_mime_message(sender, to, subject, armored):
    """A PGP/MIME message (RFC 3156) around gpg's armoured output."""
    boundary = "sealgate-test-boundary"
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; "
            f"protocol=\"application/pgp-encrypted\"; boundary=\"{boundary}\"\r\n\r\n"
            f"--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
            + armored.replace("\n", "\r\n") + f"\r\n--{boundary}--\r\n")


def gpg_mail_to_alice(pgp_gw, gpg, workdir, entity, sender, subject):
    """entity signed by bob and encrypted to alice's gateway key with gpg, as PGP/MIME from
    sender; what alice's mailbox got."""
    (workdir / "alice.asc").write_text(pgp_gw.cli("pgp", "export", "alice@example.com").stdout)
    gpg.run("--import", str(workdir / "alice.asc"))
    gpg.run("--quick-sign-key", gpg.fpr("alice@example.com"), check=False)
    armored = gpg.run("--armor", "--sign", "--encrypt", "--trust-model", "always", "-u",
                      "bob@partner.test", "-r", "alice@example.com", input=entity).stdout.decode()
    msg = pgp_mime_message(sender, "alice@example.com", subject, armored)
    with smtplib.SMTP("127.0.0.1", pgp_gw.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail(sender, ["alice@example.com"], msg.encode())
    box = os.path.join(pgp_gw.md_int, "alice@example.com")
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    return raw, re.search(rb"^X-Sealgate-Security: (.*)$", raw, re.M).group(1)


def test_inbound_gpg_mail_is_decrypted_and_verified(pgp_gw, gpg, workdir):
    entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\nfrom bob, signed and sealed\r\n"
    raw, field = gpg_mail_to_alice(pgp_gw, gpg, workdir, entity, "bob@partner.test", "for alice")
    assert b"from bob, signed and sealed" in raw
    assert b"encrypted=pgp; decrypted=yes; integrity=aead" in field
    assert b"signature=valid" in field and b"bob@partner.test" in field


def test_inbound_protected_headers_are_delivered(pgp_gw, gpg, workdir):
    """RFC 9788 from a PGP/MIME sender: "[...]" outside, the real Subject inside the signed and
    encrypted payload; a forged outer From is reported, the signature judged against the
    protected From that is delivered."""
    entity = (b'Content-Type: text/plain; charset=utf-8; hp="cipher"\r\n'
              b"From: bob@partner.test\r\nTo: alice@example.com\r\nSubject: Merger on Friday\r\n"
              b"HP-Outer: From: ceo@example.com\r\nHP-Outer: Subject: [...]\r\n\r\n"
              b"protected from bob\r\n")
    raw, field = gpg_mail_to_alice(pgp_gw, gpg, workdir, entity, "ceo@example.com", "[...]")
    head = raw.split(b"\n\n", 1)[0]
    assert b"\nSubject: Merger on Friday" in head and b"[...]" not in head, head
    got = email.message_from_bytes(raw)
    assert got.get_all("From") == ["bob@partner.test"], head  # the signed value, not the forged one
    assert b"HP-Outer" not in head and b"protected from bob" in raw
    assert b"decrypted=yes" in field and b"signature=valid; signer=<" in field, field
    assert b"headers=protected (hp=cipher); from-mismatch (outside <ceo@example.com>" in field


def test_autocrypt_learns_and_never_replaces_silently(gateway, gpg, workdir):
    import base64
    gpg.new_key("dave@partner.test")
    key = gpg.run("--export", "dave@partner.test").stdout
    hdr = "Autocrypt: addr=dave@partner.test; keydata=" + base64.b64encode(key).decode() + "\r\n"
    send(gateway.port, ["alice@example.com"], "hello", extra=hdr, sender="dave@partner.test",
         source="127.0.0.2")
    wait_maildir(os.path.join(gateway.md_int, "alice@example.com"), 1)
    gateway.wait_log(r"learned OpenPGP key")
    first = gpg.fpr("dave@partner.test")
    listing = gateway.cli("pgp", "list", "dave@partner.test").stdout
    assert re.search(first + r" autocrypt\s+active .* unverified$", listing, re.M), listing
    # a different key for the same address is kept pending, never swapped in
    (workdir / "g2").mkdir()
    other = Gpg(str(workdir / "g2" / "home"))
    try:
        second = other.new_key("dave@partner.test")
        key2 = other.run("--export", "dave@partner.test").stdout
    finally:
        other.close()
    hdr2 = "Autocrypt: addr=dave@partner.test; keydata=" + base64.b64encode(key2).decode() + "\r\n"
    send(gateway.port, ["alice@example.com"], "hello again", extra=hdr2,
         sender="dave@partner.test", source="127.0.0.2")
    gateway.wait_log(r"announced a different OpenPGP key")
    listing = gateway.cli("pgp", "list", "dave@partner.test").stdout
    # which key stays active: the first one; the announced one waits
    assert re.search(first + r" autocrypt\s+active ", listing), listing
    assert re.search(second + r" autocrypt\s+pending ", listing), listing
    assert gateway.cli("pgp", "accept", "dave@partner.test").returncode == 0
    # the admin's accept makes the second the only key, and confirms it
    listing = gateway.cli("pgp", "list", "dave@partner.test").stdout
    assert re.search(second + r" autocrypt\s+active .*never$", listing, re.M), listing
    assert first not in listing


def test_set_channel_chooses_smime_over_pgp(pgp_gw, workdir):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(workdir / "b.key"), "-out", str(workdir / "b.crt"), "-days", "30",
                    "-subj", "/CN=Bob", "-addext", "subjectAltName=email:bob@partner.test",
                    "-addext", "keyUsage=digitalSignature,keyEncipherment",
                    "-addext", "extendedKeyUsage=emailProtection"], check=True, capture_output=True)
    assert pgp_gw.cli("cert", "import", "bob@partner.test", str(workdir / "b.crt")).returncode == 0
    r = pgp_gw.cli("user", "set-channel", "bob@partner.test", "smime")
    assert r.returncode == 0, r.stderr
    assert "channel:  smime" in pgp_gw.cli("user", "show", "bob@partner.test").stdout
    send(pgp_gw.port, ["bob@partner.test"], "[secure] which channel")
    box = os.path.join(pgp_gw.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    assert b"application/pkcs7-mime" in maildir_messages(box)[0]
    assert pgp_gw.cli("user", "set-channel", "bob@partner.test", "carrier-pigeon").returncode == 2
