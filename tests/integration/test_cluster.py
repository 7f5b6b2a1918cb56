"""Several gateway nodes on one store (issue 15, docs/cluster.md): two nodes, each with its own
spool, ports and processes, share one store, the master key and the CA. Both issue
certificates at once and no serial repeats (the store's sequence); the tick's jobs on the
store run on one node only, so each notice goes out once, and the other node takes over when
the first stops; a certificate issued through one node is published by the other node's
ldapd within ldap.refresh.

The store is the first node's: its SQLite file, which both nodes reach on this machine, or
with SEALGATE_STORE=pgsql its database on the rig's PostgreSQL (pg_rig.py)."""
import concurrent.futures
import os
import re
import time

import pytest

import pg_rig
import sgrig
from conftest import maildir_routes
from test_held import OTP_RE, PARTNER, by_subject, held_count, mails, register
from test_ldap import BASE, OUTLOOK, dns, ldapsearch, wait_ldap
from test_pdf_flow import send
from test_portal import PASSWORD, Browser
from test_portal import register as portal_register
from test_smime_flow import partner  # noqa: F401 (a fixture the tests below take)
from test_smime_flow import send as smime_send

LEADS = r"tick\[\d+\]: this node \([^)]*\) runs the shared jobs"
FOLLOWS = r"tick\[\d+\]: another node \([^)]*\) runs the shared jobs"


def share_store(node, first):
    """node becomes a second node of first's store: same database, master key and CA."""
    node.release_store()
    url = first.cli("config", "get", "store.database").stdout.strip()
    if url.startswith("sqlite:"):
        url = "sqlite:" + os.path.join(first.dir, url[len("sqlite:"):])
    node.set(**{"store.database": url,
                "gateway.master_key": os.path.join(first.dir, "master.key"),
                "gateway.ca_dir": os.path.join(first.dir, "ca")})


@pytest.fixture
def two_nodes(gw_factory, workdir):
    """(a, b): two configured, not started nodes of one store, both routing to the same
    Maildirs (.md_int, .md_ext)."""
    a, b = gw_factory("a"), gw_factory("b")
    share_store(b, a)
    for n in (a, b):
        n.md_int, n.md_ext = maildir_routes(n, str(workdir))
        n.set(**{"ca.user_key_type": "p256", "ldap.base_dn": BASE,
                 "ldap.anonymous_search": "full"})
    yield a, b
    b.stop()  # before a's teardown drops the shared database under it
    a.stop()


def issued_serials(node):
    with node.db() as c:
        return [r[0] for r in c.execute("SELECT serial FROM certificates WHERE source = 'issued'")]


def test_two_nodes_issuing_at_once_never_repeat_a_serial(two_nodes):
    a, b = two_nodes
    per_node = 50  # 100 certificates at once, as issue 15 asks

    def issue(job):
        node, i = job
        return node.cli("cert", "issue", f"user{i:03d}-{node.dir[-1]}@example.com")

    jobs = [(n, i) for i in range(per_node) for n in (a, b)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(issue, jobs))
    for r in results:
        assert r.returncode == 0, r.stdout + r.stderr
    serials = issued_serials(a)
    assert len(serials) == 2 * per_node
    assert len(set(serials)) == len(serials), serials
    # Each serial carries the store's sequence in its upper 64 bits, 64 random bits below:
    # every number of the sequence was drawn exactly once, whichever node drew it.
    seqs = sorted(int(s, 16) >> 64 for s in serials)
    assert seqs == list(range(1, 2 * per_node + 1)), seqs
    assert len({int(s, 16) & (2**64 - 1) for s in serials}) == len(serials)


def start_both(a, b):
    for n in (a, b):
        n.set(**{"gateway.tick_interval": "1s"})
        n.start()
    for n in (a, b):
        sgrig.wait_for(lambda n=n: re.search(LEADS + "|" + FOLLOWS, n.log()), 30,
                       what="the tick deciding who leads")


def leaders(*nodes):
    return [n for n in nodes if re.search(LEADS, n.log())]


