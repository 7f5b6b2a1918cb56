"""DKIM signing of what sealgate changes (issue 25): S/MIME, PGP/MIME, SecurePDF and a DSN each
leave with a DKIM-Signature that dkimpy (python3-dkim) verifies against the key `sealgate dkim
show` prints, and that fails once one byte of the delivered body is changed; rsa2048 and
ed25519; pass-through mail is left alone under dkim.sign = transformed and signed under all; a
From domain without a key goes out unsigned with one log line; bad keys and selectors are
refused with a reason."""

import os
import re
import smtplib
import subprocess

import dkim
import pytest

from sgrig import maildir_messages, wait_maildir

PW = "correct horse battery staple"


def records(g, *domains):
    """{'sel._domainkey.domain.': b'v=DKIM1; ...'} from `dkim show`."""
    out = {}
    for d in domains:
        r = g.cli("dkim", "show", d)
        assert r.returncode == 0, r.stderr
        for line in r.stdout.splitlines():
            name = line.split()[0]
            out[name] = "".join(re.findall(r'"([^"]*)"', line)).encode()
    return out


def verify(raw, recs):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return recs.get(name if name.endswith(".") else name + ".")
    return dkim.verify(raw, dnsfunc=dnsfunc)


def tampered(raw):
    """raw with one byte of its body changed."""
    head, body = raw.split(b"\r\n\r\n", 1) if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)
    i = next(k for k in range(len(body) // 2, len(body)) if body[k:k + 1].isalnum())
    flipped = b"A" if body[i:i + 1] != b"A" else b"B"
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    return head + sep + body[:i] + flipped + body[i + 1:]


def tampered_subject(raw):
    """raw with one byte of its (signed) Subject changed."""
    i = raw.index(b"\nSubject: ") + len(b"\nSubject: ")
    return raw[:i] + (b"X" if raw[i:i + 1] != b"X" else b"Y") + raw[i + 1:]


def send(g, to, subject, sender="alice@example.com", body="secret figures: 42\r\n"):
    msg = (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n"
           f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail(sender, to, msg)
    return msg


def one(box, n=1, timeout=60):
    wait_maildir(box, n, timeout=timeout)
    return maildir_messages(box)[n - 1]


def run(*args, env=None, input=None):
    r = subprocess.run(list(args), capture_output=True, env=env, input=input, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


@pytest.fixture
def partner(workdir):
    d = workdir / "partner"
    d.mkdir()
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "bob.key"),
        "-out", str(d / "bob.crt"), "-days", "30", "-subj", "/CN=Bob/emailAddress=bob@partner.test",
        "-addext", "subjectAltName=email:bob@partner.test",
        "-addext", "keyUsage=digitalSignature,keyEncipherment",
        "-addext", "extendedKeyUsage=emailProtection")
    home = workdir / "gnupg"
    home.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    run("gpg", "--batch", "--passphrase", "", "--quick-gen-key", "carol@partner.test",
        "future-default", "default", "never", env=env)
    (d / "carol.asc").write_bytes(run("gpg", "--armor", "--export", "carol@partner.test",
                                      env=env).stdout)
    run("gpgconf", "--kill", "all", env=env)
    return d


@pytest.fixture
def dkim_gw(gw_factory, workdir, partner):
    from conftest import maildir_routes
    g = gw_factory(domains=("example.com", "example.org"))
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"policy.invite_partners": "no"})
    for args in (("cert", "issue", "alice@example.com"),
                 ("cert", "import", "bob@partner.test", str(partner / "bob.crt")),
                 ("pgp", "import", str(partner / "carol.asc")),
                 ("dkim", "generate", "example.com", "--selector", "s1"),
                 ("dkim", "generate", "gw.example.com", "--type", "ed25519", "--selector", "ed")):
        r = g.cli(*args)
        assert r.returncode == 0, (args, r.stderr)
    r = g.cli("user", "add-external", "dave@partner.test", "--password-stdin", input=PW + "\n")
    assert r.returncode == 0, r.stderr
    g.cli("pgp", "accept", "carol@partner.test")
    return g


def test_transformed_mail_and_dsn_verify_and_tampering_fails(dkim_gw):
    g = dkim_gw.start()
    recs = records(g, "example.com", "gw.example.com")
    send(g, ["bob@partner.test"], "[secure] smime")
    send(g, ["carol@partner.test"], "[secure] pgp")
    send(g, ["dave@partner.test"], "[secure] pdf")
    send(g, ["erin@nowhere.test"], "[secure] refused")  # no way to encrypt: a DSN to alice
    outputs = {
        "smime": one(os.path.join(g.md_ext, "bob@partner.test")),
        "pgp": one(os.path.join(g.md_ext, "carol@partner.test")),
        "pdf": one(os.path.join(g.md_ext, "dave@partner.test")),
        "dsn": one(os.path.join(g.md_int, "alice@example.com")),
    }
    assert b"application/pkcs7-mime" in outputs["smime"]
    assert b"multipart/encrypted" in outputs["pgp"]
    assert b"secure-message.pdf" in outputs["pdf"]
    assert b"multipart/report" in outputs["dsn"]
    for what, raw in outputs.items():
        assert raw.count(b"DKIM-Signature:") == 1, what
        assert verify(raw, recs), what
        assert not verify(tampered(raw), recs), what
        assert not verify(tampered_subject(raw), recs), what
        sig = raw.split(b"DKIM-Signature:", 1)[1].split(b"\r\n\r\n")[0]
        assert b"c=relaxed/relaxed" in sig, what
    assert b"a=rsa-sha256" in outputs["smime"] and b"d=example.com" in outputs["smime"]
    assert b"a=ed25519-sha256" in outputs["dsn"] and b"d=gw.example.com" in outputs["dsn"]
    # From/To/Subject/Date oversigned: each named twice in h=.
    h = re.search(rb"[;\s]h=([^;]*);", outputs["smime"].replace(b"\r\n\t", b"").replace(b"\r\n ", b""))
    names = [n.strip().lower() for n in h.group(1).split(b":")]
    for n in (b"from", b"to", b"subject", b"date"):
        assert names.count(n) == 2, names


