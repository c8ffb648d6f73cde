//! Planning a lookup segment: wait until its GUIDs are settled, look them up, and decide per
//! record: update, add, or an outcome without a write.

use super::apply::{Hints, Retry, Write};
use super::exact;
use super::lookup::{guids_of_ids, lookup_many, Found};
use super::matching::{Matched, Matcher};
use super::send::not_before;
use super::{Outcome, Record};
use crate::batch;
use crate::client::Client;
use crate::crm::Entity;
use crate::error::{Error, ErrorKind};
use crate::sync::guid::{ambiguous, find_by_guid};
use crate::sync::settle::{judge, wait_until, Verdict};
use crate::sync::Upserted;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Attempts per lookup (they are safe to repeat).
const LOOKUP_ATTEMPTS: u32 = 3;

/// A segment's plan.
#[derive(Default)]
pub(super) struct Plan {
    /// Outcomes decided without a write.
    pub decided: Vec<(usize, Outcome)>,
    /// Records whose doubtful add the lookup proved absent.
    pub cleared: Vec<usize>,
    /// Writes that can go in a batch.
    pub batched: Vec<Write>,
    /// Writes that must go as JSON calls (a batch would rewrite their values).
    pub single: Vec<Write>,
    /// Records whose lookup a portal limit refused: they go round again once it frees up.
    pub postponed: Vec<(usize, Option<Retry>)>,
}

/// What planning needs.
pub(super) struct Planner<'a> {
    pub client: &'a Client,
    pub entity: Entity,
    pub field: &'a str,
    pub parsed: &'a [Option<Record>],
    pub hints: &'a Hints,
    /// Match rules for records whose GUID is not found (see `matching`); `None`: no matching.
    pub matcher: Option<&'a Matcher>,
}