def test_tick_runs_on_one_node_and_each_notice_goes_out_once(two_nodes):
    a, b = two_nodes
    start_both(a, b)
    lead = leaders(a, b)
    assert len(lead) == 1, "both nodes ran the shared jobs" if lead else "no node led"
    other = b if lead[0] is a else a
    assert re.search(FOLLOWS, other.log())
    partners = [f"partner{i}@outside.example" for i in range(4)]
    for i, p in enumerate(partners):
        send(a if i % 2 else b, [p], f"[secure] held {i}")
    inbox = os.path.join(a.md_int, "alice@example.com")
    mails(inbox, len(partners))  # the invitations' OTP notices to the sender
    sgrig.wait_for(lambda: held_count(a) == len(partners), 30, what="the held copies")
    with a.db() as c:
        c.execute("UPDATE portal_accounts SET otp_expires = 1")
    sgrig.wait_for(lambda: held_count(a) == 0, 30, what="the held copies to go")
    for n in (a, b):
        n.wait_queue_empty(30)
    msgs = mails(inbox, 2 * len(partners))
    notices = [m for m in msgs if "was not delivered" in str(m["Subject"])]
    assert len(notices) == len(partners), [str(m["Subject"]) for m in msgs]
    assert len(re.findall(r"held message\(s\) deleted", lead[0].log())) >= 1
    assert not re.search(r"held message\(s\) deleted", other.log())
    # The leader stops cleanly and gives the lease back: the other node takes over.
    lead[0].stop()
    other.wait_log(LEADS, 30)
    send(other, ["late@outside.example"], "[secure] after the handover")
    sgrig.wait_for(lambda: held_count(a) == 1, 30, what="the held copy")
    with a.db() as c:
        c.execute("UPDATE portal_accounts SET otp_expires = 1")
    notice = by_subject(mails(inbox, 2 * len(partners) + 2), "was not delivered")
    assert notice is not None
    sgrig.wait_for(lambda: held_count(a) == 0, 30, what="the late held copy to go")


def test_ldapd_publishes_what_another_node_issued(two_nodes):
    a, b = two_nodes
    b.set(**{"ldap.refresh": "1s"})
    b.start()
    wait_ldap(b)
    assert dns(ldapsearch(b, OUTLOOK.format(p="newcomer"), "mail").stdout) == []
    r = a.cli("cert", "issue", "newcomer@example.com")  # node a's CLI, b's ldapd
    assert r.returncode == 0, r.stdout + r.stderr
    sgrig.wait_for(lambda: dns(ldapsearch(b, OUTLOOK.format(p="newcomer"), "mail").stdout) ==
                   [f"mail=newcomer@example.com,{BASE}"], 15, what="the entry on node b")
    serial = re.search(r"serial ([0-9A-F]+)", r.stdout)
    assert serial, r.stdout
    r = a.cli("cert", "revoke", serial.group(1))
    assert r.returncode == 0, r.stdout + r.stderr
    sgrig.wait_for(lambda: dns(ldapsearch(b, OUTLOOK.format(p="newcomer"), "mail").stdout) == [],
                   15, what="the revoked entry gone from node b")


@pytest.fixture
def shared_url(workdir):
    """An empty shared store: a fresh PostgreSQL database (SEALGATE_STORE=pgsql), else a
    SQLite file that no node made."""
    if not pg_rig.store_is_pgsql():
        yield "sqlite:" + os.path.join(str(workdir), "shared.db")
        return
    name = pg_rig.server().create_database()
    yield pg_rig.server().uri(name)
    pg_rig.server().drop_database(name)


def copied_tables(out):
    return dict(re.findall(r"^  (\w+) +\d+ rows +[0-9a-f]{32}  (same|DIFFERS)$", out, re.M))


