//! The server-time test knobs: per-call cost billed like processing (per the batch billing
//! switch), the execution limit on a batch's accumulated processing, added network latency,
//! and the scaled operating window.

mod common;

use b24_emulator::{BatchBilling, CallCost, Emulator, EmulatorConfig, EntityKind};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// No bucket; a 60 s operating window (floor 0.01 s) so short costs count; `cost` per call.
fn costed(cost_ms: u64, limit: Option<f64>, billing: BatchBilling) -> Emulator {
    Emulator::start(EmulatorConfig {
        bucket: None,
        operating_limit_secs: limit,
        batch_billing: billing,
        call_cost: Some(CallCost::uniform(ms(cost_ms))),
        operating_window: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap()
}

/// A batch of `n` contact adds, keyed `c0..`.
fn adds(n: usize) -> Value {
    let cmd: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                format!("c{i}"),
                json!(format!("crm.contact.add?fields[NAME]=N{i}")),
            )
        })
        .collect();
    json!({ "cmd": cmd })
}

fn op(v: &Value) -> f64 {
    v["operating"].as_f64().unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn defaults_leave_the_knobs_off() {
    let d = EmulatorConfig::default();
    assert_eq!(d.call_cost, None);
    assert_eq!(d.latency, None);
    assert_eq!(d.operating_window, Duration::from_secs(600));
    let c = CallCost::uniform(ms(10)).with("crm.contact.ADD", ms(30));
    assert_eq!((c.of("crm.contact.add"), c.of("scope")), (ms(30), ms(10)));
}

#[test]
fn a_call_takes_its_cost_as_processing_time() {
    let e = costed(150, None, BatchBilling::PerSubCall);
    let t0 = Instant::now();
    let r = call(&e, "crm.contact.add", json!({"fields": {"NAME": "A"}}));
    assert!(t0.elapsed() >= ms(150));
    let v = r.json();
    assert!(v["time"]["processing"].as_f64().unwrap() >= 0.15, "{v}");
    let header: f64 = r.header("X-Bitrix-Rest-Time").unwrap().parse().unwrap();
    assert!(header >= 0.15);
    // Billed: the next call of the method sees the stored time.
    let v = get(&e, "crm.contact.add?fields[NAME]=B").json();
    assert!(op(&v["time"]) >= 0.3, "{v}");
}

#[test]
fn per_sub_call_billing_bills_each_sub_call_to_its_method() {
    let e = costed(30, None, BatchBilling::PerSubCall);
    let v = call(&e, "batch", adds(3)).json();
    let b = &v["result"];
    assert_eq!(b["result_error"], json!([]), "{v}");
    // Each sub-call sees the earlier ones and itself (all above the scaled floor of 0.01 s).
    let (a, c) = (op(&b["result_time"]["c0"]), op(&b["result_time"]["c2"]));
    assert!((0.03..0.06).contains(&a) && c >= 0.09, "{a} {c}");
    assert_eq!(v["time"]["operating"], json!(0.0), "batch is not accounted");
    assert!(v["time"]["processing"].as_f64().unwrap() >= 0.09, "the sum");
    assert_eq!(e.entity_count(EntityKind::Contact), 3);
    let v = get(&e, "crm.contact.list").json();
    assert!(op(&v["time"]) < 0.06, "list is its own method: {v}");
    let v = get(&e, "crm.contact.add?fields[NAME]=X").json();
    assert!(op(&v["time"]) >= 0.12, "stored sub-calls + this call: {v}");
}

#[test]
fn whole_batch_billing_bills_the_sum_to_batch() {
    let e = costed(30, None, BatchBilling::WholeBatch);
    call(&e, "batch", adds(3)).result();
    let v = call(&e, "batch", adds(1)).json();
    assert!(op(&v["time"]) >= 0.12, "both batches: {v}");
    let v = get(&e, "crm.contact.add?fields[NAME]=X").json();
    let own = op(&v["time"]);
    assert!(own < 0.06, "sub-calls not billed to their method: {own}");
}

#[test]
fn blocked_sub_calls_get_operation_time_limit_inside_a_200_batch() {
    // 30 ms per add, 50 ms budget: two adds pass the check (0 and 0.03 ≤ 0.05), then 0.06 > 0.05.
    let e = costed(30, Some(0.05), BatchBilling::PerSubCall);
    let r = call(&e, "batch", adds(5));
    assert_eq!(r.status, 200);
    let b = r.json()["result"].clone();
    let limit = json!({"error": "OPERATION_TIME_LIMIT",
                       "error_description": "Method is blocked due to operation time limit."});
    for k in ["c2", "c3", "c4"] {
        assert_eq!(b["result_error"][k], limit, "{b}");
    }
    assert!(b["result"]["c0"].is_number() && b["result"]["c1"].is_number());
    assert_eq!(e.entity_count(EntityKind::Contact), 2);
    // The same budget refuses the next plain call of the method.
    assert_eq!(
        get(&e, "crm.contact.add?fields[NAME]=X").json()["error"],
        "OPERATION_TIME_LIMIT"
    );
    // Whole-batch billing: the sub-calls are not checked, so all five run; the next batch is
    // refused as a whole.
    let e = costed(30, Some(0.05), BatchBilling::WholeBatch);
    assert_eq!(
        call(&e, "batch", adds(5)).result()["result_error"],
        json!([])
    );
    assert_eq!(call(&e, "batch", adds(1)).status, 429);
    assert_eq!(e.entity_count(EntityKind::Contact), 5);
}

#[test]
fn the_cut_off_applies_to_a_batch_s_accumulated_processing() {
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        call_cost: Some(CallCost::uniform(ms(150))),
        execution_limit: Some(ms(500)),
        operating_window: Duration::from_secs(60),
        ..Default::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let r = call(&e, "batch", adds(5));
    let took = t0.elapsed();
    // 0.15, 0.30, 0.45 s done; the fourth would end at 0.60 s, past the 0.5 s cut.
    assert_eq!(r.status, 504);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(took >= ms(500) && took < ms(590), "{took:?}");
    assert_eq!(
        e.entity_count(EntityKind::Contact),
        3,
        "committed before the cut"
    );
    let st = e.stats();
    assert_eq!((st.executed, st.cut_off, st.cut_off_committed), (1, 1, 3));
    // The killed request's time is not stored (its `finalize` never runs).
    let v = get(&e, "crm.contact.add?fields[NAME]=X").json();
    assert!(op(&v["time"]) < 0.3, "{v}");
    // A plain call whose cost passes the cut runs nothing.
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        call_cost: Some(CallCost::uniform(ms(300))),
        execution_limit: Some(ms(200)),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(get(&e, "crm.contact.add?fields[NAME]=X").status, 504);
    let st = e.stats();
    assert_eq!((st.executed, st.cut_off, st.cut_off_committed), (0, 1, 0));
    assert_eq!(e.entity_count(EntityKind::Contact), 0);
}

#[test]
fn latency_delays_answers_but_is_not_processing() {
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        latency: Some(ms(200)),
        operating_window: Duration::from_secs(60),
        operating_limit_secs: Some(0.05),
        execution_limit: Some(ms(100)),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..3 {
        let t0 = Instant::now();
        let r = get(&e, "crm.contact.list");
        assert!(t0.elapsed() >= ms(200));
        assert_eq!(r.status, 200, "not refused, not cut: {}", r.text());
        let t = &r.json()["time"];
        assert!(t["processing"].as_f64().unwrap() < 0.05, "{t}");
        assert!(t["duration"].as_f64().unwrap() < 0.1, "{t}");
        assert!(op(t) < 0.01, "not billed: {t}");
    }
    // Error answers wait too: it is the network, not PHP.
    let t0 = Instant::now();
    assert_eq!(get(&e, "no.such.method").status, 404);
    assert!(t0.elapsed() >= ms(200));
}

#[test]
fn a_scaled_window_resets_at_the_scaled_time() {
    // 2 s window: ten slots of 0.2 s. One 60 ms call spends the 50 ms budget.
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        operating_limit_secs: Some(0.05),
        call_cost: Some(CallCost::uniform(ms(60))),
        operating_window: Duration::from_secs(2),
        ..Default::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let v = get(&e, "crm.contact.list").json();
    let start = v["time"]["start"].as_f64().unwrap();
    let reset = v["time"]["operating_reset_at"].as_i64().unwrap();
    assert!((reset as f64 - (start + 2.0)).abs() <= 1.0, "{v}");
    assert_eq!(get(&e, "crm.contact.list").status, 429);
    // The slot is gone once ten slots have passed: at most 2 s after the first call.
    std::thread::sleep(ms(2000).saturating_sub(t0.elapsed()) + ms(50));
    assert_eq!(get(&e, "crm.contact.list").status, 200);
}
