//! Faults on the wire: retries where they are safe, and no doubled writes where they are not.

mod common;

use b24_emulator::{EntityKind, Fault, FaultAction};
use bitrix24_1c::api::{self, Entity};
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn fault(method: &str, times: u32, action: FaultAction) -> Fault {
    Fault {
        method: Some(method.into()),
        times,
        action,
    }
}

fn new_contact(c: &bitrix24_1c::Client) -> i64 {
    ok(api::create(c, Entity::Contact, r#"{"NAME":"Тест"}"#))
        .as_i64()
        .unwrap()
}

#[test]
fn query_limit_is_retried_until_it_passes() {
    let (emu, c) = setup();
    let id = new_contact(&c);
    emu.inject(fault("crm.contact.get", 3, FaultAction::QueryLimit));
    emu.reset_stats();
    assert_eq!(ok(api::get(&c, Entity::Contact, id))["NAME"], json!("Тест"));
    assert_eq!(emu.stats().by_method.get("crm.contact.get"), Some(&4));
}

#[test]
fn query_limit_on_add_is_retried_too_because_nothing_ran() {
    let (emu, c) = setup();
    emu.inject(fault("crm.contact.add", 2, FaultAction::QueryLimit));
    new_contact(&c);
    assert_eq!(emu.entity_count(EntityKind::Contact), 1);
}

#[test]
fn too_many_refusals_surface_as_rate_limited() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"max_retries": 2}));
    emu.inject(fault("scope", 10, FaultAction::QueryLimit));
    let e = err(api::call(&c, "scope", None));
    assert_eq!(
        (
            e["kind"].as_str(),
            e["code"].as_str(),
            e["http_status"].as_u64()
        ),
        (
            Some("rate_limited"),
            Some("QUERY_LIMIT_EXCEEDED"),
            Some(503)
        )
    );
    assert_eq!(e["retryable"], json!(true));
    assert_eq!(e["description"], json!("Too many requests"));
}

#[test]
fn connection_reset_on_a_read_is_retried() {
    let (emu, c) = setup();
    let id = new_contact(&c);
    emu.inject(fault("crm.contact.get", 1, FaultAction::ResetBeforeExecute));
    assert_eq!(
        ok(api::get(&c, Entity::Contact, id))["ID"],
        json!(id.to_string())
    );
    emu.inject(fault("crm.contact.get", 1, FaultAction::ResetAfterExecute));
    ok(api::get(&c, Entity::Contact, id));
    emu.inject(fault("crm.contact.get", 1, FaultAction::TruncatedBody));
    ok(api::get(&c, Entity::Contact, id));
}

#[test]
fn broken_add_is_reported_not_resent() {
    let (emu, c) = setup();
    emu.inject(fault("crm.contact.add", 1, FaultAction::ResetAfterExecute));
    let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"Однажды"}"#));
    assert_eq!(
        (
            e["kind"].as_str(),
            e["code"].as_str(),
            e["retryable"].as_bool()
        ),
        (Some("transport"), Some("OUTCOME_UNKNOWN"), Some(false))
    );
    assert_eq!(
        emu.entity_count(EntityKind::Contact),
        1,
        "the portal committed once, and only once"
    );
    assert_eq!(emu.stats().by_method.get("crm.contact.add"), Some(&1));

    emu.inject(fault("crm.contact.add", 1, FaultAction::TruncatedBody));
    let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"Дважды"}"#));
    assert_eq!(e["code"], json!("OUTCOME_UNKNOWN"));
    assert_eq!(emu.entity_count(EntityKind::Contact), 2);
}

#[test]
fn html_error_pages_become_server_errors() {
    let (emu, c) = setup();
    emu.inject(fault("crm.contact.add", 1, FaultAction::HtmlError(502)));
    let e = err(api::create(&c, Entity::Contact, r#"{"NAME":"X"}"#));
    assert_eq!(
        (
            e["kind"].as_str(),
            e["code"].as_str(),
            e["http_status"].as_u64()
        ),
        (Some("server"), Some("OUTCOME_UNKNOWN"), Some(502))
    );
    assert_eq!(e["details"]["cause"], json!("HTTP_502"));
    assert_eq!(
        e["retryable"],
        json!(false),
        "an add that met a 5xx may have run"
    );
    assert_eq!(
        emu.stats().by_method.get("crm.contact.add"),
        Some(&1),
        "not re-sent"
    );

    // A read is retried through a short storm of 5xx pages.
    let id = new_contact(&c);
    emu.inject(fault("crm.contact.get", 2, FaultAction::HtmlError(503)));
    ok(api::get(&c, Entity::Contact, id));
}

#[test]
fn persistent_html_error_on_a_read_ends_with_an_excerpt() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"max_retries": 1}));
    emu.inject(fault("scope", 5, FaultAction::HtmlError(504)));
    let e = err(api::call(&c, "scope", None));
    assert_eq!(e["kind"], json!("server"));
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .contains("HTTP 504 with a non-JSON body"),
        "{e}"
    );
}

