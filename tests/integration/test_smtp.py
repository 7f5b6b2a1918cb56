"""smtpd from the outside: plain mail, 8BITMIME, SMTPUTF8, PIPELINING, SIZE, relay control,
attachments with swaks, and bare LF / bare CR smuggling attempts."""

import email
import email.policy
import os
import smtplib
import subprocess
import urllib.parse

import pytest

import sgrig
from sgrig import RawSMTP, header_values, split_message, wait_for, wait_maildir


def md(root, address):
    return os.path.join(root, address)


def test_plain_mail_to_maildir(gateway):
    msg = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com, carol@remote.test\r\n"
           b"Subject: plain test\r\nMessage-ID: <plain-1@example.com>\r\n\r\nHello, Bob.\r\n"
           b".leading dot survives\r\n")
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        code, _ = s.ehlo("client.example.com")
        assert code == 250
        for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"):
            assert s.has_extn(ext), f"EHLO does not advertise {ext.upper()}"
        refused = s.sendmail("alice@example.com", ["bob@example.com", "carol@remote.test"], msg)
        assert refused == {}
    for root, rcpt in ((gateway.md_int, "bob@example.com"), (gateway.md_ext, "carol@remote.test")):
        (got,) = wait_maildir(md(root, rcpt))
        assert header_values(got, "Subject") == [b"plain test"]
        assert header_values(got, "Message-ID") == [b"<plain-1@example.com>"]
        assert header_values(got, "Received"), "the gateway adds a Received header"
        _, body = split_message(got)
        assert body == b"Hello, Bob.\n.leading dot survives\n"
    gateway.wait_log(r"to=<bob@example\.com>.*status=sent")
    gateway.wait_log(r"to=<carol@remote\.test>.*status=sent")


def test_8bitmime_body_arrives_byte_exact(gateway):
    # every 8-bit byte value, in lines of 64, plus UTF-8 and Latin-1 text
    eight = bytes(range(0x80, 0x100))
    body = (b"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\nLatin-1: \xe4\xf6\xfc\xdf\r\n"
            + eight[:64] + b"\r\n" + eight[64:] + b"\r\n")
    msg = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: eight bit\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        s.sendmail("alice@example.com", ["bob@example.com"], msg, mail_options=["BODY=8BITMIME"])
    (got,) = wait_maildir(md(gateway.md_int, "bob@example.com"))
    _, got_body = split_message(got)
    assert got_body == body.replace(b"\r\n", b"\n")
    assert eight in got.replace(b"\r\n", b"").replace(b"\n", b"")


def utf8_folder(root, address):
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return None
    for n in names:
        if urllib.parse.unquote(n).lower() == address.lower():
            return os.path.join(root, n)
    return None


def test_smtputf8_address_and_subject(gateway):
    rcpt = "zoë.müller@example.com"
    subject = "Grüße – 日本語 ✓"
    msg = (f"From: Jörg <jörg@example.com>\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nÄpfel\r\n").encode()
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("jörg@example.com", [rcpt], msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    # the Maildir folder is the address, raw or with non-ASCII bytes as %XX (deliver_maildir.c)
    folder = wait_for(lambda: utf8_folder(gateway.md_int, rcpt), 20, what=f"Maildir of {rcpt}")
    (got,) = wait_maildir(folder)
    assert header_values(got, "Subject") == [subject.encode()]
    assert "Äpfel".encode() in got
    gateway.wait_log(r"status=sent")


def test_pipelined_commands_get_replies_in_order(gateway):
    with RawSMTP(gateway.port) as c:
        assert c.reply()[0] == 220
        code, text = c.cmd("EHLO pipe.example.com")
        assert code == 250 and "PIPELINING" in text.upper()
        # One write: the whole envelope, including a bad recipient in the middle.
        c.send(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n"
               b"RCPT TO:<broken\r\nRCPT TO:<dave@example.com>\r\nDATA\r\n")
        codes = [c.reply()[0] for _ in range(5)]
        assert codes[0] == 250 and codes[1] == 250
        assert 500 <= codes[2] < 600, f"syntax error expected for RCPT TO:<broken, got {codes}"
        assert codes[3] == 250 and codes[4] == 354
        # End of data and three more commands in one write.
        c.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        replies = [c.reply() for _ in range(4)]
        assert [r[0] for r in replies] == [250, 250, 250, 221], replies
        assert sgrig.queued_id(replies[0][1]), replies[0]
    for rcpt in ("bob@example.com", "dave@example.com"):
        (got,) = wait_maildir(md(gateway.md_int, rcpt))
        assert header_values(got, "Subject") == [b"pipelined"]


@pytest.fixture
def small_gateway(gw_factory, workdir):
    from conftest import maildir_routes
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"smtp.max_message_size": "20K"})
    return g.start()


