//! Applying a write batch's answer to the records it carried.

use super::plan::Write;
use super::{Record, Results};
use crate::batch::BatchOutcome;
use crate::error::{Error, ErrorKind};
use crate::sync::guid::id_of;
use crate::sync::Upserted;

/// Where the records of one applied batch stand next.
pub(super) struct Next<'a> {
    /// Records to go round again.
    pub again: &'a mut Vec<usize>,
    /// Records whose add may have run (the next lookup tells).
    pub unknown_adds: &'a mut Vec<usize>,
}

pub(super) fn apply_batch(
    chunk: &[Write],
    outcome: Result<BatchOutcome, Error>,
    parsed: &[Option<Record>],
    results: &mut Results,
    next: &mut Next<'_>,
) {
    let out = match outcome {
        Ok(o) => o,
        Err(e) => return apply_failure(chunk, &e, parsed, results, next),
    };
    let res = out.results();
    for w in chunk {
        let i = w.index;
        let c = &w.cmd;
        let guid = parsed[i].as_ref().map(|r| r.guid.clone());
        if let Some(v) = res.get(&c.name) {
            let is_add = w.update_id.is_none();
            let id = if is_add { id_of(v) } else { w.update_id };
            results[i] = Some(match id {
                Some(id) => (
                    guid,
                    Ok(Upserted {
                        id,
                        created: is_add,
                    }),
                ),
                None => (
                    guid,
                    Err(Error::new(
                        ErrorKind::Protocol,
                        "INVALID_RESPONSE",
                        format!("unexpected result {v}"),
                    )),
                ),
            });
        } else if let Some(err) = out.error_of(&c.name) {
            // Refused before running: safe to send again in the next round.
            let not_run = [
                "QUERY_LIMIT_EXCEEDED",
                "OPERATION_TIME_LIMIT",
                "ERROR_BATCH_LENGTH_EXCEEDED",
            ]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&err.code));
            if not_run {
                next.again.push(i);
            } else {
                results[i] = Some((guid, Err(err)));
            }
        } else {
            next.again.push(i); // did not run
        }
    }
}

/// The whole request failed. If it may have run (lost answer, 5xx), every record goes round
/// again: the next lookup tells which adds happened. Otherwise it failed for all.
fn apply_failure(
    chunk: &[Write],
    e: &Error,
    parsed: &[Option<Record>],
    results: &mut Results,
    next: &mut Next<'_>,
) {
    let unknown = matches!(
        e.kind,
        ErrorKind::Transport
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::RateLimited
            | ErrorKind::TimeLimited
    );
    for w in chunk {
        let i = w.index;
        if unknown {
            if w.update_id.is_none() {
                next.unknown_adds.push(i);
            }
            next.again.push(i);
        } else {
            results[i] = Some((parsed[i].as_ref().map(|r| r.guid.clone()), Err(e.clone())));
        }
    }
}
