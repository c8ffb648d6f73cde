//! Scenarios (b) and (c): the cloud's bucket behind a far portal's round trip.

use super::{bucket_earliest, lib_args, measure, Scenario, BATCH, CLOUD_BURST, CLOUD_RATE, LOOKUP};
use crate::run::{env_num, python_script, run_json, rust_child, u, Emu, Setup};

/// A far portal's round trip, seconds.
const LATENCY: f64 = 0.25;

/// Scenarios (b) and (c) on one far-portal emulator with the cloud's bucket.
pub(super) fn scenarios(s: &Setup) -> Vec<Scenario> {
    let n = env_num("B24_BENCH_CLOUD_RECORDS", 3000);
    let m = env_num("B24_BENCH_UPDATES", 10_000);
    let latency = LATENCY.to_string();
    let mut emu = Emu::start_with(&s.exe, &["--bucket", "50:2", "--latency", &latency]);
    let hook = emu.webhook.clone();
    let requests = (n as f64 / BATCH).ceil() + (n as f64 / LOOKUP).ceil();
    let b_earliest = bucket_earliest(requests, CLOUD_BURST, CLOUD_RATE, LATENCY);
    let args = lib_args(&hook, n, "cloud", CLOUD_BURST, CLOUD_RATE);
    let mut fb_args = lib_args(&hook, n, "cloudfb", CLOUD_BURST, CLOUD_RATE);
    fb_args.push("4".into());
    let b = vec![
        measure(
            &mut emu,
            "bitrix24-1c, all new",
            "cloud",
            n,
            b_earliest,
            Some(rust_child(s, "bulk", &args)),
        ),
        measure(
            &mut emu,
            "fast_bitrix24 `slow(4)`, all new",
            "cloudfb",
            n,
            b_earliest,
            python_script(s, "bulk_fast_bitrix24.py", &fb_args),
        ),
    ];
    // Seed the records to update without the bucket.
    emu.cmd("bucket none");
    // The library's highest pacing (`rate_limit` allows at most burst 1000, 100 per second).
    let seed = run_json(rust_child(
        s,
        "bulk",
        &lib_args(&hook, m, "upd", 1000.0, 100.0),
    ));
    if let Err(e) = &seed {
        eprintln!("bench: limits: seeding {m} contacts: {e}");
    }
    emu.cmd(&format!("bucket {CLOUD_BURST} {CLOUD_RATE}"));
    let writes = (m as f64 / BATCH).ceil();
    let c_earliest = bucket_earliest(writes, CLOUD_BURST, CLOUD_RATE, LATENCY);
    let args = lib_args(&hook, m, "upd", CLOUD_BURST, CLOUD_RATE);
    let mut fb_args = args.clone();
    fb_args.push("4".into());
    let mut known = rust_child(s, "bulk", &args);
    known.env("B24_BENCH_KNOWN_IDS", "1");
    let c = vec![
        measure(
            &mut emu,
            "bitrix24-1c, all updates",
            "upd",
            m,
            c_earliest,
            Some(rust_child(s, "bulk", &args)),
        ),
        // The same updates with the Bitrix IDs of the last sync: confirmed by ID, no GUID lookup.
        // The child reads the IDs first (untimed), then waits for the bucket to drain.
        measure(
            &mut emu,
            "bitrix24-1c, all updates, known IDs",
            "upd",
            m,
            c_earliest,
            Some(known),
        ),
        // fast_bitrix24 updates the same records: it lists them by a GUID prefix, then updates.
        measure(
            &mut emu,
            "fast_bitrix24 `slow(4)`, all updates",
            "upd",
            m,
            c_earliest,
            python_script(s, "bulk_fast_bitrix24.py", &fb_args),
        ),
    ];
    vec![
        Scenario {
            heading: format!(
                "Cloud shape: {n} new contacts, bucket {CLOUD_BURST:.0} draining {CLOUD_RATE:.0}/s, \
                 latency {LATENCY} s per round trip"
            ),
            bound: format!(
                "Earliest finish: ⌈{n}/50⌉ write batches + ⌈{n}/2500⌉ lookups = {requests:.0} \
                 requests; the bucket admits {CLOUD_BURST:.0} at once, then {CLOUD_RATE:.0}/s: \
                 ({requests:.0} − {CLOUD_BURST:.0}) / {CLOUD_RATE:.0} s before the last request can \
                 go, and its answer takes one round trip ({LATENCY} s): **{b_earliest:.2} s**. \
                 Ratio = earliest / wall; the other round trips are the client's to hide (by \
                 keeping requests in flight). fast_bitrix24 needs no field check but lists the \
                 GUIDs by prefix (its own requests); it is held to the same bound."
            ),
            rows: b,
        },
        Scenario {
            heading: format!(
                "Cloud shape: {m} updates of existing contacts (same emulator, seeded without the \
                 bucket{})",
                match &seed {
                    Ok(v) => format!(": {} created", u(v, "created")),
                    Err(_) => ": seeding failed".into(),
                }
            ),
            bound: format!(
                "Earliest finish against the writes alone: ⌈{m}/50⌉ = {writes:.0} write \
                 batches, ({writes:.0} − {CLOUD_BURST:.0}) / {CLOUD_RATE:.0} s plus the last \
                 answer's round trip = **{c_earliest:.2} s** (the lookups, ⌈{m}/2500⌉ more \
                 requests, are counted against the client). Ratio = earliest / wall."
            ),
            rows: c,
        },
    ]
}
