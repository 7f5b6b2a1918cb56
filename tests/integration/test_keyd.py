"""The key process (keyd): only keyd opens the master key file (qmgr, the portal and tick ask
keyd instead: restarted after the file was moved away, they still start and sign; none maps or
holds the file); it has no network socket and runs under its own seccomp filter; kill -9 of keyd
under S/MIME load loses no message (calls in flight fail as temporary, qmgr defers and
retries, the master restarts keyd onto the same sockets); a raw request with a bad length, an
unknown operation or one not on the client's allow-list (sent by a debug hook of test builds:
SIGRTMIN+1..3 in a client role) is refused, logged, and that client is not served further."""

import os
import re
import signal
import threading

import pytest

from sgrig import maildir_messages, wait_for, wait_maildir
from test_seccomp import ready_pids
from test_smime_flow import partner, send, smime_gw  # noqa: F401 (fixtures)

ROLES = ("keyd", "smtpd", "qmgr", "ldapd", "portal", "tick", "metrics")


def wait_ready(g, roles=ROLES, previous=None):
    previous = previous or {}

    def fresh():
        now = ready_pids(g)
        return all(r in now and now[r] != previous.get(r) for r in roles)

    wait_for(fresh, 90, what=f"{', '.join(roles)} ready")
    return ready_pids(g)


def master_key(g):
    return os.path.join(g.dir, g.cli("config", "get", "gateway.master_key").stdout.strip())


def fd_targets(pid):
    d = f"/proc/{pid}/fd"
    out = []
    for n in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, n)))
        except OSError:
            pass
    return out


def inet_inodes():
    inodes = set()
    for name in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        with open(f"/proc/net/{name}") as f:
            for line in f.readlines()[1:]:
                inodes.add(line.split()[9])
    return inodes


def test_only_keyd_opens_the_master_key_and_it_has_no_network(smime_gw, partner):  # noqa: F811
    g = smime_gw
    g.allowed_problems = re.compile(r"(qmgr|portal|tick) killed by signal 9")
    pids = wait_ready(g)
    key = master_key(g)
    for role, pid in pids.items():
        with open(f"/proc/{pid}/maps") as f:
            assert key not in f.read(), f"{role} maps the master key file"
        assert key not in fd_targets(pid), f"{role} holds the master key file open"
        with open(f"/proc/{pid}/status") as f:
            assert re.search(r"^Seccomp:\s+2", f.read(), re.M), f"{role} runs unfiltered"
    sockets = {t[len("socket:["):-1] for t in fd_targets(pids["keyd"]) if t.startswith("socket:")}
    assert sockets, "keyd holds no socket at all"
    assert not sockets & inet_inodes(), "keyd holds an internet socket"
    # Once keyd has read it, the file may go: qmgr, the portal and tick, restarted without it,
    # start and sign through keyd. A role that read the file itself would not start.
    os.rename(key, key + ".away")
    try:
        for role in ("qmgr", "portal", "tick"):
            os.kill(pids[role], signal.SIGKILL)
        wait_ready(g, ("qmgr", "portal", "tick"), pids)
        send(g.port, ["bob@partner.test"], "[secure] without the file", body="figure 7\r\n")
        box = os.path.join(g.md_ext, "bob@partner.test")
        wait_maildir(box, 1, timeout=60)
        assert b"application/pkcs7-mime" in maildir_messages(box)[0]
    finally:
        os.rename(key + ".away", key)


def send_load(port, count, errors):
    for i in range(count):
        try:
            send(port, ["bob@partner.test"], f"[secure] load {i}", body=f"figure {i}\r\n")
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))


def test_keyd_killed_under_smime_load_loses_no_message(smime_gw, partner):  # noqa: F811
    g = smime_gw
    g.allowed_problems = re.compile(r"keyd killed by signal 9|key process|keyd")
    count = 30
    errors = []
    load = threading.Thread(target=send_load, args=(g.port, count, errors))
    load.start()
    box = os.path.join(g.md_ext, "bob@partner.test")
    previous = wait_ready(g, ("keyd",))
    for _ in range(3):  # while the messages are being signed and encrypted
        wait_for(lambda: len(maildir_messages(box)) > 0 or not load.is_alive(), 60,
                 what="the first message through")
        os.kill(previous["keyd"], signal.SIGKILL)
        previous = wait_ready(g, ("keyd",), previous)
    load.join(120)
    assert not errors, errors
    wait_maildir(box, count, timeout=180)
    numbers = {int(m.group(1)) for raw in maildir_messages(box)
               for m in [re.search(rb"^Subject: load (\d+)", raw, re.M)] if m}
    assert numbers == set(range(count)), f"missing: {set(range(count)) - numbers}"
    for raw in maildir_messages(box):
        assert b"application/pkcs7-mime" in raw and b"figure " not in raw
    g.wait_queue_empty(60)
    assert len(re.findall(r"keyd killed by signal 9", g.log())) >= 3


@pytest.mark.parametrize("which,why", [
    (1, r"malformed request: seal"),
    (2, r"unknown operation: unknown \(op 200\)"),
    (3, r"operation not allowed for this client: ca-issue"),
])
def test_bad_request_is_refused_logged_and_client_cut_off(smime_gw, partner, which, why):  # noqa: F811
    g = smime_gw
    g.allowed_problems = re.compile(r"keyd|key process")
    pids = wait_ready(g)
    send(g.port, ["bob@partner.test"], "[secure] before", body="before\r\n")
    box = os.path.join(g.md_ext, "bob@partner.test")
    wait_maildir(box, 1, timeout=60)
    assert g.cli("cert", "issue", "carol@example.com").returncode == 0
    os.kill(pids["qmgr"], signal.SIGRTMIN + which)
    g.wait_log(rf"keyd\[\d+\]: .*refused a request of qmgr \({why}.*qmgr is cut off", timeout=30)
    # qmgr is served no more: carol's key (in no cache of qmgr yet) cannot be opened, so her
    # message is deferred, not sent unsigned and not lost
    send(g.port, ["bob@partner.test"], "[secure] after", body="after\r\n",
         sender="carol@example.com")
    g.wait_log(r"cannot open the signing key: key process: this process was cut off by keyd",
               timeout=60)
    assert len(maildir_messages(box)) == 1
    assert "carol@example.com" in g.queue("list").stdout
    # keyd itself lives on (the portal and tick are still served)
    assert ready_pids(g)["keyd"] == pids["keyd"]
