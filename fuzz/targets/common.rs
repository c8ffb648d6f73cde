//! The fuzz target bodies: one `pub fn <target>(data: &[u8])` each. The cargo-fuzz binaries
//! (through fuzz/src/lib.rs) and the stable replay test (tests/fuzz_replay.rs) both include this
//! file, so a corpus replays exactly what was fuzzed.
//!
//! A body returns when every property holds and panics when one fails (under libFuzzer a panic
//! is a crash, so the input is saved). Properties, for every target:
//! - no panic, no abort, in the library or its C ABI;
//! - the webhook secret never appears in anything the library hands out;
//! - per-target invariants (nothing doubled, nothing lost), named in each body.
//!
//! Failures are tagged `B24FUZZ[<kind>]`. `B24_FUZZ_TOLERATE=kind,kind` lets a fuzzing run go
//! past kinds already recorded (see fuzz/README.md); the replay test never sets it.

use bitrix24_1c::api::{self, Entity, Reply};
use bitrix24_1c::client::{self, Client};
use bitrix24_1c::config::{Config, Webhook};
use bitrix24_1c::error::ErrorKind;
use bitrix24_1c::{batch, crm, ffi};
use serde_json::{json, Map, Value};
use std::ffi::{c_char, CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The webhook secret of every client the targets build: distinctive, so a hit is never chance.
pub const SECRET: &str = "ZZsecretTOKEN4242";

/// Nothing listens on the discard port: a request there fails before anything is sent.
const DEAD_WEBHOOK: &str = "http://127.0.0.1:9/rest/1/ZZsecretTOKEN4242/";

/// The contact GUID field of the default configuration.
const CONTACT_GUID: &str = "UF_CRM_1723100443089";
/// The user GUID field of the default configuration.
const USER_GUID: &str = "UF_USR_1722587885970";

// ---------------------------------------------------------------------------------------------
// Reporting.

fn tolerated(kind: &str) -> bool {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        std::env::var("B24_FUZZ_TOLERATE")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .iter()
    .any(|t| t == kind)
}

/// A property failed: panic with a tag the triage can group by.
fn fail(kind: &str, surface: &str, detail: impl std::fmt::Display) {
    if !tolerated(kind) {
        panic!("B24FUZZ[{kind}] {surface}: {detail}");
    }
}

fn excerpt(text: &str, around: &str) -> String {
    let at = text.find(around).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(120)
        .map_or(0, |(i, _)| i);
    text[start..].chars().take(300).collect()
}

/// Where the secret sits in a JSON value, as a JSON pointer (keys count too).
fn find_secret(v: &Value, secret: &str, path: &str) -> Option<String> {
    match v {
        Value::String(s) => s.contains(secret).then(|| path.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_secret(x, secret, &format!("{path}/{i}"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.contains(secret) {
                Some(format!("{path}/{k} (key)"))
            } else {
                find_secret(x, secret, &format!("{path}/{k}"))
            }
        }),
        _ => None,
    }
}

/// Who wrote the input a target fed the library.
#[derive(Clone, Copy)]
enum Origin {
    /// The caller; `echo`: the input itself already held the secret.
    Caller { echo: bool },
    /// The portal (an answer body).
    Portal,
}

/// The secret must not be in `text` (an envelope, an error text, a Debug rendering).
///
/// Kinds: `leak` (the caller never gave it: it came from the client's own webhook),
/// `input-echo` (an error quotes caller input that held it), and for portal answers
/// `error-echo` (a failure envelope), `item-error-echo` (a per-command or per-record error
/// inside a success), `result-echo` (`result` passed through), `meta-echo` (anything else).
fn check_secret(surface: &str, secret: &str, text: &str, origin: Origin) {
    if secret.is_empty() || !text.contains(secret) {
        return;
    }
    let v: Option<Value> = serde_json::from_str(text).ok();
    let is_error = v
        .as_ref()
        .is_none_or(|v| v.get("ok") == Some(&Value::Bool(false)));
    let at = v
        .as_ref()
        .and_then(|v| find_secret(v, secret, ""))
        .unwrap_or_else(|| "(text)".into());
    let kind = match origin {
        Origin::Caller { echo: false } => "leak",
        Origin::Caller { echo: true } if is_error => "input-echo",
        // A success may name the caller's own keys (batch command names): not a leak.
        Origin::Caller { echo: true } => return,
        Origin::Portal if is_error => "error-echo",
        Origin::Portal if at.contains("/result_error/") || at.contains("/error") => {
            "item-error-echo"
        }
        Origin::Portal if at.starts_with("/result") => "result-echo",
        Origin::Portal => "meta-echo",
    };
    fail(
        kind,
        surface,
        format_args!("secret at {at}: {}", excerpt(text, secret)),
    );
}

/// Parses an envelope and checks its shape, the secret, and that no panic was turned into it.
fn check_envelope(surface: &str, text: &str, origin: Origin) -> Value {
    check_envelope_for(surface, SECRET, text, origin)
}

/// [`check_envelope`] for a client whose secret is `secret` (empty: none to check).
fn check_envelope_for(surface: &str, secret: &str, text: &str, origin: Origin) -> Value {
    check_secret(surface, secret, text, origin);
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            fail(
                "invariant",
                surface,
                format_args!("envelope is not JSON: {e}"),
            );
            return Value::Null;
        }
    };
    match v.get("ok") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            let e = &v["error"];
            let shaped = e["code"].is_string()
                && e["description"].is_string()
                && e["kind"].is_string()
                && e["retryable"].is_boolean();
            if !shaped {
                fail(
                    "invariant",
                    surface,
                    format_args!("malformed error: {text}"),
                );
            }
            if e["code"] == "INTERNAL_PANIC" {
                fail(
                    "panic",
                    surface,
                    "the library panicked (caught by the C ABI guard)",
                );
            }
        }
        _ => fail("invariant", surface, format_args!("no `ok` flag: {text}")),
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

fn until_nul(data: &[u8]) -> &[u8] {
    data.iter()
        .position(|&b| b == 0)
        .map_or(data, |i| &data[..i])
}

