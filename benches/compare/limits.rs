//! The `limits` section: bulk upserts against the portal's limits, each scenario on a fresh
//! emulator process shaped by its knobs (tests/emulator/README.md "Test knobs"):
//!
//! (a) the operating budget, time-scaled ÷10: a method may spend 6 s per 60 s window and every
//!     call costs 0.025 s (the 60 s per 10 min at 0.25 s per call scenario), bucket 50
//!     draining 20/s (the cloud's 2/s ×10), 600 new contacts, under both batch billing models;
//! (b) the cloud's bucket (50, draining 2/s) behind 250 ms of latency, 3,000 new contacts;
//! (c) 10,000 updates of existing contacts in the same cloud shape.
//!
//! Each run reports its wall time against the earliest finish the limit allows, and the
//! portal's state afterwards: contacts per GUID read from the emulator's store (duplicates =
//! rows − distinct GUIDs, missing = records − distinct GUIDs).

use crate::run::{
    env_num, f, fatal_note, python_script, run_json, rust_child, u, Emu, Report, Setup,
};
use serde_json::Value;

/// Commands per batch request.
const BATCH: f64 = 50.0;
/// A list command returns at most 50 rows and a batch holds 50, so one lookup request covers
/// 2,500 GUIDs.
const LOOKUP: f64 = BATCH * BATCH;
/// Scenario (a): operating window, per-method budget and per-call cost, seconds.
const WINDOW: f64 = 60.0;
const BUDGET: f64 = 6.0;
const COST: f64 = 0.025;
/// Scenario (a)'s bucket, the cloud's time-scaled ×10 like the budget.
const A_BURST: f64 = 50.0;
const A_RATE: f64 = 20.0;
/// The cloud's bucket and a far portal's round trip, scenarios (b) and (c).
const CLOUD_BURST: f64 = 50.0;
const CLOUD_RATE: f64 = 2.0;
const LATENCY: &str = "0.25";

/// One measured run.
pub(crate) struct Row {
    label: String,
    n: usize,
    /// Earliest finish the scenario's limit allows, seconds.
    earliest: f64,
    client: Result<Value, String>,
    stats: Value,
    rows: u64,
    distinct: u64,
}

/// One scenario: its heading, how its earliest finish is computed, its runs.
pub(crate) struct Scenario {
    heading: String,
    bound: String,
    rows: Vec<Row>,
}

/// The earliest finish under a per-method budget: `total` seconds of processing, at most
/// `budget` of it per `window` (the limit itself; the check-before-call lets a client overrun
/// it by the calls already in flight, and slot alignment can free a window up to a tenth
/// early, so a client can beat this slightly). The last part's own processing is not added.
fn budget_earliest(total: f64, budget: f64, window: f64) -> f64 {
    ((total / budget).ceil() - 1.0).max(0.0) * window
}

/// The earliest finish under a bucket: requests beyond the burst at the drain rate.
fn bucket_earliest(requests: f64, burst: f64, rate: f64) -> f64 {
    (requests - burst).max(0.0) / rate
}

/// Runs `cmd` against `emu` from zeroed counters; then reads the counters and the GUIDs.
fn measure(
    emu: &mut Emu,
    label: &str,
    prefix: &str,
    n: usize,
    earliest: f64,
    cmd: Option<std::process::Command>,
) -> Row {
    eprintln!("bench: limits: {label}");
    emu.cmd("reset");
    let client = match cmd {
        Some(c) => run_json(c),
        None => Err("skipped (no Python clients)".into()),
    };
    if let Err(e) = &client {
        eprintln!("bench: {e}");
    }
    let stats = emu.stats();
    let g: Value = serde_json::from_str(&emu.cmd(&format!("guids {prefix}"))).expect("guids");
    Row {
        label: label.into(),
        n,
        earliest,
        client,
        stats,
        rows: g[0].as_u64().unwrap_or(0),
        distinct: g[1].as_u64().unwrap_or(0),
    }
}

fn lib_args(webhook: &str, n: usize, prefix: &str, burst: f64, rate: f64) -> Vec<String> {
    vec![
        webhook.into(),
        n.to_string(),
        prefix.into(),
        burst.to_string(),
        rate.to_string(),
    ]
}

