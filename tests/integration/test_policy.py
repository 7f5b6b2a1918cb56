"""Fail closed: outbound mail that must be encrypted (subject tag, Sensitivity header) and that
no channel can carry is never sent in clear; the sender gets a DSN that says why and what to
do. Untagged mail passes; the tag is what triggers, in any case. Invitations are off here
(policy.invite_partners = no): test_held.py covers holding mail for unregistered partners."""

import os
import smtplib
import time

import pytest

from conftest import maildir_routes
from sgrig import header_values, maildir_messages, wait_maildir


@pytest.fixture
def gateway(gw_factory, workdir):
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"policy.invite_partners": "no"})
    return g.start()


def send(port, subject, extra=""):
    msg = (f"From: alice@example.com\r\nTo: partner@outside.example\r\nSubject: {subject}\r\n"
           f"{extra}Message-ID: <{time.time_ns()}@example.com>\r\n\r\nconfidential figures\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.sendmail("alice@example.com", ["partner@outside.example"], msg.encode())


def dsn_text(gateway):
    box = os.path.join(gateway.md_int, "alice@example.com")
    wait_maildir(box, 1)
    return maildir_messages(box)[0].decode("utf-8", "replace")


def test_tagged_mail_without_channel_is_refused_with_reason(gateway):
    send(gateway.port, "[SECURE] Q3 figures")
    text = dsn_text(gateway)
    assert "multipart/report" in text
    assert "Status: 5.7.1" in text
    assert "had to be encrypted (subject tag)" in text
    assert "Ask the recipient for an" in text
    gateway.wait_log(r"to=<partner@outside.example>.*status=bounced")
    assert not os.path.exists(os.path.join(gateway.md_ext, "partner@outside.example"))


def test_sensitivity_header_triggers_encryption(gateway):
    send(gateway.port, "Q3 figures", "Sensitivity: Company-Confidential\r\n")
    assert "had to be encrypted (Sensitivity header)" in dsn_text(gateway)
    assert not os.path.exists(os.path.join(gateway.md_ext, "partner@outside.example"))


def test_untagged_mail_passes(gateway):
    send(gateway.port, "lunch?")
    box = os.path.join(gateway.md_ext, "partner@outside.example")
    wait_maildir(box, 1)
    assert header_values(maildir_messages(box)[0], "Subject") == [b"lunch?"]
