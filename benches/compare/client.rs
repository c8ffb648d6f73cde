//! The Rust measurements, each run in a fresh child process of the benchmark: the library is
//! loaded with `dlopen` and driven through its C ABI only, exactly as a C program would; the
//! process's own CPU time (`getrusage(RUSAGE_SELF)`, all threads) and peak RSS are reported as
//! one JSON line on stdout.

use crate::sys::{current_rss_kib, peak_rss_kib, Lib, Usage};
use serde_json::{json, Value};
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::ptr;
use std::time::Instant;

type ClientNew = unsafe extern "C" fn(*const c_char, *mut *mut c_char) -> *mut c_void;
type ClientFree = unsafe extern "C" fn(*mut c_void);
type StringFree = unsafe extern "C" fn(*mut c_char);
type GetContact = unsafe extern "C" fn(*const c_void, i64) -> *mut c_char;
type CreateContact = unsafe extern "C" fn(*const c_void, *const c_char) -> *mut c_char;
type Progress = Option<unsafe extern "C" fn(*mut c_void, u64, u64)>;
type BulkUpsert =
    unsafe extern "C" fn(*const c_void, *const c_char, Progress, *mut c_void) -> *mut c_char;

/// The C ABI of the loaded cdylib.
struct CApi {
    client_new: ClientNew,
    client_free: ClientFree,
    string_free: StringFree,
    get_contact: GetContact,
    create_contact: CreateContact,
    bulk_upsert_contacts: BulkUpsert,
}

impl CApi {
    fn load(lib: &Path) -> CApi {
        let lib = Lib::open(lib).unwrap_or_else(|e| panic!("dlopen {}: {e}", lib.display()));
        // SAFETY: the types above are the header's prototypes (include/bitrix24_1c.h).
        unsafe {
            CApi {
                client_new: lib.sym("b24_client_new"),
                client_free: lib.sym("b24_client_free"),
                string_free: lib.sym("b24_string_free"),
                get_contact: lib.sym("b24_get_contact"),
                create_contact: lib.sym("b24_create_contact"),
                bulk_upsert_contacts: lib.sym("b24_bulk_upsert_contacts"),
            }
        }
    }

    fn client(&self, config: &Value) -> *mut c_void {
        let cfg = CString::new(config.to_string()).expect("config");
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: a NUL-terminated config and a writable error pointer.
        let c = unsafe { (self.client_new)(cfg.as_ptr(), &mut err) };
        if c.is_null() {
            panic!("b24_client_new failed: {}", self.take(err));
        }
        c
    }

    /// Copies a returned envelope and frees it with `b24_string_free`.
    fn take(&self, s: *mut c_char) -> String {
        assert!(!s.is_null(), "the library returned NULL");
        // SAFETY: a NUL-terminated string from the library, freed once right after the copy.
        let out = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
        unsafe { (self.string_free)(s) };
        out
    }

