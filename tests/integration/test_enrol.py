"""Employee enrolment (issue 13) against real peers: a real slapd (slapd_rig, StartTLS) for the
directory login, the gateway's Maildir for the mails, openssl / gpgsm / NSS pk12util for the
.pfx, ldapsearch against our ldapd for Outlook's lookup, gpgsm encrypting to the employee."""
import base64
import email
import email.header
import io
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import urllib.parse
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

import sgrig
from conftest import maildir_routes
from sgrig import maildir_messages, wait_maildir
from slapd_rig import Slapd
from test_portal import Browser
from test_smime_flow import partner  # noqa: F401 (a fixture: a partner PKI with bob)

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
OUTLOOK = "(&(mail=*)(|(mail={p}*)(|(cn={p}*)(|(sn={p}*)(givenName={p}*)))))"


def run(*args, input=None, check=True, env=None):
    r = subprocess.run(args, capture_output=True, input=input, timeout=120, env=env)
    if check:
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    return r


def slapd_running():
    d = tempfile.mkdtemp(prefix="sg-it-slapd-", dir="/tmp")
    s = Slapd(d, sgrig.free_port()).setup().start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def slapd():
    yield from slapd_running()


@pytest.fixture
def own_slapd():
    """A slapd of this test alone: it changes entries the module's tests rely on."""
    yield from slapd_running()


@pytest.fixture
def make_gw(gw_factory, workdir, slapd):
    def make(start=True, **settings):
        g = gw_factory()
        g.md_int, g.md_ext = maildir_routes(g, str(workdir))
        g.set(**slapd.settings(), **{"gateway.tick_interval": "1s",
                                     "portal.base_url": f"https://127.0.0.1:{g.portal_port}"},
              **settings)
        if start:
            start_gw(g)
        return g
    return make


def start_gw(g):
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


def mails(g, addr, count, timeout=60):
    box = os.path.join(g.md_int, addr)
    wait_maildir(box, count, timeout=timeout)
    return [email.message_from_bytes(m) for m in maildir_messages(box)]


def body_text(msg):
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode("utf-8")
    return ""


def pfx_of(msg):
    for part in msg.walk():
        if part.get_content_type() == "application/x-pkcs12":
            return part.get_filename(), part.get_payload(decode=True)
    return None, None


def link_path(msg):
    m = re.search(r"https://[^/\s]+(/employee/pin/[0-9a-f]{64})", body_text(msg))
    assert m, body_text(msg)
    return m.group(1)


def download(b, path):
    """GET path with b's cookies: (status, headers, body bytes)."""
    c = sgrig.https_connection(b.port)
    c.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in b.cookies.items())})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def login(g, user, password, path=None):
    """A browser logged in with the directory password; with path, it asked for path first
    and comes back there after the login."""
    b = Browser(g.portal_port)
    if path is not None:
        r = b.get(path)
        assert r.status == 303 and r.headers["Location"] == "/login?next=" + path, r.headers
        r = b.post("/login", {"email": user, "password": password, "next": path},
                   page_path="/login?next=" + path)
    else:
        r = b.post("/login", {"email": user, "password": password})
    assert r.status == 303, r.text
    return b, r.headers["Location"]


def pin_on(page):
    m = re.search(r'<code id="pin">([^<]+)</code>', page)
    assert m, page
    return m.group(1)


def pkcs12_info(data, pin, workdir, name="x.pfx"):
    p = workdir / name
    p.write_bytes(data)
    return run(OPENSSL, "pkcs12", "-in", str(p), "-info", "-nokeys", "-passin", f"pass:{pin}",
               check=False)


def db(g):
    return g.db()


