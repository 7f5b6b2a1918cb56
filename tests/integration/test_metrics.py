"""Prometheus metrics: metrics.listen (off by default) serves /metrics, which promtool accepts;
the counters grow as this test's mail, portal logins and LDAP searches go through, and they
survive a child's restart (the master keeps the shared block); the queue gauges and the
certificate expiry horizon say what the spool and the store hold; the SecurePDF worker's wall
and CPU time, the store's transaction time and STARTTLS sessions are observed as a SecurePDF
mail over STARTTLS, a portal login and a delivery to a next hop with STARTTLS go through."""
import http.client
import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

import pytest

import sgrig
from conftest import maildir_routes
from test_master import child_pids
from test_pdf_flow import add_partner
from test_portal import Browser

SERIES_RX = re.compile(r"^([a-z_]+)(\{[^}]*\})? (\S+)$")


def scrape(g, path="/metrics"):
    c = http.client.HTTPConnection("127.0.0.1", g.metrics_port, timeout=20)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


def series(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = SERIES_RX.match(line)
            assert m, f"not a sample line: {line!r}"
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def metrics(g):
    status, ctype, body = scrape(g)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), (status, ctype)
    return series(body)


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        f"promtool check metrics: {r.stdout}{r.stderr}"


def send(g, rcpt, subject="metrics"):
    with smtplib.SMTP("127.0.0.1", g.port, timeout=20) as s:
        s.sendmail("alice@example.com", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")


def grows(g, key, by, before, timeout=30):
    sgrig.wait_for(lambda: metrics(g).get(key, 0) >= before.get(key, 0) + by, timeout,
                   what=f"{key} to grow by {by}")


DELIVERED = 'sealgate_messages_total{status="delivered",direction="internal",channel="pass"}'
RECEIVED = 'sealgate_messages_received_total{client="internal"}'


@pytest.fixture
def mgw(gw_factory, workdir):
    g = gw_factory()
    assert g.cli("config", "get", "metrics.listen").stdout.strip() == "", "metrics must be off by default"
    g.md_int, _ = maildir_routes(g, str(workdir))
    g.metrics_port = sgrig.free_port()
    # External mail waits in the queue (nothing listens there), for the queue gauges.
    g.set(**{"metrics.listen": f"127.0.0.1:{g.metrics_port}", "gateway.tick_interval": "1s",
             "route.external": f"smtp:127.0.0.1:{sgrig.free_port()}"})
    g.start()
    g.wait_log(r"metrics\[\d+\]: ready", 20)
    return g


def test_metrics_pass_promtool_and_count_what_goes_through(mgw):
    g = mgw
    status, _, body = scrape(g)
    promtool(body)
    before = series(body)
    assert before[RECEIVED] == 0
    for family in ("sealgate_messages_total", "sealgate_transform_errors_total",
                   "sealgate_portal_logins_total", "sealgate_ldap_searches_total",
                   "sealgate_queue_messages", "sealgate_queue_oldest_age_seconds",
                   "sealgate_delivery_duration_seconds", "sealgate_certificate_expiry_timestamp_seconds",
                   "sealgate_tls_sessions_total", "sealgate_pdf_worker_duration_seconds",
                   "sealgate_pdf_worker_cpu_seconds",
                   "sealgate_store_transaction_duration_seconds"):
        assert f"# TYPE {family} " in body, f"{family} is not exposed"
    assert scrape(g, "/other")[0] == 404

    # Mail: received, delivered with its direction and channel, and its latency observed.
    send(g, "bob@example.com")
    send(g, "carol@example.com")
    grows(g, DELIVERED, 2, before)
    now = metrics(g)
    assert now[RECEIVED] == before[RECEIVED] + 2
    assert now["sealgate_delivery_duration_seconds_count"] >= 2
    assert now['sealgate_delivery_duration_seconds_bucket{le="+Inf"}'] == \
        now["sealgate_delivery_duration_seconds_count"]
    # Outbound mail to a next hop that does not answer: deferred, and it waits in the queue.
    send(g, "dave@partner.test")
    grows(g, 'sealgate_messages_total{status="deferred",direction="outbound",channel="pass"}', 1,
          before)
    assert metrics(g)['sealgate_queue_messages{queue="active"}'] >= 1
    sgrig.wait_for(lambda: metrics(g)["sealgate_queue_oldest_age_seconds"] >= 1, 20,
                   what="the oldest queued message to age")

    # Portal: a failed login; LDAP: a search.
    b = Browser(g.portal_port)
    b.get("/login")
    r = b.post("/login", {"email": "nobody@partner.test", "password": "wrong password here"})
    assert r.status in (200, 429), r.status
    grows(g, 'sealgate_portal_logins_total{result="failed"}', 1, before)
    sgrig.wait_for(lambda: sgrig.port_open(g.ldap_port), 20, what="ldapd")
    base = g.cli("config", "get", "ldap.base_dn").stdout.strip()
    r = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", f"ldap://127.0.0.1:{g.ldap_port}", "-b",
                        base, "(mail=bob@example.com)"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    grows(g, "sealgate_ldap_searches_total", 1, before)

    # Certificates: the CA's notAfter at once, a user's once tick has seen it.
    assert metrics(g)['sealgate_certificate_expiry_timestamp_seconds{kind="ca"}'] > time.time()
    assert g.cli("cert", "issue", "alice@example.com").returncode == 0
    sgrig.wait_for(lambda: metrics(g).get(
        'sealgate_certificate_expiry_timestamp_seconds{kind="user"}', 0) > time.time(), 20,
        what="the user certificate horizon")
    promtool(scrape(g)[2])


def test_counters_survive_a_child_restart(mgw):
    g = mgw
    g.allowed_problems = re.compile(r"qmgr killed by signal 9|smtpd killed by signal 9|"
                                    r"restarting in \d+ ms")
    send(g, "bob@example.com")
    grows(g, DELIVERED, 1, {})
    before = metrics(g)
    os.kill(child_pids(g, "qmgr")[-1], signal.SIGKILL)
    os.kill(child_pids(g, "smtpd")[-1], signal.SIGKILL)
    sgrig.wait_for(lambda: len(child_pids(g, "qmgr")) == 2 and len(child_pids(g, "smtpd")) == 2,
                   20, what="qmgr and smtpd restarted")
    after = metrics(g)
    assert after[DELIVERED] == before[DELIVERED] and after[RECEIVED] == before[RECEIVED]
    send(g, "carol@example.com")
    grows(g, DELIVERED, 1, before)
    assert metrics(g)[RECEIVED] == before[RECEIVED] + 1


PDF_WALL = "sealgate_pdf_worker_duration_seconds"
PDF_CPU = "sealgate_pdf_worker_cpu_seconds"
STORE = "sealgate_store_transaction_duration_seconds"
TLS_IN = 'sealgate_tls_sessions_total{direction="in"}'


def histogram_consistent(m, name):
    """Cumulative buckets that end at _count, as promtool and PromQL's histogram_quantile need."""
    les = sorted((float(k.split('le="')[1].rstrip('"}')), v) for k, v in m.items()
                 if k.startswith(name + "_bucket{"))
    assert les and les[-1][0] == float("inf"), f"{name} has no +Inf bucket"
    assert all(a[1] <= b[1] for a, b in zip(les, les[1:])), f"{name} buckets are not cumulative"
    assert les[-1][1] == m[name + "_count"], f"{name}: +Inf bucket is not _count"


def test_securepdf_worker_store_and_tls_are_observed(gw_factory, workdir):
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.metrics_port = sgrig.free_port()
    g.set(**{"metrics.listen": f"127.0.0.1:{g.metrics_port}"})
    g.start()
    g.wait_log(r"metrics\[\d+\]: ready", 20)
    r = add_partner(g, "partner@outside.example")
    assert r.returncode == 0, r.stderr
    status, _, body = scrape(g)
    promtool(body)
    before = series(body)
    for name in (PDF_WALL, PDF_CPU, STORE):
        histogram_consistent(before, name)

    # A SecurePDF mail, handed over with STARTTLS: one worker, one TLS session in.
    ctx = ssl.create_default_context(cafile=g.ca)
    ctx.check_hostname = False  # the chain is what matters here, test_tls checks the name
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.ehlo("metrics.example.com")
        s.starttls(context=ctx)
        s.sendmail("alice@example.com", ["partner@outside.example"],
                   "Subject: [secure] figures\r\n\r\nthe figures are 42\r\n")
    sgrig.wait_maildir(os.path.join(g.md_ext, "partner@outside.example"), 1, timeout=60)
    grows(g, PDF_WALL + "_count", 1, before)
    now = metrics(g)
    assert now[PDF_CPU + "_count"] == before[PDF_CPU + "_count"] + 1
    assert now[PDF_WALL + "_sum"] > before[PDF_WALL + "_sum"], "the worker took no wall time"
    assert now[TLS_IN] == before[TLS_IN] + 1

    # Store work in a role: a portal login reserves its throttle slots in a transaction.
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    mid = metrics(g)
    b = Browser(g.portal_port)
    b.get("/login")
    r = b.post("/login", {"email": "partner@outside.example", "password": "not the password"})
    assert r.status in (200, 429), r.status
    grows(g, STORE + "_count", 1, mid)
    now = metrics(g)
    for name in (PDF_WALL, PDF_CPU, STORE):
        histogram_consistent(now, name)
    promtool(scrape(g)[2])


def test_tls_out_is_counted(gw_factory, workdir):
    """Outbound mail to a next hop that offers STARTTLS (a second gateway, the partner's)."""
    hop = gw_factory(name="hop", domains=("partner.test",))
    maildir_routes(hop, os.path.join(str(workdir), "hop"))
    hop.start()
    g = gw_factory()
    g.metrics_port = sgrig.free_port()
    g.set(**{"metrics.listen": f"127.0.0.1:{g.metrics_port}",
             "route.external": f"smtp:127.0.0.1:{hop.port}"})
    g.start()
    g.wait_log(r"metrics\[\d+\]: ready", 20)
    before = metrics(g)
    send(g, "dave@partner.test")
    sgrig.wait_maildir(os.path.join(str(workdir), "hop", "md-internal", "dave@partner.test"), 1,
                       timeout=60)
    grows(g, 'sealgate_tls_sessions_total{direction="out"}', 1, before)
    assert "without STARTTLS" not in g.log(), "the delivery fell back to plain text"
