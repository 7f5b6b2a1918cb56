"""Key discovery from keyservers and Web Key Directories (issue 26 part 3, issue 18 part 4's
lookup): a real HTTPS server (https_rig.py, Python's ssl with the test's CA) serves a key gpg
made, by the VKS API, by HKP and by WKD (advanced method on openpgpkey.DOMAIN, direct method
when that host does not exist; host names from the test's DNS zone) -> the partner's next mail
is PGP/MIME that gpg decrypts. Hostile answers (a key for another address, an expired key,
not a key, a 50 MB answer, a server that never answers) are refused with a clear log line and
the mail takes its way without discovery (held for the SecurePDF registration)."""

import os
import re
import smtplib
import time

import pytest

import https_rig
import sgrig
from lookup_rig import Gpg, RawServer
from sgrig import maildir_messages, wait_maildir

ZONE = "signed"


def send(port, to, body="PGP figures: 42\r\n"):
    msg = (f"From: alice@example.com\r\nTo: {to}\r\nSubject: [secure] figures\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}").encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.com", [to], msg)


def lookups(g, addr, src):
    return re.findall(rf"key lookup <{re.escape(addr)}> {src}: .*", g.log())


def held(g, addr):
    g.wait_log(rf"to=<{re.escape(addr)}>.*status=held", timeout=40)
    return re.search(rf"to=<{re.escape(addr)}>.*status=held.*", g.log()).group(0)


def pgp_mail(g, addr, gpg):
    box = os.path.join(g.md_ext, addr)
    wait_maildir(box, 1)
    raw = maildir_messages(box)[0]
    assert b"multipart/encrypted" in raw and b"PGP figures" not in raw, raw[:600]
    armor = re.search(rb"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", raw, re.S)
    assert b"PGP figures: 42" in gpg.decrypt(armor.group(0))


def fifty_megabytes(handler):
    https_rig.raw(handler, b"HTTP/1.1 200 OK\r\nContent-Length: 52428800\r\n\r\n")
    for _ in range(800):
        https_rig.raw(handler, b"-" * 65536)


@pytest.fixture(scope="module")
def web(tmp_path_factory, dns_rig):
    """The test CA, one HTTPS server (keyserver and WKD hosts alike) and the partner's gpg."""
    d = str(tmp_path_factory.mktemp("lookup-web"))
    ca = https_rig.TestCA(d, "lookup test CA")
    dom = {k: dns_rig.fqdn(ZONE, k) for k in ("adv", "direct", "hostile")}
    names = ["127.0.0.1", "localhost", f"openpgpkey.{dom['adv']}", dom["direct"],
             f"openpgpkey.{dom['hostile']}"]
    port = sgrig.free_port()
    server = https_rig.serve(port, *ca.issue(names, "keyserver"))
    dns_rig.add(ZONE, "openpgpkey.adv", "A", "127.0.0.1")
    dns_rig.add(ZONE, "adv", "A", "127.0.0.1")
    dns_rig.add(ZONE, "direct", "A", "127.0.0.1")
    dns_rig.add(ZONE, "openpgpkey.hostile", "A", "127.0.0.1")
    dns_rig.commit()
    gpg = Gpg(os.path.join(d, "gnupg"))
    yield {"ca": ca.pem, "server": server, "port": port, "dom": dom, "gpg": gpg}
    gpg.close()
    server.shutdown()


@pytest.fixture
def webgw(gw_factory, workdir, dns_rig, web):
    g = gw_factory()
    g.md_int, g.md_ext = os.path.join(workdir, "md-int"), os.path.join(workdir, "md-ext")
    g.set(**dns_rig.settings())
    base = f"https://127.0.0.1:{web['port']}"
    g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}",
             "policy.key_lookup": "vks,hkp,wkd", "lookup.vks": base, "lookup.hkp": base,
             "fetch.ca_file": web["ca"], "lookup.wkd_port": str(web["port"]),
             "lookup.max_wait": "4s"})
    assert g.cli("pgp", "generate", "alice@example.com").returncode == 0
    return g


def vks_path(addr):
    return "/vks/v1/by-email/" + addr.replace("@", "%40")


def hkp_path(addr):
    return "/pks/lookup?op=get&options=mr&search=" + addr.replace("@", "%40")


def wkd_paths(addr, hash_):
    local, domain = addr.split("@")
    return (f"/.well-known/openpgpkey/{domain}/hu/{hash_}?l={local}",
            f"/.well-known/openpgpkey/hu/{hash_}?l={local}")


def key_served_and_mailed(webgw, web, addr, path):
    """gpg makes addr's key, the server answers path with it, a mail to addr is PGP/MIME."""
    web["gpg"].new_key(addr)
    web["server"].files[path] = web["gpg"].export(addr, armor=True)
    webgw.start()
    send(webgw.port, addr)
    pgp_mail(webgw, addr, web["gpg"])


def test_vks_key_makes_the_next_mail_pgp(webgw, web):
    addr = "vera@vks.partner.test"
    key_served_and_mailed(webgw, web, addr, vks_path(addr))
    assert "found" in lookups(webgw, addr, "vks")[0]
    send(webgw.port, addr, body="second\r\n")
    wait_maildir(os.path.join(webgw.md_ext, addr), 2)
    assert len(lookups(webgw, addr, "vks")) == 1  # cached: no second lookup
    assert addr not in webgw.cli("pgp", "list").stdout  # discovered, not imported


