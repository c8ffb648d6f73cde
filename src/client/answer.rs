//! One HTTP answer → a [`Response`] or an [`Error`]. The envelope is read without building a
//! tree of `result`: it stays the portal's own JSON text (validated, not rebuilt), so an answer
//! costs about its own size in memory, and callers that pass it through never parse it.

use super::Ran;
use crate::error::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// A successful answer of one method.
#[derive(Debug, Clone)]
pub struct Response {
    /// Bitrix's `result`, as the JSON text the portal sent (the webhook secret masked).
    pub result: Box<RawValue>,
    /// Bitrix's `total`, when sent.
    pub total: Option<u64>,
    /// Bitrix's `next`, when sent.
    pub next: Option<u64>,
    /// The figures of Bitrix's `time` object, when sent as an object.
    pub time: Option<super::operating::Time>,
}

impl Response {
    /// `result` parsed, for the callers that read it (IDs, lists, batch maps); bounded by
    /// [`crate::json::parse_bounded`].
    pub fn value(&self) -> Result<Value, Error> {
        crate::json::parse_bounded(self.result.get())
    }
}

/// The top level of a Bitrix answer. Unknown keys are skipped (still validated as JSON).
#[derive(Deserialize)]
struct Envelope {
    result: Option<Box<RawValue>>,
    error: Option<Value>,
    error_description: Option<Value>,
    total: Option<Value>,
    next: Option<Value>,
    time: Option<Box<RawValue>>,
}

/// Maps one HTTP answer to a response or an error.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Response, Error> {
    classify(status, body).map_err(|(e, _)| e)
}

/// Like [`parse_answer`], and says whether a failed request may have run: a 5xx or a garbled
/// 2xx answer (empty, cut, not Bitrix's envelope) came after the request reached the portal,
/// and a 5xx from a gateway may come while, or after, the method ran.
pub(super) fn classify(status: u16, body: &[u8]) -> Result<Response, (Error, Ran)> {
    let ran = |e: Error| {
        let maybe = e.kind == ErrorKind::Server
            || (e.kind == ErrorKind::Protocol && (200..300).contains(&status));
        let ran = if maybe { Ran::Maybe } else { Ran::No };
        (e, ran)
    };
    read_envelope(status, body).map_err(ran)
}

fn read_envelope(status: u16, body: &[u8]) -> Result<Response, Error> {
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        return Err(non_json_error(status, body));
    };
    if let Some(code) = env.error {
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        return Err(bitrix_error(
            status,
            &text(Some(code)),
            &text(env.error_description),
        ));
    }
    if !(200..300).contains(&status) {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("HTTP_{status}"),
            format!("HTTP {status} without an error object"),
        )
        .with_status(status));
    }
    let Some(result) = env.result else {
        return Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "the answer has neither `result` nor `error`",
        )
        .with_status(status)
        .with_retryable(true));
    };
    let num = |v: Option<Value>| {
        v.and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    Ok(Response {
        total: num(env.total),
        next: num(env.next),
        // Validated as JSON with the rest; a `time` that is not an object is no figures.
        time: env
            .time
            .filter(|t| t.get().starts_with('{'))
            .and_then(|t| serde_json::from_str(t.get()).ok()),
        result,
    })
}

/// An answer that is not a JSON object: a balancer page, a proxy's error, an empty or cut body.
/// `retryable` says only that nothing in the answer forbids asking again; whether asking again is
/// safe is the request's business (a write may have run).
fn non_json_error(status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let excerpt: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(160)
        .collect();
    let what = if body.is_empty() {
        "an empty body".to_string()
    } else {
        format!("a non-JSON body: {excerpt}")
    };
    let (kind, code) = match status {
        500.. => (ErrorKind::Server, format!("HTTP_{status}")),
        _ if body.is_empty() => (ErrorKind::Protocol, "EMPTY_RESPONSE".to_string()),
        _ => (ErrorKind::Protocol, "INVALID_RESPONSE".to_string()),
    };
    let retryable = status >= 500 || (200..300).contains(&status);
    Error::new(kind, code, format!("HTTP {status} with {what}"))
        .with_status(status)
        .with_retryable(retryable)
}

