//! One request's faults: answers that echo the secret, are too large, cut, lost or late, and
//! pacing and deadlines that must bound a call.

use crate::common::*;
use b24_emulator::{EntityKind, Fault, FaultAction};
use bitrix24_1c::api::{self, Entity};
use serde_json::json;
use std::time::{Duration, Instant};

fn fault(method: &str, times: u32, action: FaultAction) -> Fault {
    Fault {
        method: Some(method.into()),
        times,
        action,
    }
}

fn contact(c: &bitrix24_1c::Client, fields: serde_json::Value) -> i64 {
    ok(api::create(c, Entity::Contact, &fields.to_string()))
        .as_i64()
        .expect("an ID")
}

/// Whatever part of an answer carries the secret (here: data the portal stores and echoes),
/// it is masked in single results, batch results, exports and bulk results alike.
#[test]
fn the_secret_is_masked_in_every_part_of_every_answer() {
    let journal = journal_path("every-part");
    let (emu, c) = journaled_setup(&journal);
    let echo = format!("see {}crm.contact.add and {SECRET}", emu.webhook_url());
    let id = contact(&c, json!({"NAME": "Echo", "COMMENTS": echo}));
    let got = ok(api::get(&c, Entity::Contact, id));
    assert!(got["COMMENTS"].as_str().unwrap().contains("/rest/1/***/"));
    let cmds = json!({"g": {"method": "crm.contact.get", "params": {"id": id}}}).to_string();
    ok(api::batch(&c, &cmds, false));
    ok(api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"select":["ID","COMMENTS"]}"#),
        None,
        2,
    ));
    let path = std::env::temp_dir().join(format!("b24-mask-{}.json", std::process::id()));
    ok(api::export(
        &c,
        "crm.contact.list",
        Some(r#"{"select":["*"]}"#),
        path.to_str(),
        1,
    ));
    let file = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!file.contains(SECRET) && file.contains("***"), "{file}");
    ok(api::call(
        &c,
        "crm.contact.list",
        Some(r#"{"select":["COMMENTS"]}"#),
    ));
    journal_clean(&c, &journal);
}

/// An answer larger than `max_response_mb` is refused while it is read, as a `protocol`
/// error, and a read is not asked again (it would only come back as large).
#[test]
fn an_answer_over_the_size_limit_is_refused() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"max_response_mb": 1}));
    let id = contact(
        &c,
        json!({"NAME": "Big", "COMMENTS": "x".repeat(1_200_000)}),
    );
    emu.reset_stats();
    let e = err(api::get(&c, Entity::Contact, id));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str(), &e["retryable"]),
        (Some("protocol"), Some("RESPONSE_TOO_LARGE"), &json!(false)),
        "{e}"
    );
    assert_eq!(emu.stats().by_method.get("crm.contact.get"), Some(&1));
}

/// A read whose answer was cut is asked again (before, the cut answer was the result).
#[test]
fn a_cut_answer_to_a_read_is_asked_again() {
    let (emu, c) = setup();
    let id = contact(&c, json!({"NAME": "Cut"}));
    emu.inject(fault("crm.contact.get", 2, FaultAction::TruncatedBody));
    emu.reset_stats();
    assert_eq!(ok(api::get(&c, Entity::Contact, id))["NAME"], json!("Cut"));
    assert_eq!(emu.stats().by_method.get("crm.contact.get"), Some(&3));
    // Empty or non-Bitrix 200 answers to a read (before: EMPTY_RESPONSE, not asked again).
    for action in [
        FaultAction::EmptyAfterExecute(200),
        FaultAction::NonJsonAfterExecute(200),
    ] {
        emu.inject(fault("crm.contact.get", 1, action));
        assert_eq!(ok(api::get(&c, Entity::Contact, id))["NAME"], json!("Cut"));
    }
}

/// A delete whose answer was lost did run: the retry's "not found" is that success, not a
/// failure.
#[test]
fn a_delete_whose_answer_was_lost_is_a_success() {
    let (emu, c) = setup();
    let id = contact(&c, json!({"NAME": "Gone"}));
    emu.inject(fault(
        "crm.contact.delete",
        1,
        FaultAction::ResetAfterExecute,
    ));
    let v = env(&api::delete(&c, Entity::Contact, id));
    assert_eq!(v["ok"], json!(true), "{v}");
    assert!(v["warnings"][0].as_str().unwrap().contains("already gone"));
    assert_eq!(emu.entity_count(EntityKind::Contact), 0);
    // A delete of an entity that never existed still fails.
    let e = err(api::delete(&c, Entity::Contact, 987_654));
    assert_eq!(e["kind"], json!("not_found"));
}

