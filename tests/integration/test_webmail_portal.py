"""The webmail pages over real HTTPS, with mail that came in by SMTP through the webmail
transform: the notification's link leads (after login) to the message; the inbox lists it
(sender, subject, size, attachments, unread) newest first a page at a time; nine attachments with
non-ASCII names come back byte-exact with RFC 6266/5987 names and nosniff; hostile HTML (script,
handlers, javascript: links, remote images, CSS, SVG, and HTML parts of ../shared/corpus) is shown
without any of it while cid: images come from the message; another partner guessing ids gets 404,
exactly like an id that does not exist; reply and reply to all reach the internal senders only and
land in Sent; delete needs the CSRF token; the channel is chosen on the account page and at
registration."""
import email
import email.policy
import os
import re
import smtplib
import urllib.parse
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

import sgrig
from test_portal import PASSWORD, Browser, QUESTIONS, invite
from test_portal_compose import multipart

P1 = "anna@partner.test"
P2 = "bert@other.test"
ALICE = "alice@example.com"
CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "corpus")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


@pytest.fixture
def gw(portal_gw):
    for addr in (P1, P2):
        r = portal_gw.cli("user", "add-external", addr, "--channel", "webmail", "--password-stdin",
                          input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
    return portal_gw


def login(g, addr, next_path=None):
    b = Browser(g.portal_port)
    path = "/login" + (f"?next={next_path}" if next_path else "")
    fields = {"email": addr, "password": PASSWORD}
    if next_path:
        fields["next"] = next_path
    r = b.post("/login", fields, page_path=path)
    assert r.status == 303, r.text
    return b, r.headers["Location"]


def smtp_send(g, msg, to, sender=ALICE):
    with smtplib.SMTP("127.0.0.1", g.port, timeout=60) as s:
        s.send_message(msg, from_addr=sender, to_addrs=to)


def notification(g, addr, count=1):
    """The count-th notification in addr's Maildir, and the portal path its link names."""
    msgs = sgrig.wait_maildir(os.path.join(g.md_ext, addr), count, timeout=60)
    raw = msgs[-1] if count == 1 else msgs[count - 1]
    m = re.search(rb"https?://[^\s/]+(/webmail/[0-9a-f]{32})", raw)
    assert m, raw[:3000]
    return raw, m.group(1).decode()


def all_uids(g, addr, count):
    msgs = sgrig.wait_maildir(os.path.join(g.md_ext, addr), count, timeout=120)
    return [re.search(rb"/webmail/([0-9a-f]{32})", raw).group(1).decode() for raw in msgs]


FILES = [("Übersicht Q3.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 20, "application/pdf"),
         ("日本語のメモ.txt", "こんにちは\r\n".encode(), "text/plain"),
         ('quote"semi;colon.bin', b"\x00\x01\r\n.\r\n\xff" * 100, "application/octet-stream"),
         ("naïve résumé.docx", os.urandom(5000), "application/vnd.openxmlformats"),
         ("../../etc/passwd", b"root:x:0:0\n", "text/plain"),
         ("evil.html", b"<script>alert(1)</script>", "text/html"),
         ("Ελληνικά.zip", os.urandom(3000), "application/zip"),
         ("image.png", PNG, "image/png"),
         ("empty.dat", b"", "application/octet-stream")]


def secure(subject):
    """The subject tag (policy.encrypt_subject_tag) that makes the gateway protect a message."""
    return "[secure] " + subject


def tagged(raw):
    """A raw message with the subject tag added (or a tagged Subject when it has none)."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    if re.search(rb"^Subject:", head, re.M | re.I):
        head = re.sub(rb"^(Subject:)[ \t]*", rb"\1 [secure] ", head, count=1, flags=re.M | re.I)
    else:
        head = b"Subject: [secure] corpus\r\n" + head
    return head + sep + body


def rich_message(subject="Figures for Q3"):
    m = EmailMessage()
    m["From"] = f"Alice Example <{ALICE}>"
    m["To"] = P1
    m["Subject"] = secure(subject)
    m["Message-ID"] = make_msgid(domain="example.com")
    m.set_content("Hallo Anna,\nanbei die Zahlen – Grüße.\n")
    for name, data, ctype in FILES:
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m


def filename_star(disposition):
    m = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert m, disposition
    return urllib.parse.unquote(m.group(1), encoding="utf-8", errors="strict")


def test_notification_link_inbox_read_and_nine_attachments(gw):
    smtp_send(gw, rich_message(), [P1])
    raw, link = notification(gw, P1)
    assert b"anbei die Zahlen" not in raw  # the notification carries no content
    # The link leads to the message after login.
    b = Browser(gw.portal_port)
    r = b.get(link)
    assert r.status == 303 and r.headers["Location"] == f"/login?next={link}"
    b, where = login(gw, P1, next_path=link)
    assert where == link
    inbox = b.get("/webmail")
    assert inbox.status == 200
    row = re.search(r"<tr class=\"unread\">(.*?)</tr>", inbox.text, re.S)
    assert row, inbox.text
    assert "Figures for Q3" in row.group(1) and "Alice Example" in row.group(1)
    assert re.search(r'<td class="num">9</td>', row.group(1)), row.group(1)
    assert re.search(r'<td class="num">[0-9.]+ KB</td>', row.group(1))
    page = b.get(link)
    assert page.status == 200
    assert "anbei die Zahlen – Grüße." in page.text
    hrefs = re.findall(r'href="(/webmail/[0-9a-f]{32}/part/\d+)">([^<]*)</a>', page.text)
    assert len(hrefs) == 9, page.text
    got = {}
    for href, _ in hrefs:
        r = b.get(href)
        assert r.status == 200
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        disp = r.headers["Content-Disposition"]
        assert disp.startswith("attachment"), disp
        fallback = re.search(r'filename="([^"]*)"', disp).group(1)
        assert fallback.isascii() and "/" not in fallback and "\\" not in fallback
        got[filename_star(disp)] = r.body
        assert r.headers["Content-Type"] in ("application/octet-stream", "application/pdf",
                                             "text/plain", "image/png")
    # Byte-exact; names as sent, but those the transform made safe to save (no path, no quote).
    assert sorted(got.values()) == sorted(d for _, d, _ in FILES)
    hostile = ('quote"semi;colon.bin', "../../etc/passwd")
    for name, data, _ in FILES:
        if name not in hostile:
            assert got[name] == data, name
    for name in set(got) - {n for n, _, _ in FILES}:
        assert "/" not in name and '"' not in name and "\\" not in name, name
    # Read now: not bold any more.
    assert '<tr class="unread">' not in b.get("/webmail").text


def corpus_html_messages():
    names = ["mimekit/messages/multipart-related-mhtml.txt", "cpython-email-msgs/msg_47.txt",
             "thunderbird-openpgp/eml/bob-enc-html-nbsp.eml", "cpython-email-msgs/msg_15.txt"]
    return [os.path.join(CORPUS, n) for n in names]


HOSTILE = """<html><head><style>body{background:url(http://remote.example/bg.png)}</style>
<script>alert('head')</script></head><body onload="alert('body')">
<p>Visible paragraph</p><script>alert(1)</script>
<img src="http://remote.example/track.gif" alt="tracker"><img src="cid:logo@example.com" alt="Logo">
<a href="javascript:alert(2)">js link</a> <a href="https://good.example/">evil text</a>
<div style="width:expression(alert(3))" onclick="alert(4)">styled</div>
<svg onload="alert(5)"><script>alert(6)</script></svg><iframe src="https://remote.example/"></iframe>
<form action="https://remote.example/"><input name=x></form>
</body></html>"""


def hostile_message():
    m = EmailMessage()
    m["From"] = ALICE
    m["To"] = P1
    m["Subject"] = secure("hostile html")
    m.set_content("plain alternative")
    m.add_alternative(HOSTILE, subtype="html")
    html = m.get_payload()[1]
    html.add_related(PNG, maintype="image", subtype="png", cid="<logo@example.com>")
    return m


def assert_inert(text):
    main = text[text.index("<main"):]
    for bad in ("<script", "onload=", "onclick=", "javascript:", "expression(", "<svg", "<iframe",
                "<form action=\"https://remote", "src=\"http", "url(http"):
        assert bad not in main, (bad, main[:4000])


def test_hostile_html_is_shown_without_script_or_remote_content(gw):
    smtp_send(gw, hostile_message(), [P1])
    _, link = notification(gw, P1)
    b, _ = login(gw, P1)
    page = b.get(link)
    assert page.status == 200
    assert "Visible paragraph" in page.text and "styled" in page.text
    assert_inert(page.text)
    assert '<span class="link-target">(https://good.example/)</span>' in page.text
    assert "[image not loaded: tracker]" in page.text
    assert "Images from the internet were not loaded" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "img-src 'self'" in csp
    img = re.search(r'<img src="(/webmail/[0-9a-f]{32}/part/\d+)" alt="Logo">', page.text)
    assert img, page.text
    r = b.get(img.group(1))
    assert r.status == 200 and r.body == PNG and r.headers["Content-Type"] == "image/png"


def test_corpus_html_and_broken_mime_are_shown_safely(gw):
    for i, path in enumerate(corpus_html_messages()):
        with open(path, "rb") as f:
            raw = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with smtplib.SMTP("127.0.0.1", gw.port, timeout=60) as s:
            s.sendmail(ALICE, [P1], tagged(raw))
    uids = all_uids(gw, P1, len(corpus_html_messages()))
    b, _ = login(gw, P1)
    for uid in uids:
        page = b.get(f"/webmail/{uid}")
        assert page.status == 200, page.text
        assert_inert(page.text)


def test_another_partner_gets_404_like_a_missing_id(gw):
    smtp_send(gw, rich_message("for anna only"), [P1])
    _, link = notification(gw, P1)
    b2, _ = login(gw, P2)
    theirs = b2.get(link)
    missing = b2.get("/webmail/" + "0" * 32)
    assert theirs.status == 404 and missing.status == 404
    assert theirs.text.replace(link, "") == missing.text.replace("/webmail/" + "0" * 32, "")
    assert "for anna only" not in theirs.text
    assert b2.get(link + "/part/0").status == 404
    assert b2.get(link + "/reply").status == 404
    page = b2.get("/webmail")
    r = b2.request("POST", link + "/delete", urllib.parse.urlencode({"csrf": b2.csrf(page.text)}),
                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 404
    b1, _ = login(gw, P1)
    assert b1.get(link).status == 200  # still there for its owner


def test_reply_and_reply_all_reach_internal_senders_only(gw):
    m = rich_message("question from alice")
    m.replace_header("To", f"{P1}, Bob <bob@example.com>")
    m["Cc"] = '"Doe, Carol" <carol@outside.test>, dave@example.com'
    smtp_send(gw, m, [P1])
    _, link = notification(gw, P1)
    b, _ = login(gw, P1)
    form = b.get(link + "/reply-all")
    assert form.status == 200
    assert re.search(r'id="to" value="alice@example.com, bob@example.com, dave@example.com"',
                     form.text), form.text
    assert "carol@outside.test" not in form.text
    assert "&gt; Hallo Anna," in form.text  # the text is quoted
    body, ctype = multipart({"csrf": b.csrf(form.text), "subject": "Re: question from alice",
                             "text": "Answer to all.\r\n", "to": "mallory@outside.test"},
                            [("answer.bin", b"\x00answer\xff", "application/octet-stream")])
    r = b.request("POST", link + "/reply-all", body, {"Content-Type": ctype})
    assert r.status == 200 and "sent securely" in r.text, r.text
    for rcpt in (ALICE, "bob@example.com", "dave@example.com"):
        raw = sgrig.wait_maildir(os.path.join(gw.md_int, rcpt), 1, timeout=60)[0]
        got = email.message_from_bytes(raw, policy=email.policy.default)
        assert got["From"] == P1 and got["In-Reply-To"] == m["Message-ID"]
        assert [p.get_payload(decode=True) for p in got.iter_attachments()] == [b"\x00answer\xff"]
    for outsider in ("carol@outside.test", "mallory@outside.test"):
        assert sgrig.maildir_files(os.path.join(gw.md_ext, outsider)) == []
    # Plain reply: the sender only. The copy of each answer is in Sent.
    form = b.get(link + "/reply")
    assert 'id="to" value="alice@example.com"' in form.text
    sent = b.get("/webmail/sent")
    assert sent.status == 200 and "Re: question from alice" in sent.text
    uid = re.search(r'href="/webmail/([0-9a-f]{32})"', sent.text).group(1)
    own = b.get(f"/webmail/{uid}")
    assert own.status == 200 and "Answer to all." in own.text
    assert b.get(f"/webmail/{uid}/reply").status == 404  # no reply to one's own Sent copy


def test_reply_to_an_external_sender_is_refused(gw):
    m = EmailMessage()
    m["From"] = "stranger@outside.test"
    m["To"] = P1
    m["Subject"] = secure("from outside")
    m.set_content("x")
    smtp_send(gw, m, [P1])  # From is outside; the envelope sender is not who wrote it
    _, link = notification(gw, P1)
    b, _ = login(gw, P1)
    r = b.get(link + "/reply")
    assert r.status == 403 and "only write to addresses of the organisation" in r.text


def test_delete_needs_csrf_and_then_the_message_is_gone(gw):
    smtp_send(gw, rich_message("to be deleted"), [P1])
    _, link = notification(gw, P1)
    b, _ = login(gw, P1)
    r = b.request("POST", link + "/delete", "csrf=" + "0" * 64,
                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 403
    assert b.get(link).status == 200
    r = b.post(link + "/delete", {}, page_path=link)
    assert r.status == 303 and r.headers["Location"] == "/webmail?m=wm_deleted"
    assert "has been deleted" in b.get(r.headers["Location"]).text
    assert b.get(link).status == 404


def numbered(i):
    m = EmailMessage()
    m["From"] = ALICE
    m["To"] = P1
    m["Subject"] = secure(f"number {i:02d}")
    m.set_content(f"message {i}")
    return m


def test_inbox_pages_newest_first(gw):
    # The first alone, then 25 at once (stored in any order), then the last alone.
    smtp_send(gw, numbered(0), [P1])
    all_uids(gw, P1, 1)
    with smtplib.SMTP("127.0.0.1", gw.port, timeout=120) as s:
        for i in range(1, 26):
            s.send_message(numbered(i), from_addr=ALICE, to_addrs=[P1])
    all_uids(gw, P1, 26)
    smtp_send(gw, numbered(26), [P1])
    all_uids(gw, P1, 27)
    b, _ = login(gw, P1)
    first = b.get("/webmail")
    subjects = re.findall(r"number (\d\d)", first.text)
    assert len(subjects) == 25 and 'rel="next"' in first.text and "1 / 2" in first.text
    assert subjects[0] == "26"  # newest first
    second = b.get("/webmail?page=2")
    rest = re.findall(r"number (\d\d)", second.text)
    assert len(rest) == 2 and 'rel="prev"' in second.text and rest[-1] == "00"
    assert sorted(subjects + rest) == [f"{i:02d}" for i in range(27)]


def test_channel_choice_on_account_page_and_registration(gw):
    b, _ = login(gw, P1)
    page = b.get("/account")
    assert re.search(r'value="webmail" checked> Webmail: messages stay here', page.text)
    assert "SecurePDF: each message comes to your own mailbox" in page.text
    r = b.post("/account/channel", {"channel": "pdf"}, page_path="/account")
    assert r.status == 303
    assert "pdf" in gw.cli("user", "show", P1).stdout
    r = b.post("/account/channel", {"channel": "webmail"}, page_path="/account")
    assert r.status == 303 and "webmail" in gw.cli("user", "show", P1).stdout
    # At registration (German), webmail chosen there: mail then goes to the portal.
    new = "carla@partner.test"
    otp = invite(gw, new)
    nb = Browser(gw.portal_port, headers={"Accept-Language": "de"})
    nb.get("/register")
    assert nb.post("/register", {"email": new, "otp": otp}).status == 303
    assert nb.post("/register/password", {"password": PASSWORD, "password2": PASSWORD}).status == 303
    q = nb.get("/register/questions")
    assert "Webmail: Nachrichten bleiben hier" in q.text and "Ihr eigenes Postfach" in q.text
    r = nb.post("/register/questions", dict(QUESTIONS, channel="webmail"))
    assert r.status == 303, r.text
    assert "webmail" in gw.cli("user", "show", new).stdout
    inbox = nb.get("/webmail")
    assert inbox.status == 200 and "Posteingang" in inbox.text


def test_a_14_mb_attachment_comes_back_byte_exact(gw):
    big = os.urandom(14 * 1024 * 1024)
    m = EmailMessage()
    m["From"] = ALICE
    m["To"] = P1
    m["Subject"] = secure("large file")
    m.set_content("see the archive")
    m.add_attachment(big, maintype="application", subtype="zip", filename="Große Datei.zip")
    smtp_send(gw, m, [P1])
    _, link = notification(gw, P1)
    b, _ = login(gw, P1)
    page = b.get(link)
    href = re.search(r'href="(/webmail/[0-9a-f]{32}/part/\d+)">Große Datei.zip</a>', page.text)
    assert href, page.text
    assert "14.0 MB" in page.text
    r = b.get(href.group(1))
    assert r.status == 200 and r.headers["Content-Type"] == "application/octet-stream"
    assert filename_star(r.headers["Content-Disposition"]) == "Große Datei.zip"
    assert len(r.body) == len(big) and r.body == big