def test_pass_through_untouched_unless_all_and_keyless_domain_logged(dkim_gw):
    g = dkim_gw.start()
    recs = records(g, "example.com")
    sent = send(g, ["frank@elsewhere.test"], "plain one")
    raw = one(os.path.join(g.md_ext, "frank@elsewhere.test"))
    assert b"DKIM-Signature" not in raw
    assert raw.endswith(sent.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n"))
    g.stop()
    g.set(**{"dkim.sign": "all"})
    g.start()
    send(g, ["frank@elsewhere.test"], "plain two")
    send(g, ["frank@elsewhere.test"], "keyless one", sender="bob@example.org")
    send(g, ["frank@elsewhere.test"], "keyless two", sender="bob@example.org")
    box = os.path.join(g.md_ext, "frank@elsewhere.test")
    wait_maildir(box, 4, timeout=60)
    by_subject = {re.search(rb"Subject: ([^\r\n]*)", m).group(1): m for m in maildir_messages(box)}
    assert verify(by_subject[b"plain two"], recs)
    assert b"DKIM-Signature" not in by_subject[b"keyless one"]
    assert b"DKIM-Signature" not in by_subject[b"keyless two"]
    g.wait_log(r"dkim: unsigned, From domain example\.org: no key for it")
    g.wait_queue_empty()
    assert len(re.findall(r"From domain example\.org: no key", g.log())) == 1


def test_domains_setting_and_rotation_sign_with_both(dkim_gw):
    g = dkim_gw
    r = g.cli("dkim", "rotate", "example.com", "--selector", "s2", "--type", "ed25519")
    assert r.returncode == 0 and "s2._domainkey.example.com" in r.stdout, r.stderr
    g.start()
    recs = records(g, "example.com")
    send(g, ["bob@partner.test"], "[secure] rotated")
    raw = one(os.path.join(g.md_ext, "bob@partner.test"))
    assert raw.count(b"DKIM-Signature:") == 2
    for sel in ("s1", "s2"):   # each signature (rsa2048, ed25519) verifies on its own
        only = {k: v for k, v in recs.items() if k.startswith(sel + ".")}
        assert verify(raw, only) or verify(dkim_second(raw), only), sel
        for bad in (tampered(raw), tampered_subject(raw)):   # and fails after one changed byte
            assert not verify(bad, only) and not verify(dkim_second(bad), only), sel
    assert b"a=ed25519-sha256" in raw and b"a=rsa-sha256" in raw
    g.stop()
    g.set(**{"dkim.domains": "example.net"})
    g.start()
    send(g, ["bob@partner.test"], "[secure] not chosen")
    raw = one(os.path.join(g.md_ext, "bob@partner.test"), 2)
    assert b"DKIM-Signature" not in raw


def dkim_second(raw):
    """raw with its first DKIM-Signature removed, so that dkimpy checks the second."""
    raw = raw.replace(b"\r\n", b"\n")
    head, body = raw.split(b"\n\n", 1)
    fields = re.split(rb"\n(?=[^ \t])", head)
    first = next(i for i, f in enumerate(fields) if f.lower().startswith(b"dkim-signature:"))
    del fields[first]
    return b"\n".join(fields) + b"\n\n" + body


def test_bad_keys_and_selectors_are_refused(gw_factory, workdir):
    g = gw_factory()
    bad = workdir / "notakey.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    r = g.cli("dkim", "import", "example.com", "--selector", "s1", str(bad))
    assert r.returncode == 1 and "not a private key" in r.stderr, r.stderr
    run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", str(workdir / "ec.pem"))
    r = g.cli("dkim", "import", "example.com", "--selector", "s1", str(workdir / "ec.pem"))
    assert r.returncode == 1 and "RSA or Ed25519" in r.stderr, r.stderr
    r = g.cli("dkim", "generate", "example.com", "--selector", "my selector")
    assert r.returncode == 1 and "one DNS label" in r.stderr, r.stderr
    r = g.cli("dkim", "generate", "example.com", "--type", "dsa")
    assert r.returncode == 1 and "rsa2048 or ed25519" in r.stderr, r.stderr
    r = g.cli("dkim", "list")
    assert r.returncode == 0 and r.stdout == ""
    run("openssl", "genrsa", "-traditional", "-out", str(workdir / "rsa.pem"), "2048")
    r = g.cli("dkim", "import", "example.com", "--selector", "old", str(workdir / "rsa.pem"))
    assert r.returncode == 0 and "k=rsa" in r.stdout, r.stderr
    r = g.cli("dkim", "delete", "example.com", "nosuch")
    assert r.returncode == 1 and "no DKIM key" in r.stderr


def test_invitation_notice_is_signed(dkim_gw):
    """The notices sealgate writes (here the invitation of an unregistered partner, From
    postmaster@gw.example.com) are signed with the key of their From domain."""
    dkim_gw.set(**{"policy.invite_partners": "yes"})
    g = dkim_gw.start()
    recs = records(g, "gw.example.com")
    send(g, ["newbie@partner.test"], "[secure] welcome")
    raw = one(os.path.join(g.md_ext, "newbie@partner.test"))
    assert b"d=gw.example.com" in raw and b"a=ed25519-sha256" in raw, raw[:1500]
    assert verify(raw, recs)
    assert not verify(tampered(raw), recs)