/// One deadline bounds the whole call: the field check and the write share it (before, each
/// had three timeouts of its own).
#[test]
fn one_deadline_bounds_a_whole_call() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"timeout_secs": 0.5, "deadline_secs": 1}));
    let id = contact(&c, json!({"NAME": "Slow"}));
    let slow = FaultAction::Delay(Duration::from_secs(3));
    emu.inject(fault("crm.contact.update", 20, slow.clone()));
    // Field descriptions are cached per webhook; this client's are cached already, so slow the
    // update itself many times over.
    let t = Instant::now();
    let e = err(api::update(&c, Entity::Contact, id, r#"{"NAME":"Late"}"#));
    let took = t.elapsed();
    assert_eq!(e["kind"], json!("timeout"), "{e}");
    assert!(took < Duration::from_millis(1900), "{took:?}");
    emu.clear_faults();
}

/// Pacing never holds a call past its deadline: with no slot in time, nothing is sent.
#[test]
fn pacing_waits_are_bounded_by_the_deadline() {
    let emu = emulator(None);
    let c = client_with(
        &emu,
        json!({"rate_limit": {"burst": 1, "per_second": 0.5}, "deadline_secs": 1}),
    );
    ok(api::call(&c, "scope", None));
    emu.reset_stats();
    let t = Instant::now();
    let e = err(api::call(&c, "scope", None));
    assert_eq!(
        (e["code"].as_str(), &e["retryable"]),
        (Some("RATE_LIMIT_WAIT"), &json!(true))
    );
    assert!(t.elapsed() < Duration::from_millis(900));
    assert_eq!(emu.stats().by_method.get("scope"), None, "nothing sent");
}

/// A client with a slow shape paces only itself: it no longer rewrites the shape that every
/// other session of the portal uses.
#[test]
fn one_clients_slow_shape_does_not_stall_the_others() {
    let emu = emulator(None);
    let fast = client_with(&emu, json!({"rate_limit": {"burst": 50, "per_second": 2}}));
    let slow = client_with(&emu, json!({"rate_limit": {"burst": 1, "per_second": 0.5}}));
    let t = Instant::now();
    for _ in 0..10 {
        ok(api::call(&fast, "scope", None));
    }
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    ok(api::call(&slow, "scope", None));
}

/// An add whose 200 answer is empty, cut, or not Bitrix's ran on the portal: it is
/// `OUTCOME_UNKNOWN` with its cause, never `protocol` "failed" (before: EMPTY_RESPONSE /
/// INVALID_RESPONSE while the contact existed).
#[test]
fn a_garbled_answer_to_an_add_is_outcome_unknown() {
    for (action, cause) in [
        (FaultAction::EmptyAfterExecute(200), "EMPTY_RESPONSE"),
        (FaultAction::NonJsonAfterExecute(200), "INVALID_RESPONSE"),
        (FaultAction::NonJsonAfterExecute(504), "HTTP_504"),
        (FaultAction::CloseMidBody, "CONNECTION_LOST"),
        (
            FaultAction::EchoRequest(b24_emulator::Echo::InResult),
            "INVALID_RESPONSE",
        ),
    ] {
        let (emu, c) = setup();
        emu.inject(fault("crm.contact.add", 1, action.clone()));
        let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"Ran"}"#));
        assert_eq!(
            (
                e["code"].as_str(),
                e["details"]["cause"].as_str(),
                &e["retryable"]
            ),
            (Some("OUTCOME_UNKNOWN"), Some(cause), &json!(false)),
            "{action:?}: {e}"
        );
        assert_eq!(emu.entity_count(EntityKind::Contact), 1, "{action:?}");
        assert_eq!(emu.stats().by_method.get("crm.contact.add"), Some(&1));
    }
}

