"""RSA key transport on the way out: a partner whose signed mail names RSAES-OAEP in its
SMIMECapabilities gets the content key wrapped with RSAES-OAEP (SHA-256), which openssl
decrypts; a partner without that statement keeps PKCS#1 v1.5, which openssl and gpgsm decrypt
(gpgsm 2.2.40 cannot read RSAES-OAEP: docs/smime.md). OpenSSL's command line cannot put chosen
capabilities into a signature, so the partner's client is played by a small DER writer here
and openssl signs the attributes."""

import base64
import datetime
import hashlib
import os
import smtplib

import pytest

from sgrig import maildir_messages, wait_maildir
from test_smime_flow import (OPENSSL, gpgsm_decrypt, partner, partner_user, run,  # noqa: F401
                             send, smime_gw)

# SMIMECapabilities: AES-256-GCM, RSAES-OAEP (SHA-256, MGF1-SHA-256), AES-256-CBC
CAPS_OAEP = bytes.fromhex(
    "3054300b060960864801650304012e"
    "3038" "06092a864886f70d010107" "302b" "a00d300b0609608648016503040201"
    "a11a3018" "06092a864886f70d010108" "300b0609608648016503040201"
    "300b060960864801650304012a")


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + body


def seq(*parts):
    return tlv(0x30, b"".join(parts))


def set_of(*parts):
    return tlv(0x31, b"".join(sorted(parts)))  # DER: a SET OF is sorted


def oid(dotted):
    a, b, *rest = (int(x) for x in dotted.split("."))
    out = bytearray([40 * a + b])
    for v in rest:
        chunk = [v & 0x7f]
        while v > 0x7f:
            v >>= 7
            chunk.append(0x80 | (v & 0x7f))
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def children(der):
    """The TLVs inside one constructed DER value."""
    hl = 2 + (der[1] & 0x7f if der[1] & 0x80 else 0)
    body, out = der[hl:], []
    while body:
        n = body[1]
        h = 2
        if n & 0x80:
            h += n & 0x7f
            n = int.from_bytes(body[2:h], "big")
        out.append(body[:h + n])
        body = body[h + n:]
    return out


def signed_with_caps(crt, key, content, caps, workdir):
    """A detached CMS SignedData over content by crt/key whose signed attributes carry caps."""
    cert = run(OPENSSL, "x509", "-in", str(crt), "-outform", "DER").stdout
    tbs = children(children(cert)[0])
    serial, issuer = tbs[1], tbs[3]  # after the [0] version
    sha256 = seq(oid("2.16.840.1.101.3.4.2.1"))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ").encode()
    attrs = [
        seq(oid("1.2.840.113549.1.9.3"), set_of(oid("1.2.840.113549.1.7.1"))),
        seq(oid("1.2.840.113549.1.9.5"), set_of(tlv(0x17, now))),
        seq(oid("1.2.840.113549.1.9.4"), set_of(tlv(0x04, hashlib.sha256(content).digest()))),
        seq(oid("1.2.840.113549.1.9.15"), set_of(caps)),
    ]
    signed_attrs = set_of(*attrs)
    (workdir / "attrs.der").write_bytes(signed_attrs)
    sig = run(OPENSSL, "dgst", "-sha256", "-sign", str(key), str(workdir / "attrs.der")).stdout
    signer_info = seq(tlv(0x02, b"\x01"), seq(issuer, serial), sha256,
                      b"\xa0" + signed_attrs[1:],
                      seq(oid("1.2.840.113549.1.1.1"), b"\x05\x00"), tlv(0x04, sig))
    signed_data = seq(tlv(0x02, b"\x01"), set_of(sha256), seq(oid("1.2.840.113549.1.7.1")),
                      tlv(0xa0, cert), set_of(signer_info))
    return seq(oid("1.2.840.113549.1.7.2"), tlv(0xa0, signed_data))


def send_signed_with_caps(gw, crt, key, sender, caps, workdir):
    content = b"Content-Type: text/plain\r\n\r\nmy client reads RSAES-OAEP\r\n"
    p7s = base64.encodebytes(signed_with_caps(crt, key, content, caps, workdir))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg = (f"From: {sender}\r\nTo: alice@example.com\r\nSubject: hello\r\nDate: {date}\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/signed; "
           "protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b1\"\r\n\r\n"
           "--b1\r\n").encode() + content + (
           "\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n").encode() + \
        p7s.replace(b"\n", b"\r\n") + b"\r\n--b1--\r\n"
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail(sender, ["alice@example.com"], msg)


def test_oaep_for_partners_whose_client_names_it_v15_for_others(smime_gw, partner, workdir):
    r = smime_gw.cli("ca", "trust", str(partner / "ca.crt"))
    assert r.returncode == 0, r.stderr
    smime_gw.stop()
    smime_gw.start()  # the queue manager reads ca.trust_anchors when it starts
    dora_crt, dora_key = partner_user(partner, "dora")
    send_signed_with_caps(smime_gw, dora_crt, dora_key, "dora@partner.test", CAPS_OAEP, workdir)
    box = os.path.join(smime_gw.md_int, "alice@example.com")
    wait_maildir(box, 1)
    assert b"signature=valid" in maildir_messages(box)[0]  # so her capabilities were kept
    assert "harvested" in smime_gw.cli("cert", "list", "dora@partner.test").stdout

    # one message to both: dora's RecipientInfo is RSAES-OAEP, bob's (no statement) v1.5
    send(smime_gw.port, ["dora@partner.test", "bob@partner.test"], "[secure] figures",
         body="oaep figures 9\r\n")
    box = os.path.join(smime_gw.md_ext, "dora@partner.test")
    wait_maildir(box, 1)
    f = workdir / "out.eml"
    f.write_bytes(maildir_messages(box)[0])
    printed = run(OPENSSL, "cms", "-cmsout", "-print", "-in", str(f)).stdout.decode()
    assert printed.count("algorithm: rsaesOaep") == 1, printed
    assert printed.count("algorithm: rsaEncryption") == 1, printed
    assert "sha256" in printed.split("rsaesOaep", 1)[1].split("encryptedKey", 1)[0]
    out = run(OPENSSL, "cms", "-decrypt", "-in", str(f), "-inkey", str(dora_key),
              "-recip", str(dora_crt)).stdout
    assert b"oaep figures 9" in out
    out = run(OPENSSL, "cms", "-decrypt", "-in", str(f), "-inkey", str(partner / "bob.key"),
              "-recip", str(partner / "bob.crt")).stdout
    assert b"oaep figures 9" in out
    r = gpgsm_decrypt(f.read_bytes(), partner, "bob", workdir)
    assert b"oaep figures 9" in r.stdout


def test_partner_without_oaep_statement_keeps_pkcs1_v15(smime_gw, partner, workdir):
    send(smime_gw.port, ["bob@partner.test"], "[secure] v1.5", body="v15 figures\r\n")
    box = os.path.join(smime_gw.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    f = workdir / "out.eml"
    f.write_bytes(maildir_messages(box)[0])
    printed = run(OPENSSL, "cms", "-cmsout", "-print", "-in", str(f)).stdout.decode()
    assert "rsaesOaep" not in printed and "algorithm: rsaEncryption" in printed, printed
    if not os.path.exists("/usr/bin/gpgsm"):
        pytest.fail("gpgsm is not installed (scripts/deps.sh installs it)")
    assert b"v15 figures" in gpgsm_decrypt(f.read_bytes(), partner, "bob", workdir).stdout
