//! DATE_MODIFY as incremental pulls use it (README "CRM", "Lists"): set on add and on update in
//! the portal zone, filterable with `=`, `>`, `>=`, `<` (any offset, read with `strtotime`), and
//! orderable with ID as the tie-break.

mod common;

use common::*;
use serde_json::{json, Value};

fn ids(r: &Value) -> Vec<u64> {
    r.as_array()
        .unwrap()
        .iter()
        .map(|c| c["ID"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn import(e: &b24_emulator::Emulator, name: &str, at: &str) -> u64 {
    call(
        e,
        "crm.contact.add",
        json!({"fields": {"NAME": name, "DATE_MODIFY": at}, "params": {"IMPORT": "Y"}}),
    )
    .result()
    .as_u64()
    .unwrap()
}

#[test]
fn set_on_add_and_update_in_the_portal_zone() {
    let e = emu();
    let id = call(&e, "crm.contact.add", json!({"fields": {"NAME": "A"}}))
        .result()
        .as_u64()
        .unwrap();
    let got = call(&e, "crm.contact.get", json!({"id": id})).result();
    let added = got["DATE_MODIFY"].as_str().unwrap().to_string();
    assert!(added.ends_with("+04:00") && added.len() == 25, "{added}");
    // Whole seconds: wait into the next one so the update's stamp differs.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A DATE_MODIFY in the fields of an update is read-only and dropped; the update stamps now.
    let body =
        json!({"id": id, "fields": {"NAME": "B", "DATE_MODIFY": "2001-01-01T00:00:00+04:00"}});
    call(&e, "crm.contact.update", body);
    let got = call(&e, "crm.contact.get", json!({"id": id})).result();
    let updated = got["DATE_MODIFY"].as_str().unwrap();
    assert!(updated > added.as_str(), "{updated} after {added}");
}

#[test]
fn filter_and_order_by_date_modify() {
    let e = emu();
    let a = import(&e, "a", "2026-01-01T10:00:01+04:00");
    let b = import(&e, "b", "2026-01-01T10:00:00+04:00");
    let c = import(&e, "c", "2026-01-01T10:00:00+04:00");
    let d = import(&e, "d", "2026-01-01T09:59:59+04:00");
    let order = json!({"DATE_MODIFY": "ASC", "ID": "ASC"});
    let list = |filter: Value| {
        ids(&call(
            &e,
            "crm.contact.list",
            json!({"filter": filter, "order": order, "start": -1}),
        )
        .result())
    };
    assert_eq!(list(json!({})), [d, b, c, a]);
    assert_eq!(
        list(json!({">=DATE_MODIFY": "2026-01-01T10:00:00+04:00"})),
        [b, c, a]
    );
    assert_eq!(
        list(json!({">DATE_MODIFY": "2026-01-01T10:00:00+04:00"})),
        [a]
    );
    assert_eq!(
        list(json!({"<DATE_MODIFY": "2026-01-01T10:00:00+04:00"})),
        [d]
    );
    // The same instant written in another zone (`strtotime` reads the offset).
    assert_eq!(
        list(json!({"=DATE_MODIFY": "2026-01-01T06:00:00Z"})),
        [b, c]
    );
    assert_eq!(
        list(json!({"=DATE_MODIFY": "2026-01-01T10:00:00+04:00", ">ID": b})),
        [c]
    );
    let desc = json!({"filter": {}, "order": {"DATE_MODIFY": "DESC"}, "start": -1});
    assert_eq!(
        ids(&call(&e, "crm.contact.list", desc).result()),
        [a, b, c, d]
    );
}