def test_cli_enrolment_pfx_by_mail_pin_only_after_directory_login(make_gw, workdir):
    g = make_gw()
    r = g.cli("user", "enrol", "alice@example.com")
    assert r.returncode == 0, r.stderr
    assert "PIN" in r.stdout and not re.search(r"\b[A-HJ-NP-Za-km-z2-9]{20}\b", r.stdout)
    msg = mails(g, "alice@example.com", 1)[0]
    name, pfx = pfx_of(msg)
    assert re.fullmatch(r"alice@example\.com_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.pfx", name)
    path = link_path(msg)
    # the employee's own login, wrong password first: no PIN
    b = Browser(g.portal_port)
    r = b.post("/login", {"email": "alice", "password": "wrong", "next": path},
               page_path="/login?next=" + path)
    assert "PIN" not in r.text and r.status != 303
    b, where = login(g, "alice", "alice-pw", path)
    assert where == path
    page = b.get(path)
    assert page.status == 200
    pin = pin_on(page.text)
    assert pin not in msg.as_string()  # never mailed
    raw_db = g.store_bytes()
    assert pin.encode() not in raw_db  # stored only sealed
    info = pkcs12_info(pfx, pin, workdir)
    assert info.returncode == 0, info.stderr
    assert b"pbeWithSHA1And3-KeyTripleDES-CBC" in info.stderr  # legacy by default
    assert pkcs12_info(pfx, "wrong-pin", workdir).returncode != 0
    # another employee (a partner address would get no page at all) sees nothing of it
    bob, _ = login(g, "bob", "bob-pw")
    other = bob.get(path)
    assert other.status == 404 and pin not in other.text
    # the download on the page is the same certificate, with the same PIN
    status, headers, data = download(b, path + "/download")
    assert status == 200 and headers["Content-Type"] == "application/x-pkcs12"
    assert name in headers["Content-Disposition"]
    assert der_of_pfx(data, pin, workdir) == der_of_pfx(pfx, pin, workdir)
    assert pkcs12_info(pfx, pin, workdir).stdout.count(b"BEGIN CERTIFICATE") == 2  # and the CA


