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


class Gpg:
    """A GnuPG home of the partner's: keys made with gpg itself (the looked-up material)."""

    def __init__(self, home):
        os.makedirs(home, mode=0o700, exist_ok=True)
        with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
            f.write("allow-loopback-pinentry\n")
        self.home = home
        self.env = dict(os.environ, GNUPGHOME=home)

    def run(self, *args, input=None):
        r = subprocess.run(["gpg", "--batch", "--yes", "--pinentry-mode", "loopback",
                            "--passphrase", "", *args], input=input, capture_output=True,
                           env=self.env, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"gpg {args}: {r.stderr.decode(errors='replace')}")
        return r

    def new_key(self, uid, expired=False):
        """An ed25519/cv25519 key (sign + encrypt subkey) for uid; expired: made in 2020 with
        a lifetime of one day."""
        past = ["--faked-system-time", "20200101T000000"] if expired else []
        self.run(*past, "--quick-gen-key", uid, "future-default", "default",
                 "1d" if expired else "never")

    def export(self, uid, armor=False):
        return self.run("--export", *(["--armor"] if armor else []), uid).stdout

    def decrypt(self, data):
        """The plaintext (gpg exits 2 when it cannot check the sender's signature: it does not
        hold our key, and that is not what is tested)."""
        r = subprocess.run(["gpg", "--batch", "--decrypt"], input=data, capture_output=True,
                           env=self.env, timeout=120)
        return r.stdout

    def close(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True)
