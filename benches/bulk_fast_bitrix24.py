"""The bulk workload through fast_bitrix24, which has no upsert: list + add/update.

Usage: bulk_fast_bitrix24.py WEBHOOK N PREFIX BURST PER_SECOND
Records are the ones the Rust side sends (benches/compare/client.rs `bulk_records`), with GUIDs
PREFIX-0 .. PREFIX-(N-1). The upsert is what a fast_bitrix24 user writes:
  1. `get_all("crm.contact.list", {"select": ["ID", GUID], "filter": {"%GUID": PREFIX + "-"}})`
     to map the GUIDs that exist already;
  2. `call("crm.contact.add", [{"fields": r} for new records])` and
     `call("crm.contact.update", [{"ID": id, "fields": r} for existing ones])`, which it sends as
     batches of 50 commands.
Throttling: `request_pool_size=BURST, requests_per_second=PER_SECOND` (the bucket's shape),
`verbose=False`, one `aiohttp.ClientSession` passed in (kept alive). Nothing is patched.
Prints one JSON line: n, wall_s, cpu_s, created, updated, failed, rate_limited, errors.
"""

import asyncio
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


async def main():
    webhook, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    burst, per_second = int(float(sys.argv[4])), float(sys.argv[5])
    warnings.simplefilter("ignore")
    recs = records(n, prefix)
    errors = []
    created = updated = 0
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        b = BitrixAsync(webhook, verbose=False, request_pool_size=burst,
                        requests_per_second=per_second, client=session)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        try:
            rows = await b.get_all("crm.contact.list",
                                   {"select": ["ID", GUID], "filter": {"%" + GUID: prefix + "-"}})
            existing = {r[GUID]: r["ID"] for r in rows if r.get(GUID)}
            adds = [{"fields": r} for r in recs if r[GUID] not in existing]
            updates = [{"ID": existing[r[GUID]], "fields": r} for r in recs if r[GUID] in existing]
            if adds:
                try:
                    await b.call("crm.contact.add", adds)
                    created = len(adds)
                except Exception as e:  # surfaced to the caller
                    errors.append(repr(e)[:300])
            if updates:
                try:
                    await b.call("crm.contact.update", updates)
                    updated = len(updates)
                except Exception as e:
                    errors.append(repr(e)[:300])
        except Exception as e:
            errors.append(repr(e)[:300])
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    limited = sum(1 for e in errors if "QUERY_LIMIT_EXCEEDED" in e or "503" in e)
    print(json.dumps({"n": n, "wall_s": wall, "user_s": user, "sys_s": sys_, "cpu_s": user + sys_,
                      "created": created, "updated": updated,
                      "failed": n - created - updated, "rate_limited": limited,
                      "errors": errors}))


if __name__ == "__main__":
    asyncio.run(main())
