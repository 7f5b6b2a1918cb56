"""Writing on the portal over real HTTPS: "New message" to an internal address arrives in the
Maildir with the X-Sealgate-Security portal field and the attachments byte-exact; to an internal
user with a certificate it arrives S/MIME-encrypted (openssl cms decrypts it with the exported
key); externals, too many attachments and over-size messages are refused with a message; the
Reply link of a real SecurePDF leads, after login, to a reply with In-Reply-To, until
portal.reply_link_days have passed (then the tick role forgets it); XSS payloads in subject,
text and file names come back escaped."""
import email
import email.policy
import os
import re
import shutil
import smtplib
import subprocess
from email.message import EmailMessage

import pytest

import sgrig
from conftest import maildir_routes
from test_portal import PASSWORD, Browser, register

PARTNER = "partner@partner.test"
OPENSSL = shutil.which("openssl")
BLOB = bytes(range(256)) * 40 + b"\r\n.\r\n\n\rend"


@pytest.fixture
def gw(portal_gw):
    return portal_gw


def partner_browser(g, addr=PARTNER):
    b = Browser(g.portal_port)
    b.get("/register")
    register(g, b, addr=addr)
    return b


def multipart(fields, files):
    """(body, content type) of a multipart/form-data form: fields {name: str}, files
    [(filename, bytes, content type)] under the name "files"."""
    bnd = "----sgcompose7MA4YWxkTrZu0gW"
    out = b""
    for k, v in fields.items():
        out += (f"--{bnd}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n").encode() + \
            v.encode() + b"\r\n"
    for name, data, ctype in files:
        out += (f"--{bnd}\r\nContent-Disposition: form-data; name=\"files\"; "
                f"filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{bnd}--\r\n".encode(), f"multipart/form-data; boundary={bnd}"


def compose(b, fields, files=(), path="/compose"):
    page = b.get(path)
    assert page.status == 200, page.text
    fields = dict(fields, csrf=b.csrf(page.text))
    body, ctype = multipart(fields, list(files))
    return b.request("POST", path, body, {"Content-Type": ctype})


def only_message(box):
    msgs = sgrig.wait_maildir(box, 1, timeout=30)
    assert len(msgs) == 1
    return msgs[0]


def test_compose_to_internal_arrives_with_portal_field(gw):
    b = partner_browser(gw)
    assert 'href="/compose"' in b.get("/account").text  # the "New message" link
    files = [("Übersicht.bin", BLOB, "application/octet-stream"),
             ("notes.txt", b"line one\nline two\n", "text/plain"),
             ("empty.dat", b"", "application/octet-stream")]
    r = compose(b, {"to": "bob@example.com", "subject": "Grüße: the figures",
                    "text": "Hallo Bob,\r\nanbei die Zahlen.\r\n"}, files)
    assert r.status == 200, r.text
    assert "sent securely" in r.text and "Übersicht.bin" in r.text
    raw = only_message(os.path.join(gw.md_int, "bob@example.com"))
    sec = sgrig.header_values(raw, "X-Sealgate-Security")
    assert sec == [f"portal; authenticated=<{PARTNER}>".encode()], raw[:1500]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["From"] == PARTNER and msg["Subject"] == "Grüße: the figures"
    assert "anbei die Zahlen." in msg.get_body(("plain",)).get_content()
    got = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert got == {n: d for n, d, _ in files}
    assert re.search(r"\bsent\b.*bob@example\.com", gw.cli("audit").stdout, re.I)
    # Nothing leaked to the external route.
    assert sgrig.maildir_files(os.path.join(gw.md_ext, PARTNER)) == []


def decrypt_key(g, workdir, addr):
    """(key path, cert path) of addr's gateway-held certificate, exported as the user would."""
    crt, pfx, key = workdir / "u.crt", workdir / "u.pfx", workdir / "u.key"
    crt.write_text(g.cli("cert", "export", addr).stdout)
    r = g.cli("cert", "export", addr, "--pfx", str(pfx))
    assert r.returncode == 0, r.stderr
    pin = re.search(r"PIN[^:]*:\s*(\S+)", r.stdout + r.stderr).group(1)
    key.write_bytes(subprocess.run([OPENSSL, "pkcs12", "-in", str(pfx), "-nocerts", "-nodes",
                                    "-passin", f"pass:{pin}"], capture_output=True,
                                   check=True).stdout)
    return key, crt


def test_compose_to_user_with_certificate_arrives_encrypted(gw, workdir):
    assert gw.cli("cert", "issue", "alice@example.com").returncode == 0
    b = partner_browser(gw)
    r = compose(b, {"to": "alice@example.com", "subject": "encrypted at rest",
                    "text": "only alice reads this\r\n"}, [("data.bin", BLOB, "application/x-foo")])
    assert r.status == 200, r.text
    box = os.path.join(gw.md_int, "alice@example.com")
    raw = only_message(box)
    assert b"only alice reads this" not in raw and b"application/pkcs7-mime" in raw
    sec = sgrig.header_values(raw, "X-Sealgate-Security")
    assert sec == [f"portal; authenticated=<{PARTNER}>; encrypted=smime".encode()]
    key, crt = decrypt_key(gw, workdir, "alice@example.com")
    path = sgrig.maildir_files(box)[0]
    plain = subprocess.run([OPENSSL, "cms", "-decrypt", "-in", path, "-inkey", str(key), "-recip",
                            str(crt)], capture_output=True, check=True).stdout
    inner = email.message_from_bytes(plain, policy=email.policy.default)
    assert "only alice reads this" in inner.get_body(("plain",)).get_content()
    [att] = list(inner.iter_attachments())
    assert att.get_filename() == "data.bin" and att.get_payload(decode=True) == BLOB


def test_refusals_say_what_is_wrong(gw):
    b = partner_browser(gw)
    text = {"subject": "s", "text": "hello"}
    r = compose(b, dict(text, to="other@partner.test"))
    assert r.status == 403 and "may only go to addresses of the organisation" in r.text
    assert "other@partner.test" in r.text and 'value="hello"' not in r.text  # textarea keeps it
    assert ">\nhello</textarea>" in r.text
    # A subdomain of an internal domain is not internal.
    assert compose(b, dict(text, to="x@sub.example.com")).status == 403
    r = compose(b, dict(text, to=""))
    assert r.status == 400 and "Enter the recipient" in r.text
    r = compose(b, dict(text, to="not an address"))
    assert r.status == 400 and "not a valid e-mail address" in r.text
    r = compose(b, {"to": "bob@example.com", "subject": "s", "text": " \r\n "})
    assert r.status == 400 and "Write a message text" in r.text
    r = compose(b, {"to": "bob@example.com", "subject": "s\r\nX-Sealgate-Security: forged",
                    "text": "t"})
    assert r.status == 400 and "one line" in r.text
    r = compose(b, dict(text, to="bob@example.com"),
                [(f"f{i}.txt", b"x", "text/plain") for i in range(10)])
    assert r.status == 400 and "Too many attachments" in r.text and "9" in r.text
    # No session, no compose; CSRF is checked as on every form.
    anon = Browser(gw.portal_port)
    r = anon.get("/compose")
    assert r.status == 303 and r.headers["Location"] == "/login?next=/compose"
    body, ctype = multipart({"to": "bob@example.com", "text": "x", "csrf": "0" * 64}, [])
    assert b.request("POST", "/compose", body, {"Content-Type": ctype}).status == 403
    assert sgrig.maildir_files(os.path.join(gw.md_int, "bob@example.com")) == []
    assert "send-refused" in gw.cli("audit").stdout


def started_with(gw_factory, workdir, **settings):
    """A gateway with Maildir routes and the portal up, with these settings."""
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**settings)
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


