//! Sending writes: 50 per batch, or one JSON call for a record a batch would alter.

use super::apply::{Fate, Write};
use super::Record;
use crate::batch::{self, BatchOutcome, Command};
use crate::client::{Client, Response};
use crate::crm::Entity;
use crate::error::{Error, ErrorKind};
use crate::sync::settle::{judge, settles_for, Verdict};
use std::time::Instant;

/// A unit of work for a writer thread.
#[derive(Debug)]
pub(super) enum Work {
    /// Up to 50 writes in one `batch`.
    Batch(Vec<Write>),
    /// One write as a JSON call: its values hold text the portal would expand inside a batch.
    Single(Write),
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
            let req = &parsed[w.index]
                .as_ref()
                .expect("planned records parsed")
                .req;
            let r = client.call(&method(entity, &w), &req.to_params(w.update_id));
            let fate = single_fate(client, r);
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

fn command(entity: Entity, parsed: &[Option<Record>], w: &Write) -> Command {
    let req = &parsed[w.index]
        .as_ref()
        .expect("planned records parsed")
        .req;
    let method = method(entity, w);
    let text = format!("{method}?{}", batch::php_query(&req.to_params(w.update_id)));
    Command {
        name: format!("r{}", w.index),
        method,
        text,
    }
}

/// A failed request that carried writes: refused before running, refused, or may have run
/// (anything else, an answer that is not a batch envelope included).
fn failed(client: &Client, e: Error) -> Fate {
    match judge(&e) {
        Verdict::NotRun => Fate::NotRun,
        Verdict::Refused => Fate::Refused(e),
        Verdict::MayHaveRun => Fate::Unknown(e.clone(), settles_for(client, &e)),
    }
}

fn single_fate(client: &Client, r: Result<Response, Error>) -> Fate {
    match r {
        Ok(resp) => match resp.value() {
            Ok(v) => Fate::Ran(v),
            Err(e) => failed(client, e),
        },
        Err(e) => failed(client, e),
    }
}

fn batch_fates(
    client: &Client,
    cmds: &[Command],
    outcome: Result<BatchOutcome, Error>,
) -> Vec<Fate> {
    let out = match outcome {
        Ok(o) => o,
        Err(e) => return vec![failed(client, e); cmds.len()],
    };
    let res = out.results();
    cmds.iter()
        .map(|c| {
            if let Some(v) = res.get(&c.name) {
                return Fate::Ran(v.clone());
            }
            match out.error_of(&c.name) {
                // Refused before running: safe to send again in the next round.
                Some(e) if refused_before_running(&e) => Fate::NotRun,
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
