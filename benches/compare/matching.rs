//! The `matching` section (`B24_BENCH_ONLY=matching`): the first sync against a portal that
//! already holds hand-entered contacts. The emulator (bucket 50 draining 2/s, the cloud's) is
//! pre-filled with `B24_BENCH_MATCH_DUPS` (2,000) contacts without a GUID, each with the social
//! ID (`UF_CRM_1707822458574`) of one of the `B24_BENCH_MATCH_RECORDS` (5,000) 1C records. Then,
//! through the C ABI: a dry run of the bulk upsert with the rule `{"field": ...}`, and the bulk
//! upsert itself. Its own check: afterwards the portal holds exactly one contact per record, so
//! the first sync added no duplicate.

use crate::run::{env_num, f, run_json, rust_child, Emu, Report, Setup};
use crate::sys::Lib;
use serde_json::{json, Value};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr;
use std::time::Instant;

const SOCIAL_ID: &str = "UF_CRM_1707822458574";
const PREFIX: &str = "mt";
const BURST: f64 = 50.0;
const RATE: f64 = 2.0;

type ClientNew = unsafe extern "C" fn(*const c_char, *mut *mut c_char) -> *mut c_void;
type Text = unsafe extern "C" fn(*const c_void, *const c_char, bool) -> *mut c_char;
type Bulk =
    unsafe extern "C" fn(*const c_void, *const c_char, *const c_void, *mut c_void) -> *mut c_char;
type Free = unsafe extern "C" fn(*mut c_char);