fn has_bytes(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn c_string(bytes: &[u8]) -> CString {
    CString::new(until_nul(bytes)).unwrap_or_default()
}

/// Takes a string the C ABI returned and frees it.
///
/// # Safety
/// `p` must be NULL or a string from this library, not yet freed.
unsafe fn take_c_string(surface: &str, p: *mut c_char) -> String {
    if p.is_null() {
        fail("invariant", surface, "the C ABI returned NULL");
        return String::new();
    }
    // SAFETY: a NUL-terminated string from the library, per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    // SAFETY: returned by the library and freed once, here.
    unsafe { ffi::b24_string_free(p) };
    s
}

/// The ID rule of the library's export and upsert: a positive integer or an integer string.
fn id_of(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|id| *id > 0)
}

fn client_config(webhook: &str) -> String {
    // No retries, no pacing, short timeouts: one answer per request, and a stuck run is short.
    json!({
        "webhook_url": webhook,
        "rate_limit": false,
        "max_retries": 0,
        "timeout_secs": 2,
        "connect_timeout_secs": 1,
        "bulk_concurrency": 2,
        // A scripted portal may refuse every request for a limit; a bulk job waits that out
        // until its deadline, so it is short here.
        "bulk_deadline_secs": 1,
    })
    .to_string()
}

/// A C ABI handle, kept for the life of the process (the targets share it across inputs).
fn new_handle(webhook: &str) -> usize {
    let cfg = c_string(client_config(webhook).as_bytes());
    // SAFETY: a valid C string; NULL error pointer is allowed.
    let h = unsafe { ffi::b24_client_new(cfg.as_ptr(), std::ptr::null_mut()) };
    assert!(!h.is_null(), "the fixed client config is valid");
    h as usize
}

fn handle_ptr(h: usize) -> *const ffi::B24Client {
    h as *const ffi::B24Client
}

// ---------------------------------------------------------------------------------------------
// PHP query strings: the form batch commands (and so bulk upsert writes) travel in.

/// What PHP's `parse_str` gives back for a value `php_query` encoded: nulls and empty arrays
/// vanish (a query string cannot carry them), booleans become "1"/"0", numbers their text.
fn php_norm(v: &Value) -> Option<Value> {
    let map = |m: Map<String, Value>| (!m.is_empty()).then_some(Value::Object(m));
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(json!(if *b { "1" } else { "0" })),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::String(s) => Some(Value::String(s.clone())),
        Value::Array(a) => map(a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| php_norm(x).map(|x| (i.to_string(), x)))
            .collect()),
        Value::Object(o) => map(o
            .iter()
            .filter_map(|(k, x)| php_norm(x).map(|x| (k.clone(), x)))
            .collect()),
    }
}

/// Keys PHP's variable parser keeps as they are: brackets nest, `[]` appends, and a top-level
/// name turns `.` and spaces into `_`. Such keys are no Bitrix field names; they are skipped.
fn php_plain(v: &Value, depth: usize) -> bool {
    let key_ok = |k: &str| {
        !k.is_empty()
            && !k.contains(['[', ']'])
            && (depth > 0 || !(k.contains(['.', ' ']) || k.starts_with(' ')))
    };
    match v {
        Value::Object(m) => {
            depth < 48 && m.iter().all(|(k, x)| key_ok(k) && php_plain(x, depth + 1))
        }
        Value::Array(a) => depth < 48 && a.iter().all(|x| php_plain(x, depth + 1)),
        _ => true,
    }
}

/// Nothing lost on the way through a query string: the portal's `parse_str` of `query` must
/// give back `params`.
fn check_query(surface: &str, query: &str, params: &Value) {
    if !php_plain(params, 0) {
        return;
    }
    let got = Value::Object(b24_emulator::php_parse_str(query));
    let want = php_norm(params).unwrap_or_else(|| json!({}));
    if got != want {
        // Told apart: a number whose text holds `+` (`1e+16`) sent unescaped reads back with a
        // space; any other difference is its own kind.
        let plus_as_space = php_norm(&numbers_plus_as_space(params)).unwrap_or_else(|| json!({}));
        let kind = if got == plus_as_space {
            "number-plus-in-query"
        } else {
            "lost-in-query"
        };
        fail(
            kind,
            surface,
            format_args!("{query} parses as {got}, not {want}"),
        );
    }
}