    /// True when the envelope is `{"ok":true...`, without parsing it (1C or the C caller parses
    /// the text it needs; the cost measured is the library's).
    fn ok_and_free(&self, s: *mut c_char) -> bool {
        assert!(!s.is_null(), "the library returned NULL");
        // SAFETY: as in `take`.
        let ok = unsafe { CStr::from_ptr(s) }
            .to_bytes()
            .starts_with(br#"{"ok":true"#);
        unsafe { (self.string_free)(s) };
        ok
    }
}

fn cpu_fields(before: &Usage, after: &Usage) -> Value {
    json!({
        "user_s": after.user - before.user,
        "sys_s": after.sys - before.sys,
        "cpu_s": after.cpu() - before.cpu(),
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

/// `get LIB WEBHOOK N WARMUP ID,ID,...`: N `b24_get_contact` calls, one at a time, rate limiting
/// off.
pub fn get(args: &[String]) -> Value {
    let [lib, webhook, n, warmup, ids] = args else {
        panic!("usage: get LIB WEBHOOK N WARMUP IDS")
    };
    let n: usize = n.parse().expect("N");
    let warmup: usize = warmup.parse().expect("WARMUP");
    let ids: Vec<i64> = ids.split(',').map(|s| s.parse().expect("ID")).collect();
    let api = CApi::load(Path::new(lib));
    let c = api.client(&json!({"webhook_url": webhook, "rate_limit": false}));
    let out = timed(warmup, n, |i| {
        // SAFETY: a live client handle.
        api.ok_and_free(unsafe { (api.get_contact)(c, ids[i % ids.len()]) })
    });
    // SAFETY: the handle is not used after this.
    unsafe { (api.client_free)(c) };
    out
}

/// `warmup` calls, then `n` measured ones (call numbers go on from the warm-up's): their count,
/// wall time, failures and this process's CPU time.
fn timed(warmup: usize, n: usize, call: impl Fn(usize) -> bool) -> Value {
    for i in 0..warmup {
        assert!(call(i), "warm-up call failed");
    }
    let u0 = Usage::now();
    let t0 = Instant::now();
    let errors = (warmup..warmup + n).filter(|&i| !call(i)).count();
    let wall = t0.elapsed().as_secs_f64();
    let u1 = Usage::now();
    merge(
        json!({"n": n, "wall_s": wall, "errors": errors}),
        cpu_fields(&u0, &u1),
    )
}

/// `create LIB WEBHOOK N WARMUP`: N `b24_create_contact` calls, one at a time, rate limiting
/// off (for the instruction counts: a write's whole path, field check included).
pub fn create(args: &[String]) -> Value {
    let [lib, webhook, n, warmup] = args else {
        panic!("usage: create LIB WEBHOOK N WARMUP")
    };
    let n: usize = n.parse().expect("N");
    let warmup: usize = warmup.parse().expect("WARMUP");
    let api = CApi::load(Path::new(lib));
    let c = api.client(&json!({"webhook_url": webhook, "rate_limit": false}));
    // Built before the clock starts: the caller's JSON is not the library's cost.
    let fields: Vec<CString> = (0..warmup + n)
        .map(|i| {
            let f = json!({"NAME": format!("Bench {i}"), "LAST_NAME": "Create"});
            CString::new(f.to_string()).expect("fields")
        })
        .collect();
    let out = timed(warmup, n, |i| {
        // SAFETY: a live client handle and NUL-terminated fields.
        api.ok_and_free(unsafe { (api.create_contact)(c, fields[i].as_ptr()) })
    });
    // SAFETY: the handle is not used after this.
    unsafe { (api.client_free)(c) };
    out
}

/// The bulk workload: `n` distinct contacts with GUID `PREFIX-i` (shared with the Python
/// scripts, which build the same records).
/// Gives each record the Bitrix ID its GUID has on the portal, as a 1C configuration that stored
/// the IDs of its last sync would (read untimed, with the library's export).
fn add_known_ids(webhook: &str, prefix: &str, records: &mut Value) {
    let admin = bitrix24_1c::api::new_client(
        &json!({"webhook_url": webhook, "rate_limit": false}).to_string(),
    )
    .expect("admin client");
    let params =
        json!({"select": ["ID", GUID], "filter": {format!("%{GUID}"): format!("{prefix}-")}});
    let reply = bitrix24_1c::api::export(
        &admin,
        "crm.contact.list",
        Some(&params.to_string()),
        None,
        50,
    );
    let env: Value = serde_json::from_str(&bitrix24_1c::api::envelope(&reply)).expect("envelope");
    let ids: std::collections::HashMap<String, Value> = env["result"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r[GUID].as_str()?.to_string(), r["ID"].clone())))
        .collect();
    for r in records.as_array_mut().into_iter().flatten() {
        if let Some(id) = r[GUID].as_str().and_then(|g| ids.get(g)) {
            r["ID"] = id.clone();
        }
    }
    // The previous run left the portal's bucket full (and the host-wide limiter's file says
    // so), and the export's few requests went to it unpaced: let it drain completely (50 at
    // 2/s) so the measured run starts from an empty bucket, as the other runs do.
    std::thread::sleep(std::time::Duration::from_secs(26));
}

const GUID: &str = "UF_CRM_1723100443089";

pub fn bulk_records(n: usize, prefix: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "NAME": format!("Bench {i}"),
                    "LAST_NAME": "Load",
                    "UF_CRM_1723100443089": format!("{prefix}-{i}"),
                    "PHONE": [{"VALUE": format!("+3749{i:07}"), "VALUE_TYPE": "WORK"}],
                })
            })
            .collect(),
    )
}