def test_hourly_send_limit(gw_factory, workdir):
    g = started_with(gw_factory, workdir, **{"portal.max_messages_per_hour": "3"})
    b = partner_browser(g)
    for i in range(3):
        assert compose(b, {"to": "bob@example.com", "subject": f"n{i}", "text": "t"}).status == 200
    r = compose(b, {"to": "bob@example.com", "subject": "n3", "text": "the fourth"})
    assert r.status == 429 and "in the last hour" in r.text and "Messages per hour: 3" in r.text
    assert ">\nthe fourth</textarea>" in r.text  # nothing typed is lost
    sgrig.wait_for(lambda: len(sgrig.maildir_files(os.path.join(g.md_int, "bob@example.com"))) == 3,
                   20, what="three messages")
    assert "hourly limit reached" in g.cli("audit").stdout
    # another partner has an hour of their own
    c = partner_browser(g, "other@partner.test")
    assert compose(c, {"to": "bob@example.com", "subject": "x", "text": "t"}).status == 200


def test_over_size_is_refused_with_the_limit(gw_factory, workdir):
    g = started_with(gw_factory, workdir, **{"policy.max_encrypted_size": "300000"})
    b = partner_browser(g)
    fields = {"to": "bob@example.com", "subject": "big", "text": "see attached"}
    # Fits the request limit, not the encrypted one: the form says the limit in MB.
    r = compose(b, fields, [("big.bin", os.urandom(200_000), "application/octet-stream")])
    assert r.status == 413 and "too large" in r.text and "0.3 MB" in r.text, r.text
    # Over the request limit itself: refused before it is read, same message.
    r = compose(b, fields, [("huge.bin", os.urandom(700_000), "application/octet-stream")])
    assert r.status == 413 and "too large" in r.text and "0.3 MB" in r.text
    # Under the limit it goes.
    r = compose(b, fields, [("ok.bin", os.urandom(100_000), "application/octet-stream")])
    assert r.status == 200, r.text
    assert len(sgrig.wait_maildir(os.path.join(g.md_int, "bob@example.com"), 1)) == 1
    # An anonymous client never gets the larger request limit.
    anon = Browser(g.portal_port)
    anon.get("/login")
    body, ctype = multipart({"to": "bob@example.com"}, [("x", os.urandom(1_100_000), "a/b")])
    assert anon.request("POST", "/compose", body, {"Content-Type": ctype}).status == 413


