//! Outbound events: the POST a portal sends to an event handler URL, parsed into JSON.
//!
//! What the portal sends, from the Bitrix source and documentation:
//! - The fields are `event`, `event_handler_id`, `data` and `ts`
//!   (`rest/lib/event/sender.php`, `Sender::call`: `Sqs::queryItem(..., array('event' =>
//!   $handler['EVENT_NAME'], 'event_handler_id' => $handler['ID'], 'data' => $data, 'ts' =>
//!   time()), $authData, ...)`), plus `auth`. `event` is the name in upper case: `event.bind`
//!   stores `mb_strtoupper($query['EVENT'])` (`rest/lib/api/event.php`, `eventBind`).
//! - `auth[application_token]` is the token to check: `Sender::call` puts
//!   `"application_token" => \CRestUtil::getApplicationToken($application)` into the auth data
//!   of an application's handler, and `$handler['APPLICATION_TOKEN']` into that of an outgoing
//!   webhook (a `Random::getString(32)` made when the webhook is saved,
//!   `rest/lib/preset/provider.php`). The docs say to compare it with the token shown in the
//!   webhook's settings (`local-integrations/local-webhooks.md`, "How to Verify Request
//!   Authenticity").
//! - The portal does not POST itself: it hands the items to the queue server
//!   (`ProviderOAuth::send` → `OAuth\Client::sendEvent`), which does. The docs give the body:
//!   "Bitrix24 sends a request with content-type `application/x-www-form-urlencoded`"
//!   (`api-reference/events/index.md`, "What Comes to the Handler"), PHP's bracket notation as
//!   `$_REQUEST` reads it (`local-integrations/local-webhooks.md`, "What the Handler
//!   Receives"); every value arrives as a string (`"event_handler_id": "12"`, `"ID": "82"`,
//!   `api-reference/crm/contacts/events/on-crm-contact-update.md`).
//! - `auth` of an outgoing webhook holds only `domain`, `client_endpoint`, `server_endpoint`,
//!   `member_id`, `application_token`; an application's may add `access_token`, `expires_in`,
//!   `scope`, `status` and sometimes `refresh_token` (`api-reference/events/index.md`,
//!   "Parameter auth").
//!
//! A form body is read as PHP's `parse_str` reads it (see [`parse_form`]); a JSON body (for a
//! relay that re-encodes the call) is taken as it is. Both become one JSON object of the same
//! nesting. Tokens never leave this module: the returned payload has `auth.application_token`,
//! `auth.access_token` and `auth.refresh_token` replaced by `***`, and no error quotes the body.

mod form;

pub use form::parse_form;

use crate::error::{Error, ErrorKind};
use serde_json::{Map, Value};

/// The largest body accepted, in bytes. A real event is well under a kilobyte (an ID and the
/// auth fields); the bound keeps a hostile POST from costing memory.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The most bracket levels a form name may have, and the deepest a JSON body may nest: PHP's
/// default `max_input_nesting_level`. A portal's event nests three levels (`data[FIELDS][ID]`).
pub const MAX_DEPTH: usize = 64;

/// The most `name=value` pairs a form body may hold, and the most values a JSON body may hold.
/// PHP's own default (`max_input_vars`) is 1000; real events hold about ten.
pub const MAX_VARS: usize = 10_000;

/// What replaces a token in the returned payload.
pub const MASK: &str = "***";

/// The `auth` keys whose values are credentials, masked in every output.
const SECRET_AUTH_KEYS: [&str; 3] = ["application_token", "access_token", "refresh_token"];

