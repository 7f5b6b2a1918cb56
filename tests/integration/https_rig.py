"""https_rig: a real HTTPS server (Python's ssl + http.server) with a test CA, for the HTTPS
client (src/fetch: tests/unit/test_fetch.c runs this file as a script) and for the MTA-STS
policy server of tests/integration/test_mta_sts.py. Besides plain answers it plays hostile
servers: slow, huge, garbage headers, over-long lines, redirects, a certificate of another CA.
Debian's /usr/bin/python3 (python3-cryptography for the certificates)."""

import datetime
import http.server
import ipaddress
import os
import socketserver
import ssl
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TestCA:
    """A CA in directory d: ca.pem (the trust anchor to give the client) and issued leaves."""

    def __init__(self, d, cn="sealgate test CA"):
        self.dir = d
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), critical=True)
                     .sign(self.key, hashes.SHA256()))
        safe = cn.replace(" ", "_")
        self.pem = _write(os.path.join(d, f"{safe}.pem"),
                          self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, names, prefix, expired=False):
        """A server certificate for DNS names / IP addresses in names: (cert.pem, key.pem)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alts = []
        for n in names:
            try:
                alts.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alts.append(x509.DNSName(n))
        start = now - datetime.timedelta(days=10 if expired else 1)
        end = now - datetime.timedelta(days=1) if expired else now + datetime.timedelta(days=20)
        cert = (x509.CertificateBuilder().subject_name(_name(names[0]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName(alts), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        chain = cert.public_bytes(serialization.Encoding.PEM)
        return (_write(os.path.join(self.dir, f"{prefix}.crt"), chain),
                _write(os.path.join(self.dir, f"{prefix}.key"), _key_pem(key)))


# ---- the server ------------------------------------------------------------------------------

def raw(handler, data):
    handler.wfile.write(data)
    handler.wfile.flush()
    handler.close_connection = True


def _slow(handler):
    """Headers, then one byte every half second, never the end."""
    raw(handler, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(600):
        time.sleep(0.5)
        raw(handler, b"x")


def _huge(handler):
    raw(handler, b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
    for _ in range(10000000 // 65536):
        raw(handler, b"y" * 65536)


def huge_chunked(handler):
    raw(handler, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(200):
        raw(handler, b"10000\r\n" + b"z" * 65536 + b"\r\n")


def _chunked(handler):
    raw(handler, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain"
         b"\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n")


def _close_delimited(handler, clean=True):
    """A body that ends when the server closes: with a TLS close_notify (complete) or without
    one (a truncation an attacker on the path could make: refused)."""
    raw(handler, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
    if clean:
        handler.connection.unwrap()


ROUTES = {
    "/ok": lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: 5\r\n\r\nhello"),
    "/chunked": _chunked,
    "/close": _close_delimited,
    "/close-unclean": lambda h: _close_delimited(h, clean=False),
    "/redirect": lambda h: raw(h, b"HTTP/1.1 302 Found\r\nLocation: /ok\r\n"
                                b"Content-Length: 0\r\n\r\n"),
    "/redirect-http": lambda h: raw(h, b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/ok"
                                     b"\r\nContent-Length: 0\r\n\r\n"),
    "/notfound": lambda h: raw(h, b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno\n"),
    "/slow": _slow,
    "/huge": _huge,
    "/huge-chunked": huge_chunked,
    "/garbage": lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-\x01Length\x00: 5\r\n\r\nhello"),
    "/not-http": lambda h: raw(h, b"SSH-2.0-OpenSSH_9.2\r\n"),
    "/longline": lambda h: raw(h, b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100000 + b"\r\n\r\n"),
    "/smuggle": lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "/cut": lambda h: raw(h, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nonly this"),
}


class Handler(http.server.BaseHTTPRequestHandler):
    """Routes by path; self.server.files maps (host, path) or path to bytes served as 200
    text/plain, (status, bytes), or a function that writes a raw response (raw(), huge())."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.requests.append((self.headers.get("Host", ""), self.path))
        host = self.headers.get("Host", "").split(":")[0]
        body = srv.files.get((host, self.path), srv.files.get(self.path))
        if callable(body):  # a hostile answer of the test's own: it writes the raw response
            try:
                body(self)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                pass
            return
        if body is not None:
            status, body = (body if isinstance(body, tuple) else (200, body))
            raw(self, b"HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                 % (status, len(body)) + body)
            return
        route = ROUTES.get(self.path)
        if route is None:
            raw(self, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that gives up (deadline, limit, bad certificate) is what we test


def serve(port, cert, key, files=None):
    """An HTTPS server on 127.0.0.1:port in a daemon thread; returns it (.files, .requests,
    .shutdown())."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = Server(("127.0.0.1", port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.files = files if files is not None else {}
    srv.requests = []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    """Script mode for the C unit test: DIR; makes good.pem (the CA to trust), serves a good
    certificate (localhost, 127.0.0.1) and one of an unknown CA, prints 'GOOD BAD' ports, and
    runs until stdin closes."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sgrig import free_port
    d = sys.argv[1]
    good = TestCA(d, "good")
    bad = TestCA(d, "unknown")
    gcert, gkey = good.issue(["localhost", "127.0.0.1"], "good-server")
    bcert, bkey = bad.issue(["localhost", "127.0.0.1"], "bad-server")
    ports = []
    for cert, key in ((gcert, gkey), (bcert, bkey)):
        port = free_port()
        serve(port, cert, key)
        ports.append(port)
    print(f"{ports[0]} {ports[1]}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
