"""Gateway-to-gateway domain encryption (issue 26 parts 1 and 2) between two real sealgate
instances: A for example.com, B for partner.test. B issues its domain certificate and generates
its OpenPGP domain key (`domain own`), A imports what B exports (`domain import`). Mail from
alice@example.com to three users of partner.test leaves A once, encrypted once for the domain
(openssl / gpg read A's output), and B decrypts it for each of them with the verdict
`to=domain`; a partner user with a certificate of his own still gets personal encryption.
Hostile: a certificate that names another domain (or a person) is refused at import; an
outsider's mail encrypted to B's domain key never gets signature=valid from it."""

import base64
import os
import re
import shutil
import smtplib
import subprocess

import pytest

import sgrig
from conftest import maildir_routes
from smtpsink import SmtpSink
from sgrig import maildir_messages, wait_for, wait_maildir
from test_pgp_flow import gpg, pgp_mime_message, pgp_payload  # noqa: F401 (gpg: a fixture)
from test_smime_flow import partner, run  # noqa: F401 (partner: a fixture)

OPENSSL = shutil.which("openssl")
USERS = ["carol@partner.test", "dave@partner.test", "erin@partner.test"]


@pytest.fixture
def pair(gw_factory, workdir, partner):
    """(A, B, sink): B owns partner.test's domain certificate and key; A's outbound mail goes
    to the sink, from where the test hands it to B as the internet would."""
    b = gw_factory(name="b", domains=("partner.test",))
    b.md_int, b.md_ext = maildir_routes(b, str(workdir / "b"))
    r = b.cli("domain", "own", "partner.test")
    assert r.returncode == 0, r.stdout + r.stderr
    (workdir / "b-domain.crt").write_text(b.cli("domain", "export", "partner.test").stdout)
    (workdir / "b-domain.asc").write_text(
        b.cli("domain", "export", "partner.test", "--pgp").stdout)
    b.start()
    sink = SmtpSink(sgrig.free_port()).start()
    a = gw_factory(name="a")
    a.md_int = os.path.join(str(workdir), "a-internal")
    a.set(**{"route.internal": f"maildir:{a.md_int}",
             "route.external": f"smtp:127.0.0.1:{sink.port}"})
    yield a, b, sink
    sink.stop()


def send(g, to, subject="quarterly figures", body="figures: 42", sender="alice@example.com",
         source=None):
    msg = (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    kw = {"source_address": (source, 0)} if source else {}
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30, **kw) as s:
        s.sendmail(sender, to, msg)


def sink_messages(sink, count, timeout=60):
    wait_for(lambda: len(sink.messages) >= count, timeout, what=f"{count} message(s) at the sink")
    return list(sink.messages)


