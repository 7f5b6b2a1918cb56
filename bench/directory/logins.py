"""bench/directory/logins.py PORT SECONDS CLIENTS NAME PASSWORD [NAME PASSWORD ...]: for each
login in turn, CLIENTS clients log in (and get a session) for SECONDS; prints one line per login:
logins/s, p50 and p99 of one login (the form page, then the POST)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "portal"))
from logins import timed_logins  # noqa: E402

if __name__ == "__main__":
    port, seconds, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    pairs = sys.argv[4:]
    for i in range(0, len(pairs), 2):
        rate, p50, p99, n = timed_logins(port, pairs[i], pairs[i + 1], clients, seconds)
        print(f"{pairs[i]:<28} {rate:10.1f} {p50:9.1f}ms {p99:9.1f}ms  ({n} logins)")
