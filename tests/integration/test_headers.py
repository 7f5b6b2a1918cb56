"""Only sealgate may state what it did to a message: X-Sealgate-* fields that arrive from
outside are removed on the way through, whatever their case or folding."""

import os
import smtplib

from sgrig import maildir_messages, wait_maildir


def test_foreign_x_sealgate_fields_are_removed(gateway):
    msg = (b"From: mallory@outside.example\r\n"
           b"To: bob@example.com\r\n"
           b"Subject: trust me\r\n"
           b"X-Sealgate-Security: decrypted; signature=valid; signer=ceo@example.com\r\n"
           b"x-sealgate-origin: portal\r\n"
           b"X-Sealgate-Folded: first\r\n second\r\n"
           b"X-Other: kept\r\n"
           b"\r\n"
           b"X-Sealgate-Security: in the body it is just text\r\n")
    with smtplib.SMTP("127.0.0.1", gateway.port, timeout=20) as s:
        s.sendmail("mallory@outside.example", ["bob@example.com"], msg)
    box = os.path.join(gateway.md_int, "bob@example.com")
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    head, _, body = raw.partition(b"\n\n")
    assert b"x-sealgate" not in head.lower()
    assert b"second" not in head
    assert b"X-Other: kept" in head
    assert b"X-Sealgate-Security: in the body it is just text" in body