fn numbers_plus_as_space(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(n.to_string().replace('+', " ")),
        Value::Array(a) => Value::Array(a.iter().map(numbers_plus_as_space).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), numbers_plus_as_space(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// The loopback portal: answers each request with the next scripted answer (or, for batches of
// the `batch` target, with a success for every command), and records what it was sent.

#[derive(Clone, Debug)]
struct Sent {
    path: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Script {
    answers: Vec<(u16, Vec<u8>)>,
    next: usize,
    auto_batch: bool,
    sent: Vec<Sent>,
    /// Methods whose answer carried `time.operating_reset_at`, which the client keeps per
    /// portal and method across calls; reset after each input so inputs stay independent.
    dirty: Vec<String>,
}

struct Portal {
    port: u16,
    script: Arc<Mutex<Script>>,
}

/// `*.fields` is refused (and so never cached for ten minutes), whatever the script says: the
/// client caches a successful field list, which would make later inputs see other answers.
const FIELDS_REFUSED: &[u8] =
    br#"{"error":"ACCESS_DENIED","error_description":"fields are not scripted"}"#;
const EXHAUSTED: &[u8] = br#"{"error":"ERROR_CORE","error_description":"script exhausted"}"#;
const RESET_OPERATING: &[u8] = br#"{"result":true,"time":{"operating_reset_at":0}}"#;

impl Portal {
    fn start() -> Portal {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let script = Arc::new(Mutex::new(Script::default()));
        let shared = script.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Portal { port, script }
    }

    fn webhook(&self) -> String {
        format!("http://127.0.0.1:{}/rest/1/{SECRET}/", self.port)
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self, answers: Vec<(u16, Vec<u8>)>, auto_batch: bool) {
        let mut s = self.lock();
        s.answers = answers;
        s.next = 0;
        s.auto_batch = auto_batch;
        s.sent.clear();
    }

    fn take_sent(&self) -> Vec<Sent> {
        std::mem::take(&mut self.lock().sent)
    }

    /// Overwrites every remembered `operating_reset_at` with 0 (long past).
    fn reset_operating(&self, client: &Client) {
        let dirty = std::mem::take(&mut self.lock().dirty);
        for method in dirty {
            self.load(vec![(200, RESET_OPERATING.to_vec())], false);
            let _ = client.call(&method, &json!({}));
        }
        self.lock().dirty.clear();
    }
}

fn serve(stream: TcpStream, script: &Mutex<Script>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len.min(64 << 20)];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let (status, answer) = answer_for(script, path, body);
        let head = format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        let written = out
            .write_all(head.as_bytes())
            .and_then(|_| out.write_all(&answer))
            .and_then(|_| out.flush());
        if written.is_err() {
            return;
        }
    }
}

fn answer_for(script: &Mutex<Script>, path: String, body: Vec<u8>) -> (u16, Vec<u8>) {
    let method = path.rsplit('/').next().unwrap_or("").to_string();
    let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
    let reply = if method.to_ascii_lowercase().ends_with(".fields") {
        (400, FIELDS_REFUSED.to_vec())
    } else if s.auto_batch {
        auto_batch_answer(&body)
    } else {
        let i = s.next;
        s.next += 1;
        s.answers
            .get(i)
            .cloned()
            .unwrap_or((500, EXHAUSTED.to_vec()))
    };
    let remembers = client::parse_answer(reply.0, &reply.1)
        .ok()
        .and_then(|r| r.time)
        .is_some_and(|t| !t.operating_reset_at.is_null());
    if remembers && !s.dirty.contains(&method) {
        s.dirty.push(method);
    }
    s.sent.push(Sent { path, body });
    reply
}

/// A batch answer that runs every command, shaped as PHP would serialise it (a list when the
/// names are 0..n-1).
fn auto_batch_answer(body: &[u8]) -> (u16, Vec<u8>) {
    let cmd = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("cmd").and_then(Value::as_object).cloned());
    let Some(cmd) = cmd else {
        return (
            400,
            br#"{"error":"ERROR_ARGUMENT","error_description":"no cmd"}"#.to_vec(),
        );
    };
    let is_list = cmd.keys().enumerate().all(|(i, k)| *k == i.to_string());
    let result = if is_list {
        Value::Array(cmd.keys().map(|_| json!(true)).collect())
    } else {
        Value::Object(cmd.keys().map(|k| (k.clone(), json!(true))).collect())
    };
    let v = json!({
        "result": {"result": result, "result_error": [], "result_total": [], "result_next": [], "result_time": []},
        "time": {"start": 1.0, "finish": 1.01, "duration": 0.01},
    });
    (200, serde_json::to_vec(&v).unwrap_or_default())
}

struct Conn {
    portal: Portal,
    client: Client,
    handle: usize,
}