/// `match LIB WEBHOOK seed|dry|run N DUPS`: one step, timed, its envelope summarised as JSON.
pub fn child(args: &[String]) -> Value {
    let [lib, webhook, step, n, dups] = args else {
        panic!("usage: match LIB WEBHOOK seed|dry|run N DUPS")
    };
    let (n, dups): (usize, usize) = (n.parse().expect("N"), dups.parse().expect("DUPS"));
    let lib = Lib::open(Path::new(lib)).expect("dlopen");
    // SAFETY: the header's prototypes (include/bitrix24_1c.h).
    let (new, batch, bulk, free): (ClientNew, Text, Bulk, Free) = unsafe {
        (
            lib.sym("b24_client_new"),
            lib.sym("b24_batch"),
            lib.sym("b24_bulk_upsert_contacts"),
            lib.sym("b24_string_free"),
        )
    };
    let limit = if step == "seed" {
        json!(false)
    } else {
        json!({"burst": BURST, "per_second": RATE})
    };
    let cfg =
        CString::new(json!({"webhook_url": webhook, "rate_limit": limit}).to_string()).unwrap();
    let mut err = ptr::null_mut();
    // SAFETY: a NUL-terminated config and a writable error pointer.
    let c = unsafe { new(cfg.as_ptr(), &mut err) };
    assert!(!c.is_null(), "b24_client_new failed");
    let body = match step.as_str() {
        "seed" => seed_commands(dups),
        s => json!({"records": records(n), "match": [{"field": SOCIAL_ID}], "dry_run": s == "dry"}),
    };
    let body = CString::new(body.to_string()).unwrap();
    let t0 = Instant::now();
    // SAFETY: a live client and NUL-terminated JSON; no progress callback.
    let out = unsafe {
        match step.as_str() {
            "seed" => batch(c, body.as_ptr(), false),
            _ => bulk(c, body.as_ptr(), ptr::null(), ptr::null_mut()),
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    // SAFETY: a NUL-terminated envelope, freed once after the copy.
    let text = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    unsafe { free(out) };
    let v: Value = serde_json::from_str(&text).expect("envelope");
    json!({"wall_s": wall, "ok": v["ok"], "summary": v["summary"], "error": v["error"]})
}

/// Hand-entered contacts: no GUID, the social ID of records 0..dups, another phone format.
fn seed_commands(dups: usize) -> Value {
    let cmds: Vec<Value> = (0..dups)
        .map(|i| {
            let fields = json!({"NAME": format!("Manual {i}"), SOCIAL_ID: format!("SID{i:06}")});
            json!({"method": "crm.contact.add", "params": {"fields": fields}})
        })
        .collect();
    Value::Array(cmds)
}

fn records(n: usize) -> Value {
    let rows: Vec<Value> = (0..n)
        .map(|i| {
            json!({"NAME": format!("1C {i}"), SOCIAL_ID: format!("sid{i:06}"),
                   "UF_CRM_1723100443089": format!("{PREFIX}-{i}")})
        })
        .collect();
    Value::Array(rows)
}

/// Runs the scenario; returns its table rows' data.
pub(crate) fn run(s: &Setup) -> Value {
    let n = env_num("B24_BENCH_MATCH_RECORDS", 5000);
    let dups = env_num("B24_BENCH_MATCH_DUPS", 2000);
    let mut emu = Emu::start_with(&s.exe, &["--bucket", "50:2"]);
    emu.cmd("bucket none");
    let webhook = emu.webhook.clone();
    let args = |step: &str| {
        vec![
            webhook.clone(),
            step.into(),
            n.to_string(),
            dups.to_string(),
        ]
    };
    let seed = run_json(rust_child(s, "match", &args("seed")));
    let mut steps = vec![];
    for step in ["dry", "run"] {
        eprintln!("bench: matching: {step}");
        emu.cmd(&format!("bucket {BURST} {RATE}")); // a full bucket for each step
        emu.cmd("reset");
        let out =
            run_json(rust_child(s, "match", &args(step))).unwrap_or_else(|e| json!({"fatal": e}));
        steps.push(json!({"step": step, "client": out, "stats": emu.stats()}));
    }
    let guids: Value = serde_json::from_str(&emu.cmd(&format!("guids {PREFIX}"))).expect("guids");
    let count: u64 = emu.cmd("count").parse().expect("count");
    json!({"n": n, "dups": dups, "seed_ok": seed.is_ok(), "steps": steps, "rows": guids[0], "distinct": guids[1], "contacts": count})
}

/// The table: requests, wall time, ratio to the earliest finish the bucket allows.
pub(crate) fn table(rep: &mut Report, r: Value) {
    let n = r["n"].as_f64().unwrap_or(0.0);
    // Lookups by GUID and by rule cover 2,500 records a request; writes 50.
    let lookups = (n / 2500.0).ceil();
    let writes = (n / 50.0).ceil();
    let bound = |reqs: f64| ((reqs - BURST).max(0.0) / RATE, reqs);
    rep.line(format!(
        "### First sync with matching: {n} contact records against {} hand-entered contacts without a GUID, bucket 50 draining 2/s",
        r["dups"]
    ));
    rep.line("");
    rep.line(format!(
        "Earliest finish: the dry run needs {lookups} GUID lookup + {lookups} match lookup requests (within the burst: 0 s); the upsert those plus {writes} write batches, ({} − 50) / 2 = **{:.1} s**. Ratio = earliest / wall. Own check: contacts on the portal after the run = records (no new duplicate), every GUID once.",
        2.0 * lookups + writes,
        bound(2.0 * lookups + writes).0
    ));
    rep.line("");
    rep.line("| step | wall | earliest | ratio | requests (503) | summary |");
    rep.line("| --- | ---: | ---: | ---: | ---: | --- |");
    for st in r["steps"].as_array().into_iter().flatten() {
        let dry = st["step"] == "dry";
        let (earliest, _) = bound(if dry {
            2.0 * lookups
        } else {
            2.0 * lookups + writes
        });
        let wall = f(&st["client"], "wall_s");
        let ratio = if earliest > 0.0 {
            format!("{:.3}", earliest / wall)
        } else {
            "—".into()
        };
        rep.line(format!(
            "| {} | {wall:.2} s | {earliest:.1} s | {ratio} | {} ({}) | `{}` |",
            if dry { "dry run" } else { "bulk upsert" },
            st["stats"]["requests"],
            st["stats"]["limited"],
            st["client"]["summary"]
        ));
    }
    let dups_new = r["contacts"].as_u64().unwrap_or(0) as i64 - r["n"].as_i64().unwrap_or(0);
    let ok = dups_new == 0 && r["rows"] == r["distinct"] && r["distinct"] == r["n"];
    rep.line("");
    rep.line(format!(
        "Contacts afterwards: {} for {} records ({} with a bench GUID, {} distinct): new duplicates {} → **{}**.",
        r["contacts"], r["n"], r["rows"], r["distinct"], dups_new, if ok { "0, met" } else { "not met" }
    ));
    assert!(ok, "the first sync left duplicates: {r}");
}
