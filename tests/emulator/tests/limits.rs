//! The operating-time limit (reference §4.2; loadlimiter.php; docs limits.md), in plain calls
//! and inside `batch`, and the `X-Bitrix-Rest-*` headers.

mod common;

use b24_emulator::{BatchBilling, Emulator, EmulatorConfig, Fault, FaultAction};
use common::*;
use serde_json::json;
use std::time::Duration;

fn limited(limit: f64, billing: BatchBilling) -> Emulator {
    Emulator::start(EmulatorConfig {
        operating_limit_secs: Some(limit),
        batch_billing: billing,
        bucket: None,
        ..Default::default()
    })
    .unwrap()
}

fn delay(e: &Emulator, method: &str, ms: u64) {
    e.inject(Fault {
        method: Some(method.into()),
        times: 1,
        action: FaultAction::Delay(Duration::from_millis(ms)),
    });
}

#[test]
fn default_config_has_the_cloud_limit_and_always_reports_it() {
    assert_eq!(EmulatorConfig::default().operating_limit_secs, Some(480.0));
    assert_eq!(
        EmulatorConfig::default().batch_billing,
        BatchBilling::PerSubCall
    );
    let e = emu();
    let v = get(&e, "scope").json();
    let t = &v["time"];
    assert_eq!(t["operating"], json!(0.0), "{t}");
    // Nothing stored yet: the reset is this call's start + 10 minutes.
    let start = t["start"].as_f64().unwrap();
    let reset = t["operating_reset_at"].as_i64().unwrap();
    assert!((reset - (start as i64 + 600)).abs() <= 1, "{t}");
    // Even with the limiter switched off the figures are sent.
    let off = Emulator::start(EmulatorConfig {
        operating_limit_secs: None,
        ..Default::default()
    })
    .unwrap();
    assert!(get(&off, "scope").json()["time"]["operating"].is_number());
}

#[test]
fn operating_limit_counts_calls_over_a_tenth_of_a_second() {
    let e = limited(0.15, BatchBilling::PerSubCall);
    // A 50 ms call is under LoadLimiter::$minimalFixTime and is not counted.
    delay(&e, "crm.contact.list", 50);
    let t = get(&e, "crm.contact.list").json()["time"].clone();
    assert_eq!(t["operating"], json!(0.0), "{t}");
    delay(&e, "crm.contact.list", 200);
    let t = get(&e, "crm.contact.list").json()["time"].clone();
    assert!(t["operating"].as_f64().unwrap() >= 0.2, "{t}");
    let reset = t["operating_reset_at"].as_i64().unwrap();
    assert!(reset >= t["start"].as_f64().unwrap() as i64 + 599, "{t}");
    assert_err(
        &get(&e, "crm.contact.list"),
        429,
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
    );
    let other = get(&e, "crm.contact.fields");
    assert_eq!(other.status, 200, "other methods keep working");
    assert_eq!(other.json()["time"]["operating"], json!(0.0));
}

#[test]
fn operating_check_comes_after_authentication() {
    let e = limited(0.0, BatchBilling::PerSubCall);
    delay(&e, "scope", 150);
    assert_eq!(get(&e, "scope").status, 200);
    let bad = raw(&e, "GET", "/rest/1/wrongsecret0000/scope", &[], b"").unwrap();
    assert_eq!(bad.status, 401, "credentials are checked before the limit");
    assert_eq!(get(&e, "scope").status, 429);
}

#[test]
fn batch_sub_calls_are_billed_to_their_own_methods_by_default() {
    let e = limited(0.15, BatchBilling::PerSubCall);
    delay(&e, "crm.contact.list", 200);
    assert_eq!(get(&e, "crm.contact.list").status, 200);
    let r = call(
        &e,
        "batch",
        json!({"cmd": {"a": "crm.contact.list", "b": "scope", "c": "crm.contact.fields"}}),
    );
    assert_eq!(r.status, 200, "the batch itself is never refused");
    let v = r.json();
    let b = &v["result"];
    assert_eq!(
        b["result_error"]["a"],
        json!({"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."})
    );
    assert!(b["result"]["b"].is_array());
    assert_eq!(b["result_time"]["b"]["operating"], json!(0.0));
    assert!(b["result_time"]["c"]["operating_reset_at"].is_i64());
    assert_eq!(v["time"]["operating"], json!(0.0), "batch is not accounted");
    // A batch's injected delay is billed to nobody, and batch is never blocked.
    delay(&e, "batch", 200);
    assert_eq!(call(&e, "batch", json!({"cmd": ["scope"]})).status, 200);
    assert_eq!(call(&e, "batch", json!({"cmd": ["scope"]})).status, 200);
}

#[test]
fn whole_batch_billing_follows_the_live_measurement() {
    let e = limited(0.15, BatchBilling::WholeBatch);
    delay(&e, "batch", 200);
    let v = call(&e, "batch", json!({"cmd": {"a": "scope"}})).json();
    assert!(v["time"]["operating"].as_f64().unwrap() >= 0.2, "{v}");
    let v = call(&e, "batch", json!({"cmd": {"a": "scope"}}));
    assert_err(
        &v,
        429,
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
    );
    assert_eq!(get(&e, "scope").json()["time"]["operating"], json!(0.0));
    let e = limited(0.15, BatchBilling::WholeBatch);
    delay(&e, "scope", 200);
    assert_eq!(get(&e, "scope").status, 200);
    let v = call(&e, "batch", json!({"cmd": {"a": "scope"}})).result();
    assert!(v["result"]["a"].is_array(), "sub-calls are not checked");
    assert_eq!(
        v["result_time"]["a"]["operating"],
        json!(0.0),
        "batch's figure"
    );
}

#[test]
fn rest_time_headers_have_ten_decimals() {
    let e = emu();
    let r = get(&e, "scope");
    for h in [
        "X-Bitrix-Rest-Time",
        "X-Bitrix-Rest-User-Time",
        "X-Bitrix-Rest-System-Time",
    ] {
        let v = r.header(h).unwrap();
        assert_eq!(v.split('.').nth(1).map(str::len), Some(10), "{h}: {v}");
    }
}