/// Scenario (a), both billing models, the library and (if installed) fast_bitrix24 `slow(4)`.
fn budget(s: &Setup) -> Scenario {
    let n = env_num("B24_BENCH_LIMITS_RECORDS", 600);
    let total = n as f64 * COST;
    let earliest = budget_earliest(total, BUDGET, WINDOW);
    let mut rows = Vec::new();
    for (billing, name) in [("sub-calls", "per sub-call"), ("batch", "whole batch")] {
        let flags = [
            "--operating-window",
            "60",
            "--operating",
            "6",
            "--call-cost",
            "0.025",
            "--batch-billing",
            billing,
            "--bucket",
            "50:20",
        ];
        for client in ["bitrix24-1c", "fast_bitrix24 `slow(4)`"] {
            // A fresh emulator per run: each starts with an unspent budget.
            let mut emu = Emu::start_with(&s.exe, &flags);
            let hook = emu.webhook.clone();
            let prefix = if client.starts_with("bitrix") {
                "lib"
            } else {
                "fb"
            };
            let args = lib_args(&hook, n, prefix, A_BURST, A_RATE);
            let cmd = if prefix == "lib" {
                // The client is told the scaled portal's budget and window.
                let scaled = format!(
                    r#"{{"operating_limit_secs": {BUDGET}, "operating_window_secs": {WINDOW}}}"#
                );
                let mut args = args;
                args.push(scaled);
                Some(rust_child(s, "bulk", &args))
            } else {
                let mut a = args;
                a.push("4".into());
                python_script(s, "bulk_fast_bitrix24.py", &a)
            };
            let label = format!("{client}, billing {name}");
            rows.push(measure(&mut emu, &label, prefix, n, earliest, cmd));
        }
    }
    Scenario {
        heading: format!(
            "Operating budget, time-scaled ÷10: {n} new contacts, every call {COST} s, \
             {BUDGET:.0} s per method per {WINDOW:.0} s window, bucket {A_BURST:.0}/{A_RATE:.0} per s"
        ),
        bound: format!(
            "Earliest finish: the adds cost {n} × {COST} = {total:.1} s of `crm.contact.add` \
             budget (whole-batch billing adds at least the GUID lookups' {:.2} s, one list command \
             per 50 GUIDs, to `batch`), at most \
             {BUDGET:.0} s per {WINDOW:.0} s window, so the last part cannot start before \
             (⌈{total:.1} / {BUDGET:.0}⌉ − 1) × {WINDOW:.0} = **{earliest:.0} s** (the last \
             part's processing not added; slots are aligned to {:.0} s, so a window can free a \
             little early). Ratio = earliest / wall; above 1 the client spent more than the \
             budget in a window, which the limiter lets through: it checks before each call \
             against stored time plus the request's own calls, and a request's time is stored \
             only when it ends, so requests in flight do not see each other (whole-batch \
             billing checks only at the start of each batch). \
             The real scenario (600 s window, 60 s budget, 0.25 s per call) takes ten times as \
             long.",
            (n as f64 / BATCH).ceil() * COST,
            WINDOW / 10.0
        ),
        rows,
    }
}

/// Scenarios (b) and (c) on one far-portal emulator with the cloud's bucket.
fn cloud(s: &Setup) -> Vec<Scenario> {
    let n = env_num("B24_BENCH_CLOUD_RECORDS", 3000);
    let m = env_num("B24_BENCH_UPDATES", 10_000);
    let mut emu = Emu::start_with(&s.exe, &["--bucket", "50:2", "--latency", LATENCY]);
    let hook = emu.webhook.clone();
    let requests = (n as f64 / BATCH).ceil() + (n as f64 / LOOKUP).ceil();
    let b_earliest = bucket_earliest(requests, CLOUD_BURST, CLOUD_RATE);
    let args = lib_args(&hook, n, "cloud", CLOUD_BURST, CLOUD_RATE);
    let b = vec![measure(
        &mut emu,
        "bitrix24-1c, all new",
        "cloud",
        n,
        b_earliest,
        Some(rust_child(s, "bulk", &args)),
    )];
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
    let c_earliest = bucket_earliest(writes, CLOUD_BURST, CLOUD_RATE);
    let args = lib_args(&hook, m, "upd", CLOUD_BURST, CLOUD_RATE);
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
        measure(
            &mut emu,
            "bitrix24-1c, all updates, known IDs",
            "upd",
            m,
            c_earliest,
            Some(known),
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
                 ({requests:.0} − {CLOUD_BURST:.0}) / {CLOUD_RATE:.0} = **{b_earliest:.1} s**. \
                 Ratio = earliest / wall; latency is the client's to hide (by keeping requests in \
                 flight)."
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
                 batches, ({writes:.0} − {CLOUD_BURST:.0}) / {CLOUD_RATE:.0} = \
                 **{c_earliest:.1} s** (the GUID lookups, ⌈{m}/2500⌉ more requests, are counted \
                 against the client). Ratio = earliest / wall."
            ),
            rows: c,
        },
    ]
}

