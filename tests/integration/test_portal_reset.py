"""Security questions, forgot password and change password on the portal, over real HTTPS:
registration completes only with the questions (and releases held mail then), a reset needs
all three answers, wrong answers lock like wrong passwords, unknown addresses get the same
kind of page, the partner is told by mail, old sessions and the old password stop working, and
the next SecurePDF opens with the new password (qpdf)."""
import email
import os
import re
import smtplib
import subprocess
import time
from email.message import EmailMessage

import pytest

import sgrig
from sgrig import maildir_messages, wait_maildir
from test_portal import PARTNER, PASSWORD, QUESTIONS, Browser, invite, register

NEW_PASSWORD = "a brand new passphrase 2027"
RIGHT = {"answer1": "  FLUFFY ", "answer2": "münchen", "answer3": "vw   golf"}  # normalised, they match
WRONG = {"answer1": "Fluffy", "answer2": "München", "answer3": "VW Polo"}
TEXTS = ("What was the name of your first pet?", "In which town or city were you born?",
         "What was the make and model of your first car?")


@pytest.fixture
def gw(portal_gw):
    return portal_gw


def questions_on(page):
    return re.findall(r'<label for="answer\d">([^<]*)</label>', page)


def start_reset(b, addr):
    r = b.post("/forgot", {"email": addr})
    assert r.status == 303 and r.headers["Location"] == "/forgot/answers", r.text
    return b.get("/forgot/answers")


def answer(b, answers):
    return b.post("/forgot/answers", answers)


def login(b, pw, addr=PARTNER):
    return b.post("/login", {"email": addr, "password": pw})


def send_secure(g, to, subject="[secure] figures"):
    m = EmailMessage()
    m["From"] = "alice@example.com"
    m["To"] = to
    m["Subject"] = subject
    m.set_content("The figures are 42.\n")
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.send_message(m, from_addr="alice@example.com", to_addrs=[to])


def messages_of(g, addr, count, timeout=60):
    box = os.path.join(g.md_ext, addr)
    wait_maildir(box, count, timeout=timeout)
    return [email.message_from_bytes(m) for m in maildir_messages(box)]


def pdf_in(msgs, workdir):
    for m in msgs:
        for p in m.walk():
            if p.get_filename() == "secure-message.pdf":
                path = workdir / "secure.pdf"
                path.write_bytes(p.get_payload(decode=True))
                return path
    return None


def qpdf_opens(path, pw):
    return subprocess.run(["qpdf", f"--password={pw}", "--check", str(path)],
                          capture_output=True, timeout=60).returncode == 0


def test_registration_completes_only_with_questions(gw):
    b = Browser(gw.portal_port)
    otp = invite(gw)
    assert b.post("/register", {"email": PARTNER, "otp": otp}).status == 303
    r = b.post("/register/password", {"password": PASSWORD, "password2": PASSWORD})
    assert r.status == 303 and r.headers["Location"] == "/register/questions"
    page = b.get("/register/questions").text
    for n in "123":  # every input has its label
        assert f'<label for="q{n}">' in page and f'<label for="answer{n}">' in page
    assert page.count("<option value=") >= 3 * 8
    # Not registered yet: the password does not log in, the account page is closed.
    c = Browser(gw.portal_port)
    assert "Login failed" in login(c, PASSWORD).text
    assert c.get("/register/questions").headers["Location"] == "/register"
    # Closing the browser here is fine: the OTP still works, the password is chosen again,
    # and the questions cannot be reached without the password step.
    d = Browser(gw.portal_port)
    assert d.post("/register", {"email": PARTNER, "otp": otp}).status == 303
    r = d.post("/register/questions", QUESTIONS, page_path="/register/password")
    assert r.status == 303 and r.headers["Location"] == "/register"
    assert d.post("/register/password", {"password": PASSWORD, "password2": PASSWORD}).status == 303
    bad = [({**QUESTIONS, "q2": "first_pet"}, "three different questions"),
           ({**QUESTIONS, "q3": "favourite_colour"}, "Choose a question"),
           ({**QUESTIONS, "answer2": "   "}, "Each answer"),
           ({**QUESTIONS, "answer1": "x" * 129}, "Each answer")]
    for fields, text in bad:
        r = d.post("/register/questions", fields)
        assert r.status == 200 and text in r.text, text
        assert 'value="first_pet" selected' in r.text or text == "three different questions"
    r = d.post("/register/questions", QUESTIONS)
    assert r.status == 303 and r.headers["Location"] == "/account?m=registered"
    assert "Registration complete" in d.get("/account?m=registered").text
    # Now the OTP is used up and the password logs in.
    assert "do not match an open invitation" in Browser(gw.portal_port).post(
        "/register", {"email": PARTNER, "otp": otp}).text
    assert login(Browser(gw.portal_port), PASSWORD).status == 303
    audit = gw.cli("audit").stdout
    assert "password-chosen" in audit and re.search(r"\bregistered\b", audit)


