#!/usr/bin/python3
"""dns_rig: a private unbound on a loopback port serving test zones that the test makes: one
DNSSEC-signed zone (ldns-keygen + ldns-signzone, its DS written as sealgate's trust anchor) and
one unsigned zone. Tests add records (MX, A, AAAA, TLSA, TXT, SMIMEA, OPENPGPKEY, or any type
in zone-file syntax) and commit(); unbound reloads the zones through unbound-control. A record
added with tamper=True is changed after signing, so its signature no longer matches: answers
for it are bogus.

One rig per test module (the module-scoped `dns_rig` fixture in conftest.py): names under each
zone should be unique per test, since a sealgate resolver caches what it was told.

    rig = DnsRig(tmpdir).start()
    rig.add("signed", "example", "MX", "10 mx.example")
    rig.add("signed", "mx.example", "A", "127.0.0.1")
    rig.commit()
    gw.set(**rig.settings())          # dns.resolver and dns.trust_anchor
    rig.fqdn("signed", "example")     # -> "example.signed.sgtest"

As a program (a shell): dns_rig.py start DIR  prints the settings, then waits for Ctrl-C.
"""

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sgrig import _bindable, free_port, wait_for  # noqa: E402

# Not test., example. or invalid.: unbound answers some reserved names itself.
TLD = "sgtest"
ZONES = {"signed": True, "plain": False}


def _run(argv, cwd=None):
    r = subprocess.run(argv, capture_output=True, timeout=60, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]}: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode()


def tlsa_data(cert_pem, usage=3, selector=1, mtype=1):
    """The rdata "U S M HEX" of a TLSA record for a PEM certificate (selector 0: the whole
    certificate, 1: its SubjectPublicKeyInfo; matching 0: full, 1: SHA2-256, 2: SHA2-512)."""
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=cert_pem.encode()
                         if isinstance(cert_pem, str) else cert_pem, capture_output=True,
                         check=True).stdout
    if selector == 1:
        pub = subprocess.run(["openssl", "x509", "-inform", "DER", "-pubkey", "-noout"],
                             input=der, capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                             capture_output=True, check=True).stdout
    data = {0: der, 1: hashlib.sha256(der).digest(), 2: hashlib.sha512(der).digest()}[mtype]
    return f"{usage} {selector} {mtype} {data.hex()}"


def hashed_owner(local, label):
    """RFC 8162 / 7929 owner label: hex of SHA2-256(local)[:28], then _smimecert/_openpgpkey."""
    return hashlib.sha256(local.encode()).digest()[:28].hex() + "." + label


