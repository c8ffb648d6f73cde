//! Every fault the emulator can inject × every operation, on the first request of each method
//! the operation makes. Each case checks three things: the envelope (valid JSON, no secret, an
//! error `kind` that fits), the truth of what it says (written means written once, failed means
//! not written, unknown only where a write may have run) and the portal's state afterwards.

use crate::common::*;
use b24_emulator::{Echo, Emulator, EntityKind, Fault, FaultAction, HugeBody};
use bitrix24_1c::api::{self, Entity};
use bitrix24_1c::Client;
use serde_json::{json, Value};
use std::time::Duration;

const GUID: &str = "UF_CRM_1723100443089";
const USER_GUID: &str = "UF_USR_1722587885970";

/// The faults of the matrix, each hitting one request.
pub fn faults() -> Vec<(&'static str, FaultAction)> {
    vec![
        ("query_limit", FaultAction::QueryLimit),
        ("html_502", FaultAction::HtmlError(502)),
        ("html_503", FaultAction::HtmlError(503)),
        ("reset_before", FaultAction::ResetBeforeExecute),
        ("reset_after", FaultAction::ResetAfterExecute),
        ("late", FaultAction::Delay(Duration::from_millis(1500))),
        ("truncated", FaultAction::TruncatedBody),
        ("empty_200", FaultAction::EmptyBody(200)),
        ("empty_502", FaultAction::EmptyBody(502)),
        ("operation_limit", FaultAction::OperationTimeLimit),
        ("empty_200_after", FaultAction::EmptyAfterExecute(200)),
        ("html_200_after", FaultAction::NonJsonAfterExecute(200)),
        ("html_504_after", FaultAction::NonJsonAfterExecute(504)),
        ("chunked_cut", FaultAction::CloseMidBody),
        ("echo_result", FaultAction::EchoRequest(Echo::InResult)),
        ("echo_error", FaultAction::EchoRequest(Echo::InError)),
        (
            "huge_chunked",
            FaultAction::Huge {
                bytes: 80 << 20,
                body: HugeBody::JsonArray,
                chunked: true,
            },
        ),
        (
            "huge_declared",
            FaultAction::Huge {
                bytes: 300 << 20,
                body: HugeBody::NonJson,
                chunked: false,
            },
        ),
        ("trickle", FaultAction::Trickle { bytes_per_sec: 40 }),
    ]
}

/// What an operation left on the portal, read without faults.
struct Portal<'a> {
    emu: &'a Emulator,
    admin: Client,
}

impl Portal<'_> {
    fn contacts_with_guid(&self, guid: &str) -> Vec<Value> {
        self.emu.clear_faults();
        let params = json!({"filter": {format!("={GUID}"): guid}, "select": ["*", "PHONE"]});
        let rows = ok(api::call(
            &self.admin,
            "crm.contact.list",
            Some(&params.to_string()),
        ));
        rows.as_array().cloned().unwrap_or_default()
    }
}

/// The client under test: short timeouts so that "late" is late, and the emulator's cut-off
/// and the client's execution limit short so that resolving a lost write takes seconds.
fn client(emu: &Emulator) -> Client {
    quick_client(emu, json!({"timeout_secs": 1, "max_retries": 3}))
}

/// How a case may end.
fn check_envelope(case: &str, v: &Value) {
    if v["ok"] == json!(true) {
        return;
    }
    let e = &v["error"];
    let kind = e["kind"].as_str().unwrap_or("");
    let allowed = [
        "invalid_input",
        "server",
        "transport",
        "timeout",
        "protocol",
        "rate_limited",
        "time_limited",
    ];
    assert!(allowed.contains(&kind), "{case}: unexpected kind: {v}");
    if e["code"] == json!("OUTCOME_UNKNOWN") {
        assert_eq!(e["retryable"], json!(false), "{case}: {v}");
    }
}

fn unknown(v: &Value) -> bool {
    v["error"]["code"] == json!("OUTCOME_UNKNOWN")
}

/// Runs `op` once per fault on `method`, each on a fresh emulator.
fn each_fault(method: &str, op: impl Fn(&str, &Emulator, &Portal, FaultAction)) {
    for (name, action) in faults() {
        let emu = quick_emulator();
        let portal = Portal {
            emu: &emu,
            admin: client_with(&emu, json!({})),
        };
        let case = format!("{method} × {name}");
        op(&case, &emu, &portal, action);
    }
}