def test_held_mail_is_released_when_the_questions_are_saved(gw, workdir):
    send_secure(gw, PARTNER)
    sgrig.wait_for(lambda: "held" in gw.cli("audit").stdout or
                   gw.cli("user", "show", PARTNER).returncode == 0, 30, what="the hold")
    time.sleep(1)
    otp = invite(gw)  # a fresh OTP for the pending invitation
    b = Browser(gw.portal_port)
    assert b.post("/register", {"email": PARTNER, "otp": otp}).status == 303
    assert b.post("/register/password", {"password": PASSWORD, "password2": PASSWORD}).status == 303
    time.sleep(2)
    box = os.path.join(gw.md_ext, PARTNER)
    assert pdf_in([email.message_from_bytes(m) for m in maildir_messages(box)]
                  if os.path.isdir(box) else [], workdir) is None  # still held
    assert b.post("/register/questions", QUESTIONS).status == 303
    deadline = time.time() + 60
    pdf = None
    while pdf is None and time.time() < deadline:
        msgs = [email.message_from_bytes(m) for m in maildir_messages(box)] \
            if os.path.isdir(box) else []
        pdf = pdf_in(msgs, workdir)
        time.sleep(0.5)
    assert pdf is not None, gw.log_tail()
    assert qpdf_opens(pdf, PASSWORD)
    assert "released" in gw.cli("audit").stdout


