"""deliver against real next hops: a private Postfix into its Maildirs, a next hop that is down
and comes back (deferral, queue flush), one that answers 550 (DSN to the sender), and the
queue commands list / show / delete."""

import email
import email.policy
import os
import re
import smtplib

import sgrig
from conftest import maildir_routes
from sgrig import header_values, wait_for, wait_maildir


def send(g, sender, rcpts, msg):
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.ehlo()
        s.mail(sender, ["BODY=8BITMIME"])
        for r in rcpts:
            code, text = s.rcpt(r)
            assert code == 250, text
        code, text = s.data(msg)
        assert code == 250, text
    qid = sgrig.queued_id(f"{code} {text.decode()}")
    assert qid, text
    return qid


def test_delivery_through_private_postfix(gw_factory, postfix_factory):
    pf = postfix_factory({"example.com": ["alice", "bob"], "remote.test": ["carol"]})
    g = gw_factory()
    g.set(**{"route.internal": f"smtp:127.0.0.1:{pf.port}",
             "route.external": f"smtp:127.0.0.1:{pf.port}"})
    g.start()
    msg = (b"From: alice@example.com\r\nTo: bob@example.com, carol@remote.test\r\n"
           b"Subject: via postfix\r\nMessage-ID: <pf-1@example.com>\r\n\r\n"
           b"Gr\xc3\xbc\xc3\x9fe\r\n..two dots\r\n")
    send(g, "alice@example.com", ["bob@example.com", "carol@remote.test"], msg)
    for rcpt in ("bob@example.com", "carol@remote.test"):
        (got,) = wait_maildir(pf.maildir(rcpt), timeout=30)
        assert header_values(got, "Message-ID") == [b"<pf-1@example.com>"]
        assert got.replace(b"\r\n", b"\n").endswith(b"\n\nGr\xc3\xbc\xc3\x9fe\n..two dots\n")
        # Postfix's own Received line sits on top of the gateway's, and says TLS carried it
        received = header_values(got, "Received")
        assert len(received) >= 2
        assert re.search(rb"\(using TLSv1\.[23] with cipher", received[0]), received[0]
    g.wait_log(r"to=<bob@example\.com>.*relay=.*status=sent")
    g.wait_log(r"to=<carol@remote\.test>.*relay=.*status=sent")
    assert "status=deferred" not in g.log()
    assert re.search(r"TLS connection established to 127\.0\.0\.1", g.log()), g.log_tail()
    assert "without STARTTLS" not in g.log(), "the delivery fell back to plain text"
    assert re.search(r"TLS connection established from \S*\[127\.0\.0\.1\]: TLSv1\.[23]", pf.log())