def hand_to(b, m):
    """What the sink got, delivered to B from the internet (a client outside B's networks)."""
    with smtplib.SMTP("127.0.0.1", b.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail(m.mail_from, m.rcpts, m.data)


def received_at_b(b, addr):
    box = os.path.join(b.md_int, addr)
    (raw,) = wait_maildir(box, 1, timeout=60)
    fields = re.findall(rb"^X-Sealgate-Security: (.*)$", raw, re.M)
    assert len(fields) == 1, fields
    return raw, fields[0]


def recipient_infos(workdir, data):
    path = workdir / "out.eml"
    path.write_bytes(data)
    printed = run(OPENSSL, "cms", "-cmsout", "-print", "-in", str(path)).stdout.decode()
    return re.findall(r"d\.ktri:|d\.kari:|d\.kekri:|d\.pwri:|d\.ori:", printed), printed


def test_smime_domain_certificate_one_recipient_info_decrypted_by_partner(pair, workdir):
    a, b, sink = pair
    r = a.cli("domain", "import", "partner.test", str(workdir / "b-domain.crt"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "partner.test" in a.cli("domain", "list").stdout
    a.start()
    send(a, USERS)
    (m,) = sink_messages(sink, 1)
    assert sorted(m.rcpts) == USERS, "the message left A once, for all three recipients"
    infos, printed = recipient_infos(workdir, m.data)
    assert len(infos) == 1, printed[:3000]
    assert b"via=domain-certificate" in m.data
    a.wait_log(r"S/MIME encrypted for 3 recipient\(s\) with 1 certificate\(s\); "
               r"via=domain-certificate")
    hand_to(b, m)
    for addr in USERS:
        raw, field = received_at_b(b, addr)
        assert b"figures: 42" in raw
        assert field.startswith(b"encrypted=smime; to=domain; decrypted=yes"), field
        assert b"via=domain" not in raw, "B removed A's foreign X-Sealgate-Security field"
        assert b"signature=valid" not in field


def test_openpgp_domain_key_read_by_gpg_and_decrypted_by_partner(pair, workdir, gpg):
    a, b, sink = pair
    for f in ("b-domain.crt", "b-domain.asc"):
        r = a.cli("domain", "import", "partner.test", str(workdir / f))
        assert r.returncode == 0, r.stdout + r.stderr
    r = a.cli("domain", "set-channel", "partner.test", "pgp")
    assert r.returncode == 0, r.stdout + r.stderr
    a.start()
    send(a, USERS)
    (m,) = sink_messages(sink, 1)
    assert sorted(m.rcpts) == USERS
    assert b"via=domain-key" in m.data
    # gpg reads A's output: one public-key packet, to a subkey of B's exported domain key
    gpg.run("--import", str(workdir / "b-domain.asc"))
    keys = gpg.run("--with-colons", "--list-keys", "postmaster@partner.test").stdout.decode()
    subkeys = set(re.findall(r"^sub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):", keys, re.M))
    packets = gpg.run("--list-packets", input=pgp_payload(m.data), check=False).stdout.decode()
    ids = re.findall(r":pubkey enc packet: .*keyid ([0-9A-F]{16})", packets)
    assert len(ids) == 1 and ids[0] in subkeys, (ids, subkeys, packets)
    hand_to(b, m)
    for addr in USERS:
        raw, field = received_at_b(b, addr)
        assert b"figures: 42" in raw
        assert field.startswith(b"encrypted=pgp; to=domain; decrypted=yes"), field


def test_personal_certificate_wins_over_domain_certificate(pair, workdir, partner):
    a, b, sink = pair
    r = a.cli("domain", "import", "partner.test", str(workdir / "b-domain.crt"))
    assert r.returncode == 0, r.stdout + r.stderr
    r = a.cli("cert", "import", "bob@partner.test", str(partner / "bob.crt"))
    assert r.returncode == 0, r.stdout + r.stderr
    a.start()
    send(a, ["bob@partner.test", "carol@partner.test"])
    msgs = sink_messages(sink, 2)
    by_rcpt = {tuple(m.rcpts): m for m in msgs}
    bob, carol = by_rcpt[("bob@partner.test",)], by_rcpt[("carol@partner.test",)]
    assert b"via=domain" not in bob.data
    (workdir / "bob.eml").write_bytes(bob.data)
    plain = run(OPENSSL, "cms", "-decrypt", "-in", str(workdir / "bob.eml"), "-inkey",
                str(partner / "bob.key"), "-recip", str(partner / "bob.crt")).stdout
    assert b"figures: 42" in plain
    assert b"via=domain-certificate" in carol.data
    a.wait_log(r"S/MIME encrypted for 1 recipient\(s\) with 1 certificate\(s\); "
               r"via=personal-certificate")


def test_import_refuses_a_certificate_for_another_domain_or_a_person(pair, workdir, partner):
    a, _, _ = pair
    r = a.cli("domain", "import", "other.test", str(workdir / "b-domain.crt"))
    assert r.returncode == 1
    assert "does not name other.test" in r.stderr, r.stderr
    r = a.cli("domain", "import", "partner.test", str(partner / "bob.crt"))
    assert r.returncode == 1
    assert "does not name partner.test" in r.stderr, r.stderr
    r = a.cli("domain", "import", "example.com", str(workdir / "b-domain.crt"))
    assert r.returncode == 1 and "internal domain" in r.stderr, r.stderr
    assert "no domain certificates or keys" in a.cli("domain", "list").stdout



def test_own_again_only_after_delete(pair):
    _, b, _ = pair
    r = b.cli("domain", "own", "partner.test")
    assert r.returncode == 1 and "already has" in r.stderr, r.stderr
    r = b.cli("domain", "own", "other.test")
    assert r.returncode == 1 and "not in gateway.internal_domains" in r.stderr, r.stderr
    r = b.cli("domain", "delete", "partner.test")
    assert r.returncode == 0 and "1 certificate(s) revoked, 1 OpenPGP" in r.stdout, r.stdout
    r = b.cli("domain", "own", "partner.test")
    assert r.returncode == 0, r.stdout + r.stderr
    listed = b.cli("domain", "list").stdout
    assert listed.count("certificate ") == 2 and " revoked" in listed, listed


def outsider_cert(d, addr):
    """A certificate for addr from the outsider's own CA (the partner fixture's, which no
    gateway here trusts)."""
    (d / "outsider.cnf").write_text(
        "[user]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=emailProtection\nsubjectAltName=email:{addr}\n")
    run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "outsider.key"),
        "-out", str(d / "outsider.csr"), "-subj", "/CN=partner.test domain")
    run(OPENSSL, "x509", "-req", "-in", str(d / "outsider.csr"), "-CA", str(d / "ca.crt"),
        "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "outsider.crt"),
        "-days", "30", "-extfile", str(d / "outsider.cnf"), "-extensions", "user")
    return d / "outsider.crt", d / "outsider.key"


def test_outsider_encrypting_to_our_domain_key_is_never_authenticated(pair, workdir, partner,
                                                                      gpg):
    """Anyone can encrypt to a published domain certificate or key: what it opens says nothing
    about the sender. An outsider signs as postmaster@partner.test (the address B's domain
    certificate names) with a certificate of his own CA, and with an OpenPGP key of his own."""
    _, b, _ = pair
    crt, key = outsider_cert(partner, "postmaster@partner.test")
    content = workdir / "content.txt"
    content.write_bytes(b"Content-Type: text/plain\r\n\r\npay this invoice\r\n")
    signed = run(OPENSSL, "cms", "-sign", "-in", str(content), "-signer", str(crt), "-inkey",
                 str(key), "-md", "sha256", "-crlfeol").stdout
    (workdir / "signed.eml").write_bytes(signed)
    enc = run(OPENSSL, "cms", "-encrypt", "-in", str(workdir / "signed.eml"), "-aes256", "-from",
              "postmaster@partner.test", "-to", "carol@partner.test", "-subject", "invoice",
              str(workdir / "b-domain.crt")).stdout
    enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", b.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("postmaster@partner.test", ["carol@partner.test"], enc)
    raw, field = received_at_b(b, "carol@partner.test")
    assert b"pay this invoice" in raw
    assert b"to=domain" in field and b"decrypted=yes" in field, field
    assert b"signature=valid" not in field, field
    # the same with OpenPGP: a key of the outsider's own naming postmaster@partner.test
    own = gpg.new_key("postmaster@partner.test")
    gpg.run("--import", str(workdir / "b-domain.asc"))
    domain_fpr = re.findall(r"^fpr:+([0-9A-F]{40}):", gpg.run(
        "--with-colons", "--show-keys", str(workdir / "b-domain.asc")).stdout.decode(), re.M)[0]
    entity = b"Content-Type: text/plain\r\n\r\npay this one too\r\n"
    armored = gpg.run("--armor", "--sign", "--encrypt", "--trust-model", "always", "-u", own,
                      "-r", domain_fpr, input=entity).stdout.decode()
    msg = pgp_mime_message("postmaster@partner.test", "dave@partner.test", "invoice", armored)
    with smtplib.SMTP("127.0.0.1", b.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("postmaster@partner.test", ["dave@partner.test"], msg.encode())
    raw, field = received_at_b(b, "dave@partner.test")
    assert b"pay this one too" in raw
    assert field.startswith(b"encrypted=pgp; to=domain; decrypted=yes"), field
    assert b"signature=valid" not in field, field


def test_own_domain_certificate_is_published_in_ldap(pair, workdir):
    """B's domain certificate is in its LDAP directory, as postmaster@partner.test (the address
    it names), for partners' gateways and clients that look certificates up there."""
    _, b, _ = pair
    base = b.wait_log(r"ldapd\[\d+\]: ready: .* base (\S+),").group(1)
    r = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
                        f"ldap://127.0.0.1:{b.ldap_port}", "-b", base,
                        "(mail=postmaster@partner.test)", "userCertificate;binary"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    der = re.search(r"^userCertificate;binary:: (\S+)$", r.stdout, re.M)
    assert der, r.stdout
    exported = run(OPENSSL, "x509", "-in", str(workdir / "b-domain.crt"), "-outform",
                   "DER").stdout
    assert base64.b64decode(der.group(1)) == exported