def test_hkp_key_is_found_after_a_vks_miss(webgw, web):
    addr = "hank@hkp.partner.test"
    key_served_and_mailed(webgw, web, addr, hkp_path(addr))
    assert "nothing" in lookups(webgw, addr, "vks")[0]
    assert "found" in lookups(webgw, addr, "hkp")[0]


@pytest.mark.parametrize("method", ["adv", "direct"])
def test_wkd_key_is_found_by_the_advanced_or_direct_method(webgw, web, method):
    addr = f"Wanda.{method}@{web['dom'][method]}"
    web["gpg"].new_key(addr.lower())
    # the WKD hash of "wanda.adv" as gpg computes it (gpg-wks-client --print-wkd-hash)
    r = web["gpg"].run("--with-wkd-hash", "--list-keys", addr.lower()).stdout.decode()
    hash_ = re.search(r"([a-z0-9]{32})@", r).group(1)
    adv, direct = wkd_paths(addr.lower(), hash_)
    host = f"openpgpkey.{web['dom'][method]}" if method == "adv" else web["dom"][method]
    web["server"].files[(host, adv if method == "adv" else direct)] = web["gpg"].export(addr.lower())
    out = webgw.cli("lookup", addr.lower(), "--source", "wkd")
    assert re.search(r"^wkd\s+found\s", out.stdout, re.M), out.stdout + out.stderr
    webgw.start()
    send(webgw.port, addr.lower())
    pgp_mail(webgw, addr.lower(), web["gpg"])


HOSTILE = {
    "wrong-uid": "no valid user ID with the address",
    "expired": "expired",
    "not-a-key": "not an OpenPGP key",
    "fifty-mb": "no answer",
    "hkp-garbage": "not an OpenPGP key",
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_keyserver_answers_are_refused(webgw, web, case):
    addr = f"{case}@hostile.partner.test"
    gpg = web["gpg"]
    if case == "wrong-uid":
        gpg.new_key(f"someone-else-{case}@hostile.partner.test")
        body = gpg.export(f"someone-else-{case}@hostile.partner.test", armor=True)
    elif case == "expired":
        gpg.new_key(addr, expired=True)
        body = gpg.export(addr, armor=True)
    elif case == "not-a-key":
        body = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n"
    elif case == "hkp-garbage":  # an HKP server answering an HTML error page with 200
        body = b"<html><body>Error handling request: \x00\xff\xfe</body></html>\n"
    else:
        body = fifty_megabytes
    src = "hkp" if case.startswith("hkp") else "vks"
    web["server"].files[(hkp_path if src == "hkp" else vks_path)(addr)] = body
    webgw.set(**{"policy.key_lookup": src})
    webgw.start()
    t0 = time.monotonic()
    send(webgw.port, addr)
    line = held(webgw, addr)
    got = lookups(webgw, addr, src)
    assert len(got) == 1 and HOSTILE[case] in got[0], got
    assert ("answer refused" if case != "fifty-mb" else "no answer") in got[0]
    if case == "fifty-mb":
        assert "body" in got[0] or "large" in got[0] or "limit" in got[0], got[0]
    assert float(re.search(r"delay=([0-9.]+)", line).group(1)) < 4 + 6, (line, time.monotonic() - t0)


def test_keyserver_that_never_answers_costs_at_most_max_wait(webgw):
    srv = RawServer(sgrig.free_port())
    try:
        webgw.set(**{"policy.key_lookup": "vks", "lookup.vks": f"https://127.0.0.1:{srv.port}",
                     "lookup.max_wait": "2s"})
        webgw.start()
        send(webgw.port, "silent@slow.partner.test")
        line = held(webgw, "silent@slow.partner.test")
        got = lookups(webgw, "silent@slow.partner.test", "vks")
        assert len(got) == 1 and "no answer" in got[0], got
        assert float(re.search(r"delay=([0-9.]+)", line).group(1)) < 2 + 6, line
    finally:
        srv.stop()


def wkd_hash(local):
    """z-base32 of SHA-1 of the lower-cased local part (draft-koch-openpgp-webkey-service)."""
    import hashlib
    alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
    n = int.from_bytes(hashlib.sha1(local.lower().encode()).digest(), "big")
    return "".join(alphabet[(n >> (155 - 5 * i)) & 31] for i in range(32))


HOSTILE_WKD = {
    "wkd-wrong-uid": "no valid user ID with the address",
    "wkd-not-a-key": "not an OpenPGP key",
}


@pytest.mark.parametrize("case", list(HOSTILE_WKD))
def test_hostile_wkd_answers_are_refused(webgw, web, case):
    """The partner domain's own web server is as hostile as any keyserver: a key for someone
    else, or bytes that are no key, served at the address's WKD path are refused."""
    addr = f"{case}@{web['dom']['hostile']}"
    local = addr.split("@")[0]
    gpg = web["gpg"]
    if case == "wkd-wrong-uid":
        gpg.new_key(f"someone-else@{web['dom']['hostile']}")
        body = gpg.export(f"someone-else@{web['dom']['hostile']}")
    else:
        body = b"\x99\x01\x0d not a key at all"
    adv, _ = wkd_paths(addr, wkd_hash(local))
    web["server"].files[adv] = body
    webgw.set(**{"policy.key_lookup": "wkd"})
    webgw.start()
    send(webgw.port, addr)
    held(webgw, addr)
    got = lookups(webgw, addr, "wkd")
    assert len(got) == 1 and HOSTILE_WKD[case] in got[0], (got, webgw.log()[-1500:])
