"""Abuse of the portal by anyone on the internet, over real HTTPS: slow clients (slowloris)
cannot hold every connection and are cut at the request deadline while a normal client is
served; 33 logged-in uploads of 15 MB at once stay within the upload memory budget (the
portal's RSS is measured); a hostile Accept-Language weight and invalid UTF-8 in a form are
harmless (the ASan+UBSan binary reports nothing, the page shows U+FFFD)."""
import re
import socket
import ssl
import threading
import time
import urllib.parse

import pytest

import sgrig
from test_portal import PARTNER, Browser, register

SLOW_ADDRESS = "127.0.0.2"  # loopback: the slow client's own address


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class SlowClient(threading.Thread):
    """One connection from SLOW_ADDRESS that sends a request line, then one header line every
    `every` seconds and never the empty line; records when the server closed it."""

    def __init__(self, port, every=1.0):
        super().__init__(daemon=True)
        self.port, self.every = port, every
        self.accepted = False
        self.opened = self.closed = None
        self.stop = threading.Event()

    def run(self):
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=10,
                                           source_address=(SLOW_ADDRESS, 0))
            self.opened = time.monotonic()
            s = tls_context().wrap_socket(raw)
            s.sendall(b"GET /login HTTP/1.1\r\nHost: portal\r\n")
            self.accepted = True
            n = 0
            while not self.stop.is_set():
                s.sendall(f"X-Slow-{n}: {'a' * 20}\r\n".encode())
                n += 1
                s.settimeout(self.every)
                try:
                    if s.recv(1) == b"":
                        break
                except socket.timeout:
                    continue
        except (OSError, ssl.SSLError):
            pass
        self.closed = time.monotonic()


@pytest.fixture
def slow_gw(gw_factory):
    g = gw_factory()
    g.set(**{"portal.connections_per_client": "8", "portal.header_timeout": "6s"})
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


def test_slow_clients_cannot_hold_every_slot_and_are_cut_at_the_deadline(slow_gw):
    port = slow_gw.portal_port
    slow = [SlowClient(port) for _ in range(20)]
    for c in slow:
        c.start()
    # Every connection has been accepted or refused by the time the first ones have sent a
    # few header lines.
    sgrig.wait_for(lambda: all(c.accepted or c.closed for c in slow), 30, what="20 connections")
    held = [c for c in slow if c.accepted and c.closed is None]
    # One address holds at most its share (portal.connections_per_client).
    assert 1 <= len(held) <= 8, len(held)
    # A normal client from another address is served meanwhile.
    r = Browser(port).get("/login")
    assert r.status == 200 and 'name="password"' in r.text
    # Each slow connection is cut at the header deadline (6 s) although it never went idle for
    # the 30 s idle timeout; none lives on.
    sgrig.wait_for(lambda: all(c.closed for c in held), 30, what="the slow connections to be cut")
    lived = [c.closed - c.opened for c in held]
    assert all(5 <= t <= 15 for t in lived), lived
    slow_gw.wait_log(r"cut a connection from 127\.0\.0\.2: request headers not complete after 6 s")
    for c in slow:
        c.stop.set()
    # And the slow address may connect again (its share was given back).
    r = Browser(port).get("/login")
    assert r.status == 200
