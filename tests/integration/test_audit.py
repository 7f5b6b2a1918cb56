"""One audit log for every admin and mail event: certificates issued, imported, exported and
revoked, OpenPGP keys imported, generated, accepted and deleted, trust anchors, configuration
changes, user changes, queue delete and flush (CLI, who = cli:ACCOUNT); mail held, released
and expired (qmgr, cli, tick); mail refused by policy (qmgr). `sealgate audit` filters by
time and event and writes JSON lines."""
import getpass
import json
import os
import subprocess

import pytest

import sgrig
from conftest import maildir_routes
from test_pdf_flow import send
from test_pgp_cli import BOB, BOB_FPR
from test_smime_cli import openssl_user

PW = "purple monkey dishwasher 42"


def audit(g, *args):
    r = g.cli("audit", "--json", *args)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def events(g, *args):
    return [e["event"] for e in audit(g, *args)]


def wait_event(g, event, timeout=30):
    sgrig.wait_for(lambda: event in events(g, "--event", event), timeout, what=f"audit {event}")
    return audit(g, "--event", event)


def ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.skipif(not os.path.exists(BOB), reason=f"no OpenPGP corpus at {BOB}")
def test_every_admin_and_mail_event_is_audited(gw_factory, workdir):
    g = gw_factory()
    g.md_int, _ = maildir_routes(g, str(workdir))
    # External mail waits in the queue (nothing listens there), for queue flush and delete.
    g.set(**{"route.external": f"smtp:127.0.0.1:{sgrig.free_port()}",
             "gateway.tick_interval": "1s"})
    me = f"cli:{getpass.getuser()}"

    # ---- certificates, keys, anchors, users: the CLI
    ok(g.cli("cert", "issue", "alice@example.com"))
    ok(g.cli("cert", "export", "alice@example.com", "--pfx", str(workdir / "alice.pfx")))
    _, crt = openssl_user(workdir, "dave@partner.test", "dave")
    ok(g.cli("cert", "import", "dave@partner.test", str(crt)))
    ok(g.cli("cert", "revoke", "alice@example.com"))
    ok(g.cli("pgp", "import", BOB))
    ok(g.cli("pgp", "generate", "alice@example.com"))
    ok(g.cli("pgp", "delete", BOB_FPR))
    ca = workdir / "partner-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", str(workdir / "partner-ca.key"), "-out", str(ca), "-subj",
                    "/CN=Partner CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                   check=True, capture_output=True)
    ok(g.cli("ca", "trust", str(ca)))
    ok(g.cli("user", "invite", "erin@outside.example"))
    ok(g.cli("user", "add-external", "frank@outside.example", "--password-stdin", input=PW + "\n"))
    ok(g.cli("user", "passwd", "frank@outside.example", "--password-stdin", input=PW + "\n"))
    ok(g.cli("user", "set-channel", "frank@outside.example", "pdf"))
    ok(g.cli("config", "set", "smtp.max_recipients", "50"))
    rows = {e["event"]: e for e in audit(g)}
    for event, address in [("cert-issued", "alice@example.com"),
                           ("cert-exported", "alice@example.com"),
                           ("cert-imported", "dave@partner.test"),
                           ("cert-revoked", "alice@example.com"),
                           ("key-imported", "bob@openpgp.example"),
                           ("key-generated", "alice@example.com"),
                           ("key-deleted", ""), ("anchor-added", ""),
                           ("invited", "erin@outside.example"),
                           ("user-added", "frank@outside.example"),
                           ("user-passwd", "frank@outside.example"),
                           ("user-channel", "frank@outside.example"), ("config-set", "")]:
        assert event in rows, f"no {event} in the audit log: {sorted(rows)}"
        assert rows[event]["address"] == address, rows[event]
        assert rows[event]["actor"] == me and rows[event]["client"] == "cli", rows[event]
    assert "smtp.max_recipients = 50" in rows["config-set"]["detail"]
    assert BOB_FPR in rows["key-deleted"]["detail"]

    # ---- held mail: held (qmgr), released by the admin (cli), expired (tick)
    g.start()
    send(g, ["p1@outside.example"], "[secure] for p1")
    send(g, ["p2@outside.example"], "[secure] for p2")
    # held with an invitation: "invited" by qmgr (a second message while one waits: "held")
    sgrig.wait_for(lambda: {e["address"] for e in audit(g, "--event", "invited")
                            if e["actor"] == "qmgr"} == {"p1@outside.example",
                                                         "p2@outside.example"},
                   30, what="qmgr's invited rows")
    with g.db() as c:
        c.execute("UPDATE portal_accounts SET otp_expires = 1 WHERE user_id = "
                  "(SELECT id FROM users WHERE address = 'p1@outside.example')")
    expired = wait_event(g, "held-expired")
    assert expired[0]["address"] == "p1@outside.example" and expired[0]["actor"] == "tick"
    ok(g.cli("user", "add-external", "p2@outside.example", "--password-stdin", input=PW + "\n"))
    released = audit(g, "--event", "held-released")
    assert released and released[0]["address"] == "p2@outside.example", released
    assert released[0]["actor"] == me

    # ---- the queue: the released message waits for the unreachable external route
    sgrig.wait_for(lambda: "p2@outside.example" in g.queue("list").stdout, 30,
                   what="the released message in the queue")
    qid = next(line.split()[0].rstrip("*!") for line in g.queue("list").stdout.splitlines()
               if line[:1].isalnum() and not line.startswith("-"))
    ok(g.queue("flush"))
    sgrig.wait_for(lambda: g.queue("delete", qid).returncode == 0, 30, what="queue delete")
    deleted = audit(g, "--event", "queue-deleted")
    assert deleted and qid in deleted[0]["detail"] and deleted[0]["actor"] == me
    assert audit(g, "--event", "queue-flushed")[0]["actor"] == me

    # ---- a policy refusal: no invitations, so mail that must be encrypted is refused
    ok(g.cli("config", "set", "policy.invite_partners", "no"))
    g.stop()
    g.start()
    send(g, ["p3@outside.example"], "[secure] for p3")
    refused = wait_event(g, "policy-refused")
    assert refused[0]["address"] == "p3@outside.example" and refused[0]["actor"] == "qmgr"
    assert "alice@example.com" in refused[0]["detail"]