#[test]
fn empty_bodies() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"max_retries": 0}));
    emu.inject(fault("scope", 1, FaultAction::EmptyBody(200)));
    let e = err(api::call(&c, "scope", None));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("protocol"), Some("EMPTY_RESPONSE"))
    );
    emu.inject(fault("scope", 1, FaultAction::EmptyBody(500)));
    assert_eq!(err(api::call(&c, "scope", None))["kind"], json!("server"));
}

#[test]
fn timeouts_are_reported_in_time() {
    let emu = emulator(None);
    let c = client_with(&emu, json!({"timeout_secs": 0.5}));
    // One slow answer to a read: retried, and the retry succeeds.
    emu.inject(fault(
        "scope",
        1,
        FaultAction::Delay(Duration::from_secs(3)),
    ));
    ok(api::call(&c, "scope", None));
    // Slow every time: reported once the call's bound (three timeouts) is spent.
    emu.inject(fault(
        "scope",
        10,
        FaultAction::Delay(Duration::from_secs(3)),
    ));
    let t = Instant::now();
    let e = err(api::call(&c, "scope", None));
    assert_eq!(e["kind"], json!("timeout"));
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn operation_time_limit_is_waited_out_once_then_surfaces() {
    let (emu, c) = setup();
    // One refusal the answers seen do not explain: probed again after a short wait, and it passes.
    emu.inject(fault(
        "crm.contact.list",
        1,
        FaultAction::OperationTimeLimit,
    ));
    let t = std::time::Instant::now();
    ok(api::call(&c, "crm.contact.list", None));
    assert!(t.elapsed().as_secs_f64() >= 4.5, "{:?}", t.elapsed());
    // Still refused after that wait: the error surfaces, with its kind.
    emu.inject(fault(
        "crm.contact.list",
        5,
        FaultAction::OperationTimeLimit,
    ));
    let e = err(api::call(&c, "crm.contact.list", None));
    assert_eq!(
        (
            e["kind"].as_str(),
            e["code"].as_str(),
            e["http_status"].as_u64()
        ),
        (
            Some("time_limited"),
            Some("OPERATION_TIME_LIMIT"),
            Some(429)
        )
    );
}

#[test]
fn unreachable_portal_is_a_transport_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/rest/1/{SECRET}/");
    let c = api::new_client(
        &json!({"webhook_url": url, "max_retries": 1, "rate_limit": false}).to_string(),
    )
    .unwrap();
    let e = err(api::call(&c, "scope", None));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("transport"), Some("CONNECT_FAILED"))
    );
}

#[test]
fn wrong_secret_is_auth_and_is_masked() {
    let emu = emulator(None);
    let url = emu.webhook_url().replace(SECRET, "wrongSecret999");
    let c = api::new_client(
        &json!({"webhook_url": url, "rate_limit": false, "journal": {"lines": 10}}).to_string(),
    )
    .unwrap();
    let text = api::envelope(&api::call(&c, "scope", None));
    assert!(!text.contains("wrongSecret999"), "{text}");
    let journal = c.journal_text();
    assert!(journal.contains("\tscope\t401\t"), "{journal}");
    assert!(!journal.contains("wrongSecret999"), "{journal}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            v["error"]["kind"].as_str(),
            v["error"]["http_status"].as_u64()
        ),
        (Some("auth"), Some(401))
    );
    assert!(c.masked_webhook_url().ends_with("/rest/1/***/"));
}

/// A keep-alive server that answers every request with `{"result":7}` and closes a connection
/// once it has been idle for `idle` (as nginx's `keepalive_timeout` and Apache's
/// `KeepAliveTimeout` do). Returns its port and the count of requests it answered.
fn closing_server(idle: Duration) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = std::sync::Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(16).flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                // A quiet `idle` ends the read, and so the connection.
                conn.set_read_timeout(Some(idle)).unwrap();
                let mut w = conn.try_clone().unwrap();
                let mut r = std::io::BufReader::new(conn);
                for _ in 0..16 {
                    if raw_http::read_request(&mut r).is_none() {
                        return;
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    if !raw_http::write_json(&mut w, r#"{"result":7}"#) {
                        return;
                    }
                }
            });
        }
    });
    (port, answered)
}

/// The portal closes a pooled connection while it is idle. The next write must go out on a
/// fresh connection, not on the closed one, where it would be cut and end as "outcome unknown".
#[test]
fn a_connection_the_portal_closed_while_idle_does_not_cut_the_next_write() {
    let (port, answered) = closing_server(Duration::from_millis(100));
    let url = format!("http://127.0.0.1:{port}/rest/1/{SECRET}/");
    let c = api::new_client(
        &json!({"webhook_url": url, "rate_limit": false, "timeout_secs": 5}).to_string(),
    )
    .unwrap();
    let fields = Some(r#"{"fields":{"NAME":"Idle"}}"#);
    for round in 0..3 {
        let got = ok(api::call(&c, "crm.contact.add", fields));
        assert_eq!(got, json!(7), "round {round}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(answered.load(std::sync::atomic::Ordering::SeqCst), 3);
}
