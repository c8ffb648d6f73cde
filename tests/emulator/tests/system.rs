//! `methods`, `profile` and webhook authentication as `CRestProvider` and `APAuth\Auth` answer them.

mod common;

use b24_emulator::{Emulator, EmulatorConfig};
use common::*;
use serde_json::json;

#[test]
fn methods_lists_the_webhooks_scopes_plus_global() {
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        scopes: vec!["user".into()],
        ..Default::default()
    })
    .unwrap();
    let m = get(&e, "methods").result();
    let m: Vec<&str> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(m.contains(&"user.get") && m.contains(&"batch"), "{m:?}");
    assert!(!m.contains(&"crm.contact.add"), "crm is not granted: {m:?}");
    let full = get(&e, "methods?full=true").result();
    assert!(full.as_array().unwrap().contains(&json!("crm.contact.add")));
    let crm = get(&e, "methods?scope=crm").result();
    assert!(!crm.as_array().unwrap().contains(&json!("batch")));
    assert_eq!(crm.as_array().unwrap().len(), 18); // with crm.status.list and crm.duplicate.findbycomm
    let common = get(&e, "methods?scope=").result();
    assert_eq!(
        common,
        json!(["batch", "scope", "methods", "server.time", "profile"])
    );
}

#[test]
fn profile_has_the_documented_keys_only() {
    let e = emu();
    let p = get(&e, "profile").result();
    let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "ID",
            "ADMIN",
            "NAME",
            "LAST_NAME",
            "PERSONAL_GENDER",
            "TIME_ZONE"
        ]
    );
}

#[test]
fn webhook_credentials_may_come_as_parameters_and_https_is_asked_of_webhooks_only() {
    let e = Emulator::start(EmulatorConfig {
        bucket: None,
        require_https: true,
        ..Default::default()
    })
    .unwrap();
    let secret = "emulatorsecret0123456789";
    let https = [("X-Forwarded-Proto", "https")];
    let r = raw(&e, "GET", "/rest/scope", &[], b"").unwrap();
    assert_err(&r, 401, "NO_AUTH_FOUND", "Wrong authorization data");
    let q = format!("/rest/scope?aplogin=1&ap={secret}");
    let r = raw(&e, "GET", &q, &[], b"").unwrap();
    assert_err(&r, 401, "INVALID_REQUEST", "Https required.");
    assert_eq!(raw(&e, "GET", &q, &https, b"").unwrap().status, 200);
    let r = raw(&e, "GET", "/rest/scope?aplogin=1&ap=wrong", &https, b"").unwrap();
    assert_err(
        &r,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
}
