//! The emulator as a separate process: the `b24-emulator` crate (release build), as the
//! standalone `b24-emulator` binary runs it, plus a line protocol on stdin so the benchmark can
//! read the emulator's own counters (requests received, requests refused by the bucket) and
//! reshape the bucket between runs. Every command gets exactly one line back.
//!
//! Commands: `bucket none`, `bucket SIZE DRAIN` (a fresh, empty bucket), `reset` (zero the
//! counters), `stats` (JSON: the counters and this process's CPU seconds so far), `count`
//! (contacts stored), `huge BYTES json|string|html chunked|declared` (the next
//! `crm.contact.get` is answered with a generated body of that size), `quit`.

use b24_emulator::{Bucket, Emulator, EmulatorConfig, EntityKind, Fault, FaultAction, HugeBody};
use serde_json::json;
use std::io::{BufRead, Write};

pub fn serve() {
    let cfg = EmulatorConfig {
        bucket: None,
        ..EmulatorConfig::default()
    };
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
                    "by_method": s.by_method,
                })
                .to_string()
            }
            ["count"] => emu.entity_count(EntityKind::Contact).to_string(),
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
