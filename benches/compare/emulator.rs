//! The emulator as a separate process: the `b24-emulator` crate (release build), as the
//! standalone `b24-emulator` binary runs it, plus a line protocol on stdin so the benchmark can
//! read the emulator's own counters (requests received, requests refused by the bucket) and
//! reshape the bucket between runs. Every command gets exactly one line back.
//!
//! Commands: `bucket none`, `bucket SIZE DRAIN` (a fresh, empty bucket), `reset` (zero the
//! counters), `stats` (JSON: the counters and this process's CPU seconds so far), `count`
//! (contacts stored), `guids PREFIX` (JSON `[rows, distinct]`: contacts whose GUID is
//! `PREFIX-…`, read from the store, no HTTP and no limits), `huge BYTES json|string|html
//! chunked|declared` (the next `crm.contact.get` is answered with a generated body of that
//! size), `quit`.
//!
//! Start-up flags (`child emulator FLAGS…`) shape the server: `--operating SECS|none`,
//! `--operating-window SECS`, `--call-cost SECS`, `--latency SECS`, `--batch-billing
//! sub-calls|batch`, `--bucket SIZE:DRAIN`. Without flags: no bucket, the default limits.

use b24_emulator::{
    BatchBilling, Bucket, CallCost, Emulator, EmulatorConfig, EntityKind, Fault, FaultAction,
    HugeBody,
};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::time::Duration;

/// The GUID user field the bulk records carry (benches/compare/client.rs `bulk_records`).
const GUID_FIELD: &str = "UF_CRM_1723100443089";

fn secs(v: &str) -> Duration {
    Duration::from_secs_f64(v.parse().unwrap_or_else(|_| panic!("seconds: {v:?}")))
}

/// The emulator's configuration from the start-up flags.
fn config(args: &[String]) -> EmulatorConfig {
    let mut cfg = EmulatorConfig {
        bucket: None,
        ..EmulatorConfig::default()
    };
    for pair in args.chunks(2) {
        let [flag, v] = pair else {
            panic!("flag without a value: {pair:?}")
        };
        match flag.as_str() {
            "--operating" if v == "none" => cfg.operating_limit_secs = None,
            "--operating" => cfg.operating_limit_secs = Some(secs(v).as_secs_f64()),
            "--operating-window" => cfg.operating_window = secs(v),
            "--call-cost" => cfg.call_cost = Some(CallCost::uniform(secs(v))),
            "--latency" => cfg.latency = Some(secs(v)),
            "--batch-billing" => {
                cfg.batch_billing = match v.as_str() {
                    "batch" => BatchBilling::WholeBatch,
                    _ => BatchBilling::PerSubCall,
                }
            }
            "--bucket" => {
                let (size, drain) = v.split_once(':').expect("--bucket SIZE:DRAIN");
                cfg.bucket = Some(Bucket {
                    size: size.parse().expect("bucket size"),
                    drain_per_sec: drain.parse().expect("bucket drain"),
                });
            }
            other => panic!("unknown emulator flag {other:?}"),
        }
    }
    cfg
}

/// `[rows, distinct GUIDs]` of the contacts whose GUID starts with `PREFIX-`. IDs start at 1
/// and are never reused, and the benchmark deletes nothing, so they are `1..=count`.
fn guids(emu: &Emulator, prefix: &str) -> String {
    let want = format!("{prefix}-");
    let (mut rows, mut seen) = (0u64, HashSet::new());
    for id in 1..=emu.entity_count(EntityKind::Contact) as u64 {
        let Some(c) = emu.entity(EntityKind::Contact, id) else {
            continue;
        };
        if let Some(g) = c.get(GUID_FIELD).and_then(Value::as_str) {
            if g.starts_with(&want) {
                rows += 1;
                seen.insert(g.to_string());
            }
        }
    }
    json!([rows, seen.len()]).to_string()
}

pub fn serve(args: &[String]) {
    let cfg = config(args);
    let emu = Emulator::start(cfg).expect("start the emulator");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "webhook: {}", emu.webhook_url()).expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["bucket", "none"] => {
                emu.set_bucket(None);
                "ok".to_string()
            }
            ["bucket", size, drain] => match (size.parse(), drain.parse()) {
                (Ok(size), Ok(drain_per_sec)) => {
                    emu.set_bucket(Some(Bucket {
                        size,
                        drain_per_sec,
                    }));
                    "ok".to_string()
                }
                _ => "error: bad bucket".to_string(),
            },
            ["reset"] => {
                emu.reset_stats();
                "ok".to_string()
            }
            ["stats"] => {
                let s = emu.stats();
                let cpu = crate::sys::Usage::now().cpu();
                json!({
                    "cpu_s": cpu,
                    "requests": s.requests,
                    "limited": s.limited,
                    "max_bucket_level": s.max_bucket_level,
                    "executed": s.executed,
                    "cut_off": s.cut_off,
                    "cut_off_committed": s.cut_off_committed,
                    "by_method": s.by_method,
                })
                .to_string()
            }
            ["count"] => emu.entity_count(EntityKind::Contact).to_string(),
            ["guids", prefix] => guids(&emu, prefix),
            ["huge", bytes, kind, chunked] => huge(&emu, bytes, kind, chunked),
            ["quit"] => break,
            _ => format!("error: unknown command {line:?}"),
        };
        writeln!(out, "{reply}").expect("stdout");
        out.flush().expect("stdout");
    }
}

fn huge(emu: &Emulator, bytes: &str, kind: &str, chunked: &str) -> String {
    let body = match kind {
        "json" => HugeBody::JsonArray,
        "string" => HugeBody::JsonString,
        _ => HugeBody::NonJson,
    };
    let Ok(bytes) = bytes.parse() else {
        return "error: bad size".into();
    };
    emu.inject(Fault {
        method: Some("crm.contact.get".into()),
        times: 1,
        action: FaultAction::Huge {
            bytes,
            body,
            chunked: chunked == "chunked",
        },
    });
    "ok".into()
}