/// Classifies a Bitrix error by code (case-insensitively) and status; texts are localised, so
/// they are used only for the legacy CRM answers that carry an empty code.
pub fn bitrix_error(status: u16, code: &str, description: &str) -> Error {
    let up = code.to_ascii_uppercase();
    let desc_l = description.to_lowercase();
    let (kind, retryable) = match up.as_str() {
        "QUERY_LIMIT_EXCEEDED" => (ErrorKind::RateLimited, true),
        "OVERLOAD_LIMIT" => (ErrorKind::RateLimited, false),
        "OPERATION_TIME_LIMIT" => (ErrorKind::TimeLimited, true),
        "NO_AUTH_FOUND"
        | "INVALID_CREDENTIALS"
        | "INVALID_REQUEST"
        | "AUTHORIZATION_ERROR"
        | "EXPIRED_TOKEN"
        | "INVALID_TOKEN"
        | "WRONG_AUTH_TYPE"
        | "PORTAL_DELETED"
        | "USER_ACCESS_ERROR" => (ErrorKind::Auth, false),
        "INSUFFICIENT_SCOPE"
        | "ACCESS_DENIED"
        | "ALLOWED_ONLY_INTRANET_USER"
        | "METHOD_CONFIRM_DENIED"
        | "METHOD_CONFIRM_WAITING" => (ErrorKind::Access, false),
        "ERROR_METHOD_NOT_FOUND"
        | "ERROR_ARGUMENT"
        | "INVALID_ARG_VALUE"
        | "ERROR_BATCH_LENGTH_EXCEEDED"
        | "ERROR_BATCH_METHOD_NOT_ALLOWED"
        | "WRONG_ENCODING" => (ErrorKind::InvalidInput, false),
        "NOT_FOUND" | "ERROR_NOT_FOUND" => (ErrorKind::NotFound, false),
        "INTERNAL_SERVER_ERROR" | "ERROR_UNEXPECTED_ANSWER" => (ErrorKind::Server, true),
        _ if status >= 500 => (ErrorKind::Server, true),
        _ if desc_l.contains("not found") || desc_l.contains("не найден") => {
            (ErrorKind::NotFound, false)
        }
        _ if desc_l.starts_with("access denied") || desc_l.contains("доступ запрещ") => {
            (ErrorKind::Access, false)
        }
        _ if status == 401 => (ErrorKind::Auth, false),
        _ if status == 403 => (ErrorKind::Access, false),
        _ if status == 404 => (ErrorKind::NotFound, false),
        _ if status == 429 => (ErrorKind::TimeLimited, true),
        _ => (ErrorKind::InvalidInput, false),
    };
    // The portal's own code and text: marked so that no language ever rewrites them.
    Error::portal(kind, code, description)
        .with_status(status)
        .with_retryable(retryable)
}

