//! The main job: walks the customer's whole spec through the C ABI.
//!
//! Find a user by 1C GUID, create a company and a contact (phones, e-mails, files, the spec's
//! Armenian fields), change one phone by its ID, read both back, delete them.
//!
//! By default it runs against the embedded Bitrix24 emulator on 127.0.0.1. With
//! `B24_WEBHOOK_URL` set it runs against that portal instead (then `B24_USER_GUID` names the 1C
//! GUID of a real user; without it the user lookup step is skipped). The webhook secret is
//! never printed.
//!
//!     cargo run --example demo

use bitrix24_1c::ffi::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

/// Takes ownership of an envelope returned by the library, prints it, and parses it.
fn take(step: &str, p: *mut c_char) -> Value {
    // SAFETY: every pointer passed here was just returned by the library and is freed once.
    let text = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { b24_string_free(p) };
    let v: Value = serde_json::from_str(&text).expect("envelopes are JSON");
    let shown = serde_json::to_string(&v).unwrap_or_default();
    let shown: String = if shown.chars().count() > 300 {
        shown.chars().take(300).collect::<String>() + "…"
    } else {
        shown
    };
    println!("{:<32} {}", step, shown);
    v
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in demo strings")
}

fn ok_result(v: &Value) -> Value {
    if v["ok"] != json!(true) {
        eprintln!("demo: step failed: {}", v["error"]);
        std::process::exit(1);
    }
    v["result"].clone()
}

fn main() {
    let real = std::env::var("B24_WEBHOOK_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let emulator;
    let (webhook, guid) = match &real {
        Some(url) => (url.clone(), std::env::var("B24_USER_GUID").ok()),
        None => {
            emulator =
                b24_emulator::Emulator::start_default().expect("the emulator starts on 127.0.0.1");
            let guid = "9d1f4e5a-1c2b-4d3e-8f90-a1b2c3d4e5f6".to_string();
            emulator.add_user(json!({"NAME": "Армен", "LAST_NAME": "Петросян", "EMAIL": "armen@example.com", "ACTIVE": true, "UF_USR_1722587885970": guid}));
            (emulator.webhook_url(), Some(guid))
        }
    };
    println!(
        "bitrix24-1c {} demo against {}",
        bitrix24_1c::VERSION,
        if real.is_some() {
            "the portal in B24_WEBHOOK_URL"
        } else {
            "the embedded emulator"
        }
    );

    let config = cstr(&json!({ "webhook_url": webhook }).to_string());
    let mut error: *mut c_char = ptr::null_mut();
    // SAFETY: valid C strings and a writable out-pointer.
    let client = unsafe { b24_client_new(config.as_ptr(), &mut error) };
    if client.is_null() {
        take("b24_client_new", error);
        std::process::exit(1);
    }

    unsafe {
        take(
            "check connection (scope)",
            b24_call(client, c"scope".as_ptr(), ptr::null()),
        );
        let assigned = match &guid {
            Some(g) => {
                let user = ok_result(&take(
                    "find user by 1C GUID",
                    b24_get_user_by_guid(client, cstr(g).as_ptr()),
                ));
                user["ID"].as_str().unwrap_or("1").to_string()
            }
            None => "1".to_string(),
        };

        let company = json!({"fields": {
            "TITLE": "Կազմակերպության անվանում",
            "UF_CRM_1721909503670": "Աշխատանքային անվանում",
            "PHONE": [{"VALUE": "+37498888888", "VALUE_TYPE": "WORK"}, {"VALUE": "+37498888889", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": "test1@gmail.com", "VALUE_TYPE": "WORK"}, {"VALUE": "test2@gmail.com", "VALUE_TYPE": "HOME"}],
            "UF_CRM_1707823114526": "ՀՎՀՀ",
            "COMMENTS": "bitrix24-1c demo",
            "ASSIGNED_BY_ID": assigned,
            "UF_CRM_1707823223708": [{"fileData": ["test1.txt", "AA=="]}, {"fileData": ["test2.txt", "AA=="]}],
            "UF_CRM_1723100288587": "GUID ID Company"
        }});
        let company_id = ok_result(&take(
            "create company",
            b24_create_company(client, cstr(&company.to_string()).as_ptr()),
        ));
        let company_id = company_id.as_i64().unwrap_or_default();

        let contact = json!({"fields": {
            "NAME": "Անուն", "LAST_NAME": "Ազգանուն", "SECOND_NAME": "Հայրանուն",
            "PHONE": [{"VALUE": "+37498888888", "VALUE_TYPE": "WORK"}, {"VALUE": "+37498888889", "VALUE_TYPE": "MOBILE"}],
            "EMAIL": [{"VALUE": "test1@gmail.com", "VALUE_TYPE": "WORK"}],
            "UF_CRM_1707822426950": "2024-08-08T14:05:21+04:00",
            "COMPANY": [company_id.to_string()],
            "TYPE_ID": "UC_DIUN9M",
            "ASSIGNED_BY_ID": assigned,
            "UF_CRM_1707822691457": [{"fileData": ["passport.txt", "AA=="]}],
            "UF_CRM_1723100443089": "GUID ID Contact"
        }});
        let contact_id = ok_result(&take(
            "create contact",
            b24_create_contact(client, cstr(&contact.to_string()).as_ptr()),
        ));
        let contact_id = contact_id.as_i64().unwrap_or_default();

        // Change one phone by its ID: read the items, edit one, send it back with its ID.
        let got = ok_result(&take("read contact", b24_get_contact(client, contact_id)));
        let first = got["PHONE"][0].clone();
        let change = json!({"fields": {"PHONE": [{"ID": first["ID"], "VALUE": "+37477000000", "VALUE_TYPE": first["VALUE_TYPE"]}]}});
        ok_result(&take(
            "change one phone by its ID",
            b24_update_contact(client, contact_id, cstr(&change.to_string()).as_ptr()),
        ));
        let after = ok_result(&take(
            "read contact back",
            b24_get_contact(client, contact_id),
        ));
        println!("{:<32} {}", "phones now", after["PHONE"]);
        ok_result(&take(
            "read company back",
            b24_get_company(client, company_id),
        ));

        ok_result(&take(
            "delete contact",
            b24_delete_contact(client, contact_id),
        ));
        ok_result(&take(
            "delete company",
            b24_delete_company(client, company_id),
        ));
        b24_client_free(client);
    }
    println!("demo: done");
}
