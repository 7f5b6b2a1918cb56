"""S/MIME certificates and CMS against real peers: `sealgate cert ...` / `ca crl`, checked by
openssl, gpgsm 2.2 and NSS cmsutil (notes/test-rig.md part a). Self-contained: each test makes
its own instance with `sealgate init` in a temporary directory. The CMS primitives are driven
through the hidden test aid `sealgate cert tool` (docs/smime.md)."""
import base64
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import sgrig

BIN = os.environ.get("SEALGATE_BIN",
                     os.path.join(os.path.dirname(__file__), "..", "..", "build", "sealgate"))

ENTITY = ("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
          "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
          "Grüße aus München — ünïcödé survives\r\n"
          "--b1\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n"
          + base64.encodebytes(bytes(range(256)) * 4).decode().replace("\n", "\r\n")
          + "--b1--\r\n").encode()


def run(args, stdin=None, check=True, env=None):
    p = subprocess.run(args, input=stdin, capture_output=True, env=env, timeout=120)
    if args[0] == BIN:
        sgrig.check_cli(p, args)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} -> {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}")
    return p


def nss_db(tmp_path, ca, pfx=None, pin=None):
    """An NSS database (Thunderbird's engine) that trusts ca and, with pfx, holds that key;
    its password is "pw". cmsutil is in the test dependencies (libnss3-tools)."""
    nss = tmp_path / "nss"
    nss.mkdir()
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    run(["certutil", "-N", "-d", f"sql:{nss}", "-f", str(pw)])
    run(["certutil", "-A", "-d", f"sql:{nss}", "-f", str(pw), "-n", "acme", "-t", "C,C,C",
         "-a", "-i", ca])
    if pfx is not None:
        run(["pk12util", "-i", pfx, "-d", f"sql:{nss}", "-k", str(pw), "-W", pin])
    return f"sql:{nss}"


def signed_message(entity, sig_der):
    """A multipart/signed message around entity and a detached signature (DER)."""
    return (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
            b'micalg=sha-256; boundary="sb"\r\n\r\n--sb\r\n' + entity +
            b'\r\n--sb\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n'
            b'Content-Transfer-Encoding: base64\r\n\r\n' +
            base64.encodebytes(sig_der).replace(b"\n", b"\r\n") + b'\r\n--sb--\r\n')


def assert_valid_then_tampered_invalid(inst, msg):
    """msg, signed by alice, verifies; one letter changed in its content, it does not."""
    verdict = inst.sg("cert", "tool", "verify", stdin=msg).stdout.decode()
    assert verdict.startswith("verdict=valid signer=alice@example.test"), verdict
    tampered = msg.replace("München".encode(), "Münchem".encode())
    verdict = inst.sg("cert", "tool", "verify", stdin=tampered).stdout.decode()
    assert verdict.startswith("verdict=invalid"), verdict


class Instance:
    def __init__(self, base):
        self.dir = os.path.join(base, "inst")
        run([BIN, "init", self.dir, "--domain", "example.test", "--org", "Acme",
             "--hostname", "gw.example.test"])
        self.conf = os.path.join(self.dir, "sealgate.conf")
        self.ca = os.path.join(self.dir, "ca", "ca.crt")

    def sg(self, *args, stdin=None, check=True):
        a = list(args)
        return run([BIN, a[0], a[1], "-c", self.conf] + a[2:], stdin=stdin, check=check)

    def pfx(self, email, path, legacy):
        out = self.sg("cert", "export", email, "--pfx", path, *(["--legacy"] if legacy else []))
        pin = re.search(rb"^PIN: (\S+)$", out.stdout, re.M).group(1).decode()
        assert os.stat(path).st_mode & 0o077 == 0
        return pin


