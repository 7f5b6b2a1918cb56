"""bench/directory/logins.py PORT SECONDS CLIENTS NAME PASSWORD [NAME PASSWORD ...]: for each
login in turn, CLIENTS clients log in (and get a session) for SECONDS; prints one line per login:
logins/s, p50 and p99 of one login (the form page, then the POST)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "portal"))
from logins import login  # noqa: E402


def run(port, seconds, clients, name, password):
    times = [[] for _ in range(clients)]
    end = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < end:
            t = time.monotonic()
            login(port, name, password)
            times[i].append(time.monotonic() - t)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    all_t = sorted(x for ts in times for x in ts)
    pick = lambda q: all_t[min(len(all_t) - 1, int(q * len(all_t)))] * 1000  # noqa: E731
    return len(all_t) / elapsed, pick(0.5), pick(0.99), len(all_t)


if __name__ == "__main__":
    port, seconds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    pairs = sys.argv[4:]
    for i in range(0, len(pairs), 2):
        rate, p50, p99, n = run(port, seconds, clients, pairs[i], pairs[i + 1])
        print(f"{pairs[i]:<28} {rate:10.1f} {p50:9.1f}ms {p99:9.1f}ms  ({n} logins)")
