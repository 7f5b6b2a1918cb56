"""Nested S/MIME through the running gateway (issue 18 part 1) and AES-256-GCM proven with a
real reader (part 3). Thunderbird's own NSS-made messages (corpus/thunderbird-smime), with Bob's
.p12 imported as an internal user's key and the NSS Test CA trusted: encrypt-then-sign,
signed-inside-encrypted-inside-signed and three-layer mail is decrypted, the outer signature
stated apart from the content's, each layer listed; a failed outer signature is said plainly and
hides nothing. Attacks: a stranger's valid signature over a replayed ciphertext is no content
signature and gives no integrity; five layers stop at four. GCM: what we send to an RSA-OAEP
partner is AuthEnvelopedData that `openssl cms -decrypt` reads; a tampered one arriving is
refused (tag) and delivered as it came with a verdict."""

import base64
import os
import re
import smtplib

import pytest

from sgrig import maildir_messages, wait_maildir
from test_smime_flow import (OPENSSL, alice_receives, partner, partner_user, run,  # noqa: F401
                             send, smime_gw)
from test_smime_keytransport import CAPS_OAEP, send_signed_with_caps
from test_smime_trust import (ATTACK_HTML, crlf, encrypted, export_alice, html_entity, send_raw,
                              trust_partner)

HERE = os.path.dirname(os.path.abspath(__file__))
TB = os.path.join(os.environ.get("SEALGATE_CORPUS", os.path.join(HERE, "..", "..", "..", "shared",
                                                                "corpus")), "thunderbird-smime")
TEXT = b"This is a test message from Alice to Bob."


def field_of(raw):
    """The X-Sealgate-Security summary line and its layers= continuation (or b"")."""
    m = re.search(rb"^X-Sealgate-Security: (.*)\n(?:[ \t]+(layers=.*)\n)?", raw, re.M)
    assert m, raw[:600]
    return m.group(1), m.group(2) or b""


@pytest.fixture
def bob_gw(smime_gw):
    """The gateway holding Bob@example.com's key from the corpus, the NSS Test CA trusted."""
    if not os.path.exists(os.path.join(TB, "EXPECTED.tsv")):
        pytest.fail(f"no Thunderbird corpus at {TB} (set SEALGATE_CORPUS)")
    r = smime_gw.cli("cert", "import", "bob@example.com", os.path.join(TB, "nss", "Bob.p12"),
                     "--password-stdin", input="nss\n")
    assert r.returncode == 0, r.stderr
    r = smime_gw.cli("ca", "trust", os.path.join(TB, "nss", "TestCA.pem"))
    assert r.returncode == 0, r.stderr
    smime_gw.stop()
    smime_gw.start()  # the queue manager reads ca.trust_anchors when it starts
    return smime_gw


def corpus_to_bob(gw, rel, n):
    """Sends a corpus file from outside to bob@example.com; what his mailbox got."""
    with open(os.path.join(TB, rel), "rb") as f:
        data = crlf(f.read())
    sender = "dave@example.com" if ".dave." in rel else "alice@example.com"
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail(sender, ["bob@example.com"], data)
    box = os.path.join(gw.md_int, "bob@example.com")
    wait_maildir(box, n)
    subject = re.search(rb"^Subject: .*$", data, re.M).group(0).rstrip(b"\r")
    got = [m for m in maildir_messages(box) if subject in m]
    assert len(got) == 1, subject
    return got[0]


def test_thunderbird_nested_mail_is_unwrapped_layer_by_layer(bob_gw):
    # encrypted, then signed (detached) by Alice: NSS's signature does not verify
    raw = corpus_to_bob(bob_gw, "nss/alice.env.dsig.SHA256.multipart.eml", 1)
    summary, layers = field_of(raw)
    assert TEXT in raw and b"decrypted=yes" in summary, summary
    assert b"outer-sig=invalid" in summary and b"signature=none" in summary, summary
    assert layers == b"layers=signed(invalid alice@example.com, outer) > enveloped(decrypted)"
    assert b"application/pkcs7-mime" not in raw  # the envelope is gone, the text is delivered

    # signed inside encrypted inside a broken signature (Thunderbird's manual file)
    raw = corpus_to_bob(bob_gw, "manual/outer-smime-bad-sig-inner-smime-enc-sig.eml", 2)
    summary, layers = field_of(raw)
    assert b"decrypted=yes; integrity=signed; signature=valid; signer=<alice@example.com>" \
        in summary, summary
    assert b"outer-sig=invalid" in summary
    assert layers.startswith(b"layers=signed(invalid") and layers.endswith(
        b"> enveloped(decrypted) > signed(valid alice@example.com)"), layers
    assert TEXT in raw and b"application/pkcs7-signature" in raw  # the inner signature stays

    # encrypted, signed opaque by Alice, then by Dave: three layers, the envelope opened
    raw = corpus_to_bob(bob_gw, "nss/alice.env.sig.SHA256.opaque.dave.sig.SHA256.opaque.eml", 3)
    summary, layers = field_of(raw)
    assert TEXT in raw and b"decrypted=yes" in summary, summary
    assert layers == (b"layers=opaque-signed(valid dave@example.com, outer) > opaque-signed("
                      b"valid-other-signer alice@example.com, outer) > enveloped(decrypted)")
    assert not re.search(rb"signature=valid[; ]", summary)  # Dave signed ciphertext, not text