class Gpgsm:
    def __init__(self, base, ca):
        self.home = os.path.join(base, "gnupg")
        os.makedirs(self.home, mode=0o700)
        with open(os.path.join(self.home, "gpg-agent.conf"), "w") as f:
            f.write("allow-loopback-pinentry\n")
        with open(os.path.join(self.home, "gpgsm.conf"), "w") as f:
            f.write("disable-crl-checks\ndisable-dirmngr\npinentry-mode loopback\n")
        self.env = dict(os.environ, GNUPGHOME=self.home)
        self.run(["--import", ca])
        out = self.run(["--with-colons", "--list-keys", "Acme Secure Mail CA"]).stdout.decode()
        fpr = next(l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:"))
        with open(os.path.join(self.home, "trustlist.txt"), "w") as f:
            f.write(f"{fpr} S relax\n")

    def run(self, args, stdin=None, check=True):
        return run(["gpgsm", "--batch"] + args, stdin=stdin, check=check, env=self.env)

    def import_pfx(self, inst, email, path, legacy):
        """Exports email's .pfx and imports it. gpgsm 2.2.40 refuses about 1 in 40 valid legacy
        PKCS#12 files ("decryption failed ... possibly bad passphrase") that OpenSSL and NSS
        read (OpenSSL's own legacy exports too: 1 of 60 here); a fresh export has a fresh salt.
        So a refused file is tried again only once two independent readers, OpenSSL and NSS,
        have read the whole of it with the PIN (MAC, certificate and key): a fault in our .pfx
        fails the test instead of being retried away."""
        for attempt in range(3):
            if os.path.exists(path):
                os.unlink(path)
            pin = inst.pfx(email, path, legacy=legacy)
            r = self.run(["--pinentry-mode", "loopback", "--passphrase-fd", "0", "--import", path],
                         stdin=(pin + "\n").encode(), check=False)
            if r.returncode == 0:
                return pin
            out = run(["openssl", "pkcs12", "-in", path, "-passin", f"pass:{pin}", "-nodes"]).stdout
            assert b"BEGIN CERTIFICATE" in out and b"PRIVATE KEY-----" in out, out
            nss = tempfile.mkdtemp(dir=os.path.dirname(path))
            run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"])
            run(["pk12util", "-i", path, "-d", f"sql:{nss}", "-W", pin])
            print(f"gpgsm refused a .pfx that OpenSSL and NSS read (attempt {attempt + 1})")
        raise AssertionError("gpgsm refused three freshly exported .pfx files")

    def secret(self, pin, args):
        return self.run(["--pinentry-mode", "loopback", "--passphrase-fd", "0"] + args,
                        stdin=(pin + "\n").encode())

    def close(self):
        run(["gpgconf", "--homedir", self.home, "--kill", "all"], check=False)


@pytest.fixture
def inst(tmp_path):
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"no sealgate binary at {BIN}: build it or set SEALGATE_BIN")
    return Instance(str(tmp_path))


@pytest.fixture
def gpgsm(tmp_path, inst):
    if shutil.which("gpgsm") is None:
        pytest.fail("gpgsm not installed: run scripts/deps.sh")
    g = Gpgsm(str(tmp_path), inst.ca)
    yield g
    g.close()


def body_of(mime):
    """The base64 body of a single-part entity (gpgsm does not parse MIME)."""
    return mime.split(b"\r\n\r\n", 1)[1]


def split_signed(msg):
    """(first part exactly as signed, DER signature) of a multipart/signed entity."""
    boundary = re.search(rb'boundary="([^"]+)"', msg).group(1)
    parts = msg.split(b"--" + boundary)
    content = parts[1][2:-2]
    return content, base64.b64decode(body_of(parts[2]))


def test_issue_list_export_pem(inst, tmp_path):
    out = inst.sg("cert", "issue", "Alice@Example.test").stdout.decode()
    assert "issued certificate for alice@example.test" in out
    listing = inst.sg("cert", "list").stdout.decode()
    assert re.search(r"alice@example.test\s+issued\s+valid\s+\S+\s+yes", listing)
    pem = inst.sg("cert", "export", "alice@example.test").stdout
    crt = tmp_path / "alice.crt"
    crt.write_bytes(pem)
    text = run(["openssl", "x509", "-in", str(crt), "-noout", "-text"]).stdout.decode()
    assert "email:alice@example.test" in text
    assert "E-mail Protection" in text
    assert "Digital Signature, Key Encipherment" in text
    assert "Public-Key: (3072 bit)" in text
    run(["openssl", "verify", "-purpose", "smimeencrypt", "-CAfile", inst.ca, str(crt)])