fn inject(emu: &Emulator, method: &str, action: FaultAction) {
    emu.inject(Fault {
        method: Some(method.into()),
        times: 1,
        action,
    });
}

#[test]
fn create_contact() {
    each_fault("crm.contact.add", |case, emu, portal, action| {
        let c = client(emu);
        inject(emu, "crm.contact.add", action);
        let v = env(&api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": "M", GUID: "m-1"}).to_string(),
        ));
        check_envelope(case, &v);
        let rows = portal.contacts_with_guid("m-1");
        match (v["ok"] == json!(true), unknown(&v)) {
            (true, _) => {
                assert_eq!(rows.len(), 1, "{case}: written once: {v}");
                assert_eq!(
                    rows[0]["ID"].as_str(),
                    Some(v["result"].to_string().as_str())
                );
            }
            (false, true) => assert!(rows.len() <= 1, "{case}: {v}"),
            (false, false) => assert!(rows.is_empty(), "{case}: reported failed but written: {v}"),
        }
    });
}

#[test]
fn update_contact() {
    each_fault("crm.contact.update", |case, emu, portal, action| {
        let c = client(emu);
        let id = ok(api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": "Old", GUID: "u-1"}).to_string(),
        ));
        inject(emu, "crm.contact.update", action);
        let v = env(&api::update(
            &c,
            Entity::Contact,
            id.as_i64().unwrap(),
            r#"{"NAME":"New"}"#,
        ));
        check_envelope(case, &v);
        let rows = portal.contacts_with_guid("u-1");
        assert_eq!(rows.len(), 1, "{case}");
        if v["ok"] == json!(true) {
            assert_eq!(
                rows[0]["NAME"],
                json!("New"),
                "{case}: reported written: {v}"
            );
        }
    });
}

#[test]
fn delete_contact() {
    each_fault("crm.contact.delete", |case, emu, portal, action| {
        let c = client(emu);
        let id = ok(api::create(
            &c,
            Entity::Contact,
            &json!({"NAME": "D", GUID: "d-1"}).to_string(),
        ));
        inject(emu, "crm.contact.delete", action);
        let v = env(&api::delete(&c, Entity::Contact, id.as_i64().unwrap()));
        check_envelope(case, &v);
        let rows = portal.contacts_with_guid("d-1");
        if v["ok"] == json!(true) {
            assert!(rows.is_empty(), "{case}: reported deleted: {v}");
        } else {
            assert!(v["error"]["kind"] != json!("not_found"), "{case}: {v}");
        }
    });
}

#[test]
fn reads() {
    for method in [
        "crm.contact.get",
        "crm.contact.fields",
        "user.get",
        "crm.contact.list",
    ] {
        each_fault(method, |case, emu, _portal, action| {
            let c = client(emu);
            emu.add_user(json!({"NAME": "U", USER_GUID: "user-1"}));
            let id = ok(api::create(
                &c,
                Entity::Contact,
                &json!({"NAME": "R", GUID: "r-1"}).to_string(),
            ));
            inject(emu, method, action);
            let v = env(&match method {
                "crm.contact.get" => api::get(&c, Entity::Contact, id.as_i64().unwrap()),
                "crm.contact.fields" => api::fields(&c, Entity::Contact),
                "user.get" => api::get_user_by_guid(&c, "user-1"),
                _ => api::call(&c, method, None),
            });
            check_envelope(case, &v);
            assert!(!unknown(&v), "{case}: a read is never unknown: {v}");
        });
    }
}

#[test]
fn upsert_contact() {
    for method in ["crm.contact.list", "crm.contact.add"] {
        each_fault(method, |case, emu, portal, action| {
            let c = client(emu);
            inject(emu, method, action);
            let body = json!({"NAME": "Up", GUID: "up-1"}).to_string();
            let v = env(&api::upsert(&c, Entity::Contact, &body));
            check_envelope(case, &v);
            let rows = portal.contacts_with_guid("up-1");
            match (v["ok"] == json!(true), unknown(&v)) {
                (true, _) => assert_eq!(rows.len(), 1, "{case}: {v}"),
                (false, true) => assert!(rows.len() <= 1, "{case}: {v}"),
                (false, false) => assert!(rows.is_empty(), "{case}: {v}"),
            }
            // Again, without faults: still one entity.
            ok(api::upsert(&c, Entity::Contact, &body));
            assert_eq!(portal.contacts_with_guid("up-1").len(), 1, "{case}");
        });
    }
}

