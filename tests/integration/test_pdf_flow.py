"""SecurePDF on the mail path, checked with real readers (qpdf, pdftotext, pdfdetach, pdfinfo,
pdf.js): a registered partner without certificate or key receives tagged mail as an AES-256 PDF
that opens with their own password, with the attachments inside and a Reply link; weak passwords
are refused with a reason; every recipient gets a PDF of its own; hide_subject hides the subject;
an attachment too big for policy.max_encrypted_size gives the sender a DSN, not a crash."""

import email
import fcntl
import os
import shutil
import smtplib
import subprocess
import time
from email.message import EmailMessage

import pytest

from sgrig import maildir_files, maildir_messages, wait_maildir

PW = "correct horse battery staple"


def add_partner(g, addr, pw=PW):
    return g.cli("user", "add-external", addr, "--password-stdin", input=pw + "\n")


def send(g, to, subject, attach=None, timeout=30):
    m = EmailMessage()
    m["From"] = "alice@example.com"
    m["To"] = ", ".join(to)
    m["Subject"] = subject
    m.set_content("Здравствуйте – the figures are 42.\n")
    if attach:
        m.add_attachment(attach[1], maintype="application", subtype="octet-stream",
                         filename=attach[0])
    with smtplib.SMTP("127.0.0.1", g.port, timeout=timeout) as s:
        s.send_message(m, from_addr="alice@example.com", to_addrs=to)


def pdf_of(g, addr, workdir):
    box = os.path.join(g.md_ext, addr)
    wait_maildir(box, 1, timeout=60)
    msg = email.message_from_bytes(maildir_messages(box)[0])
    parts = [p for p in msg.walk() if p.get_filename() == "secure-message.pdf"]
    assert len(parts) == 1, msg.as_string()[:2000]
    path = workdir / f"{addr}.pdf"
    path.write_bytes(parts[0].get_payload(decode=True))
    return msg, path


