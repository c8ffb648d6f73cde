"""Per-call cost of a plain Python `requests.Session` loop: `crm.contact.get` one call at a time.

Usage: percall_requests.py WEBHOOK N WARMUP ID,ID,... [no-env]
  no-env: `session.trust_env = False`, which skips requests' per-request look-ups of proxy
          variables and ~/.netrc (the default session does them on every call).
Prints one JSON line: n, wall_s, user_s, sys_s, cpu_s (this process, all threads), errors.
"""

import json
import resource
import sys
import time

import requests


def main():
    webhook, n, warmup, ids = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    ids = [int(x) for x in ids.split(",")]
    url = webhook.rstrip("/") + "/crm.contact.get.json"
    session = requests.Session()
    if len(sys.argv) > 5 and sys.argv[5] == "no-env":
        session.trust_env = False

    def call(i):
        r = session.post(url, json={"id": ids[i % len(ids)]}, timeout=60)
        return r.status_code == 200 and "result" in r.json()

    for i in range(warmup):
        assert call(i), "warm-up call failed"
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    errors = sum(0 if call(i) else 1 for i in range(n))
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    print(json.dumps({"n": n, "wall_s": wall, "user_s": user, "sys_s": sys_,
                      "cpu_s": user + sys_, "errors": errors}))


if __name__ == "__main__":
    main()