def test_audit_filters_and_formats(gw_factory):
    g = gw_factory()
    ok(g.cli("config", "set", "smtp.max_recipients", "40"))
    ok(g.cli("user", "invite", "erin@outside.example"))
    everything = events(g)  # the rig's own config set calls come first
    assert everything[-2:] == ["config-set", "invited"] and set(everything) == set(everything[-2:])
    assert events(g, "--event", "invited") == ["invited"]
    assert events(g, "--since", "1h") == everything
    assert events(g, "--until", "1h") == []
    assert events(g, "--since", "2000-01-01", "--until", "2000-01-02T00:00:00Z") == []
    assert events(g, "--since", "2000-01-01") == everything
    row = audit(g)[-1]
    assert set(row) == {"at", "time", "event", "address", "actor", "client", "detail"}
    assert row["at"].endswith("Z") and isinstance(row["time"], int)
    text = ok(g.cli("audit")).stdout
    assert "invited" in text and f"by=cli:{getpass.getuser()}" in text
    bad = g.cli("audit", "--since", "yesterday")
    assert bad.returncode == 2 and "a duration ago" in bad.stderr
    bad = g.cli("audit", "--frobnicate")
    assert bad.returncode == 2 and "sealgate audit -c FILE" in bad.stderr
    # Control characters in a value come out escaped, never raw, in JSON and text.
    ok(g.cli("config", "set", "gateway.organization", "Evil\tOrg"))
    raw = ok(g.cli("audit", "--json", "--event", "config-set")).stdout
    assert "\t" not in raw and json.loads(raw.splitlines()[-1])["detail"].endswith("Evil?Org")