def test_forgot_password_resets_everything(gw, workdir):
    b = Browser(gw.portal_port)
    register(gw, b)
    other = Browser(gw.portal_port)
    assert login(other, PASSWORD).status == 303
    assert other.get("/account").status == 200
    c = Browser(gw.portal_port)
    page = start_reset(c, PARTNER.upper()).text
    assert questions_on(page) == list(TEXTS)
    # The new-password page cannot be reached without the answers.
    assert c.get("/forgot/password").headers["Location"] == "/forgot"
    # Which answer was wrong is not told: the page is the same whichever it was.
    said = set()
    # (Three tries: with the failed login below, a fourth would lock this client out.)
    for wrong in (WRONG, {**RIGHT, "answer2": "x" * 200},
                  {"answer1": RIGHT["answer2"], "answer2": RIGHT["answer1"], "answer3": RIGHT["answer3"]}):
        r = answer(c, wrong)
        assert r.status == 200 and "answers do not match" in r.text
        said.add(re.sub(r'value="[0-9a-f]{64}"', "", r.text))
    assert len(said) == 1
    r = answer(c, RIGHT)
    assert r.status == 303 and r.headers["Location"] == "/forgot/password"
    r = c.post("/forgot/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert "differ" in r.text
    r = c.post("/forgot/password", {"password": "short", "password2": "short"})
    assert "cannot be used" in r.text
    r = c.post("/forgot/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status == 303 and r.headers["Location"] == "/login?m=reset_done"
    assert "has been reset" in c.get("/login?m=reset_done").text
    # Every session of the account is gone; the old password is dead, the new one works.
    assert other.get("/account").status == 303
    assert b.get("/account").status == 303
    assert "Login failed" in login(Browser(gw.portal_port), PASSWORD).text
    assert login(Browser(gw.portal_port), NEW_PASSWORD).status == 303
    # The partner is told by mail.
    notice = messages_of(gw, PARTNER, 1)[0]
    assert "password was changed" in notice["Subject"]
    body = notice.get_payload(decode=True).decode()
    assert "security questions" in body and "127.0.0.1" in body
    audit = gw.cli("audit").stdout
    assert audit.count("reset-failed") == 3 and re.search(r"\breset\b", audit)
    # The next SecurePDF opens with the new password only.
    send_secure(gw, PARTNER)
    pdf = pdf_in(messages_of(gw, PARTNER, 2), workdir)
    assert pdf is not None
    assert qpdf_opens(pdf, NEW_PASSWORD)
    assert not qpdf_opens(pdf, PASSWORD)


def test_reset_lockout(gw):
    register(gw, Browser(gw.portal_port))
    c = Browser(gw.portal_port)
    start_reset(c, PARTNER)
    for _ in range(4):
        r = answer(c, WRONG)
        assert r.status == 200 and "answers do not match" in r.text
    r = answer(c, WRONG)
    assert r.status == 429 and "Too many failed attempts" in r.text
    # Waiting: the right answers do not help, nor does the password, from this client or
    # (the account's wait) from another one, by login or by a new reset.
    r = answer(c, RIGHT)
    assert r.status == 429 and "Too many failed attempts" in r.text
    assert login(Browser(gw.portal_port), PASSWORD).status == 429
    assert login(Browser(gw.portal_port, source="127.0.0.2"), PASSWORD).status == 429
    d = Browser(gw.portal_port, source="127.0.0.3")
    start_reset(d, PARTNER)
    r = answer(d, RIGHT)
    assert r.status == 429 and "Too many failed attempts" in r.text
    audit = gw.cli("audit").stdout
    assert audit.count("reset-failed") == 5 and "lockout" in audit


def test_unknown_and_questionless_addresses_look_alike(gw):
    r = gw.cli("user", "add-external", "admin-made@partner.test", "--password-stdin",
               input=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    register(gw, Browser(gw.portal_port))
    pages = {}
    for addr in ("nobody@partner.test", "admin-made@partner.test", PARTNER):
        pages[addr] = start_reset(Browser(gw.portal_port), addr).text
        qs = questions_on(pages[addr])
        assert len(qs) == 3 and len(set(qs)) == 3, pages[addr]
    # The same markup apart from the address and the question texts.
    def skeleton(page, addr):
        page = page.replace(addr, "ADDR")
        page = re.sub(r'value="[0-9a-f]{64}"', "", page)
        return re.sub(r'(<label for="answer\d">)[^<]*', r"\1", page)
    assert len({skeleton(p, a) for a, p in pages.items()}) == 1
    # Stand-ins are stable (also across a restart and in other letter case) and never match.
    first = questions_on(pages["nobody@partner.test"])
    assert questions_on(start_reset(Browser(gw.portal_port), "NoBody@Partner.test").text) == first
    gw.stop()
    gw.start()
    sgrig.wait_for(lambda: sgrig.port_open(gw.portal_port), 20, what="portal port")
    c = Browser(gw.portal_port)
    assert questions_on(start_reset(c, "nobody@partner.test").text) == first
    r = answer(c, RIGHT)
    assert r.status == 200 and "answers do not match" in r.text
    d = Browser(gw.portal_port)
    start_reset(d, "admin-made@partner.test")
    r = answer(d, RIGHT)
    assert r.status == 200 and "answers do not match" in r.text
    # Escaped like every other value.
    r = start_reset(Browser(gw.portal_port), '"><script>alert(1)</script>@x.test')
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text


def test_change_password(gw):
    b = Browser(gw.portal_port)
    register(gw, b)
    other = Browser(gw.portal_port)
    assert login(other, PASSWORD).status == 303
    page = b.get("/account").text
    assert 'href="/account/password"' in page
    page = b.get("/account/password").text
    for f in ("current", "password", "password2"):
        assert f'<label for="{f}">' in page
    r = b.post("/account/password", {"current": "wrong one", "password": NEW_PASSWORD,
                                     "password2": NEW_PASSWORD})
    assert r.status == 200 and "current password is wrong" in r.text
    r = b.post("/account/password", {"current": PASSWORD, "password": NEW_PASSWORD,
                                     "password2": NEW_PASSWORD + "!"})
    assert "differ" in r.text
    before = b.cookies["sg_session"]
    r = b.post("/account/password", {"current": PASSWORD, "password": NEW_PASSWORD,
                                     "password2": NEW_PASSWORD})
    assert r.status == 303 and r.headers["Location"] == "/account/password?m=pw_changed"
    assert b.cookies["sg_session"] != before
    assert "has been changed" in b.get("/account/password?m=pw_changed").text
    assert b.get("/account").status == 200      # this browser stays logged in
    assert other.get("/account").status == 303  # every other session is gone
    assert "Login failed" in login(Browser(gw.portal_port), PASSWORD).text
    assert login(Browser(gw.portal_port), NEW_PASSWORD).status == 303
    audit = gw.cli("audit").stdout
    assert "password-change-failed" in audit and "password-changed" in audit
    # The partner is told by mail, with what to do if it was not them.
    notice = messages_of(gw, PARTNER, 1)[0]
    assert "password was changed" in notice["Subject"]
    body = notice.get_payload(decode=True).decode()
    assert "account page" in body and "127.0.0.1" in body and "Forgot password" in body
    # Not logged in: the page is closed.
    assert Browser(gw.portal_port).get("/account/password").headers["Location"] == "/login"


def test_german_questions(gw):
    b = Browser(gw.portal_port)
    r = b.get("/forgot", headers={"Accept-Language": "de"})
    assert "Passwort vergessen?" in r.text and 'lang="de"' in r.text
    register(gw, Browser(gw.portal_port))
    r = b.post("/forgot", {"email": PARTNER})
    r = b.get("/forgot/answers", headers={"Accept-Language": "de"})
    assert "Wie hieß Ihr erstes Haustier?" in r.text
