"""The bulk workload through fast_bitrix24, which has no upsert: list + add/update.

Usage: bulk_fast_bitrix24.py WEBHOOK N PREFIX BURST PER_SECOND [MAX_CONCURRENT]
Records are the ones the Rust side sends (benches/compare/client.rs `bulk_records`), with GUIDs
PREFIX-0 .. PREFIX-(N-1). The upsert is what a fast_bitrix24 user writes:
  1. `get_all("crm.contact.list", {"select": ["ID", GUID], "filter": {"%GUID": PREFIX + "-"}})`
     to map the GUIDs that exist already;
  2. `call("crm.contact.add", [{"fields": r} for new records])` and
     `call("crm.contact.update", [{"ID": id, "fields": r} for existing ones])`, which it sends as
     batches of 50 commands.
Throttling: `request_pool_size=BURST, requests_per_second=PER_SECOND` (the bucket's shape),
`verbose=False`, one `aiohttp.ClientSession` passed in (kept alive). With MAX_CONCURRENT, the
run is wrapped in its `slow(MAX_CONCURRENT)` (at most that many requests in flight; its default
is 50). Nothing is patched.
Prints one JSON line: n, wall_s, cpu_s, created, updated, failed, rate_limited (records in calls
that raised because of 503 refusals), errors.
"""

import asyncio
import contextlib
import json
import resource
import sys
import time
import warnings

import aiohttp
from fast_bitrix24 import BitrixAsync

GUID = "UF_CRM_1723100443089"


def records(n, prefix):
    return [{
        "NAME": f"Bench {i}",
        "LAST_NAME": "Load",
        GUID: f"{prefix}-{i}",
        "PHONE": [{"VALUE": f"+3749{i:07d}", "VALUE_TYPE": "WORK"}],
    } for i in range(n)]


def causes(e):
    while e is not None:
        yield e
        e = e.__cause__ or e.__context__


def refused(e):
    """True when the exception comes from the portal's 503 (QUERY_LIMIT_EXCEEDED) refusals."""
    return any(getattr(c, "status", None) == 503 or "QUERY_LIMIT_EXCEEDED" in str(c)
               for c in causes(e))


def describe(e):
    return " <- ".join(f"{type(c).__name__}: {str(c)[:120]}" for c in causes(e))


async def main():
    webhook, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    burst, per_second = int(float(sys.argv[4])), float(sys.argv[5])
    max_concurrent = int(sys.argv[6]) if len(sys.argv) > 6 else None
    warnings.simplefilter("ignore")
    recs = records(n, prefix)
    errors = []
    created = updated = limited = 0
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        b = BitrixAsync(webhook, verbose=False, request_pool_size=burst,
                        requests_per_second=per_second, client=session)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        with b.slow(max_concurrent) if max_concurrent else contextlib.nullcontext():
            try:
                rows = await b.get_all("crm.contact.list", {"select": ["ID", GUID],
                                                            "filter": {"%" + GUID: prefix + "-"}})
                existing = {r[GUID]: r["ID"] for r in rows if r.get(GUID)}
                adds = [{"fields": r} for r in recs if r[GUID] not in existing]
                updates = [{"ID": existing[r[GUID]], "fields": r}
                           for r in recs if r[GUID] in existing]
                for method, items in (("crm.contact.add", adds), ("crm.contact.update", updates)):
                    if not items:
                        continue
                    try:
                        await b.call(method, items)
                        if method.endswith("add"):
                            created = len(items)
                        else:
                            updated = len(items)
                    except Exception as e:  # surfaced to the caller: the whole call failed
                        errors.append(describe(e))
                        if refused(e):
                            limited += len(items)
            except Exception as e:
                errors.append(describe(e))
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    print(json.dumps({"n": n, "wall_s": wall, "user_s": user, "sys_s": sys_, "cpu_s": user + sys_,
                      "created": created, "updated": updated,
                      "failed": n - created - updated, "rate_limited": limited,
                      "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main())
