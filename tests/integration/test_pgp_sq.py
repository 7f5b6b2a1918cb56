"""OpenPGP on the mail path with Sequoia's `sq` (Debian 12: sq 0.27) as a second partner next to
GnuPG: tagged mail to a partner whose key sq made leaves as PGP/MIME that sq decrypts with that
key and verifies against the sender's gateway-held key; PGP/MIME that sq encrypted to a
gateway-held key and signed is decrypted and verified for the internal user. Skipped where sq is
not installed."""

import os
import re
import shutil
import smtplib
import subprocess

import pytest

from sgrig import maildir_messages, wait_maildir
from test_pgp_flow import pgp_payload, send

pytestmark = pytest.mark.skipif(shutil.which("sq") is None,
                                reason="sq (Sequoia) is not installed: apt-get install sq")


def sq(*args, input=None, check=True):
    r = subprocess.run(["sq", *args], input=input, capture_output=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"sq {args}: {r.stderr.decode(errors='replace')}")
    return r


# cv25519 is sq's default (RNP encrypts to it); RSA recipients take pgp_seipd.c's path.
@pytest.fixture(params=["cv25519", "rsa3k"])
def sq_gw(request, gateway, workdir):
    """A gateway that knows carol's certificate (made by sq with the suite of the parameter) and
    holds a key of its own for alice; carol's secret key stays with sq."""
    key, cert = workdir / "carol.key", workdir / "carol.cert"
    sq("key", "generate", "--cipher-suite", request.param, "--userid", "<carol@partner.test>",
       "--export", str(key))
    sq("key", "extract-cert", "--output", str(cert), str(key))
    r = gateway.cli("pgp", "import", str(cert))
    assert r.returncode == 0, r.stdout + r.stderr
    r = gateway.cli("pgp", "generate", "alice@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    alice = gateway.cli("pgp", "export", "alice@example.com")
    assert alice.returncode == 0, alice.stderr
    (workdir / "alice.asc").write_text(alice.stdout)
    gateway.sq_key, gateway.sq_cert, gateway.alice_cert = key, cert, workdir / "alice.asc"
    return gateway


def test_outbound_sq_decrypts_and_verifies(sq_gw, workdir):
    send(sq_gw.port, ["carol@partner.test"], "[secure] for sequoia")
    box = os.path.join(sq_gw.md_ext, "carol@partner.test")
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    assert b"multipart/encrypted" in raw and b"application/pgp-encrypted" in raw
    assert b"Subject: for sequoia" in raw and b"PGP figures" not in raw
    (workdir / "out.asc").write_bytes(pgp_payload(raw))
    r = sq("decrypt", "--recipient-key", str(sq_gw.sq_key), "--signer-cert",
           str(sq_gw.alice_cert), str(workdir / "out.asc"))
    assert "Grüße – PGP figures: 42".encode() in r.stdout
    assert b"Good signature" in r.stderr and b"1 good signature" in r.stderr
    # the signature is checked, not just present: another signer's cert does not verify it
    other = workdir / "other.key"
    sq("key", "generate", "--userid", "<mallory@partner.test>", "--export", str(other))
    sq("key", "extract-cert", "--output", str(workdir / "other.cert"), str(other))
    r = sq("decrypt", "--recipient-key", str(sq_gw.sq_key), "--signer-cert",
           str(workdir / "other.cert"), str(workdir / "out.asc"), check=False)
    assert r.returncode != 0


def test_inbound_sq_mail_is_decrypted_and_verified(sq_gw, workdir):
    entity = b"Content-Type: text/plain; charset=utf-8\r\n\r\nfrom carol, sealed by sequoia\r\n"
    armored = sq("encrypt", "--recipient-cert", str(sq_gw.alice_cert), "--signer-key",
                 str(sq_gw.sq_key), input=entity).stdout.decode()
    assert armored.startswith("-----BEGIN PGP MESSAGE-----")
    boundary = "sealgate-sq-boundary"
    msg = (f"From: carol@partner.test\r\nTo: alice@example.com\r\nSubject: for alice\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; "
           f"protocol=\"application/pgp-encrypted\"; boundary=\"{boundary}\"\r\n\r\n"
           f"--{boundary}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
           f"--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
           + armored.replace("\r\n", "\n").replace("\n", "\r\n") + f"\r\n--{boundary}--\r\n")
    with smtplib.SMTP("127.0.0.1", sq_gw.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("carol@partner.test", ["alice@example.com"], msg.encode())
    box = os.path.join(sq_gw.md_int, "alice@example.com")
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    assert b"from carol, sealed by sequoia" in raw and b"BEGIN PGP MESSAGE" not in raw
    field = re.search(rb"^X-Sealgate-Security: (.*)$", raw, re.M).group(1)
    assert b"encrypted=pgp; decrypted=yes" in field
    assert b"signature=valid" in field and b"carol@partner.test" in field
