//! The client: one configured connection to one portal, and the request pipeline (pacing,
//! retries that never double a write, and the mapping of every answer to a result or an
//! [`Error`]).

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::limiter::Limiter;
use crate::transport::{Failure, Transport};
use once_cell::sync::Lazy;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A configured Bitrix24 client. Cheap to clone; safe to use from several threads at once.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    transport: Transport,
    limiter: Option<Arc<Limiter>>,
}

/// A successful answer of one method.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Bitrix's `result`.
    pub result: Value,
    /// Bitrix's `total`, when sent.
    pub total: Option<u64>,
    /// Bitrix's `next`, when sent.
    pub next: Option<u64>,
    /// Bitrix's `time` object, when sent.
    pub time: Option<Value>,
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, updates and deletes: running them twice gives the same state.
    Safe,
    /// Creates: running them twice can create a duplicate.
    Unsafe,
}

impl Repeat {
    /// The policy for a method by its name: `*.get`, `*.list`, `*.fields`, `*.update`,
    /// `*.delete` and a few read-only system methods are safe; everything else (notably `*.add`)
    /// is not.
    pub fn of_method(method: &str) -> Repeat {
        let m = method.to_ascii_lowercase();
        let last = m.rsplit('.').next().unwrap_or("");
        let safe_last = [
            "get", "list", "fields", "update", "delete", "search", "getlist", "items",
        ];
        let safe_whole = [
            "scope",
            "methods",
            "method.get",
            "profile",
            "server.time",
            "app.info",
            "user.current",
        ];
        if safe_last.contains(&last) || safe_whole.contains(&m.as_str()) {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        }
    }
}

/// The last `time.operating_reset_at` seen per (portal, method), to wait out a 429 (the 429
/// answer itself carries no `time`).
static OPERATING_RESET: Lazy<Mutex<HashMap<(String, String), u64>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

impl Client {
    /// A client for a validated configuration. Reuses the process-wide HTTP pool and the
    /// portal's shared rate limiter.
    pub fn new(config: Config) -> Result<Client, Error> {
        let transport = Transport::for_config(&config)?;
        let limiter = config
            .rate_limit
            .map(|shape| Limiter::for_portal(&config.webhook.origin, shape));
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                limiter,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The webhook URL with its secret masked.
    pub fn masked_webhook_url(&self) -> String {
        self.inner.config.webhook.masked().to_string()
    }

    /// Calls `method` with JSON parameters, retrying only what is safe per the method's name.
    pub fn call(&self, method: &str, params: &Value) -> Result<Response, Error> {
        self.call_with(method, params, Repeat::of_method(method))
    }

    /// Calls `method` with an explicit repeat policy.
    pub fn call_with(
        &self,
        method: &str,
        params: &Value,
        repeat: Repeat,
    ) -> Result<Response, Error> {
        let body = serde_json::to_vec(params)
            .map_err(|e| Error::invalid_input("INVALID_JSON", e.to_string()))?;
        self.call_body(method, body.into(), repeat)
    }

    /// Calls `method` with an already serialised JSON body (large bodies are built once and
    /// shared by every attempt).
    pub fn call_body(
        &self,
        method: &str,
        body: bytes::Bytes,
        repeat: Repeat,
    ) -> Result<Response, Error> {
        validate_method(method)?;
        let url = self.inner.config.webhook.method_url(method);
        let cfg = &self.inner.config;
        let started = Instant::now();
        // Every retry loop is bounded in count and in time.
        let give_up_at = started + cfg.timeout * 3;
        let mut attempt: u32 = 0;
        let mut waited_for_operating = false;
        loop {
            if let Some(l) = &self.inner.limiter {
                l.acquire();
            }
            let outcome = self
                .inner
                .transport
                .post_json(&url, body.clone(), cfg.timeout);
            let err = match outcome {
                Ok((status, bytes)) => match parse_answer(status, &bytes) {
                    Ok(resp) => {
                        self.note_operating(method, &resp);
                        return Ok(resp);
                    }
                    Err(e) => e,
                },
                Err(f) => transport_error(f, repeat),
            };
            let err = self.mask(err);
            let can_retry = attempt < cfg.max_retries && Instant::now() < give_up_at;
            match err.kind {
                ErrorKind::RateLimited
                    if err.code.eq_ignore_ascii_case("QUERY_LIMIT_EXCEEDED") && can_retry =>
                {
                    // Refused before it ran: always safe to send again.
                    if let Some(l) = &self.inner.limiter {
                        l.on_refused();
                    }
                    sleep_capped(backoff(attempt), give_up_at);
                }
                ErrorKind::TimeLimited if !waited_for_operating => {
                    match self.operating_wait(method) {
                        Some(wait) if Instant::now() + wait < give_up_at => {
                            waited_for_operating = true;
                            std::thread::sleep(wait);
                        }
                        _ => return Err(err),
                    }
                }
                ErrorKind::Transport if err.retryable && can_retry => {
                    sleep_capped(backoff(attempt), give_up_at)
                }
                ErrorKind::Server if repeat == Repeat::Safe && can_retry => {
                    sleep_capped(backoff(attempt), give_up_at)
                }
                _ => {
                    return Err(match (err.kind, repeat) {
                        // A 5xx after the request arrived: it may have run; resending is the caller's call.
                        (ErrorKind::Server, Repeat::Unsafe) => err.with_retryable(false),
                        _ => err,
                    });
                }
            }
            attempt += 1;
        }
    }

    fn mask(&self, mut e: Error) -> Error {
        let w = &self.inner.config.webhook;
        e.description = w.mask(&e.description);
        e.code = w.mask(&e.code);
        e
    }

    fn note_operating(&self, method: &str, resp: &Response) {
        let reset = resp
            .time
            .as_ref()
            .and_then(|t| t.get("operating_reset_at"))
            .and_then(Value::as_u64);
        if let Some(reset) = reset {
            let key = (
                self.inner.config.webhook.origin.clone(),
                method.to_ascii_lowercase(),
            );
            OPERATING_RESET
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, reset);
        }
    }

