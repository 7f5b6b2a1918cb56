"""Portal throttling as an attacker tries it, over real HTTPS (plain HTTP behind the test's own
stand-in for a reverse proxy): parallel guessers get no more password checks than configured
and the right password does not get in while the account waits; OTP guesses make the guessing
client wait without using up the invitation; known and unknown addresses cause the same store
writes; behind portal.trusted_proxies each X-Forwarded-For client waits on its own and an
untrusted peer's header is ignored; /forgot floods store no sessions; a guesser cannot keep
the partner out of a browser that logged in before. Client addresses are loopback aliases
(127.0.0.2, ...), so each is another client to the portal."""
import re
import threading
import time

import pytest

import sgrig
from test_portal import PARTNER, PASSWORD, Browser, invite, register

GUESSERS = 8
GUESS_SECONDS = 20
FREE = 5  # portal.throttle_free_attempts for these tests
LOCKED = "Too many failed attempts"


def db(g):
    return g.db()


def audit(g):
    with db(g) as c:
        return c.execute("SELECT event, address, client FROM audit_log ORDER BY id").fetchall()


def start(g, **settings):
    g.set(**{"portal.throttle_free_attempts": FREE, "portal.throttle_delay": "1m", **settings})
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    g.wait_log(r"portal\[\d+\]: ready")
    return g


@pytest.fixture
def portal(gw_factory):
    return start(gw_factory())


def guess(b, addr=PARTNER, pw="wrong password"):
    return b.post("/login", {"email": addr, "password": pw})


def test_parallel_guessers_get_only_the_configured_checks(portal):
    register(portal, Browser(portal.portal_port))
    first_wait = threading.Event()
    stop = time.monotonic() + GUESS_SECONDS
    right = []  # statuses of the right password, tried only once the account waits

    def guesser():
        b = Browser(portal.portal_port)
        while time.monotonic() < stop:
            if guess(b).status == 429:
                first_wait.set()

    def partner():
        assert first_wait.wait(GUESS_SECONDS)
        for source in ("127.0.0.1", "127.0.0.2"):  # the guessers' address and another
            b = Browser(portal.portal_port, source=source)
            right.append(guess(b, pw=PASSWORD).status)

    threads = [threading.Thread(target=guesser) for _ in range(GUESSERS)]
    threads.append(threading.Thread(target=partner))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = [e for e, a, _ in audit(portal) if a == PARTNER]
    checks = events.count("login-failed") + events.count("lockout")  # one per Argon2id check
    print(f"\n{GUESSERS} guessers, {GUESS_SECONDS} s: {checks} password checks, "
          f"{events.count('login-locked')} refused before the check")
    assert 0 < checks <= FREE
    assert events.count("login-locked") > 0
    assert right == [429, 429] and "login" not in events


def test_otp_guesses_make_the_client_wait_and_keep_the_invitation(portal):
    otp = invite(portal)
    b = Browser(portal.portal_port, source="127.0.0.2")
    for _ in range(FREE - 1):
        r = b.post("/register", {"email": PARTNER, "otp": "AAAA-AAAA-AAAA-AAAA-AAAA"})
        assert r.status == 200 and "do not match an open invitation" in r.text
    last = b.post("/register", {"email": PARTNER, "otp": "AAAA-AAAA-AAAA-AAAA-AAAA"})
    assert LOCKED in last.text
    with db(portal) as c:
        assert c.execute("SELECT otp_attempts FROM portal_accounts").fetchall() == [(0,)]
    # The partner, elsewhere, still registers with the invitation; the guesser waits (429).
    r = Browser(portal.portal_port).post("/register", {"email": PARTNER, "otp": otp})
    assert r.status == 303 and r.headers["Location"] == "/register/password", r.text
    assert last.status == 429
    assert b.post("/register", {"email": PARTNER, "otp": otp}).status == 429


def snapshot(g):
    with db(g) as c:
        return {
            "throttle": dict(c.execute("SELECT key, failures FROM portal_throttle").fetchall()),
            "accounts": c.execute("SELECT * FROM portal_accounts ORDER BY user_id").fetchall(),
            "sessions": c.execute("SELECT count(*) FROM portal_sessions").fetchone()[0],
            "audit": c.execute("SELECT count(*) FROM audit_log").fetchone()[0],
            "users": c.execute("SELECT count(*) FROM users").fetchone()[0],
        }


def writes(g, action, addr, client):
    """What action (one failed attempt for addr from client) changed in the store, with the
    address and the client replaced by placeholders."""
    before = snapshot(g)
    action(Browser(g.portal_port, source=client), addr)
    after = snapshot(g)
    name = lambda k: k.replace(addr, "ADDR").replace(client, "CLIENT")
    return {
        "throttle": {name(k): v - before["throttle"].get(k, 0)
                     for k, v in after["throttle"].items() if v != before["throttle"].get(k)},
        **{t: (before[t], after[t]) for t in ("accounts", "sessions", "audit", "users")},
    }


