//! The one error type of the library: Bitrix's own code, description and HTTP status, plus a
//! stable [`ErrorKind`] and whether the same call may be retried.

use serde_json::{json, Value};
use std::fmt;

/// A stable classification of every failure, for callers that branch on errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller's input is wrong (bad JSON, bad ID, bad method name, rejected data).
    InvalidInput,
    /// The webhook is not accepted (wrong secret, inactive user, HTTPS required...).
    Auth,
    /// The webhook is accepted but may not do this (scope, permissions, subscription).
    Access,
    /// The entity (or user) does not exist.
    NotFound,
    /// More than one entity matched where exactly one was expected.
    Conflict,
    /// The portal's request-rate limit (`QUERY_LIMIT_EXCEEDED`) was still hit after retries.
    RateLimited,
    /// The method's operating-time budget is spent (`OPERATION_TIME_LIMIT`).
    TimeLimited,
    /// The portal failed (5xx, `ERROR_CORE` with 500...).
    Server,
    /// The connection failed or broke.
    Transport,
    /// The request did not finish in time.
    Timeout,
    /// The portal answered something that is not the Bitrix24 REST protocol.
    Protocol,
}

impl ErrorKind {
    /// The snake_case name used in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Auth => "auth",
            ErrorKind::Access => "access",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::TimeLimited => "time_limited",
            ErrorKind::Server => "server",
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
        }
    }
}

/// The code of a request that was sent and may have run: never re-sent blindly.
pub const OUTCOME_UNKNOWN: &str = "OUTCOME_UNKNOWN";

/// A failure, with everything the portal said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Stable classification.
    pub kind: ErrorKind,
    /// Bitrix's `error` code as sent (may be empty: legacy CRM methods send `""`), or one of the
    /// library's own upper-case codes (`INVALID_JSON`, `OUTCOME_UNKNOWN`, ...).
    pub code: String,
    /// Bitrix's `error_description`, or the library's own explanation. Never holds the secret.
    pub description: String,
    /// The HTTP status of the portal's answer, when there was one.
    pub http_status: Option<u16>,
    /// True when the very same call may be sent again safely (nothing was changed on the portal).
    pub retryable: bool,
    /// Extra structured facts (for example the IDs of ambiguous matches).
    pub details: Option<Box<Value>>,
}

impl Error {
    /// A new error without HTTP status or details.
    pub fn new(kind: ErrorKind, code: impl Into<String>, description: impl Into<String>) -> Self {
        Error {
            kind,
            code: code.into(),
            description: description.into(),
            http_status: None,
            retryable: false,
            details: None,
        }
    }

    /// An `invalid_input` error with the given code.
    pub fn invalid_input(code: &str, description: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, code, description)
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Sets the retryable flag.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Attaches structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// A request that may have run on the portal, from the failure that left it unknown (kept
    /// as `kind` and as `details.cause`). Never retryable: the caller must check first.
    pub fn outcome_unknown(cause: Error) -> Error {
        let mut e = Error::new(
            cause.kind,
            OUTCOME_UNKNOWN,
            format!(
                "the request was sent and may have run on the portal ({}: {}); check (for example \
                 by the 1C GUID) before sending it again",
                cause.code, cause.description
            ),
        );
        e.http_status = cause.http_status;
        e.with_detail("cause", Value::String(cause.code))
    }

    /// True when the request may have run (see [`Error::outcome_unknown`]).
    pub fn is_outcome_unknown(&self) -> bool {
        self.code == OUTCOME_UNKNOWN
    }

    /// True when this error came on a retry after an attempt that may have run (its answer was
    /// lost), so it may describe the state that attempt left.
    pub fn earlier_attempt_may_have_run(&self) -> bool {
        self.details
            .as_ref()
            .is_some_and(|d| d["earlier_attempt_may_have_run"] == Value::Bool(true))
    }

    /// Adds one key to `details` (making it an object).
    pub fn with_detail(mut self, key: &str, value: Value) -> Self {
        let d = self.details.get_or_insert_with(|| Box::new(json!({})));
        if !d.is_object() {
            **d = json!({ "value": d.take() });
        }
        d[key] = value;
        self
    }

    /// The text 1C shows in `LastError`: `[CODE] description`.
    pub fn last_error_text(&self) -> String {
        format!("[{}] {}", self.code, self.description)
    }

    /// The `error` object of the failure envelope.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "code": self.code,
            "description": self.description,
            "kind": self.kind.as_str(),
            "http_status": self.http_status,
            "retryable": self.retryable,
        });
        if let Some(d) = &self.details {
            v["details"] = (**d).clone();
        }
        v
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] {}",
            self.kind.as_str(),
            self.code,
            self.description
        )?;
        if let Some(s) = self.http_status {
            write!(f, " (HTTP {s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