    fn operating_wait(&self, method: &str) -> Option<Duration> {
        let key = (
            self.inner.config.webhook.origin.clone(),
            method.to_ascii_lowercase(),
        );
        let reset = *OPERATING_RESET
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        let wait = reset as f64 - now + 0.5;
        (wait > 0.0).then(|| Duration::from_secs_f64(wait))
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(8))
}

fn sleep_capped(d: Duration, until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    std::thread::sleep(d.min(left));
}

fn transport_error(f: Failure, repeat: Repeat) -> Error {
    match f {
        Failure::NotSent(m) => {
            Error::new(ErrorKind::Transport, "CONNECT_FAILED", format!("could not reach the portal: {m}")).with_retryable(true)
        }
        Failure::TimedOut(m) => Error::new(ErrorKind::Timeout, "TIMEOUT", format!("no answer in time: {m}"))
            .with_retryable(repeat == Repeat::Safe),
        Failure::Lost(m) => match repeat {
            Repeat::Safe => Error::new(ErrorKind::Transport, "CONNECTION_LOST", format!("the connection broke: {m}"))
                .with_retryable(true),
            Repeat::Unsafe => Error::new(
                ErrorKind::Transport,
                "OUTCOME_UNKNOWN",
                format!(
                    "the connection broke after the request was sent, so it may have run on the portal; \
                     check (for example by the 1C GUID) before sending it again: {m}"
                ),
            ),
        },
    }
}

/// Method names as Bitrix knows them: dot-separated identifiers. Anything else could reach
/// another URL path or smuggle parameters (`../x`, `crm.contact.get?ID=1`).
pub fn validate_method(method: &str) -> Result<(), Error> {
    let ok = !method.is_empty()
        && method.len() <= 128
        && method.split('.').all(|seg| {
            !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        && method
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        let shown: String = method.chars().take(64).collect();
        Err(Error::invalid_input(
            "INVALID_METHOD",
            format!("method name {shown:?} is not a Bitrix24 method name (letters, digits, '_' and '.')"),
        ))
    }
}

/// Maps one HTTP answer to a response or an error.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Response, Error> {
    let parsed: Option<Map<String, Value>> =
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
    let Some(mut obj) = parsed else {
        return Err(non_json_error(status, body));
    };
    if let Some(code) = obj.get("error") {
        let code = match code {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let description = match obj.get("error_description") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        return Err(bitrix_error(status, &code, &description));
    }
    if !(200..300).contains(&status) {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("HTTP_{status}"),
            format!("HTTP {status} without an error object"),
        )
        .with_status(status));
    }
    let Some(result) = obj.remove("result") else {
        return Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "the answer has neither `result` nor `error`",
        )
        .with_status(status));
    };
    let num = |v: Option<&Value>| {
        v.and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    Ok(Response {
        total: num(obj.get("total")),
        next: num(obj.get("next")),
        time: obj.remove("time"),
        result,
    })
}

fn non_json_error(status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
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
    let (kind, code) = if status >= 500 {
        (ErrorKind::Server, format!("HTTP_{status}"))
    } else {
        (
            ErrorKind::Protocol,
            if body.is_empty() {
                "EMPTY_RESPONSE".into()
            } else {
                "INVALID_RESPONSE".into()
            },
        )
    };
    Error::new(kind, code, format!("HTTP {status} with {what}"))
        .with_status(status)
        .with_retryable(status >= 500)
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
    Error::new(kind, code, description)
        .with_status(status)
        .with_retryable(retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names() {
        for ok in [
            "crm.contact.get",
            "user.get",
            "batch",
            "crm.item.list",
            "CRM.CONTACT.GET",
            "disk.folder.uploadfile",
        ] {
            assert!(validate_method(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "crm.contact.get?ID=1&x=",
            "crm..get",
            "crm.contact.get/",
            "a b",
            ".x",
            "x.",
            "1x",
            "crm.contact.get#",
        ] {
            assert_eq!(
                validate_method(bad).unwrap_err().kind,
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn repeat_policy() {
        assert_eq!(Repeat::of_method("crm.contact.add"), Repeat::Unsafe);
        assert_eq!(Repeat::of_method("crm.contact.update"), Repeat::Safe);
        assert_eq!(Repeat::of_method("USER.GET"), Repeat::Safe);
        assert_eq!(Repeat::of_method("scope"), Repeat::Safe);
        assert_eq!(Repeat::of_method("im.message.send"), Repeat::Unsafe);
    }

    #[test]
    fn answers() {
        let r = parse_answer(
            200,
            br#"{"result":[1],"total":3,"next":50,"time":{"start":1}}"#,
        )
        .unwrap();
        assert_eq!((r.total, r.next), (Some(3), Some(50)));
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
}
