"""MTA-STS (RFC 8461) on the outbound hop, against real peers: a real unbound serving the
test's zone (dns_rig.py: _mta-sts TXT, MX, A), a real HTTPS policy server (https_rig.py:
Python's ssl + http.server under a test CA) and a local SMTP sink with STARTTLS
(smtpsink.py) whose certificate comes from the test CA or from a CA nobody trusts.
route.external = mx, deliver.tls = mta-sts. Each domain is a fresh name: the gateway's
resolver caches what it was told.

  enforce + MX certificate of an unknown CA  -> deferred 4.7.5, no MAIL FROM ever sent
  enforce + MX not named by the policy       -> deferred, the host never contacted
  enforce + MX without STARTTLS              -> deferred, nothing sent in clear
  enforce + good certificate                 -> delivered over TLS, logged pkix=verified
  testing + bad certificate                  -> delivered, the failure logged
  policy host down, TXT id changed           -> the cached (enforce) policy still decides
  hostile policy (huge, garbage, redirect, not text/plain) -> refused with a clear log line,
                                                delivered as without a policy (RFC 8461 5)
TLS-RPT (RFC 8460) reports are not sent (not built).
"""

import re
import smtplib
import ssl
import types

import pytest

import https_rig
import sgrig

ZONE = "plain"           # MTA-STS needs no DNSSEC: the policy host's certificate is the proof
LABELS = ("badcert", "nomatch", "clear", "good", "testing", "cached", "huge", "garbage",
          "redirect", "html")


@pytest.fixture(scope="module")
def pki(tmp_path_factory, dns_rig):
    """The test CA (what the gateway trusts, for policy hosts and MX hosts alike), a policy
    server certificate naming mta-sts.LABEL for every label, MX certificates from the test CA
    and from an unknown CA, and one HTTPS policy server for the module."""
    d = str(tmp_path_factory.mktemp("mta-sts-pki"))
    ca, rogue = https_rig.TestCA(d, "sts test CA"), https_rig.TestCA(d, "rogue CA")
    fq = {label: dns_rig.fqdn(ZONE, label) for label in LABELS}
    web = ca.issue([f"mta-sts.{fq[label]}" for label in LABELS], "policy-host")
    mx_names = [f"mx.{fq[label]}" for label in LABELS]
    port = sgrig.free_port()
    server = https_rig.serve(port, *web)
    yield {"ca": ca.pem, "good": ca.issue(mx_names, "mx-good"),
           "bad": rogue.issue(mx_names, "mx-bad"), "server": server, "port": port, "fq": fq}
    server.shutdown()


def _sink(sink_factory, cert=None):
    s = sink_factory()
    if cert is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        s.tls = ctx
    return s