def test_store_copy_and_a_node_made_from_the_shared_store(gw_factory, workdir, shared_url):
    a = gw_factory("a")
    a.use_sqlite()  # the single node that grows: SQLite, copied into the shared store
    a.set(**{"ca.user_key_type": "p256"})
    for u in ("ann", "ben", "cy"):
        assert a.cli("cert", "issue", f"{u}@example.com").returncode == 0
    for attempt in ("first", "again"):  # the second run finds every row there: nothing to add
        r = a.cli("store", "copy", "--to", shared_url)
        assert r.returncode == 0, f"{attempt}: {r.stdout}{r.stderr}"
        tables = copied_tables(r.stdout)
        assert {"users", "certificates", "private_keys", "audit_log"} <= set(tables), r.stdout
        assert set(tables.values()) == {"same"}, r.stdout
    b = gw_factory("b", init_args=("--store", shared_url,
                                   "--master-key", os.path.join(a.dir, "master.key")))
    b.release_store()
    b.set(**{"store.database": shared_url, "ca.user_key_type": "p256"})
    with open(a.ca, "rb") as fa, open(b.ca, "rb") as fb:
        assert fa.read() == fb.read(), "node b made a CA of its own"
    r = b.cli("cert", "issue", "dee@example.com")
    assert r.returncode == 0, r.stdout + r.stderr
    serial = re.search(r"serial ([0-9A-F]+)", r.stdout).group(1)
    assert int(serial, 16) >> 64 == 4, "the copied store's serial sequence did not go on"
    listed = b.cli("cert", "list").stdout
    assert all(f"{u}@example.com" in listed for u in ("ann", "ben", "cy", "dee"))
    # The shared store changed since: a copy now says so, and overwrites nothing.
    r = a.cli("store", "copy", "--to", shared_url)
    assert r.returncode == 1 and copied_tables(r.stdout)["certificates"] == "DIFFERS", r.stdout
    # A node with another master key cannot take the store's CA.
    c_dir = os.path.join(str(workdir), "c")
    r = a.cli("init", c_dir, "--domain", "example.com", "--store", shared_url, conf=False)
    assert r.returncode != 0 and "master key" in r.stderr, r.stdout + r.stderr
    assert not os.path.exists(os.path.join(c_dir, "ca", "ca.key"))


def start_nodes(*nodes):
    for n in nodes:
        n.start()
    for n in nodes:
        sgrig.wait_for(lambda n=n: sgrig.port_open(n.portal_port), 20, what="portal port")


def test_partner_invited_through_a_registers_on_b_and_gets_the_held_mail(two_nodes):
    a, b = two_nodes
    start_nodes(a, b)
    send(a, [PARTNER], "[secure] waiting for you")
    invitation = by_subject(mails(os.path.join(a.md_int, "alice@example.com"), 1),
                            "pass on the one-time password")
    otp = OTP_RE.search(invitation.get_body(("plain",)).get_content()).group(1)
    sgrig.wait_for(lambda: held_count(a) == 1, 30, what="the held copy")
    outbox = os.path.join(a.md_ext, PARTNER)
    by_subject(mails(outbox, 1), "secure message from alice@example.com")  # the invitation
    register(b, PARTNER, otp)  # node b's portal
    msgs = mails(outbox, 2, timeout=60)
    pdfs = [m for m in msgs if any(p.get_filename() == "secure-message.pdf" for p in m.walk())]
    assert len(pdfs) == 1, [str(m["Subject"]) for m in msgs]
    sgrig.wait_for(lambda: held_count(a) == 0, 30, what="the held copy released")


def test_certificate_imported_on_a_is_used_by_b(two_nodes, partner):
    a, b = two_nodes
    start_nodes(b)
    smime_send(b.port, ["bob@partner.test"], "before", body="plain 1\r\n")
    box = os.path.join(b.md_ext, "bob@partner.test")
    sgrig.wait_maildir(box, 1)
    assert a.cli("cert", "import", "bob@partner.test", str(partner / "bob.crt")).returncode == 0
    smime_send(b.port, ["bob@partner.test"], "[secure] after", body="secret figures: 42\r\n")
    sgrig.wait_maildir(box, 2)
    new = [m for m in sgrig.maildir_messages(box) if b"plain 1" not in m]
    assert len(new) == 1 and b"secret figures" not in new[0]
    assert b"application/pkcs7-mime" in new[0]