def test_issue_refuses_external_and_names_the_fix(inst):
    p = inst.sg("cert", "issue", "bob@partner.test", check=False)
    assert p.returncode == 1 and b"cert proxy" in p.stderr
    p = inst.sg("cert", "issue", "not an address", check=False)
    assert p.returncode == 1 and b"not a plain e-mail address" in p.stderr
    p = inst.sg("cert", "export", "nobody@example.test", check=False)
    assert p.returncode == 1 and b"cert issue" in p.stderr


def test_modern_pfx_reads_with_openssl_pkcs12(inst, tmp_path):
    inst.sg("cert", "issue", "alice@example.test")
    path = str(tmp_path / "alice.pfx")
    pin = inst.pfx("alice@example.test", path, legacy=False)
    info = run(["openssl", "pkcs12", "-in", path, "-passin", "pass:" + pin, "-info", "-noout"])
    err = info.stderr.decode()
    assert "MAC: sha256" in err and "PBES2" in err and "AES-256-CBC" in err
    keys = run(["openssl", "pkcs12", "-in", path, "-passin", "pass:" + pin, "-nodes"]).stdout
    assert b"PRIVATE KEY" in keys and b"subject=O = Acme, CN = alice@example.test" in keys
    p = inst.sg("cert", "export", "alice@example.test", "--pfx", path, check=False)
    assert p.returncode == 1 and b"refusing to overwrite" in p.stderr


def test_legacy_pfx_into_gpgsm_which_decrypts_what_we_encrypt(inst, gpgsm, tmp_path):
    inst.sg("cert", "issue", "alice@example.test")
    path = str(tmp_path / "alice-legacy.pfx")
    pin = gpgsm.import_pfx(inst, "alice@example.test", path, legacy=True)
    enc = inst.sg("cert", "tool", "encrypt", "alice@example.test", stdin=ENTITY).stdout
    assert b"\n" not in enc.replace(b"\r\n", b"")
    assert b"smime-type=enveloped-data" in enc
    b64 = tmp_path / "body.b64"
    b64.write_bytes(body_of(enc))
    out = tmp_path / "out.mime"
    gpgsm.secret(pin, ["--assume-base64", "--decrypt", "-o", str(out), str(b64)])
    assert out.read_bytes() == ENTITY
    # and NSS (Thunderbird's engine) reads the same message with the same .pfx
    nss = nss_db(tmp_path, inst.ca, path, pin)
    der = tmp_path / "enc.der"
    der.write_bytes(base64.b64decode(body_of(enc)))
    assert run(["cmsutil", "-D", "-d", nss, "-p", "pw", "-i", str(der)]).stdout == ENTITY


def test_we_decrypt_and_verify_what_gpgsm_makes(inst, gpgsm, tmp_path):
    inst.sg("cert", "issue", "alice@example.test")
    path = str(tmp_path / "alice-legacy.pfx")
    pin = gpgsm.import_pfx(inst, "alice@example.test", path, legacy=True)
    plain = tmp_path / "entity"
    plain.write_bytes(ENTITY)
    enc = tmp_path / "enc.der"
    gpgsm.run(["--encrypt", "-r", "alice@example.test", "--cipher-algo", "AES256",
               "-o", str(enc), str(plain)])
    out = inst.sg("cert", "tool", "decrypt", stdin=enc.read_bytes()).stdout
    assert out == ENTITY
    sig = tmp_path / "sig.der"
    gpgsm.secret(pin, ["-u", "alice@example.test", "--detach-sign", "-o", str(sig), str(plain)])
    assert_valid_then_tampered_invalid(inst, signed_message(ENTITY, sig.read_bytes()))


