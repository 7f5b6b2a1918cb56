"""smtpd against an attacker on the internet (clients outside smtp.internal_networks, which the
rig sets to 127.0.0.1/32, so 127.0.0.2 and 127.0.0.3 are "the internet"):

- backscatter: recipients of the internal domains are verified at RCPT (a callahead to the real
  internal Postfix, or the gateway's user list), an unknown one gets 550 in the session and no
  DSN is ever generated; the internal server being down gives 450, never 250-then-bounce; and
  a permanent rejection by the internal server of mail already accepted from outside is
  dropped with a log line instead of a DSN to the (forged) sender;
- one client cannot take every session (smtp.max_sessions_per_client);
- a client dribbling one byte per second cannot hold a command or DATA past its deadline."""

import os
import re
import smtplib
import socket
import time

import pytest

import sgrig
from conftest import maildir_routes
from sgrig import RawSMTP, wait_for, wait_maildir

OUTSIDE = "127.0.0.2"
OTHER_OUTSIDE = "127.0.0.3"


def outside_smtp(g, source=OUTSIDE):
    return smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=(source, 0))


def outside_transaction(g):
    """An SMTP session from outside with MAIL FROM a forged sender given."""
    s = outside_smtp(g)
    s.ehlo("spammer.test")
    s.mail("victim@remote.test")
    return s


def spam(rcpt):
    return (f"From: Victim <victim@remote.test>\r\nTo: {rcpt}\r\n"
            f"Subject: CHEAP PILLS backscatter-probe\r\nMessage-ID: <spam-{rcpt}>\r\n\r\n"
            "buy now\r\n").encode()


def no_dsn(md_ext):
    """Nothing was written to the external route: no DSN left for the forged sender."""
    return not sgrig.maildir_files(os.path.join(md_ext, "victim@remote.test"))


@pytest.fixture
def behind_postfix(gw_factory, postfix_factory, workdir):
    """A gateway whose internal server is a real Postfix knowing alice@example.com only; the
    external route is a Maildir, where any DSN to the forged sender would land."""
    pf = postfix_factory({"example.com": ["alice"]})
    g = gw_factory()
    _, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"route.internal": f"smtp:127.0.0.1:{pf.port}"})
    g.pf = pf
    return g


def test_unknown_local_part_refused_in_session_by_callahead(behind_postfix):
    g = behind_postfix.start()  # smtp.verify_recipients = auto: a callahead, route is smtp:
    with outside_transaction(g) as s:
        code, text = s.rcpt("nobody@example.com")
        assert code == 550 and text.startswith(b"5.1.1"), (code, text)
        code, text = s.rcpt("alice@example.com")
        assert code == 250, (code, text)
        code, text = s.data(spam("alice@example.com"))
        assert code == 250, text
    (got,) = wait_maildir(g.pf.maildir("alice@example.com"), timeout=30)
    assert b"backscatter-probe" in got
    g.wait_log(r"NOQUEUE: reject: RCPT from \[127\.0\.0\.2\]: 550 5\.1\.1 <nobody@example\.com>")
    # The answer is cached: a second try does not ask Postfix again.
    with outside_transaction(g) as s:
        assert s.rcpt("nobody@example.com")[0] == 550
    assert len(re.findall(r"callahead to=<nobody@example\.com>", g.log())) == 1
    g.wait_log(r"to=<alice@example\.com>.*status=sent")
    assert "non-delivery notification:" not in g.log()
    assert no_dsn(g.md_ext)


def test_internal_server_down_answers_450(gw_factory, workdir):
    g = gw_factory()
    _, md_ext = maildir_routes(g, str(workdir))
    g.set(**{"route.internal": f"smtp:127.0.0.1:{sgrig.free_port()}"})  # nobody listens
    g.start()
    with outside_transaction(g) as s:
        code, text = s.rcpt("alice@example.com")
        assert code == 450 and text.startswith(b"4.4.3"), (code, text)
        code, _ = s.docmd("DATA")
        assert code == 554  # no recipient was taken
    g.wait_log(r"callahead to=<alice@example\.com> failed")
    assert "queued as" not in g.log()
    assert no_dsn(md_ext)


def test_permanent_internal_rejection_of_outside_mail_is_dropped_not_bounced(behind_postfix):
    """With verification off the gateway takes any local part; Postfix then refuses the
    unknown one: the forged sender gets no DSN (a log line says so), while an internal
    client's sender still gets its bounce."""
    g = behind_postfix
    g.set(**{"smtp.verify_recipients": "off"})
    g.start()
    with outside_smtp(g) as s:
        s.sendmail("victim@remote.test", ["nobody@example.com"], spam("nobody@example.com"))
    g.wait_log(r"to=<nobody@example\.com>: refused by the internal server \(5\.1\.1\) for mail "
               r"from outside: no non-delivery notification to <victim@remote\.test>", 40)
    # an internal client's mail to the same unknown mailbox bounces to its sender as before
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", ["nobody@example.com"],
                   b"From: alice@example.com\r\nSubject: typo\r\n\r\nhi\r\n")
    g.wait_log(r"sender non-delivery notification", 40)
    dsns = wait_maildir(g.pf.maildir("alice@example.com"), timeout=40)
    assert any(b"multipart/report" in m for m in dsns)
    assert no_dsn(g.md_ext)
    assert len(re.findall(r"sender non-delivery notification", g.log())) == 1


