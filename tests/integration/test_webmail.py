"""The webmail channel on the mail path: tagged mail to a partner who chose webmail is sealed
into the store (none of its text, subject or attachments readable in the store's files), the
partner gets a notification without the content (sender, date, portal link, EN and DE,
Auto-Submitted), the spool recipient is sent, and `sealgate webmail list` shows the message.
Retention deletes old messages from the tick with an audit entry; the quota drops the oldest
read messages for new mail, never unread ones (then the sender gets a 5.2.2 DSN and the partner
is told); kill -9 of the whole gateway while webmail transforms run loses and duplicates
nothing; a channel without a transform is refused by the CLI."""
import email
import email.policy
import glob
import os
import re
import smtplib
import sqlite3
import threading
import time
from email.message import EmailMessage

import pytest

import sgrig
from sgrig import maildir_messages, wait_for, wait_maildir
from test_lifecycle import group_gone

PARTNER = "reader@outside.example"
SECRET_BODY = "the merger price is 4711 euros"
SECRET_SUBJECT = "Project Nightingale"


@pytest.fixture
def wm_gw(gw_factory, workdir):
    def make(sqlite=False, **settings):
        g = gw_factory()
        if sqlite:  # a test of the parts' files beside SQLite's database (none on PostgreSQL)
            g.use_sqlite()
        g.md_int = os.path.join(str(workdir), "md-internal")
        g.md_ext = os.path.join(str(workdir), "md-external")
        g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}",
                 "gateway.tick_interval": "1s", **settings})
        r = g.cli("user", "add-external", PARTNER, "--channel", "webmail", "--password-stdin",
                  input="correct horse battery staple\n")
        assert r.returncode == 0, r.stdout + r.stderr
        return g.start()
    return make


def message(subject, body=SECRET_BODY, attachments=(), msgid=None):
    m = EmailMessage()
    m["From"] = "alice@example.com"
    m["To"] = PARTNER
    m["Subject"] = subject
    if msgid:
        m["Message-ID"] = msgid
    m.set_content(body + "\n")
    for name, data in attachments:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m


def send(g, m, timeout=60):
    with smtplib.SMTP("127.0.0.1", g.port, timeout=timeout) as s:
        s.send_message(m, from_addr="alice@example.com", to_addrs=[PARTNER])


def notifications(g, count, timeout=60):
    box = os.path.join(g.md_ext, PARTNER)
    wait_maildir(box, count, timeout=timeout)
    return [email.message_from_bytes(raw, policy=email.policy.default)
            for raw in maildir_messages(box)]


def listed(g):
    """(uid, sender, size, state) of each message `webmail list ADDRESS` shows."""
    r = g.cli("webmail", "list", PARTNER)
    assert r.returncode == 0, r.stderr
    return re.findall(r"^([0-9a-f]{32})\s+inbox\s+\S+ \S+\s+(\S+)\s+(\d+)\s+\d+ att (\w+)$",
                      r.stdout, re.M)


def db(g):
    return g.db()


def store_bytes(g):
    """Every file of the store: the database, its WAL, the sealed parts' files beside them."""
    out = g.store_bytes()
    for path in part_files(g):
        with open(path, "rb") as f:
            out += f.read()
    return out


def part_files(g):
    return sorted(glob.glob(os.path.join(g.dir, "sealgate.db-webmail", "*")))


def test_webmail_is_sealed_and_the_partner_notified(wm_gw):
    g = wm_gw()
    blob = os.urandom(64 * 1024)
    send(g, message(f"[secure] {SECRET_SUBJECT}", attachments=[("Übersicht Q3.bin", blob)]))
    (note,) = notifications(g, 1)
    text = note.get_body(("plain",)).get_content()
    g.wait_log(rf"to=<{re.escape(PARTNER)}>.*relay=webmail.*status=sent")
    (uid, sender, size, state), = listed(g)
    assert sender == "alice@example.com" and state == "unread"
    # the notification: who, when, the link, in English and German, never the content
    assert f"/webmail/{uid}" in text and "alice@example.com" in text
    assert "Guten Tag" in text and "Hello" in text
    assert SECRET_SUBJECT in text  # policy.hide_subject = no (the default) shows it
    assert "[secure]" not in text  # without the tag that asked for encryption
    assert SECRET_BODY not in note.as_string() and "Übersicht" not in note.as_string()
    assert not [p for p in note.walk() if p.get_filename()]
    assert note["Auto-Submitted"] == "auto-generated"
    # sealed: nothing of the message in the store's files (WAL included)
    raw = store_bytes(g)
    for secret in (SECRET_BODY.encode(), SECRET_SUBJECT.encode(), "Übersicht".encode(),
                   blob[:64], blob[-64:]):
        assert secret not in raw
    with db(g) as c:
        assert c.execute("SELECT count(*) FROM webmail_parts").fetchone()[0] == 2
    g.wait_queue_empty()
    r = g.cli("webmail", "list")
    assert PARTNER in r.stdout and re.search(r"\s1\s+1\s", r.stdout), r.stdout


