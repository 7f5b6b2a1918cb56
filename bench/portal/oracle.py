"""bench/portal/oracle.py PORT KNOWN_INVITED KNOWN_REGISTERED ROUNDS [KINDS]: does the portal answer a
failed attempt faster or slower when the address has an account? Times POST /register (wrong
OTP) and POST /login (wrong password) for a known and an unknown address, in a random order
each round, each
request from another loopback client address (127.0.1.x) so that no per-client wait applies.
KINDS: "register,login" (default) or one of them. Prints the median and mean of each and the
difference of the medians."""
import http.client
import random
import re
import ssl
import statistics
import sys
import time
import urllib.parse

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def request(port, source, method, path, cookie=None, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=60,
                                    source_address=(source, 0))
    h = {"Cookie": cookie} if cookie else {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.connect()  # the TLS handshake is not part of what is timed
    t0 = time.perf_counter()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    elapsed = time.perf_counter() - t0
    c.close()
    m = re.search(r"(sg_session=[^;]+)", r.headers.get("Set-Cookie") or "")
    return r.status, text, (m.group(1) if m else cookie), elapsed


def attempt(port, source, path, fields):
    _, page, cookie, _ = request(port, source, "GET", path)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf": csrf, **fields})
    status, _, _, elapsed = request(port, source, "POST", path, cookie, body)
    if status != 200:
        raise SystemExit(f"unexpected HTTP {status} for {path} (throttled? raise the free attempts)")
    return elapsed


def main():
    port, invited, registered, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    cases = {
        "register known": ("/register", {"email": invited, "otp": "AAAA-AAAA-AAAA-AAAA"}),
        "register unknown": ("/register", {"email": "nobody@partner.test", "otp": "AAAA-AAAA-AAAA-AAAA"}),
        "login known": ("/login", {"email": registered, "password": "wrong password"}),
        "login unknown": ("/login", {"email": "nobody@partner.test", "password": "wrong password"}),
    }
    kinds = (sys.argv[5] if len(sys.argv) > 5 else "register,login").split(",")
    cases = {k: v for k, v in cases.items() if k.split()[0] in kinds}
    times = {k: [] for k in cases}
    n = 0
    for _ in range(rounds):
        order = list(cases.items())
        random.shuffle(order)  # no case always runs after the slow Argon2id logins
        for name, (path, fields) in order:
            source = f"127.0.1.{1 + n % 250}"
            n += 1
            times[name].append(attempt(port, source, path, fields))
    for name, t in times.items():
        print(f"{name:18s} median {statistics.median(t) * 1000:7.2f} ms  mean {statistics.mean(t) * 1000:7.2f} ms  (n={len(t)})")
    for kind in kinds:
        d = statistics.median(times[f"{kind} known"]) - statistics.median(times[f"{kind} unknown"])
        print(f"{kind}: known - unknown (medians) = {d * 1000:+.2f} ms")


if __name__ == "__main__":
    main()