def test_size_param_over_limit_is_552(small_gateway):
    with RawSMTP(small_gateway.port) as c:
        c.reply()
        code, text = c.cmd("EHLO size.example.com")
        assert "SIZE 20480" in text.upper(), text
        code, text = c.cmd("MAIL FROM:<alice@example.com> SIZE=20481")
        assert code == 552 and "5.3.4" in text, text
        code, text = c.cmd("MAIL FROM:<alice@example.com> SIZE=1000")
        assert code == 250, text


def test_real_data_over_limit_is_552(small_gateway):
    big = b"Subject: too big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 40
    with smtplib.SMTP("127.0.0.1", small_gateway.port, timeout=30) as s:
        s.ehlo()
        s.esmtp_features.pop("size", None)   # do not announce SIZE=: only the data is too big
        with pytest.raises(smtplib.SMTPDataError) as ei:
            s.sendmail("alice@example.com", ["bob@example.com"], big)
        assert ei.value.smtp_code == 552 and b"5.3.4" in ei.value.smtp_error
        # the session is still usable and the limit is the only reason
        assert s.sendmail("alice@example.com", ["bob@example.com"], b"Subject: ok\r\n\r\nsmall\r\n") == {}
    (got,) = wait_maildir(md(small_gateway.md_int, "bob@example.com"))
    assert header_values(got, "Subject") == [b"ok"]


def test_relay_refused_outside_internal_networks(gateway):
    # the client is 127.0.0.2; smtp.internal_networks is 127.0.0.1/32
    with RawSMTP(gateway.port, source="127.0.0.2") as c:
        c.reply()
        c.cmd("EHLO outside.test")
        assert c.cmd("MAIL FROM:<mallory@outside.test>")[0] == 250
        code, text = c.cmd("RCPT TO:<victim@remote.test>")
        assert code == 554 and "5.7.1" in text, text
        code, text = c.cmd("RCPT TO:<bob@example.com>")
        assert code == 250, "an internal domain is still accepted from outside: " + text
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: inbound\r\n\r\nfrom outside\r\n.\r\n")
        code, text = c.reply()
        assert code == 250, text
        c.cmd("QUIT")
    (got,) = wait_maildir(md(gateway.md_int, "bob@example.com"))
    assert header_values(got, "Subject") == [b"inbound"]
    gateway.wait_queue_empty()
    assert not os.path.exists(md(gateway.md_ext, "victim@remote.test"))


def test_swaks_with_attachment(gateway, tmp_path):
    blob = os.urandom(150_000)
    att = tmp_path / "report.bin"
    att.write_bytes(blob)
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{gateway.port}",
                        "--from", "alice@example.com", "--to", "bob@example.com",
                        "--header", "Subject: swaks attachment", "--body", "see attached",
                        "--attach-type", "application/pdf", "--attach-name", "report.pdf",
                        "--attach", f"@{att}"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "queued as" in r.stdout
    (got,) = wait_maildir(md(gateway.md_int, "bob@example.com"))
    m = email.message_from_bytes(got, policy=email.policy.default)
    parts = [p for p in m.iter_attachments()]
    assert [p.get_filename() for p in parts] == ["report.pdf"]
    assert parts[0].get_content_type() == "application/pdf"
    assert parts[0].get_content() == blob


SMUGGLING = {
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
}


@pytest.mark.parametrize("terminator", list(SMUGGLING.values()), ids=list(SMUGGLING))
def test_bare_lf_cr_smuggling_refused(gateway, terminator):
    smuggled = (b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nwire the money\r\n")
    with RawSMTP(gateway.port) as c:
        c.reply()
        c.cmd("EHLO smuggler.test")
        assert c.cmd("MAIL FROM:<alice@example.com>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: carrier\r\n\r\nhello" + terminator + smuggled + b".\r\nQUIT\r\n")
        replies = c.replies_until_close(timeout=5)
    codes = [code for code, _ in replies]
    assert codes, "no reply at all to the data"
    assert 500 <= codes[0] < 600, f"bare line ending must be refused with 5xx first, got {replies}"
    assert not any(sgrig.queued_id(t) for _, t in replies), f"a message was queued: {replies}"
    gateway.wait_queue_empty()
    assert sgrig.maildir_files(md(gateway.md_int, "victim@example.com")) == []
    assert sgrig.maildir_files(md(gateway.md_int, "bob@example.com")) == []