def test_failed_starttls_is_retried_in_clear_and_logged(gw_factory, postfix_factory):
    """Opportunistic TLS: a next hop that offers STARTTLS but cannot complete it (this Postfix
    only speaks TLS 1.0, which OpenSSL 3 here refuses) still gets the mail, in clear, and the
    gateway's log says so."""
    pf = postfix_factory({"example.com": ["bob"]},
                         extra_main={"smtpd_tls_protocols": ">=TLSv1, <=TLSv1",
                                     "smtpd_tls_mandatory_protocols": ">=TLSv1, <=TLSv1"})
    g = gw_factory()
    g.set(**{"route.internal": f"smtp:127.0.0.1:{pf.port}",
             "route.external": f"smtp:127.0.0.1:{pf.port}"})
    g.start()
    send(g, "alice@example.com", ["bob@example.com"],
         b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: clear\r\n\r\nhi\r\n")
    (got,) = wait_maildir(pf.maildir("bob@example.com"), timeout=60)
    assert b"using TLS" not in header_values(got, "Received")[0]
    g.wait_log(r"retrying 127\.0\.0\.1:\d+ without STARTTLS")
    g.wait_log(r"to=<bob@example\.com>.*status=sent")


def test_behind_postfix_as_after_queue_filter(gw_factory, postfix_factory):
    """swaks -> Postfix -> content_filter -> sealgate -> Postfix re-injection -> Maildir: what
    Postfix sends (SIZE=, BODY=8BITMIME, SMTPUTF8 when advertised, XFORWARD only if offered)."""
    gport = sgrig.free_port()
    pf = postfix_factory({"example.com": ["alice", "bob"]}, content_filter=f"127.0.0.1:{gport}")
    g = gw_factory()
    g.port = gport
    g.set(**{"smtp.listen": f"127.0.0.1:{gport}",
             "route.internal": f"smtp:127.0.0.1:{pf.reinject_port}",
             "route.external": f"smtp:127.0.0.1:{pf.reinject_port}"})
    g.start()
    with smtplib.SMTP("127.0.0.1", pf.port, timeout=30) as s:
        s.sendmail("partner@outside.test", ["alice@example.com", "bob@example.com"],
                   b"From: partner@outside.test\r\nTo: alice@example.com, bob@example.com\r\n"
                   b"Subject: through the filter\r\n\r\nK\xc3\xb6ln\r\n.a leading dot\r\n",
                   mail_options=["BODY=8BITMIME"])
    for rcpt in ("alice@example.com", "bob@example.com"):
        (got,) = wait_maildir(pf.maildir(rcpt), timeout=40)
        assert header_values(got, "Subject") == [b"through the filter"]
        assert got.replace(b"\r\n", b"\n").endswith(b"\n\nK\xc3\xb6ln\n.a leading dot\n")
        # Postfix (in), sealgate, Postfix (re-injection)
        assert len(header_values(got, "Received")) >= 3
    # one recipient per filter transaction (scan_destination_recipient_limit = 1)
    assert len(re.findall(r"status=sent", g.log())) >= 2
    assert "queue active" not in pf.queue_listing()


def queue_ids(g):
    r = g.queue("list")
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def hop_gateway(gw_factory, workdir, hop, flush_only=False):
    """A started gateway whose external route is 127.0.0.1:hop (internal mail in Maildirs under
    .md_int); flush_only: a retry delay so long that only `queue flush` makes the second attempt
    happen in time."""
    g = gw_factory()
    g.md_int, _ = maildir_routes(g, str(workdir))
    g.set(**{"route.external": f"smtp:127.0.0.1:{hop}"})
    if flush_only:
        g.set(**{"queue.retry_first": "1h", "queue.retry_max": "2h"})
    return g.start()


def test_next_hop_down_deferred_then_flush_delivers(gw_factory, sink_factory, workdir):
    hop = sgrig.free_port()        # nobody listens here yet
    g = hop_gateway(gw_factory, workdir, hop, flush_only=True)
    qid = send(g, "alice@example.com", ["ext@remote.test"],
               b"Subject: deferred\r\nMessage-ID: <defer-1@example.com>\r\n\r\nlater\r\n")
    g.wait_log(r"to=<ext@remote\.test>.*status=deferred")
    listing = wait_for(lambda: (lambda out: qid in out and out)(queue_ids(g)), 10,
                       what=f"{qid} in queue list")
    assert "ext@remote.test" in listing or "ext@remote.test" in g.queue("show", qid).stdout
    sink = sink_factory(hop)
    r = g.queue("flush")
    assert r.returncode == 0, r.stdout + r.stderr
    (m,) = sink.wait_messages(1, timeout=20)
    assert m.rcpts == ["ext@remote.test"] and m.mail_from == "alice@example.com"
    assert b"Message-ID: <defer-1@example.com>" in m.data
    g.wait_log(r"to=<ext@remote\.test>.*status=sent")
    wait_for(lambda: qid not in queue_ids(g), 10, what=f"{qid} gone from the queue")


def test_next_hop_550_bounces_dsn_to_sender(gw_factory, sink_factory, workdir):
    sink = sink_factory()
    sink.rcpt_reply = lambda a: ("550 5.1.1 <%s>: no such user" % a if a.startswith("nobody")
                                 else "250 2.1.5 Ok")
    g = gw_factory()
    md_int, _ = maildir_routes(g, str(workdir))
    g.set(**{"route.external": f"smtp:127.0.0.1:{sink.port}"})
    g.start()
    send(g, "alice@example.com", ["nobody@remote.test", "somebody@remote.test"],
         b"From: Alice <alice@example.com>\r\nTo: nobody@remote.test\r\n"
         b"Subject: will bounce\r\nMessage-ID: <bounce-1@example.com>\r\n\r\nhello\r\n")
    (m,) = sink.wait_messages(1)
    assert m.rcpts == ["somebody@remote.test"], "the good recipient is still delivered"
    g.wait_log(r"to=<nobody@remote\.test>.*status=bounced")
    (dsn_raw,) = wait_maildir(os.path.join(md_int, "alice@example.com"), timeout=20)
    dsn = email.message_from_bytes(dsn_raw, policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = list(dsn.iter_parts())
    assert [p.get_content_type() for p in parts][:2] == ["text/plain", "message/delivery-status"]
    status = parts[1].as_bytes().decode("utf-8", "replace")
    assert re.search(r"(?im)^Final-Recipient:\s*rfc822;\s*nobody@remote\.test", status), status
    assert re.search(r"(?im)^Action:\s*failed", status), status
    assert re.search(r"(?im)^Status:\s*5\.1\.1", status), status
    assert "somebody@remote.test" not in status
    # the original headers come back (message/rfc822 or text/rfc822-headers)
    assert len(parts) >= 3 and parts[2].get_content_type() in ("message/rfc822", "text/rfc822-headers")
    orig = parts[2].as_bytes()
    assert b"Message-ID: <bounce-1@example.com>" in orig and b"Subject: will bounce" in orig
    # a DSN has the null envelope sender: the log or the Return-Path says so
    rp = header_values(dsn_raw, "Return-Path")
    assert rp in ([], [b"<>"]), rp


def test_queue_list_show_delete(gw_factory, sink_factory, workdir):
    hop = sgrig.free_port()
    g = gw_factory()
    maildir_routes(g, str(workdir))
    g.set(**{"route.external": f"smtp:127.0.0.1:{hop}", "queue.retry_first": "1h",
             "queue.retry_max": "2h"})
    g.start()
    keep = send(g, "alice@example.com", ["keep@remote.test"], b"Subject: keep\r\n\r\nk\r\n")
    drop = send(g, "alice@example.com", ["drop@remote.test"], b"Subject: drop\r\n\r\nd\r\n")
    assert keep != drop
    g.wait_log(r"to=<drop@remote\.test>.*status=deferred")
    wait_for(lambda: keep in queue_ids(g) and drop in queue_ids(g), 10, what="both in queue list")
    shown = g.queue("show", drop)
    assert shown.returncode == 0, shown.stderr
    assert "drop@remote.test" in shown.stdout and "alice@example.com" in shown.stdout
    r = g.queue("show", "NOSUCHID")
    assert r.returncode != 0 and "NOSUCHID" in r.stdout + r.stderr, r.stdout + r.stderr
    r = g.queue("delete", drop)
    assert r.returncode == 0, r.stdout + r.stderr
    listing = queue_ids(g)
    assert drop not in listing and keep in listing
    r = g.queue("delete", drop)
    assert r.returncode != 0 and drop in r.stdout + r.stderr, "deleting twice must fail: " + r.stderr
    sink = sink_factory(hop)
    g.queue("flush")
    (m,) = sink.wait_messages(1)
    assert m.rcpts == ["keep@remote.test"]
    # Once the queue is empty nothing more can leave: the deleted message never did.
    g.wait_queue_empty()
    with sink.lock:
        assert [m.rcpts for m in sink.messages] == [["keep@remote.test"]]


def test_expired_deferral_bounces_to_sender(gw_factory, workdir):
    """queue.lifetime: a recipient still deferred when it runs out is bounced with a DSN."""
    g = gw_factory()
    md_int, _ = maildir_routes(g, str(workdir))
    g.set(**{"route.external": f"smtp:127.0.0.1:{sgrig.free_port()}", "queue.retry_first": "1s",
             "queue.retry_max": "1s", "queue.lifetime": "3s"})
    g.start()
    qid = send(g, "alice@example.com", ["gone@remote.test"],
               b"Subject: expires\r\nMessage-ID: <expire-1@example.com>\r\n\r\nx\r\n")
    g.wait_log(r"to=<gone@remote\.test>.*status=deferred")
    g.wait_log(r"to=<gone@remote\.test>.*status=bounced", timeout=30)
    (dsn_raw,) = wait_maildir(os.path.join(md_int, "alice@example.com"), timeout=20)
    dsn = email.message_from_bytes(dsn_raw, policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"
    status = list(dsn.iter_parts())[1].as_bytes().decode("utf-8", "replace")
    assert re.search(r"(?im)^Final-Recipient:\s*rfc822;\s*gone@remote\.test", status), status
    assert re.search(r"(?im)^Action:\s*failed", status), status
    assert re.search(r"(?im)^Status:\s*4\.\d+\.\d+|^Status:\s*5\.\d+\.\d+", status), status
    assert b"<expire-1@example.com>" in dsn_raw
    wait_for(lambda: qid not in queue_ids(g), 10, what=f"{qid} gone from the queue")


def test_next_hop_4xx_defers_and_retry_delivers(gw_factory, sink_factory, workdir):
    """A 451 to RCPT is temporary: deferred, then delivered by the next retry (2 s here)."""
    sink = sink_factory()
    tries = []
    sink.rcpt_reply = lambda a: (tries.append(a) or
                                 ("451 4.3.0 try again later" if len(tries) == 1 else "250 2.1.5 Ok"))
    g = gw_factory()
    maildir_routes(g, str(workdir))
    g.set(**{"route.external": f"smtp:127.0.0.1:{sink.port}"})
    g.start()
    qid = send(g, "alice@example.com", ["later@remote.test"],
               b"Subject: greylisted\r\nMessage-ID: <grey-1@example.com>\r\n\r\nx\r\n")
    g.wait_log(r"to=<later@remote\.test>.*status=deferred \(.*451")
    (m,) = sink.wait_messages(1, timeout=30)
    assert m.rcpts == ["later@remote.test"] and len(tries) == 2
    g.wait_log(r"to=<later@remote\.test>.*status=sent")
    wait_for(lambda: qid not in queue_ids(g), 10, what=f"{qid} gone from the queue")


# The same next-hop answers from a real Postfix (its own 4xx/5xx wording and timing), not only
# from the scripted sink above.

def test_real_postfix_unknown_user_550_bounces_and_the_rest_is_delivered(gw_factory,
                                                                         postfix_factory, workdir):
    pf = postfix_factory({"remote.test": ["somebody"]})
    g = hop_gateway(gw_factory, workdir, pf.port)
    send(g, "alice@example.com", ["nobody@remote.test", "somebody@remote.test"],
         b"From: alice@example.com\r\nTo: nobody@remote.test\r\nSubject: real 550\r\n"
         b"Message-ID: <pf-550@example.com>\r\n\r\nhello\r\n")
    (got,) = wait_maildir(pf.maildir("somebody@remote.test"), timeout=30)
    assert header_values(got, "Message-ID") == [b"<pf-550@example.com>"]
    g.wait_log(r"to=<nobody@remote\.test>.*status=bounced .*550 5\.1\.1")
    (dsn_raw,) = wait_maildir(os.path.join(g.md_int, "alice@example.com"), timeout=30)
    dsn = email.message_from_bytes(dsn_raw, policy=email.policy.default)
    status = list(dsn.iter_parts())[1].as_bytes().decode("utf-8", "replace")
    assert re.search(r"(?im)^Final-Recipient:\s*rfc822;\s*nobody@remote\.test", status), status
    assert re.search(r"(?im)^Status:\s*5\.1\.1", status), status
    assert "User unknown" in status  # Postfix's own words reach the sender
    assert "somebody@remote.test" not in status


def test_real_postfix_451_defers_then_the_retry_delivers(gw_factory, postfix_factory, workdir):
    access = workdir / "access"
    access.write_text("later@remote.test 451 4.3.0 try again later\n")
    pf = postfix_factory({"remote.test": ["later"]}, extra_main={
        "smtpd_recipient_restrictions":
            f"check_recipient_access texthash:{access}, permit_mynetworks, reject"})
    g = hop_gateway(gw_factory, workdir, pf.port, flush_only=True)
    qid = send(g, "alice@example.com", ["later@remote.test"],
               b"Subject: real 451\r\nMessage-ID: <pf-451@example.com>\r\n\r\nx\r\n")
    g.wait_log(r"to=<later@remote\.test>.*status=deferred .*451 4\.3\.0 ")
    assert qid in queue_ids(g)
    # A restart, not a reload: the gateway keeps its connection to the smtpd that said 451 (it
    # still answers RSET) and would meet the old table again.
    access.write_text("")
    pf.stop()
    pf.start()
    assert g.queue("flush").returncode == 0
    (got,) = wait_maildir(pf.maildir("later@remote.test"), timeout=30)
    assert header_values(got, "Message-ID") == [b"<pf-451@example.com>"]
    g.wait_log(r"to=<later@remote\.test>.*status=sent")


def test_real_postfix_down_deferred_then_flush_delivers(gw_factory, postfix_factory, workdir):
    hop = sgrig.free_port()  # the Postfix that will listen here is not started yet
    g = hop_gateway(gw_factory, workdir, hop, flush_only=True)
    qid = send(g, "alice@example.com", ["ext@remote.test"],
               b"Subject: real down\r\nMessage-ID: <pf-down@example.com>\r\n\r\nlater\r\n")
    g.wait_log(r"to=<ext@remote\.test>.*status=deferred")
    pf = postfix_factory({"remote.test": ["ext"]}, port=hop)
    assert g.queue("flush").returncode == 0
    (got,) = wait_maildir(pf.maildir("ext@remote.test"), timeout=30)
    assert header_values(got, "Message-ID") == [b"<pf-down@example.com>"]
    g.wait_log(r"to=<ext@remote\.test>.*status=sent")
    wait_for(lambda: qid not in queue_ids(g), 10, what=f"{qid} gone from the queue")