def test_legacy_pfx_imports_into_gpgsm_and_nss(make_gw, workdir):
    g = make_gw()
    assert g.cli("user", "enrol", "alice@example.com").returncode == 0
    msg = mails(g, "alice@example.com", 1)[0]
    _, pfx = pfx_of(msg)
    b, _ = login(g, "alice@example.com", "alice-pw", link_path(msg))
    pin = pin_on(b.get(link_path(msg)).text)
    (workdir / "alice.pfx").write_bytes(pfx)
    home = workdir / "gpgsm"
    home.mkdir(mode=0o700)
    (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
    (home / "gpgsm.conf").write_text("disable-crl-checks\ndisable-dirmngr\npinentry-mode loopback\n")
    env = dict(os.environ, GNUPGHOME=str(home))
    try:
        r = run("gpgsm", "--batch", "--pinentry-mode", "loopback", "--passphrase-fd", "0",
                "--import", str(workdir / "alice.pfx"), input=pin.encode() + b"\n", env=env)
        assert b"secret keys imported: 1" in r.stderr, r.stderr
        listed = run("gpgsm", "--batch", "--list-secret-keys", env=env).stdout
        assert b"alice@example.com" in listed
    finally:
        run("gpgconf", "--homedir", str(home), "--kill", "all", check=False, env=env)
    nss = workdir / "nss"
    nss.mkdir()
    (workdir / "nsspw").write_text("nsspw\n")
    run("certutil", "-N", "-d", f"sql:{nss}", "-f", str(workdir / "nsspw"))
    r = run("pk12util", "-i", str(workdir / "alice.pfx"), "-d", f"sql:{nss}", "-k",
            str(workdir / "nsspw"), "-W", pin)
    assert b"PKCS12 IMPORT SUCCESSFUL" in r.stdout + r.stderr
    keys = run("certutil", "-K", "-d", f"sql:{nss}", "-f", str(workdir / "nsspw")).stdout
    assert b"rsa" in keys


def test_portal_enrolment_modern_pfx_and_restart_replaces_the_old(make_gw, workdir):
    g = make_gw(**{"ca.pfx_protection": "modern"})
    b, where = login(g, "alice", "alice-pw")
    assert where == "/employee"
    home = b.get("/employee")
    assert "Getting started" in home.text
    r = b.post("/employee/enrol", {"mailbox": "alice@example.com"}, page_path="/employee")
    assert r.status == 303 and r.headers["Location"] == "/employee?m=enr_sent", r.text
    msg = mails(g, "alice@example.com", 1)[0]
    _, pfx = pfx_of(msg)
    pin = pin_on(b.get(link_path(msg)).text)
    info = pkcs12_info(pfx, pin, workdir)
    assert info.returncode == 0 and b"PBES2" in info.stderr and b"AES-256-CBC" in info.stderr, \
        info.stderr
    # a second start (new workstation): new certificate; the first is replaced and its link
    # ends, its certificate no longer published
    r = b.post("/employee/enrol", {"mailbox": "alice@example.com"}, page_path="/employee")
    assert r.status == 303
    second = [m for m in mails(g, "alice@example.com", 2) if link_path(m) != link_path(msg)][0]
    gone = b.get(link_path(msg))
    assert "replaced" in gone.text and pin not in gone.text
    pin2 = pin_on(b.get(link_path(second)).text)
    assert pin2 != pin
    with db(g) as c:
        rows = c.execute("SELECT replaced_at IS NOT NULL FROM certificates ORDER BY id").fetchall()
    assert rows == [(1,), (0,)]
    # Outlook finds only the new certificate; the replaced one still decrypts (kept, with key)
    new_der = der_of_pfx(pfx_of(second)[1], pin2, workdir)
    assert sgrig.wait_for(lambda: ldap_certs(g, "(mail=alice@example.com)") == [new_der], 20,
                          what="only the new certificate in LDAP")
    assert "replaced by a newer one" in b.get("/employee").text
    listing = g.cli("cert", "list", "alice@example.com").stdout
    assert re.search(r"issued +replaced ", listing) and re.search(r"issued +valid ", listing)
    # not someone else's mailbox
    r = b.post("/employee/enrol", {"mailbox": "bob@example.com"}, page_path="/employee")
    assert r.status == 303 and r.headers["Location"] == "/employee?e=enr_unknown"



def test_parallel_enrolments_cannot_pass_the_daily_cap(make_gw):
    """The attacker is the employee's own session posting "Getting started" seven times at
    once (each costs an RSA key): the cap of 5 a day holds, because the attempt is counted and
    taken in one store transaction before the key is made."""
    g = make_gw(**{"portal.threads": "8"})
    b, _ = login(g, "alice", "alice-pw")
    body = urllib.parse.urlencode({"mailbox": "alice@example.com",
                                   "csrf": b.csrf(b.get("/employee").text)})

    def post(_):
        r = b.request("POST", "/employee/enrol", body,
                      {"Content-Type": "application/x-www-form-urlencoded"})
        return r.headers.get("Location")

    with ThreadPoolExecutor(7) as pool:
        got = list(pool.map(post, range(7)))
    assert got.count("/employee?m=enr_sent") == 5, got
    assert got.count("/employee?e=enr_limit") == 2, got
    with db(g) as c:
        issued = c.execute("SELECT count(*) FROM certificates").fetchone()[0]
        taken = c.execute("SELECT count(*) FROM audit_log WHERE event = 'enrol-started'").fetchone()[0]
    assert issued == 5 and taken == 5, (issued, taken)

def ldap_certs(g, filt):
    base = g.cli("config", "get", "ldap.base_dn").stdout.strip()
    out = run("ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H",
              f"ldap://127.0.0.1:{g.ldap_port}", "-b", base, filt, "userCertificate;binary",
              "mail").stdout.decode()
    return [base64.b64decode(v) for v in re.findall(r"userCertificate;binary:: (\S+)", out)]


def der_of_pfx(pfx, pin, workdir):
    (workdir / "p.pfx").write_bytes(pfx)
    pem = run(OPENSSL, "pkcs12", "-in", str(workdir / "p.pfx"), "-nokeys", "-clcerts",
              "-passin", f"pass:{pin}").stdout
    return run(OPENSSL, "x509", "-outform", "DER", input=pem).stdout


def test_published_in_ldap_and_gpgsm_mail_to_it_is_decrypted(make_gw, workdir):
    g = make_gw(**{"ldap.anonymous_search": "full"})  # Outlook's prefix filter
    assert g.cli("user", "enrol", "alice@example.com").returncode == 0
    msg = mails(g, "alice@example.com", 1)[0]
    _, pfx = pfx_of(msg)
    b, _ = login(g, "alice", "alice-pw", link_path(msg))
    der = der_of_pfx(pfx, pin_on(b.get(link_path(msg)).text), workdir)
    found = sgrig.wait_for(lambda: ldap_certs(g, OUTLOOK.format(p="alice")), 20,
                           what="alice's certificate in LDAP")
    assert found == [der]
    (workdir / "alice.der").write_bytes(der)
    home = workdir / "gpgsm"
    home.mkdir(mode=0o700)
    (home / "gpgsm.conf").write_text("disable-crl-checks\ndisable-dirmngr\n")
    env = dict(os.environ, GNUPGHOME=str(home))
    try:
        run("gpgsm", "--batch", "--import", g.ca, env=env)
        run("gpgsm", "--batch", "--import", str(workdir / "alice.der"), env=env)
        sha1 = run(OPENSSL, "x509", "-in", g.ca, "-noout", "-fingerprint", "-sha1").stdout
        fpr = sha1.decode().split("=", 1)[1].strip().replace(":", "")
        (home / "trustlist.txt").write_text(f"{fpr} S relax\n")  # trust the instance CA
        content = b"Content-Type: text/plain\r\n\r\nfor alice, by gpgsm\r\n"
        enc = run("gpgsm", "--batch", "--encrypt", "-r", "alice@example.com",
                  "--cipher-algo", "AES256", "--armor", input=content, env=env).stdout
    finally:
        run("gpgconf", "--homedir", str(home), "--kill", "all", check=False, env=env)
    b64 = b"".join(l for l in enc.splitlines() if l and not l.startswith(b"-----"))
    mime = (b"From: partner@partner.test\r\nTo: alice@example.com\r\nSubject: from gpgsm\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data;"
            b" name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + b"\r\n")
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("partner@partner.test", ["alice@example.com"], mime)
    got = [m for m in mails(g, "alice@example.com", 2) if m["Subject"] == "from gpgsm"][0]
    assert "for alice, by gpgsm" in got.as_string()
    assert "decrypted=yes" in got["X-Sealgate-Security"]


def test_link_older_than_30_days_expires_and_restart_works(make_gw, workdir):
    g = make_gw()
    assert g.cli("user", "enrol", "alice@example.com").returncode == 0
    first = mails(g, "alice@example.com", 1)[0]
    with db(g) as c:  # age the row: made 31 days ago
        c.execute("UPDATE enrolments SET created = created - 31*86400, "
                  "expires = expires - 31*86400")
    # the tick wipes the PIN and tells the employee
    notice = sgrig.wait_for(lambda: [m for m in mails(g, "alice@example.com", 1)
                                     if "expired" in (m["Subject"] or "")], 30,
                            what="the expiry notice")
    assert "/employee" in body_text(notice[0])
    with db(g) as c:
        assert c.execute("SELECT state, sealed_pin FROM enrolments").fetchall() == \
            [("expired", None)]
    b, _ = login(g, "alice", "alice-pw", link_path(first))
    page = b.get(link_path(first))
    assert "expired" in page.text and 'id="pin"' not in page.text
    assert 'action="/employee/enrol"' in page.text  # start again
    r = b.post("/employee/enrol", {"mailbox": "alice@example.com"}, page_path=link_path(first))
    assert r.status == 303 and r.headers["Location"] == "/employee?m=enr_sent"
    fresh = sgrig.wait_for(lambda: [m for m in mails(g, "alice@example.com", 3)
                                    if pfx_of(m)[1] is not None and
                                    link_path(m) != link_path(first)], 30, what="new enrolment")
    pin = pin_on(b.get(link_path(fresh[0])).text)
    assert pkcs12_info(pfx_of(fresh[0])[1], pin, workdir).returncode == 0
    with db(g) as c:
        assert c.execute("SELECT count(*) FROM certificates WHERE replaced_at IS NOT NULL"
                         ).fetchone() == (1,)


def renewed(make_gw, workdir):
    """juergen enrolled with a 20-day certificate; the tick renews it (within the 30 days of
    enrol.renew_before_days): the ZIP is checked; returns the gateway and both certificates."""
    g = make_gw(start=False, **{"ca.user_cert_days": "20", "ldap.anonymous_search": "full"})
    assert g.cli("user", "enrol", "juergen@example.com").returncode == 0
    g.set(**{"ca.user_cert_days": "730"})  # the successor's lifetime
    start_gw(g)
    got = mails(g, "juergen@example.com", 2)
    renewal = [m for m in got if pfx_of(m)[1] is None][0]
    # in juergen's preferredLanguage (de), as his enrolment mail was
    subject = str(email.header.make_header(email.header.decode_header(renewal["Subject"])))
    assert "Ihr neues Zertifikat" in subject, subject
    path = link_path(renewal)
    b, _ = login(g, "juergen", "j\u00fcrgen-pw", path)
    page = b.get(path)
    pin = pin_on(page.text)
    status, headers, data = download(b, path + "/download")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(z.namelist())
    dated = [n for n in names if n.endswith(".pfx")]
    assert len(dated) == 2 and "LIESMICH.txt" in names, names
    for n in dated:
        assert re.fullmatch(r"juergen@example\.com_\d{4}-\d\d-\d\d_\d{4}-\d\d-\d\d\.pfx", n)
        assert pkcs12_info(z.read(n), pin, workdir, "r.pfx").returncode == 0
    ends = sorted(n.rsplit("_", 1)[1] for n in dated)
    assert ends[0] != ends[1]
    assert "NUR DAS NEUE" in z.read("LIESMICH.txt").decode("utf-8")
    # both published while the old one is valid
    assert len(sgrig.wait_for(lambda: len(ldap_certs(g, "(mail=juergen@example.com)")) == 2
                              and ldap_certs(g, "(mail=juergen@example.com)"), 20,
                              what="both certificates in LDAP")) == 2
    old_name, new_name = sorted(dated, key=lambda n: n.rsplit("_", 1)[1])
    return g, der_of_pfx(z.read(old_name), pin, workdir), der_of_pfx(z.read(new_name), pin, workdir)


def test_renewal_zip_has_old_and_new_dated_pfx(make_gw, workdir):
    renewed(make_gw, workdir)


def serial_of(der):
    return run(OPENSSL, "x509", "-inform", "DER", "-noout", "-serial", input=der).stdout.strip()


def signer_to_bob(g, partner, workdir, sender):
    """A tagged mail from sender to the partner bob (S/MIME): decrypted with bob's key, the
    certificate that signed it (DER)."""
    assert g.cli("cert", "import", "bob@partner.test", str(partner / "bob.crt")).returncode == 0
    assert g.cli("user", "set-channel", "bob@partner.test", "smime").returncode == 0
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail(sender, ["bob@partner.test"],
                   f"From: {sender}\r\nTo: bob@partner.test\r\n".encode() +
                   b"Subject: [secure] figures\r\n\r\nsigned by the gateway\r\n")
    box = os.path.join(g.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    (workdir / "out.eml").write_bytes(maildir_messages(box)[0])
    signed = run(OPENSSL, "cms", "-decrypt", "-in", str(workdir / "out.eml"), "-recip",
                 str(partner / "bob.crt"), "-inkey", str(partner / "bob.key")).stdout
    (workdir / "signed.eml").write_bytes(signed)
    run(OPENSSL, "cms", "-verify", "-noverify", "-in", str(workdir / "signed.eml"), "-signer",
        str(workdir / "signer.pem"), "-out", "/dev/null")
    return run(OPENSSL, "x509", "-in", str(workdir / "signer.pem"), "-outform", "DER").stdout


def test_after_renewal_new_mail_is_signed_with_the_new_and_both_decrypt(make_gw, workdir,
                                                                         partner):
    g, old_der, new_der = renewed(make_gw, workdir)
    signer = signer_to_bob(g, partner, workdir, "juergen@example.com")
    assert serial_of(signer) == serial_of(new_der) != serial_of(old_der)
    # mail encrypted to either certificate reaches juergen readable
    for name, der in (("old", old_der), ("new", new_der)):
        pem = run(OPENSSL, "x509", "-inform", "DER", input=der).stdout
        (workdir / f"{name}.pem").write_bytes(pem)
        (workdir / "c.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nto the " +
                                        name.encode() + b" one\r\n")
        enc = run(OPENSSL, "cms", "-encrypt", "-in", str(workdir / "c.txt"), "-aes256",
                  "-from", "bob@partner.test", "-to", "juergen@example.com", "-subject",
                  f"to the {name} certificate", str(workdir / f"{name}.pem")).stdout
        with smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
            s.sendmail("bob@partner.test", ["juergen@example.com"],
                       enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    got = sgrig.wait_for(lambda: len([m for m in mails(g, "juergen@example.com", 4)
                                      if "certificate" in (m["Subject"] or "")]) == 2 and
                         [m for m in mails(g, "juergen@example.com", 4)
                          if "certificate" in (m["Subject"] or "")], 60, what="both mails")
    for m in got:
        assert "decrypted=yes" in m["X-Sealgate-Security"], m.as_string()[:2000]
        assert "to the " in m.as_string()


def test_shared_mailbox_managed_by_two_users(make_gw, workdir, partner):
    g = make_gw()
    r = g.cli("user", "add-shared", "team@example.com", "--manager", "alice", "--manager",
              "bob@example.com")
    assert r.returncode == 0, r.stderr
    assert "alice@example.com" in r.stdout and "bob@example.com" in r.stdout
    msg = mails(g, "team@example.com", 1)[0]
    _, pfx = pfx_of(msg)
    pins = []
    for user, pw in (("alice", "alice-pw"), ("bob", "bob-pw")):
        b, _ = login(g, user, pw)
        home = b.get("/employee").text
        assert "team@example.com" in home
        href = re.search(r'href="(/employee/link/\d+)"', home).group(1)
        page = b.get(href)
        pins.append(pin_on(page.text))
        status, _, data = download(b, href + "/download")
        assert status == 200
        assert pkcs12_info(data, pins[-1], workdir).returncode == 0
        assert b.get(link_path(msg)).status == 200  # the mail's link too
    assert pins[0] == pins[1]
    assert pkcs12_info(pfx, pins[0], workdir).returncode == 0
    erin, _ = login(g, "erin", "erin-pw")
    assert "team@example.com" not in erin.get("/employee").text
    assert erin.get(link_path(msg)).status == 404
    published = sgrig.wait_for(lambda: ldap_certs(g, "(mail=team@example.com)"), 20,
                               what="the shared mailbox in LDAP")
    assert published == [der_of_pfx(pfx, pins[0], workdir)]
    # mail encrypted to the shared mailbox's certificate arrives decrypted
    (workdir / "team.pem").write_bytes(run(OPENSSL, "x509", "-inform", "DER",
                                           input=published[0]).stdout)
    (workdir / "t.txt").write_bytes(b"Content-Type: text/plain\r\n\r\nfor the team\r\n")
    enc = run(OPENSSL, "cms", "-encrypt", "-in", str(workdir / "t.txt"), "-aes256", "-from",
              "partner@partner.test", "-to", "team@example.com", "-subject", "to the team",
              str(workdir / "team.pem")).stdout
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("partner@partner.test", ["team@example.com"],
                   enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    got = [m for m in mails(g, "team@example.com", 2) if m["Subject"] == "to the team"][0]
    assert "decrypted=yes" in got["X-Sealgate-Security"] and "for the team" in got.as_string()
    # and mail from it is signed with its certificate
    assert signer_to_bob(g, partner, workdir, "team@example.com") == published[0]


def test_cli_enrol_checks_the_directory_and_enrols_in_bulk(make_gw):
    g = make_gw(start=False)
    r = g.cli("user", "enrol", "nobody@example.com")
    assert r.returncode == 1 and "not found once in the directory" in r.stderr, r.stderr
    r = g.cli("user", "enrol", "dave@example.com")
    assert r.returncode == 1 and "disabled" in r.stderr, r.stderr
    r = g.cli("user", "enrol", "someone@partner.test")
    assert r.returncode == 1 and "internal_domains" in r.stderr
    r = g.cli("user", "enrol", "--all-from-directory", "--filter", "e*@example.com")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].startswith("1 enrolled,"), r.stdout
    assert "erin@example.com: enrolled" in r.stdout
    again = g.cli("user", "enrol", "--all-from-directory", "--filter", "e*@example.com")
    assert again.stdout.splitlines()[-1].startswith("0 enrolled,"), again.stdout
    with db(g) as c:
        assert c.execute("SELECT u.address FROM enrolments e JOIN users u ON u.id = e.user_id"
                         ).fetchall() == [("erin@example.com",)]
    start_gw(g)
    assert pfx_of(mails(g, "erin@example.com", 1)[0])[1] is not None


def test_sync_follows_an_address_change_with_one_enrolment(make_gw, own_slapd):
    """juergen (preferredLanguage de) becomes juergen.mueller@: the sync revokes the old
    address's certificate and mails an enrolment for the new one, once; erin's address changes
    as her account is disabled: no enrolment for her."""
    g = make_gw(start=False, **{"directory.sync_interval": "0"})
    g.set(**own_slapd.settings())
    for a in ("juergen@example.com", "erin@example.com"):
        assert g.cli("user", "enrol", a).returncode == 0
    first = g.cli("directory", "sync")  # the employees' records, as the tick keeps them
    assert first.returncode == 0 and "; 0 enrolled for a new address" in first.stdout, first.stdout
    own_slapd.modify("dn: uid=juergen,ou=people,dc=example,dc=com\nchangetype: modify\n"
                     "replace: mail\nmail: juergen.mueller@example.com\n")
    own_slapd.modify("dn: uid=erin,ou=people,dc=example,dc=com\nchangetype: modify\n"
                     "replace: mail\nmail: erin.new@example.com\n-\n"
                     "add: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n")
    dry = g.cli("directory", "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert ("juergen.mueller@example.com: moved from juergen@example.com: enrolment would be "
            "mailed") in dry.stdout, dry.stdout
    assert "erin.new" not in dry.stdout and "; 1 would be enrolled for a new address" in dry.stdout
    assert "revoked" not in g.cli("cert", "list", "juergen@example.com").stdout
    r = g.cli("directory", "sync")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("juergen@example.com: address changed to juergen.mueller@example.com: 1 "
            "certificate(s) revoked") in r.stdout, r.stdout
    assert "juergen.mueller@example.com: moved from juergen@example.com: enrolled" in r.stdout
    assert "erin@example.com: account disabled" in r.stdout and "erin.new" not in r.stdout
    assert "revoked" in g.cli("cert", "list", "juergen@example.com").stdout
    again = g.cli("directory", "sync")
    assert again.returncode == 0 and "moved" not in again.stdout, again.stdout
    assert "; 0 enrolled for a new address" in again.stdout, again.stdout
    with db(g) as c:
        rows = c.execute("SELECT u.address FROM enrolments e JOIN users u ON u.id = e.user_id "
                         "WHERE u.address LIKE '%.%@%'").fetchall()
    assert rows == [("juergen.mueller@example.com",)], rows  # one enrolment, none for erin.new
    audit = g.cli("audit").stdout
    assert "address changed from juergen@example.com" in audit, audit
    start_gw(g)
    msg = mails(g, "juergen.mueller@example.com", 1)[0]
    name, pfx = pfx_of(msg)
    assert pfx and name.startswith("juergen.mueller@example.com_"), name
    subject = str(email.header.make_header(email.header.decode_header(msg["Subject"])))
    assert "Ihr Zertifikat" in subject, subject  # his preferredLanguage
    assert not os.path.exists(os.path.join(g.md_int, "erin.new@example.com"))
