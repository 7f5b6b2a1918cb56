"""TLS required per route (issue 18 part 5, "per route"): route.external = smtp:HOST:PORT with
tls=encrypt or tls=verify, against a local SMTP sink with and without STARTTLS (smtpsink.py)
under certificates made here with openssl.

  tls=encrypt, sink without STARTTLS      -> deferred 4.7.4, no MAIL FROM, never sent in clear
  tls=encrypt, sink with STARTTLS         -> delivered over TLS (certificate not checked)
  tls=verify, certificate of our CA       -> delivered, logged Verified
  tls=verify, certificate of another CA   -> deferred 4.7.5, no MAIL FROM
  a route with a bad option               -> refused by config set / check-config
"""

import os
import re
import ssl

import pytest

from test_dane import _openssl, _send, _wait_status


@pytest.fixture(scope="module")
def route_certs(tmp_path_factory):
    """A CA and a certificate from it for localhost; a self-signed one for localhost too."""
    d = str(tmp_path_factory.mktemp("route-certs"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=Route Test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName = DNS:localhost\n")
    _openssl("req", *ec, "-keyout", "good.key", "-out", "good.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "good.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "good.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", cwd=d)
    return d


def _sink(sink_factory, d, name=None):
    s = sink_factory()
    if name is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key"))
        s.tls = ctx
    return s


def _gateway(gw_factory, route, ca=None):
    g = gw_factory()
    g.set(**{"route.external": route})
    if ca is not None:
        g.set(**{"deliver.ca_file": ca})
    return g.start()


def test_encrypt_route_without_starttls_defers_nothing_in_clear(gw_factory, sink_factory,
                                                                 route_certs):
    sink = _sink(sink_factory, route_certs)
    g = _gateway(gw_factory, f"smtp:127.0.0.1:{sink.port} tls=encrypt")
    _send(g, "bob@partner.test", "route-encrypt")
    m = _wait_status(g, "bob@partner.test", "deferred")
    assert "TLS is required (encrypt)" in m.group(2), m.group(0)
    assert re.search(r"dsn=4\.7\.4, status=deferred", g.log())
    assert not any(c.upper().startswith("MAIL") for c in sink.commands), sink.commands
    assert "without STARTTLS" not in g.log()  # no retry in clear


def test_encrypt_route_with_starttls_delivers(gw_factory, sink_factory, route_certs):
    sink = _sink(sink_factory, route_certs, "rogue")  # encrypt does not check the certificate
    g = _gateway(gw_factory, f"smtp:127.0.0.1:{sink.port} tls=encrypt")
    _send(g, "bob@partner.test", "route-encrypt-ok")
    (got,) = sink.wait_messages(1)
    assert got.tls, "delivered without TLS"
    _wait_status(g, "bob@partner.test", "sent")


def test_verify_route_checks_the_certificate(gw_factory, sink_factory, route_certs):
    ca = os.path.join(route_certs, "ca.crt")
    good = _sink(sink_factory, route_certs, "good")
    g = _gateway(gw_factory, f"smtp:localhost:{good.port} tls=verify", ca=ca)
    _send(g, "bob@partner.test", "route-verify")
    (got,) = good.wait_messages(1)
    assert got.tls
    _wait_status(g, "bob@partner.test", "sent")
    assert re.search(r"Verified TLS connection established to localhost.*pkix=verified",
                     g.log()), g.log()[-2000:]
    g.stop()
    rogue = _sink(sink_factory, route_certs, "rogue")
    g.set(**{"route.external": f"smtp:localhost:{rogue.port} tls=verify"})
    g.start()
    _send(g, "carol@partner.test", "route-verify-rogue")
    m = _wait_status(g, "carol@partner.test", "deferred")
    assert re.search(r"dsn=4\.7\.5, status=deferred", g.log()), m.group(0)
    assert not any(c.upper().startswith("MAIL") for c in rogue.commands), rogue.commands


def test_a_route_with_a_bad_tls_option_is_refused(gateway):
    r = gateway.cli("config", "set", "route.external", "smtp:relay.example.net:25 tls=maybe")
    assert r.returncode != 0 and "tls=may, tls=encrypt or tls=verify" in r.stderr, r.stderr
    r = gateway.cli("config", "set", "route.external", "smtp:relay.example.net:25 tls=verify")
    assert r.returncode == 0, r.stderr
