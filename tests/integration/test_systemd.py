"""systemd's Type=notify, seen from the socket systemd would listen on (NOTIFY_SOCKET, a unix
datagram socket): READY=1 only once every child serves, RELOADING=1 then READY=1 around a
SIGHUP (also when the new file is refused), STOPPING=1 when SIGTERM starts the drain.
The unit itself (debian/sealgate.service) is checked by tools/check-deb.sh."""
import os
import re
import signal
import socket

import sgrig


def messages(sock, until, timeout=30):
    """Datagrams until one contains until; returns them all."""
    got = []
    sock.settimeout(timeout)
    while not any(until in m for m in got):
        got.append(sock.recv(4096).decode())
    return got


def test_ready_reloading_stopping(gw_factory, workdir, monkeypatch):
    g = gw_factory()
    path = str(workdir / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        g.start()
        monkeypatch.delenv("NOTIFY_SOCKET")
        first = messages(sock, "READY=1")
        # READY comes after every role said it serves, not at the first banner.
        for role in ("smtpd", "qmgr", "ldapd", "portal", "tick", "metrics"):
            assert re.search(rf"{role}\[\d+\]: ready", g.log()), f"READY=1 before {role} served"
        assert not any("RELOADING" in m for m in first)

        g.set(**{"smtp.max_recipients": "7"})
        os.kill(g.proc.pid, signal.SIGHUP)
        got = messages(sock, "READY=1")
        assert "RELOADING=1" in got[0] and "MONOTONIC_USEC=" in got[0], got
        g.wait_log(r"SIGHUP: reload done")

        # A file the gateway refuses: still RELOADING then READY (the old one keeps serving).
        with open(g.conf, "a") as f:
            f.write("\n[smtp]\nno_such_key = 1\n")
        os.kill(g.proc.pid, signal.SIGHUP)
        got = messages(sock, "READY=1")
        assert "RELOADING=1" in got[0] and "not valid" in got[-1], got

        os.kill(g.proc.pid, signal.SIGTERM)
        assert any("STOPPING=1" in m for m in messages(sock, "STOPPING=1"))
        assert g.proc.wait(30) == 0
    finally:
        sock.close()
    g.allowed_problems = re.compile(r"no_such_key|is not valid|keeping the running")
