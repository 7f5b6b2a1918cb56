#!/usr/bin/python3
"""slapd_rig: a private OpenLDAP slapd 2.5 (notes/test-rig.md part e) on a loopback port, with
StartTLS under its own CA, an inetOrgPerson tree of employees and, in the same database, an
Active Directory-style variant (objectClass user with sAMAccountName, userPrincipalName,
proxyAddresses, userAccountControl from a small schema of Microsoft's attribute OIDs), and the
ppolicy overlay so that an OpenLDAP account can be disabled (pwdAccountLockedTime 000001010000Z).

As a program (bench/directory, a shell):
  slapd_rig.py start DIR PORT     prints the settings a sealgate instance needs
  slapd_rig.py stop DIR
"""

import base64
import os
import signal
import subprocess
import sys
import time

SUFFIX = "dc=example,dc=com"
ADMIN_DN = "cn=admin," + SUFFIX
ADMIN_PW = "adminpw"
SERVICE_DN = "cn=sealgate,ou=service," + SUFFIX
SERVICE_PW = "service-pw"

# Attribute types of Active Directory (Microsoft's OIDs, as in Debian's msuser.schema) and a
# structural "user" class on top of inetOrgPerson that may carry them.
AD_SCHEMA = """\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.210 NAME 'proxyAddresses'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' SUP inetOrgPerson STRUCTURAL
  MAY ( sAMAccountName $ userPrincipalName $ proxyAddresses $ userAccountControl ) )
"""

# (uid, cn, mails, password, extra LDIF lines)
PEOPLE = [
    ("alice", "Alice Archer", ["alice@example.com"], "alice-pw", ["preferredLanguage: en"]),
    ("juergen", "J\u00fcrgen M\u00fcller-\u0141\u00f3d\u017a", ["juergen@example.com"], "j\u00fcrgen-pw",
     ["preferredLanguage: de"]),
    ("bob", "Bob Baker", ["bob@example.com", "robert.baker@example.com"], "bob-pw", []),
    ("dave", "Dave Disabled", ["dave@example.com"], "dave-pw",
     ["pwdAccountLockedTime: 000001010000Z"]),
    ("erin", "Erin Early", ["erin@example.com"], "erin-pw", []),
]
# AD-style: (sAMAccountName, cn, mail, proxyAddresses, password, userAccountControl)
AD_PEOPLE = [
    ("carol", "Carol Clark", "carol@example.com",
     ["SMTP:carol@example.com", "smtp:c.clark@example.com", "X400:c=US;a= ;p=Example;s=Clark"],
     "carol-pw", 512),
    ("frank", "Frank Frozen", "frank@example.com", ["SMTP:frank@example.com"], "frank-pw", 514),
]

OPENLDAP_FILTER = "(&(objectClass=inetOrgPerson)(|(uid=%s)(mail=%s)))"
AD_FILTER = "(&(objectClass=user)(|(sAMAccountName=%s)(userPrincipalName=%s)(mail=%s)))"


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, timeout=60, **kw)


def _ssha(pw):
    r = _run(["slappasswd", "-s", pw])
    if r.returncode != 0:
        raise RuntimeError(f"slappasswd: {r.stderr.decode()}")
    return r.stdout.decode().strip()


def _b64line(attr, value):
    """attr:: base64 when value is not plain ASCII (LDIF, RFC 2849)."""
    try:
        value.encode("ascii")
        return f"{attr}: {value}"
    except UnicodeEncodeError:
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}"


class Slapd:
    def __init__(self, base, port):
        self.dir = os.path.join(base, "slapd")
        self.port = port
        self.url = f"ldap://127.0.0.1:{port}"
        self.ca = os.path.join(self.dir, "ca.crt")
        self.pidfile = os.path.join(self.dir, "slapd.pid")
        self.logpath = os.path.join(self.dir, "slapd.log")
        self.proc = None

    # -- setup

    def _tls(self):
        d = self.dir
        steps = [
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-days", "2",
             "-subj", "/CN=Directory Test CA"],
            ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", "/CN=127.0.0.1"],
            ["openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt",
             "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/server.crt", "-days", "2",
             "-extfile", f"{d}/san.ext"],
        ]
        with open(f"{d}/san.ext", "w") as f:
            f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
        for argv in steps:
            r = _run(argv)
            if r.returncode != 0:
                raise RuntimeError(f"{argv[:2]}: {r.stderr.decode()}")

    def _conf(self):
        d = self.dir
        with open(f"{d}/ad.schema", "w") as f:
            f.write(AD_SCHEMA)
        conf = f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {self.pidfile}
