"""Security questions, forgot password and change password on the portal, over real HTTPS:
registration completes only with the questions (and releases held mail then), a reset needs
all three answers and the one-time code mailed to the address (read here from the partner's
Maildir), wrong answers lock like wrong passwords, unknown addresses get the same kind of page
and no mail, the partner is told by mail, old sessions and the old password stop working, and
the next SecurePDF opens with the new password (qpdf)."""
import email
import email.header
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
from test_portal_compose import started_with

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


def answer(b, answers, code=""):
    return b.post("/forgot/answers", {**answers, "code": code})


CODE_SUBJECTS = ("your code to reset", "Ihr Code zum Zur")


def code_mails(g, addr):
    """The reset-code mails to addr, in the order they were delivered (file names sort badly
    within one second: their microseconds are not zero-padded)."""
    paths = sorted(sgrig.maildir_files(os.path.join(g.md_ext, addr)),
                   key=lambda p: (os.stat(p).st_mtime_ns, p))
    msgs = []
    for p in paths:
        with open(p, "rb") as f:
            msgs.append(email.message_from_bytes(f.read()))
    return [m for m in msgs if any(t in str(email.header.make_header(
        email.header.decode_header(m["Subject"]))) for t in CODE_SUBJECTS)]


def mailed_code(g, addr, nth=1, timeout=60):
    """The code of the nth reset-code mail to addr (waits for it); (code, message)."""
    sgrig.wait_for(lambda: len(code_mails(g, addr)) >= nth, timeout, what=f"reset code mail {nth}")
    m = code_mails(g, addr)[nth - 1]
    body = m.get_payload(decode=True).decode(m.get_content_charset() or "utf-8")
    return re.search(r"^    (\d{8})$", body, re.M).group(1), m


def reset_with_code(g, b, addr=PARTNER, answers=None, nth=1):
    """A whole reset up to the new-password page: the address, the mailed code, the answers."""
    start_reset(b, addr)
    code, _ = mailed_code(g, addr, nth)
    r = answer(b, answers or RIGHT, code)
    assert r.status == 303 and r.headers["Location"] == "/forgot/password", r.text
    return code


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
    sgrig.wait_for(lambda: "held:     1 message(s)" in gw.cli("user", "show", PARTNER).stdout, 30,
                   what="the message held for the partner")
    otp = invite(gw)  # a fresh OTP for the pending invitation
    b = Browser(gw.portal_port)
    assert b.post("/register", {"email": PARTNER, "otp": otp}).status == 303
    assert b.post("/register/password", {"password": PASSWORD, "password2": PASSWORD}).status == 303
    # Not registered until the questions are saved: the account flag the tick releases held mail
    # on (store_held_registered) is still unset, so no tick can release it either.
    shown = gw.cli("user", "show", PARTNER).stdout
    assert "portal:   invited" in shown and "held:     1 message(s)" in shown, shown
    assert "released" not in gw.cli("audit").stdout
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
    code, _ = mailed_code(gw, PARTNER)
    assert re.fullmatch(r"\d{8}", code)
    # What was wrong is not told: the page is the same whichever it was. Three right answers
    # without the code, or with a wrong one, are not enough.
    said = set()
    # (Three tries: with the failed login below, a fourth would lock this client out.)
    wrong_code = f"{(int(code) + 1) % 10**8:08d}"
    for wrong, typed in ((WRONG, code), (RIGHT, ""), (RIGHT, wrong_code)):
        r = answer(c, wrong, typed)
        assert r.status == 200 and "answers or the code do not match" in r.text
        said.add(re.sub(r'value="[0-9a-f]{64}"', "", r.text))
    assert len(said) == 1
    # (Three failed tries also killed that code.) Starting again mails a new one.
    c = Browser(gw.portal_port)
    start_reset(c, PARTNER)
    code2, _ = mailed_code(gw, PARTNER, 2)
    r = answer(c, RIGHT, code2)
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
    notice = [m for m in messages_of(gw, PARTNER, 3) if "password was changed" in m["Subject"]][0]
    body = notice.get_payload(decode=True).decode()
    assert "security questions and the code" in body and "127.0.0.1" in body
    audit = gw.cli("audit").stdout
    assert audit.count("reset-failed") == 3 and re.search(r"\breset\b", audit)
    assert audit.count("reset-code-sent") == 2
    # The next SecurePDF opens with the new password only.
    send_secure(gw, PARTNER)
    pdf = pdf_in(messages_of(gw, PARTNER, 4), workdir)
    assert pdf is not None
    assert qpdf_opens(pdf, NEW_PASSWORD)
    assert not qpdf_opens(pdf, PASSWORD)