def test_openssl_gpgsm_and_nss_verify_what_we_sign(inst, gpgsm, tmp_path):
    inst.sg("cert", "issue", "alice@example.test")
    signed = inst.sg("cert", "tool", "sign", "alice@example.test", stdin=ENTITY).stdout
    assert b'micalg="sha-256"' in signed and b"multipart/signed" in signed
    f = tmp_path / "signed.eml"
    f.write_bytes(signed)
    run(["openssl", "cms", "-verify", "-in", str(f), "-CAfile", inst.ca, "-out", "/dev/null"])
    content, sig = split_signed(signed)
    assert content == ENTITY
    (tmp_path / "content").write_bytes(content)
    (tmp_path / "sig.der").write_bytes(sig)
    v = gpgsm.run(["--verify", str(tmp_path / "sig.der"), str(tmp_path / "content")])
    assert b"Good signature" in v.stderr
    verdict = inst.sg("cert", "tool", "verify", stdin=signed).stdout.decode()
    assert verdict.startswith("verdict=valid signer=alice@example.test")
    nss = nss_db(tmp_path, inst.ca)
    out = run(["cmsutil", "-D", "-d", nss, "-c", str(tmp_path / "content"),
               "-i", str(tmp_path / "sig.der"), "-n", "-h", "2"])
    assert b"GoodSignature" in out.stdout + out.stderr


def test_we_decrypt_and_verify_what_nss_makes(inst, tmp_path):
    """NSS cmsutil, with the key from our .pfx in its database, encrypts to our certificate
    and signs as the user: sealgate decrypts the one and verifies the other."""
    inst.sg("cert", "issue", "alice@example.test")
    path = str(tmp_path / "alice.pfx")
    pin = inst.pfx("alice@example.test", path, legacy=True)
    nss = nss_db(tmp_path, inst.ca, path, pin)
    nick = run(["certutil", "-L", "-d", nss]).stdout.decode()
    nick = next(line.rsplit(None, 1)[0] for line in nick.splitlines()
                if line.strip().endswith("u,u,u"))
    plain = tmp_path / "entity"
    plain.write_bytes(ENTITY)
    enc = tmp_path / "enc.der"
    run(["cmsutil", "-E", "-d", nss, "-p", "pw", "-r", "alice@example.test",
         "-i", str(plain), "-o", str(enc)])
    assert inst.sg("cert", "tool", "decrypt", stdin=enc.read_bytes()).stdout == ENTITY
    sig = tmp_path / "sig.der"
    run(["cmsutil", "-S", "-d", nss, "-p", "pw", "-N", nick, "-T", "-G", "-P", "-H", "SHA256",
         "-i", str(plain), "-o", str(sig)])
    assert_valid_then_tampered_invalid(inst, signed_message(ENTITY, sig.read_bytes()))


def test_unknown_signer_is_untrusted(inst, tmp_path):
    other = Instance(str(tmp_path / "other"))
    other.sg("cert", "issue", "eve@example.test")
    signed = other.sg("cert", "tool", "sign", "eve@example.test", stdin=ENTITY).stdout
    verdict = inst.sg("cert", "tool", "verify", stdin=signed).stdout.decode()
    assert verdict.startswith("verdict=untrusted signer=eve@example.test"), verdict


def test_revoke_writes_crl_and_stops_use(inst, tmp_path):
    inst.sg("cert", "issue", "alice@example.test")
    inst.sg("cert", "issue", "carol@example.test")
    serial = re.search(r"carol@example.test\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)",
                       inst.sg("cert", "list").stdout.decode()).group(1)
    out = inst.sg("cert", "revoke", "alice@example.test").stdout.decode()
    assert "revoked 1 certificate" in out and "crl.pem" in out
    inst.sg("cert", "revoke", serial.lower())
    p = inst.sg("cert", "revoke", serial, check=False)
    assert p.returncode == 1 and b"no unrevoked certificate" in p.stderr
    crl = inst.sg("ca", "crl").stdout
    with open(os.path.join(inst.dir, "ca", "crl.pem"), "rb") as f:
        assert f.read() == crl
    (tmp_path / "crl.pem").write_bytes(crl)
    text = run(["openssl", "crl", "-in", str(tmp_path / "crl.pem"), "-noout", "-text",
                "-CAfile", inst.ca]).stdout.decode()
    assert serial in text and text.count("Serial Number:") == 2
    assert re.search(r"alice@example.test\s+issued\s+revoked", inst.sg("cert", "list").stdout.decode())
    p = inst.sg("cert", "tool", "encrypt", "alice@example.test", stdin=ENTITY, check=False)
    assert p.returncode == 1 and b"revoked" in p.stderr


