"""sgrig: the pieces the integration tests drive -- a sealgate instance, ports, Maildirs,
raw SMTP -- kept out of conftest.py so bench/ and a shell can use them too.
Stdlib only (Debian's /usr/bin/python3)."""

import glob
import http.client
import os
import random
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time

import pg_rig

_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEALGATE_BIN = os.environ.get("SEALGATE_BIN", os.path.join(_CHECKOUT, "build", "sealgate"))
# Real third-party messages and keys: $SEALGATE_CORPUS, else ../shared/corpus beside the checkout.
CORPUS = os.environ.get("SEALGATE_CORPUS") or os.path.join(os.path.dirname(_CHECKOUT), "shared",
                                                            "corpus")
DOMAIN = "example.com"
HOSTNAME = "gw.example.com"

_ports_lock = threading.Lock()
_ports_given = set()
_port_cursor = {}


def _port_block():
    """This process's share of the ports below the kernel's ephemeral range (no outgoing
    connection is ever given one of them): pytest-xdist worker gwN of M gets the Nth of M
    blocks, so parallel workers never hand out the same port."""
    lo, hi = 20000, 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = min(hi, int(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (hi - lo) // max(count, 1)
    return lo + index * size, lo + (index + 1) * size


def _bindable(port, kind=socket.SOCK_STREAM):
    """Nobody holds port now (no listener, no connection in TIME_WAIT): bind without
    SO_REUSEADDR succeeds (kind=socket.SOCK_DGRAM: the UDP port)."""
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(lo=None, hi=None):
    """A loopback TCP port nobody holds now and that this process has not handed out, from this
    process's block (or [lo, hi)). Ports are handed out in order from a random start, so another
    process on the machine (another checkout's test run) rarely meets the same one; a gateway
    that still loses a race for its port is restarted on new ones (Gateway.start)."""
    with _ports_lock:
        lo, hi = (lo, hi) if lo is not None else _port_block()
        cursor = _port_cursor.get((lo, hi))
        if cursor is None:
            cursor = random.Random(os.getpid() * 7919 + time.time_ns()).randrange(lo, hi)
        for k in range(hi - lo):
            port = lo + (cursor - lo + k) % (hi - lo)
            if port not in _ports_given and _bindable(port):
                _ports_given.add(port)
                _port_cursor[(lo, hi)] = port + 1 if port + 1 < hi else lo
                return port
    raise RuntimeError(f"no free loopback port in [{lo}, {hi})")


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(pred, timeout, interval=0.1, what="condition"):
    """Poll pred() until it returns a truthy value; return that value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return f"(no log: {e})"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


# ----------------------------------------------------------------------------------------------
# Maildirs


def maildir_files(maildir):
    """Paths of the messages in a Maildir (new/ and cur/), oldest name first."""
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            continue
        out += [os.path.join(d, n) for n in names if not n.startswith(".")]
    return out


def maildir_messages(maildir):
    msgs = []
    for p in maildir_files(maildir):
        with open(p, "rb") as f:
            msgs.append(f.read())
    return msgs


def wait_maildir(maildir, count=1, timeout=20):
    """The messages of a Maildir once it holds at least `count`."""
    wait_for(lambda: len(maildir_files(maildir)) >= count, timeout,
             what=f"{count} message(s) in {maildir}")
    return maildir_messages(maildir)


def split_message(raw):
    """(headers, body) with line ends normalised to LF, split at the first empty line."""
    norm = raw.replace(b"\r\n", b"\n")
    head, sep, body = norm.partition(b"\n\n")
    return head, body


def header_values(raw, name):
    head, _ = split_message(raw)
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    pat = re.compile(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*)$", re.I | re.M)
    return [m.group(1).strip() for m in pat.finditer(unfolded)]


# ----------------------------------------------------------------------------------------------
# Raw SMTP for the tests that must control every byte (pipelining, smuggling)


class RawSMTP:
    """A line-level SMTP client: send exact bytes, read complete (multi-line) replies."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=15):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; partial={self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def reply(self):
        """(code, text of all lines) of one reply."""
        lines = []
        while True:
            line = self._line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        return int(lines[-1][:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def replies_until_close(self, limit=50, timeout=5):
        """Every reply the server sends until it closes, goes quiet for `timeout`, or limit."""
        self.sock.settimeout(timeout)
        out = []
        try:
            for _ in range(limit):
                out.append(self.reply())
        except (ConnectionError, socket.timeout, OSError):
            pass
        return out


# ----------------------------------------------------------------------------------------------
# A sealgate instance

_by_portal_port = {}


def portal_tls(port):
    """(ssl context, hostname) that verify the portal on port as a partner's browser would: the
    instance CA as the only anchor, the instance's hostname checked."""
    g = _by_portal_port.get(port)
    if g is None:
        raise AssertionError(f"no gateway of this test has its portal on {port}")
    return ssl.create_default_context(cafile=g.ca), g.hostname


def https_connection(port, timeout=30, source=None):
    """An http.client connection to the portal on 127.0.0.1:port that verifies its certificate
    (portal_tls) while connecting by address; from the loopback address source if given (the
    portal then sees another client)."""
    ctx, hostname = portal_tls(port)

    class Verified(http.client.HTTPSConnection):
        def connect(self):
            sock = socket.create_connection((self.host, self.port), self.timeout,
                                            source_address=(source, 0) if source else None)
            self.sock = ctx.wrap_socket(sock, server_hostname=hostname)

    return Verified("127.0.0.1", port, context=ctx, timeout=timeout)


class Gateway:
    """One instance directory plus (optionally) a running `sealgate run` on it."""

    def __init__(self, base, name="gw", domains=(DOMAIN,), hostname=HOSTNAME, init_args=()):
        self.dir = os.path.join(base, name)
        self.conf = os.path.join(self.dir, "sealgate.conf")
        self.logpath = os.path.join(base, name + ".log")
        self.proc = None
        self.port = free_port()
        self.ca = os.path.join(self.dir, "ca", "ca.crt")
        self.hostname = hostname
        args = ["init", self.dir, "--hostname", hostname]
        for d in domains:
            args += ["--domain", d]
        r = self.cli(*args, *init_args, conf=False)
        if r.returncode != 0:
            raise RuntimeError(f"sealgate init failed rc={r.returncode}: {r.stdout}{r.stderr}")
        self.ldap_port = free_port()  # every instance runs ldapd too: keep it off 3389
        self.portal_port = free_port()  # and the portal: keep it off 8443
        _by_portal_port[self.portal_port] = self
        self.set(**{"smtp.listen": f"127.0.0.1:{self.port}",
                    "ldap.listen": f"127.0.0.1:{self.ldap_port}",
                    "portal.listen": f"127.0.0.1:{self.portal_port}",
                    "smtp.internal_networks": "127.0.0.1/32",
                    "queue.retry_first": "2s", "queue.retry_max": "4s",
                    "queue.scan_interval": "1s", "queue.connect_timeout": "3s",
                    "queue.smtp_timeout": "20s", "smtp.drain_timeout": "5s"})
        # SEALGATE_TEST_SECCOMP=log runs a suite with the filters logging instead of killing,
        # to collect the calls a role misses (dmesg | grep type=1326; docs/admin-guide.md).
        if os.environ.get("SEALGATE_TEST_SECCOMP"):
            self.set(**{"gateway.seccomp": os.environ["SEALGATE_TEST_SECCOMP"]})
        # SEALGATE_STORE=pgsql: the store in a fresh database of the rig's PostgreSQL (pg_rig.py)
        self.pg_database = None
        if pg_rig.store_is_pgsql():
            self.use_pgsql()

    # -- store

    def use_pgsql(self):
        """Moves this (not yet started) instance's store to a fresh PostgreSQL database."""
        self.release_store()
        self.pg_database = pg_rig.server().create_database()
        self.set(**{"store.database": pg_rig.server().uri(self.pg_database)})

    def use_sqlite(self):
        """Back to the SQLite file init made: for a test of SQLite itself (its files, its lock)."""
        self.set(**{"store.database": "sqlite:sealgate.db"})
        self.release_store()

    def release_store(self):
        """Drops the PostgreSQL database (at teardown, after stop)."""
        if self.pg_database is not None:
            pg_rig.server().drop_database(self.pg_database)
            self.pg_database = None

    def db(self):
        """A connection to the store, whichever engine it is on (sqlite3-style: `with g.db() as c:
        c.execute(sql, params).fetchall()`), for a test that reads or ages rows behind the
        gateway's back."""
        if self.pg_database is not None:
            return pg_rig.Connection(self.pg_database)
        return sqlite3.connect(os.path.join(self.dir, "sealgate.db"), timeout=30)

    def store_bytes(self):
        """Every byte the store's database holds (the SQLite files, or a pg_dump)."""
        if self.pg_database is not None:
            return pg_rig.dump(self.pg_database)
        out = b""
        for path in glob.glob(os.path.join(self.dir, "sealgate.db*")):
            if not os.path.isfile(path):  # the webmail parts' folder: the test reads it
                continue
            with open(path, "rb") as f:
                out += f.read()
        return out

    # -- CLI

    def cli(self, *args, conf=True, timeout=60, input=None):
        argv = [SEALGATE_BIN] + list(args)
        if conf:
            argv += ["-c", self.conf]
        return check_cli(subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                        input=input), argv)

    def set(self, **kv):
        """config set for each key (dotted names need the ** form)."""
        for k, v in kv.items():
            r = self.cli("config", "set", k, str(v))
            if r.returncode != 0:
                raise RuntimeError(f"config set {k} {v} failed: {r.stdout}{r.stderr}")

    def queue(self, *args):
        return self.cli("queue", *args)

    # -- process

    def start(self, timeout=30):
        """Runs the gateway and waits for its banner. A gateway that lost a race for one of its
        ports (another process took it since free_port) is started again on new ports."""
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except RuntimeError as e:
                if attempt == 2 or "cannot bind" not in str(e) or not self._ports_are_ours():
                    raise
                self.port, self.ldap_port, self.portal_port = free_port(), free_port(), free_port()
                _by_portal_port[self.portal_port] = self
                self.set(**{"smtp.listen": f"127.0.0.1:{self.port}",
                            "ldap.listen": f"127.0.0.1:{self.ldap_port}",
                            "portal.listen": f"127.0.0.1:{self.portal_port}"})

    def _ports_are_ours(self):
        """The listen addresses are still the ones this class picked (a test may have set its
        own, which must not be changed behind its back)."""
        want = {"smtp.listen": self.port, "ldap.listen": self.ldap_port,
                "portal.listen": self.portal_port}
        for key, port in want.items():
            r = self.cli("config", "get", key)
            if r.returncode != 0 or r.stdout.strip() != f"127.0.0.1:{port}":
                return False
        return True

    def _start_once(self, timeout):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        logf = open(self.logpath, "ab")
        logf.write(f"===== start {time.strftime('%H:%M:%S')} =====\n".encode())
        logf.flush()
        # Own session = own process group, so kill_all() reaches the master and every child.
        self.proc = subprocess.Popen([SEALGATE_BIN, "run", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sealgate run exited rc={self.proc.returncode} at start:\n"
                                   + tail(self.logpath))
            if self._banner():
                return self
            time.sleep(0.1)
        raise RuntimeError(f"sealgate did not answer on {self.port} within {timeout}s:\n"
                           + tail(self.logpath))

    def _banner(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.settimeout(3)
                data = s.recv(512)
                ok = data.startswith(b"220")
                if ok:
                    s.sendall(b"QUIT\r\n")
                return ok
        except OSError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM the master; SIGKILL the group if it does not exit. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_all()
                return "timeout"
        self._reap_group()
        return self.proc.returncode

    def kill_all(self):
        """kill -9 the whole gateway (master and children) at once."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._reap_group()

    def _reap_group(self):
        # Children left behind by a master that died would hold the port.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=20):
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log()), timeout, what=f"log line /{pattern}/")

    def wait_queue_empty(self, timeout=30):
        """Until `queue list` shows nothing: every accepted message delivered or bounced, so a
        message that should not have been delivered has had every chance to be."""
        wait_for(lambda: "Queue is empty" in self.queue("list").stdout, timeout,
                 what="an empty queue")

    def log_tail(self, lines=60):
        return tail(self.logpath, lines)


# A sanitizer report, a child the master had to restart, or an SQL error (our statement is
# wrong, not the user's input) is a failure of whatever test provoked it, even if the test's
# own assertions held.
PROBLEM_RX = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:"
                        r"|restarting in \d+ ms|exited with status [1-9]|killed by signal"
                        r"|children still running after|error: store: ")


# Only a sanitizer says this: ASan/UBSan exit 1, which is also our CLI's refusal, so a CLI run
# that a test expects to fail could crash unseen without this check.
SANITIZER_RX = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|UndefinedBehaviorSanitizer"
                          r"|runtime error: |SUMMARY: (Address|Undefined|Leak)")


def check_cli(result, argv=None):
    """result (a CompletedProcess of the sealgate CLI, text or bytes) unless its output holds a
    sanitizer report, which fails the test whatever the exit code."""
    out = [result.stdout, result.stderr]
    text = "".join(o.decode("utf-8", "replace") if isinstance(o, bytes) else (o or "") for o in out)
    if SANITIZER_RX.search(text):
        raise AssertionError(f"sanitizer report from {argv or result.args}:\n{text[-4000:]}")
    return result


def run_cli(argv, **kw):
    """subprocess.run of a sealgate CLI command (output captured), checked by check_cli."""
    kw.setdefault("capture_output", True)
    return check_cli(subprocess.run(argv, **kw), argv)


def log_problems(text):
    return [line for line in text.splitlines() if PROBLEM_RX.search(line)]


# sg_log.c: "2026-01-02T03:04:05.678Z sealgate/ROLE[PID]: text" ("sealgate: " for the CLI).
# The master writes its children's stderr in this format too (master_log.c), so a line
# without it is a bug; Gateway.start's marker is ours.
LOG_LINE_RX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sealgate(/[a-z-]+\[\d+\])?: ")
RIG_LINE_RX = re.compile(r"^===== start [0-9:]+ =====$")


def foreign_lines(text):
    """Log lines that are not in our log format."""
    return [line for line in text.splitlines()
            if line and not LOG_LINE_RX.match(line) and not RIG_LINE_RX.match(line)]


QUEUED_RX = re.compile(r"^250 .*queued as ([A-Za-z0-9._-]+)", re.M)


def queued_id(reply_text):
    m = QUEUED_RX.search(reply_text)
    return m.group(1) if m else None
