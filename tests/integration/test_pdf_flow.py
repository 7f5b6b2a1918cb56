"""SecurePDF on the mail path, checked with real readers (qpdf, pdftotext, pdfdetach, pdfinfo):
a registered partner without certificate or key receives tagged mail as an AES-256 PDF that
opens with their own password, with the attachments inside and a Reply link; weak passwords are
refused with a reason; every recipient gets a PDF of its own; hide_subject hides the subject."""

import email
import os
import smtplib
import subprocess
from email.message import EmailMessage

from sgrig import maildir_messages, wait_maildir

PW = "correct horse battery staple"


def add_partner(g, addr, pw=PW):
    return g.cli("user", "add-external", addr, "--password-stdin", input=pw + "\n")


def send(g, to, subject, attach=None):
    m = EmailMessage()
    m["From"] = "alice@example.com"
    m["To"] = ", ".join(to)
    m["Subject"] = subject
    m.set_content("Здравствуйте – the figures are 42.\n")
    if attach:
        m.add_attachment(attach[1], maintype="application", subtype="octet-stream",
                         filename=attach[0])
    with smtplib.SMTP("127.0.0.1", g.port, timeout=30) as s:
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
