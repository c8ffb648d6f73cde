//! Sending writes: 50 per batch, or one JSON call for a record a batch would alter.

use super::apply::{Fate, Retry, Write};
use super::Record;
use crate::batch::{self, BatchOutcome, Command};
use crate::client::{Client, Response};
use crate::crm::{Entity, WriteRequest};
use crate::error::{Error, ErrorKind};
use crate::sync::settle::{judge, settles_for, Verdict};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// A unit of work for a writer thread.
#[derive(Debug)]
pub(super) enum Work {
    /// Up to 50 writes in one `batch`.
    Batch(Vec<Write>),
    /// One write as a JSON call: its values hold text the portal would expand inside a batch.
    Single(Write),
}

impl Work {
    /// The writes this work would send.
    pub(super) fn writes(&self) -> &[Write] {
        match self {
            Work::Batch(ws) => ws,
            Work::Single(w) => std::slice::from_ref(w),
        }
    }
}

/// Sends one unit and tells what became of each write.
pub(super) fn send(
    client: &Client,
    entity: Entity,
    parsed: &[Option<Record>],
    work: Work,
) -> Vec<(Write, Fate)> {
    match work {
        Work::Batch(writes) => {
            let cmds: Vec<Command> = writes.iter().map(|w| command(entity, parsed, w)).collect();
            let outcome = batch::run(client, &cmds, false);
            let fates = batch_fates(client, &cmds, outcome);
            writes.into_iter().zip(fates).collect()
        }
        Work::Single(w) => {
            let m = method(entity, &w);
            let r = client.call(&m, &request(parsed, &w).to_params(w.update_id));
            let fate = single_fate(client, &m, r);
            vec![(w, fate)]
        }
    }
}

fn method(entity: Entity, w: &Write) -> String {
    entity.method(if w.update_id.is_some() {
        "update"
    } else {
        "add"
    })
}

/// What a write sends: its resolved request, or the record's (exact fields as the add's lists).
fn request<'a>(parsed: &'a [Option<Record>], w: &'a Write) -> Cow<'a, WriteRequest> {
    if let Some(r) = &w.resolved {
        return Cow::Borrowed(r);
    }
    let req = &parsed[w.index]
        .as_ref()
        .expect("planned records parsed")
        .req;
    // An update's exact fields are resolved when it is planned; an unresolved one sends none of
    // them (they are not among the record's fields).
    match req.exact.is_empty() || w.update_id.is_some() {
        true => Cow::Borrowed(req),
        false => Cow::Owned(req.resolve_exact(None)),
    }
}

fn command(entity: Entity, parsed: &[Option<Record>], w: &Write) -> Command {
    let method = method(entity, w);
    let params = request(parsed, w).to_params(w.update_id);
    let text = format!("{method}?{}", batch::php_query(&params));
    Command {
        name: format!("r{}", w.index),
        method,
        text,
    }
}

/// A failed request that carried writes: refused before running, refused, or may have run
/// (anything else, an answer that is not a batch envelope included).
fn failed(client: &Client, methods: &[&str], e: Error) -> Fate {
    match judge(&e) {
        Verdict::NotRun => Fate::NotRun(not_before(client, methods, &e)),
        Verdict::Refused => Fate::Refused(e),
        Verdict::MayHaveRun => Fate::Unknown(e.clone(), settles_for(client, &e)),
    }
}

/// When a write refused before it ran may go again: after its method's operating budget frees
/// up (a 429, or a sub-call's `OPERATION_TIME_LIMIT`), a moment later for the request rate
/// (the shared bucket paces the rest), or at once.
pub(super) fn not_before(client: &Client, methods: &[&str], e: &Error) -> Option<Retry> {
    let now = Instant::now();
    if e.code.eq_ignore_ascii_case("OPERATION_TIME_LIMIT") || e.kind == ErrorKind::TimeLimited {
        let (wait, method) = methods
            .iter()
            .filter_map(|m| client.operating_wait(m).map(|w| (w, *m)))
            .max()
            .unwrap_or((
                Duration::from_secs(5),
                methods.first().copied().unwrap_or("batch"),
            ));
        let reason = format!("the portal's operating-time limit for {method}");
        return Some(Retry {
            at: now + wait,
            reason,
        });
    }
    if e.code.eq_ignore_ascii_case("QUERY_LIMIT_EXCEEDED") || e.kind == ErrorKind::RateLimited {
        let reason = "the portal's request-rate limit".to_string();
        return Some(Retry {
            at: now + Duration::from_secs(1),
            reason,
        });
    }
    None
}

fn single_fate(client: &Client, method: &str, r: Result<Response, Error>) -> Fate {
    match r {
        Ok(resp) => match resp.value() {
            Ok(v) => Fate::Ran(v),
            Err(e) => failed(client, &[method], e),
        },
        Err(e) => failed(client, &[method], e),
    }
}

fn batch_fates(
    client: &Client,
    cmds: &[Command],
    outcome: Result<BatchOutcome, Error>,
) -> Vec<Fate> {
    let out = match outcome {
        Ok(o) => o,
        Err(e) => {
            let mut methods: Vec<&str> = cmds.iter().map(|c| c.method.as_str()).collect();
            methods.push("batch");
            return vec![failed(client, &methods, e); cmds.len()];
        }
    };
    let res = out.results();
    cmds.iter()
        .map(|c| {
            if let Some(v) = res.get(&c.name) {
                return Fate::Ran(v.clone());
            }
            match out.error_of(&c.name) {
                // Refused before running: safe to send again in the next round.
                Some(e) if refused_before_running(&e) => {
                    Fate::NotRun(not_before(client, &[&c.method], &e))
                }
                Some(e) => Fate::Refused(e),
                // Without `halt` every command runs and is answered; one the answer does not
                // mention may have run. The request is over, so it is not running any more.
                None => Fate::Unknown(unmentioned(&c.name), Instant::now()),
            }
        })
        .collect()
}

fn refused_before_running(e: &Error) -> bool {
    [
        "QUERY_LIMIT_EXCEEDED",
        "OPERATION_TIME_LIMIT",
        "ERROR_BATCH_LENGTH_EXCEEDED",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(&e.code))
}

fn unmentioned(name: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        "INVALID_RESPONSE",
        format!("the batch answer does not mention command {name}"),
    )
}
