#!/usr/bin/python3
"""lookup_rig: what key discovery's tests talk to. A partner PKI made with the openssl CLI (a CA
and S/MIME certificates for any address, or for one address under a CA nobody trusts), and two
hostile peers on loopback ports: one that accepts and never answers, one that answers every
request with the bytes it was given (malformed protocol data)."""

import os
import socket
import subprocess
import threading


def _run(argv):
    r = subprocess.run(argv, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[:3]}: {r.stderr.decode(errors='replace')}")
    return r


class Pki:
    """A CA in DIR/NAME; cert(addr) issues an RSA S/MIME certificate naming addr."""

    def __init__(self, base, name="partner-ca", cn="Partner CA"):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.crt")
        self.key = os.path.join(self.dir, "ca.key")
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
              "-out", self.ca, "-days", "30", "-subj", f"/CN={cn}",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=keyCertSign,cRLSign"])

    def cert(self, addr, days=30, san=None):
        """(certificate PEM path, key path) for addr; san overrides the address named."""
        d, stem = self.dir, addr.replace("@", "_at_")
        ext = os.path.join(d, stem + ".ext")
        with open(ext, "w") as f:
            f.write("[user]\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n"
                    f"subjectAltName=email:{san or addr}\n")
        key, csr, crt = (os.path.join(d, stem + x) for x in (".key", ".csr", ".crt"))
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
              "-subj", f"/CN={stem}"])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.key,
              "-CAcreateserial", "-out", crt, "-days", str(days), "-extfile", ext,
              "-extensions", "user"])
        return crt, key

    @staticmethod
    def der(crt):
        return _run(["openssl", "x509", "-in", crt, "-outform", "DER"]).stdout


class RawServer:
    """A TCP server on a loopback port: reply=None accepts and never answers (holding the
    connection until stopped); otherwise every connection gets reply after its first bytes."""

    def __init__(self, port, reply=None):
        self.port = port
        self.reply = reply
        self.conns = []
        self.accepted = 0
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.settimeout(5)
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()