/// All scenarios of the section (`B24_BENCH_LIMITS_ONLY=budget` or `=cloud` runs one part).
pub(crate) fn run(s: &Setup) -> Vec<Scenario> {
    let only = std::env::var("B24_BENCH_LIMITS_ONLY").unwrap_or_default();
    let mut out = Vec::new();
    if only != "cloud" {
        out.push(budget(s));
    }
    if only != "budget" {
        out.extend(cloud(s));
    }
    out
}

fn kinds(c: &Value) -> String {
    let Some(m) = c.get("error_kinds").and_then(Value::as_object) else {
        return String::new();
    };
    if m.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(" ({})", parts.join(", "))
}

/// Prints the section's tables.
pub(crate) fn table(rep: &mut Report, scenarios: Vec<Scenario>) {
    rep.line("### Limits");
    rep.line("");
    for sc in scenarios {
        rep.line(format!("#### {}", sc.heading));
        rep.line("");
        rep.line(&sc.bound);
        rep.line("");
        rep.line("| run | wall | earliest | ratio | created / updated | failed | contacts / distinct GUIDs | duplicates | missing | requests (503) | executed | cut off (committed) |");
        rep.line(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        );
        for r in &sc.rows {
            let c = match &r.client {
                Ok(c) => c,
                Err(e) => {
                    let e: String = e.chars().take(120).collect();
                    rep.line(format!(
                        "| {} | not run: {} | | | | | | | | | | |",
                        r.label,
                        e.replace(['|', '\n'], " ")
                    ));
                    continue;
                }
            };
            let wall = f(c, "wall_s");
            let failed = u(c, "failed");
            let complete = failed == 0 && c.get("fatal").is_none();
            let ratio = format!(
                "{:.3}{}",
                r.earliest / wall,
                if complete { "" } else { " (incomplete)" }
            );
            let fatal = fatal_note(c);
            let st = &r.stats;
            rep.line(format!(
                "| {}{fatal} | {wall:.2} s | {:.1} s | {ratio} | {} / {} | {failed}{} | {} / {} | {} | {} | {} ({}) | {} | {} ({}) |",
                r.label,
                r.earliest,
                u(c, "created"),
                u(c, "updated"),
                kinds(c),
                r.rows,
                r.distinct,
                r.rows.saturating_sub(r.distinct),
                (r.n as u64).saturating_sub(r.distinct),
                u(st, "requests"),
                u(st, "limited"),
                u(st, "executed"),
                u(st, "cut_off"),
                u(st, "cut_off_committed"),
            ));
        }
        rep.line("");
    }
    rep.notes.push(
        "Limits: each scenario runs on its own emulator process (tests/emulator/README.md \
         \"Test knobs\": `call_cost`, `operating_window`, `latency`); bitrix24-1c is one \
         `b24_bulk_upsert_contacts` through the C ABI with `rate_limit` set to the bucket's \
         shape, fast_bitrix24 is benches/bulk_fast_bitrix24.py with `slow(4)`. Contacts and \
         distinct GUIDs are read from the emulator's store afterwards; `executed` counts \
         requests that committed (a batch once), `cut off` the 60 s cut-off's 504s and the \
         sub-calls they had committed."
            .into(),
    );
}
