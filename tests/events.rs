//! Outbound events through the C ABI (`b24_parse_event`): a portal's form body, a JSON body,
//! the token check and its masking, and bad input, all without a client or a network.

use bitrix24_1c::ffi::{b24_parse_event, b24_string_free};
use serde_json::{json, Value};
use std::ffi::{c_char, CStr, CString};
use std::ptr;

const TOKEN: &str = "jvh9y1ulvt2m6k5or90v9mg8nn32ozas";

/// Calls `b24_parse_event` (`None` passes NULL) and returns the envelope's text.
fn parse(body: Option<&[u8]>, content_type: Option<&str>, token: Option<&[u8]>) -> String {
    let c = |b: Option<&[u8]>| b.map(|b| CString::new(b).unwrap());
    let (b, t) = (c(body), c(token));
    let ct = content_type.map(|s| CString::new(s).unwrap());
    let p = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    let out: *mut c_char = unsafe { b24_parse_event(p(&b), p(&ct), p(&t)) };
    assert!(!out.is_null());
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_string();
    unsafe { b24_string_free(out) };
    text
}

fn portal_body(token: &str) -> String {
    // As the docs show an outgoing webhook's call (api-reference/events/index.md), form-encoded.
    format!(
        "event=ONCRMCOMPANYUPDATE&event_handler_id=975&data%5BFIELDS%5D%5BID%5D=7405&ts=1766047124\
         &auth%5Bdomain%5D=some-domain.bitrix24.com\
         &auth%5Bclient_endpoint%5D=https%3A%2F%2Fsome-domain.bitrix24.com%2Frest%2F\
         &auth%5Bserver_endpoint%5D=https%3A%2F%2Foauth.bitrix.info%2Frest%2F\
         &auth%5Bmember_id%5D=d897063e1ce7c5eb9f04b9751eef5915&auth%5Bapplication_token%5D={token}"
    )
}

#[test]
fn a_portal_call_parsed_and_checked() {
    let text = parse(
        Some(portal_body(TOKEN).as_bytes()),
        Some("application/x-www-form-urlencoded"),
        Some(TOKEN.as_bytes()),
    );
    assert!(!text.contains(TOKEN), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], json!(true), "{v}");
    assert_eq!(v.get("warnings"), None, "{v}");
    let r = &v["result"];
    assert_eq!(r["event"], json!("ONCRMCOMPANYUPDATE"));
    assert_eq!(r["id"], json!(7405));
    assert_eq!(r["token_ok"], json!(true));
    assert_eq!(
        r["payload"],
        json!({
            "event": "ONCRMCOMPANYUPDATE", "event_handler_id": "975",
            "data": {"FIELDS": {"ID": "7405"}}, "ts": "1766047124",
            "auth": {
                "domain": "some-domain.bitrix24.com",
                "client_endpoint": "https://some-domain.bitrix24.com/rest/",
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "member_id": "d897063e1ce7c5eb9f04b9751eef5915",
                "application_token": "***"
            }
        })
    );
}

#[test]
fn a_wrong_token_is_an_auth_error_that_echoes_neither_token() {
    let guess = "jvh9y1ulvt2m6k5or90v9mg8nn32ozaX";
    let text = parse(
        Some(portal_body(guess).as_bytes()),
        None,
        Some(TOKEN.as_bytes()),
    );
    assert!(!text.contains(TOKEN) && !text.contains(guess), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ok"], json!(false));
    assert_eq!(v["error"]["kind"], json!("auth"));
    assert_eq!(v["error"]["code"], json!("INVALID_APPLICATION_TOKEN"));
}

#[test]
fn a_json_body_and_an_unchecked_token() {
    // An application's event carries OAuth tokens too: all masked.
    let body = format!(
        r#"{{"event":"ONCRMCONTACTADD","data":{{"FIELDS":{{"ID":"82"}}}},"auth":{{"access_token":"s6p6eclrvim6","refresh_token":"4s386p3q","application_token":"{TOKEN}"}}}}"#
    );
    let text = parse(Some(body.as_bytes()), Some("application/json"), None);
    for secret in [TOKEN, "s6p6eclrvim6", "4s386p3q"] {
        assert!(!text.contains(secret), "{text}");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"]["token_ok"], json!(false));
    assert_eq!(v["result"]["id"], json!(82));
    assert!(v["warnings"][0].as_str().unwrap().contains("not checked"));
}

#[test]
fn bad_input_is_an_envelope() {
    let code = |text: String| {
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ok"], json!(false), "{v}");
        v["error"]["code"].as_str().unwrap().to_string()
    };
    assert_eq!(code(parse(None, None, None)), "NULL_ARGUMENT");
    assert_eq!(code(parse(Some(b"event=\xff"), None, None)), "INVALID_UTF8");
    assert_eq!(code(parse(Some(b"a=1"), None, None)), "INVALID_EVENT");
    assert_eq!(
        code(parse(Some(b"{\"event\":"), None, None)),
        "INVALID_EVENT"
    );
    let deep = format!("event=X&a{}=1", "[]".repeat(1000));
    assert_eq!(
        code(parse(Some(deep.as_bytes()), None, None)),
        "EVENT_TOO_DEEP"
    );
    let big = format!("event=X&v={}", "%41".repeat(400_000));
    assert_eq!(
        code(parse(Some(big.as_bytes()), None, None)),
        "EVENT_TOO_LARGE"
    );
}
