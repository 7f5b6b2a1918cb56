"""smtpsink: a small SMTP server (stdlib socket + threads) that plays the gateway's next hop.
It answers each RCPT as told (250, 4xx, 550 ...), stores every message it accepts and logs the
client's commands, so tests can assert the exact dialogue."""

import socket
import threading
import time


class Message:
    def __init__(self, mail_from, rcpts, data, mail_params, tls=None):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data            # bytes as sent, dot-unstuffed, CRLF line ends
        self.mail_params = mail_params
        self.tls = tls              # the TLS version when sent under STARTTLS, else None


class SmtpSink:
    """SmtpSink(port).start(); .rcpt_reply(addr) -> "250 2.1.5 Ok" decides each RCPT;
    .data_reply decides the end of DATA. Thread-safe reads via .messages / .commands.
    .tls = an ssl.SSLContext (server side) offers STARTTLS with it."""

    def __init__(self, port, host="127.0.0.1", name="sink.test"):
        self.host, self.port, self.name = host, port, name
        self.rcpt_reply = lambda addr: "250 2.1.5 Ok"
        self.data_reply = "250 2.0.0 Ok: stored"
        self.tls = None
        self.messages = []
        self.commands = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._srv = None
        self._thr = None
        self._conns = set()
        self._stopping = False

    # -- control

    def start(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        s.settimeout(0.2)
        self._srv, self._stopping = s, False
        self._thr = threading.Thread(target=self._accept_loop, daemon=True)
        self._thr.start()
        return self

    def stop(self):
        self._stopping = True
        if self._thr:
            self._thr.join(5)
        if self._srv:
            self._srv.close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self._srv = self._thr = None

    def wait_messages(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"sink :{self.port} got {len(self.messages)} of {count} messages")
                self.cond.wait(left)
            return list(self.messages)

    # -- server

    def _accept_loop(self):
        while not self._stopping:
            try:
                c, _ = self._srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self._conns.add(c)
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        c.settimeout(60)
        conn = {"sock": c, "file": c.makefile("rb"), "tls": None}
        try:
            self._dialogue(conn)
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                self._conns.discard(c)
            try:
                conn["file"].close()
                conn["sock"].close()
            except OSError:
                pass

    def _starttls(self, conn):
        """After "220 Ready": the handshake; a failed one ends the session (OSError)."""
        conn["file"].close()
        conn["sock"] = self.tls.wrap_socket(conn["sock"], server_side=True)
        conn["file"] = conn["sock"].makefile("rb")
        conn["tls"] = conn["sock"].version()

    def _dialogue(self, conn):
        def say(line):
            conn["sock"].sendall(line.encode() + b"\r\n")

        say(f"220 {self.name} ESMTP sink")
        mail_from, rcpts, params = None, [], ""
        while True:
            f = conn["file"]
            raw = f.readline(4096)
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            with self.lock:
                self.commands.append(line)
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                if verb == "HELO":
                    say(f"250 {self.name}")
                else:
                    exts = [self.name, "PIPELINING", "SIZE 104857600", "8BITMIME", "SMTPUTF8",
                            "ENHANCEDSTATUSCODES"]
                    if self.tls is not None and conn["tls"] is None:
                        exts.append("STARTTLS")
                    for ext in exts:
                        say("250-" + ext)
                    say("250 DSN")
            elif verb == "STAR" and line.upper() == "STARTTLS" and self.tls is not None:
                say("220 2.0.0 Ready to start TLS")
                self._starttls(conn)
                mail_from, rcpts = None, []
            elif line.upper().startswith("MAIL FROM:"):
                addr, _, params = line[10:].strip().partition(" ")
                mail_from, rcpts = addr.strip("<>"), []
                say("250 2.1.0 Ok")
            elif line.upper().startswith("RCPT TO:"):
                addr = line[8:].strip().partition(" ")[0].strip("<>")
                reply = self.rcpt_reply(addr)
                if reply.startswith("2"):
                    rcpts.append(addr)
                say(reply)
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    say("554 5.5.1 No valid recipients")
                    continue
                say("354 End data with <CR><LF>.<CR><LF>")
                data = self._read_data(f)
                reply = self.data_reply
                if reply.startswith("2"):
                    with self.cond:
                        self.messages.append(Message(mail_from, rcpts, data, params, conn["tls"]))
                        self.cond.notify_all()
                say(reply)
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                say("250 2.0.0 Ok")
            elif verb == "NOOP":
                say("250 2.0.0 Ok")
            elif verb == "QUIT":
                say("221 2.0.0 Bye")
                return
            else:
                say("502 5.5.2 Command not recognized")

    @staticmethod
    def _read_data(f):
        out = []
        while True:
            raw = f.readline(1 << 20)
            if not raw:
                raise ValueError("eof in DATA")
            if raw == b".\r\n":
                return b"".join(out)
            out.append(raw[1:] if raw.startswith(b".") else raw)
