#!/usr/bin/python3
"""postfix_rig: a private Postfix 3.7 instance in a directory of our own (notes/test-rig.md
part d): its smtpd on one loopback port, virtual(8) Maildirs for the domains we give it and,
optionally, a relayhost for everything else. Run as root; nothing touches /etc/postfix.

As a program (used by bench/run.sh):
  postfix_rig.py start DIR PORT [--relay HOST:PORT] [--domain D --user LOCAL ...]
  postfix_rig.py stop DIR
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

MASTER_CF_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixError(RuntimeError):
    pass


def require_postfix():
    if shutil.which("postfix") is None and not os.path.exists("/usr/sbin/postfix"):
        raise PostfixError("Postfix is not installed: run scripts/deps.sh (make deps) first; "
                           "the integration tests and the benchmark need a real Postfix")
    if os.geteuid() != 0:
        raise PostfixError("the private Postfix instance needs root (it delivers as uid 65534)")


def _run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


class Postfix:
    """Postfix(base, port, mailboxes={"example.com": ["alice"]}, relay="127.0.0.1:2525").

    Mail for a domain in `mailboxes` goes to base/mail/<domain>/<user>/ (Maildir); anything
    else to `relay` if given."""

    def __init__(self, base, port, mailboxes=None, relay=None, message_size_limit=52428800,
                 extra_main=None, content_filter=None, reinject_port=None):
        require_postfix()
        self.base = os.path.abspath(base)
        self.port = port
        self.mailboxes = mailboxes or {}
        self.relay = relay
        self.etc = os.path.join(self.base, "etc")
        self.spool = os.path.join(self.base, "spool")
        self.data = os.path.join(self.base, "data")
        self.mail = os.path.join(self.base, "mail")
        self.maillog = os.path.join(self.base, "maillog")
        self.size_limit = message_size_limit
        self.extra_main = extra_main or {}
        # after-queue content filter (the gateway behind Postfix): port -> filter -> reinject_port
        self.content_filter = content_filter
        self.reinject_port = reinject_port
        self.started = False

    def maildir(self, address):
        local, _, domain = address.partition("@")
        return os.path.join(self.mail, domain, local)

    # -- configuration

    def write_config(self):
        for d in (self.etc, self.spool, self.data, self.mail):
            os.makedirs(d, exist_ok=True)
        shutil.chown(self.data, "postfix", "postfix")
        shutil.chown(self.spool, "root", "root")
        os.chmod(self.spool, 0o755)
        os.chmod(self.base, 0o755)
        shutil.chown(self.mail, "nobody", "nogroup")   # virtual(8) delivers as 65534, never root
        self._write("vmailbox", "".join(f"{u}@{d} {d}/{u}/\n"
                                        for d, users in self.mailboxes.items() for u in users))
        self._tls_cert()
        self._write("main.cf", self._main_cf())
        self._write("master.cf", f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                    + self._filter_services() + MASTER_CF_SERVICES)

    def _filter_services(self):
        if not self.content_filter:
            return ""
        # the re-injection listener must carry "-o content_filter=", or mail loops
        return (f"127.0.0.1:{self.reinject_port} inet n - n - - smtpd\n"
                "  -o content_filter=\n"
                "  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters\n"
                "  -o smtpd_helo_restrictions= -o smtpd_client_restrictions= -o smtpd_sender_restrictions=\n"
                "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
                "  -o mynetworks=127.0.0.0/8 -o smtpd_authorized_xforward_hosts=127.0.0.0/8\n"
                "  -o smtpd_tls_security_level=none\n"
                "scan      unix  -       -       n       -       10      smtp\n"
                "  -o smtp_send_xforward_command=yes -o disable_mime_output_conversion=yes\n"
                "  -o smtp_generic_maps=\n")

    def _write(self, name, text):
        with open(os.path.join(self.etc, name), "w") as f:
            f.write(text)

    def _tls_cert(self):
        crt, key = os.path.join(self.etc, "tls.crt"), os.path.join(self.etc, "tls.key")
        if os.path.exists(crt):
            return
        r = _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-days", "30", "-subj", "/CN=mx.rig.test", "-keyout", key, "-out", crt])
        if r.returncode != 0:
            raise PostfixError("openssl req failed: " + r.stderr)

    def _main_cf(self):
        b = self.base
        domains = " ".join(sorted(self.mailboxes))
        conf = {
            "compatibility_level": "3.6",
            "config_directory": self.etc,
            "queue_directory": self.spool,
            "data_directory": self.data,
            "maillog_file_prefixes": b,           # maillog_file must match one of these
            "maillog_file": self.maillog,
            "myhostname": "mx.rig.test",
            "mydomain": "rig.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "alias_maps": "",                     # else /etc/aliases.db and NIS errors
            "alias_database": "",
            "local_recipient_maps": "",
            "virtual_mailbox_domains": domains,
            "virtual_mailbox_base": self.mail,
            # texthash: regexp $1 substitution is refused for virtual_mailbox_maps
            "virtual_mailbox_maps": f"texthash:{self.etc}/vmailbox",
            "virtual_uid_maps": "static:65534",
            "virtual_gid_maps": "static:65534",
            "relayhost": f"[{self.relay.rpartition(':')[0]}]:{self.relay.rpartition(':')[2]}"
                         if self.relay else "",
            "queue_run_delay": "5s",
            "service_throttle_time": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": f"{self.etc}/tls.crt",
            "smtpd_tls_key_file": f"{self.etc}/tls.key",
            # Say in the Received line and the log whether a client used TLS (tests assert it).
            "smtpd_tls_received_header": "yes",
            "smtpd_tls_loglevel": "1",
            "message_size_limit": str(self.size_limit),
            "virtual_mailbox_limit": "0",         # must be >= message_size_limit or virtual(8) dies
            "smtputf8_enable": "yes",
            "biff": "no",
        }
        if self.content_filter:
            host, _, port = self.content_filter.rpartition(":")
            conf["content_filter"] = f"scan:[{host}]:{port}"
            conf["scan_destination_recipient_limit"] = "1"
        conf.update(self.extra_main)
        return "".join(f"{k} = {v}\n" for k, v in conf.items())

    # -- process

    def _script(self, cmd):
        """Run a postfix command on a pseudo-tty: without tty and syslog its errors print nothing."""
        return _run(["script", "-qec", cmd, "/dev/null"])

    def check(self):
        r = self._script(f"postfix -c {self.etc} check")
        if r.returncode != 0:
            raise PostfixError(f"postfix check failed rc={r.returncode}:\n{r.stdout}{r.stderr}"
                               + self.log_tail())

    def start(self, timeout=15):
        self.write_config()
        self.check()
        self.started = True   # from here on stop() must run, even if start fails half-way
        r = self._script(f"postfix -c {self.etc} start")
        if r.returncode != 0:
            raise PostfixError(f"postfix start failed rc={r.returncode}:\n{r.stdout}{r.stderr}"
                               + self.log_tail())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _port_answers(self.port):
                return self
            time.sleep(0.1)
        raise PostfixError(f"postfix smtpd did not answer on {self.port}\n" + self.log_tail())

    def master_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout=10):
        """postfix stop, then wait for the master to vanish; SIGKILL it by its PID if it won't."""
        if not self.started:
            return
        pid = self.master_pid()
        self._script(f"postfix -c {self.etc} stop")
        deadline = time.monotonic() + timeout
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and _alive(pid):
            os.kill(pid, 9)
        self.started = False

    def queue_listing(self):
        return _run(["postqueue", "-c", self.etc, "-p"]).stdout

    def flush(self):
        _run(["postqueue", "-c", self.etc, "-f"])

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=40):
        try:
            with open(self.maillog, errors="replace") as f:
                return "\n--- postfix maillog tail ---\n" + "".join(f.readlines()[-lines:])
        except OSError:
            return "\n(no postfix maillog)"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _port_answers(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(3)
            return s.recv(64).startswith(b"220")
    except OSError:
        return False


def main(argv):
    ap = argparse.ArgumentParser(description="private Postfix instance for tests and benchmarks")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start")
    st.add_argument("dir")
    st.add_argument("port", type=int)
    st.add_argument("--relay", help="HOST:PORT for all non-mailbox domains")
    st.add_argument("--domain", action="append", default=[])
    st.add_argument("--user", action="append", default=[])
    st.add_argument("--set", action="append", default=[], help="extra main.cf KEY=VALUE")
    sp = sub.add_parser("stop")
    sp.add_argument("dir")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "start":
            extra = dict(kv.split("=", 1) for kv in a.set)
            p = Postfix(a.dir, a.port, {d: a.user for d in a.domain}, a.relay, extra_main=extra)
            p.start()
            print(p.master_pid())
        else:
            p = Postfix(a.dir, 0)
            p.started = True
            p.stop()
    except PostfixError as e:
        print(f"postfix_rig: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