/// An event call, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event name in upper case, e.g. `ONCRMCONTACTUPDATE`.
    pub name: String,
    /// `data.FIELDS.ID` as a number, when it is a positive whole number.
    pub id: Option<i64>,
    /// True when an expected token was given and `auth.application_token` equals it. False
    /// means it was not checked: a mismatch is an error, never an [`Event`].
    pub token_ok: bool,
    /// The whole body as a JSON object, tokens masked.
    pub payload: Value,
    /// Things the caller should know (the token was not checked, a value was not UTF-8).
    pub warnings: Vec<String>,
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`, PHP bracket names.
    Form,
    /// A JSON object.
    Json,
}

pub(super) fn too_large(what: String) -> Error {
    Error::invalid_input("EVENT_TOO_LARGE", what)
}

fn invalid(what: impl Into<String>) -> Error {
    Error::invalid_input("INVALID_EVENT", what)
}

/// The format of a body: from its `Content-Type` when that names one, else sniffed (a body
/// whose first non-blank character is `{` is JSON). `multipart/form-data` is refused: the queue
/// server never sends it, and reading it needs a parser this library does not carry.
pub fn body_format(body: &str, content_type: Option<&str>) -> Result<BodyFormat, Error> {
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media == "application/x-www-form-urlencoded" {
        return Ok(BodyFormat::Form);
    }
    if media == "application/json" || media.ends_with("+json") {
        return Ok(BodyFormat::Json);
    }
    if media.starts_with("multipart/") {
        return Err(Error::invalid_input(
            "UNSUPPORTED_CONTENT_TYPE",
            format!("an event body of type {media} is not supported; the portal sends application/x-www-form-urlencoded"),
        ));
    }
    // No type, or one that says nothing (text/plain, application/octet-stream): sniff.
    Ok(if body.trim_start().starts_with('{') {
        BodyFormat::Json
    } else {
        BodyFormat::Form
    })
}

/// Parses a body into a JSON object of the same nesting, tokens not yet masked (the caller
/// masks; [`parse_event`] does). Refuses a body over [`MAX_BODY_BYTES`], deeper than
/// [`MAX_DEPTH`] or with more than [`MAX_VARS`] pairs or values.
pub fn parse_body(
    body: &str,
    format: BodyFormat,
) -> Result<(Map<String, Value>, Vec<String>), Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large(format!(
            "the event body has {} bytes; at most {MAX_BODY_BYTES} are accepted",
            body.len()
        )));
    }
    match format {
        BodyFormat::Form => parse_form(body),
        BodyFormat::Json => parse_json_body(body).map(|m| (m, Vec::new())),
    }
}

fn parse_json_body(body: &str) -> Result<Map<String, Value>, Error> {
    // Counted before parsing, so a body of `[[],[],…]` cannot build a tree worth many times
    // its size.
    if crate::json::count_values(body.as_bytes(), MAX_VARS).is_none() {
        return Err(too_large(format!(
            "the event body holds more than {MAX_VARS} JSON values"
        )));
    }
    // serde_json stops at 128 levels by itself, so the parse cannot overflow the stack; the
    // depth is then held to the form bound.
    let v: Value = serde_json::from_str(body).map_err(|e| {
        invalid(format!(
            "the event body is not valid JSON ({}, line {}, column {})",
            crate::json::error_category(&e),
            e.line(),
            e.column()
        ))
    })?;
    if depth(&v) > MAX_DEPTH {
        return Err(too_deep());
    }
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(invalid("the event body is JSON but not an object")),
    }
}

pub(super) fn too_deep() -> Error {
    Error::invalid_input(
        "EVENT_TOO_DEEP",
        format!("the event body nests deeper than {MAX_DEPTH} levels"),
    )
}

/// Nesting depth of a value (a scalar is 0). Recursion is bounded by serde_json's own limit of
/// 128 levels on what it parsed.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether `given` equals `expected`, in time that does not depend on where they differ.
///
/// Every byte of `expected` is visited and folded into one accumulator, whatever `given` holds:
/// no early exit on the first differing byte, so the time to refuse a guess does not tell how
/// many of its leading bytes were right. A `given` of another length is compared the same way
/// (missing bytes read as 0) and then fails on the length, which is folded in without a branch.
/// The time so depends on the two lengths only: `given`'s is the sender's own, and `expected`'s
/// is no secret (a portal's tokens are 32 characters: `Random::getString(32)` or an md5 hex,
/// `CRestUtil::getApplicationToken`).
pub fn tokens_match(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = 0u8;
    for (i, &e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        // black_box keeps the optimiser from turning the fold into a search for a difference.
        diff = std::hint::black_box(diff | (g ^ e));
    }
    (diff == 0) & (given.len() == expected.len())
}

fn token_error(present: bool) -> Error {
    let what = if present {
        "the event's auth[application_token] does not match the expected token"
    } else {
        "the event carries no auth[application_token], and a token was expected"
    };
    Error::new(
        ErrorKind::Auth,
        "INVALID_APPLICATION_TOKEN",
        format!("{what}: it did not come from the portal, or the handler's token is out of date"),
    )
}

/// Replaces the credentials in `auth` with [`MASK`].
fn mask(payload: &mut Map<String, Value>) {
    if let Some(Value::Object(auth)) = payload.get_mut("auth") {
        for key in SECRET_AUTH_KEYS {
            if let Some(v) = auth.get_mut(key) {
                *v = Value::String(MASK.into());
            }
        }
    }
}

/// Parses an event call's body (`content_type` as the request gave it, or `None` to sniff) and
/// checks its `auth.application_token` against `expected_token`.
///
/// With an expected token (not empty), a call whose token is missing or differs is refused:
/// an `auth` error `INVALID_APPLICATION_TOKEN`, holding nothing of the body, so a handler cannot
/// act on a forged call by forgetting to look at `token_ok`. Without one, the event is returned
/// with `token_ok` false and a warning. A body without an `event` name is `INVALID_EVENT`.
pub fn parse_event(
    body: &str,
    content_type: Option<&str>,
    expected_token: Option<&str>,
) -> Result<Event, Error> {
    let format = body_format(body, content_type)?;
    let (mut map, mut warnings) = parse_body(body, format)?;
    let given = map
        .get("auth")
        .and_then(|a| a.get("application_token"))
        .and_then(Value::as_str);
    let token_ok = match expected_token.filter(|t| !t.is_empty()) {
        Some(expected) => {
            let ok = given.is_some_and(|g| tokens_match(g.as_bytes(), expected.as_bytes()));
            if !ok {
                return Err(token_error(given.is_some()));
            }
            true
        }
        None => {
            warnings.push(
                "auth[application_token] was not checked (no expected token given): anyone who \
                 knows the handler URL can send this"
                    .to_string(),
            );
            false
        }
    };
    mask(&mut map);
    let name = match map.get("event") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_uppercase(),
        _ => return Err(invalid("the body has no event name (`event`)")),
    };
    let id = map
        .get("data")
        .and_then(|d| d.get("FIELDS"))
        .and_then(|f| f.get("ID"))
        .and_then(|v| match v {
            Value::String(s) => s.trim().parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .filter(|&i| i > 0);
    Ok(Event {
        name,
        id,
        token_ok,
        payload: Value::Object(map),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(body: &str) -> Value {
        Value::Object(parse_form(body).unwrap().0)
    }

    const TOKEN: &str = "jvh9y1ulvt2m6k5or90v9mg8nn32ozas";

    fn portal_body() -> String {
        format!(
            "event=ONCRMCONTACTUPDATE&event_handler_id=5&data%5BFIELDS%5D%5BID%5D=123&ts=1700000000\
             &auth%5Bdomain%5D=x.bitrix24.ru&auth%5Bclient_endpoint%5D=https%3A%2F%2Fx.bitrix24.ru%2Frest%2F\
             &auth%5Bmember_id%5D=abc&auth%5Bapplication_token%5D={TOKEN}"
        )
    }

    #[test]
    fn the_portals_form_body() {
        let e = parse_event(
            &portal_body(),
            Some("application/x-www-form-urlencoded"),
            Some(TOKEN),
        )
        .unwrap();
        assert_eq!(e.name, "ONCRMCONTACTUPDATE");
        assert_eq!(e.id, Some(123));
        assert!(e.token_ok);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert_eq!(
            e.payload,
            json!({
                "event": "ONCRMCONTACTUPDATE", "event_handler_id": "5",
                "data": {"FIELDS": {"ID": "123"}}, "ts": "1700000000",
                "auth": {"domain": "x.bitrix24.ru", "client_endpoint": "https://x.bitrix24.ru/rest/",
                         "member_id": "abc", "application_token": "***"}
            })
        );
        assert!(!e.payload.to_string().contains(TOKEN));
    }

    #[test]
    fn php_decoding_and_names() {
        assert_eq!(
            form("a=x+y%20z%2b&b=%zz%4&c"),
            json!({"a": "x y z+", "b": "%zz%4", "c": ""})
        );
        assert_eq!(form("a.b c=1& d=2"), json!({"a_b_c": "1", "d": "2"}));
        assert_eq!(form("a[b.c]=1"), json!({"a": {"b.c": "1"}}));
        assert_eq!(form("a%5Bb%5D=1"), json!({"a": {"b": "1"}}));
        assert_eq!(form("=1&[x]=2&&a=3"), json!({"a": "3"}));
        assert_eq!(form("a=1&a=2&b=3"), json!({"a": "2", "b": "3"}));
        assert_eq!(form("a%00b=1"), json!({"a": "1"}));
        assert_eq!(form("v=a%00b"), json!({"v": "a\u{0}b"}));
    }

    #[test]
    fn brackets_nest_and_append() {
        assert_eq!(form("a[]=1&a[]=2"), json!({"a": ["1", "2"]}));
        assert_eq!(
            form("a[ ]=1&a[\t]=2&a[ b]=3"),
            json!({"a": {"0": "1", "1": "2", " b": "3"}})
        );
        assert_eq!(form("a[5]=x&a[]=y"), json!({"a": {"5": "x", "6": "y"}}));
        assert_eq!(form("a[x]=1&a[]=2"), json!({"a": {"x": "1", "0": "2"}}));
        assert_eq!(
            form("d[F][P][0][V]=1&d[F][P][1][V]=2"),
            json!({"d": {"F": {"P": [{"V": "1"}, {"V": "2"}]}}})
        );
        assert_eq!(
            form("a[][b]=1&a[][b]=2"),
            json!({"a": [{"b": "1"}, {"b": "2"}]})
        );
        // Text after `]` is ignored; unclosed brackets.
        assert_eq!(form("a[b]c=1"), json!({"a": {"b": "1"}}));
        assert_eq!(form("a[b.c=1"), json!({"a_b_c": "1"}));
        assert_eq!(form("a[b][c=1"), json!({"a": {"b": "1"}}));
        // A string in the way becomes an array; a later plain value replaces the array.
        assert_eq!(form("a=1&a[b]=2"), json!({"a": {"b": "2"}}));
        assert_eq!(form("a[b]=2&a=1"), json!({"a": "1"}));
        // Integer keys as PHP decides them: `01` is a string key, so no list.
        assert_eq!(
            form("a[0]=x&a[01]=y&a[]=z"),
            json!({"a": {"0": "x", "01": "y", "1": "z"}})
        );
        assert_eq!(form("a[1]=x&a[0]=y"), json!({"a": {"1": "x", "0": "y"}}));
    }

    #[test]
    fn a_json_body() {
        let body = format!(
            r#" {{"event":"onCrmCompanyAdd","data":{{"FIELDS":{{"ID":77}}}},
                "auth":{{"application_token":"{TOKEN}","access_token":"at","refresh_token":"rt","domain":"d"}}}}"#
        );
        let e = parse_event(&body, None, Some(TOKEN)).unwrap();
        assert_eq!(
            (e.name.as_str(), e.id, e.token_ok),
            ("ONCRMCOMPANYADD", Some(77), true)
        );
        assert_eq!(
            e.payload["auth"],
            json!({"application_token": "***", "access_token": "***", "refresh_token": "***", "domain": "d"})
        );
        // The declared type wins over sniffing.
        let e = parse_event(&body, Some("Application/JSON; charset=utf-8"), Some(TOKEN)).unwrap();
        assert_eq!(e.id, Some(77));
        assert_eq!(
            parse_event(&body, Some("application/x-www-form-urlencoded"), None)
                .unwrap_err()
                .code,
            "INVALID_EVENT"
        );
    }

    #[test]
    fn formats_sniffed_and_refused() {
        assert_eq!(body_format(" {", None).unwrap(), BodyFormat::Json);
        assert_eq!(body_format("event=X", Some("")).unwrap(), BodyFormat::Form);
        assert_eq!(
            body_format("{", Some("text/plain")).unwrap(),
            BodyFormat::Json
        );
        assert_eq!(
            body_format("{", Some("application/problem+json")).unwrap(),
            BodyFormat::Json
        );
        assert_eq!(
            body_format("x", Some("multipart/form-data; boundary=z"))
                .unwrap_err()
                .code,
            "UNSUPPORTED_CONTENT_TYPE"
        );
    }

    #[test]
    fn malformed_bodies_are_errors_that_quote_nothing() {
        for (body, code) in [
            ("", "INVALID_EVENT"),
            ("data[FIELDS][ID]=1", "INVALID_EVENT"),
            ("event[]=X", "INVALID_EVENT"),
            ("event=+++", "INVALID_EVENT"),
            (
                "{\"event\":\"X\",\"auth\":{\"application_token\":\"leak\"",
                "INVALID_EVENT",
            ),
            ("[1,2]", "INVALID_EVENT"),
            ("{\"event\":1}", "INVALID_EVENT"),
        ] {
            let e = parse_event(body, None, None).unwrap_err();
            assert_eq!(e.code, code, "{body}");
            assert_eq!(e.kind, ErrorKind::InvalidInput);
            assert!(!e.description.contains("leak"), "{}", e.description);
        }
        // Not UTF-8 after decoding: read, with a warning.
        let e = parse_event("event=X&data[FIELDS][NAME]=%C8%E2", None, None).unwrap();
        assert_eq!(
            e.payload["data"]["FIELDS"]["NAME"],
            json!("\u{fffd}\u{fffd}")
        );
        assert!(e.warnings.iter().any(|w| w.contains("UTF-8")));
        // An ID that is no positive whole number is no ID.
        for id in ["abc", "0", "-4", "1.5", ""] {
            let e = parse_event(&format!("event=X&data[FIELDS][ID]={id}"), None, None).unwrap();
            assert_eq!(e.id, None, "{id}");
        }
        assert_eq!(
            parse_event("event=X&data[FIELDS]=1", None, None)
                .unwrap()
                .id,
            None
        );
    }

    #[test]
    fn limits() {
        let big = format!("event=X&v={}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(
            parse_event(&big, None, None).unwrap_err().code,
            "EVENT_TOO_LARGE"
        );
        let many = "a[]=1&".repeat(MAX_VARS + 1);
        assert_eq!(parse_form(&many).unwrap_err().code, "EVENT_TOO_LARGE");
        assert!(parse_form(&"a[]=1&".repeat(MAX_VARS)).is_ok());
        let deep = format!("event=X&a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse_event(&deep, None, None).unwrap_err().code,
            "EVENT_TOO_DEEP"
        );
        let ok = format!("a{}=1", "[x]".repeat(MAX_DEPTH));
        assert!(parse_form(&ok).is_ok());
        let unclosed_past = format!("a{}[x=1", "[x]".repeat(MAX_DEPTH));
        assert_eq!(
            parse_form(&unclosed_past).unwrap_err().code,
            "EVENT_TOO_DEEP"
        );
        // Deep brackets that would need no array are still only a bounded walk.
        let unclosed = format!("a{}", "[".repeat(100_000));
        assert!(parse_form(&unclosed).is_ok());
        let json_deep = format!(
            "{{\"event\":\"X\",\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(
            parse_event(&json_deep, None, None).unwrap_err().code,
            "EVENT_TOO_DEEP"
        );
        let json_deeper = format!("{{\"a\":{}1{}}}", "[".repeat(5_000), "]".repeat(5_000));
        assert_eq!(
            parse_event(&json_deeper, None, None).unwrap_err().code,
            "INVALID_EVENT"
        );
        let json_many = format!("{{\"event\":\"X\",\"a\":[{}0]}}", "0,".repeat(MAX_VARS));
        assert_eq!(
            parse_event(&json_many, None, None).unwrap_err().code,
            "EVENT_TOO_LARGE"
        );
    }

    #[test]
    fn token_check() {
        assert!(tokens_match(b"abc", b"abc"));
        assert!(!tokens_match(b"abd", b"abc"));
        assert!(!tokens_match(b"ab", b"abc"));
        assert!(!tokens_match(b"abc\0", b"abc"));
        assert!(!tokens_match(b"", b"abc"));
        assert!(tokens_match(b"", b""));

        let wrong = portal_body().replace(TOKEN, "forged-token-value");
        let e = parse_event(&wrong, None, Some(TOKEN)).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Auth, "INVALID_APPLICATION_TOKEN")
        );
        let text = format!("{e} {}", e.to_json());
        assert!(!text.contains(TOKEN) && !text.contains("forged"), "{text}");

        let missing = "event=ONCRMCONTACTADD&data[FIELDS][ID]=1";
        let e = parse_event(missing, None, Some(TOKEN)).unwrap_err();
        assert!(e.description.contains("carries no"), "{}", e.description);

        // Not checked: returned, flagged, still masked.
        for expected in [None, Some("")] {
            let e = parse_event(&portal_body(), None, expected).unwrap();
            assert!(!e.token_ok);
            assert!(e.warnings.iter().any(|w| w.contains("not checked")));
            assert_eq!(e.payload["auth"]["application_token"], json!("***"));
        }
    }
}
