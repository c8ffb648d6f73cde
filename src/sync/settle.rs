//! When a write whose answer was lost can no longer be running, and what a failed write means.
//!
//! A request the client gave up on may still be running on the portal: a broken connection
//! does not stop PHP. Only the portal's cut-off does (the cloud's gateway ends a request 60 s
//! after it arrived; `execution_limit_secs`). So a lookup proves such a write absent only if it
//! starts after the cut-off; until then the write is not sent again.

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use std::time::{Duration, Instant};

/// Beyond the execution limit: the network between the client and the gateway, and a commit
/// that was in flight at the cut-off.
pub(crate) const MARGIN: Duration = Duration::from_secs(1);

/// The instant after which a request the client stopped waiting for now can no longer be
/// running. "Now" and not "when it was sent": the request reached the portal no later than the
/// moment the client gave up, and pacing or retries may have delayed the sending itself.
pub(crate) fn settles_at(client: &Client) -> Instant {
    Instant::now() + client.config().execution_limit + MARGIN
}

/// When a write that failed with `e` can no longer be running: at once if an answer came (a
/// 2xx, however garbled: the request had finished), else after the execution limit.
pub(crate) fn settles_for(client: &Client, e: &Error) -> Instant {
    match e.http_status {
        Some(200..=299) => Instant::now(),
        _ => settles_at(client),
    }
}

/// Sleeps until `at`, if that is at most `allowance` away; says whether it did.
pub(crate) fn wait_until(at: Instant, allowance: Duration) -> bool {
    let left = at.saturating_duration_since(Instant::now());
    if left > allowance {
        return false;
    }
    std::thread::sleep(left);
    true
}

/// What a failed write tells about the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Refused before it ran (rate or operating limit, no connection): send it again later.
    NotRun,
    /// The portal answered that it did not do it: nothing was written.
    Refused,
    /// It may have run: a lost or broken answer, a timeout, a 5xx, an answer that is not the
    /// protocol.
    MayHaveRun,
}

/// Judges a failed request that carried writes. Anything not known to be a refusal before
/// running may have run.
pub(crate) fn judge(e: &Error) -> Verdict {
    match e.kind {
        _ if ["CONNECT_FAILED", "DEADLINE_EXCEEDED"].contains(&e.code.as_str()) => Verdict::NotRun,
        ErrorKind::RateLimited | ErrorKind::TimeLimited => Verdict::NotRun,
        ErrorKind::InvalidInput
        | ErrorKind::Auth
        | ErrorKind::Access
        | ErrorKind::NotFound
        | ErrorKind::Conflict => Verdict::Refused,
        ErrorKind::Transport | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::Protocol => {
            Verdict::MayHaveRun
        }
    }
}

/// The report for a write that may have been applied and was not sent again: one
/// `OUTCOME_UNKNOWN` (the client's own, if the cause already is one), saying why it stays so.
pub(crate) fn outcome_unknown(cause: &Error, why: &str) -> Error {
    let mut e = if cause.is_outcome_unknown() {
        cause.clone()
    } else {
        Error::outcome_unknown(cause.clone())
    };
    e.description = format!("{} [not sent again: {why}]", e.description);
    e
}
