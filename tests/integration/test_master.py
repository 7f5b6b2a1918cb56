"""The master: a child that dies is logged and restarted; SIGHUP re-reads the configuration,
keeps the running one when the new file is invalid, and re-binds a changed listen address."""

import os
import re
import signal
import smtplib

import sgrig
from sgrig import RawSMTP, wait_for, wait_maildir

PID_RX = r"started {role} \(pid (\d+)\)"


def child_pids(g, role):
    return [int(p) for p in re.findall(PID_RX.format(role=role), g.log())]


def ehlo_size(port):
    """The SIZE advertised, or None; a draining smtpd may answer 421 during a reload."""
    try:
        with RawSMTP(port) as c:
            c.reply()
            text = c.cmd("EHLO probe.example")
            c.cmd("QUIT")
    except OSError:
        return None
    m = re.search(r"SIZE (\d+)", text[1])
    return int(m.group(1)) if m else None


def send(port, rcpt="bob@example.com", subject="master test"):
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.sendmail("alice@example.com", [rcpt], f"Subject: {subject}\r\n\r\nbody\r\n")


def test_crashed_child_is_restarted_and_mail_still_flows(gateway):
    gateway.allowed_problems = re.compile(r"smtpd killed by signal 9|qmgr killed by signal 9|"
                                          r"restarting in \d+ ms")
    smtpd = child_pids(gateway, "smtpd")[-1]
    qmgr = child_pids(gateway, "qmgr")[-1]
    os.kill(smtpd, signal.SIGKILL)
    os.kill(qmgr, signal.SIGKILL)
    gateway.wait_log(r"smtpd killed by signal 9 .*restarting in \d+ ms")
    gateway.wait_log(r"qmgr killed by signal 9 .*restarting in \d+ ms")
    wait_for(lambda: len(child_pids(gateway, "smtpd")) == 2 and len(child_pids(gateway, "qmgr")) == 2,
             15, what="both children restarted")
    # The listening socket belongs to the master: the restarted smtpd serves the same port.
    send(gateway.port)
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)


def test_sighup_applies_a_valid_configuration(gateway):
    assert ehlo_size(gateway.port) == 52428800
    gateway.set(**{"smtp.max_message_size": "1M"})
    os.kill(gateway.proc.pid, signal.SIGHUP)
    gateway.wait_log(r"SIGHUP: configuration re-read")
    wait_for(lambda: ehlo_size(gateway.port) == 1048576, 15, what="new SIZE advertised")
    send(gateway.port, subject="after reload")
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)
    assert gateway.running()


def test_sighup_keeps_running_configuration_when_file_is_invalid(gateway):
    before = set(child_pids(gateway, "smtpd"))
    with open(gateway.conf, "a") as f:
        f.write("\n[smtp]\nmax_recipients = lots\n")
    os.kill(gateway.proc.pid, signal.SIGHUP)
    gateway.wait_log(r"keeping the running configuration")
    assert "smtp.max_recipients = 'lots'" in gateway.log()
    send(gateway.port)  # served after the SIGHUP was handled: by the same smtpd
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)
    assert set(child_pids(gateway, "smtpd")) == before, "children must not be restarted"
    # Repair the file so that teardown's SIGTERM path sees a sane instance.
    gateway.set(**{"smtp.max_recipients": "100"})


def test_sighup_rebinds_a_changed_listen_address(gateway):
    new_port = sgrig.free_port()
    gateway.set(**{"smtp.listen": f"127.0.0.1:{new_port}"})
    os.kill(gateway.proc.pid, signal.SIGHUP)
    wait_for(lambda: sgrig.port_open(new_port), 15, what="new listen port")
    wait_for(lambda: not sgrig.port_open(gateway.port), 15, what="old port closed")
    send(new_port)
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)
    gateway.port = new_port


def test_restarted_child_uses_the_validated_configuration(gateway):
    """A child restarted after the file was edited badly still runs the configuration the
    master validated, instead of failing to start."""
    gateway.allowed_problems = re.compile(r"qmgr killed by signal 9|restarting in \d+ ms")
    with open(gateway.conf, "a") as f:
        f.write("\n[smtp]\nmax_recipients = lots\n")
    os.kill(child_pids(gateway, "qmgr")[-1], signal.SIGKILL)
    wait_for(lambda: len(child_pids(gateway, "qmgr")) == 2, 15, what="qmgr restarted")
    send(gateway.port)
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)
    assert "is not valid" not in gateway.log()
    gateway.set(**{"smtp.max_recipients": "100"})
