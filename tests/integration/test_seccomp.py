"""seccomp per role (gateway.seccomp): every child runs under its filter once it serves
(/proc/PID/status says "Seccomp: 2"), none with gateway.seccomp = off; a role that makes a call
outside its list is killed (SIGSYS), the master says so and restarts it, and mail still flows.
The forbidden call comes from a debug hook of test builds: SIGUSR2 makes a role call add_key."""

import os
import re
import signal
import smtplib

from sgrig import wait_for, wait_maildir

ROLES = ("keyd", "smtpd", "qmgr", "ldapd", "portal", "tick", "metrics")


def ready_pids(g):
    """{role: pid} of the newest child of each role that said it serves."""
    found = {}
    for role, pid in re.findall(r"sealgate/([a-z]+)\[(\d+)\]: ready: ", g.log()):
        found[role] = int(pid)
    return found


def wait_all_ready(g, previous=None):
    """Waits until every role has a ready child (other than those in previous); {role: pid}."""
    previous = previous or {}

    def fresh():
        now = ready_pids(g)
        return all(r in now and now[r] != previous.get(r) for r in ROLES)

    wait_for(fresh, 60, what="every role ready")
    return ready_pids(g)


def seccomp_state(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^Seccomp:\s+(\d+)", f.read(), re.M).group(1))


def send(port, subject):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("alice@example.com", ["bob@example.com"], f"Subject: {subject}\r\n\r\nbody\r\n")


def test_every_child_runs_filtered_and_mail_flows(gateway):
    pids = wait_all_ready(gateway)
    for role, pid in pids.items():
        assert seccomp_state(pid) == 2, f"{role} (pid {pid}) runs without its seccomp filter"
    assert seccomp_state(gateway.proc.pid) == 0, "the master stays unfiltered (it starts children)"
    send(gateway.port, "filtered")
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)


def started_with(gw_factory, workdir, mode, allowed=None):
    """A running gateway with Maildir routes and gateway.seccomp = mode."""
    from conftest import maildir_routes
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"gateway.seccomp": mode})
    g.allowed_problems = allowed
    return g.start()


def test_off_leaves_every_child_unfiltered(gw_factory, workdir):
    g = started_with(gw_factory, workdir, "off")
    for role, pid in wait_all_ready(g).items():
        assert seccomp_state(pid) == 0, f"{role} is filtered although gateway.seccomp = off"


def test_forbidden_call_kills_the_role_and_the_master_restarts_it(gateway):
    gateway.allowed_problems = re.compile(
        r"(keyd|smtpd|qmgr|ldapd|portal|tick|metrics) killed by seccomp \(SIGSYS\)")
    before = wait_all_ready(gateway)
    for pid in before.values():
        os.kill(pid, signal.SIGUSR2)
    for role in ROLES:
        gateway.wait_log(rf"{role} killed by seccomp \(SIGSYS\): a system call outside its "
                         rf"filter .* after \d+ ms; restarting in \d+ ms", timeout=60)
    after = wait_all_ready(gateway, before)
    for role, pid in after.items():
        assert seccomp_state(pid) == 2, f"the restarted {role} runs without its filter"
    send(gateway.port, "after the kill")
    wait_maildir(os.path.join(gateway.md_int, "bob@example.com"), 1)


def test_log_mode_lets_the_call_through_and_keeps_the_role(gw_factory, workdir):
    g = started_with(gw_factory, workdir, "log",
                     re.compile(r"seccomp: calls outside the [a-z]+ filter are logged"))
    pids = wait_all_ready(g)
    g.wait_log(r"sealgate/smtpd\[\d+\]: .*seccomp: calls outside the smtpd filter are logged")
    assert seccomp_state(pids["smtpd"]) == 2
    os.kill(pids["smtpd"], signal.SIGUSR2)
    send(g.port, "log mode")  # served by the same smtpd: the call was logged, not fatal
    wait_maildir(os.path.join(g.md_int, "bob@example.com"), 1)
    assert ready_pids(g)["smtpd"] == pids["smtpd"]
    assert "killed by seccomp" not in g.log()