def test_hidden_subject_stays_out_of_the_notification(wm_gw):
    g = wm_gw(**{"policy.hide_subject": "yes"})
    send(g, message(f"[secure] {SECRET_SUBJECT}"))
    (note,) = notifications(g, 1)
    assert SECRET_SUBJECT not in note.as_string()
    assert "Betreff" not in note.get_body(("plain",)).get_content()


def test_retention_deletes_old_messages_from_the_tick(wm_gw):
    g = wm_gw(**{"webmail.retention_days": "30"})
    send(g, message("[secure] old one"))
    send(g, message("[secure] new one"))
    notifications(g, 2)
    wait_for(lambda: len(listed(g)) == 2, 30, what="two webmail messages")
    old_uid = listed(g)[-1][0]
    # leaving webmail keeps what is stored, until the retention ends
    assert g.cli("user", "set-channel", PARTNER, "pdf").returncode == 0
    assert len(listed(g)) == 2
    with db(g) as c:  # as if it had arrived 31 days ago
        c.execute("UPDATE webmail_messages SET created = created - 31 * 86400 WHERE uid = ?",
                  (old_uid,))
    wait_for(lambda: len(listed(g)) == 1, 30, what="the tick deleting the old message")
    assert old_uid not in [m[0] for m in listed(g)]
    audit = g.cli("audit").stdout
    assert re.search(r"webmail-expired.*" + re.escape(PARTNER), audit), audit


def test_quota_drops_oldest_read_never_unread(wm_gw):
    g = wm_gw(**{"webmail.quota_mb": "1"})
    att = lambda: [("part.bin", os.urandom(400 * 1024))]  # noqa: E731
    for n in (1, 2):
        send(g, message(f"[secure] quota {n}", attachments=att()))
        notifications(g, n)
    first, second = sorted(listed(g), key=lambda m: m[0])  # any order: mark the older read
    with db(g) as c:
        older = c.execute("SELECT uid FROM webmail_messages ORDER BY created, id LIMIT 1"
                          ).fetchone()[0]
        c.execute("UPDATE webmail_messages SET read_at = 1 WHERE uid = ?", (older,))
    send(g, message("[secure] quota 3", attachments=att()))
    msgs = notifications(g, 4)  # the new message's notification and the quota notice
    assert any("storage full" in str(m["Subject"]) for m in msgs), [str(m["Subject"]) for m in msgs]
    wait_for(lambda: older not in [m[0] for m in listed(g)], 30, what="the read message dropped")
    assert len(listed(g)) == 2
    assert re.search(r"webmail-quota.*" + re.escape(PARTNER), g.cli("audit").stdout)
    # only unread mail left: the next message is refused, the sender gets a DSN, the partner a notice
    send(g, message("[secure] quota 4", attachments=att()))
    (dsn,) = wait_maildir(os.path.join(g.md_int, "alice@example.com"), 1, timeout=60)
    dsn = dsn.decode(errors="replace")
    assert "Status: 5.2.2" in dsn and PARTNER in dsn, dsn[:2000]
    msgs = notifications(g, 5)
    assert any("could not be kept" in str(m["Subject"]) for m in msgs)
    assert len(listed(g)) == 2 and all(m[3] == "unread" for m in listed(g))


def test_kill9_during_webmail_transforms_loses_and_duplicates_nothing(wm_gw):
    g = wm_gw()
    total = 10
    sent, lock = [], threading.Lock()

    def sender():
        for n in range(total):
            try:
                send(g, message(f"[secure] load {n}", attachments=[("a.bin", os.urandom(300 * 1024))],
                                msgid=f"<load-{n}@example.com>"), timeout=20)
                with lock:
                    sent.append(n)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.2)  # the gateway is down: try the next one after the restart
    t = threading.Thread(target=sender)
    t.start()
    g.wait_log(r"webmail for <.*> stored as", timeout=60)
    pgid = g.proc.pid
    g.kill_all()
    wait_for(lambda: group_gone(pgid), 10, what="the killed gateway gone")
    g.start()
    t.join(180)
    assert not t.is_alive()
    with lock:
        accepted = len(sent)
    assert accepted >= 1
    g.wait_queue_empty(timeout=120)
    rows = listed(g)
    assert len(rows) == accepted, f"{len(rows)} stored for {accepted} accepted"
    assert len({r[0] for r in rows}) == accepted
    with db(g) as c:
        assert c.execute("SELECT count(*) FROM webmail_messages WHERE notified = 0").fetchone()[0] == 0
    box = os.path.join(g.md_ext, PARTNER)
    wait_for(lambda: len(sgrig.maildir_files(box)) >= accepted, 60, what="every notification")