def test_known_and_unknown_addresses_cost_the_same_writes(portal):
    register(portal, Browser(portal.portal_port))
    known2 = "invited@partner.test"
    invite(portal, known2)
    wrong_otp = lambda b, a: b.post("/register", {"email": a, "otp": "AAAA-AAAA-AAAA-AAAA-AAAA"})
    wrong_pw = lambda b, a: guess(b, a)
    for action, known in ((wrong_otp, known2), (wrong_pw, PARTNER)):
        k = writes(portal, action, known, "127.0.0.2")
        u = writes(portal, action, "nobody@partner.test", "127.0.0.3")
        assert k["throttle"] and k == {**u, **{t: k[t] for t in ("audit",)}}, (k, u)
        assert k["audit"][1] - k["audit"][0] == u["audit"][1] - u["audit"][0] == 1
        assert k["accounts"][0] == k["accounts"][1]  # no attempt counter on the invitation


def proxied(g, client, source="127.0.0.1"):
    return Browser(g.portal_port, source=source, tls=False, headers={"X-Forwarded-For": client})


def test_trusted_proxy_clients_wait_on_their_own(gw_factory):
    g = start(gw_factory(), **{"portal.tls": "off", "portal.public_https": "yes",
                               "portal.trusted_proxies": "127.0.0.1/32"})
    other = "other@partner.test"
    register(g, proxied(g, "198.51.100.20"))
    register(g, proxied(g, "198.51.100.21"), addr=other)
    # One client guesses behind the proxy (its spoofed left hops change each time and prove
    # nothing): it waits; another client behind the same proxy does not.
    for i in range(FREE):
        r = guess(proxied(g, f"203.0.113.{i}, 198.51.100.7"), addr=f"x{i}@partner.test")
    assert r.status == 429 and LOCKED in r.text
    assert guess(proxied(g, "198.51.100.7"), addr=other, pw=PASSWORD).status == 429
    r = guess(proxied(g, "198.51.100.8"), addr=other, pw=PASSWORD)
    assert r.status == 303, r.text
    assert guess(proxied(g, "198.51.100.8"), addr="y@partner.test").status == 200
    # Browsers come by HTTPS: the cookie keeps Secure and HSTS is sent.
    assert "; Secure" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    # IPv6 clients are counted by their /64: rotating the host part does not reset the count.
    for i in range(FREE):
        r = guess(proxied(g, f"2001:db8:0:1::{i + 1}"), addr=f"v{i}@partner.test")
    assert r.status == 429
    assert guess(proxied(g, "2001:db8:0:2::1"), addr="w@partner.test").status == 200
    assert {c for e, a, c in audit(g) if a.startswith("v")} == {f"2001:db8:0:1::{i + 1}" for i in range(FREE)}
    # A peer that is not a trusted proxy is the client, whatever its X-Forwarded-For says.
    for i in range(FREE):
        r = guess(proxied(g, f"198.51.100.{100 + i}", source="127.0.0.2"), addr=f"z{i}@partner.test")
    assert r.status == 429
    clients = {c for e, a, c in audit(g) if a.startswith("z")}
    assert clients == {"127.0.0.2"}
    assert {c for e, a, c in audit(g) if a.startswith("x")} == {"198.51.100.7"}


def test_forgot_flood_stores_no_sessions(portal):
    stop = time.monotonic() + 10
    sent = [0] * GUESSERS

    def flood(i):
        n = 0
        while time.monotonic() < stop:  # a new browser each time, as a script would be
            b = Browser(portal.portal_port, source=f"127.0.0.{2 + i}")
            r = b.post("/forgot", {"email": f"new{i}-{n}@partner.test"})
            assert r.status == 303
            n += 1
        sent[i] = n

    threads = [threading.Thread(target=flood, args=(i,)) for i in range(GUESSERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db(portal) as c:
        rows = c.execute("SELECT count(*) FROM portal_sessions").fetchone()[0]
    print(f"\n{GUESSERS} clients, 10 s: {sum(sent)} POST /forgot, {rows} session rows")
    assert sum(sent) > GUESSERS and rows == 0


def test_guesser_cannot_keep_a_known_browser_out(portal):
    register(portal, Browser(portal.portal_port))
    known = Browser(portal.portal_port)
    assert guess(known, pw=PASSWORD).status == 303
    known.post("/logout", {}, page_path="/account")
    attacker = Browser(portal.portal_port, source="127.0.0.2")
    for _ in range(FREE + 2):
        r = guess(attacker)
    assert r.status == 429
    # A new browser waits with the account; the known one gets in.
    assert guess(Browser(portal.portal_port, source="127.0.0.3"), pw=PASSWORD).status == 429
    assert guess(known, pw=PASSWORD).status == 303
    # A tampered device cookie is a new browser.
    forged = Browser(portal.portal_port, source="127.0.0.4")
    forged.cookies["sg_device"] = re.sub(r"^.", lambda m: "0" if m.group() != "0" else "1",
                                         known.cookies["sg_device"])
    assert guess(forged, pw=PASSWORD).status == 429
    # The known browser has its own count: its own wrong guesses make it wait.
    known.post("/logout", {}, page_path="/account")
    for _ in range(FREE):
        r = guess(known)
    assert r.status == 429
    assert guess(known, pw=PASSWORD).status == 429