#[test]
fn set_multifield() {
    for method in ["crm.contact.get", "crm.contact.update"] {
        each_fault(method, |case, emu, portal, action| {
            let c = client(emu);
            let fields =
                json!({"NAME": "P", GUID: "p-1", "PHONE": [{"VALUE": "+1", "VALUE_TYPE": "WORK"}]});
            let id = ok(api::create(&c, Entity::Contact, &fields.to_string()))
                .as_i64()
                .unwrap();
            inject(emu, method, action);
            let v = env(&api::set_multifield(
                &c,
                Entity::Contact,
                id,
                "PHONE",
                r#"["+2"]"#,
            ));
            check_envelope(case, &v);
            let phones: Vec<Value> = portal.contacts_with_guid("p-1")[0]["PHONE"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|p| p["VALUE"].clone())
                .collect();
            if v["ok"] == json!(true) {
                assert_eq!(phones, vec![json!("+2")], "{case}: {v}");
            }
        });
    }
}

#[test]
fn batch_of_reads_and_writes() {
    each_fault("batch", |case, emu, portal, action| {
        let c = client(emu);
        let cmds = json!({
            "add": {"method": "crm.contact.add", "params": {"fields": {"NAME": "B", GUID: "b-1"}}},
            "list": {"method": "crm.contact.list", "params": {"select": ["ID"]}},
        });
        inject(emu, "batch", action);
        let v = env(&api::batch(&c, &cmds.to_string(), false));
        check_envelope(case, &v);
        let rows = portal.contacts_with_guid("b-1");
        match (v["ok"] == json!(true), unknown(&v)) {
            (true, _) => assert_eq!(rows.len(), 1, "{case}: {v}"),
            (false, true) => assert!(rows.len() <= 1, "{case}: {v}"),
            (false, false) => assert!(rows.is_empty(), "{case}: {v}"),
        }
    });
}

#[test]
fn bulk_upsert() {
    each_fault("batch", |case, emu, portal, action| {
        let c = client(emu);
        let records: Vec<Value> = (0..60)
            .map(|i| json!({"NAME": format!("N{i}"), GUID: format!("bulk-{i}")}))
            .collect();
        inject(emu, "batch", action);
        let v = env(&api::bulk_upsert(
            &c,
            Entity::Contact,
            &Value::Array(records).to_string(),
            &mut |_| {},
        ));
        check_envelope(case, &v);
        let Some(rows) = v["result"].as_array() else {
            return;
        };
        for (i, r) in rows.iter().enumerate() {
            let stored = portal.contacts_with_guid(&format!("bulk-{i}"));
            if r.get("id").is_some() {
                assert_eq!(stored.len(), 1, "{case}: record {i} reported written: {r}");
                assert_eq!(
                    stored[0]["ID"].as_str(),
                    Some(r["id"].to_string().as_str()),
                    "{case}"
                );
            } else if r["error"]["code"] == json!("OUTCOME_UNKNOWN") {
                assert!(stored.len() <= 1, "{case}: {r}");
            } else {
                assert!(
                    stored.is_empty(),
                    "{case}: record {i} reported failed but written: {r}"
                );
            }
        }
    });
}

#[test]
fn export_all() {
    each_fault("batch", |case, emu, _portal, action| {
        let c = client(emu);
        for i in 0..120 {
            ok(api::create(
                &c,
                Entity::Contact,
                &json!({"NAME": format!("E{i}")}).to_string(),
            ));
        }
        inject(emu, "batch", action);
        let v = env(&api::export(
            &c,
            "crm.contact.list",
            Some(r#"{"select":["ID"]}"#),
            None,
            2,
        ));
        check_envelope(case, &v);
        if v["ok"] == json!(true) {
            let ids: std::collections::BTreeSet<String> = v["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["ID"].as_str().unwrap_or("").to_string())
                .collect();
            assert_eq!(ids.len(), 120, "{case}: no duplicates, no holes");
        }
        assert_eq!(emu.entity_count(EntityKind::Contact), 120, "{case}");
    });
}
