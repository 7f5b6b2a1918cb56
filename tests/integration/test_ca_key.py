"""The CA key at rest: ca/ca.key is sealed with the master key (openssl sees no key in it),
created 0600; `cert issue`, `cert revoke` and `ca crl` work with it; an instance made before
keys were sealed (a clear PEM ca.key, written here by openssl) has its key sealed in place when
the gateway starts, with a log line, and by the first command that loads it."""

import os
import shutil
import stat
import subprocess

OPENSSL = shutil.which("openssl")


def openssl(*args, check=True):
    r = subprocess.run([OPENSSL, *args], capture_output=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"openssl {args[0]} failed: {r.stderr.decode(errors='replace')}")
    return r


def key_opens_without_master_key(path):
    return openssl("pkey", "-in", path, "-noout", check=False).returncode == 0


def clear_ca(g, name):
    """Replaces the instance CA with one as earlier versions wrote it: a clear PEM key."""
    ca = os.path.join(g.dir, "ca")
    key, crt = os.path.join(ca, "ca.key"), os.path.join(ca, "ca.crt")
    os.unlink(key)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
            "-days", "30", "-subj", f"/O=Old/CN={name}", "-addext",
            "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign")
    os.chmod(key, 0o600)
    assert key_opens_without_master_key(key)
    return key, crt


def issued_chains_to(g, crt, address, workdir):
    r = g.cli("cert", "issue", address)
    assert r.returncode == 0, r.stderr
    pem = workdir / f"{address}.pem"
    pem.write_text(g.cli("cert", "export", address).stdout)
    r = openssl("verify", "-CAfile", crt, "-purpose", "smimeencrypt", str(pem), check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ca_key_is_sealed_and_the_ca_works(gw_factory, workdir):
    g = gw_factory()
    key = os.path.join(g.dir, "ca", "ca.key")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert not key_opens_without_master_key(key)
    assert b"BEGIN SEALGATE SEALED PRIVATE KEY" in open(key, "rb").read()
    issued_chains_to(g, g.ca, "alice@example.com", workdir)
    r = g.cli("cert", "revoke", "alice@example.com")
    assert r.returncode == 0, r.stderr
    r = g.cli("ca", "crl")
    assert r.returncode == 0, r.stderr
    crl = workdir / "crl.pem"
    crl.write_text(r.stdout)
    r = openssl("crl", "-in", str(crl), "-CAfile", g.ca, "-noout", "-text")
    assert b"Serial Number" in r.stdout and b"verify OK" in r.stderr + r.stdout
    # the master key is what opens it: another one does not
    os.rename(os.path.join(g.dir, "master.key"), os.path.join(g.dir, "master.key.real"))
    subprocess.run([OPENSSL, "rand", "-out", os.path.join(g.dir, "master.key"), "32"], check=True)
    os.chmod(os.path.join(g.dir, "master.key"), 0o600)
    r = g.cli("ca", "crl")
    assert r.returncode != 0 and "wrong master key" in r.stderr, r.stderr


def test_clear_ca_key_is_sealed_at_start(gw_factory, workdir):
    g = gw_factory()
    key, crt = clear_ca(g, "Before Sealing CA")
    g.start()
    g.wait_log(r"ca\.key: the CA key was a clear PEM file; it is now sealed", timeout=60)
    assert not key_opens_without_master_key(key)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert not os.path.exists(key + ".sealing")
    g.stop()
    issued_chains_to(g, crt, "bob@example.com", workdir)


def test_clear_ca_key_is_sealed_by_a_command(gw_factory, workdir):
    g = gw_factory()
    key, crt = clear_ca(g, "Before Sealing CA")
    issued_chains_to(g, crt, "carol@example.com", workdir)
    assert not key_opens_without_master_key(key)
    r = g.cli("ca", "crl")
    assert r.returncode == 0 and "clear PEM" not in r.stderr, r.stderr