def test_reset_lockout(gw):
    register(gw, Browser(gw.portal_port))
    c = Browser(gw.portal_port)
    start_reset(c, PARTNER)
    code, _ = mailed_code(gw, PARTNER)
    for _ in range(4):
        r = answer(c, WRONG, code)
        assert r.status == 200 and "answers or the code do not match" in r.text
    r = answer(c, WRONG, code)
    assert r.status == 429 and "Too many failed attempts" in r.text
    # Waiting: the right answers do not help, nor does the password, from this client or
    # (the account's wait) from another one, by login or by a new reset.
    r = answer(c, RIGHT, code)
    assert r.status == 429 and "Too many failed attempts" in r.text
    assert login(Browser(gw.portal_port), PASSWORD).status == 429
    assert login(Browser(gw.portal_port, source="127.0.0.2"), PASSWORD).status == 429
    d = Browser(gw.portal_port, source="127.0.0.3")
    start_reset(d, PARTNER)
    r = answer(d, RIGHT, mailed_code(gw, PARTNER, 2)[0])
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
    r = answer(c, RIGHT, "12345678")
    assert r.status == 200 and "answers or the code do not match" in r.text
    d = Browser(gw.portal_port)
    start_reset(d, "admin-made@partner.test")
    r = answer(d, RIGHT, "12345678")
    assert r.status == 200 and "answers or the code do not match" in r.text
    # Only the account that can reset was mailed a code (two starts above, one after restart).
    sgrig.wait_for(lambda: len(code_mails(gw, PARTNER)) == 1, 60, what="the code mail")
    audit = gw.cli("audit").stdout
    assert audit.count("reset-code-sent") == 1
    for addr in ("nobody@partner.test", "admin-made@partner.test"):
        assert not code_mails(gw, addr)
    # Escaped like every other value.
    r = start_reset(Browser(gw.portal_port), '"><script>alert(1)</script>@x.test')
    assert "<script>alert(1)</script>" not in r.text and "&lt;script&gt;" in r.text


def test_reset_code_is_single_use_fresh_and_bound_to_its_address(gw):
    other = "other@partner.test"
    register(gw, Browser(gw.portal_port))
    register(gw, Browser(gw.portal_port), addr=other)
    # A code mailed to another address does not reset this one, even with the right answers
    # (both partners chose the same questions and answers here).
    start_reset(Browser(gw.portal_port), other)
    other_code, _ = mailed_code(gw, other)
    c = Browser(gw.portal_port)
    start_reset(c, PARTNER)
    r = answer(c, RIGHT, other_code)
    assert r.status == 200 and "answers or the code do not match" in r.text
    # Taken once: a reset with it works, the same code again does not.
    code = reset_with_code(gw, Browser(gw.portal_port), nth=2)
    d = Browser(gw.portal_port)
    start_reset(d, PARTNER)
    mailed_code(gw, PARTNER, 3)
    r = answer(d, RIGHT, code)
    assert r.status == 200 and "answers or the code do not match" in r.text
    # Valid 15 minutes: the same (fresh) code, aged 16 minutes in the store, is refused.
    e = Browser(gw.portal_port)
    start_reset(e, PARTNER)
    code3, _ = mailed_code(gw, PARTNER, 4)
    with gw.db() as db:
        n = db.execute("UPDATE portal_reset_codes SET created = created - 16 * 60").rowcount
    assert n >= 1
    r = answer(e, RIGHT, code3)
    assert r.status == 200 and "answers or the code do not match" in r.text
    audit = gw.cli("audit").stdout
    assert audit.count("reset-failed") == 3 and "reset-code-sent" in audit