impl Planner<'_> {
    pub(super) fn rec(&self, i: usize) -> &Record {
        self.parsed[i]
            .as_ref()
            .expect("only parsed records are planned")
    }

    /// Plans one segment. `allowance` is what is left of the bulk's time for waiting on writes
    /// that may still be running. An error is one that any other lookup would meet too.
    pub fn plan(&self, segment: &[usize], allowance: &mut Duration) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        let ready = self.settled(segment, allowance, &mut plan);
        let found = match self.lookup(&ready) {
            Ok(f) => f,
            Err(e) if judge(&e) == Verdict::Refused => return Err(e),
            Err(e) if judge(&e) == Verdict::NotRun => {
                let methods = [self.entity.method("list"), "batch".to_string()];
                let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
                let retry = not_before(self.client, &methods, &e);
                plan.postponed
                    .extend(ready.iter().map(|&i| (i, retry.clone())));
                return Ok(plan);
            }
            Err(e) => {
                // Only this segment fails; the others go on.
                plan.decided
                    .extend(ready.iter().map(|&i| (i, Err(e.clone()))));
                return Ok(plan);
            }
        };
        let mut matched = self.match_misses(&ready, &found);
        for i in ready {
            let ids = found
                .get(&self.rec(i).guid)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            self.decide(i, ids, &mut plan, matched.remove(&i));
        }
        exact::resolve(self, &mut plan);
        Ok(plan)
    }

    /// The records whose GUIDs cannot have a write still running on the portal, after waiting
    /// for them if the allowance permits; the others are decided as not completed.
    fn settled(&self, segment: &[usize], allowance: &mut Duration, plan: &mut Plan) -> Vec<usize> {
        let settles = |i: usize| self.hints.settles.get(&self.rec(i).guid).copied();
        let now = Instant::now();
        let latest = segment.iter().filter_map(|&i| settles(i)).max();
        let Some(latest) = latest.filter(|at| *at > now) else {
            return segment.to_vec();
        };
        if wait_until(latest, *allowance) {
            *allowance = allowance.saturating_sub(latest - now);
            return segment.to_vec();
        }
        let (ready, busy): (Vec<usize>, Vec<usize>) = segment
            .iter()
            .partition(|&&i| settles(i).is_none_or(|at| at <= now));
        for i in busy {
            let e = Error::new(
                ErrorKind::Server,
                "NOT_COMPLETED",
                "not sent: an earlier write of this GUID may still be running on the portal",
            );
            plan.decided.push((i, Err(e)));
        }
        ready
    }

    /// Looks the GUIDs up, retrying a failed lookup a few times. GUIDs a batch would rewrite
    /// (`$result[...]` and the like) are looked up one by one as JSON calls.
    fn lookup(&self, records: &[usize]) -> Result<Found, Error> {
        let (found, records) = self.confirm_known(records)?;
        let mut found = found;
        found.extend(self.lookup_guids(&records)?);
        Ok(found)
    }

    /// Records with the ID of their last sync: read by ID (indexed), kept if the entity still
    /// carries the GUID. Returns those found, and the records left for the GUID lookup.
    fn confirm_known(&self, records: &[usize]) -> Result<(Found, Vec<usize>), Error> {
        let (hinted, mut rest): (Vec<usize>, Vec<usize>) = records
            .iter()
            .partition(|&&i| self.rec(i).known_id.is_some());
        let mut found = HashMap::new();
        if hinted.is_empty() {
            return Ok((found, rest));
        }
        let ids: Vec<i64> = hinted
            .iter()
            .filter_map(|&i| self.rec(i).known_id)
            .collect();
        let now = retried(|| guids_of_ids(self.client, self.entity, self.field, &ids))?;
        for i in hinted {
            let rec = self.rec(i);
            let id = rec.known_id.expect("partitioned on it");
            match now.get(&id) {
                Some(Some(g)) if *g == rec.guid => {
                    found.insert(rec.guid.clone(), vec![id]);
                }
                _ => rest.push(i),
            }
        }
        Ok((found, rest))
    }

    /// Looks the GUIDs of `records` up (those the job's first request looked up already are
    /// taken from it).
    fn lookup_guids(&self, records: &[usize]) -> Result<Found, Error> {
        if records.is_empty() {
            return Ok(HashMap::new());
        }
        let guids: Vec<&String> = records.iter().map(|&i| &self.rec(i).guid).collect();
        let (pre, guids): (Vec<&String>, Vec<&String>) = guids
            .into_iter()
            .partition(|g| self.hints.prefound.contains_key(*g));
        let (raw, plain): (Vec<&String>, Vec<&String>) =
            guids.into_iter().partition(|g| batch::is_reference(g));
        let plain: Vec<String> = plain.into_iter().cloned().collect();
        let mut found = retried(|| lookup_many(self.client, self.entity, self.field, &plain))?;
        for g in pre {
            found.insert(g.clone(), self.hints.prefound[g].clone());
        }
        for g in raw {
            let ids = retried(|| find_by_guid(self.client, self.entity, g))?;
            found.insert(g.clone(), ids);
        }
        Ok(found)
    }

    fn decide(&self, i: usize, ids: &[i64], plan: &mut Plan, matched: Option<Matched>) {
        let rec = self.rec(i);
        let mut adopted = false;
        let update_id = match ids {
            [id] if self.hints.doubt_adds.contains(&i) => {
                // An earlier add of this record lost its answer, and it did run.
                let u = Upserted {
                    id: *id,
                    created: true,
                    adopted: false,
                };
                return plan.decided.push((i, Ok(u)));
            }
            [id] => Some(*id),
            [] => {
                if self.hints.doubt_adds.contains(&i) {
                    plan.cleared.push(i);
                }
                match matched {
                    Some(Matched::Adopt(id)) => {
                        adopted = true;
                        Some(id)
                    }
                    Some(Matched::Fail(e)) => return plan.decided.push((i, Err(e))),
                    None => None,
                }
            }
            many => {
                let e = ambiguous(self.field, &rec.guid, many);
                return plan.decided.push((i, Err(e)));
            }
        };
        let w = Write {
            index: i,
            update_id,
            resolved: None,
            adopted,
        };
        if rec.json_only {
            plan.single.push(w);
        } else {
            plan.batched.push(w);
        }
    }
}

/// Runs a lookup up to [`LOOKUP_ATTEMPTS`] times, pausing briefly between attempts; an error the
/// portal would repeat (access, a field it ignores) is returned at once.
pub(super) fn retried<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if judge(&e) != Verdict::Refused && attempt + 1 < LOOKUP_ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(250 << attempt));
                attempt += 1;
            }
            r => return r,
        }
    }
}
