"""`sealgate pgp import|list|export|delete|generate|accept` on a fresh instance, with GnuPG 2.2
as the peer that reads what `export` prints. Keys come from the Thunderbird and GMime corpora
(corpus/thunderbird-openpgp/README.md)."""
import os
import re
import subprocess

import pytest

import sgrig

CORPUS = sgrig.CORPUS
KEYS = os.path.join(CORPUS, "thunderbird-openpgp", "keys")
ALICE = os.path.join(KEYS, "alice@openpgp.example-0xf231550c4f47e38e-pub.asc")
BOB = os.path.join(KEYS, "bob@openpgp.example-0xfbfcc82a015e7330-pub.asc")
EDDIE = os.path.join(KEYS, "eddie@openpgp.example-0x15e9357d2c2395c0-pub.asc")
SIGN_ONLY = os.path.join(KEYS, "sign-subkey-only-pub.asc")
REVOKED = os.path.join(KEYS, "carol@pgp.icu-0xEF2FD01608AFD744-revoked-secret.asc")
GMIME = os.path.join(CORPUS, "gmime-tests", "pgp", "gmime.gpg.pub")
ALICE_FPR = "EB85BB5FA33A75E15E944E63F231550C4F47E38E"
BOB_FPR = "D1A66E1A23B182C9980F788CFBFCC82A015E7330"

pytestmark = pytest.mark.skipif(not os.path.exists(ALICE), reason=f"no OpenPGP corpus at {CORPUS} (set SEALGATE_CORPUS)")


def gpg(home, *args, input=None):
    env = dict(os.environ, GNUPGHOME=home)
    return subprocess.run(["gpg", "--batch", "--no-tty", "--with-colons"] + list(args),
                          input=input, capture_output=True, env=env, timeout=60)


@pytest.fixture
def gnupg(workdir):
    home = os.path.join(str(workdir), "gnupg")
    os.makedirs(home, mode=0o700)
    with open(os.path.join(home, "gpg-agent.conf"), "w") as f:
        f.write("allow-loopback-pinentry\n")
    yield home
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)


def concat(workdir, *paths):
    out = os.path.join(str(workdir), "bundle.asc")
    with open(out, "wb") as f:
        for p in paths:
            with open(p, "rb") as k:
                f.write(k.read())
    return out


def test_import_says_what_it_rejected_and_why(gw_factory, workdir):
    g = gw_factory()
    bundle = concat(workdir, ALICE, BOB, EDDIE, SIGN_ONLY, REVOKED, GMIME)
    r = g.cli("pgp", "import", bundle)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(rf"^imported {ALICE_FPR} .* for alice@openpgp\.example$", out, re.M)
    assert re.search(rf"^imported {BOB_FPR} .* for bob@openpgp\.example$", out, re.M)
    assert re.search(r"^rejected \S+ Eddie Expired .*: the key is expired$", out, re.M)
    assert re.search(r"^rejected \S+ Sign Subkey Only .*: sign-only key", out, re.M)
    assert re.search(r"^rejected \S+ Carol C .*: the key is revoked$", out, re.M)
    assert re.search(r"^rejected \S+ no\.user .*: weak key", out, re.M)
    assert "4 of 6 keys" in r.stderr

    lst = g.cli("pgp", "list").stdout
    assert re.search(rf"^alice@openpgp\.example +{ALICE_FPR} imported +active", lst, re.M)
    assert "eddie" not in lst and "carol" not in lst
    one = g.cli("pgp", "list", "BOB@openpgp.example")
    assert one.returncode == 0 and BOB_FPR in one.stdout and ALICE_FPR not in one.stdout