def _policy(mode, mx, max_age=86400):
    return (f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: {max_age}\r\n").encode()


def _publish(dns_rig, pki, label, policy, policy_id="1", mx_label=None):
    """TXT _mta-sts.LABEL, MX 10 mx.LABEL (A 127.0.0.1), the policy text (or a raw answer)
    at https://mta-sts.LABEL/.well-known/mta-sts.txt; returns the domain."""
    dom = pki["fq"][label]
    dns_rig.add(ZONE, f"_mta-sts.{label}", "TXT", f'"v=STSv1; id={policy_id};"')
    dns_rig.add(ZONE, label, "MX", f"10 mx.{mx_label or label}")
    dns_rig.add(ZONE, f"mx.{mx_label or label}", "A", "127.0.0.1")
    dns_rig.add(ZONE, f"mta-sts.{label}", "A", "127.0.0.1")
    pki["server"].files[(f"mta-sts.{dom}", "/.well-known/mta-sts.txt")] = policy
    return dom


def _gateway(gw_factory, dns_rig, pki, sink):
    g = gw_factory()
    g.set(**dns_rig.settings())
    g.set(**{"route.external": "mx", "deliver.mx_port": str(sink.port),
             "deliver.tls": "mta-sts", "deliver.ca_file": pki["ca"], "fetch.ca_file": pki["ca"],
             "mta_sts.port": str(pki["port"]), "mta_sts.fetch_timeout": "10s"})
    return g


def _send(g, rcpt, subject):
    msg = (f"From: alice@example.com\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject}@example.com>\r\n\r\nhello\r\n").encode()
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", [rcpt], msg)


def _wait_status(g, rcpt, status, timeout=40):
    rx = rf"(?m)to=<{re.escape(rcpt)}>, relay=(.*?), delay=.*status={status} \((.*)\)$"
    g.wait_log(rx, timeout=timeout)
    return re.search(rx, g.log(), re.M)


def _nothing_sent(sink):
    assert not any(c.upper().startswith("MAIL") for c in sink.commands), sink.commands
    assert not sink.messages


@pytest.fixture
def env(gw_factory, sink_factory, dns_rig, pki):
    return types.SimpleNamespace(gw_factory=gw_factory, sink_factory=sink_factory,
                                 dns_rig=dns_rig, pki=pki)


def _run(env, label, answer, cert):
    """Publishes label's MTA-STS (answer: policy text or a raw answer), starts a sink (cert:
    "good", "bad" or None for no STARTTLS) and a gateway, and sends bob@DOMAIN one message.
    Returns (gateway, sink, recipient)."""
    sink = _sink(env.sink_factory, env.pki[cert] if cert else None)
    dom = _publish(env.dns_rig, env.pki, label, answer)
    env.dns_rig.commit()
    g = _gateway(env.gw_factory, env.dns_rig, env.pki, sink).start()
    _send(g, f"bob@{dom}", label)
    return g, sink, f"bob@{dom}"


def test_enforce_bad_certificate_defers_nothing_in_clear(env):
    mx = f"mx.{env.pki['fq']['badcert']}"
    g, sink, rcpt = _run(env, "badcert", _policy("enforce", mx), "bad")
    m = _wait_status(g, rcpt, "deferred")
    assert "mta-sts" in m.group(2) and "certificate" in m.group(2), m.group(0)
    assert re.search(r"dsn=4\.7\.5, status=deferred", g.log()), g.log_tail()
    assert "STARTTLS" in sink.commands, sink.commands      # it got as far as the handshake
    _nothing_sent(sink)
    assert "without STARTTLS" not in g.log()               # never retried in clear


def test_enforce_mx_not_in_policy_is_never_contacted(env):
    g, sink, rcpt = _run(env, "nomatch", _policy("enforce", "*.elsewhere.example"), "good")
    m = _wait_status(g, rcpt, "deferred")
    assert "does not match the MTA-STS policy" in m.group(2), m.group(0)
    assert not sink.commands, sink.commands


def test_enforce_without_starttls_defers(env):
    g, sink, rcpt = _run(env, "clear", _policy("enforce", f"*.{env.pki['fq']['clear']}"), None)
    m = _wait_status(g, rcpt, "deferred")
    assert "STARTTLS" in m.group(2), m.group(0)
    _nothing_sent(sink)


def test_enforce_good_certificate_delivers_over_tls(env):
    g, sink, rcpt = _run(env, "good", _policy("enforce", f"*.{env.pki['fq']['good']}"), "good")
    (msg,) = sink.wait_messages(1)
    assert msg.tls in ("TLSv1.2", "TLSv1.3"), msg.tls
    m = _wait_status(g, rcpt, "sent")
    assert "pkix=verified" in m.group(1), m.group(0)
    dom = re.escape(env.pki["fq"]["good"])
    assert re.search(rf"mta-sts: policy of {dom} fetched \(id 1, mode enforce", g.log()), \
        g.log_tail()


def test_testing_mode_delivers_and_logs(env):
    mx = f"mx.{env.pki['fq']['testing']}"
    g, sink, rcpt = _run(env, "testing", _policy("testing", mx), "bad")
    (msg,) = sink.wait_messages(1)
    assert msg.tls is not None
    _wait_status(g, rcpt, "sent")
    assert re.search(rf"mta-sts \(testing\): {re.escape(mx)}: certificate .*not valid.*"
                     r"delivering anyway", g.log()), g.log_tail()


def test_cached_policy_used_when_policy_host_down(env):
    dom = env.pki["fq"]["cached"]
    g, good, rcpt = _run(env, "cached", _policy("enforce", f"mx.{dom}"), "good")
    good.wait_messages(1)
    _wait_status(g, rcpt, "sent")
    g.stop()
    # the policy host goes away (nothing listens on its port) and the TXT id changes: a
    # refresh is due and fails
    records = env.dns_rig.records[ZONE]
    records[:] = [r for r in records if (r[0], r[1]) != ("_mta-sts.cached", "TXT")]
    env.dns_rig.add(ZONE, "_mta-sts.cached", "TXT", '"v=STSv1; id=2;"')
    env.dns_rig.commit()
    bad = _sink(env.sink_factory, env.pki["bad"])
    g.set(**{"deliver.mx_port": str(bad.port), "mta_sts.port": str(sgrig.free_port())})
    g.start()
    _send(g, f"carol@{dom}", "cached-2")
    m = _wait_status(g, f"carol@{dom}", "deferred")
    assert "certificate" in m.group(2), m.group(0)     # enforced by the cached policy
    assert re.search(rf"mta-sts: {re.escape(dom)}: policy fetch failed: .*; the cached policy "
                     r"stays in force", g.log()), g.log_tail()
    _nothing_sent(bad)


HOSTILE = {
    "huge": (https_rig.huge_chunked, "larger than the limit"),
    "garbage": (b"\x00\x01\x02<html>" * 100, "policy refused: "),
    "redirect": (lambda h: https_rig.raw(h, b"HTTP/1.1 302 Found\r\nLocation: https://evil.example/"
                                         b"\r\nContent-Length: 0\r\n\r\n"),
                 "with a redirect to https://evil.example/ (RFC 8461 forbids following it)"),
    "html": (lambda h: https_rig.raw(h, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                     b"Content-Length: 7\r\n\r\n<html/>"), "not text/plain"),
}


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_hostile_policy_refused_with_clear_log(env, label):
    answer, why = HOSTILE[label]
    g, sink, rcpt = _run(env, label, answer, "bad")
    # no valid policy and none cached: delivered as without MTA-STS (RFC 8461 section 5)
    sink.wait_messages(1)
    _wait_status(g, rcpt, "sent")
    dom = env.pki["fq"][label]
    line = [x for x in g.log().splitlines() if "mta-sts:" in x and dom in x and why in x]
    assert line, g.log_tail()
    assert "no cached policy" in line[0], line[0]
