//! The client: one configured connection to one portal, and the request pipeline (pacing,
//! retries that never double a write, and the mapping of every answer to a result or an
//! [`Error`]).

mod answer;
pub mod deadline;
pub mod operating;

pub use answer::{bitrix_error, parse_answer, Response};
pub use operating::Time;

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::journal::{Entry, Journal};
use crate::limiter::Limiter;
use crate::transport::{Failure, Transport};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A configured Bitrix24 client. Cheap to clone; safe to use from several threads at once.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    transport: Transport,
    limiter: Option<Limiter>,
    journal: Option<Journal>,
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

impl Client {
    /// A client for a validated configuration. Reuses the process-wide HTTP pool and the
    /// portal's shared rate limiter.
    pub fn new(config: Config) -> Result<Client, Error> {
        let transport = Transport::for_config(&config)?;
        let limiter = config.rate_limit.map(|shape| {
            Limiter::for_portal(&config.webhook.origin, shape)
                .across_processes(config.share_across_processes)
        });
        let journal = Journal::new(&config.journal);
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                transport,
                limiter,
                journal,
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

    /// The request journal's ring: one line per HTTP request, joined with `\n`, newest last
    /// (see [`crate::journal`]); `""` when the journal is off or keeps no ring.
    pub fn journal_text(&self) -> String {
        self.inner
            .journal
            .as_ref()
            .map(Journal::text)
            .unwrap_or_default()
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
    /// shared by every attempt). Retries only what [`Error::retryable`] allows, within the
    /// retry count, three timeouts, and the operation's [`deadline`].
    pub fn call_body(
        &self,
        method: &str,
        body: bytes::Bytes,
        repeat: Repeat,
    ) -> Result<Response, Error> {
        validate_method(method).map_err(|e| self.mask_error(e))?;
        let url = self.inner.config.webhook.method_url(method);
        let cfg = &self.inner.config;
        let own_bound = Instant::now() + cfg.timeout * 3;
        let give_up_at = deadline::current().map_or(own_bound, |d| d.min(own_bound));
        let mut attempt: u32 = 0;
        let mut req = Outgoing {
            method,
            url: &url,
            body: &body,
            sends: 0,
        };
        let mut waited_for_operating = false;
        let mut earlier_may_have_run = false;
        sleep_capped(self.operating_pace(&[(method, 1)]), give_up_at);
        loop {
            let (err, ran) = match self.attempt(&mut req, repeat, give_up_at) {
                Ok(resp) => {
                    if let Some(t) = &resp.time {
                        self.note_operating(method, t);
                    }
                    return Ok(resp);
                }
                Err((e, ran)) => (self.mask_error(e), ran),
            };
            let err = if earlier_may_have_run {
                err.with_detail("earlier_attempt_may_have_run", Value::Bool(true))
            } else {
                err
            };
            let can_retry = attempt < cfg.max_retries && Instant::now() < give_up_at;
            if err.kind == ErrorKind::TimeLimited {
                // Blocked for the operating limit: one wait for the budget to free up, never
                // backoff retries (each would be refused the same way).
                self.note_blocked(method);
                if waited_for_operating || operating::caller_waits() {
                    return Err(err);
                }
                match self.operating_wait(method) {
                    Some(wait) if Instant::now() + wait < give_up_at => {
                        waited_for_operating = true;
                        std::thread::sleep(wait);
                        continue;
                    }
                    _ => return Err(err),
                }
            }
            // A call whose bound is spent cannot gain by trying again within it.
            let bound_spent = ["DEADLINE_EXCEEDED", "RATE_LIMIT_WAIT"].contains(&err.code.as_str());
            if !(err.retryable && can_retry) || bound_spent {
                return Err(err);
            }
            if err.code.eq_ignore_ascii_case("QUERY_LIMIT_EXCEEDED") {
                // Refused before it ran: the portal's bucket is full whatever ours says.
                if let Some(l) = &self.inner.limiter {
                    l.on_refused();
                }
            }
            earlier_may_have_run |= ran == Ran::Maybe;
            sleep_capped(backoff(attempt), give_up_at);
            attempt += 1;
        }
    }

    /// One attempt: pacing, the request, and the answer read and classified for `repeat`.
    fn attempt(
        &self,
        req: &mut Outgoing<'_>,
        repeat: Repeat,
        give_up_at: Instant,
    ) -> Result<Response, (Error, Ran)> {
        let cfg = &self.inner.config;
        let not_sent = |e: Error| (e, Ran::No);
        if Instant::now() >= give_up_at {
            return Err(not_sent(deadline_error()));
        }
        if let Some(l) = &self.inner.limiter {
            if !l.acquire_until(give_up_at) {
                return Err(not_sent(pacing_error()));
            }
        }
        let left = give_up_at.saturating_duration_since(Instant::now());
        let timeout = cfg.timeout.min(left);
        if timeout.is_zero() {
            return Err(not_sent(deadline_error()));
        }
        match self.send(req, timeout) {
            Ok(classified) => classified.map_err(|(e, ran)| (for_repeat(e, ran, repeat), ran)),
            Err(f) => {
                let ran = if matches!(f, Failure::NotSent(_)) {
                    Ran::No
                } else {
                    Ran::Maybe
                };
                Err((for_repeat(transport_error(f), ran, repeat), ran))
            }
        }
    }

    /// The one place a request goes on the wire: sends it, masks and classifies the answer, and
    /// writes the journal's line (so every attempt of every call, batch and upload has one).
    fn send(
        &self,
        req: &mut Outgoing<'_>,
        timeout: Duration,
    ) -> Result<Result<Response, (Error, Ran)>, Failure> {
        let cfg = &self.inner.config;
        req.sends += 1;
        let (sent_at, started) = (SystemTime::now(), Instant::now());
        let wire = self.inner.transport.post_json(
            req.url.clone(),
            req.body.clone(),
            timeout,
            cfg.max_response_bytes,
        );
        let mut entry = Entry {
            sent_at,
            method: req.method,
            status: None,
            code: None,
            attempt: req.sends,
            took: started.elapsed(),
            request_bytes: req.body.len(),
            answer_bytes: None,
        };
        match wire {
            Ok((status, mut bytes)) => {
                entry.answer_bytes = Some(bytes.len());
                answer::mask_secret(&mut bytes, cfg.webhook.secret().as_bytes());
                let classified = answer::classify(status, &bytes);
                entry.status = Some(status);
                entry.code = classified.as_ref().err().map(|(e, _)| e.code.as_str());
                self.journal(&entry);
                Ok(classified)
            }
            Err(f) => {
                entry.code = Some(f.tag());
                self.journal(&entry);
                Err(f)
            }
        }
    }

    fn journal(&self, entry: &Entry<'_>) {
        if let Some(j) = &self.inner.journal {
            j.record(entry, &self.inner.config.webhook);
        }
    }

    /// The error with the webhook secret masked in its code, description and details (they may
    /// quote caller input, such as a method name or a field key, as well as the portal).
    pub fn mask_error(&self, mut e: Error) -> Error {
        let w = &self.inner.config.webhook;
        e.description = w.mask(&e.description);
        e.code = w.mask(&e.code);
        if let Some(d) = e.details.as_mut() {
            let text = d.to_string();
            if w.mask(&text) != text {
                **d = serde_json::from_str(&w.mask(&text)).unwrap_or(Value::Null);
            }
        }
        e
    }

    /// Takes in an answer's `time` (or a batch sub-call's `result_time` entry) for `method`.
    pub fn note_operating(&self, method: &str, time: &operating::Time) {
        operating::note(&self.inner.config.webhook.origin, method, time);
    }

    /// `method` was refused for the operating limit.
    pub fn note_blocked(&self, method: &str) {
        operating::note_blocked(&self.inner.config.webhook.origin, method);
    }

    /// How long to wait before sending these calls (method, count) so that no method passes
    /// its operating budget: the longest of their paces (see [`operating::pace`]).
    pub fn operating_pace(&self, calls: &[(&str, usize)]) -> Duration {
        let cfg = &self.inner.config;
        let budget = operating::Budget {
            limit: cfg.operating_limit.as_secs_f64(),
            window: cfg.operating_window.as_secs_f64(),
        };
        calls
            .iter()
            .map(|(m, n)| operating::pace(&cfg.webhook.origin, m, *n, budget))
            .max()
            .unwrap_or_default()
    }

    /// The server time one call of `method` has taken on average, if seen.
    pub fn operating_cost(&self, method: &str) -> Option<f64> {
        operating::cost(&self.inner.config.webhook.origin, method)
    }

    /// Once `method` is blocked, how long until its budget frees up.
    pub fn operating_wait(&self, method: &str) -> Option<Duration> {
        let limit = self.inner.config.operating_limit.as_secs_f64();
        operating::reset_wait(&self.inner.config.webhook.origin, method, limit)
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64 << attempt.min(5)).min(Duration::from_secs(8))
}

fn sleep_capped(d: Duration, until: Instant) {
    let left = until.saturating_duration_since(Instant::now());
    std::thread::sleep(d.min(left));
}

/// One request of a call, as [`Client::send`] puts it on the wire.
struct Outgoing<'a> {
    method: &'a str,
    url: &'a reqwest::Url,
    body: &'a bytes::Bytes,
    /// Requests of the call actually sent so far; the journal numbers attempts by it (an
    /// operating-limit wait repeats the retry count, and an attempt stopped by pacing or the
    /// deadline sends nothing).
    sends: u32,
}

/// Whether a failed attempt may have run on the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// Surely not: refused before running, or never sent.
    No,
    /// Perhaps: sent, and no definite answer came back.
    Maybe,
}