def test_session_made_on_a_works_on_b_and_lockout_counts_on_both(two_nodes):
    a, b = two_nodes
    for n in (a, b):
        n.set(**{"portal.throttle_free_attempts": 5, "portal.throttle_delay": "1m"})
    start_nodes(a, b)
    on_a = Browser(a.portal_port)
    portal_register(a, on_a, addr=PARTNER)
    assert on_a.get("/account").status == 200
    on_b = Browser(b.portal_port)
    on_b.cookies = dict(on_a.cookies)  # the same browser, sent to the other node
    r = on_b.get("/account")
    assert r.status == 200 and PARTNER in r.text
    # Four wrong passwords, two on each node and each from its own client address: the fifth
    # try waits on either node, even with the right password.
    for node, source in ((a, "127.0.0.2"), (b, "127.0.0.3"), (a, "127.0.0.4"), (b, "127.0.0.5")):
        r = Browser(node.portal_port, source=source).post(
            "/login", {"email": PARTNER, "password": "wrong password"})
        assert r.status == 200 and "Login failed" in r.text
    r = Browser(a.portal_port, source="127.0.0.6").post(
        "/login", {"email": PARTNER, "password": "wrong password"})
    assert r.status == 429, r.status
    r = Browser(b.portal_port, source="127.0.0.7").post(
        "/login", {"email": PARTNER, "password": PASSWORD})
    assert r.status == 429 and "Too many failed attempts" in r.text


def test_node_killed_under_load_loses_nothing_and_the_other_serves(two_nodes):
    a, b = two_nodes
    start_nodes(a, b)
    subjects = [f"load {i}" for i in range(12)]
    for s in subjects[:8]:
        send(a, ["bob@example.com"], s)  # each accepted (250) by node a
    a.kill_all()  # kill -9 the whole node, whatever it was doing
    for s in subjects[8:]:
        send(b, ["bob@example.com"], s)  # node b keeps serving
    a.start()
    box = os.path.join(a.md_int, "bob@example.com")

    def delivered():
        got = set()
        for raw in sgrig.maildir_messages(box):
            m = re.search(rb"^Subject: (load \d+)", raw, re.M)
            if m:
                got.add(m.group(1).decode())
        return got

    sgrig.wait_for(lambda: delivered() == set(subjects), 90, what="every accepted message")


def pg_ctl(*args):
    """pg_ctl on the rig's server (its own options, as pg_rig.PgServer.start gives them)."""
    s = pg_rig.server()
    opts = (f"-k {s.sockdir} -p {s.port} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c max_connections=400 -c shared_buffers=32MB")
    pg_rig._as_postgres([os.path.join(pg_rig.PG_BIN, "pg_ctl"), "-D", s.data, "-l", s.logpath,
                         "-w", "-t", "120", "-o", opts, *args], timeout=150)


def test_postgresql_away_for_30_s_under_load_loses_nothing(two_nodes):
    a, b = two_nodes
    if not pg_rig.store_is_pgsql():  # a store's server that can go away: the rig's, in any run
        a.use_pgsql()
        share_store(b, a)
    start_nodes(a, b)
    for n in (a, b):
        wait_ldap(n)  # every role up before the server goes
        # The store's errors while it is away are expected (logged, retried); a role that
        # exits or restarts is not.
        n.allowed_problems = re.compile(r"error: store: ")
    send(a, ["bob@example.com"], "before the outage")
    box = os.path.join(a.md_int, "bob@example.com")
    sgrig.wait_maildir(box, 1)
    pg_ctl("-m", "fast", "stop")
    try:
        subjects = []
        deadline = time.monotonic() + 30
        i = 0
        while time.monotonic() < deadline:  # both nodes keep accepting while it is away
            subjects.append(f"during {i}")
            send(a if i % 2 else b, ["bob@example.com"], subjects[-1])
            i += 1
            time.sleep(2)
    finally:
        pg_ctl("start")
    sgrig.wait_for(lambda: len(sgrig.maildir_messages(box)) >= 1 + len(subjects), 180,
                   what="every message accepted during the outage")
    got = b"".join(sgrig.maildir_messages(box))
    assert all(s.encode() in got for s in subjects)
    for n in (a, b):
        n.wait_queue_empty(60)
    bounces = [m for m in sgrig.maildir_messages(os.path.join(a.md_int, "alice@example.com"))
               if b"Undelivered" in m or b"failure notice" in m]
    assert not bounces
