"""Mail that must be encrypted to a partner who has not registered: held sealed in the store,
the partner invited with a one-time password (to the sender, or in a second mail to the
partner), released as SecurePDF after the registration on the real portal, or deleted with a
notice to the sender when the invitation expires. The spool keeps nothing meanwhile."""
import email
import email.policy
import os
import re

import pytest

import sgrig
from conftest import maildir_routes
from sgrig import maildir_messages, wait_maildir
from test_pdf_flow import send, tool
from test_portal import Browser

PARTNER = "newpartner@outside.example"
PW = "purple monkey dishwasher 42"
OTP_RE = re.compile(r"^\s*([A-Z0-9]{4}(?:-[A-Z0-9]{4}){4})\s*$", re.M)


@pytest.fixture
def held_gw(gw_factory, workdir):
    def make(**settings):
        g = gw_factory()
        g.md_int, g.md_ext = maildir_routes(g, str(workdir))
        g.set(**{"gateway.tick_interval": "1s", **settings})
        g.start()
        sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
        return g
    return make


def mails(box, count, timeout=30):
    wait_maildir(box, count, timeout=timeout)
    return [email.message_from_bytes(m, policy=email.policy.default)
            for m in maildir_messages(box)]


def by_subject(msgs, needle):
    found = [m for m in msgs if needle in str(m["Subject"])]
    assert found, [str(m["Subject"]) for m in msgs]
    return found[0]


def body(msg):
    return msg.get_body(("plain",)).get_content()


def register(g, addr, otp, pw=PW):
    """The partner's side on the portal: OTP, password, then whatever the portal asks next
    (security questions) until the account page."""
    b = Browser(g.portal_port)
    r = b.post("/register", {"email": addr, "otp": otp})
    assert r.status == 303 and r.headers["Location"] == "/register/password", r.text
    r = b.post("/register/password", {"password": pw, "password2": pw})
    assert r.status == 303, r.text
    loc = r.headers["Location"]
    if loc.startswith("/register/questions"):
        page = b.get(loc).text
        selects = re.findall(r'<select[^>]*name="([^"]+)"', page)
        options = re.findall(r'<option value="([^"]+)"', page)
        keys = [o for o in dict.fromkeys(options) if o]
        fields = {name: keys[i] for i, name in enumerate(selects)}
        for name in re.findall(r'<input[^>]*name="(answer[^"]*)"', page):
            fields[name] = "answer for " + name
        r = b.post(loc, fields)
        assert r.status == 303, r.text
        loc = r.headers["Location"]
    assert loc.startswith("/account"), loc
    return b


def db(g):
    return g.db()


def held_count(g):
    with db(g) as c:
        return c.execute("SELECT count(*) FROM held_mail").fetchone()[0]


def test_hold_invite_register_release_as_pdf(held_gw, workdir):
    g = held_gw()
    send(g, [PARTNER], "[secure] contract draft")
    inbox = os.path.join(g.md_int, "alice@example.com")
    outbox = os.path.join(g.md_ext, PARTNER)
    sender_mail = by_subject(mails(inbox, 1), "pass on the one-time password")
    otp = OTP_RE.search(body(sender_mail)).group(1)
    assert "contract draft" in body(sender_mail) and PARTNER in body(sender_mail)
    invitation = by_subject(mails(outbox, 1), "secure message from alice@example.com")
    text = body(invitation)
    assert "/register" in text and otp not in text  # the OTP travels another way
    assert invitation["Auto-Submitted"] == "auto-generated"
    g.wait_log(rf"to=<{re.escape(PARTNER)}>.*status=held")
    sgrig.wait_for(lambda: "Queue is empty" in g.queue("list").stdout, 20, what="an empty queue")
    assert held_count(g) == 1
    with db(g) as c:  # sealed: the text is nowhere in the store
        blob = c.execute("SELECT sealed FROM held_mail").fetchone()[0]
    assert b"figures are 42" not in blob and "contract".encode() not in blob

    register(g, PARTNER, otp)
    msgs = mails(outbox, 2, timeout=60)
    pdf_mail = [m for m in msgs if any(p.get_filename() == "secure-message.pdf"
                                       for p in m.walk())]
    assert len(pdf_mail) == 1, [str(m["Subject"]) for m in msgs]
    part = [p for p in pdf_mail[0].walk() if p.get_filename() == "secure-message.pdf"][0]
    path = workdir / "held.pdf"
    path.write_bytes(part.get_payload(decode=True))
    assert tool("qpdf", "--requires-password", str(path), check=False).returncode == 0
    out = workdir / "held-open.pdf"
    tool("qpdf", f"--password={PW}", "--decrypt", str(path), str(out))
    txt = tool("pdftotext", str(out), "-").stdout.decode()
    assert "figures are 42" in txt
    assert held_count(g) == 0
    audit = g.cli("audit").stdout
    assert "invited" in audit and "registered" in audit


def test_otp_to_recipient_and_second_mail_while_pending(held_gw):
    g = held_gw(**{"policy.otp_delivery": "recipient",
                   "gateway.notify_from": "secure-mail@example.com"})
    send(g, [PARTNER], "[secure] first")
    outbox = os.path.join(g.md_ext, PARTNER)
    inbox = os.path.join(g.md_int, "alice@example.com")
    msgs = mails(outbox, 2)
    otp_mail = by_subject(msgs, "one-time password")
    otp = OTP_RE.search(body(otp_mail)).group(1)
    assert "secure-mail@example.com" in str(otp_mail["From"])
    assert otp not in body(by_subject(msgs, "secure message from"))
    held = by_subject(mails(inbox, 1), "held until they register")
    assert "separate e-mail" in body(held)
    assert otp not in body(held)
    # A second mail while the invitation is pending: held, no new invitation, no new OTP.
    send(g, [PARTNER], "[secure] second")
    mails(inbox, 2)
    assert len(maildir_messages(outbox)) == 2
    assert held_count(g) == 2
    register(g, PARTNER, otp)
    mails(outbox, 4, timeout=60)
    assert held_count(g) == 0


def test_expired_invitation_deletes_held_mail_and_tells_sender(held_gw):
    g = held_gw()
    send(g, [PARTNER], "[secure] never read")
    inbox = os.path.join(g.md_int, "alice@example.com")
    mails(inbox, 1)
    sgrig.wait_for(lambda: held_count(g) == 1, 20, what="the held copy")
    with db(g) as c:
        c.execute("UPDATE portal_accounts SET otp_expires = 1")
    notice = by_subject(mails(inbox, 2, timeout=30), "was not delivered")
    assert "never read" in body(notice) and "deleted" in body(notice)
    sgrig.wait_for(lambda: held_count(g) == 0, 10, what="the held copy to go")
    with db(g) as c:
        assert c.execute("SELECT count(*) FROM portal_accounts").fetchone()[0] == 0
    assert "held-expired" in g.cli("audit").stdout
    # Writing again makes a fresh invitation.
    send(g, [PARTNER], "[secure] again")
    by_subject(mails(inbox, 3), "pass on the one-time password")


def test_invitations_off_refuses_with_dsn(held_gw):
    g = held_gw(**{"policy.invite_partners": "no"})
    send(g, [PARTNER], "[secure] refused")
    dsn = mails(os.path.join(g.md_int, "alice@example.com"), 1)[0]
    assert "not registered for secure mail" in dsn.as_string()
    assert held_count(g) == 0
