"""The DNS module (src/dns, libunbound) against a real unbound serving a DNSSEC-signed and an
unsigned test zone (dns_rig.py), seen through `sealgate tls-policy check`: answers of the signed
zone are secure, those of the unsigned one insecure, a record whose signature no longer matches
is bogus (and never shown), a null MX is recognised, MX records come sorted by preference."""

import re


def _check(g, domain):
    r = g.cli("tls-policy", "check", domain)
    return r.returncode, r.stdout + r.stderr


def _gw(gw_factory, dns_rig):
    g = gw_factory()
    g.set(**dns_rig.settings())
    return g


def test_signed_zone_is_secure_and_mx_sorted(gw_factory, dns_rig):
    dns_rig.add("signed", "sorted", "MX", "20 b.sorted")
    dns_rig.add("signed", "sorted", "MX", "10 a.sorted")
    dns_rig.add("signed", "a.sorted", "A", "127.0.0.1")
    dns_rig.add("signed", "b.sorted", "A", "127.0.0.1")
    dns_rig.add("signed", "_25._tcp.a.sorted", "TLSA", "3 1 1 " + "11" * 32)
    dns_rig.commit()
    rc, out = _check(_gw(gw_factory, dns_rig), dns_rig.fqdn("signed", "sorted"))
    assert rc == 0, out
    assert re.search(r"MX: 2 record\(s\), secure", out), out
    hosts = re.findall(r"^MX (\d+) (\S+)$", out, re.M)
    assert hosts == [("10", "a.sorted.signed.sgtest"), ("20", "b.sorted.signed.sgtest")], out
    assert "_25._tcp.a.sorted.signed.sgtest TLSA: 1 record(s), secure" in out, out
    assert "3 1 1 " + "11" * 32 in out, out
    assert "_25._tcp.b.sorted.signed.sgtest TLSA: 0 record(s), secure" in out, out


def test_unsigned_zone_is_insecure(gw_factory, dns_rig):
    dns_rig.add("plain", "open", "MX", "10 mx.open")
    dns_rig.add("plain", "mx.open", "A", "127.0.0.1")
    dns_rig.commit()
    rc, out = _check(_gw(gw_factory, dns_rig), dns_rig.fqdn("plain", "open"))
    assert rc == 0, out
    assert "MX: 1 record(s), insecure" in out, out
    assert "mx.open.plain.sgtest: 1 address(es), insecure" in out, out


def test_tampered_record_is_bogus(gw_factory, dns_rig):
    dns_rig.add("signed", "forged", "MX", "10 mx.forged")
    dns_rig.add("signed", "mx.forged", "A", "127.0.0.1")
    dns_rig.add("signed", "_25._tcp.mx.forged", "TLSA", "3 1 1 " + "22" * 32, tamper=True)
    dns_rig.commit()
    rc, out = _check(_gw(gw_factory, dns_rig), dns_rig.fqdn("signed", "forged"))
    assert "MX: 1 record(s), secure" in out, out
    assert "TLSA: DNSSEC validation failed (bogus answer)" in out, out
    assert "22" * 32 not in out and "22" * 31 not in out, out


def test_null_mx_and_missing_domain(gw_factory, dns_rig):
    dns_rig.add("signed", "nomail", "MX", "0 .")
    dns_rig.commit()
    g = _gw(gw_factory, dns_rig)
    rc, out = _check(g, dns_rig.fqdn("signed", "nomail"))
    assert "null MX: accepts no mail" in out, out
    rc, out = _check(g, dns_rig.fqdn("signed", "nosuchname"))
    assert "no such domain" in out and "secure" in out, out


def test_unreachable_resolver_times_out_with_reason(gw_factory, dns_rig):
    g = gw_factory()
    g.set(**{"dns.resolver": "127.0.0.1@9", "dns.timeout": "2s",
             "dns.trust_anchor": dns_rig.trust_anchor})
    rc, out = _check(g, dns_rig.fqdn("signed", "sorted"))
    assert rc == 1 and re.search(r"timed out|SERVFAIL|failure", out), out