/// A failure on the wire, as it would be for a request that is safe to repeat.
fn transport_error(f: Failure) -> Error {
    match f {
        Failure::NotSent(m) => Error::new(
            ErrorKind::Transport,
            "CONNECT_FAILED",
            format!("could not reach the portal: {m}"),
        )
        .with_retryable(true),
        Failure::TimedOut(m) => Error::new(
            ErrorKind::Timeout,
            "TIMEOUT",
            format!("no answer in time: {m}"),
        )
        .with_retryable(true),
        Failure::Lost(m) => Error::new(
            ErrorKind::Transport,
            "CONNECTION_LOST",
            format!("the connection broke: {m}"),
        )
        .with_retryable(true),
        Failure::TooLarge(limit) => Error::new(
            ErrorKind::Protocol,
            "RESPONSE_TOO_LARGE",
            format!(
                "the answer is larger than {} MiB (max_response_mb)",
                limit >> 20
            ),
        ),
    }
}

/// The same failure for a request that may not be repeated: if it may have run, it becomes
/// `OUTCOME_UNKNOWN`, never retried, never reported as failed.
fn for_repeat(e: Error, ran: Ran, repeat: Repeat) -> Error {
    match (repeat, ran) {
        (Repeat::Unsafe, Ran::Maybe) => Error::outcome_unknown(e),
        (Repeat::Unsafe, Ran::No) => e,
        (Repeat::Safe, _) => e,
    }
}

fn deadline_error() -> Error {
    Error::new(
        ErrorKind::Timeout,
        "DEADLINE_EXCEEDED",
        "the operation's deadline (deadline_secs) passed before this request could be sent; nothing was sent",
    )
    .with_retryable(true)
}

fn pacing_error() -> Error {
    Error::new(
        ErrorKind::RateLimited,
        "RATE_LIMIT_WAIT",
        "the shared request budget has no free slot before the operation's deadline; nothing was sent",
    )
    .with_retryable(true)
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
}
