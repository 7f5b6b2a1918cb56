"""STARTTLS against three real clients, each verifying the chain to the instance CA that
`sealgate init` made (DIR/ca/ca.crt -> DIR/tls/server.crt)."""

import smtplib
import ssl
import subprocess

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


def test_starttls_wrong_ca_is_refused_by_client(gateway, tmp_path):
    other = tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "1", "-subj", "/CN=other", "-keyout", str(tmp_path / "o.key"),
                    "-out", str(other)], check=True, capture_output=True)
    ctx = ssl.create_default_context(cafile=str(other))
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        s.ehlo()
        try:
            s.starttls(context=ctx)
        except ssl.SSLCertVerificationError:
            return
    raise AssertionError("verification against an unrelated CA succeeded")


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