class DnsRig:
    def __init__(self, base):
        self.dir = os.path.join(base, "dns")
        os.makedirs(self.dir, exist_ok=True)
        self.port = None
        self.proc = None
        self.records = {z: [] for z in ZONES}   # (name, type, data, tamper)
        self.serial = int(time.time()) % 1000000000
        self.trust_anchor = os.path.join(self.dir, "trust-anchor.ds")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.control = os.path.join(self.dir, "control.sock")
        self.logpath = os.path.join(self.dir, "unbound.log")
        self.keys = {}

    # -- names

    @staticmethod
    def zone_name(zone):
        return f"{zone}.{TLD}"

    def fqdn(self, zone, name):
        return f"{name}.{self.zone_name(zone)}" if name not in ("", "@") else self.zone_name(zone)

    @property
    def resolver(self):
        return f"127.0.0.1@{self.port}"

    def settings(self):
        return {"dns.resolver": self.resolver, "dns.trust_anchor": self.trust_anchor,
                "dns.timeout": "5s"}

    # -- records

    def add(self, zone, name, rtype, data, tamper=False):
        """A record in zone ("signed" | "plain"); name relative to the zone ("@" its apex).
        tamper=True (signed zone): served with data changed after signing -> bogus."""
        self.records[zone].append((name, rtype.upper(), data, tamper))

    def add_generic(self, zone, name, type_number, rdata):
        """Any type from raw rdata bytes (RFC 3597 syntax), e.g. SMIMEA (53), OPENPGPKEY (61)."""
        self.add(zone, name, f"TYPE{type_number}", f"\\# {len(rdata)} {rdata.hex() or '00'}")

    def add_smimea(self, zone, local, cert_der, usage=3, selector=0, mtype=0):
        self.add_generic(zone, hashed_owner(local, "_smimecert"), 53,
                         bytes([usage, selector, mtype]) + cert_der)

    def add_openpgpkey(self, zone, local, key_bytes):
        self.add_generic(zone, hashed_owner(local, "_openpgpkey"), 61, key_bytes)

    def clear(self, zone):
        self.records[zone] = []

    # -- zone files

    def _zone_text(self, zone, tampered):
        origin = self.zone_name(zone)
        lines = [f"$ORIGIN {origin}.", "$TTL 30",
                 f"@ IN SOA ns.{origin}. hostmaster.{origin}. {self.serial} 30 30 300 30",
                 f"@ IN NS ns.{origin}.", "ns IN A 127.0.0.1"]
        for name, rtype, data, tamper in self.records[zone]:
            if tamper and tampered:
                data = _tampered(rtype, data)
            lines.append(f"{name} IN {rtype} {data}")
        return "\n".join(lines) + "\n"

    def _keygen(self, zone):
        if zone not in self.keys:
            base = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", self.zone_name(zone) + "."],
                        cwd=self.dir).strip()
            self.keys[zone] = os.path.join(self.dir, base)
        return self.keys[zone]

    def _write_zone(self, zone):
        path = os.path.join(self.dir, self.zone_name(zone) + ".zone")
        if not ZONES[zone]:
            with open(path, "w") as f:
                f.write(self._zone_text(zone, tampered=False))
            return path
        # Signed over the true data; tampered records are swapped in afterwards.
        with open(path + ".in", "w") as f:
            f.write(self._zone_text(zone, tampered=False))
        key = self._keygen(zone)
        _run(["ldns-signzone", "-f", path + ".tmp", path + ".in", key])
        tampered = {(self.fqdn(zone, n).lower() + ".", t): _tampered(t, d)
                    for n, t, d, tamper in self.records[zone] if tamper}
        with open(path + ".tmp") as f, open(path, "w") as out:
            for line in f:
                parts = line.split(None, 4)
                key_ = (parts[0].lower(), parts[3]) if len(parts) == 5 else None
                if key_ in tampered:
                    line = "\t".join(parts[:4]) + "\t" + tampered[key_] + "\n"
                out.write(line)
        return path

    def _write_trust_anchor(self):
        with open(self.trust_anchor, "w") as f:
            for zone, signed in ZONES.items():
                if signed:
                    with open(self._keygen(zone) + ".ds") as ds:
                        f.write(ds.read())

    def _write_conf(self):
        auth = "".join(
            f"auth-zone:\n  name: \"{self.zone_name(z)}.\"\n"
            f"  zonefile: \"{os.path.join(self.dir, self.zone_name(z) + '.zone')}\"\n"
            "  for-downstream: yes\n  for-upstream: yes\n  fallback-enabled: no\n"
            for z in ZONES)
        with open(self.conf, "w") as f:
            f.write(f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: ""
  use-syslog: no
  logfile: "{self.logpath}"
  verbosity: 1
  num-threads: 1
  do-ip6: no
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "{TLD}." nodefault
remote-control:
  control-enable: yes
  control-interface: "{self.control}"
  control-use-cert: no
{auth}""")

    # -- life

    def start(self, timeout=30):
        for zone in ZONES:
            self._write_zone(zone)
        self._write_trust_anchor()
        for _ in range(20):
            self.port = free_port()
            if _bindable(self.port, socket.SOCK_DGRAM):
                break
        self._write_conf()
        _run(["unbound-checkconf", self.conf])
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        wait_for(lambda: self._control("status", check=False) == 0 or self.proc.poll() is not None,
                 timeout, what="unbound to answer unbound-control")
        if self.proc.poll() is not None:
            raise RuntimeError("unbound exited: " + self.proc.stderr.read().decode(errors="replace")
                               + self.log())
        return self

    def _control(self, *args, check=True):
        r = subprocess.run(["unbound-control", "-c", self.conf, *args], capture_output=True,
                           timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"unbound-control {args}: {r.stdout.decode()} {r.stderr.decode()}")
        return r.returncode

    def commit(self):
        """Writes, signs and reloads every zone with the records added so far."""
        self.serial += 1
        for zone in ZONES:
            self._write_zone(zone)
            self._control("auth_zone_reload", self.zone_name(zone) + ".")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def dig(self, name, rtype):
        """The answer section as unbound serves it (for debugging a test), via ldns' drill."""
        return _run(["drill", "-D", "-p", str(self.port), "@127.0.0.1", name, rtype])


def _tampered(rtype, data):
    """The same record with different data, so that its RRSIG no longer verifies."""
    if rtype == "A":
        return "127.0.0.2" if data.strip() != "127.0.0.2" else "127.0.0.3"
    head, _, last = data.rpartition(" ")
    flipped = last[:-1] + ("0" if last[-1:] != "0" else "1")
    return f"{head} {flipped}" if head else flipped


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "start":
        sys.exit(__doc__)
    rig = DnsRig(sys.argv[2]).start()
    for k, v in rig.settings().items():
        print(f"{k} = {v}")
    try:
        signal.pause()
    finally:
        rig.stop()
