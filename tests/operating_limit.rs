//! Bulk upsert bound by the portal's operating-time limit rather than the request rate: the
//! emulator bills each call's cost to its method in a sliding window (scaled 100× faster than
//! the cloud's 10 minutes), and blocks it past the budget. Every record must be written once,
//! the job waiting for the budget instead of failing records.

mod common;

use b24_emulator::{BatchBilling, CallCost, Emulator, EmulatorConfig, EntityKind};
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const GUID_FIELD: &str = "UF_CRM_1723100443089";
/// The window, scaled: 3 s instead of 600 s.
const WINDOW: Duration = Duration::from_secs(3);
/// The budget per window: 0.3 s of server time per method (a batch of 50 adds spends 0.5 s).
const LIMIT: f64 = 0.3;

fn emulator(billing: BatchBilling) -> Emulator {
    Emulator::start(EmulatorConfig {
        secret: SECRET.into(),
        bucket: None,
        operating_limit_secs: Some(LIMIT),
        operating_window: WINDOW,
        batch_billing: billing,
        call_cost: Some(CallCost::uniform(Duration::from_millis(10))),
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
}

/// 150 new contacts at 10 ms each need 1.5 s of budget, five windows' worth; one batch at a
/// time, so that the emulator sees each batch's time before the next (it stores a request's
/// time when it ends, as `LoadLimiter::finalize` does).
fn run(billing: BatchBilling) {
    let emu = emulator(billing);
    let c = client_with(
        &emu,
        json!({"operating_limit_secs": LIMIT, "operating_window_secs": WINDOW.as_secs_f64(), "bulk_deadline_secs": 120, "bulk_concurrency": 1}),
    );
    let records: Vec<Value> = (0..150)
        .map(|i| json!({"NAME": format!("Op {i}"), GUID_FIELD: format!("op-{i}")}))
        .collect();
    let mut waits = Vec::new();
    let t = Instant::now();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(records).to_string(),
        &mut |p| {
            if let Some(w) = &p.waiting {
                waits.push(w.reason.clone());
            }
        },
    ));
    let took = t.elapsed();
    assert_eq!(
        full["summary"],
        json!({"created": 150, "updated": 0, "failed": 0, "unknown": 0}),
        "{billing:?} after {took:?}: {full}"
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 150, "no duplicates");
    assert!(
        waits.iter().any(|r| r.contains("operating-time limit")),
        "{billing:?}: progress named the wait: {waits:?}"
    );
    // The budget allows the last of it two windows after the start; bounded well above that.
    assert!(took < Duration::from_secs(60), "{billing:?}: {took:?}");
}

#[test]
fn bulk_waits_for_the_budget_when_sub_calls_are_billed() {
    run(BatchBilling::PerSubCall);
}

#[test]
fn bulk_waits_for_the_budget_when_the_batch_is_billed() {
    run(BatchBilling::WholeBatch);
}

/// Past the job's deadline the records not yet written come back TIME_LIMITED, and nothing of
/// them is on the portal.
#[test]
fn bulk_deadline_reports_the_rest_time_limited() {
    let emu = emulator(BatchBilling::PerSubCall);
    let c = client_with(
        &emu,
        json!({"operating_limit_secs": LIMIT, "operating_window_secs": WINDOW.as_secs_f64(), "bulk_deadline_secs": 2, "bulk_concurrency": 1}),
    );
    let records: Vec<Value> = (0..150)
        .map(|i| json!({"NAME": format!("Dl {i}"), GUID_FIELD: format!("dl-{i}")}))
        .collect();
    let full = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &Value::Array(records).to_string(),
        &mut |_| {},
    ));
    let rows = full["result"].as_array().unwrap();
    let limited = rows
        .iter()
        .filter(|r| r["error"]["code"] == json!("TIME_LIMITED"))
        .count();
    let created = rows.iter().filter(|r| r["created"] == json!(true)).count();
    assert!(limited > 0, "{full}");
    assert_eq!(created + limited, 150, "{full}");
    assert_eq!(emu.entity_count(EntityKind::Contact), created);
}
