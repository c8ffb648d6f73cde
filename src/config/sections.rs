//! The configuration's nested parts: the client-side rate limit, the request journal and the
//! proxy, each with its own checks.

use crate::error::Error;
use serde::Deserialize;

/// The shape of the portal's request-rate limit (a leaky bucket).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests the bucket holds before the portal refuses (50; 250 on Enterprise).
    pub burst: f64,
    /// Requests per second the bucket drains (2; 5 on Enterprise).
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 50.0,
            per_second: 2.0,
        }
    }
}

/// The request journal (`"journal"`): both parts optional, the journal is off when neither is
/// asked for (see [`crate::journal`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalConfig {
    /// Lines the in-memory ring keeps, 0..=[`MAX_JOURNAL_LINES`] (0: no ring).
    pub lines: usize,
    /// A file one line per request is appended to.
    pub file: Option<String>,
}

/// The most lines the journal's ring may keep (each at most [`crate::journal::MAX_LINE`] bytes).
pub const MAX_JOURNAL_LINES: usize = 10_000;

/// The `journal` object as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJournal {
    #[serde(default)]
    lines: Option<u64>,
    #[serde(default)]
    file: Option<String>,
}

/// The `journal` object: `lines` within 0..=[`MAX_JOURNAL_LINES`], `file` a non-empty path.
pub(super) fn journal_config(v: serde_json::Value) -> Result<JournalConfig, Error> {
    let bad = |why: &str| {
        Error::invalid_input(
            "INVALID_CONFIG",
            format!("journal must be {{\"lines\": 0..{MAX_JOURNAL_LINES}, \"file\": \"path\"}}, both optional: {why}"),
        )
    };
    if !v.is_object() {
        // serde would also take an array for the struct, field by field.
        return Err(bad("not an object"));
    }
    // serde's message could quote the value: say only what is expected.
    let raw: RawJournal = serde_json::from_value(v)
        .map_err(|_| bad("an unknown key, or a value of the wrong type"))?;
    let lines = raw.lines.unwrap_or(0);
    if lines > MAX_JOURNAL_LINES as u64 {
        return Err(bad("lines is out of range"));
    }
    if let Some(f) = &raw.file {
        if f.is_empty() || f.contains('\0') {
            return Err(bad("file must be a non-empty path"));
        }
    }
    Ok(JournalConfig {
        lines: lines as usize,
        file: raw.file,
    })
}

/// The bounds of a client-side bucket. The portal's documented shapes are 50/2 and 250/5; the
/// bounds leave room around them but keep one client's pacing from stalling the other sessions
/// that share the portal's limiter (a request reserves at most 1 / `per_second` of it).
const BURST_RANGE: std::ops::RangeInclusive<f64> = 1.0..=1000.0;
const PER_SECOND_RANGE: std::ops::RangeInclusive<f64> = 0.5..=100.0;

pub(super) fn rate_limit_shape(v: serde_json::Value) -> Result<RateLimit, Error> {
    let bad = || {
        Error::invalid_input(
            "INVALID_CONFIG",
            format!(
                "rate_limit must be false or {{\"burst\":N,\"per_second\":N}} with burst from {} to {} and per_second from {} to {}",
                BURST_RANGE.start(), BURST_RANGE.end(), PER_SECOND_RANGE.start(), PER_SECOND_RANGE.end()
            ),
        )
    };
    // serde's message could quote the value (a pasted webhook URL): say only what is expected.
    let rl: RateLimit = serde_json::from_value(v).map_err(|_| bad())?;
    if !(BURST_RANGE.contains(&rl.burst) && PER_SECOND_RANGE.contains(&rl.per_second)) {
        return Err(bad());
    }
    Ok(rl)
}

/// A proxy the transport can use: `http`, `https`, `socks5` or `socks5h`, with a host and a
/// valid port. Checked here so that a bad proxy fails `b24_client_new`, not every call. The
/// message never repeats the URL (it may carry a password).
pub(super) fn validate_proxy(proxy: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Error::invalid_input(
            "INVALID_CONFIG",
            format!("proxy must be an http://, https://, socks5:// or socks5h:// URL with a host: {why}"),
        )
    };
    let url = reqwest::Url::parse(proxy).map_err(|e| bad(&e.to_string()))?;
    if !["http", "https", "socks5", "socks5h"].contains(&url.scheme()) {
        return Err(bad("unsupported scheme"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad("a path, query or fragment is not allowed"));
    }
    Ok(())
}