def test_reset_mails_speak_the_page_language(gw):
    register(gw, Browser(gw.portal_port))
    en = Browser(gw.portal_port)
    start_reset(en, PARTNER)
    _, mail_en = mailed_code(gw, PARTNER)
    body = mail_en.get_payload(decode=True).decode(mail_en.get_content_charset())
    assert "your code to reset" in mail_en["Subject"]
    # The text names the deadline (15 minutes from now) and that the code works once.
    assert re.search(r"by \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", body) and "It works once" in body
    de = Browser(gw.portal_port)
    de.get("/lang?l=de&next=/forgot")
    page = start_reset(de, PARTNER).text
    assert "Code aus der E-Mail" in page and "15 Minuten" in page
    code, mail_de = mailed_code(gw, PARTNER, 2)
    subject = str(email.header.make_header(email.header.decode_header(mail_de["Subject"])))
    assert subject.endswith("Ihr Code zum Zurücksetzen des Passworts für sichere E-Mail")
    body = mail_de.get_payload(decode=True).decode(mail_de.get_content_charset())
    assert "Guten Tag" in body and "nur einmal" in body and code in body
    # The reset finishes in German, and so does the notice about it.
    r = answer(de, RIGHT, code)
    assert r.status == 303
    r = de.post("/forgot/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status == 303
    notices = sgrig.wait_for(lambda: [m for m in messages_of(gw, PARTNER, 3)
                                      if "wurde geändert" in str(email.header.make_header(
                                          email.header.decode_header(m["Subject"])))], 60,
                             what="the German notice")
    body = notices[0].get_payload(decode=True).decode(notices[0].get_content_charset())
    assert "mit Ihren Sicherheitsfragen und dem Code" in body


def test_reset_caps_per_day(gw):
    gw.set(**{"portal.reset_codes_per_day": "2", "portal.max_resets_per_day": "1"})
    gw.stop()
    gw.start()
    sgrig.wait_for(lambda: sgrig.port_open(gw.portal_port), 20, what="portal port")
    register(gw, Browser(gw.portal_port))
    # Codes per day: the third request mails nothing (and the page looks the same).
    for _ in range(3):
        start_reset(Browser(gw.portal_port), PARTNER)
    sgrig.wait_for(lambda: "reset-code-refused" in gw.cli("audit").stdout, 30, what="refusal")
    time.sleep(2)
    assert len(code_mails(gw, PARTNER)) == 2
    audit = gw.cli("audit").stdout
    assert audit.count("reset-code-sent") == 2 and "codes per day" in audit
    # Resets per day: after one reset, the next is refused even with answers and a code.
    with gw.db() as db:  # forget the mails sent today
        db.execute("UPDATE audit_log SET at = at - 86400 WHERE event = 'reset-code-sent'")
    c = Browser(gw.portal_port)
    reset_with_code(gw, c, nth=3)
    r = c.post("/forgot/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status == 303
    d = Browser(gw.portal_port)
    start_reset(d, PARTNER)
    sgrig.wait_for(lambda: gw.cli("audit").stdout.count("reset-code-refused") >= 2, 30,
                   what="the second refusal")
    assert "resets per day" in gw.cli("audit").stdout


def test_reset_cap_also_holds_for_a_code_mailed_before_it_was_reached(gw_factory, workdir):
    g = started_with(gw_factory, workdir, **{"portal.max_resets_per_day": "1"})
    register(g, Browser(g.portal_port))
    first = Browser(g.portal_port)
    reset_with_code(g, first)          # answers and code accepted, new password not yet set
    late = Browser(g.portal_port)
    start_reset(late, PARTNER)         # no reset today yet: a second code is mailed
    code2, _ = mailed_code(g, PARTNER, 2)
    r = first.post("/forgot/password", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status == 303
    r = answer(late, RIGHT, code2)     # now one reset today: refused, and said so
    assert r.status == 429 and "reset too often today" in r.text
    assert "reset-refused" in g.cli("audit").stdout


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
