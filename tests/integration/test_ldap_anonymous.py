"""The certificate directory against an anonymous stranger: by default (ldap.anonymous_search =
lookup) an anonymous client gets what Outlook and Thunderbird send to fetch one recipient's
certificate, an equality lookup on mail, and nothing that lists the directory (in particular
not the partners' addresses); ldap.anonymous_search = full gives the old behaviour. And a
client that pipelines many searches without reading the replies is not read from while more
than a few MiB of replies wait, so the server's memory stays bounded."""

import os
import re
import socket
import time

import ldap
import pytest

import sgrig
from test_ldap import BASE, OUTLOOK, dns, ldapsearch, populate, wait_ldap


@pytest.fixture
def partners(gw_factory):
    """alice (internal), bob and carol (partners, proxy certificates), 5 numbered users."""
    g = gw_factory()
    g.set(**{"ldap.base_dn": BASE})
    populate(g, "--prefix", "alice", "--cn", "Alice Example", "--ca", "--rsa")
    for p in ("bob", "carol"):
        populate(g, "--prefix", p, "--domain", "partner.test", "--kind", "external", "--ca")
    populate(g, "--count", "5", "--prefix", "user")
    return g


def test_anonymous_clients_only_look_up_addresses(partners):
    g = partners.start()
    wait_ldap(g)
    for filt in ("(objectClass=*)", "(mail=*)", "(mail=*partner.test)", OUTLOOK.format(p="b"),
                 "(|(mail=bob@partner.test)(cn=*))"):
        r = ldapsearch(g, filt, "mail")
        assert r.returncode == 50, (filt, r.returncode, r.stdout, r.stderr)
        assert dns(r.stdout) == [], filt
        assert "partner.test" not in r.stdout
    assert "may only look up an address" in ldapsearch(g, "(objectClass=*)").stderr
    # Thunderbird's certificate lookup, and Outlook's (mail) / proxyAddresses shape, work.
    conn = ldap.initialize(f"ldap://127.0.0.1:{g.ldap_port}")
    res = conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(mail=bob@partner.test)",
                        ["userCertificate;binary"])
    assert [dn for dn, _ in res] == [f"mail=bob@partner.test,{BASE}"]
    assert res[0][1]["userCertificate;binary"][0][:1] == b"\x30"
    res = conn.search_s(BASE, ldap.SCOPE_SUBTREE,
                        "(|(mail=Alice@Example.com)(proxyAddresses=smtp:Alice@Example.com))",
                        ["mail", "userSMIMECertificate"])
    assert [dn for dn, _ in res] == [f"mail=alice@example.com,{BASE}"]
    assert conn.search_s(BASE, ldap.SCOPE_SUBTREE, "(mail=nobody@partner.test)") == []
    # the root DSE stays readable (clients find the naming context there)
    dse = conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["namingContexts"])
    assert dse[0][1]["namingContexts"] == [BASE.encode()]
    conn.unbind_s()
    g.wait_log(r"anonymous search from \[127\.0\.0\.1\] refused")


def test_anonymous_search_full_keeps_the_old_behaviour(partners):
    g = partners
    g.set(**{"ldap.anonymous_search": "full"})
    g.start()
    wait_ldap(g)
    r = ldapsearch(g, "(objectClass=*)", "mail")
    assert r.returncode == 0, r.stderr
    found = dns(r.stdout)
    assert f"mail=bob@partner.test,{BASE}" in found and f"mail=carol@partner.test,{BASE}" in found
    assert len([d for d in found if d.startswith("mail=")]) == 8
    assert dns(ldapsearch(g, OUTLOOK.format(p="ali"), "mail").stdout) == \
        [f"mail=alice@example.com,{BASE}"]


# ---- back-pressure ----------------------------------------------------------------------------


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def search_pdu(msgid):
    """SearchRequest: whole subtree of BASE, (objectClass=*), every attribute."""
    req = (tlv(0x04, BASE.encode()) + tlv(0x0A, b"\x02") + tlv(0x0A, b"\x00")
           + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + tlv(0x01, b"\x00")
           + tlv(0x87, b"objectClass") + tlv(0x30, tlv(0x04, b"*")))
    return tlv(0x30, tlv(0x02, msgid.to_bytes(2, "big")) + tlv(0x63, req))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def test_pipelined_searches_without_reading_stay_bounded(gw_factory):
    g = gw_factory()
    g.set(**{"ldap.base_dn": BASE, "ldap.anonymous_search": "full", "ldap.idle_timeout": "30s"})
    populate(g, "--count", "200", "--prefix", "user", "--ca", "--rsa")
    g.start()
    wait_ldap(g)
    pid = int(re.findall(r"ldapd\[(\d+)\]: ready", g.log())[-1])
    one = len(ldapsearch(g, "(objectClass=*)", "*").stdout)  # LDIF: about the reply's size
    assert one > 300 * 1024, one
    base = rss_kib(pid)
    peak = base
    s = socket.create_connection(("127.0.0.1", g.ldap_port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        # about 400 searches in one go (some 25 KiB of requests): 150 MiB of replies wanted
        s.sendall(b"".join(search_pdu(i + 1) for i in range(400)))
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            peak = max(peak, rss_kib(pid))
            time.sleep(0.2)
    finally:
        s.close()
    grown = (peak - base) / 1024
    print(f"ldapd RSS grew by {grown:.1f} MiB (replies wanted: about {400 * one >> 20} MiB)")
    assert grown < 32, f"ldapd grew by {grown:.0f} MiB for one client that does not read"
    # the server is fine afterwards
    assert ldapsearch(g, "(mail=user00001@example.com)", "mail").returncode == 0
    assert os.path.exists(f"/proc/{pid}")
