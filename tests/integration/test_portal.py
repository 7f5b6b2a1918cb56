"""The web portal over real HTTPS: security headers, cookie flags, CSRF, session rotation,
escaping, lockout, and the whole path invite -> register -> login -> channel -> upload."""
import http.client
import os
import re
import subprocess
import threading
import urllib.parse

import pytest

import sgrig

PARTNER = "partner@partner.test"
PASSWORD = "correct horse battery staple"


class Browser:
    """Just enough of a browser: one cookie jar, forms posted with the page's CSRF token."""

    def __init__(self, port, source=None, tls=True, headers=None):
        self.port = port
        self.source = (source, 0) if source else None  # another loopback address = another client
        self.tls = tls  # False: plain HTTP, as a TLS-terminating proxy speaks to the portal
        self.headers = dict(headers or {})  # sent with every request (X-Forwarded-For)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        if self.tls:  # the certificate verified against the instance CA, as a browser would
            c = sgrig.https_connection(self.port, source=self.source and self.source[0])
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                           source_address=self.source)
        h = {**self.headers, **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        r.body = r.read()  # the bytes as sent; pages must be valid UTF-8, downloads need not
        page = (r.headers.get("Content-Type") or "").startswith("text/html")
        r.text = r.body.decode("utf-8", "strict" if page else "replace")
        for v in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = v.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in v:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        c.close()
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def csrf(self, page):
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert m, page
        return m.group(1)

    def post(self, path, fields, csrf=True, page_path=None):
        fields = dict(fields)
        if csrf:
            fields["csrf"] = self.csrf(self.get(page_path or path).text)
        return self.request("POST", path, urllib.parse.urlencode(fields),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def upload(self, path, data, page_path):
        token = self.csrf(self.get(page_path).text)
        b = "----sgtestboundary"
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
                f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.pem\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + \
            f"\r\n--{b}--\r\n".encode()
        return self.request("POST", path, body, {"Content-Type": f"multipart/form-data; boundary={b}"})


@pytest.fixture
def portal(gw_factory):
    g = gw_factory()
    g.set(**{"gateway.organization": "Acme <script>alert(1)</script>"})
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


def invite(g, addr=PARTNER):
    r = g.cli("user", "invite", addr)
    assert r.returncode == 0, r.stderr
    return re.search(r"^([A-Z0-9]{4}(-[A-Z0-9]{4})+)$", r.stdout, re.M).group(1)


QUESTIONS = {"q1": "first_pet", "answer1": "Fluffy", "q2": "birth_city", "answer2": "München",
             "q3": "first_car", "answer3": "VW Golf"}


def register(g, b, addr=PARTNER, pw=PASSWORD, questions=None):
    otp = invite(g, addr)
    r = b.post("/register", {"email": addr, "otp": otp})
    assert r.status == 303 and r.headers["Location"] == "/register/password", r.text
    r = b.post("/register/password", {"password": pw, "password2": pw})
    assert r.status == 303 and r.headers["Location"] == "/register/questions", r.text
    r = b.post("/register/questions", questions or QUESTIONS)
    assert r.status == 303 and r.headers["Location"] == "/account?m=registered", r.text
    return otp


def test_security_headers_and_cookie_flags(portal):
    b = Browser(portal.portal_port)
    r = b.get("/login")
    assert r.status == 200
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    cookie = r.headers["Set-Cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text
    css = b.get("/static/portal.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert b.get("/nope").status == 404


def test_csrf_missing_or_wrong_is_403(portal):
    b = Browser(portal.portal_port)
    b.get("/login")
    assert b.post("/login", {"email": PARTNER, "password": "x"}, csrf=False).status == 403
    r = b.request("POST", "/login", "email=a%40b.test&password=x&csrf=" + "0" * 64,
                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    fresh = Browser(portal.portal_port)  # no session at all
    r = fresh.request("POST", "/login", "csrf=&email=a", {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403


def test_register_login_channel_upload(portal, tmp_path):
    b = Browser(portal.portal_port)
    b.get("/register")
    before = b.cookies["sg_session"]
    otp = register(portal, b)
    assert b.cookies["sg_session"] != before  # rotated: no session fixation
    r = b.get("/account?m=registered")
    assert r.status == 200 and PARTNER in r.text and "Registration complete" in r.text
    # The OTP is single-use.
    b2 = Browser(portal.portal_port)
    r = b2.post("/register", {"email": PARTNER, "otp": otp})
    assert r.status == 200 and "do not match an open invitation" in r.text
    # Log out, log in again: the cookie changes at login too.
    token = b.csrf(b.get("/account").text)
    r = b.request("POST", "/logout", "csrf=" + token, {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 303 and "sg_session" not in b.cookies
    assert b.get("/account").status == 303
    b.get("/login")
    anon = b.cookies["sg_session"]
    r = b.post("/login", {"email": PARTNER, "password": PASSWORD})
    assert r.status == 303 and r.headers["Location"] == "/account"
    assert b.cookies["sg_session"] != anon
    # S/MIME needs a certificate first.
    r = b.post("/account/channel", {"channel": "smime"}, page_path="/account")
    assert "Upload your certificate" in r.text
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "30", "-subj", "/CN=Partner",
                    "-addext", f"subjectAltName=email:{PARTNER}",
                    "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
                    "-addext", "extendedKeyUsage=emailProtection"], check=True, capture_output=True)
    r = b.upload("/account/upload", crt.read_bytes(), "/account")
    assert r.status == 303, r.text
    r = b.post("/account/channel", {"channel": "smime"}, page_path="/account")
    assert r.status == 303
    assert "S/MIME" in b.get("/account").text
    show = portal.cli("user", "show", PARTNER)
    assert "channel:  smime" in show.stdout and "imported" in show.stdout
    # A certificate for someone else is refused.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(crt), "-days", "30", "-subj", "/CN=Other",
                    "-addext", "subjectAltName=email:other@partner.test"], check=True, capture_output=True)
    r = b.upload("/account/upload", crt.read_bytes(), "/account")
    assert r.status == 200 and "not for your e-mail address" in r.text
    audit = portal.cli("audit").stdout
    for ev in ("invited", "otp-accepted", "registered", "login", "logout", "channel", "upload",
               "upload-refused"):
        assert re.search(rf"\b{ev}\b", audit), audit


def test_upload_p7b_bundle_picks_the_partners_certificate(portal, tmp_path):
    """A .p7b usually carries the chain: the CA first here, so the right one must be chosen."""
    b = Browser(portal.portal_port)
    register(portal, b)
    ossl = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "ca.key"),
         "-out", str(tmp_path / "ca.crt"), "-days", "30", "-subj", "/CN=Partner CA",
         "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "ee.key"),
         "-out", str(tmp_path / "ee.csr"), "-subj", "/CN=Partner")
    (tmp_path / "ext").write_text(f"subjectAltName=email:{PARTNER}\n"
                                  "keyUsage=critical,digitalSignature,keyEncipherment\n"
                                  "extendedKeyUsage=emailProtection\n")
    ossl("x509", "-req", "-in", str(tmp_path / "ee.csr"), "-CA", str(tmp_path / "ca.crt"),
         "-CAkey", str(tmp_path / "ca.key"), "-CAcreateserial", "-days", "20",
         "-extfile", str(tmp_path / "ext"), "-out", str(tmp_path / "ee.crt"))
    for form in ("DER", "PEM"):
        out = tmp_path / f"bundle-{form}.p7b"
        ossl("crl2pkcs7", "-nocrl", "-certfile", str(tmp_path / "ca.crt"), "-certfile",
             str(tmp_path / "ee.crt"), "-outform", form, "-out", str(out))
        r = b.upload("/account/upload", out.read_bytes(), "/account")
        assert r.status == 303, r.text
    show = portal.cli("user", "show", PARTNER).stdout
    assert show.count("S/MIME:   imported") == 1, show  # the same certificate, once
    # A bundle with only the CA in it names nobody's address.
    ossl("crl2pkcs7", "-nocrl", "-certfile", str(tmp_path / "ca.crt"), "-out",
         str(tmp_path / "ca.p7b"))
    r = b.upload("/account/upload", (tmp_path / "ca.p7b").read_bytes(), "/account")
    assert r.status == 200 and "not for your e-mail address" in r.text
    r = b.upload("/account/upload", b"-----BEGIN PKCS7-----\ngarbage\n", "/account")
    assert r.status == 200 and ".p7b" in r.text


def test_logout_everywhere_ends_every_session(portal):
    a = Browser(portal.portal_port)
    register(portal, a)
    b = Browser(portal.portal_port)  # the same partner on a second device
    b.get("/login")
    assert b.post("/login", {"email": PARTNER, "password": PASSWORD}).status == 303
    assert b.get("/account").status == 200 and a.get("/account").status == 200
    r = a.post("/logout/all", {}, page_path="/account")
    assert r.status == 303 and r.headers["Location"] == "/login?m=logged_out_all"
    assert "logged out everywhere" in a.get("/login?m=logged_out_all").text
    assert a.get("/account").status == 303 and b.get("/account").status == 303
    assert "logout-all" in portal.cli("audit").stdout


def test_partners_served_side_by_side(portal):
    """portal.threads (4 by default): registrations, logins, account pages and anonymous
    visitors at the same time, each answered as if it were alone."""
    portal.wait_log(r"HTTPS on, 4 thread\(s\)")  # the port is the master's: wait for the child
    errors = []

    def partner(i):
        try:
            addr = f"p{i}@partner.test"
            b = Browser(portal.portal_port)
            register(portal, b, addr=addr, pw=f"{PASSWORD} {i}")
            assert b.post("/logout", {}, page_path="/account").status == 303
            b.get("/login")
            r = b.post("/login", {"email": addr, "password": f"{PASSWORD} {i}"})
            assert r.status == 303 and r.headers["Location"] == "/account", r.text
            for _ in range(5):
                page = b.get("/account")
                assert page.status == 200 and addr in page.text
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(f"partner {i}: {e!r}")

    def visitor():
        try:
            for _ in range(20):
                assert Browser(portal.portal_port).get("/login").status == 200
        except Exception as e:  # noqa: BLE001
            errors.append(f"visitor: {e!r}")

    threads = [threading.Thread(target=partner, args=(i,)) for i in range(6)]
    threads += [threading.Thread(target=visitor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    audit = portal.cli("audit").stdout
    assert sum(f"p{i}@partner.test" in audit for i in range(6)) == 6


def test_password_rules(portal):
    b = Browser(portal.portal_port)
    invite(portal)
    otp = invite(portal)  # a second invitation replaces the first OTP
    assert b.post("/register", {"email": PARTNER, "otp": otp}).status == 303
    r = b.post("/register/password", {"password": PARTNER, "password2": PARTNER})
    assert "must not be your e-mail address" in r.text
    r = b.post("/register/password", {"password": "short", "password2": "short"})
    assert "cannot be used" in r.text
    r = b.post("/register/password", {"password": PASSWORD, "password2": PASSWORD + "x"})
    assert "differ" in r.text


def test_xss_in_fields_is_escaped(portal):
    b = Browser(portal.portal_port)
    evil = '"><script>alert(1)</script>@x.test'
    r = b.post("/login", {"email": evil, "password": "x"})
    assert "<script>alert(1)</script>" not in r.text
    assert "&quot;&gt;&lt;script&gt;" in r.text


def test_lockout_does_not_reveal_accounts(portal):
    b = Browser(portal.portal_port)
    register(portal, b)
    # An account and an unknown address go through the same steps, each guessed from its own
    # client address, so that neither is refused only by the other's per-address wait.
    for addr, source, other in ((PARTNER, "127.0.0.2", "127.0.0.3"),
                                ("nobody@partner.test", "127.0.0.4", "127.0.0.5")):
        c = Browser(portal.portal_port, source=source)
        for _ in range(4):
            r = c.post("/login", {"email": addr, "password": "wrong password"})
            assert r.status == 200 and "Login failed" in r.text
        r = c.post("/login", {"email": addr, "password": "wrong password"})
        assert r.status == 429 and "Too many failed attempts" in r.text
        # Waiting now even with the right password, and from another client (the account's wait).
        r = c.post("/login", {"email": addr, "password": PASSWORD})
        assert r.status == 429
        r = Browser(portal.portal_port, source=other).post("/login", {"email": addr, "password": PASSWORD})
        assert r.status == 429 and "Too many failed attempts" in r.text
    assert "lockout" in portal.cli("audit").stdout


def test_german_ui(portal):
    b = Browser(portal.portal_port)
    r = b.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert 'lang="de"' in r.text and "Anmelden" in r.text
    r = b.get("/lang?l=en&next=/login")
    assert r.status == 303 and r.headers["Location"] == "/login"
    r = b.get("/login", headers={"Accept-Language": "de"})
    assert 'lang="en"' in r.text  # the switch wins over the browser
    assert b.get("/lang?l=de&next=//evil.test").headers["Location"] == "/"
