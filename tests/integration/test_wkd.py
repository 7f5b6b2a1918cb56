"""The Web Key Directory on the portal (issue 18 part 4, publish): GnuPG's own WKD client finds
an internal user's key from our portal (`gpg --locate-keys --auto-key-locate clear,wkd`; its
dirmngr reaches "https://example.com" through a CONNECT proxy the test runs, and trusts the
instance CA through a bundle bind-mounted in a private mount namespace), the URL is the one gpg-wks-client computes, the advanced method
and the policy file are served, binary, with Access-Control-Allow-Origin: *; unknown addresses,
partners' keys and other domains are 404; postmaster gets the domain key."""

import os
import re
import socket
import subprocess
import threading
import urllib.parse

import pytest

import sgrig
from test_pgp_flow import gpg  # noqa: F401 (a fixture)


class ConnectProxy:
    """An HTTP CONNECT proxy that takes every tunnel to 127.0.0.1:port (our portal), whatever
    host it names; it records the hosts asked for."""

    def __init__(self, port):
        self.port, self.hosts = port, []
        self.srv = socket.create_server(("127.0.0.1", sgrig.free_port()))
        self.address = self.srv.getsockname()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(c,), daemon=True).start()

    def _tunnel(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = c.recv(1024)
            if not chunk:
                c.close()
                return
            head += chunk
        m = re.match(rb"CONNECT ([^ :]+):(\d+) ", head)
        if not m:
            c.close()
            return
        self.hosts.append(m.group(1).decode())
        up = socket.create_connection(("127.0.0.1", self.port))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:  # the client may not wait for our answer before it starts TLS
            up.sendall(rest)
        for a, b in ((c, up), (up, c)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.srv.close()


@pytest.fixture
def wkd_gw(gw_factory, workdir):
    """A gateway whose portal answers as https://example.com (its TLS certificate names the
    domain: the direct method's host), with alice's gateway key and a partner's key."""
    g = gw_factory(hostname="example.com")
    g.md_int, g.md_ext = os.path.join(str(workdir), "int"), os.path.join(str(workdir), "ext")
    g.set(**{"route.internal": f"maildir:{g.md_int}", "route.external": f"maildir:{g.md_ext}"})
    for args in (("pgp", "generate", "alice@example.com"), ("domain", "own", "example.com")):
        r = g.cli(*args)
        assert r.returncode == 0, r.stdout + r.stderr
    g.start()
    sgrig.wait_for(lambda: sgrig.port_open(g.portal_port), 20, what="portal port")
    return g


def get(g, path, host="example.com"):
    conn = sgrig.https_connection(g.portal_port)
    conn.request("GET", path, headers={"Host": host})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r, body


def wkd_paths(addr):
    """(advanced host, advanced path with query, direct path, local) as gpg-wks-client makes
    them: an independent computation of the hash."""
    out = subprocess.run(["/usr/lib/gnupg/gpg-wks-client", "--print-wkd-url", addr],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    u = urllib.parse.urlsplit(out)
    hashed = u.path.rsplit("/", 1)[1]
    return u.netloc, f"{u.path}?{u.query}", f"/.well-known/openpgpkey/hu/{hashed}", u.query[2:]


SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def locate_in_namespace(gpg, bundle, addr):
    """gpg --locate-keys by WKD with the instance CA trusted as dirmngr trusts for WKD: the
    system bundle (GnuTLS's; hkp-cacert counts only for keyservers). The bundle with our CA is
    bind-mounted over the system's in a private mount namespace (unshare -m), seen only by this
    gpg and the dirmngr it starts; the machine's own trust is not touched."""
    script = (f"mount --bind {bundle} {SYSTEM_BUNDLE} && exec gpg --batch --auto-key-locate "
              f"clear,wkd --locate-keys {addr}")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          env=gpg.env, timeout=120)


def test_gpg_locates_an_internal_users_key_by_wkd(wkd_gw, gpg, workdir):
    proxy = ConnectProxy(wkd_gw.portal_port)
    bundle = workdir / "bundle.crt"
    with open(SYSTEM_BUNDLE, "rb") as f, open(wkd_gw.ca, "rb") as ca:
        bundle.write_bytes(f.read() + b"\n" + ca.read())
    try:
        with open(os.path.join(gpg.home, "dirmngr.conf"), "w") as f:
            f.write(f"http-proxy http://127.0.0.1:{proxy.address[1]}\nno-use-tor\n"
                    f"verbose\nlog-file {gpg.home}/dirmngr.log\n")
        r = locate_in_namespace(gpg, bundle, "alice@example.com")
        err = r.stderr.decode(errors="replace")
        if r.returncode != 0 and os.path.exists(os.path.join(gpg.home, "dirmngr.log")):
            with open(os.path.join(gpg.home, "dirmngr.log")) as f:
                err += f.read()[-4000:]
        assert r.returncode == 0, f"{err}\nproxy saw: {proxy.hosts}"
        assert "example.com" in proxy.hosts
        listed = gpg.run("--with-colons", "--list-keys", "alice@example.com").stdout.decode()
        ours = wkd_gw.cli("pgp", "list", "alice@example.com").stdout
        fpr = re.search(r"^fpr:+([0-9A-F]{40}):", listed, re.M).group(1)
        assert fpr in ours, (listed, ours)
        # an address we hold no key for is not found
        r = locate_in_namespace(gpg, bundle, "nobody@example.com")
        assert r.returncode != 0 and b"No data" in r.stderr, r.stderr
    finally:
        proxy.close()


def test_wkd_urls_headers_policy_and_refusals(wkd_gw, gpg, workdir):
    host, advanced, direct, local = wkd_paths("Alice@example.com")
    assert host == "openpgpkey.example.com" and local == "alice"
    r, body = get(wkd_gw, f"{direct}?l={local}")
    assert r.status == 200 and r.getheader("Content-Type") == "application/octet-stream"
    assert r.getheader("Access-Control-Allow-Origin") == "*"
    assert r.getheader("Set-Cookie") is None
    assert body[:1] in (b"\x99", b"\xc6"), "a binary key, not armour"
    shown = gpg.run("--with-colons", "--show-keys", input=body).stdout.decode()
    assert "alice@example.com" in shown
    # without ?l= (optional), or with a wrong one (a hint only), the hash alone finds it
    for path in (direct, f"{direct}?l=bob", f"{direct}?l=Alice"):
        r2, body2 = get(wkd_gw, path)
        assert r2.status == 200 and body2 == body, path
    # the advanced method: openpgpkey.DOMAIN with the domain in the path
    r3, body3 = get(wkd_gw, advanced, host=host)
    assert r3.status == 200 and body3 == body
    for path, h in (("/.well-known/openpgpkey/policy", "example.com"),
                    ("/.well-known/openpgpkey/example.com/policy", host)):
        r, body = get(wkd_gw, path, h)
        assert r.status == 200 and body == b"" and r.getheader("Access-Control-Allow-Origin") == "*"
    # postmaster has no key of its own: the domain key, whose user ID names postmaster
    _, _, pm, _ = wkd_paths("postmaster@example.com")
    r, body = get(wkd_gw, pm)
    assert r.status == 200
    assert "postmaster@example.com" in gpg.run("--with-colons", "--show-keys",
                                               input=body).stdout.decode()
    # unknown local part (whatever l says), another domain, no hash, a path outside: 404
    _, _, nobody, _ = wkd_paths("nobody@example.com")
    assert get(wkd_gw, nobody)[0].status == 404
    assert get(wkd_gw, f"{nobody}?l=alice")[0].status == 404
    assert get(wkd_gw, direct, host="partner.test")[0].status == 404
    assert get(wkd_gw, "/.well-known/openpgpkey/hu/")[0].status == 404
    assert get(wkd_gw, "/.well-known/openpgpkey/hu/../../account")[0].status == 404


def test_partner_keys_are_never_published(wkd_gw, gpg, workdir):
    gpg.new_key("bob@partner.test")
    (workdir / "bob.asc").write_bytes(gpg.export("bob@partner.test"))
    r = wkd_gw.cli("pgp", "import", str(workdir / "bob.asc"))
    assert r.returncode == 0, r.stdout + r.stderr
    host, advanced, direct, _ = wkd_paths("bob@partner.test")
    assert get(wkd_gw, advanced, host=host)[0].status == 404
    assert get(wkd_gw, direct, host="partner.test")[0].status == 404