def test_valid_signature_over_a_replayed_ciphertext_is_no_content_signature(smime_gw, partner,
                                                                            workdir):
    """Mallory (a certificate of a trusted CA, From himself) signs a ciphertext meant for alice
    with EFAIL-style HTML inside: his signature is outer, the text unsigned, the HTML defanged."""
    trust_partner(smime_gw, partner)
    mallory_crt, mallory_key = partner_user(partner, "mallory")
    f = workdir / "html.eml"
    f.write_bytes(html_entity())
    env = run(OPENSSL, "cms", "-encrypt", "-in", str(f), "-aes256",
              str(export_alice(smime_gw, workdir))).stdout  # the entity a client made for alice
    f.write_bytes(crlf(env))
    signed = crlf(run(OPENSSL, "cms", "-sign", "-in", str(f), "-signer", str(mallory_crt),
                      "-inkey", str(mallory_key), "-md", "sha256", "-crlfeol",
                      "-from", "mallory@partner.test", "-to", "alice@example.com",
                      "-subject", "forwarded").stdout)
    send_raw(smime_gw, "mallory@partner.test", signed)
    raw, _ = alice_receives(smime_gw)
    summary, layers = field_of(raw)
    assert b"decrypted=yes" in summary and b"signature=none" in summary, summary
    assert b"outer-sig=valid (by mallory@partner.test" in summary
    assert not re.search(rb"signature=valid", summary.replace(b"outer-sig=valid", b""))
    assert b"integrity=none; remote-content=neutralised" in summary, summary
    assert b'<img src="http://attacker.example/x?' not in raw
    assert layers == b"layers=signed(valid mallory@partner.test, outer) > enveloped(decrypted)"
    assert ATTACK_HTML not in raw


def test_five_layers_stop_at_four_and_say_so(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    f = workdir / "layer.eml"
    f.write_bytes(b"Content-Type: text/plain\r\n\r\nfive times wrapped\r\n")
    for i in range(5):
        out = run(OPENSSL, "cms", "-sign", "-nodetach", "-in", str(f), "-signer",
                  str(partner / "bob.crt"), "-inkey", str(partner / "bob.key"), "-md", "sha256",
                  "-crlfeol", *(["-from", "bob@partner.test", "-to", "alice@example.com",
                                 "-subject", "deep"] if i == 4 else [])).stdout
        f.write_bytes(crlf(out))
    send_raw(smime_gw, "bob@partner.test", f.read_bytes())
    raw, _ = alice_receives(smime_gw)
    summary, layers = field_of(raw)
    assert summary.startswith(b"signature=valid; signer=<bob@partner.test>"), summary
    assert layers.count(b"opaque-signed(valid bob@partner.test)") == 4, layers
    assert layers.endswith(b"(more layers: not opened, at most 4)"), layers
    assert b"five times wrapped" not in raw  # delivered as it came, for the client to unwrap


# ---- part 3: AES-256-GCM (AuthEnvelopedData) with real readers ------------------------------

def test_gcm_to_an_rsa_oaep_partner_is_read_by_openssl(smime_gw, partner, workdir):
    trust_partner(smime_gw, partner)
    dora_crt, dora_key = partner_user(partner, "dora")
    send_signed_with_caps(smime_gw, dora_crt, dora_key, "dora@partner.test", CAPS_OAEP, workdir)
    wait_maildir(os.path.join(smime_gw.md_int, "alice@example.com"), 1)
    send(smime_gw.port, ["dora@partner.test"], "[secure] GCM", body="gcm figures 11\r\n")
    box = os.path.join(smime_gw.md_ext, "dora@partner.test")
    wait_maildir(box, 1)
    f = workdir / "gcm.eml"
    f.write_bytes(maildir_messages(box)[0])
    assert b"smime-type=authEnveloped-data" in f.read_bytes()
    printed = run(OPENSSL, "cms", "-cmsout", "-print", "-in", str(f)).stdout.decode()
    assert "contentType: id-smime-ct-authEnvelopedData" in printed, printed[:400]
    assert "algorithm: rsaesOaep" in printed and "aes-256-gcm" in printed, printed
    out = run(OPENSSL, "cms", "-decrypt", "-in", str(f), "-inkey", str(dora_key),
              "-recip", str(dora_crt)).stdout
    assert b"gcm figures 11" in out


def gcm_der(smime_gw, workdir):
    env = encrypted(workdir, b"Content-Type: text/plain\r\n\r\nsealed with a tag\r\n",
                    export_alice(smime_gw, workdir), "dora@partner.test", cipher="-aes-256-gcm")
    f = workdir / "gcm-in.eml"
    f.write_bytes(env)
    return bytearray(run(OPENSSL, "cms", "-cmsout", "-in", str(f), "-outform", "DER").stdout)


def as_smime(der):
    b64 = base64.encodebytes(bytes(der)).replace(b"\n", b"\r\n")
    return (b"From: dora@partner.test\r\nTo: alice@example.com\r\nSubject: tampered\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; "
            b"smime-type=authEnveloped-data; name=smime.p7m\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + b64)


@pytest.mark.parametrize("where", ["tag", "ciphertext"])
def test_tampered_gcm_is_refused_and_delivered_as_it_came(smime_gw, workdir, where):
    der = gcm_der(smime_gw, workdir)
    # DER, no unprotected attributes: the 16-byte mac ends it, the ciphertext just before it
    der[-1 if where == "tag" else -25] ^= 0x01
    msg = as_smime(der)
    send_raw(smime_gw, "dora@partner.test", msg)
    raw, field = alice_receives(smime_gw)
    assert b"encrypted=smime; decrypted=no (cannot decrypt" in field, field
    assert b"sealed with a tag" not in raw
    assert msg.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n") in raw  # as it came
    # the untouched message is decrypted, its integrity from the tag
    der[-1 if where == "tag" else -25] ^= 0x01
    send_raw(smime_gw, "dora@partner.test", as_smime(der))
    box = os.path.join(smime_gw.md_int, "alice@example.com")
    wait_maildir(box, 2)
    assert any(b"sealed with a tag" in m and b"integrity=aead" in m for m in maildir_messages(box))
