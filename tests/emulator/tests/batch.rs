//! `batch` sub-command parsing and references, as `CRestProvider::methodsBatch` and
//! `CRestUtil::processBatchElement` do them (reference §5).

mod common;

use b24_emulator::EntityKind;
use common::*;
use serde_json::json;

#[test]
fn sub_command_names_are_not_suffix_stripped_or_trimmed() {
    let e = emu();
    let id = add_contact(&e, json!({"NAME": "A"}));
    let b = call(
        &e,
        "batch",
        json!({"cmd": {
            "json": format!("crm.contact.get.json?id={id}"),
            "space": format!(" crm.contact.get?id={id}"),
            "upper": format!("CRM.CONTACT.GET?id={id}"),
            "frag": format!("crm.contact.get?id={id}#x"),
        }}),
    )
    .result();
    for k in ["json", "space"] {
        assert_eq!(
            b["result_error"][k],
            json!({"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}),
            "{k}"
        );
    }
    assert_eq!(
        b["result"]["upper"]["NAME"],
        json!("A"),
        "lower-case lookup"
    );
    assert_eq!(
        b["result"]["frag"]["NAME"],
        json!("A"),
        "parse_url drops #…"
    );
}

#[test]
fn non_string_commands_count_towards_fifty() {
    let e = emu();
    let mut cmd: Vec<serde_json::Value> = (0..49).map(|_| json!(1)).collect();
    cmd.push(json!("crm.contact.add?fields[NAME]=Last"));
    cmd.push(json!("crm.contact.add?fields[NAME]=Over"));
    cmd.push(json!(7));
    let b = call(&e, "batch", json!({ "cmd": cmd })).result();
    assert_eq!(e.entity_count(EntityKind::Contact), 1);
    let errs = b["result_error"].as_object().unwrap();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(errs["50"]["error"], json!("ERROR_BATCH_LENGTH_EXCEEDED"));
    assert_eq!(
        errs["51"]["error"],
        json!("ERROR_BATCH_LENGTH_EXCEEDED"),
        "past 50 even a non-string command gets the error"
    );
    assert!(b["result"]["49"].is_u64());
}

#[test]
fn references_follow_process_batch_element() {
    let e = emu();
    let b = call(
        &e,
        "batch",
        json!({"cmd": {
            "a": "crm.contact.add?fields[NAME]=Ann",
            "g": "crm.contact.get?id=$result[a]",
            // Upper-case kind: matched, but no such map, so null (no ID → error).
            "up": "crm.contact.get?id=$RESULT[a]",
            // The reference runs to the next whitespace: "x" is part of it and is replaced too.
            "tail": "crm.contact.add?fields[NAME]=N $result[g][NAME]x.",
            // A null value does not pass isset: the walk stops at the contact itself (an array),
            // so the embedded reference leaves the text.
            "nul": "crm.contact.add?fields[NAME]=Z $result[g][SECOND_NAME] end",
            // Booleans are not spliced.
            "bool": "crm.contact.add?fields[NAME]=B $result[g][HAS_PHONE] end",
        }}),
    )
    .result();
    let id = b["result"]["a"].as_u64().unwrap();
    assert_eq!(b["result"]["g"]["ID"], json!(id.to_string()));
    assert_eq!(
        b["result_error"]["up"]["error_description"],
        json!("ID is not defined or invalid.")
    );
    let name = |k: &str| {
        e.entity(EntityKind::Contact, b["result"][k].as_u64().unwrap())
            .unwrap()["NAME"]
            .clone()
    };
    assert_eq!(name("tail"), json!("N Ann"));
    assert_eq!(name("nul"), json!("Z $result[g][SECOND_NAME] end"));
    let has_phone = &b["result"]["g"]["HAS_PHONE"];
    if has_phone.is_string() {
        assert_eq!(
            name("bool"),
            json!(format!("B {} end", has_phone.as_str().unwrap()))
        );
    } else {
        assert_eq!(name("bool"), json!("B $result[g][HAS_PHONE] end"));
    }
}
