//! The one error type of the library: Bitrix's own code, description and HTTP status, plus a
//! stable [`ErrorKind`] and whether the same call may be retried.
//!
//! The library's own descriptions are English; [`Error::description_in`] gives them in Russian
//! (see [`ru`] for how). An error built from the portal's answer keeps the portal's text in every
//! language: it is marked where such errors are built ([`Error::portal`]), so no other error
//! can pass for one and no portal text is ever rewritten.

use serde_json::{json, Value};
use std::borrow::Cow;
use std::fmt;

pub mod ru;

/// The language of the library's own error descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English, the language of [`Error::description`].
    #[default]
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// The language of a locale name as 1C passes it: `SetLocale` gives `rus_RUS` on Windows and
    /// `ru_RU` on Linux (perhaps with `.UTF-8`), `SetUserInterfaceLanguageCode` gives `ru`.
    /// Anything that is not Russian is English.
    pub fn from_locale(locale: &str) -> Lang {
        let lang = locale
            .trim()
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("");
        if ["ru", "rus", "russian"]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(lang))
        {
            Lang::Ru
        } else {
            Lang::En
        }
    }
}

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
    /// Whose words `description` is (see [`Error::portal`]). Private, so that only the
    /// constructors can set it.
    origin: Origin,
}

/// Whose words an error's description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The library's; it may quote the text of another error, which is then kept as it is.
    Own,
    /// The library's, quoting another error of the library's own (an unknown outcome after a
    /// broken connection), which is translated too.
    OwnOverOwn,
    /// The portal's: never rewritten.
    Portal,
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
            origin: Origin::Own,
        }
    }

    /// An error whose code and description are the portal's own, as its answer carried them.
    /// Only the place that reads Bitrix's `error`/`error_description` builds these; their text
    /// is never translated.
    pub fn portal(
        kind: ErrorKind,
        code: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Error {
            origin: Origin::Portal,
            ..Error::new(kind, code, description)
        }
    }

    /// True when the code and description came from the portal (see [`Error::portal`]).
    pub fn is_from_portal(&self) -> bool {
        self.origin == Origin::Portal
    }

    /// The description in `lang`. The portal's own descriptions, and the library's codes that
    /// have no Russian text, stay as they are.
    pub fn description_in(&self, lang: Lang) -> Cow<'_, str> {
        match lang {
            Lang::Ru if self.origin != Origin::Portal => {
                let own_cause = self.origin == Origin::OwnOverOwn;
                ru::describe_error(&self.code, &self.description, own_cause)
                    .map_or(Cow::Borrowed(self.description.as_str()), Cow::Owned)
            }
            _ => Cow::Borrowed(self.description.as_str()),
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
        // The quoted cause may be translated only when it is the library's own text.
        if cause.origin != Origin::Portal {
            e.origin = Origin::OwnOverOwn;
        }
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
        self.last_error_text_in(Lang::En)
    }

    /// [`Error::last_error_text`] with the description in `lang`; the code never changes.
    pub fn last_error_text_in(&self, lang: Lang) -> String {
        format!("[{}] {}", self.code, self.description_in(lang))
    }

    /// The `error` object of the failure envelope.
    pub fn to_json(&self) -> Value {
        self.to_json_in(Lang::En)
    }

    /// [`Error::to_json`] with the description in `lang`.
    pub fn to_json_in(&self, lang: Lang) -> Value {
        let mut v = json!({
            "code": self.code,
            "description": self.description_in(lang),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_from_1c() {
        for ru in [
            "rus_RUS",
            "ru_RU",
            "ru",
            "RU",
            "ru-RU",
            "ru_RU.UTF-8",
            " rus ",
        ] {
            assert_eq!(Lang::from_locale(ru), Lang::Ru, "{ru}");
        }
        for en in [
            "", "en", "en_US", "eng_USA", "uk_UA", "rum", "russia_x", "C", "r",
        ] {
            assert_eq!(Lang::from_locale(en), Lang::En, "{en}");
        }
    }

    #[test]
    fn portal_errors_keep_their_text() {
        // A portal code that is also one of the library's codes (and has a Russian text).
        let e = crate::client::bitrix_error(503, "INVALID_RESPONSE", "Too many requests");
        assert!(e.is_from_portal());
        assert_eq!(e.description_in(Lang::Ru), "Too many requests");
        assert_eq!(
            e.last_error_text_in(Lang::Ru),
            "[INVALID_RESPONSE] Too many requests"
        );
        let q = crate::client::bitrix_error(503, "QUERY_LIMIT_EXCEEDED", "Слишком много запросов");
        assert_eq!(
            q.to_json_in(Lang::Ru)["description"],
            "Слишком много запросов"
        );
        // A batch command's error is the portal's too.
        let b = crate::batch::entry_error(
            &json!({"error": "NOT_FOUND", "error_description": "Not found"}),
        );
        assert!(b.is_from_portal());
        assert_eq!(b.description_in(Lang::Ru), "Not found");
        // The library's own are not, and are translated; codes never change.
        let own = Error::invalid_input("INVALID_ID", "ID must be a positive integer, got 0");
        assert!(!own.is_from_portal());
        assert_eq!(
            own.last_error_text_in(Lang::Ru),
            "[INVALID_ID] ID должен быть положительным целым числом, передано: 0"
        );
        assert_eq!(own.description_in(Lang::En), own.description);
        assert_eq!(own.last_error_text(), own.last_error_text_in(Lang::En));
        // An unknown code stays English.
        let future = "SOME_FUTURE_CODE";
        let odd = Error::invalid_input(future, "text");
        assert_eq!(odd.description_in(Lang::Ru), "text");
    }

    #[test]
    fn envelopes_in_russian() {
        let own: crate::api::Reply = Err(Error::new(
            ErrorKind::InvalidInput,
            "NOT_CONNECTED",
            "not connected: call Connect (Подключить) or set WebhookURL (АдресВебхука) first",
        ));
        let v: Value = serde_json::from_str(&crate::api::envelope_in(&own, Lang::Ru)).unwrap();
        assert_eq!(v["error"]["code"], "NOT_CONNECTED");
        assert_eq!(
            v["error"]["description"],
            "нет подключения: вызовите Подключить (Connect) или задайте АдресВебхука (WebhookURL)"
        );
        assert_eq!(
            crate::api::envelope_in(&own, Lang::En),
            crate::api::envelope(&own)
        );
        let portal: crate::api::Reply = Err(crate::client::bitrix_error(
            400,
            "ERROR_CORE",
            "Contact is not found",
        ));
        let v: Value = serde_json::from_str(&crate::api::envelope_in(&portal, Lang::Ru)).unwrap();
        assert_eq!(v["error"]["description"], "Contact is not found");
        let ok: crate::api::Reply = Ok(crate::api::Success {
            result: json!([1]).into(),
            ..Default::default()
        });
        assert_eq!(
            crate::api::envelope_in(&ok, Lang::Ru),
            crate::api::envelope(&ok)
        );
    }

    #[test]
    fn russian_text_never_carries_the_secret() {
        // The description is masked before it leaves the library; the Russian text is built
        // from it and from static texts only.
        let cfg = crate::Config::new("https://b24.example.com/rest/1/s3cr3tSecretXyz/").unwrap();
        let client = crate::Client::new(cfg).unwrap();
        let e = client.mask_error(Error::invalid_input(
            "INVALID_METHOD",
            "method name \"s3cr3tSecretXyz.x\" is not a Bitrix24 method name (letters, digits, '_' and '.')",
        ));
        let ru = e.description_in(Lang::Ru);
        assert!(ru.starts_with("\"***.x\" не является"), "{ru}");
        assert!(!ru.contains("s3cr3tSecretXyz"));
    }

    /// Every code the sources build an error with has a Russian text: the source tree is read
    /// at test time, so a code added later without one fails here.
    #[test]
    fn every_code_has_russian_text() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut codes = std::collections::BTreeSet::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            for code in codes_in(&text) {
                codes.insert((code, f.display().to_string()));
            }
        }
        assert!(codes.len() > 60, "the scan found too few codes: {codes:?}");
        let missing: Vec<_> = codes.iter().filter(|(c, _)| !ru::has_text(c)).collect();
        assert!(
            missing.is_empty(),
            "codes without a Russian text: {missing:?}"
        );
        for extra in [OUTCOME_UNKNOWN, "HTTP_404", "HTTP_502"] {
            assert!(ru::has_text(extra), "{extra}");
        }
    }

    /// The codes in one source file: the string literal right after `invalid_input(` or after
    /// an `ErrorKind::Variant,` (as in `Error::new` and in the (kind, code) pairs of
    /// `client::answer`). A code is upper-case letters, digits and
    /// `_`, at least three long (tests use one-letter codes such as "X").
    fn codes_in(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let literal_after = |rest: &str| -> Option<String> {
            let rest = rest.trim_start().strip_prefix('"')?;
            let end = rest.find('"')?;
            let code = &rest[..end];
            let is_code = code.len() >= 3
                && code.starts_with(|c: char| c.is_ascii_uppercase())
                && code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_code.then(|| code.to_string())
        };
        // `invalid_input(<code>, ...)` and the helpers named `..._error(<code>, ...)`.
        for call in ["invalid_input(", "_error("] {
            for (at, _) in text.match_indices(call) {
                out.extend(literal_after(&text[at + call.len()..]));
            }
        }
        for (at, _) in text.match_indices("ErrorKind::") {
            let rest = &text[at + "ErrorKind::".len()..];
            let name_end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            if let Some(after) = rest[name_end..].trim_start().strip_prefix(',') {
                out.extend(literal_after(after));
            }
        }
        out
    }
}