/// Replaces every occurrence of `secret` in `body` with `***`, in place. Applied to every answer
/// before anything reads it, so no part of any answer (a `result`, a batch command's error, an
/// exported row) can carry the secret out, whatever the portal or a proxy echoes. The secret is
/// letters and digits, so JSON never escapes it and the masked text stays valid JSON.
pub fn mask_secret(body: &mut Vec<u8>, secret: &[u8]) {
    if secret.is_empty() {
        return;
    }
    // memchr's SIMD search: a scan of every window was a quarter of a small call's instructions.
    let finder = memchr::memmem::Finder::new(secret);
    let Some(first) = finder.find(body) else {
        return;
    };
    if secret.len() < 3 {
        // `***` is longer than such a secret (a webhook's has 4 or more): masking grows the text.
        let mut out = Vec::with_capacity(body.len() + 2);
        let mut at = 0;
        for hit in finder.find_iter(body) {
            out.extend_from_slice(&body[at..hit]);
            out.extend_from_slice(b"***");
            at = hit + secret.len();
        }
        out.extend_from_slice(&body[at..]);
        *body = out;
        return;
    }
    // In place (the secret is not shorter than `***`, so writing never overtakes reading): a
    // large answer is not copied to be masked.
    let (mut read, mut write) = (first, first);
    loop {
        body[write..write + 3].copy_from_slice(b"***");
        write += 3;
        read += secret.len();
        let next = finder.find(&body[read..]).map(|p| p + read);
        let end = next.unwrap_or(body.len());
        body.copy_within(read..end, write);
        write += end - read;
        read = end;
        if next.is_none() {
            break;
        }
    }
    body.truncate(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let r = parse_answer(
            200,
            br#"{"result":[1],"total":3,"next":50,"time":{"start":1}}"#,
        )
        .unwrap();
        assert_eq!((r.total, r.next), (Some(3), Some(50)));
        assert_eq!(r.result.get(), "[1]");
        let e = parse_answer(400, br#"{"error":"","error_description":"Not found"}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str(), e.http_status),
            (ErrorKind::NotFound, "", Some(400))
        );
        let e = parse_answer(
            503,
            br#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
        )
        .unwrap_err();
        assert_eq!((e.kind, e.retryable), (ErrorKind::RateLimited, true));
        let e = parse_answer(
            401,
            br#"{"error":"insufficient_scope","error_description":""}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Access);
        let e =
            parse_answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>").unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Server, "HTTP_502"));
        assert!(e.description.contains("502 Bad Gateway"));
        let e = parse_answer(200, b"").unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::Protocol, "EMPTY_RESPONSE")
        );
        let e = parse_answer(200, br#"{"result":"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        let e = parse_answer(
            400,
            br#"{"error":"ERROR_CORE","error_description":"Element not found"}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn time_figures() {
        let body = br#"{"result":{"ID":"1"},"time":{"start":1,"operating":"2.5","operating_reset_at":1796220443,"processing":0.01,"date_start":"2026-12-02T18:07:23+04:00","extra":{"a":[1]}}}"#;
        let t = parse_answer(200, body).unwrap().time.unwrap();
        assert_eq!(t.operating, "2.5");
        assert_eq!(t.operating_reset_at, 1796220443);
        assert_eq!(t.date_start, "2026-12-02T18:07:23+04:00");
        assert!(t.duration.is_null());
        // A `time` that is not an object carries no figures, and does not spoil the answer.
        for odd in [r#""x""#, "[1,2]", "null", "7"] {
            let body = format!(r#"{{"result":true,"time":{odd}}}"#);
            let r = parse_answer(200, body.as_bytes()).unwrap();
            assert_eq!(r.result.get(), "true");
            assert!(r.time.is_none(), "{odd}");
        }
        // Still validated with the rest: a broken `time` is a broken answer.
        let e = parse_answer(200, br#"{"result":true,"time":{"a":}}"#).unwrap_err();
        assert_eq!(e.code, "INVALID_RESPONSE");
    }

    #[test]
    fn masking() {
        let mut b = br#"{"result":"/rest/1/Sec4/x Sec4Sec4 Se"}"#.to_vec();
        mask_secret(&mut b, b"Sec4");
        assert_eq!(b, br#"{"result":"/rest/1/***/x ****** Se"}"#.to_vec());
        let mut b = b"nothing here".to_vec();
        mask_secret(&mut b, b"Sec4");
        assert_eq!(b, b"nothing here".to_vec());
        for (body, want) in [
            (&b"Sec4"[..], &b"***"[..]),
            (b"Sec4x", b"***x"),
            (b"xSec4", b"x***"),
            (b"SecSec4ec4", b"Sec***ec4"),
            (b"Se", b"Se"),
            (b"", b""),
        ] {
            let mut b = body.to_vec();
            mask_secret(&mut b, b"Sec4");
            assert_eq!(b, want.to_vec(), "{:?}", String::from_utf8_lossy(body));
        }
        // Secrets shorter than `***` (no webhook has one) grow the text instead of panicking.
        for (secret, body, want) in [
            (&b"a"[..], &b"aba"[..], &b"***b***"[..]),
            (b"ab", b"xabab", b"x******"),
            (b"abc", b"abcabc", b"******"),
        ] {
            let mut b = body.to_vec();
            mask_secret(&mut b, secret);
            assert_eq!(b, want.to_vec());
        }
    }
}
