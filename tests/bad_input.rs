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

/// A config error never repeats what the caller wrote: a webhook URL pasted into another key
/// (or used as a key) must not come back with its secret.
#[test]
fn config_errors_do_not_echo_values_or_keys() {
    let hook = format!("https://portal.example.com/rest/1/{SECRET}/");
    for cfg in [
        json!({"webhook_url": hook, "rate_limit": hook}),
        json!({"webhook_url": hook, "rate_limit": {"burst": hook, "per_second": 2}}),
        json!({"webhook_url": hook, hook.clone(): 1}),
        json!({"webhook_url": hook, "timeout_secs": hook}),
        json!({"webhook_url": hook, "guid_fields": {"contact": hook}}),
        json!({"webhook_url": hook, "guid_fields": {hook.clone(): "UF_CRM_1"}}),
        json!({"webhook_url": hook, "ca_cert_path": hook}),
        json!({"webhook_url": hook, "proxy": hook.replace("https", "ftp")}),
        json!({"webhook_url": 5, "x": hook}),
    ] {
        let e = api::new_client(&cfg.to_string()).expect_err("refused");
        let text = format!("{e} {e:?}");
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("portal.example.com/rest"), "{text}");
    }
}

/// Shapes that would stall or crash every session sharing the portal's limiter are refused.
#[test]
fn rate_limit_shapes_outside_sane_bounds_are_refused() {
    let hook = "https://portal.example.com/rest/1/abcd1234/";
    for rl in [
        json!({"burst": 1, "per_second": 1e-320}),
        json!({"burst": 1, "per_second": 0.001}),
        json!({"burst": 0, "per_second": 2}),
        json!({"burst": 1e300, "per_second": 2}),
        json!({"burst": 50, "per_second": 1e9}),
        json!({"burst": 50}),
    ] {
        let cfg = json!({"webhook_url": hook, "rate_limit": rl}).to_string();
        let e = api::new_client(&cfg).expect_err("refused");
        assert_eq!(e.code, "INVALID_CONFIG", "{rl}: {e}");
    }
    for rl in [
        json!({"burst": 50, "per_second": 2}),
        json!({"burst": 250, "per_second": 5}),
    ] {
        let cfg = json!({"webhook_url": hook, "rate_limit": rl}).to_string();
        assert!(api::new_client(&cfg).is_ok(), "{rl}");
    }
}

/// Webhooks whose authority is not a host and a port in range are refused at once (before,
/// `http://[::1]x/…` and port 99999 passed, and an add was then reported OUTCOME_UNKNOWN
/// although nothing had been sent).
#[test]
fn malformed_webhook_authorities_are_refused() {
    for url in [
        "http://[::1]x/rest/1/abcd1234/",
        "http://[::1]:/rest/1/abcd1234/",
        "http://127.0.0.1:99999/rest/1/abcd1234/",
        "http://127.0.0.1:0/rest/1/abcd1234/",
        "http://127.0.0.1:8x/rest/1/abcd1234/",
        "https://por tal.example.com/rest/1/abcd1234/",
        "https://[zz]/rest/1/abcd1234/",
    ] {
        let cfg = json!({"webhook_url": url}).to_string();
        let e = api::new_client(&cfg).expect_err(url);
        assert_eq!(e.code, "INVALID_WEBHOOK_URL", "{url}: {e}");
    }
}

/// The CA file is read outside the process-wide pool lock and bounded: a FIFO that never
/// delivers, or `/dev/zero`, fails that client at once and blocks no other session.
#[test]
fn ca_cert_path_that_never_ends_blocks_nobody() {
    let dir = std::env::temp_dir().join(format!("b24-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("ca.fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let big = dir.join("big.pem");
    std::fs::write(&big, vec![b'A'; 5 * 1024 * 1024]).unwrap();
    let mut paths = vec![
        "/dev/zero".to_string(),
        big.display().to_string(),
        dir.display().to_string(),
    ];
    if made {
        paths.push(fifo.display().to_string());
    }
    let hook = "https://portal.example.com/rest/1/abcd1234/";
    for p in &paths {
        let cfg = json!({"webhook_url": hook, "ca_cert_path": p}).to_string();
        let t = std::time::Instant::now();
        let e = api::new_client(&cfg).expect_err(p);
        assert_eq!(e.code, "INVALID_CONFIG", "{p}: {e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5), "{p}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