def test_directory_mode_uses_the_gateways_users(gw_factory, workdir):
    g = gw_factory()
    md_int, md_ext = maildir_routes(g, str(workdir))
    g.set(**{"smtp.verify_recipients": "directory"})
    r = g.cli("cert", "issue", "alice@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    g.start()
    g.wait_log(r"recipient list written")
    with outside_transaction(g) as s:
        assert s.rcpt("nobody@example.com")[0] == 550
        assert s.rcpt("ALICE@example.com")[0] == 250  # addresses compare case-insensitively
        s.rset()
        s.mail("victim@remote.test")
        assert s.rcpt("alice@example.com")[0] == 250
        assert s.data(spam("alice@example.com"))[0] == 250
    wait_maildir(os.path.join(md_int, "alice@example.com"), timeout=30)
    assert no_dsn(md_ext)


# ---- sessions per client ----------------------------------------------------------------------


def greeting(source):
    def connect(port):
        s = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0))
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        return s, data
    return connect


def test_one_client_cannot_take_every_session(gateway):
    held = []
    try:
        for _ in range(10):  # smtp.max_sessions_per_client defaults to 10
            s, banner = greeting(OUTSIDE)(gateway.port)
            assert banner.startswith(b"220"), banner
            held.append(s)
        s, banner = greeting(OUTSIDE)(gateway.port)
        s.close()
        assert banner.startswith(b"421 4.7.0"), banner
        other, banner = greeting(OTHER_OUTSIDE)(gateway.port)
        other.close()
        assert banner.startswith(b"220"), "another client still gets in"
        gateway.wait_log(r"too many sessions from \[127\.0\.0\.2\] \(10\): refusing")
        # once one of its sessions ends, the client may connect again
        held.pop().close()
        gateway.wait_log(r"disconnect from \[127\.0\.0\.2\]")
        s, banner = wait_for(lambda: (lambda r: r if r[1].startswith(b"220") else r[0].close())(
            greeting(OUTSIDE)(gateway.port)), 20, what="a session for 127.0.0.2 again")
        s.close()
    finally:
        for s in held:
            s.close()


# ---- deadlines --------------------------------------------------------------------------------


@pytest.fixture
def short_deadlines(gw_factory, workdir):
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"smtp.command_timeout": "3s", "smtp.data_timeout": "3s"})
    return g.start()


def dribble(c, data, limit_s):
    """Send data one byte a second; return (seconds until the server's reply, reply line)."""
    start = time.monotonic()
    c.sock.settimeout(1.0)
    for b in data:
        try:
            c.sock.sendall(bytes([b]))
        except OSError:
            break
        try:
            got = c.sock.recv(512)
        except socket.timeout:
            got = None
        if got is not None:
            return time.monotonic() - start, got
        if time.monotonic() - start > limit_s:
            break
    return time.monotonic() - start, b""


def test_dribbling_cannot_hold_a_command(short_deadlines):
    with RawSMTP(short_deadlines.port, source=OUTSIDE) as c:
        assert c.reply()[0] == 220
        took, got = dribble(c, b"EHLO dribbler.example.net.with.a.long.name\r\n", 30)
    assert got.startswith(b"421 4.4.2"), (took, got)
    assert took < 15, f"the command took {took:.1f}s past a 3s deadline"
    short_deadlines.wait_log(r"timeout after connect from \[127\.0\.0\.2\]")


def test_dribbling_cannot_hold_data(short_deadlines):
    with RawSMTP(short_deadlines.port, source=OUTSIDE) as c:
        assert c.reply()[0] == 220
        for cmd, code in (("EHLO d.example", 250), ("MAIL FROM:<d@remote.test>", 250),
                          ("RCPT TO:<alice@example.com>", 250), ("DATA", 354)):
            assert c.cmd(cmd)[0] == code
        took, got = dribble(c, b"Subject: slow\r\n\r\n" + b"x" * 60 + b"\r\n.\r\n", 40)
    assert got.startswith(b"421 4.4.2"), (took, got)
    assert took < 15, f"DATA took {took:.1f}s past a 3s deadline"
    short_deadlines.wait_log(r"timeout after DATA")
    assert "queued as" not in short_deadlines.log()
