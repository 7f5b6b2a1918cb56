"""SIGHUP under load (issue 24): every listener of every role (SMTP, portal, LDAP) keeps
accepting through reloads -- no refused connection, no SMTP transaction lost, every message
answered 250 delivered -- each role says what changed, and every line of the log, library
messages included (libmicrohttpd, GnuTLS), is in our log format."""

import http.client
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import threading

import ldap
import pytest

import sgrig
from sgrig import foreign_lines, wait_for

RELOADS = 5


def tls_client():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def portal_login(port):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=tls_client(), timeout=30)
    try:
        c.request("GET", "/login")
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def ldap_root(port):
    argv = ["ldapsearch", "-x", "-LLL", "-o", "nettimeout=30", "-H", f"ldap://127.0.0.1:{port}",
            "-s", "base", "-b", "", "(objectClass=*)", "namingContexts"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def smtp_send(port, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.com", ["bob@example.com"], f"Subject: {subject}\r\n\r\nbody\r\n")


class Load:
    """Clients that run until stopped: one sends mail, one polls the portal's login page, one
    searches the directory. Every failure is kept with what it was doing."""

    def __init__(self, g):
        self.g = g
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors = []
        self.accepted = []   # subjects answered 250
        self.done = {"smtp": 0, "portal": 0, "ldap": 0}
        self.threads = [threading.Thread(target=self._loop, args=(name, fn), daemon=True)
                        for name, fn in (("smtp", self._smtp), ("portal", self._portal),
                                         ("ldap", self._ldap))]

    def _smtp(self, n):
        subject = f"reload load {n}"
        smtp_send(self.g.port, subject)
        with self.lock:
            self.accepted.append(subject)

    def _portal(self, n):
        status, body = portal_login(self.g.portal_port)
        assert status == 200 and b'name="password"' in body, f"portal answered {status}"

    def _ldap(self, n):
        r = ldap_root(self.g.ldap_port)
        assert r.returncode == 0 and "namingContexts:" in r.stdout, \
            f"ldapsearch rc={r.returncode}: {r.stderr.strip()}"

    def _loop(self, name, fn):
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                fn(n)
            except Exception as e:  # refused, reset, 421, timeout: each one a failure
                with self.lock:
                    self.errors.append(f"{name} #{n}: {type(e).__name__}: {e}")
            with self.lock:
                self.done[name] += 1
            self.stop.wait(0.02)  # pacing only: the clients poll, nothing waits on this

    def count(self, name):
        with self.lock:
            return self.done[name]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(90)


class Held:
    """Sessions opened before a SIGHUP and finished after the old children were retired: an
    SMTP transaction half done, an SMTP session idle after the greeting, a portal keep-alive
    connection and a bound LDAP connection. The retired processes must finish them."""

    def __init__(self, g, n):
        self.g, self.subjects = g, (f"held mid-transaction {n}", f"held idle {n}")
        self.mid = smtplib.SMTP("127.0.0.1", g.port, timeout=30)
        self.mid.ehlo("held.example")
        code, _ = self.mid.mail("alice@example.com")
        assert code == 250
        self.idle = smtplib.SMTP("127.0.0.1", g.port, timeout=30)
        self.web = http.client.HTTPSConnection("127.0.0.1", g.portal_port, context=tls_client(),
                                               timeout=30)
        self.web.request("GET", "/login")
        r = self.web.getresponse()
        r.read()
        assert r.status == 200 and not r.will_close
        self.dir = ldap.initialize(f"ldap://127.0.0.1:{g.ldap_port}")
        self.dir.protocol_version = 3
        self.dir.simple_bind_s("", "")

    def finish(self):
        code, _ = self.mid.rcpt("bob@example.com")
        assert code == 250
        code, reply = self.mid.data(f"Subject: {self.subjects[0]}\r\n\r\nbody\r\n")
        assert code == 250, reply
        self.mid.quit()
        self.idle.sendmail("alice@example.com", ["bob@example.com"],
                           f"Subject: {self.subjects[1]}\r\n\r\nbody\r\n")
        self.idle.quit()
        self.web.request("GET", "/login")
        r = self.web.getresponse()
        assert r.status == 200 and b'name="password"' in r.read()
        self.web.close()
        res = self.dir.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["namingContexts"])
        assert res and res[0][1].get("namingContexts")
        self.dir.unbind_s()
        return list(self.subjects)


def retired_count(g, role):
    return len(re.findall(rf"{role}\[\d+\]: retiring, a new process serves", g.log()))


def reloads_done(g):
    return len(re.findall(r"master\[\d+\]: SIGHUP: reload done", g.log()))


def ready_count(g, role):
    return len(re.findall(rf"{role}\[\d+\]: ready: ", g.log()))


def reload_and_wait(g, n_before):
    """SIGHUP; returns once the listening roles' new children are ready and the master's
    summary says that every role serves the new configuration."""
    roles = ("smtpd", "ldapd", "portal")
    ready = {role: ready_count(g, role) for role in roles}
    os.kill(g.proc.pid, signal.SIGHUP)
    wait_for(lambda: all(ready_count(g, r) > ready[r] for r in roles), 90,
             what="the new smtpd, ldapd and portal ready")
    every_port_answers(g)
    wait_for(lambda: reloads_done(g) > n_before, 90, what="the reload summary")
    assert "reload incomplete" not in g.log()


def every_port_answers(g):
    with socket.create_connection(("127.0.0.1", g.port), timeout=30) as s:
        s.settimeout(30)
        assert s.recv(512).startswith(b"220")
        s.sendall(b"QUIT\r\n")
    assert portal_login(g.portal_port)[0] == 200
    r = ldap_root(g.ldap_port)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def full_gw(gw_factory, workdir):
    """A gateway with Maildir routes whose SMTP, portal and LDAP roles all serve."""
    g = gw_factory()
    g.md_int = os.path.join(str(workdir), "md-internal")
    g.set(**{"route.internal": f"maildir:{g.md_int}",
             "route.external": f"maildir:{os.path.join(str(workdir), 'md-external')}"})
    g.start()
    g.wait_log(r"portal\[\d+\]: ready", 60)
    g.wait_log(r"ldapd\[\d+\]: ready", 60)
    return g


def test_reloads_under_load_refuse_nothing_and_lose_nothing(full_gw):
    g = full_gw
    held_subjects = []
    with Load(g) as load:
        for i in range(RELOADS):
            before = {k: load.count(k) for k in load.done}
            held = Held(g, i)
            reload_and_wait(g, i)
            wait_for(lambda: all(retired_count(g, r) > i for r in ("smtpd", "ldapd", "portal")),
                     60, what="the old smtpd, ldapd and portal retired")
            held_subjects += held.finish()
            # Traffic went on across this reload: each client finished requests after it.
            wait_for(lambda: all(load.count(k) > before[k] + 1 for k in before), 90,
                     what="every client served after the reload")
    assert load.errors == [], "\n".join(load.errors[:20])
    assert len(load.accepted) >= RELOADS
    sent = load.accepted + held_subjects
    box = os.path.join(g.md_int, "bob@example.com")
    msgs = sgrig.wait_maildir(box, len(sent), timeout=120)
    subjects = sorted(sgrig.header_values(m, "Subject")[0].decode() for m in msgs)
    assert subjects == sorted(sent)
    log = g.log()
    # The old child of each listening role was retired only once its successor served.
    for role in ("smtpd", "ldapd", "portal"):
        assert len(re.findall(rf"master\[\d+\]: {role}: pid \d+ serves; pid \d+ stops", log)) \
            == RELOADS, role
    assert foreign_lines(log) == []


def test_a_changed_setting_takes_effect_and_is_logged(full_gw):
    g = full_gw
    g.set(**{"portal.threads": "2"})
    reload_and_wait(g, 0)
    g.wait_log(r"portal\[\d+\]: reload: portal\.threads = '2' \(was '4'\): in effect")
    g.wait_log(r"portal\[\d+\]: ready: 1 listener\(s\), HTTPS on, 2 thread\(s\)")
    assert re.search(r"master\[\d+\]: SIGHUP: configuration re-read; 1 setting\(s\) changed: "
                     r"portal\.threads;", g.log())
    # Roles whose settings did not change say so.
    g.wait_log(r"smtpd\[\d+\]: reload: none of this role's settings changed")
    every_port_answers(g)
    assert foreign_lines(g.log()) == []


def test_a_listen_address_that_cannot_be_bound_needs_a_restart(full_gw):
    """127.0.0.1:P -> 0.0.0.0:P cannot be bound while the gateway listens on 127.0.0.1:P: the
    running sockets stay, the rest of the reload goes on, and the log says what needs a
    restart."""
    g = full_gw
    old = f"127.0.0.1:{g.ldap_port}"
    g.set(**{"ldap.listen": f"0.0.0.0:{g.ldap_port}", "ldap.max_results": "50"})
    reload_and_wait(g, 0)
    log = g.log()
    assert re.search(r"master\[\d+\]: error: SIGHUP: ldap\.listen = 0\.0\.0\.0:\d+: .*still "
                     rf"listening on {re.escape(old)}: the new address needs a restart", log)
    assert re.search(r"SIGHUP: reload done: .* serve the new configuration; needs a restart: "
                     r"ldap\.listen", log)
    g.wait_log(rf"ldapd\[\d+\]: warning: reload: ldap\.listen = '0\.0\.0\.0:\d+' needs a "
               rf"restart; still listening on '{re.escape(old)}'")
    g.wait_log(r"ldapd\[\d+\]: reload: ldap\.max_results = '50' \(was '\d+'\): in effect")
    every_port_answers(g)
    assert foreign_lines(g.log()) == []


def test_tls_client_that_closes_without_handshake_is_logged_in_our_format(full_gw):
    g = full_gw
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", g.portal_port), timeout=10):
            pass  # connect, say nothing, close
    # A half handshake too: the first bytes of a TLS record, then the end.
    with socket.create_connection(("127.0.0.1", g.portal_port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x05\x01\x00")
    # libmicrohttpd says something about these clients: in our format, not as a bare line.
    wait_for(lambda: foreign_lines(g.log()) or re.search(r"portal\[\d+\]: libmicrohttpd: ", g.log()),
             30, what="libmicrohttpd's message about the clients")
    assert portal_login(g.portal_port)[0] == 200
    assert foreign_lines(g.log()) == []


def test_a_role_that_cannot_take_its_listeners_keeps_the_old_one_serving(full_gw):
    """The new portal cannot serve two listen addresses: it logs why and exits before it is
    ready; the master names it in the reload summary and the old portal keeps serving."""
    g = full_gw
    g.allowed_problems = re.compile(r"portal \(pid \d+\) exited with status 1 before it was ready")
    g.set(**{"portal.listen": f"127.0.0.1:{sgrig.free_port()}, 127.0.0.1:{sgrig.free_port()}"})
    os.kill(g.proc.pid, signal.SIGHUP)
    g.wait_log(r"master\[\d+\]: error: SIGHUP: reload incomplete: portal \(pid \d+\) exited "
               r"with status 1 before it was ready; pid \d+ keeps serving the previous "
               r"configuration; .*serve the new configuration", 90)
    log = g.log()
    assert re.search(r"portal\[\d+\]: error: portal\.listen: exactly one address is supported", log)
    assert "reload done" not in log
    for _ in range(3):
        assert portal_login(g.portal_port)[0] == 200  # the old portal, on the old socket
    every_port_answers(g)