def test_import_of_nothing_usable_fails(gw_factory, workdir):
    g = gw_factory()
    r = g.cli("pgp", "import", EDDIE)
    assert r.returncode == 1
    assert "the key is expired" in r.stdout
    junk = os.path.join(str(workdir), "junk.asc")
    with open(junk, "wb") as f:
        f.write(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n")
    r = g.cli("pgp", "import", junk)
    assert r.returncode == 1 and "no OpenPGP key could be read" in r.stderr
    r = g.cli("pgp", "import", os.path.join(KEYS, "alice-v5-pub.asc"))
    assert r.returncode == 1 and "v5/v6" in r.stderr
    r = g.cli("pgp", "import", os.path.join(str(workdir), "missing.asc"))
    assert r.returncode == 1


def test_export_is_read_by_gpg(gw_factory, gnupg):
    g = gw_factory()
    assert g.cli("pgp", "import", ALICE).returncode == 0
    r = g.cli("pgp", "export", "alice@openpgp.example")
    assert r.returncode == 0 and r.stdout.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    shown = gpg(gnupg, "--show-keys", input=r.stdout.encode())
    assert shown.returncode == 0
    assert f"fpr:::::::::{ALICE_FPR}:" in shown.stdout.decode()
    r = g.cli("pgp", "export", "nobody@openpgp.example")
    assert r.returncode == 1 and "no active OpenPGP key" in r.stderr


def test_generate_for_internal_users_only(gw_factory, gnupg, workdir):
    g = gw_factory()
    r = g.cli("pgp", "generate", "alice@example.com")
    assert r.returncode == 0, r.stderr
    fpr = re.search(r"generated ([0-9A-F]{40}) for alice@example\.com", r.stdout).group(1)
    lst = g.cli("pgp", "list", "alice@example.com").stdout
    assert re.search(rf"{fpr} generated +active +expires never secret-held", lst)
    # the store holds the secret sealed, never in clear: armoured or binary, gpg finds no
    # OpenPGP packet at all in the sealed column
    with g.db() as db:
        (sealed,) = db.execute("SELECT sealed FROM pgp_keys WHERE fingerprint = ?",
                               (fpr,)).fetchone()
    assert sealed and len(sealed) > 32
    assert b"-----BEGIN PGP PRIVATE KEY" not in sealed
    packets = gpg(gnupg, "--list-packets", input=sealed)
    assert b"secret key packet" not in packets.stdout and packets.returncode != 0, packets.stdout

    # gpg takes the exported key and can encrypt to it
    pub = g.cli("pgp", "export", "alice@example.com").stdout.encode()
    assert gpg(gnupg, "--import", input=pub).returncode == 0
    enc = gpg(gnupg, "--trust-model", "always", "--armor", "--encrypt", "--recipient",
              "alice@example.com", input=b"hello")
    assert enc.returncode == 0 and b"BEGIN PGP MESSAGE" in enc.stdout

    rsa = g.cli("pgp", "generate", "org@example.com", "--algo", "rsa3072")
    assert rsa.returncode == 0 and "rsa3072" in rsa.stdout
    r = g.cli("pgp", "generate", "partner@elsewhere.test")
    assert r.returncode == 1 and "internal_domains" in r.stderr
    r = g.cli("pgp", "generate", "not an address")
    assert r.returncode == 1


def test_delete_and_accept(gw_factory):
    g = gw_factory()
    assert g.cli("pgp", "import", ALICE).returncode == 0
    assert g.cli("pgp", "import", BOB).returncode == 0
    r = g.cli("pgp", "accept", "alice@openpgp.example")
    assert r.returncode == 1 and "no pending" in r.stderr
    r = g.cli("pgp", "delete", ALICE_FPR.lower())
    assert r.returncode == 0 and "deleted 1 key record" in r.stdout
    r = g.cli("pgp", "delete", "bob@openpgp.example")
    assert r.returncode == 0
    assert g.cli("pgp", "list").stdout == ""
    r = g.cli("pgp", "delete", "bob@openpgp.example")
    assert r.returncode == 1 and "no OpenPGP key matches" in r.stderr
    r = g.cli("pgp", "delete", "xyz")
    assert r.returncode == 1 and "fingerprint" in r.stderr
    r = g.cli("pgp", "frobnicate")
    assert r.returncode == 2 and "usage" in r.stderr