def test_kill9_between_sealed_copy_and_notification(wm_gw):
    """The crash window inside the transform: the sealed copy is stored, the notification not
    yet queued (here: it cannot be built, notify_from has no '@'), and the gateway is killed.
    After the restart the retry finds the stored copy: one message, one notification."""
    g = wm_gw(**{"gateway.notify_from": "broken-without-at-sign"})
    send(g, message("[secure] crash window"))
    g.wait_log(r"webmail: stored, notification not queued yet", timeout=60)
    with db(g) as c:
        assert c.execute("SELECT count(*), sum(notified) FROM webmail_messages").fetchone() == (1, 0)
    pgid = g.proc.pid
    g.kill_all()
    wait_for(lambda: group_gone(pgid), 10, what="the killed gateway gone")
    g.set(**{"gateway.notify_from": ""})
    g.start()
    (note,) = notifications(g, 1)
    g.wait_queue_empty()
    assert len(listed(g)) == 1
    with db(g) as c:
        assert c.execute("SELECT count(*), sum(notified) FROM webmail_messages").fetchone() == (1, 1)
    assert listed(g)[0][0] in note.get_body(("plain",)).get_content()


def test_kill9_between_parts_file_and_commit(wm_gw):
    """The crash window of the parts' file: written and synced, its rows not yet committed
    (here: the test holds the store's write lock, so the commit waits), and the gateway is
    killed. After the restart the message is stored once and notified once; the file the
    killed run left is named by no row, and the sweep (`webmail purge`, the tick) removes it
    once it is an hour old, never the stored message's own file."""
    g = wm_gw(sqlite=True)
    blob = os.urandom(200 * 1024)
    lock = sqlite3.connect(os.path.join(g.dir, "sealgate.db"), isolation_level=None, timeout=30)
    lock.execute("BEGIN IMMEDIATE")
    try:
        send(g, message("[secure] parts window", attachments=[("a.bin", blob)]))
        wait_for(lambda: part_files(g), 30, what="the parts' file written before the commit")
        pgid = g.proc.pid
        g.kill_all()
        wait_for(lambda: group_gone(pgid), 10, what="the killed gateway gone")
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    (orphan,) = part_files(g)
    g.start()
    (note,) = notifications(g, 1)
    g.wait_queue_empty()
    (uid, _, _, _), = listed(g)
    assert uid in note.get_body(("plain",)).get_content()
    live = os.path.join(g.dir, "sealgate.db-webmail", uid)
    assert part_files(g) == sorted([orphan, live])
    with db(g) as c:
        assert c.execute("SELECT sum(file_len) FROM webmail_parts").fetchone()[0] == \
            os.path.getsize(live)
    old = time.time() - 7200
    for path in part_files(g):
        os.utime(path, (old, old))
    assert g.cli("webmail", "purge").returncode == 0
    assert part_files(g) == [live]
    assert len(sgrig.maildir_files(os.path.join(g.md_ext, PARTNER))) == 1


def test_channel_without_transform_is_refused(gw_factory):
    g = gw_factory()
    r = g.cli("user", "set-channel", "x@outside.example", "fax")
    assert r.returncode != 0 and "not a channel" in r.stderr
    r = g.cli("config", "set", "policy.default_external_channel", "webmail")
    assert r.returncode == 0, r.stderr
    r = g.cli("check-config")
    assert r.returncode == 0, r.stderr
    r = g.cli("user", "set-channel", "x@outside.example", "webmail")
    assert r.returncode == 0, r.stderr


def test_unknown_partner_is_invited_then_gets_webmail(gw_factory, workdir):
    """An unknown partner follows the invitation path: the mail is held; the partner registers
    having chosen webmail (set here by the admin: the portal's choice is the same store field)
    and the held message arrives in webmail, with a notification instead of a PDF."""
    from test_held import OTP_RE, register
    g = gw_factory()
    g.md_int = os.path.join(str(workdir), "md-internal")
    g.md_ext = os.path.join(str(workdir), "md-external")
    g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}"})
    g.start()
    wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    send(g, message(f"[secure] {SECRET_SUBJECT}"))
    (otp_mail,) = wait_maildir(os.path.join(g.md_int, "alice@example.com"), 1, timeout=60)
    otp = OTP_RE.search(email.message_from_bytes(otp_mail, policy=email.policy.default)
                        .get_body(("plain",)).get_content()).group(1)
    g.wait_log(rf"to=<{re.escape(PARTNER)}>.*status=held")
    assert g.cli("user", "set-channel", PARTNER, "webmail").returncode == 0
    register(g, PARTNER, otp)
    msgs = notifications(g, 2)  # the invitation, then the webmail notification
    note = [m for m in msgs if "/webmail/" in m.get_body(("plain",)).get_content()]
    assert len(note) == 1, [str(m["Subject"]) for m in msgs]
    assert not [p for m in msgs for p in m.walk() if p.get_filename()]  # no PDF
    wait_for(lambda: len(listed(g)) == 1, 30, what="the released message in webmail")
    assert listed(g)[0][0] in note[0].get_body(("plain",)).get_content()