/// `bulk LIB WEBHOOK N PREFIX BURST PER_SECOND [CONFIG_JSON]`: one `b24_bulk_upsert_contacts`
/// of N records, client pacing at BURST/PER_SECOND, default `bulk_concurrency`; CONFIG_JSON's
/// keys are added to the client configuration (a scaled portal's operating budget, say).
pub fn bulk(args: &[String]) -> Value {
    let (args, extra) = match args {
        [head @ .., last] if args.len() == 7 => (head, last.as_str()),
        all => (all, "{}"),
    };
    let [lib, webhook, n, prefix, burst, per_second] = args else {
        panic!("usage: bulk LIB WEBHOOK N PREFIX BURST PER_SECOND [CONFIG_JSON]")
    };
    let n: usize = n.parse().expect("N");
    let burst: f64 = burst.parse().expect("BURST");
    let per_second: f64 = per_second.parse().expect("PER_SECOND");
    let api = CApi::load(Path::new(lib));
    let mut config = json!({
        "webhook_url": webhook,
        "rate_limit": {"burst": burst, "per_second": per_second},
    });
    let extra: Value = serde_json::from_str(extra).expect("CONFIG_JSON");
    for (k, v) in extra.as_object().into_iter().flatten() {
        config[k] = v.clone();
    }
    let c = api.client(&config);
    let mut records = bulk_records(n, prefix);
    if std::env::var("B24_BENCH_KNOWN_IDS").is_ok_and(|v| v == "1") {
        add_known_ids(webhook, prefix, &mut records);
    }
    let records = CString::new(records.to_string()).expect("records");
    let u0 = Usage::now();
    let t0 = Instant::now();
    // SAFETY: a live client, NUL-terminated records, no progress callback.
    let out = unsafe { (api.bulk_upsert_contacts)(c, records.as_ptr(), None, ptr::null_mut()) };
    let out = api.take(out);
    let wall = t0.elapsed().as_secs_f64();
    let u1 = Usage::now();
    unsafe { (api.client_free)(c) };
    let v: Value = serde_json::from_str(&out).expect("the envelope is JSON");
    if v["ok"] != json!(true) {
        return json!({"n": n, "wall_s": wall, "fatal": v["error"]});
    }
    let mut kinds = serde_json::Map::new();
    let mut rate_limited = 0u64;
    for row in v["result"].as_array().into_iter().flatten() {
        if let Some(e) = row.get("error") {
            let kind = e["kind"].as_str().unwrap_or("?").to_string();
            if kind == "rate_limited" {
                rate_limited += 1;
            }
            let slot = kinds.entry(kind).or_insert(json!(0));
            *slot = json!(slot.as_u64().unwrap_or(0) + 1);
        }
    }
    let s = &v["summary"];
    merge(
        json!({
            "n": n,
            "wall_s": wall,
            "created": s["created"],
            "updated": s["updated"],
            "failed": s["failed"],
            "rate_limited": rate_limited,
            "error_kinds": kinds,
        }),
        cpu_fields(&u0, &u1),
    )
}

