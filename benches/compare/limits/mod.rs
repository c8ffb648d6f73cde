//! The `limits` section: bulk upserts against the portal's limits, each scenario on a fresh
//! emulator process shaped by its knobs (tests/emulator/README.md "Test knobs"):
//!
//! (a) `budget.rs`: the operating budget, time-scaled ÷10: a method may spend 6 s per 60 s
//!     window and every call costs 0.025 s (the 60 s per 10 min at 0.25 s per call scenario),
//!     bucket 50 draining 20/s (the cloud's 2/s ×10), 600 new contacts, under both batch billing
//!     models;
//! (b) `cloud.rs`: the cloud's bucket (50, draining 2/s) behind 250 ms of latency, 3,000 new
//!     contacts;
//! (c) `cloud.rs`: 10,000 updates of existing contacts in the same cloud shape;
//! (d) `hosts.rs`: 8 processes on one host × 1,000 new contacts each, one cloud bucket.
//!
//! Each run reports its wall time against the earliest finish the limit allows, and the
//! portal's state afterwards: contacts per GUID read from the emulator's store (duplicates =
//! rows − distinct GUIDs, missing = records − distinct GUIDs).

mod budget;
mod cloud;
mod hosts;

use crate::run::{f, fatal_note, run_json, u, Emu, Report, Setup};
use serde_json::Value;

/// Commands per batch request.
const BATCH: f64 = 50.0;
/// A list command returns at most 50 rows and a batch holds 50, so one lookup request covers
/// 2,500 GUIDs.
const LOOKUP: f64 = BATCH * BATCH;
/// The cloud's bucket, scenarios (b), (c) and (d).
const CLOUD_BURST: f64 = 50.0;
const CLOUD_RATE: f64 = 2.0;

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

/// The earliest finish under a bucket: the last request cannot go before the requests beyond
/// the burst have drained at its rate, and its answer takes at least one round trip.
fn bucket_earliest(requests: f64, burst: f64, rate: f64, round_trip: f64) -> f64 {
    (requests - burst).max(0.0) / rate + round_trip
}

/// Runs `cmd` against `emu` from zeroed counters; then reads the counters and the GUIDs.
pub(super) fn measure(
    emu: &mut Emu,
    label: &str,
    prefix: &str,
    n: usize,
    earliest: f64,
    cmd: Option<std::process::Command>,
) -> Row {
    measure_with(emu, label, prefix, n, earliest, || match cmd {
        Some(c) => run_json(c),
        None => Err("skipped (no Python clients)".into()),
    })
}

/// [`measure`] for any way of running the clients (`run` gives their merged JSON line).
pub(super) fn measure_with(
    emu: &mut Emu,
    label: &str,
    prefix: &str,
    n: usize,
    earliest: f64,
    run: impl FnOnce() -> Result<Value, String>,
) -> Row {
    eprintln!("bench: limits: {label}");
    emu.cmd("reset");
    let client = run();
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

pub(super) fn lib_args(
    webhook: &str,
    n: usize,
    prefix: &str,
    burst: f64,
    rate: f64,
) -> Vec<String> {
    vec![
        webhook.into(),
        n.to_string(),
        prefix.into(),
        burst.to_string(),
        rate.to_string(),
    ]
}

/// All scenarios of the section (`B24_BENCH_LIMITS_ONLY=budget`, `cloud` or `hosts`, or a comma
/// list of them, runs those parts).
pub(crate) fn run(s: &Setup) -> Vec<Scenario> {
    let only = std::env::var("B24_BENCH_LIMITS_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let mut out = Vec::new();
    if wanted("budget") {
        out.push(budget::scenario(s));
    }
    if wanted("cloud") {
        out.extend(cloud::scenarios(s));
    }
    if wanted("hosts") {
        out.push(hosts::scenario(s));
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