def tool(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r


def test_registered_partner_gets_a_securepdf(gateway, workdir):
    r = add_partner(gateway, "partner@outside.example")
    assert r.returncode == 0, r.stderr
    send(gateway, ["partner@outside.example"], "[secure] figures",
         attach=("Übersicht.bin", bytes(range(256)) * 40))
    msg, pdf = pdf_of(gateway, "partner@outside.example", workdir)
    assert msg["Subject"] == "figures"
    assert b"the figures are 42" not in maildir_messages(
        os.path.join(gateway.md_ext, "partner@outside.example"))[0]
    enc = tool("qpdf", f"--password={PW}", "--show-encryption", str(pdf)).stdout.decode()
    assert "R = 6" in enc and "P = -4" in enc
    assert tool("qpdf", "--password=wrong-password", "--check", str(pdf),
                check=False).returncode != 0
    text = tool("pdftotext", "-upw", PW, str(pdf), "-").stdout.decode()
    assert "Здравствуйте" in text and "figures" in text and "alice@example.com" in text
    out = workdir / "att"
    out.mkdir()
    tool("pdfdetach", "-upw", PW, "-saveall", "-o", str(out), str(pdf))
    assert (out / "Übersicht.bin").read_bytes() == bytes(range(256)) * 40
    urls = tool("pdfinfo", "-upw", PW, "-url", str(pdf)).stdout.decode()
    assert "/reply/" in urls


def test_weak_password_is_refused_with_reason(gateway):
    r = add_partner(gateway, "weak@outside.example", pw="short")
    assert r.returncode != 0
    assert "password refused" in r.stderr and "characters" in r.stderr
    r = add_partner(gateway, "bob@example.com")
    assert r.returncode != 0 and "internal" in r.stderr


def test_each_recipient_gets_its_own_pdf_and_subject_can_be_hidden(gateway, workdir):
    gateway.set(**{"policy.hide_subject": "yes", "gateway.organization": "Example Org"})
    gateway.stop()
    gateway.start()
    assert add_partner(gateway, "one@outside.example").returncode == 0
    assert add_partner(gateway, "two@outside.example", pw="another long passphrase").returncode == 0
    send(gateway, ["one@outside.example", "two@outside.example"], "[secure] merger plans")
    msg1, pdf1 = pdf_of(gateway, "one@outside.example", workdir)
    msg2, pdf2 = pdf_of(gateway, "two@outside.example", workdir)
    assert msg1["Subject"] == "Secure message from Example Org"
    assert "merger" not in str(msg1)
    assert tool("qpdf", f"--password={PW}", "--check", str(pdf1)).returncode == 0
    assert tool("qpdf", "--password=another long passphrase", "--check", str(pdf2)).returncode == 0
    assert tool("qpdf", f"--password={PW}", "--check", str(pdf2), check=False).returncode != 0


def test_password_change_applies_to_new_pdfs(gateway, workdir):
    assert add_partner(gateway, "p@outside.example").returncode == 0
    r = gateway.cli("user", "passwd", "p@outside.example", "--password-stdin",
                    input="a brand new passphrase\n")
    assert r.returncode == 0, r.stderr
    send(gateway, ["p@outside.example"], "[secure] after the change")
    _, pdf = pdf_of(gateway, "p@outside.example", workdir)
    assert tool("qpdf", "--password=a brand new passphrase", "--check", str(pdf)).returncode == 0


PDFJS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pdfjs")


@pytest.fixture(scope="module")
def pdfjs():
    """argv prefix of the pdf.js check; installs tests/pdfjs/node_modules once (npm ci from the
    committed lock file) and keeps it there for later runs."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the pdf.js check needs node and npm (Debian: nodejs npm)")
    marker = os.path.join(PDFJS_DIR, "node_modules", "pdfjs-dist", "package.json")
    with open("/tmp/sealgate-pdfjs-install.lock", "w") as lock:  # parallel runs share the dir
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(marker):
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PDFJS_DIR,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                pytest.fail(f"npm ci in {PDFJS_DIR} failed:\n{r.stdout}{r.stderr}")
    return [node, os.path.join(PDFJS_DIR, "check.mjs")]


def test_pdfjs_opens_the_securepdf(gateway, workdir, pdfjs):
    assert add_partner(gateway, "reader@outside.example").returncode == 0
    send(gateway, ["reader@outside.example"], "[secure] quarterly figures")
    _, pdf = pdf_of(gateway, "reader@outside.example", workdir)

    def check(pw, text):
        return subprocess.run(pdfjs + [str(pdf), pw, text], capture_output=True, text=True,
                              timeout=120)

    for text in ("Secure message", "quarterly figures", "Здравствуйте", "the figures are 42"):
        r = check(PW, text)
        assert r.returncode == 0, f"{text!r}: rc={r.returncode} {r.stderr}"
    r = check(PW, "text that is not in the message")
    assert r.returncode == 1, r.stderr
    r = check("wrong-password-entirely", "Secure message")
    assert r.returncode == 2, r.stderr


def test_15mb_attachment_gives_a_clean_dsn(gateway, workdir):
    """15 MB of random attachment cannot fit policy.max_encrypted_size (15 MB by default) once it
    is in a PDF inside a base64 mail: the sender gets a 5.3.4 DSN, the partner nothing, the queue
    empties, nothing crashes (the fixture fails the test on any sanitizer report or restarted
    child)."""
    assert add_partner(gateway, "big@outside.example").returncode == 0
    send(gateway, ["big@outside.example"], "[secure] the big one",
         attach=("big.bin", os.urandom(15 * 1024 * 1024)), timeout=180)
    (dsn_raw,) = wait_maildir(os.path.join(gateway.md_int, "alice@example.com"), 1, timeout=240)
    dsn = dsn_raw.decode(errors="replace")
    assert "Status: 5.3.4" in dsn and "big@outside.example" in dsn, dsn[:3000]
    assert not maildir_files(os.path.join(gateway.md_ext, "big@outside.example"))
    r = gateway.queue("list")
    for _ in range(100):  # the DSN is out; the original leaves the spool right after
        if r.returncode == 0 and "Queue is empty" in r.stdout:
            break
        time.sleep(0.2)
        r = gateway.queue("list")
    assert r.returncode == 0 and "Queue is empty" in r.stdout, r.stdout + r.stderr
