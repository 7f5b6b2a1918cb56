"""The archive (journal) copy: archive.what = all sends a copy of each outbound message as the
internal sender wrote it (before S/MIME encryption) and of each inbound message as the
internal recipient gets it (after decryption), with the envelope in X-Sealgate-Envelope-*
fields, to archive.route; never for internal mail or mail refused by policy, and never to an
external archive address (the mail waits instead)."""
import os
import re

import pytest

import sgrig
from conftest import maildir_routes
from sgrig import maildir_messages, wait_maildir
from test_smime_flow import alice_receives, mail_from_partner, partner, send  # noqa: F401


@pytest.fixture
def archive_gw(gw_factory, workdir, partner):  # noqa: F811
    def make(**settings):
        g = gw_factory()
        g.md_int, g.md_ext = maildir_routes(g, str(workdir))
        g.archive = os.path.join(str(workdir), "archive")
        g.set(**{"archive.what": "all", "archive.route": f"maildir:{g.archive}",
                 "policy.invite_partners": "no", **settings})
        g.start()
        assert g.cli("cert", "issue", "alice@example.com").returncode == 0
        assert g.cli("cert", "import", "bob@partner.test", str(partner / "bob.crt")).returncode == 0
        return g
    return make


def envelope(raw, name):
    return re.findall(rb"^X-Sealgate-Envelope-" + name.encode() + rb": (.*?)\r?$", raw, re.M)


def test_outbound_copy_is_the_mail_as_written(archive_gw):
    g = archive_gw()
    box = os.path.join(g.archive, "archive@example.com")
    send(g.port, ["bob@partner.test"], "[secure] figures", body="secret figures: 42\r\n",
         extra="X-Sealgate-Envelope-To: <forged@evil.example>\r\n")
    wait_maildir(os.path.join(g.md_ext, "bob@partner.test"), 1)
    sent = maildir_messages(os.path.join(g.md_ext, "bob@partner.test"))[0]
    assert b"secret figures" not in sent  # encrypted on the way out
    wait_maildir(box, 1)
    copy = maildir_messages(box)[0]
    assert b"secret figures: 42" in copy and b"[secure] figures" in copy
    assert envelope(copy, "From") == [b"<alice@example.com>"]
    assert envelope(copy, "To") == [b"<bob@partner.test>"], "a forged envelope field survived"
    assert envelope(copy, "Direction") == [b"outbound"]
    assert len(envelope(copy, "Queue-Id")) == 1 and len(envelope(copy, "Date")) == 1
    # Internal mail and mail refused by policy get no copy.
    send(g.port, ["carol@example.com"], "internal note")
    send(g.port, ["nobody@unknown.example"], "[secure] cannot be encrypted")
    wait_maildir(os.path.join(g.md_int, "carol@example.com"), 1)
    wait_maildir(os.path.join(g.md_int, "alice@example.com"), 1)  # the refusal's DSN
    g.wait_queue_empty()
    assert len(maildir_messages(box)) == 1


def test_inbound_copy_is_the_mail_as_decrypted(archive_gw, partner, workdir):  # noqa: F811
    g = archive_gw()
    mail_from_partner(g, workdir, partner / "bob.crt", partner / "bob.key", "bob@partner.test",
                      b"from the partner, encrypted")
    raw, field = alice_receives(g)
    assert b"decrypted=yes" in field
    box = os.path.join(g.archive, "archive@example.com")
    wait_maildir(box, 1)
    copy = maildir_messages(box)[0]
    assert b"from the partner, encrypted" in copy and b"pkcs7-mime" not in copy
    assert envelope(copy, "Direction") == [b"inbound"]
    assert envelope(copy, "To") == [b"<alice@example.com>"]
    assert envelope(copy, "From") == [b"<bob@partner.test>"]
    # the verdict the recipient sees, not the forged one the partner sent
    assert re.findall(rb"^X-Sealgate-Security: (.*?)\r?$", copy, re.M) == [field]


def test_external_archive_address_is_refused_and_mail_waits(archive_gw):
    g = archive_gw(**{"archive.address": "journal@outside.example"})
    g.allowed_problems = re.compile(r"archive\.address is not in gateway\.internal_domains")
    g.wait_log(r"archive\.address is not in gateway\.internal_domains")
    send(g.port, ["bob@partner.test"], "[secure] waits")
    sgrig.wait_for(lambda: "archive copy cannot be queued" in g.queue("list").stdout + g.log(),
                   30, what="the deferral")
    assert not os.path.exists(os.path.join(g.md_ext, "bob@partner.test"))
    assert not os.path.exists(os.path.join(g.archive, "journal@outside.example"))
    assert not os.path.exists(os.path.join(g.md_ext, "journal@outside.example"))
