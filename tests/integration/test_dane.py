"""route.external = mx, deliver.tls and DANE (RFC 7672) against real peers: a real unbound
serving a DNSSEC-signed and an unsigned zone made by the test (dns_rig.py), and a local SMTP
sink with STARTTLS (smtpsink.py) under certificates made here with openssl. Each domain is a
fresh name: the gateway's resolver caches what it was told.

  MX order and fallback to A, null MX bounce          (MX delivery, RFC 5321 / RFC 7505)
  matching TLSA (DANE-EE, DANE-TA)  -> delivered over TLS, logged dane=verified
  wrong TLSA                        -> deferred 4.7.5, no MAIL FROM ever sent
  bogus TLSA signature              -> deferred, the host not even contacted
  unsigned zone under dane          -> opportunistic TLS (its TLSA ignored)
  encrypt, sink without STARTTLS    -> deferred 4.7.4, nothing sent
"""

import os
import re
import smtplib
import ssl
import subprocess

import pytest

from dns_rig import tlsa_data


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], capture_output=True, cwd=cwd, timeout=60)
    assert r.returncode == 0, r.stderr.decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA, a server certificate from it naming every MX host of this module (the chain
    file carries the CA too, as DANE-TA needs), and an unrelated self-signed certificate."""
    d = str(tmp_path_factory.mktemp("dane-certs"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=DANE Test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName = DNS:*.signed.sgtest, DNS:*.plain.sgtest, "
                "DNS:mx.ta.signed.sgtest\n")
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=mx", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "other.key", "-out", "other.crt", "-days", "2",
             "-subj", "/CN=other", cwd=d)
    with open(os.path.join(d, "chain.pem"), "w") as out:
        for name in ("server.crt", "ca.crt"):
            with open(os.path.join(d, name)) as f:
                out.write(f.read())
    read = lambda n: open(os.path.join(d, n)).read()  # noqa: E731
    return {"dir": d, "server": read("server.crt"), "ca": read("ca.crt"), "other": read("other.crt")}


def _tls_sink(sink_factory, certs):
    s = sink_factory()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs["dir"], "chain.pem"),
                        os.path.join(certs["dir"], "server.key"))
    s.tls = ctx
    return s


def _gateway(gw_factory, dns_rig, sink, tls="dane"):
    g = gw_factory()
    g.set(**dns_rig.settings())
    g.set(**{"route.external": "mx", "deliver.mx_port": str(sink.port), "deliver.tls": tls})
    return g


def _domain(dns_rig, zone, label):
    """label.ZONE with MX 10 mx.label (A 127.0.0.1)."""
    dns_rig.add(zone, label, "MX", f"10 mx.{label}")
    dns_rig.add(zone, f"mx.{label}", "A", "127.0.0.1")
    return dns_rig.fqdn(zone, label)


def _add_tlsa(dns_rig, zone, label, port, data, tamper=False):
    dns_rig.add(zone, f"_{port}._tcp.mx.{label}", "TLSA", data, tamper=tamper)


def _dane_case(gw_factory, dns_rig, sink, zone, label, tlsa, tamper=False):
    """label.ZONE with its MX host's TLSA at the sink port; a dane gateway that was sent one
    message to bob@ it. Returns (gateway, domain)."""
    dom = _domain(dns_rig, zone, label)
    _add_tlsa(dns_rig, zone, label, sink.port, tlsa, tamper=tamper)
    dns_rig.commit()
    g = _gateway(gw_factory, dns_rig, sink).start()
    _send(g, f"bob@{dom}", label)
    return g, dom


def _send(g, rcpt, subject="dane"):
    msg = (f"From: alice@example.com\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject}@example.com>\r\n\r\nhello\r\n").encode()
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", [rcpt], msg)


def _wait_status(g, rcpt, status, timeout=40):
    rx = rf"to=<{re.escape(rcpt)}>, relay=(.*?), delay=.*status={status} \((.*)\)\n"
    g.wait_log(rx, timeout=timeout)
    return re.search(rx, g.log(), re.M)


def test_mx_preference_order_and_fallback_to_a(gw_factory, sink_factory, dns_rig, certs):
    sink = _tls_sink(sink_factory, certs)
    # pref 10 points at 127.0.0.2 where nothing listens: pref 20 (127.0.0.1) takes the mail
    dns_rig.add("plain", "order", "MX", "20 good.order")
    dns_rig.add("plain", "order", "MX", "10 dead.order")
    dns_rig.add("plain", "dead.order", "A", "127.0.0.2")
    dns_rig.add("plain", "good.order", "A", "127.0.0.1")
    dns_rig.add("plain", "bare", "A", "127.0.0.1")          # no MX: its own address (RFC 5321)
    dns_rig.commit()
    g = _gateway(gw_factory, dns_rig, sink, tls="may").start()
    _send(g, f"bob@{dns_rig.fqdn('plain', 'order')}", "order")
    _send(g, f"carol@{dns_rig.fqdn('plain', 'bare')}", "bare")
    sink.wait_messages(2)
    m = _wait_status(g, f"bob@{dns_rig.fqdn('plain', 'order')}", "sent")
    assert m.group(1).startswith("good.order.plain.sgtest[127.0.0.1]"), m.group(0)
    log = g.log()
    assert log.index("MX dead.order.plain.sgtest[127.0.0.2]") < \
        log.index("MX good.order.plain.sgtest[127.0.0.1]"), log
    m = _wait_status(g, f"carol@{dns_rig.fqdn('plain', 'bare')}", "sent")
    assert m.group(1).startswith("bare.plain.sgtest[127.0.0.1]"), m.group(0)


def test_null_mx_bounces_with_reason(gw_factory, sink_factory, dns_rig):
    sink = sink_factory()
    dns_rig.add("signed", "nullmx", "MX", "0 .")
    dns_rig.commit()
    g = _gateway(gw_factory, dns_rig, sink, tls="may").start()
    rcpt = f"bob@{dns_rig.fqdn('signed', 'nullmx')}"
    _send(g, rcpt, "nullmx")
    m = _wait_status(g, rcpt, "bounced")
    assert "accepts no mail (null MX, RFC 7505)" in m.group(2), m.group(0)
    assert not sink.commands


@pytest.mark.parametrize("kind", ["ee", "ta"])
def test_matching_tlsa_delivers_verified(gw_factory, sink_factory, dns_rig, certs, kind):
    sink = _tls_sink(sink_factory, certs)
    label = f"ok{kind}" if kind == "ee" else "ta"
    data = tlsa_data(certs["server"], 3, 1, 1) if kind == "ee" else tlsa_data(certs["ca"], 2, 0, 1)
    g, dom = _dane_case(gw_factory, dns_rig, sink, "signed", label, data)
    (msg,) = sink.wait_messages(1)
    assert msg.tls in ("TLSv1.2", "TLSv1.3"), msg.tls
    m = _wait_status(g, f"bob@{dom}", "sent")
    assert "(dane=verified)" in m.group(1), m.group(0)
    usage = "3 1 1" if kind == "ee" else "2 0 1"
    assert re.search(rf"Verified TLS connection established to mx\.{label}\.signed\.sgtest"
                     rf".*dane=verified \(TLSA {usage}", g.log()), g.log_tail()


def test_wrong_tlsa_defers_and_sends_nothing(gw_factory, sink_factory, dns_rig, certs):
    sink = _tls_sink(sink_factory, certs)
    g, dom = _dane_case(gw_factory, dns_rig, sink, "signed", "wrong",
                        tlsa_data(certs["other"], 3, 1, 1))
    m = _wait_status(g, f"bob@{dom}", "deferred")
    assert "dane=fail" in m.group(2) and "matches no TLSA record" in m.group(2), m.group(0)
    assert re.search(r"dsn=4\.7\.5, status=deferred", g.log()), g.log_tail()
    assert "STARTTLS" in sink.commands, sink.commands     # it got as far as the handshake
    assert not any(c.upper().startswith("MAIL") for c in sink.commands), sink.commands
    assert not sink.messages
    assert "without STARTTLS" not in g.log()


def test_bogus_tlsa_defers_without_contacting_host(gw_factory, sink_factory, dns_rig, certs):
    sink = _tls_sink(sink_factory, certs)
    g, dom = _dane_case(gw_factory, dns_rig, sink, "signed", "bogus",
                        tlsa_data(certs["server"], 3, 1, 1), tamper=True)
    m = _wait_status(g, f"bob@{dom}", "deferred")
    assert "TLSA lookup" in m.group(2) and "bogus" in m.group(2), m.group(0)
    assert not sink.commands and not sink.messages


def test_unsigned_zone_under_dane_is_opportunistic(gw_factory, sink_factory, dns_rig, certs):
    sink = _tls_sink(sink_factory, certs)
    # a wrong TLSA in an unsigned zone proves nothing (an attacker could have made it): ignored
    g, dom = _dane_case(gw_factory, dns_rig, sink, "plain", "unsigned",
                        tlsa_data(certs["other"], 3, 1, 1))
    (msg,) = sink.wait_messages(1)
    assert msg.tls is not None
    m = _wait_status(g, f"bob@{dom}", "sent")
    assert "dane=verified" not in m.group(1)
    assert "TLS dane: insecure DNS, opportunistic TLS" in g.log(), g.log_tail()
    assert re.search(r"Untrusted TLS connection established to mx\.unsigned", g.log())


def test_encrypt_policy_defers_when_no_starttls(gw_factory, sink_factory, dns_rig):
    sink = sink_factory()                       # no STARTTLS offered
    dom = _domain(dns_rig, "plain", "cleartext")
    dns_rig.commit()
    g = _gateway(gw_factory, dns_rig, sink, tls="may")
    r = g.cli("tls-policy", "set", dom, "encrypt")
    assert r.returncode == 0, r.stderr
    g.start()
    _send(g, f"bob@{dom}", "encrypt")
    m = _wait_status(g, f"bob@{dom}", "deferred")
    assert "TLS is required (encrypt)" in m.group(2) and "does not offer STARTTLS" in m.group(2), \
        m.group(0)
    assert re.search(r"dsn=4\.7\.4, status=deferred", g.log())
    assert not any(c.upper().startswith("MAIL") for c in sink.commands), sink.commands
    assert g.cli("tls-policy", "list").stdout.count("encrypt") == 1


def test_internationalised_domain_is_looked_up_by_a_labels(gw_factory, sink_factory, dns_rig):
    sink = sink_factory()
    dns_rig.add("plain", "xn--bcher-kva", "MX", "10 mx.xn--bcher-kva")
    dns_rig.add("plain", "mx.xn--bcher-kva", "A", "127.0.0.1")
    dns_rig.commit()
    g = _gateway(gw_factory, dns_rig, sink, tls="may").start()
    rcpt = "bob@b\u00fccher.plain.sgtest"
    msg = b"From: alice@example.com\r\nSubject: idn\r\nMessage-ID: <idn@example.com>\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.ehlo()
        s.command_encoding = "utf-8"
        s.sendmail("alice@example.com", [rcpt], msg, mail_options=["SMTPUTF8"])
    (got,) = sink.wait_messages(1)
    assert got.rcpts == [rcpt], got.rcpts
    assert "MX mx.xn--bcher-kva.plain.sgtest[127.0.0.1]" in g.log(), g.log_tail()
