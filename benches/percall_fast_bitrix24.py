"""Per-call cost of fast_bitrix24: `crm.contact.get` one call at a time, its throttling off.

Usage: percall_fast_bitrix24.py WEBHOOK N WARMUP ID,ID,... call|raw
  call: `await b.call("crm.contact.get", {"ID": id})`, its normal path (each call is sent as a
        `batch` request holding one command);
  raw:  `await b.call("crm.contact.get", {"ID": id}, raw=True)`, the method itself.
Prints one JSON line: n, wall_s, user_s, sys_s, cpu_s (this process, all threads), errors.

Configuration for "rate limiting off": a request pool and rate far beyond the run (so its leaky
bucket never waits); `respect_velocity_policy` stays on (its default): with it off, 1.8.14 raises
KeyError in `add_throttler_records` on every answer that carries `time.operating`, as the portal's
answers do (the emulator's too, since it tracks the operating limit), and nothing it adds waits
before the 480 s budget is near, `verbose=False` (no progress bar), and one
`aiohttp.ClientSession` passed in as `client=` so the connection is kept alive between calls (by
default every top-level call opens and closes its own session, i.e. a new TCP connection). The
async API is used inside one event loop; the sync `Bitrix` wrapper would add a
`run_until_complete` per call. fast_bitrix24 accepts the plain-http loopback webhook as it is:
it only checks that the URL has a scheme, a host and a path. Nothing is patched.
"""

import asyncio
import json
import resource
import sys
import time
import warnings

import aiohttp
from fast_bitrix24 import BitrixAsync


async def main():
    webhook, n, warmup, ids, mode = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                     sys.argv[4], sys.argv[5])
    ids = [int(x) for x in ids.split(",")]
    raw = mode == "raw"
    warnings.simplefilter("ignore")
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        b = BitrixAsync(webhook, verbose=False,
                        request_pool_size=10**9, requests_per_second=1e9, client=session)

        async def call(i):
            try:
                r = await b.call("crm.contact.get", {"ID": ids[i % len(ids)]}, raw=raw)
            except Exception:
                return False
            if raw:
                return isinstance(r, dict) and "result" in r
            # A single-item call() comes back keyed by its batch label: {"order0000000000": {...}}.
            return isinstance(r, dict) and ("ID" in r or any(
                isinstance(v, dict) and "ID" in v for v in r.values()))

        for i in range(warmup):
            assert await call(i), "warm-up call failed"
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        errors = 0
        for i in range(n):
            if not await call(i):
                errors += 1
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    print(json.dumps({"n": n, "wall_s": wall, "user_s": user, "sys_s": sys_,
                      "cpu_s": user + sys_, "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main())
