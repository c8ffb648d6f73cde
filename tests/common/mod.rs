//! Shared helpers for the integration tests: an emulator per test, and envelope checks that
//! also assert the webhook secret never leaks into anything the library returns.
#![allow(dead_code)]

pub mod native;
pub mod raw_http;

use b24_emulator::{Bucket, Emulator, EmulatorConfig};
use bitrix24_1c::api::{self, Reply};
use bitrix24_1c::Client;
use serde_json::{json, Value};

/// The emulator's secret in every test (a long token, so a leak cannot match by accident).
pub const SECRET: &str = "s3cretWebhookToken0042xyz";

/// Starts an emulator with the given bucket (None: no portal-side limit).
pub fn emulator(bucket: Option<Bucket>) -> Emulator {
    let cfg = EmulatorConfig {
        secret: SECRET.into(),
        bucket,
        ..EmulatorConfig::default()
    };
    Emulator::start(cfg).expect("emulator starts")
}

/// The cut-off of [`quick_emulator`] (the cloud's is 60 s).
pub const QUICK_LIMIT_SECS: f64 = 2.0;

/// An emulator without limits whose cut-off is [`QUICK_LIMIT_SECS`], so a write whose answer
/// was lost is resolved in seconds; pair it with [`quick_client`].
pub fn quick_emulator() -> Emulator {
    let cfg = EmulatorConfig {
        secret: SECRET.into(),
        bucket: None,
        execution_limit: Some(std::time::Duration::from_secs_f64(QUICK_LIMIT_SECS)),
        ..EmulatorConfig::default()
    };
    Emulator::start(cfg).expect("emulator starts")
}

/// A client that knows [`quick_emulator`]'s cut-off, plus `extra` config keys.
pub fn quick_client(emu: &Emulator, extra: Value) -> Client {
    let mut cfg = json!({ "execution_limit_secs": QUICK_LIMIT_SECS });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            cfg[k] = v;
        }
    }
    client_with(emu, cfg)
}

/// A client for `emu` with extra config keys merged in (default: no client-side limit).
pub fn client_with(emu: &Emulator, extra: Value) -> Client {
    let mut cfg =
        json!({ "webhook_url": emu.webhook_url(), "rate_limit": false, "timeout_secs": 10 });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            cfg[k] = v;
        }
    }
    api::new_client(&cfg.to_string()).expect("client builds")
}

/// An emulator without limits and a client for it.
pub fn setup() -> (Emulator, Client) {
    let emu = emulator(None);
    let c = client_with(&emu, json!({}));
    (emu, c)
}

/// Renders the envelope, checks it is JSON without the secret, and returns it parsed.
pub fn env(reply: &Reply) -> Value {
    let text = api::envelope(reply);
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    serde_json::from_str(&text).expect("envelope is JSON")
}

/// The `result` of a successful envelope (panics with the envelope otherwise).
pub fn ok(reply: Reply) -> Value {
    let v = env(&reply);
    assert_eq!(v["ok"], json!(true), "expected success: {v}");
    v["result"].clone()
}

/// The `error` of a failed envelope (panics with the envelope otherwise).
pub fn err(reply: Reply) -> Value {
    let v = env(&reply);
    assert_eq!(v["ok"], json!(false), "expected failure: {v}");
    v["error"].clone()
}

/// The customer's contact example (spec, "Создать контакт"), with the company link given.
pub fn spec_contact(company_id: &str) -> Value {
    json!({ "fields": b24_emulator::spec::contact_fields(company_id) })
}

/// The customer's company example (spec, "Создать компанию").
pub fn spec_company() -> Value {
    json!({ "fields": b24_emulator::spec::company_fields() })
}

/// A journal file of its own for one test (removed first, so a rerun starts empty).
pub fn journal_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("b24-journal-{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// An emulator without limits and a client for it that journals every request to a ring and
/// to `path`; check both with [`journal_clean`].
pub fn journaled_setup(path: &std::path::Path) -> (Emulator, Client) {
    let emu = emulator(None);
    let c = client_with(
        &emu,
        json!({"journal": {"lines": 10000, "file": path.to_str().expect("a UTF-8 temp path")}}),
    );
    (emu, c)
}

/// Asserts that the client's journal ring and the journal file hold lines and no secret, and
/// returns the ring's text.
pub fn journal_clean(c: &Client, path: &std::path::Path) -> String {
    let ring = c.journal_text();
    let file = std::fs::read_to_string(path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    assert!(
        !ring.is_empty() && !file.is_empty(),
        "journaled: {ring:?} / {file:?}"
    );
    assert!(!ring.contains(SECRET), "secret in the journal ring: {ring}");
    assert!(!file.contains(SECRET), "secret in the journal file: {file}");
    ring
}
