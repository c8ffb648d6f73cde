//! Bad input through the Rust surface and the C ABI: always a clear `invalid_input` envelope,
//! never a crash, and nothing sent to the portal.

mod common;

use bitrix24_1c::api::{self, Entity};
use bitrix24_1c::ffi::*;
use common::*;
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

fn take(p: *mut c_char) -> Value {
    assert!(!p.is_null());
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string();
    unsafe { b24_string_free(p) };
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    serde_json::from_str(&text).unwrap()
}

fn invalid(v: &Value) -> &str {
    assert_eq!(v["ok"], json!(false), "{v}");
    assert_eq!(v["error"]["kind"], json!("invalid_input"), "{v}");
    v["error"]["code"].as_str().unwrap()
}

#[test]
fn rust_surface_rejects_bad_input_before_sending() {
    let (emu, c) = setup();
    for (reply, code) in [
        (
            api::create(&c, Entity::Contact, "{not json"),
            "INVALID_JSON",
        ),
        (api::create(&c, Entity::Contact, "[1,2]"), "INVALID_FIELDS"),
        (
            api::create(&c, Entity::Contact, r#"{"fields": "x"}"#),
            "INVALID_FIELDS",
        ),
        (api::update(&c, Entity::Contact, 0, "{}"), "INVALID_ID"),
        (api::update(&c, Entity::Company, -5, "{}"), "INVALID_ID"),
        (api::get(&c, Entity::Contact, 0), "INVALID_ID"),
        (api::delete(&c, Entity::Company, i64::MIN), "INVALID_ID"),
        (api::call(&c, "../x", None), "INVALID_METHOD"),
        (
            api::call(&c, "crm.contact.get?ID=1&x=", None),
            "INVALID_METHOD",
        ),
        (
            api::call(&c, "crm.contact.get/../../x", None),
            "INVALID_METHOD",
        ),
        (api::call(&c, "scope", Some("[1]")), "INVALID_PARAMS"),
        (api::batch(&c, "{}", false), "INVALID_COMMANDS"),
        (
            api::batch(&c, r#"{"a":"../../x"}"#, false),
            "INVALID_COMMANDS",
        ),
        (api::get_user_by_guid(&c, "   "), "INVALID_GUID"),
    ] {
        assert_eq!(invalid(&env(&reply)), code);
    }
    assert_eq!(emu.stats().requests, 0, "nothing reached the portal");
}

#[test]
fn bad_configs() {
    for (cfg, code) in [
        (json!({}), "INVALID_CONFIG"),
        (
            json!({"webhook_url": "http://portal.example.com/rest/1/abc12345/"}),
            "INVALID_WEBHOOK_URL",
        ),
        (
            json!({"webhook_url": "https://portal.example.com/rest/1/abc12345/", "timeout_secs": -1}),
            "INVALID_CONFIG",
        ),
        (
            json!({"webhook_url": "https://portal.example.com/rest/1/abc12345/", "rate_limit": {"burst": 0, "per_second": 1}}),
            "INVALID_CONFIG",
        ),
        (
            json!({"webhook_url": "https://portal.example.com/rest/1/abc12345/", "ca_cert_path": "/nonexistent.pem"}),
            "INVALID_CONFIG",
        ),
        (
            json!({"webhook_url": "https://portal.example.com/rest/1/abc12345/", "guid_fields": {"user": "UF_CRM_1"}}),
            "INVALID_CONFIG",
        ),
    ] {
        let e = api::new_client(&cfg.to_string()).unwrap_err();
        assert_eq!(e.code, code, "{cfg}");
        assert!(!e.description.contains("abc12345"), "{e}");
    }
}

#[test]
fn c_abi_null_and_non_utf8() {
    let emu = emulator(None);
    let cfg =
        CString::new(json!({"webhook_url": emu.webhook_url(), "rate_limit": false}).to_string())
            .unwrap();
    let mut error: *mut c_char = ptr::null_mut();
    let client = unsafe { b24_client_new(cfg.as_ptr(), &mut error) };
    assert!(!client.is_null() && error.is_null());

    let bad_utf8: &[u8] = b"{\"NAME\":\"\xff\xfe\"}\0";
    let bad = bad_utf8.as_ptr() as *const c_char;
    let nul = ptr::null();
    unsafe {
        assert_eq!(
            invalid(&take(b24_create_contact(ptr::null(), c"{}".as_ptr()))),
            "NULL_ARGUMENT"
        );
        assert_eq!(
            invalid(&take(b24_create_contact(client, nul))),
            "NULL_ARGUMENT"
        );
        assert_eq!(
            invalid(&take(b24_create_contact(client, bad))),
            "INVALID_UTF8"
        );
        assert_eq!(
            invalid(&take(b24_update_company(client, 0, c"{}".as_ptr()))),
            "INVALID_ID"
        );
        assert_eq!(invalid(&take(b24_get_contact(client, -1))), "INVALID_ID");
        assert_eq!(invalid(&take(b24_call(client, nul, nul))), "NULL_ARGUMENT");
        assert_eq!(
            invalid(&take(b24_call(client, c"../x".as_ptr(), nul))),
            "INVALID_METHOD"
        );
        assert_eq!(
            invalid(&take(b24_batch(client, c"nope".as_ptr(), false))),
            "INVALID_JSON"
        );
        assert_eq!(
            invalid(&take(b24_get_user_by_guid(client, bad))),
            "INVALID_UTF8"
        );
        assert_eq!(
            invalid(&take(b24_contact_fields(ptr::null()))),
            "NULL_ARGUMENT"
        );
        // NULL params means "no parameters".
        assert_eq!(
            take(b24_call(client, c"scope".as_ptr(), nul))["ok"],
            json!(true)
        );

        let null_client = b24_client_new(nul, &mut error);
        assert!(null_client.is_null());
        assert_eq!(invalid(&take(error)), "NULL_ARGUMENT");
        let null_client = b24_client_new(bad, ptr::null_mut());
        assert!(null_client.is_null(), "no out-pointer: still no crash");
        let wrong = CString::new(r#"{"webhook_url":"https://x.example.com/rest/1/TOPSECRETVALUE/","timeout_secs":"ten"}"#).unwrap();
        assert!(b24_client_new(wrong.as_ptr(), &mut error).is_null());
        let e = take(error);
        assert!(!e.to_string().contains("TOPSECRETVALUE"), "{e}");

        b24_client_free(client);
        b24_client_free(ptr::null_mut());
        b24_string_free(ptr::null_mut());
        assert_eq!(
            CStr::from_ptr(b24_version()).to_str().unwrap(),
            bitrix24_1c::VERSION
        );
    }
}
