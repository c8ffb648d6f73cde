//! Scenario (d): several worker processes on one host, as a 1C server runs them (rphost
//! workers, or add-ins loaded isolated), each bulk-upserting its own records against one portal
//! bucket. The library's processes pace themselves from one shared bucket file; fast_bitrix24's
//! each have their own limiter.

use super::{
    bucket_earliest, lib_args, measure_with, Scenario, BATCH, CLOUD_BURST, CLOUD_RATE, LOOKUP,
};
use crate::run::{env_num, fresh_temp_dir, python_script, run_json, rust_child, u, Emu, Setup};
use serde_json::{json, Map, Value};
use std::process::Command;

/// Runs every command at once and merges their JSON lines: counts add up, the wall time is the
/// slowest process's.
fn run_all(cmds: Vec<Command>) -> Result<Value, String> {
    let outs: Vec<Result<Value, String>> = std::thread::scope(|sc| {
        let handles: Vec<_> = cmds
            .into_iter()
            .map(|c| sc.spawn(move || run_json(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a client thread panicked".into()))
            })
            .collect()
    });
    let mut merged = json!({"n": 0, "wall_s": 0.0, "created": 0, "updated": 0, "failed": 0});
    let mut kinds = Map::new();
    for out in outs {
        let v = out?;
        for k in ["n", "created", "updated", "failed"] {
            merged[k] = json!(u(&merged, k) + u(&v, k));
        }
        let wall = v["wall_s"].as_f64().unwrap_or(f64::NAN);
        merged["wall_s"] = json!(merged["wall_s"].as_f64().unwrap_or(0.0).max(wall));
        for (k, n) in v["error_kinds"].as_object().into_iter().flatten() {
            let had = kinds.get(k).and_then(Value::as_u64).unwrap_or(0);
            kinds.insert(k.clone(), json!(had + n.as_u64().unwrap_or(0)));
        }
        if let Some(fatal) = v.get("fatal") {
            merged["fatal"] = fatal.clone();
        }
    }
    merged["error_kinds"] = Value::Object(kinds);
    Ok(merged)
}

pub(super) fn scenario(s: &Setup) -> Scenario {
    let procs = env_num("B24_BENCH_PROCESSES", 8);
    let n = env_num("B24_BENCH_PROCESS_RECORDS", 1000);
    let mut emu = Emu::start_with(&s.exe, &["--bucket", "50:2"]);
    let hook = emu.webhook.clone();
    let per_process = (n as f64 / BATCH).ceil() + (n as f64 / LOOKUP).ceil();
    let requests = per_process * procs as f64;
    // Loopback: no round trip to speak of.
    let earliest = bucket_earliest(requests, CLOUD_BURST, CLOUD_RATE, 0.0);
    // One temp directory for all: the processes of one host share its bucket file.
    let tmp = fresh_temp_dir();
    let lib: Vec<Command> = (0..procs)
        .map(|k| {
            let args = lib_args(&hook, n, &format!("mp-{k}"), CLOUD_BURST, CLOUD_RATE);
            let mut c = rust_child(s, "bulk", &args);
            c.env("TMPDIR", &tmp);
            c
        })
        .collect();
    let fb: Option<Vec<Command>> = (0..procs)
        .map(|k| {
            let mut args = lib_args(&hook, n, &format!("mpfb-{k}"), CLOUD_BURST, CLOUD_RATE);
            args.push("4".into());
            python_script(s, "bulk_fast_bitrix24.py", &args)
        })
        .collect();
    let total = procs * n;
    let rows = vec![
        measure_with(&mut emu, "bitrix24-1c", "mp", total, earliest, || {
            run_all(lib)
        }),
        measure_with(
            &mut emu,
            "fast_bitrix24 `slow(4)`",
            "mpfb",
            total,
            earliest,
            || {
                fb.ok_or_else(|| "skipped (no Python clients)".to_string())
                    .and_then(run_all)
            },
        ),
    ];
    Scenario {
        heading: format!(
            "{procs} processes on one host × {n} new contacts each, one bucket of \
             {CLOUD_BURST:.0} draining {CLOUD_RATE:.0}/s (loopback)"
        ),
        bound: format!(
            "Earliest finish: each process needs ⌈{n}/50⌉ write batches + ⌈{n}/2500⌉ lookup = \
             {per_process:.0} requests, {requests:.0} in all, through one bucket: \
             ({requests:.0} − {CLOUD_BURST:.0}) / {CLOUD_RATE:.0} = **{earliest:.1} s**. The wall \
             time is the slowest process's. Ratio = earliest / wall. Each client is told the \
             bucket's shape; the library's processes share it through their bucket file \
             (`share_across_processes`, on by default), fast_bitrix24's each pace alone."
        ),
        rows,
    }
}