fn conn(slot: &'static OnceLock<Conn>) -> &'static Conn {
    slot.get_or_init(|| {
        let portal = Portal::start();
        let client =
            api::new_client(&client_config(&portal.webhook())).expect("the fixed config is valid");
        let handle = new_handle(&portal.webhook());
        Conn {
            portal,
            client,
            handle,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Target `config`: the configuration JSON of `b24_client_new` / `api::new_client`.

/// Distinct (connect timeout, proxy) pairs get an HTTP client (and a thread) each, kept for the
/// process; a fuzzing run would make thousands. Only this many are built.
const MAX_POOLS: usize = 48;

/// Whether building a client from this config is safe to do many times over.
fn build_allowed(v: Option<&Value>, cfg: Option<&Config>) -> bool {
    // ca_cert_path is read whole: only paths that do not exist (/dev/zero would never end).
    if let Some(p) = v
        .and_then(|v| v.get("ca_cert_path"))
        .and_then(Value::as_str)
    {
        if !p.is_empty() && std::fs::symlink_metadata(p).is_ok() {
            return false;
        }
    }
    static KEYS: Mutex<Vec<(u128, Option<String>)>> = Mutex::new(Vec::new());
    if let Some(c) = cfg.filter(|c| c.ca_cert_path.is_none()) {
        let key = (c.connect_timeout.as_millis(), c.proxy.clone());
        let mut keys = KEYS.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.contains(&key) {
            if keys.len() >= MAX_POOLS {
                return false;
            }
            keys.push(key);
        }
    }
    true
}

/// The secret of a webhook URL the library accepts; short ones are skipped (a four-letter
/// secret can match ordinary text).
fn webhook_secret(url: &str) -> Option<String> {
    Webhook::parse(url).ok()?;
    let (_, rest) = url.trim().split_once("://")?;
    let (_, path) = rest.split_once('/')?;
    let secret = path.trim_end_matches('/').split('/').nth(2)?;
    (secret.len() >= 12).then(|| secret.to_string())
}

/// Config JSON in, a client or an error out (pure parser, C ABI, `api::connect`). Properties:
/// the webhook's secret is in no error text and no Debug rendering; the C ABI agrees with the
/// parser (a handle exactly when the config is valid, an error envelope otherwise); every
/// config error is `invalid_input`.
pub fn config(data: &[u8]) {
    let data = until_nul(data);
    let value: Option<Value> = serde_json::from_slice(data).ok();
    let text = std::str::from_utf8(data).ok();
    let compact = value.as_ref().map(Value::to_string).unwrap_or_default();
    let raw = String::from_utf8_lossy(data);
    // The secret written once (in webhook_url) is the library's to guard; written twice, the
    // caller also put it somewhere else, and an error may be quoting that.
    let echo = |s: &str| raw.matches(s).count().max(compact.matches(s).count()) > 1;
    let url_secret = value
        .as_ref()
        .and_then(|v| v.get("webhook_url"))
        .and_then(Value::as_str)
        .and_then(webhook_secret);

    let parsed = text.map(Config::from_json);
    if let Some(Err(e)) = &parsed {
        let known = matches!(e.code.as_str(), "INVALID_CONFIG" | "INVALID_WEBHOOK_URL");
        if e.kind != ErrorKind::InvalidInput || !known {
            fail(
                "invariant",
                "Config::from_json",
                format_args!("unexpected error {e}"),
            );
        }
    }
    if let (Some(secret), Some(parsed)) = (&url_secret, &parsed) {
        let origin = Origin::Caller { echo: echo(secret) };
        match parsed {
            Ok(cfg) => {
                check_secret("Config Debug", secret, &format!("{cfg:?}"), origin);
                check_secret("Webhook::masked", secret, cfg.webhook.masked(), origin);
            }
            Err(e) => check_secret(
                "Config::from_json error",
                secret,
                &api::envelope(&Err(e.clone())),
                origin,
            ),
        }
    }

    let cfg = parsed.as_ref().and_then(|p| p.as_ref().ok());
    if build_allowed(value.as_ref(), cfg) {
        let c = c_string(data);
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: a valid C string and a writable error pointer.
        let h = unsafe { ffi::b24_client_new(c.as_ptr(), &mut err) };
        let err_text = (!err.is_null())
            // SAFETY: set by the library to a string it owns.
            .then(|| unsafe { take_c_string("b24_client_new", err) });
        let surface = "b24_client_new";
        match (&err_text, h.is_null()) {
            (Some(_), false) | (None, true) => fail(
                "invariant",
                surface,
                "exactly one of handle and error_json must be set",
            ),
            _ => {}
        }
        if !h.is_null() && cfg.is_none() {
            fail(
                "invariant",
                surface,
                "a handle for a config the parser rejects",
            );
        }
        if let Some(t) = &err_text {
            let secret = url_secret.as_deref().unwrap_or("");
            let origin = Origin::Caller { echo: echo(secret) };
            let env = check_envelope_for(surface, secret, t, origin);
            if let (Some(Err(e)), Some(code)) = (&parsed, env["error"]["code"].as_str()) {
                if e.code != code {
                    fail(
                        "invariant",
                        surface,
                        format_args!("{code} but the parser says {e}"),
                    );
                }
            }
        }
        if !h.is_null() {
            // SAFETY: a live handle, freed once.
            unsafe { ffi::b24_client_free(h) };
        }
    }

    // The same keys next to a valid webhook, so validation goes past the URL.
    let Some(Value::Object(settings)) = &value else {
        return;
    };
    let mut merged = settings.clone();
    merged.insert("webhook_url".into(), json!(DEAD_WEBHOOK));
    let merged = Value::Object(merged);
    let merged_cfg = Config::from_json(&merged.to_string());
    if !build_allowed(Some(&merged), merged_cfg.as_ref().ok()) {
        return;
    }
    let origin = Origin::Caller {
        echo: has_bytes(compact.as_bytes(), SECRET) || has_bytes(data, SECRET),
    };
    let surface = "api::connect";
    match api::connect(DEAD_WEBHOOK, text, None) {
        Ok(client) => {
            if merged_cfg.is_err() {
                fail(
                    "invariant",
                    surface,
                    "a client for a config the parser rejects",
                );
            }
            check_secret(surface, SECRET, &format!("{client:?}"), origin);
            check_secret(surface, SECRET, &client.masked_webhook_url(), origin);
        }
        Err(e) => {
            check_envelope(surface, &api::envelope(&Err(e)), origin);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target `fields`: the fields JSON of create / update / upsert / bulk upsert / multi-field.

/// Small files to stand in for any `filePath` an input names (the library reads the file whole,
/// and a fuzzer must not read the disk at large).
fn fixture_files() -> &'static [String; 4] {
    static FILES: OnceLock<[String; 4]> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("b24-fuzz-files-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("a-directory"));
        let _ = std::fs::write(dir.join("small.txt"), b"hello, portal\n");
        let _ = std::fs::write(dir.join("empty.bin"), b"");
        let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
        [
            p("small.txt"),
            p("empty.bin"),
            p("a-directory"),
            p("missing.pdf"),
        ]
    })
}

fn has_file_path(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("filePath") || m.values().any(has_file_path),
        Value::Array(a) => a.iter().any(has_file_path),
        _ => false,
    }
}

fn sandbox_paths(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(p)) = m.get_mut("filePath") {
                if !p.is_empty() {
                    let files = fixture_files();
                    let pick = p
                        .bytes()
                        .fold(0usize, |h, b| h.wrapping_mul(31) ^ b as usize);
                    *p = files[pick % files.len()].clone();
                }
            }
            m.values_mut().for_each(sandbox_paths);
        }
        Value::Array(a) => a.iter_mut().for_each(sandbox_paths),
        _ => {}
    }
}

/// The input with every `filePath` pointed at a fixture, or `None` when it names none.
fn sandbox_files(body: &[u8]) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    if !has_file_path(&v) {
        return None;
    }
    sandbox_paths(&mut v);
    serde_json::to_vec(&v).ok()
}

/// A field list as `crm.contact.fields` gives it, for the dropped-key check.
fn known_fields() -> &'static Map<String, Value> {
    static KNOWN: OnceLock<Map<String, Value>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let v = json!({
            "ID": {"type": "integer", "isReadOnly": true},
            "NAME": {"type": "string"},
            "LAST_NAME": {"type": "string"},
            "TITLE": {"type": "string"},
            "TYPE_ID": {"type": "crm_status", "isImmutable": true},
            "PHONE": {"type": "crm_multifield", "isMultiple": true},
            "EMAIL": {"type": "crm_multifield", "isMultiple": true},
            "COMPANY_IDS": {"type": "crm_company", "isMultiple": true},
            "CONTACT_ID": {"type": "crm_contact", "isMultiple": true},
            "PHOTO": {"type": "file"},
            "UF_CRM_1723100443089": {"type": "string", "isDynamic": true},
            "UF_CRM_1723100288587": {"type": "string", "isDynamic": true},
        });
        v.as_object().cloned().unwrap_or_default()
    })
}

