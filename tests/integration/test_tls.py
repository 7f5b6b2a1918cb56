"""STARTTLS against three real clients, each verifying the chain to the instance CA that
`sealgate init` made (DIR/ca/ca.crt -> DIR/tls/server.crt)."""

import os
import smtplib
import ssl
import subprocess

import pytest

from sgrig import header_values, wait_maildir


def test_starttls_smtplib_verifies_chain_and_hostname(gateway):
    ctx = ssl.create_default_context(cafile=gateway.ca)   # CERT_REQUIRED + check_hostname
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        s.ehlo("tls.example.com")
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=ctx)
        assert code == 220
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.ehlo("tls.example.com")
        assert not s.has_extn("starttls"), "STARTTLS must not be offered again inside TLS"
        s.sendmail("alice@example.com", ["bob@example.com"], b"Subject: over tls\r\n\r\nsecret\r\n")
    (got,) = wait_maildir(f"{gateway.md_int}/bob@example.com")
    assert header_values(got, "Subject") == [b"over tls"]


def starttls_peer(gateway, ctx, server_hostname):
    """The DER certificate the gateway presents after STARTTLS, verified by ctx."""
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        s.ehlo()
        s._host = server_hostname  # smtplib verifies the name it connected with
        s.starttls(context=ctx)
        return s.sock.getpeercert(binary_form=True)


def test_starttls_presents_the_instance_certificate_for_its_hostname_only(gateway):
    """What the gateway serves is the certificate `sealgate init` wrote (tls/server.crt, issued
    by the instance CA): the verified peer certificate is that file, byte for byte, and the same
    chain is refused for a name the certificate does not carry."""
    ctx = ssl.create_default_context(cafile=gateway.ca)
    der = starttls_peer(gateway, ctx, gateway.hostname)
    with open(os.path.join(gateway.dir, "tls", "server.crt")) as f:
        assert der == ssl.PEM_cert_to_DER_cert(f.read().split("-----END CERTIFICATE-----")[0]
                                               + "-----END CERTIFICATE-----\n")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        starttls_peer(gateway, ctx, "other.example.com")


def test_starttls_swaks(gateway):
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{gateway.port}", "-tls", "--tls-verify",
                        "--tls-ca-path", gateway.ca, "--from", "alice@example.com",
                        "--to", "bob@example.com", "--header", "Subject: swaks tls",
                        "--body", "over TLS"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "=== TLS started with cipher" in r.stdout
    assert "queued as" in r.stdout
    (got,) = wait_maildir(f"{gateway.md_int}/bob@example.com")
    assert header_values(got, "Subject") == [b"swaks tls"]


def test_starttls_openssl_s_client_verifies(gateway):
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect",
                        f"127.0.0.1:{gateway.port}", "-CAfile", gateway.ca, "-verify_return_error",
                        "-verify_hostname", gateway.hostname, "-brief"],
                       input="QUIT\r\n", capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Verification: OK" in out, out
    assert "Protocol version: TLSv1.3" in out or "Protocol version: TLSv1.2" in out, out