/// Answers that echo the request target (webhook secret included) come back masked, in a
/// result, in an error, and in every command of a batch.
#[test]
fn echoed_request_targets_are_masked() {
    use b24_emulator::Echo;
    let journal = journal_path("echoed");
    let (emu, c) = journaled_setup(&journal);
    let id = contact(&c, json!({"NAME": "E"}));
    emu.inject(fault(
        "crm.contact.get",
        1,
        FaultAction::EchoRequest(Echo::InResult),
    ));
    let got = ok(api::get(&c, Entity::Contact, id));
    assert!(got["REQUEST_URI"]
        .as_str()
        .unwrap()
        .contains("/rest/1/***/"));
    emu.inject(fault(
        "crm.contact.get",
        1,
        FaultAction::EchoRequest(Echo::InError),
    ));
    let e = err(api::get(&c, Entity::Contact, id));
    assert!(e["description"].as_str().unwrap().contains("***"), "{e}");
    emu.inject(fault("batch", 1, FaultAction::EchoRequest(Echo::InResult)));
    let cmds = json!({
        "a": {"method": "crm.contact.get", "params": {"id": id}},
        "b": {"method": "crm.contact.get", "params": {"id": 999_999}},
    });
    let out = ok(api::batch(&c, &cmds.to_string(), false));
    assert!(out.to_string().contains("***"), "{out}");
    let ring = journal_clean(&c, &journal);
    assert!(
        ring.contains("\tcrm.contact.get\t400\tERROR_CORE\t1\t"),
        "{ring}"
    );
}

/// A 300 MB answer, declared or chunked, is refused after at most `max_response_mb` was read.
#[test]
fn huge_answers_are_refused_while_read() {
    use b24_emulator::HugeBody;
    let (emu, c) = setup();
    let id = contact(&c, json!({"NAME": "H"}));
    for chunked in [false, true] {
        emu.inject(fault(
            "crm.contact.get",
            1,
            FaultAction::Huge {
                bytes: 300 << 20,
                body: HugeBody::JsonArray,
                chunked,
            },
        ));
        let e = err(api::get(&c, Entity::Contact, id));
        assert_eq!(e["code"], json!("RESPONSE_TOO_LARGE"), "{e}");
    }
    // The same answer to an add: the add may have run.
    emu.inject(fault(
        "crm.contact.add",
        1,
        FaultAction::Huge {
            bytes: 300 << 20,
            body: HugeBody::NonJson,
            chunked: true,
        },
    ));
    let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"X"}"#));
    assert_eq!(
        (e["code"].as_str(), e["details"]["cause"].as_str()),
        (Some("OUTCOME_UNKNOWN"), Some("RESPONSE_TOO_LARGE"))
    );
}

/// An answer that trickles past the timeout: a read is asked again, a write is unknown.
#[test]
fn a_trickling_answer_times_out() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"timeout_secs": 0.5, "max_retries": 1}));
    emu.inject(fault(
        "crm.contact.add",
        1,
        FaultAction::Trickle { bytes_per_sec: 20 },
    ));
    let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"Slow"}"#));
    assert_eq!(
        (e["code"].as_str(), e["kind"].as_str()),
        (Some("OUTCOME_UNKNOWN"), Some("timeout")),
        "{e}"
    );
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
    let id = contact(&c, json!({"NAME": "R"}));
    emu.inject(fault(
        "crm.contact.get",
        1,
        FaultAction::Trickle { bytes_per_sec: 20 },
    ));
    assert_eq!(ok(api::get(&c, Entity::Contact, id))["NAME"], json!("R"));
}

/// Caller input that carries the secret (a pasted URL as a method name, a field key, a batch
/// command) is masked where the library quotes it back in an error or a warning.
#[test]
fn the_secret_in_caller_input_is_masked_where_it_is_quoted() {
    let journal = journal_path("caller-input");
    let (_emu, c) = journaled_setup(&journal);
    let hook = format!("https://portal.example.com/rest/1/{SECRET}/crm.contact.get");
    err(api::call(&c, &hook, None));
    err(api::call(&c, &format!("crm.{SECRET}.get?x"), None));
    // Valid method names, so they are sent (and journaled): the secret as the method itself.
    err(api::call(&c, SECRET, None));
    err(api::call(&c, &format!("crm.{SECRET}.get"), None));
    let fields = json!({ format!("UF_CRM_{SECRET}"): 1, "NAME": "K" }).to_string();
    let v = env(&api::create(&c, Entity::Contact, &fields));
    assert!(v.to_string().contains("***"), "{v}");
    let cmds = json!({ "a": hook }).to_string();
    env(&api::batch(&c, &cmds, false));
    let cmds = json!({ "a": {"method": hook, "params": {}} }).to_string();
    env(&api::batch(&c, &cmds, false));
    let ring = journal_clean(&c, &journal);
    assert!(
        ring.contains("\t***\t404\tERROR_METHOD_NOT_FOUND\t1\t"),
        "{ring}"
    );
    assert!(ring.contains("\tcrm.***.get\t404\t"), "{ring}");
}