/// What a write request must hold, built without sending: every caller field (the link alias
/// under its real name), nothing added, the same body as JSON and as a batch query string.
fn check_write_request(entity: Entity, input: &Value, req: &crm::WriteRequest) {
    let surface = "WriteRequest::parse";
    let Some(obj) = input.as_object() else {
        fail("invariant", surface, "accepted a non-object");
        return;
    };
    let (fields_in, params_in) = match obj.get("fields") {
        Some(Value::Object(f)) => (f, obj.get("params")),
        _ => (obj, None),
    };
    let (alias, real) = match entity {
        Entity::Contact => ("COMPANY", "COMPANY_IDS"),
        Entity::Company => ("CONTACT", "CONTACT_ID"),
    };
    for (k, v) in fields_in {
        let (key, want) = if k == alias {
            if fields_in.contains_key(real) {
                continue; // the real field given explicitly wins
            }
            let ids = match v {
                Value::Array(_) => v.clone(),
                Value::Null => json!([]),
                scalar => json!([scalar]),
            };
            (real, ids)
        } else if v.is_null() {
            // null means "clear": it is sent as "" (a null multi-field is refused).
            (k.as_str(), json!(""))
        } else {
            (k.as_str(), v.clone())
        };
        match req.fields.get(key) {
            None => fail("lost-field", surface, format_args!("{key:?} is missing")),
            Some(got) if !has_file_path(&want) && *got != want => fail(
                "changed-field",
                surface,
                format_args!("{key:?} became {got}, not {want}"),
            ),
            _ => {}
        }
    }
    let both = fields_in.contains_key(alias) && fields_in.contains_key(real);
    if req.fields.len() != fields_in.len() - usize::from(both) {
        fail(
            "extra-field",
            surface,
            "fields appeared that the caller never gave",
        );
    }
    if req.params.as_ref() != params_in {
        fail("changed-field", surface, "params were not passed through");
    }
    let kinds = [
        crm::WriteKind::Add { import: false },
        crm::WriteKind::Add { import: true },
        crm::WriteKind::Update,
    ];
    for kind in kinds {
        if crm::dropped_keys(known_fields(), &req.fields, kind).len() > req.fields.len() {
            fail("invariant", "dropped_keys", "more warnings than keys");
        }
    }
    for id in [None, Some(7)] {
        let params = req.to_params(id);
        match req.to_body(id) {
            // Byte for byte: re-parsing would compare serde_json's float parsing with itself.
            Ok(bytes) if req.files.is_empty() => {
                if serde_json::to_vec(&params).ok().as_deref() != Some(&bytes[..]) {
                    fail("changed-body", "to_body", "the body differs from to_params");
                }
            }
            Ok(bytes) => {
                if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
                    fail("invariant", "to_body", format_args!("not JSON: {e}"));
                }
            }
            Err(e) if !req.files.is_empty() && e.code == "INVALID_FILE" => {}
            Err(e) => fail("invariant", "to_body", format_args!("failed: {e}")),
        }
        check_query("php_query(to_params)", &batch::php_query(&params), &params);
    }
}

fn build_checks(entity: Entity, v: &Value) {
    let records: Vec<&Value> = match v {
        Value::Array(a) => a.iter().take(64).collect(),
        other => vec![other],
    };
    for rec in records {
        match crm::WriteRequest::parse(entity, rec.clone()) {
            Ok(req) => check_write_request(entity, rec, &req),
            Err(e) if e.kind == ErrorKind::InvalidInput => {}
            Err(e) => fail("invariant", "WriteRequest::parse", format_args!("{e}")),
        }
    }
}

fn dead_handle() -> usize {
    static H: OnceLock<usize> = OnceLock::new();
    *H.get_or_init(|| new_handle(DEAD_WEBHOOK))
}

