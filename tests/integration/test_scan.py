"""Virus scanning by a real clamd (issue 25): the test starts clamd (clamav-daemon) with a
signature database of its own (an .hdb with the EICAR test file's MD5; nothing downloaded,
freshclam never runs). EICAR inside an S/MIME-encrypted attachment to an internal user is held
in the quarantine (with an audit entry) or tagged, per scan.action; clean mail is marked clean;
with clamd stopped mail waits in the queue and is delivered once clamd is back; outbound EICAR
with scan.outbound is refused with a DSN naming the signature; a clamd that answers garbage or
hangs gives a clear error and the mail waits, nothing lost."""

import base64
import os
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import threading

import pytest

import sgrig
from sgrig import maildir_files, maildir_messages, wait_for, wait_maildir

EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIGNATURE = "Sealgate-Test-EICAR.UNOFFICIAL"
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"


def clamd_answers(sock, timeout=2):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


class Clamd:
    """clamd in the foreground on a Unix socket, with a one-signature database."""

    def __init__(self, base):
        self.dir = os.path.join(base, "clamd")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        import hashlib
        with open(os.path.join(self.dir, "db", "test.hdb"), "w") as f:
            f.write(f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Sealgate-Test-EICAR\n")
        self.sock = os.path.join(self.dir, "clamd.sock")
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write(f"LocalSocket {self.sock}\nDatabaseDirectory {self.dir}/db\nForeground yes\n"
                    f"LogFile {self.dir}/clamd.log\nLogTime yes\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([CLAMD, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: clamd_answers(self.sock), 120, what="clamd answering PING")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None
        wait_for(lambda: not clamd_answers(self.sock, timeout=0.5), 10, what="clamd gone")


@pytest.fixture
def clamd(workdir):
    c = Clamd(str(workdir)).start()
    yield c
    c.stop()


@pytest.fixture
def scan_gw(gw_factory, workdir, clamd):
    from conftest import maildir_routes
    g = gw_factory()
    g.md_int, g.md_ext = maildir_routes(g, str(workdir))
    g.set(**{"scan.clamd": f"unix:{clamd.sock}", "scan.timeout": "5s"})
    r = g.cli("cert", "issue", "alice@example.com")
    assert r.returncode == 0, r.stderr
    (workdir / "alice.crt").write_text(g.cli("cert", "export", "alice@example.com").stdout)
    return g


def mime_with(attachment, text="see attached"):
    return (b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n"
            b"Content-Type: text/plain\r\n\r\n" + text.encode() + b"\r\n--b1\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=file.com\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(attachment)
            .replace(b"\n", b"\r\n") + b"--b1--\r\n")


def send_encrypted(g, workdir, attachment, subject):
    """A partner's S/MIME mail to alice (encrypted to her gateway-held certificate), from an
    external address: the organisation's scanner upstream saw only ciphertext."""
    (workdir / "content.eml").write_bytes(mime_with(attachment))
    enc = subprocess.run(["openssl", "cms", "-encrypt", "-in", str(workdir / "content.eml"),
                          "-aes256", "-from", "bob@partner.test", "-to", "alice@example.com",
                          "-subject", subject, str(workdir / "alice.crt")],
                         capture_output=True, check=True).stdout
    assert EICAR not in enc
    enc = enc.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30, source_address=("127.0.0.2", 0)) as s:
        s.sendmail("bob@partner.test", ["alice@example.com"], enc)


def alice_box(g):
    return os.path.join(g.md_int, "alice@example.com")


def test_infected_inbound_is_held_and_clean_marked(scan_gw, workdir):
    g = scan_gw.start()
    send_encrypted(g, workdir, EICAR, "infected")
    g.wait_log(r"virus scan: infected \(Sealgate-Test-EICAR\.UNOFFICIAL\)")
    g.wait_queue_empty()
    send_encrypted(g, workdir, b"harmless bytes\r\n", "clean")
    wait_maildir(alice_box(g), 1)
    g.wait_queue_empty()
    msgs = maildir_messages(alice_box(g))
    assert len(msgs) == 1, "the infected message was delivered"
    assert b"X-Sealgate-Scan: clean (clamd)" in msgs[0] and b"see attached" in msgs[0]
    listing = g.cli("quarantine", "list").stdout
    assert SIGNATURE in listing and "alice@example.com" in listing, listing
    qid = listing.split()[0]
    shown = g.cli("quarantine", "show", qid)
    assert shown.returncode == 0 and "Subject: infected" in shown.stdout, shown.stderr
    audit = g.cli("audit").stdout
    assert "virus-held" in audit and SIGNATURE in audit, audit
    assert g.cli("quarantine", "delete", qid).returncode == 0
    assert g.cli("quarantine", "list").stdout == ""


def test_infected_inbound_is_tagged(scan_gw, workdir):
    scan_gw.set(**{"scan.action": "tag"})
    g = scan_gw.start()
    send_encrypted(g, workdir, EICAR, "tagged")
    wait_maildir(alice_box(g), 1)
    raw = maildir_messages(alice_box(g))[0]
    assert re.search(rb"^X-Sealgate-Scan: infected \(Sealgate-Test-EICAR\.UNOFFICIAL\)$", raw,
                     re.M), raw[:800]
    assert b"clean (clamd)" not in raw


def test_infected_inbound_is_rejected(scan_gw, workdir):
    scan_gw.set(**{"scan.action": "reject"})
    g = scan_gw.start()
    send_encrypted(g, workdir, EICAR, "rejected")
    box = os.path.join(g.md_ext, "bob@partner.test")
    wait_maildir(box, 1)
    dsn = maildir_messages(box)[0]
    assert b"multipart/report" in dsn and SIGNATURE.encode() in dsn, dsn[:1500]
    g.wait_queue_empty()
    assert maildir_files(alice_box(g)) == []


def test_clamd_down_defers_then_delivers(scan_gw, clamd, workdir):
    g = scan_gw.start()
    clamd.stop()
    send_encrypted(g, workdir, b"nothing bad\r\n", "while down")
    g.wait_log(r"virus scan failed: clamd unreachable at unix:")
    g.wait_log(r"status=deferred \(not delivered yet: the virus scanner could not scan it")
    assert maildir_files(alice_box(g)) == []
    clamd.start()
    g.queue("flush")
    wait_maildir(alice_box(g), 1, timeout=60)
    assert b"X-Sealgate-Scan: clean (clamd)" in maildir_messages(alice_box(g))[0]


def test_outbound_eicar_is_refused_with_dsn_naming_it(scan_gw, workdir):
    scan_gw.set(**{"scan.outbound": "yes"})
    g = scan_gw.start()
    msg = (b"From: alice@example.com\r\nTo: carol@partner.test\r\nSubject: outbound\r\n"
           b"MIME-Version: 1.0\r\n" + mime_with(EICAR))
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
        s.sendmail("alice@example.com", ["carol@partner.test"], msg)
    wait_maildir(alice_box(g), 1)
    dsn = maildir_messages(alice_box(g))[0]
    assert b"multipart/report" in dsn and SIGNATURE.encode() in dsn, dsn[:1500]
    g.wait_queue_empty()
    assert maildir_files(os.path.join(g.md_ext, "carol@partner.test")) == []


class FakeClamd:
    """A Unix-socket server that answers every scan with garbage, or never answers."""

    def __init__(self, path, mode):
        self.path, self.mode = path, mode
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(8)
        self.conns = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.srv.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                c, _ = self.srv.accept()
            except OSError:
                continue
            self.conns.append(c)
            c.settimeout(5)
            try:
                c.recv(65536)
                if self.mode == "garbage":
                    c.sendall(b"\x01\xffstream: maybe?\0")
                    c.close()
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.srv.close()


@pytest.mark.parametrize("mode,error", [("garbage", r"clamd answered something unexpected"),
                                        ("hang", r"clamd did not answer within scan\.timeout")])
def test_bad_clamd_gives_clear_error_and_loses_nothing(scan_gw, clamd, workdir, mode, error):
    fake = FakeClamd(str(workdir / "fake.sock"), mode)
    try:
        scan_gw.set(**{"scan.clamd": f"unix:{workdir / 'fake.sock'}", "scan.timeout": "2s"})
        g = scan_gw.start()
        send_encrypted(g, workdir, b"fine\r\n", "bad scanner")
        g.wait_log(r"virus scan failed: " + error, timeout=60)
        assert maildir_files(alice_box(g)) == []
        assert "alice@example.com" in g.queue("list").stdout
    finally:
        fake.close()
    g.stop()
    g.set(**{"scan.clamd": f"unix:{clamd.sock}"})
    g.start()
    g.queue("flush")
    wait_maildir(alice_box(g), 1, timeout=60)
    assert b"X-Sealgate-Scan: clean (clamd)" in maildir_messages(alice_box(g))[0]


def test_quarantine_release_delivers_unscanned_tagged_with_audit(scan_gw, workdir):
    """A false positive: the admin releases it; it reaches alice once, not scanned again (it
    would only be held again), tagged as released, the audit naming the admin; the row goes."""
    g = scan_gw.start()
    send_encrypted(g, workdir, EICAR, "false positive")
    g.wait_log(r"virus scan: infected \(Sealgate-Test-EICAR\.UNOFFICIAL\)")
    g.wait_queue_empty()
    qid = g.cli("quarantine", "list").stdout.split()[0]
    assert g.cli("quarantine", "release", "999").returncode != 0   # no such row: said, nothing done
    r = g.cli("quarantine", "release", qid)
    assert r.returncode == 0, r.stderr
    assert f"quarantine {qid} released to alice@example.com" in r.stdout, r.stdout
    wait_maildir(alice_box(g), 1)
    g.wait_queue_empty()
    msgs = maildir_messages(alice_box(g))
    assert len(msgs) == 1 and b"Subject: false positive" in msgs[0]
    assert b"X-Sealgate-Scan: released (held as infected, released unscanned by an admin)" in msgs[0]
    assert b"X-Sealgate-Scan: clean" not in msgs[0] and EICAR in base64.b64decode(
        re.search(rb"filename=file.com\r?\n.*?\r?\n\r?\n(.*?)\r?\n--b1--", msgs[0], re.S).group(1))
    assert len(re.findall(r"virus scan: infected", g.log())) == 1   # not scanned again
    assert g.cli("quarantine", "list").stdout == ""
    audit = g.cli("audit").stdout
    released = [l for l in audit.splitlines() if "virus-released" in l]
    assert len(released) == 1 and "alice@example.com" in released[0] and "cli:" in released[0] \
        and SIGNATURE in released[0], audit
    assert g.cli("quarantine", "release", qid).returncode != 0     # gone: a second release fails
