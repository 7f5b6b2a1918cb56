"""Private keys stay in keyd (issue 16 part 1, keydops): after S/MIME sign+encrypt and
decryption traffic through the daemon, the memory of qmgr and of the portal (read from
/proc/PID/mem) holds neither the PKCS#8 DER of alice's gateway-held key nor one of its RSA
primes (big- or little-endian, as a BIGNUM keeps it), while keyd's memory does: the control
that shows the scan finds a key where there is one."""

import os
import re

from sgrig import wait_maildir
from test_keyd import wait_ready
from test_smime_flow import partner, smime_gw  # noqa: F401 (fixtures)
from test_smime_flow import OPENSSL, alice_key_pem, alice_receives, mail_from_partner, run, send

REGION_MAX = 512 * 1024 * 1024  # skips ASan's shadow and reserved allocator space


def alice_key_material(gw, workdir):
    """The PKCS#8 DER and the two primes of alice's key, through `cert export --pfx`."""
    pem = alice_key_pem(gw, workdir)
    der = run(OPENSSL, "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", input=pem).stdout
    text = run(OPENSSL, "rsa", "-noout", "-text", input=pem).stdout.decode()
    primes = []
    for name in ("prime1", "prime2"):
        hexdigits = re.search(name + r":\s*((?:\s*[0-9a-f]{2}:?)+)", text).group(1)
        b = bytes.fromhex(re.sub(r"[^0-9a-f]", "", hexdigits)).lstrip(b"\0")
        primes += [b, b[::-1]]
    return [der] + primes


def memory_has(pid, needles):
    """Which of needles occur in the readable private memory of pid."""
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in addr.split("-"))
            if perms[0] != "r" or hi - lo > REGION_MAX or "[vvar]" in line or "[vsyscall]" in line:
                continue
            try:
                mem.seek(lo)
                chunk = mem.read(hi - lo)
            except OSError:
                continue
            found |= {i for i, n in enumerate(needles) if n in chunk}
    return found


def test_qmgr_and_portal_hold_no_private_key(smime_gw, partner, workdir):  # noqa: F811
    pids = wait_ready(smime_gw, ("keyd", "qmgr", "portal"))
    send(smime_gw.port, ["bob@partner.test"], "[secure] signed and encrypted")
    wait_maildir(os.path.join(smime_gw.md_ext, "bob@partner.test"), 1)
    mail_from_partner(smime_gw, workdir, partner / "bob.crt", partner / "bob.key",
                      "bob@partner.test", b"encrypted to alice")
    raw, field = alice_receives(smime_gw)
    assert b"decrypted=yes" in field
    needles = alice_key_material(smime_gw, workdir)
    for role in ("qmgr", "portal"):
        assert memory_has(pids[role], needles) == set(), f"{role} holds alice's private key"
    assert memory_has(pids["keyd"], needles), "the scan finds no key even in keyd"
