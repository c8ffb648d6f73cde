//! `methods` and `profile` as `CRestProvider::methodsList` / `getProfile` answer them.

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
    assert_eq!(crm.as_array().unwrap().len(), 16);
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
