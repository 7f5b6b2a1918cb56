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


def drip_until_closed(sock, data, every=0.4, limit=30):
    """Sends data one byte every `every` seconds, as a slow-loris client does; the seconds
    until the gateway closed the connection (or limit if it never did)."""
    import select
    import time
    start = time.monotonic()
    for b in data:
        try:
            sock.sendall(bytes([b]))
        except OSError:
            return time.monotonic() - start
        r, _, _ = select.select([sock], [], [], every)
        if r:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - start
            except OSError:
                return time.monotonic() - start
        if time.monotonic() - start > limit:
            break
    return limit


def starttls_raw(gateway):
    import socket
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=30)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    s.sendall(b"EHLO drip.example\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    s.sendall(b"STARTTLS\r\n")
    assert f.readline().startswith(b"220")
    return s


@pytest.fixture
def short_gateway(gateway):
    gateway.set(**{"smtp.command_timeout": "3s"})
    gateway.stop()
    gateway.start()
    return gateway


def test_a_dripped_tls_handshake_gets_one_command_time_in_total(short_gateway):
    """A ClientHello sent a byte at a time (each byte well inside the 3 s command timeout)
    must not hold the session thread: the handshake has one total deadline."""
    s = starttls_raw(short_gateway)
    hello = b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03" + bytes(250)
    took = drip_until_closed(s, hello)
    s.close()
    assert took < 15, f"handshake still open after {took:.0f} s of dripping"


def test_a_dripped_tls_record_gets_the_command_deadline(short_gateway):
    """After the handshake, a record whose bytes arrive one at a time (the header says 200
    bytes follow) is cut at the command's deadline, not waited for byte by byte."""
    import socket
    ctx = ssl.create_default_context(cafile=short_gateway.ca)
    raw = starttls_raw(short_gateway)
    tls = ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
    try:
        tls.do_handshake()
    except ssl.SSLCertVerificationError:
        ctx.check_hostname = False  # the name does not matter here, the record does
        raw = starttls_raw(short_gateway)
        tls = ctx.wrap_socket(raw, do_handshake_on_connect=False)
        tls.do_handshake()
    under = socket.socket(fileno=os.dup(tls.fileno()))  # below TLS: a record of our own
    took = drip_until_closed(under, b"\x17\x03\x03\x00\xc8" + bytes(200))
    under.close()
    tls.close()
    assert took < 15, f"session still open after {took:.0f} s of one dripped record"
