"""Journal priorities: when stderr is the stream systemd connected to the journal
(JOURNAL_STREAM names its device and inode, systemd.exec(5)), every line the gateway writes
starts with the syslog priority "<N>" (sd-daemon(3)), the master's own lines and the lines it
relays for its children alike, so journald keeps each line's level; on any other stderr the
lines are as before (every other test checks that format)."""
import os
import re
import signal
import subprocess

import sgrig
from sgrig import LOG_LINE_RX

PRIO_RX = re.compile(r"^<([0-7])>(.*)$")


def lines_of(path):
    with open(path, "rb") as f:
        return [l for l in f.read().decode("utf-8", "replace").splitlines() if l]


def test_lines_carry_their_priority_on_the_journal_stream(gw_factory, workdir):
    g = gw_factory()
    g.allowed_problems = re.compile(r"smtpd killed by signal 9|restarting in \d+ ms")
    path = os.path.join(str(workdir), "journal-stream.log")
    with open(path, "wb") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        g.proc = subprocess.Popen([sgrig.SEALGATE_BIN, "run", "-c", g.conf], stdin=subprocess.DEVNULL,
                                  stdout=f, stderr=f, env=env, start_new_session=True)
    smtpd_ready = re.compile(r"^<6>\S+ sealgate/smtpd\[(\d+)\]: ready")
    pid = sgrig.wait_for(lambda: next((int(m.group(1)) for m in map(smtpd_ready.match, lines_of(path))
                                       if m), None), 60, what="smtpd's ready line with <6>")
    # An unexpected child exit is the master's own warning: priority 4.
    os.kill(pid, signal.SIGKILL)
    sgrig.wait_for(lambda: any(re.match(r"^<4>\S+ sealgate/master\[\d+\]: warning: smtpd killed by signal 9", l)
                               for l in lines_of(path)), 30, what="the master's warning with <4>")
    assert g.stop() == 0
    lines = lines_of(path)
    for line in lines:
        m = PRIO_RX.match(line)
        assert m and LOG_LINE_RX.match(m.group(2)), f"not a journal line: {line!r}"
        tagged = {"<4>": "warning: ", "<3>": "error: ", "<7>": "debug: "}.get(line[:3])
        body = m.group(2).split(": ", 1)[1]
        assert tagged is None or body.startswith(tagged), f"priority does not match: {line!r}"
        assert line[:3] != "<6>" or not body.startswith(("warning: ", "error: ")), line


def test_lines_are_unchanged_when_stderr_is_not_the_journal(gw_factory, monkeypatch):
    """JOURNAL_STREAM inherited (a shell started under systemd) with stderr redirected to a
    file: no prefix (the fixture's teardown fails on any line outside the log format)."""
    monkeypatch.setenv("JOURNAL_STREAM", "1:1")
    g = gw_factory().start()
    g.wait_log(r"smtpd\[\d+\]: ready", 30)
    assert not [l for l in g.log().splitlines() if l.startswith("<")]