def reply_path(g, workdir, addr):
    """Sends alice's [secure] mail to addr and returns the /reply/TOKEN of its PDF."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "alice@example.com", addr, "[secure] the contract"
    m["Message-ID"] = "<contract-17@example.com>"
    m.set_content("Please sign.\n")
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.send_message(m)
    raw = only_message(os.path.join(g.md_ext, addr))
    msg = email.message_from_bytes(raw)
    [pdf] = [p for p in msg.walk() if p.get_filename() == "secure-message.pdf"]
    path = workdir / "m.pdf"
    path.write_bytes(pdf.get_payload(decode=True))
    urls = subprocess.run(["pdfinfo", "-upw", PASSWORD, "-url", str(path)], capture_output=True,
                          text=True, check=True).stdout
    return re.search(r"https?://[^/\s]+(/reply/[A-Za-z0-9_-]+)", urls).group(1)


def test_reply_link_of_a_securepdf(gw, workdir):
    b = partner_browser(gw)
    path = reply_path(gw, workdir, PARTNER)
    # Logged out, the link asks for the login and comes back to the reply afterwards.
    c = Browser(gw.portal_port)
    r = c.get(path)
    assert r.status == 303 and r.headers["Location"] == f"/login?next={path}"
    page = c.get(r.headers["Location"]).text
    assert f'name="next" value="{path}"' in page
    r = c.post("/login", {"email": PARTNER, "password": PASSWORD, "next": path},
               page_path=f"/login?next={path}")
    assert r.status == 303 and r.headers["Location"] == path
    page = c.get(path)
    assert page.status == 200 and 'value="alice@example.com" readonly' in page.text
    assert 'value="Re: "' in page.text and 'name="to"' not in page.text
    # The form cannot redirect the reply: a "to" field is ignored.
    r = compose(c, {"to": "bob@example.com", "subject": "Re: the contract",
                    "text": "Signed, see attachment."}, [("signed.pdf", b"%PDF-1.4 x", "application/pdf")],
                path=path)
    assert r.status == 200, r.text
    raw = only_message(os.path.join(gw.md_int, "alice@example.com"))
    assert sgrig.header_values(raw, "In-Reply-To") == [b"<contract-17@example.com>"]
    assert sgrig.header_values(raw, "X-Sealgate-Security") == [
        f"portal; authenticated=<{PARTNER}>".encode()]
    assert sgrig.maildir_files(os.path.join(gw.md_int, "bob@example.com")) == []
    # Only a local path is a login target.
    r = c.post("/login", {"email": PARTNER, "password": PASSWORD, "next": "//evil.test/x"},
               page_path="/login")
    assert r.status == 303 and r.headers["Location"] == "/account"
    # Another partner cannot use the link; a made-up token is refused.
    other = partner_browser(gw, "other@partner.test")
    r = other.get(path)
    assert r.status == 403 and "another address" in r.text
    r = other.get("/reply/" + "A" * 43)
    assert r.status == 404 and "not valid" in r.text
    assert other.get("/reply/short").status == 404
    assert b.get(path).status == 200


def reply_tokens(g):
    with g.db() as db:
        return db.execute("SELECT count(*) FROM reply_tokens").fetchone()[0]


def test_expired_reply_link_is_refused_then_forgotten(gw, workdir):
    b = partner_browser(gw)
    path = reply_path(gw, workdir, PARTNER)
    assert b.get(path).status == 200
    with gw.db() as db:
        db.execute("UPDATE reply_tokens SET created = created - 91 * 86400")  # default: 90 days
    r = b.get(path)
    assert r.status == 410 and "expired" in r.text and "New message" in r.text
    assert "expired reply link" in gw.cli("audit").stdout
    assert reply_tokens(gw) == 1
    gw.set(**{"gateway.tick_interval": "1s"})
    gw.stop()
    gw.start()
    sgrig.wait_for(lambda: reply_tokens(gw) == 0, 20, what="the tick role forgets the link")
    gw.wait_log(r"1 SecurePDF Reply link\(s\) expired and forgotten")
    assert b.get("/login").status == 200  # the session survived the restart
    assert Browser(gw.portal_port).get(path).status == 303  # logged out: login first, as ever


def test_xss_payloads_come_back_escaped(gw):
    b = partner_browser(gw)
    evil = "<script>alert(1)</script>"
    fname = '<img src=x onerror=alert(2)>.txt'
    r = compose(b, {"to": "bob@example.com", "subject": evil, "text": "</textarea>" + evil},
                [(fname, b"x", "text/plain")])
    assert r.status == 200, r.text
    assert evil not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "&lt;img src=x onerror=alert(2)&gt;.txt" in r.text
    # The text is shown again (escaped) when the form is refused.
    r = compose(b, {"to": "", "subject": evil, "text": "</textarea>" + evil})
    assert r.status == 400 and "</textarea><script>" not in r.text
    assert "&lt;/textarea&gt;&lt;script&gt;" in r.text
    raw = only_message(os.path.join(gw.md_int, "bob@example.com"))
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"] == evil
    assert [p.get_filename() for p in msg.iter_attachments()] == [fname]