def openssl_user(tmp_path, email, name):
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "30", "-subj", f"/CN={email}",
         "-addext", f"subjectAltName=email:{email}",
         "-addext", "keyUsage=digitalSignature,keyEncipherment",
         "-addext", "extendedKeyUsage=emailProtection"])
    return key, crt


def test_import_partner_certificate_then_encrypt_to_it(inst, tmp_path):
    key, crt = openssl_user(tmp_path, "dave@partner.test", "dave")
    p = inst.sg("cert", "import", "erin@partner.test", str(crt), check=False)
    assert p.returncode == 1 and b"not for erin@partner.test" in p.stderr
    inst.sg("cert", "import", "dave@partner.test", str(crt))
    der = tmp_path / "dave.der"
    run(["openssl", "x509", "-in", str(crt), "-outform", "DER", "-out", str(der)])
    inst.sg("cert", "import", "dave@partner.test", str(der))  # same certificate: one row
    listing = inst.sg("cert", "list", "dave@partner.test").stdout.decode()
    assert listing.count("dave@partner.test") == 1 and "imported" in listing
    enc = inst.sg("cert", "tool", "encrypt", "dave@partner.test", stdin=ENTITY).stdout
    (tmp_path / "enc.eml").write_bytes(enc)
    out = run(["openssl", "cms", "-decrypt", "-in", str(tmp_path / "enc.eml"), "-recip", str(crt),
               "-inkey", str(key), "-binary"]).stdout
    assert out == ENTITY


def test_import_p12_for_internal_user(inst, tmp_path):
    key, crt = openssl_user(tmp_path, "carol@example.test", "carol")
    p12 = tmp_path / "carol.p12"
    run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(crt), "-out", str(p12),
         "-passout", "pass:s3cret"])
    p = inst.sg("cert", "import", "carol@example.test", str(p12), "--password-stdin",
                stdin=b"wrong\n", check=False)
    assert p.returncode == 1 and b"wrong password" in p.stderr
    inst.sg("cert", "import", "carol@example.test", str(p12), "--password-stdin", stdin=b"s3cret\n")
    assert re.search(r"carol@example.test\s+imported\s+valid\s+\S+\s+yes",
                     inst.sg("cert", "list").stdout.decode())
    signed = inst.sg("cert", "tool", "sign", "carol@example.test", stdin=ENTITY).stdout
    (tmp_path / "s.eml").write_bytes(signed)
    run(["openssl", "cms", "-verify", "-in", str(tmp_path / "s.eml"), "-CAfile", str(crt),
         "-out", "/dev/null"])


def test_proxy_certificate_flow(inst, tmp_path):
    """Outlook encrypts to the partner's proxy certificate; the gateway decrypts."""
    out = inst.sg("cert", "proxy", "bob@partner.test").stdout.decode()
    assert "proxy certificate for bob@partner.test" in out
    p = inst.sg("cert", "proxy", "alice@example.test", check=False)
    assert p.returncode == 1 and b"cert issue" in p.stderr
    crt = tmp_path / "bob-proxy.crt"
    crt.write_bytes(inst.sg("cert", "export", "bob@partner.test").stdout)
    (tmp_path / "entity").write_bytes(ENTITY)
    enc = run(["openssl", "cms", "-encrypt", "-aes256", "-binary", "-in", str(tmp_path / "entity"),
               str(crt)]).stdout
    assert inst.sg("cert", "tool", "decrypt", stdin=enc).stdout == ENTITY