/// `memory LIB WEBHOOK FILE`: one `b24_create_contact` with FILE attached by `filePath`; peak RSS
/// before and after.
pub fn memory(args: &[String]) -> Value {
    let [lib, webhook, file] = args else {
        panic!("usage: memory LIB WEBHOOK FILE")
    };
    let size = std::fs::metadata(file).expect("the attachment").len();
    let api = CApi::load(Path::new(lib));
    let c = api.client(&json!({"webhook_url": webhook, "rate_limit": false}));
    // Warm up: connection, field cache, engine; all that a long-lived 1C process has.
    let warm = CString::new(r#"{"NAME":"Warm-up"}"#).expect("fields");
    // SAFETY: a live client and NUL-terminated fields.
    assert!(api.ok_and_free(unsafe { (api.create_contact)(c, warm.as_ptr()) }));
    let base = Usage::now();
    let base_rss = current_rss_kib();
    let base_hwm = peak_rss_kib();
    let fields = json!({
        "NAME": "With a 50 MB attachment",
        "UF_CRM_1707822691457": [{"filePath": file, "fileName": "scan.pdf"}],
    });
    let fields = CString::new(fields.to_string()).expect("fields");
    let t0 = Instant::now();
    // SAFETY: as above.
    let reply = api.take(unsafe { (api.create_contact)(c, fields.as_ptr()) });
    let wall = t0.elapsed().as_secs_f64();
    let peak = Usage::now();
    let peak_hwm = peak_rss_kib();
    unsafe { (api.client_free)(c) };
    json!({
        "file_bytes": size,
        "ok": reply.starts_with(r#"{"ok":true"#),
        "reply": reply.chars().take(200).collect::<String>(),
        "wall_s": wall,
        "baseline_maxrss_kib": base.maxrss_kib,
        "baseline_rss_kib": base_rss,
        "peak_maxrss_kib": peak.maxrss_kib,
        "baseline_hwm_kib": base_hwm,
        "peak_hwm_kib": peak_hwm,
        "cpu_s": peak.cpu() - base.cpu(),
    })
}

/// `answer LIB WEBHOOK ID MAX_MB`: one `b24_get_contact` whose answer the emulator replaces with
/// a generated body (set up by the parent); peak RSS before and after, and how it ended.
pub fn answer(args: &[String]) -> Value {
    let [lib, webhook, id, max_mb] = args else {
        panic!("usage: answer LIB WEBHOOK ID MAX_MB")
    };
    let id: i64 = id.parse().expect("an ID");
    let max_mb: f64 = max_mb.parse().expect("max_response_mb");
    let api = CApi::load(Path::new(lib));
    let cfg = json!({"webhook_url": webhook, "rate_limit": false, "max_response_mb": max_mb});
    let c = api.client(&cfg);
    // Warm up (connection, runtime) with another method: the parent has set up the next
    // `crm.contact.get` to get the big answer.
    let warm = CString::new(r#"{"NAME":"Warm-up"}"#).expect("fields");
    // SAFETY: a live client and NUL-terminated fields.
    assert!(api.ok_and_free(unsafe { (api.create_contact)(c, warm.as_ptr()) }));
    let base_hwm = peak_rss_kib();
    let t0 = Instant::now();
    // SAFETY: as above.
    let reply = api.take(unsafe { (api.get_contact)(c, id) });
    let wall = t0.elapsed().as_secs_f64();
    let peak_hwm = peak_rss_kib();
    unsafe { (api.client_free)(c) };
    let head: String = reply.chars().take(160).collect();
    let code = serde_json::from_str::<Value>(&reply)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(String::from))
        .unwrap_or_else(|| {
            if reply.starts_with(r#"{"ok":true"#) {
                "ok".into()
            } else {
                head.clone()
            }
        });
    json!({
        "reply_bytes": reply.len(),
        "outcome": code,
        "wall_s": wall,
        "baseline_hwm_kib": base_hwm,
        "peak_hwm_kib": peak_hwm,
    })
}