/// Byte 0 picks the operation (`'0'`..`'9'`: create, update, upsert, bulk upsert, multi-field,
/// contact then company; higher values also vary the ID and the multi-field name); the rest is
/// the JSON the caller passes. Calls go through the C ABI to a dead port, so nothing is sent
/// anywhere; the request bodies are checked through the pure builders. Properties: no secret
/// in any envelope; nothing reports success against a dead port (a bulk upsert reports every
/// record failed); a connection failure is `CONNECT_FAILED`, retryable; every other failure is
/// `invalid_input`; a built request holds exactly the caller's fields.
pub fn fields(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let rest = until_nul(rest);
    let sandboxed = sandbox_files(rest);
    let body: &[u8] = sandboxed.as_deref().unwrap_or(rest);
    let n = sel.wrapping_sub(b'0');
    let entity = if n % 2 == 0 {
        Entity::Contact
    } else {
        Entity::Company
    };
    let variant = usize::from(n / 10);
    let id = [5, 0, -3, i64::MAX][variant % 4];
    let field = ["PHONE", "email", "WEB", " IM ", "LINK", "FAX"][variant % 6];
    let value: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(v) = &value {
        build_checks(entity, v);
    }

    let h = handle_ptr(dead_handle());
    let c = c_string(body);
    let f = c_string(field.as_bytes());
    let contact = entity == Entity::Contact;
    // SAFETY: a live handle and valid C strings; progress may be NULL.
    let (surface, out) = unsafe {
        match (n % 10) / 2 {
            0 if contact => ("b24_create_contact", ffi::b24_create_contact(h, c.as_ptr())),
            0 => ("b24_create_company", ffi::b24_create_company(h, c.as_ptr())),
            1 if contact => (
                "b24_update_contact",
                ffi::b24_update_contact(h, id, c.as_ptr()),
            ),
            1 => (
                "b24_update_company",
                ffi::b24_update_company(h, id, c.as_ptr()),
            ),
            2 if contact => ("b24_upsert_contact", ffi::b24_upsert_contact(h, c.as_ptr())),
            2 => ("b24_upsert_company", ffi::b24_upsert_company(h, c.as_ptr())),
            3 if contact => (
                "b24_bulk_upsert_contacts",
                ffi::b24_bulk_upsert_contacts(h, c.as_ptr(), None, std::ptr::null_mut()),
            ),
            3 => (
                "b24_bulk_upsert_companies",
                ffi::b24_bulk_upsert_companies(h, c.as_ptr(), None, std::ptr::null_mut()),
            ),
            _ if contact => (
                "b24_set_contact_multifield",
                ffi::b24_set_contact_multifield(h, id, f.as_ptr(), c.as_ptr()),
            ),
            _ => (
                "b24_set_company_multifield",
                ffi::b24_set_company_multifield(h, id, f.as_ptr(), c.as_ptr()),
            ),
        }
    };
    // SAFETY: returned by the call above.
    let out = unsafe { take_c_string(surface, out) };
    let env = check_envelope(
        surface,
        &out,
        Origin::Caller {
            echo: has_bytes(body, SECRET),
        },
    );
    if env["ok"] == json!(true) {
        let rows = env["result"].as_array();
        let all_failed = rows.is_some_and(|r| r.iter().all(|row| row.get("error").is_some()));
        if !surface.contains("bulk") || !all_failed {
            fail(
                "dead-port-success",
                surface,
                format_args!("succeeded: {out}"),
            );
        }
        let summary = &env["summary"];
        let total = rows.map_or(0, Vec::len) as u64;
        let not_written =
            summary["failed"].as_u64().unwrap_or(0) + summary["unknown"].as_u64().unwrap_or(0);
        if not_written != total {
            fail(
                "invariant",
                surface,
                format_args!("summary {summary} for {total} rows"),
            );
        }
        if let Some(Value::Array(records)) = &value {
            if records.len() as u64 != total {
                fail(
                    "lost-record",
                    surface,
                    format_args!("{total} rows for {} records", records.len()),
                );
            }
        }
    } else {
        let e = &env["error"];
        match e["kind"].as_str() {
            Some("invalid_input") => {}
            Some("transport") if e["code"] == "CONNECT_FAILED" && e["retryable"] == true => {}
            _ => fail("invariant", surface, format_args!("unexpected failure {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target `batch`: the commands JSON of `b24_batch` and the batch requests it becomes.

/// The commands JSON goes through the C ABI to a loopback portal that runs every command. The
/// input's length picks `halt` (odd: on). Properties: the parser and the requests agree: every
/// command is sent exactly once, in order, with its text, at most 50 per request, to the
/// `batch` method, with the caller's `halt`; every command has a result; an `{"method",
/// "params"}` command's query string gives the portal back its params; a rejected input sends
/// nothing; no secret in the envelope.
pub fn batch(data: &[u8]) {
    static C: OnceLock<Conn> = OnceLock::new();
    let conn = conn(&C);
    let data = until_nul(data);
    let halt = data.len() % 2 == 1;
    conn.portal.load(vec![], true);
    let c = c_string(data);
    let surface = "b24_batch";
    // SAFETY: a live handle and a valid C string.
    let out = unsafe { ffi::b24_batch(handle_ptr(conn.handle), c.as_ptr(), halt) };
    // SAFETY: returned by the call above.
    let out = unsafe { take_c_string(surface, out) };
    let sent = conn.portal.take_sent();
    let env = check_envelope(
        surface,
        &out,
        Origin::Caller {
            echo: has_bytes(data, SECRET),
        },
    );
    let input: Option<Value> = std::str::from_utf8(data)
        .ok()
        .and_then(|t| serde_json::from_str(t).ok());
    let parsed = input.as_ref().map(batch::parse_commands);
    let cmds = match parsed {
        Some(Ok(cmds)) => cmds,
        Some(Err(e)) => {
            if env["error"]["code"] != json!(e.code) || !sent.is_empty() {
                fail(
                    "invariant",
                    surface,
                    format_args!("{e} but {out}, {} sent", sent.len()),
                );
            }
            return;
        }
        None => {
            if env["ok"] != json!(false) || !sent.is_empty() {
                fail("invariant", surface, format_args!("not JSON, yet {out}"));
            }
            return;
        }
    };
    if env["ok"] == json!(false) {
        let refused = env["error"]["code"] == "CROSS_BATCH_REFERENCE" && cmds.len() > 50;
        if !refused || !sent.is_empty() {
            fail(
                "invariant",
                surface,
                format_args!("{out}, {} sent", sent.len()),
            );
        }
        return;
    }
    let mut wire: Vec<(String, String)> = Vec::new();
    for s in &sent {
        if s.path != format!("/rest/1/{SECRET}/batch") {
            fail("invariant", surface, format_args!("sent to {}", s.path));
        }
        let body: Value = serde_json::from_slice(&s.body).unwrap_or_default();
        if body["halt"] != json!(u8::from(halt)) {
            fail(
                "invariant",
                surface,
                format_args!("halt is {}", body["halt"]),
            );
        }
        let Some(cmd) = body["cmd"].as_object() else {
            fail("invariant", surface, "a request without cmd");
            continue;
        };
        if cmd.is_empty() || cmd.len() > batch::BATCH_LIMIT {
            fail(
                "invariant",
                surface,
                format_args!("{} commands in one request", cmd.len()),
            );
        }
        for (name, text) in cmd {
            wire.push((name.clone(), text.as_str().unwrap_or("").to_string()));
        }
    }
    let want: Vec<(String, String)> = cmds
        .iter()
        .map(|c| (c.name.clone(), c.text.clone()))
        .collect();
    if wire != want {
        let kind = if wire.len() > want.len() {
            "doubled-command"
        } else {
            "lost-command"
        };
        fail(
            kind,
            surface,
            format_args!("sent {wire:?}, parsed {want:?}"),
        );
    }
    if sent.len() != cmds.len().div_ceil(batch::BATCH_LIMIT) {
        fail(
            "invariant",
            surface,
            format_args!("{} requests for {} commands", sent.len(), cmds.len()),
        );
    }
    let results = env["result"]["result"].as_object();
    for c in &cmds {
        if !results.is_some_and(|r| r.contains_key(&c.name)) {
            fail(
                "lost-command",
                surface,
                format_args!("no result for {:?}", c.name),
            );
        }
    }
    if env["failed"] != json!(0) || env["not_executed"] != json!([]) {
        fail(
            "invariant",
            surface,
            format_args!("failed/not_executed in {out}"),
        );
    }
    // An object command's params survive the query string.
    let entries: Vec<(String, &Value)> = match &input {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => vec![],
    };
    for (name, v) in entries {
        let Some(params) = v.get("params").filter(|p| p.is_object()) else {
            continue;
        };
        if let Some((_, text)) = wire.iter().find(|(n, _)| *n == name) {
            let query = text.split_once('?').map_or("", |(_, q)| q);
            check_query(surface, query, params);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target `answers`: what the portal answers, through every operation that reads answers.

/// HTTP statuses hyper reads a body for (1xx, 204 and 304 carry none).
fn status_of(text: &[u8]) -> u16 {
    let n = std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    if (200..=599).contains(&n) && !matches!(n, 204 | 205 | 304) {
        n
    } else {
        200
    }
}

/// Answers separated by 0x1E; each is an optional 3-digit status, an optional space, the body.
fn split_answers(data: &[u8]) -> Vec<(u16, Vec<u8>)> {
    data.split(|&b| b == 0x1E)
        .take(64)
        .map(|a| {
            let digits = a.iter().take(3).take_while(|b| b.is_ascii_digit()).count();
            let status = status_of(&a[..digits]);
            let body = &a[digits..];
            let body = body.strip_prefix(b" ").unwrap_or(body);
            (status, body.to_vec())
        })
        .collect()
}

/// `parse_answer` alone: never panics, keeps the status, quotes a non-JSON body only briefly.
fn check_parse_answer(status: u16, body: &[u8]) {
    let surface = "parse_answer";
    if let Err(e) = client::parse_answer(status, body) {
        if e.http_status != Some(status) {
            fail(
                "invariant",
                surface,
                format_args!("status {status} became {:?}", e.http_status),
            );
        }
        let json = serde_json::from_slice::<Value>(body).is_ok();
        if !json && e.description.chars().count() > 300 {
            fail("invariant", surface, "a non-JSON body quoted at length");
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(errors) = v.pointer("/result/result_error").and_then(Value::as_object) {
            for e in errors.values() {
                let _ = batch::entry_error(e);
            }
        }
    }
}

const BATCH3: &str = r#"{"a":"crm.contact.get?id=1","b":{"method":"crm.contact.list","params":{"filter":{"=UF_CRM_1723100443089":"g-1"},"select":["ID"]}},"c":"user.get?ID=1"}"#;
const MULTI_VALUES: &str = r#"["+1 555 0100", {"VALUE": "+1 555 0199", "VALUE_TYPE": "MOBILE"}]"#;

fn records() -> Value {
    json!([
        {"NAME": "A", CONTACT_GUID: "g-1"},
        {"NAME": "B", CONTACT_GUID: "g-2"},
        {"NAME": "C"},
        {"NAME": "D", CONTACT_GUID: "g-1"},
    ])
}

/// Every asked command is accounted for: it ran, it failed, or it is named as not executed.
fn check_batch_reply(surface: &str, names: &[String], reply: &Reply) {
    let Ok(s) = reply else {
        return;
    };
    let whole = s.result.to_value().unwrap_or_default();
    let map = |k: &str| whole.get(k).and_then(Value::as_object);
    let (Some(res), Some(errs)) = (map("result"), map("result_error")) else {
        fail("invariant", surface, "batch result lacks its maps");
        return;
    };
    let not_run: Vec<&str> = s
        .extra
        .get("not_executed")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for n in names {
        if !(res.contains_key(n) || errs.contains_key(n) || not_run.contains(&n.as_str())) {
            fail(
                "lost-command",
                surface,
                format_args!("{n:?} neither ran, failed nor is not_executed"),
            );
        }
    }
    for (i, n) in not_run.iter().enumerate() {
        if not_run[..i].contains(n) {
            fail(
                "doubled-command",
                surface,
                format_args!("{n:?} twice in not_executed"),
            );
        }
    }
    let asked_failed = errs.keys().filter(|k| names.contains(k)).count() as u64;
    if s.extra.get("failed").and_then(Value::as_u64).unwrap_or(0) < asked_failed {
        fail(
            "invariant",
            surface,
            "failed counts fewer errors than result_error holds",
        );
    }
}

/// Byte 0 picks the operation (`c` call, `g` get, `b` batch, `h` batch with halt, `B` batch of
/// 60, `e` export, `E` export 3 pages per batch, `u` user by GUID, `k` bulk upsert, `m`
/// multi-field, `s` check connection, `p` upsert); the rest is what the loopback portal answers,
/// request by request (see `split_answers`). Properties: no panic on any answer; the secret the
/// portal echoes is masked wherever it lands; `call` agrees with `parse_answer`; batches account
/// for every command; exports return strictly increasing IDs (nothing doubled) and count them;
/// bulk upserts return one row per record, in order, with a consistent summary.
pub fn answers(data: &[u8]) {
    static C: OnceLock<Conn> = OnceLock::new();
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let script = split_answers(rest);
    for (status, body) in &script {
        check_parse_answer(*status, body);
    }
    let conn = conn(&C);
    let client = &conn.client;
    conn.portal.load(script.clone(), false);
    const OPS: &[u8] = b"cgbhBeEukmsp";
    let op = OPS
        .iter()
        .position(|&c| c == op)
        .unwrap_or(usize::from(op) % OPS.len());
    let names3: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let names60: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
    let (surface, reply) = match OPS[op] {
        b'c' => (
            "call",
            api::call(client, "crm.contact.get", Some(r#"{"id":1}"#)),
        ),
        b'g' => ("get", api::get(client, Entity::Contact, 1)),
        b'b' => ("batch", api::batch(client, BATCH3, false)),
        b'h' => ("batch halt", api::batch(client, BATCH3, true)),
        b'B' => {
            let cmds: Map<String, Value> = names60
                .iter()
                .map(|n| (n.clone(), json!("crm.contact.get?id=1")))
                .collect();
            (
                "batch 60",
                api::batch(client, &Value::Object(cmds).to_string(), false),
            )
        }
        b'e' => (
            "export",
            api::export(
                client,
                "crm.contact.list",
                Some(r#"{"select":["ID","NAME"]}"#),
                None,
                1,
            ),
        ),
        b'E' => (
            "export 3",
            api::export(
                client,
                "crm.contact.list",
                Some(r#"{"filter":{">ID":0}}"#),
                None,
                3,
            ),
        ),
        b'u' => ("user by guid", api::get_user_by_guid(client, "guid-1")),
        b'k' => (
            "bulk upsert",
            api::bulk_upsert(client, Entity::Contact, &records().to_string(), &mut |_| {}),
        ),
        b'm' => (
            "multifield",
            api::set_multifield(client, Entity::Contact, 5, "PHONE", MULTI_VALUES),
        ),
        b's' => ("check connection", api::check_connection(client)),
        _ => (
            "upsert",
            api::upsert(
                client,
                Entity::Contact,
                &json!({"NAME": "A", CONTACT_GUID: "g-1"}).to_string(),
            ),
        ),
    };
    conn.portal.reset_operating(client);
    let text = api::envelope(&reply);
    check_envelope(surface, &text, Origin::Portal);

    match OPS[op] {
        b'c' => {
            let (status, body) = script.first().cloned().unwrap_or((500, EXHAUSTED.to_vec()));
            let webhook = &client.config().webhook;
            match (client::parse_answer(status, &body), &reply) {
                (Ok(r), Ok(s))
                    if webhook.mask(r.result.get()) != s.result.to_json_text()
                        || r.total != s.total
                        || r.next != s.next =>
                {
                    fail(
                        "invariant",
                        surface,
                        "the envelope differs from parse_answer",
                    )
                }
                (Ok(_), Ok(_)) => {}
                (Err(e), _) if e.kind == ErrorKind::TimeLimited => {}
                (Err(e), Err(got)) if webhook.mask(&e.code) != got.code || e.kind != got.kind => {
                    fail(
                        "invariant",
                        surface,
                        format_args!("parse_answer says {e}, the call {got}"),
                    )
                }
                (Err(_), Err(_)) => {}
                (a, b) => fail(
                    "invariant",
                    surface,
                    format_args!("parse_answer {a:?}, call {b:?}"),
                ),
            }
        }
        b'b' | b'h' => check_batch_reply(surface, &names3, &reply),
        b'B' => check_batch_reply(surface, &names60, &reply),
        b'e' | b'E' => {
            if let Ok(s) = &reply {
                let rows = s
                    .result
                    .to_value()
                    .unwrap_or_default()
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if s.total != Some(rows.len() as u64) {
                    fail(
                        "invariant",
                        surface,
                        format_args!("total {:?} for {} rows", s.total, rows.len()),
                    );
                }
                let ids: Vec<Option<i64>> =
                    rows.iter().map(|r| r.get("ID").and_then(id_of)).collect();
                if ids.iter().any(Option::is_none) || ids.windows(2).any(|w| w[0] >= w[1]) {
                    fail(
                        "doubled-row",
                        surface,
                        format_args!("IDs not strictly increasing: {ids:?}"),
                    );
                }
            }
        }
        b'u' => {
            if let Ok(s) = &reply {
                let matches = |v: &Value| match v {
                    Value::String(g) => g.trim().eq_ignore_ascii_case("guid-1"),
                    Value::Array(a) => a.iter().any(|x| {
                        x.as_str()
                            .is_some_and(|g| g.trim().eq_ignore_ascii_case("guid-1"))
                    }),
                    _ => false,
                };
                if !s
                    .result
                    .to_value()
                    .unwrap_or_default()
                    .get(USER_GUID)
                    .is_some_and(matches)
                {
                    fail(
                        "invariant",
                        surface,
                        format_args!(
                            "returned a user without the GUID: {}",
                            s.result.to_json_text()
                        ),
                    );
                }
            }
        }
        b'k' => {
            if let Ok(s) = &reply {
                let rows = s
                    .result
                    .to_value()
                    .unwrap_or_default()
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let guids = [Some("g-1"), Some("g-2"), None, Some("g-1")];
                if rows.len() != guids.len() {
                    fail(
                        "lost-record",
                        surface,
                        format_args!("{} rows for 4 records", rows.len()),
                    );
                    return;
                }
                let (mut created, mut updated, mut failed, mut unknown) = (0u64, 0u64, 0u64, 0u64);
                for (row, guid) in rows.iter().zip(guids) {
                    if let Some(g) = guid {
                        if row["guid"] != json!(g) {
                            fail("invariant", surface, format_args!("row {row} out of order"));
                        }
                    }
                    match (
                        row.get("error"),
                        row["created"].as_bool(),
                        id_of(&row["id"]),
                    ) {
                        (Some(e), _, _) if e["code"] == json!("OUTCOME_UNKNOWN") => unknown += 1,
                        (Some(_), _, _) => failed += 1,
                        (None, Some(true), Some(_)) => created += 1,
                        (None, Some(false), Some(_)) => updated += 1,
                        _ => fail("invariant", surface, format_args!("malformed row {row}")),
                    }
                }
                if rows[2].get("error").is_none() {
                    fail("invariant", surface, "a record without GUID was written");
                }
                let summary = s.extra.get("summary").cloned().unwrap_or_default();
                let want = json!({"created": created, "updated": updated, "failed": failed, "unknown": unknown});
                if summary != want {
                    fail(
                        "invariant",
                        surface,
                        format_args!("summary {summary} for the rows"),
                    );
                }
            }
        }
        b'm' => {
            if let Ok(s) = &reply {
                let n = |k: &str| {
                    s.result.to_value().unwrap_or_default()[k]
                        .as_u64()
                        .unwrap_or(0)
                };
                if n("kept") + n("changed") + n("added") != 2 {
                    fail(
                        "lost-value",
                        surface,
                        format_args!("{} for two values", s.result.to_json_text()),
                    );
                }
            }
        }
        b's' => {
            if let Ok(s) = &reply {
                if s.result.to_value().unwrap_or_default()["webhook_url"]
                    != json!(client.masked_webhook_url())
                {
                    fail(
                        "invariant",
                        surface,
                        "check_connection shows another webhook",
                    );
                }
            }
        }
        b'p' => {
            if let Ok(s) = &reply {
                if id_of(&s.result.to_value().unwrap_or_default()["id"]).is_none() {
                    fail(
                        "invariant",
                        surface,
                        format_args!("upsert result {}", s.result.to_json_text()),
                    );
                }
            }
        }
        _ => {}
    }
}
