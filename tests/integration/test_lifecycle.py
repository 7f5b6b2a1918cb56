"""The gateway as a process: kill -9 of master and children under load loses nothing that got
a 250; SIGTERM drains sessions in flight and exits 0; check-config explains a bad value."""

import os
import signal
import smtplib
import threading
import time

import sgrig
from sgrig import RawSMTP, header_values, wait_for, wait_maildir

LOAD_MESSAGES = 500
LOAD_CLIENTS = 5


class LoadClient(threading.Thread):
    """Sends its share of messages, reconnecting and re-sending whatever got no 250."""

    def __init__(self, port, ids, acked, lock, deadline):
        super().__init__(daemon=True)
        self.port, self.ids, self.acked, self.lock, self.deadline = port, ids, acked, lock, deadline
        self.errors = 0

    def run(self):
        s = None
        i = 0
        while i < len(self.ids) and time.monotonic() < self.deadline:
            mid = self.ids[i]
            msg = (f"From: load@example.com\r\nTo: sink@example.com\r\nSubject: load {mid}\r\n"
                   f"Message-ID: <{mid}>\r\n\r\n").encode() + (b"0123456789abcdef" * 64 + b"\r\n") * 2
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
                s.sendmail("load@example.com", ["sink@example.com"], msg)
                with self.lock:
                    self.acked.add(mid)
                i += 1
            except (OSError, smtplib.SMTPException):
                self.errors += 1
                try:
                    if s is not None:
                        s.close()
                except OSError:
                    pass
                s = None
                time.sleep(0.2)
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass


def group_gone(pgid):
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


def delivered_ids(maildir):
    out = set()
    for raw in sgrig.maildir_messages(maildir):
        for v in header_values(raw, "Message-ID"):
            out.add(v.decode().strip("<>"))
    return out


def test_kill9_under_load_loses_no_accepted_message(gateway):
    acked, lock = set(), threading.Lock()
    ids = [f"load-{n}@example.com" for n in range(LOAD_MESSAGES)]
    deadline = time.monotonic() + 120
    clients = [LoadClient(gateway.port, ids[k::LOAD_CLIENTS], acked, lock, deadline)
               for k in range(LOAD_CLIENTS)]
    for c in clients:
        c.start()
    wait_for(lambda: len(acked) >= LOAD_MESSAGES // 3, 60, what="a third of the load accepted")
    pgid = gateway.proc.pid
    gateway.kill_all()
    with lock:
        acked_at_kill = set(acked)
    wait_for(lambda: group_gone(pgid), 10, what="every process of the killed gateway gone")
    gateway.start()
    for c in clients:
        c.join(max(1, deadline - time.monotonic()))
    assert all(not c.is_alive() for c in clients), "load clients did not finish"
    assert len(acked) == LOAD_MESSAGES, f"only {len(acked)} of {LOAD_MESSAGES} accepted after restart"
    assert any(c.errors for c in clients), "the kill did not hit any session in flight"
    maildir = os.path.join(gateway.md_int, "sink@example.com")
    try:
        wait_for(lambda: acked <= delivered_ids(maildir), 90, interval=1,
                 what="every accepted Message-ID delivered")
    except TimeoutError:
        missing = sorted(acked - delivered_ids(maildir))
        lost_at_kill = sorted(acked_at_kill - delivered_ids(maildir))
        raise AssertionError(f"{len(missing)} accepted messages never delivered "
                             f"({len(lost_at_kill)} of them accepted before the kill): {missing[:10]}")
    n_files = len(sgrig.maildir_files(maildir))
    print(f"kill -9 after {len(acked_at_kill)} accepted; {n_files} files for {LOAD_MESSAGES} ids "
          f"({n_files - LOAD_MESSAGES} duplicates)")


def test_sigterm_drains_session_and_exits_0(gateway):
    with RawSMTP(gateway.port) as c:
        c.reply()
        c.cmd("EHLO drain.example.com")
        assert c.cmd("MAIL FROM:<alice@example.com>")[0] == 250
        assert c.cmd("RCPT TO:<bob@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(b"Subject: in flight\r\nMessage-ID: <drain-1@example.com>\r\n\r\nfirst half\r\n")
        os.kill(gateway.proc.pid, signal.SIGTERM)
        gateway.wait_log(r"smtpd\[\d+\]: stopping: waiting for 1 session")  # smtpd is draining
        c.send(b"second half\r\n.\r\n")
        code, text = c.reply()
        assert code == 250, "a session in flight at SIGTERM is finished, not cut: " + text
        c.send(b"QUIT\r\n")
    pgid = gateway.proc.pid
    assert gateway.stop(timeout=20) == 0
    wait_for(lambda: group_gone(pgid), 10, what="every child of the gateway gone")
    # what was accepted before the drain is delivered after the next start
    gateway.start()
    (got,) = wait_maildir(os.path.join(gateway.md_int, "bob@example.com"))
    assert header_values(got, "Message-ID") == [b"<drain-1@example.com>"]
    assert gateway.stop() == 0


def test_check_config_names_key_value_and_range(gw_factory):
    g = gw_factory()
    assert g.cli("check-config").returncode == 0, "a fresh instance is valid"
    # config set refuses the value outright ...
    r = g.cli("config", "set", "smtp.max_message_size", "12")
    assert r.returncode != 0 and "smtp.max_message_size" in r.stdout + r.stderr, r.stderr
    # ... so write it into the file by hand, as an operator with an editor would
    with open(g.conf) as f:
        text = f.read()
    with open(g.conf, "w") as f:
        f.write(_ini_set(text, "smtp", "max_message_size", "12"))
    r = g.cli("check-config")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "smtp.max_message_size" in out and "12" in out, out
    assert "1024" in out and "1073741824" in out, "the allowed range is named: " + out


def _ini_set(text, section, key, value):
    lines, out, cur, done = text.splitlines(), [], None, False
    for line in lines:
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            if cur == section and not done:
                out.append(f"{key} = {value}")
                done = True
            cur = s[1:-1].strip()
        elif cur == section and s.split("=", 1)[0].strip() == key:
            line, done = f"{key} = {value}", True
        out.append(line)
    if not done:
        if cur != section:
            out.append(f"[{section}]")
        out.append(f"{key} = {value}")
    return "\n".join(out) + "\n"