argsfile {d}/slapd.args
TLSCACertificateFile {d}/ca.crt
TLSCertificateFile {d}/server.crt
TLSCertificateKeyFile {d}/server.key
security tls=0
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by * read
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {_ssha(ADMIN_PW)}
directory {d}/db
index objectClass,uid,mail,cn eq
overlay ppolicy
"""
        with open(f"{d}/slapd.conf", "w") as f:
            f.write(conf)
        os.makedirs(f"{d}/db", exist_ok=True)
        r = _run(["slaptest", "-f", f"{d}/slapd.conf", "-u"])
        if r.returncode != 0:
            raise RuntimeError(f"slaptest: {r.stderr.decode()}")

    def ldif(self):
        out = [f"dn: {SUFFIX}", "objectClass: dcObject", "objectClass: organization",
               "o: Example", "dc: example", "",
               f"dn: ou=service,{SUFFIX}", "objectClass: organizationalUnit", "ou: service", "",
               f"dn: {SERVICE_DN}", "objectClass: person", "cn: sealgate", "sn: sealgate",
               f"userPassword: {_ssha(SERVICE_PW)}", "",
               f"dn: ou=people,{SUFFIX}", "objectClass: organizationalUnit", "ou: people", "",
               f"dn: ou=ad,{SUFFIX}", "objectClass: organizationalUnit", "ou: ad", ""]
        for uid, cn, mails, pw, extra in PEOPLE:
            out += [f"dn: uid={uid},ou=people,{SUFFIX}", "objectClass: inetOrgPerson",
                    f"uid: {uid}", _b64line("cn", cn), f"sn: {cn.split()[-1]}",
                    _b64line("displayName", cn)]
            out += [f"mail: {m}" for m in mails]
            out += [_b64line("userPassword", _ssha(pw))] + extra + [""]
        for sam, cn, mail, proxies, pw, uac in AD_PEOPLE:
            out += [f"dn: cn={cn},ou=ad,{SUFFIX}", "objectClass: user", f"cn: {cn}",
                    f"sn: {cn.split()[-1]}", f"sAMAccountName: {sam}",
                    f"userPrincipalName: {sam}@corp.example.com", f"mail: {mail}"]
            out += [f"proxyAddresses: {p}" for p in proxies]
            out += [f"userAccountControl: {uac}", f"userPassword: {_ssha(pw)}", ""]
        return "\n".join(out) + "\n"

    def setup(self):
        os.makedirs(self.dir, exist_ok=True)
        self._tls()
        self._conf()
        with open(f"{self.dir}/tree.ldif", "w") as f:
            f.write(self.ldif())
        # slapadd fills the database before the server runs: no network, no timing.
        r = _run(["slapadd", "-f", f"{self.dir}/slapd.conf", "-l", f"{self.dir}/tree.ldif"])
        if r.returncode != 0:
            raise RuntimeError(f"slapadd: {r.stderr.decode()}")
        return self

    # -- process

    def start(self, timeout=30):
        """slapd in the foreground (-d 0: no daemonising, so the PID is ours), ready when its
        port answers."""
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(["slapd", "-f", f"{self.dir}/slapd.conf", "-h", self.url + "/",
                                      "-d", "0"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited rc={self.proc.returncode}: {self.log()}")
            r = _run(["ldapwhoami", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PW],
                     env=dict(os.environ, LDAPTLS_CACERT=self.ca))
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"slapd did not answer on {self.port}: {self.log()}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def modify(self, ldif):
        """ldapmodify as the admin over StartTLS (-ZZ)."""
        r = _run(["ldapmodify", "-x", "-ZZ", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PW],
                 input=ldif.encode(), env=dict(os.environ, LDAPTLS_CACERT=self.ca))
        if r.returncode != 0:
            raise RuntimeError(f"ldapmodify: {r.stderr.decode()}")

    def settings(self, variant="openldap"):
        """The directory.* settings of a sealgate instance for this server."""
        pwfile = os.path.join(self.dir, "service.pw")
        with open(pwfile, "w") as f:
            f.write(SERVICE_PW + "\n")
        os.chmod(pwfile, 0o600)
        return {"directory.url": self.url, "directory.tls_ca": self.ca,
                "directory.base_dn": SUFFIX, "directory.bind_dn": SERVICE_DN,
                "directory.bind_password_file": pwfile,
                "directory.user_filter": OPENLDAP_FILTER if variant == "openldap" else AD_FILTER}


def main(argv):
    if len(argv) >= 3 and argv[0] == "start":
        s = Slapd(argv[1], int(argv[2])).setup().start()
        for k, v in s.settings().items():
            print(f"{k}={v}")
        with open(os.path.join(s.dir, "rig.pid"), "w") as f:
            f.write(str(s.proc.pid))
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        with open(os.path.join(argv[1], "slapd", "rig.pid")) as f:
            os.kill(int(f.read()), signal.SIGTERM)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
