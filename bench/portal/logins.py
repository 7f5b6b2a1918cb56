"""bench/portal/logins.py: the parts of the portal benchmark wrk cannot do (a login needs the
page's CSRF token and its session cookie first).
  session PORT EMAIL PASSWORD          prints "sg_session=..." of a logged-in session
  logins PORT EMAIL PASSWORD N SECONDS  N clients log in and out for SECONDS; prints the rate"""
import http.client
import re
import ssl
import sys
import threading
import time
import urllib.parse

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def request(port, method, path, cookie=None, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=60)
    h = {"Cookie": cookie} if cookie else {}
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    text = r.read().decode("utf-8", "replace")
    c.close()
    m = re.search(r"(sg_session=[^;]+)", r.headers.get("Set-Cookie") or "")
    return r.status, text, (m.group(1) if m else cookie)


def login(port, email, password):
    _, page, cookie = request(port, "GET", "/login")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": password})
    status, text, cookie = request(port, "POST", "/login", cookie, body)
    if status != 303:
        raise SystemExit(f"login failed: HTTP {status}: {text[:300]}")
    return cookie


def timed_logins(port, email, password, clients, seconds):
    """clients log in for seconds: (logins/s, p50 ms, p99 ms, count) of one login."""
    times = [[] for _ in range(clients)]
    end = time.monotonic() + seconds

    def run(i):
        while time.monotonic() < end:
            t = time.monotonic()
            login(port, email, password)
            times[i].append(time.monotonic() - t)

    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    all_t = sorted(x for ts in times for x in ts)
    pick = lambda q: all_t[min(len(all_t) - 1, int(q * len(all_t)))] * 1000 if all_t else 0  # noqa: E731
    return len(all_t) / elapsed, pick(0.5), pick(0.99), len(all_t)


def logins(port, email, password, clients, seconds):
    rate, _, _, n = timed_logins(port, email, password, clients, seconds)
    return f"{rate:.1f} logins/s ({n} in {seconds:.1f} s)"


if __name__ == "__main__":
    cmd, port, email, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if cmd == "session":
        print(login(port, email, password))
    else:
        print(logins(port, email, password, int(sys.argv[5]), float(sys.argv[6])))
