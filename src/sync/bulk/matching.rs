//! Matching inside a bulk upsert: the records of a lookup segment whose GUIDs were not found are
//! matched by the rules in batched lookups (see `sync::matching`), on the lookup thread, before
//! their writes are queued. The entities to adopt are claimed (all at once, shortly) and their
//! GUID fields read again under the claim, one `@ID` request per segment, so two jobs never
//! write two GUIDs to one entity; the claims are held until the round's writes are done.

use super::lookup::{guids_of_ids, Found};
use super::plan::{retried, Planner};
use crate::error::Error;
use crate::sync::guid::Claim;
use crate::sync::matching::single::entity_key;
use crate::sync::matching::{conflict, match_all, Candidate, Decision, Rule};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long a segment waits for the claims of the entities it adopts: another job adopting one
/// of them holds it until its writes are done, and this job holds its own claims meanwhile.
const ADOPT_WAIT: Duration = Duration::from_secs(5);

/// What matching decided for a record the planner writes: adopt the entity, or fail (conflict,
/// busy) with nothing written. Records absent from the map are added.
#[derive(Debug)]
pub(super) enum Matched {
    Adopt(i64),
    Fail(Error),
}

/// The matching state of one bulk upsert.
pub(super) struct Matcher {
    pub rules: Vec<Rule>,
    /// Look up only (dry run): no claims, no second read.
    pub dry_run: bool,
    /// Entity → the record adopting it, over the whole call: a later record matching it gets a
    /// conflict.
    taken: Mutex<HashMap<i64, usize>>,
    /// Claims of the entities adopted in this round.
    claims: Mutex<Vec<Claim>>,
    /// Per record: the matching entities left alone because they carry another GUID.
    pub other_guid: Mutex<HashMap<usize, Vec<i64>>>,
    /// Per record: the rule that found the entity it adopts.
    pub rule_of: Mutex<HashMap<usize, String>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Matcher {
    pub fn new(rules: Vec<Rule>, dry_run: bool) -> Matcher {
        Matcher {
            rules,
            dry_run,
            taken: Mutex::default(),
            claims: Mutex::default(),
            other_guid: Mutex::default(),
            rule_of: Mutex::default(),
        }
    }

    /// Lets the round's entity claims go (its writes are done).
    pub fn release(&self) {
        locked(&self.claims).clear();
    }

    /// Claims the entities to adopt and keeps those whose GUID field is still empty (or this
    /// record's GUID); the others are added instead. A claim not had in time fails the records.
    fn confirm(&self, p: &Planner, adopt: Vec<(usize, i64)>, out: &mut HashMap<usize, Matched>) {
        let keys: Vec<String> = adopt.iter().map(|(_, id)| entity_key(*id)).collect();
        let ids: Vec<i64> = adopt.iter().map(|(_, id)| *id).collect();
        let checked = Claim::take_within(p.client, p.entity, keys.iter(), ADOPT_WAIT)
            .map(|c| locked(&self.claims).push(c))
            .and_then(|_| retried(|| guids_of_ids(p.client, p.entity, p.field, &ids)));
        let now = match checked {
            Ok(now) => now,
            Err(e) => {
                out.extend(
                    adopt
                        .into_iter()
                        .map(|(i, _)| (i, Matched::Fail(e.clone()))),
                );
                return;
            }
        };
        for (i, id) in adopt {
            let own = &p.parsed[i].as_ref().expect("planned records parsed").guid;
            match now.get(&id) {
                Some(None) => {}
                Some(Some(g)) if g == own => {}
                Some(Some(_)) => {
                    locked(&self.other_guid).entry(i).or_default().push(id);
                    continue;
                }
                None => continue,
            }
            out.insert(i, Matched::Adopt(id));
        }
    }
}

impl Planner<'_> {
    /// Matches the records of `ready` whose GUID was not found (not those whose earlier add may
    /// have run: the GUID lookup decides them). A failed lookup fails those records only.
    pub(super) fn match_misses(&self, ready: &[usize], found: &Found) -> HashMap<usize, Matched> {
        let mut out = HashMap::new();
        let Some(m) = self.matcher.filter(|m| !m.rules.is_empty()) else {
            return out;
        };
        let misses: Vec<Candidate> = ready
            .iter()
            .filter(|i| !self.hints.doubt_adds.contains(i))
            .filter_map(|&i| {
                let r = self.parsed[i].as_ref()?;
                let hit = found.get(&r.guid).is_some_and(|ids| !ids.is_empty());
                (!hit).then_some((i, r.guid.as_str(), &r.req.fields))
            })
            .collect();
        if misses.is_empty() {
            return out;
        }
        let decided = {
            let mut taken = locked(&m.taken);
            retried(|| {
                match_all(
                    self.client,
                    self.entity,
                    self.field,
                    &m.rules,
                    &misses,
                    &mut taken,
                )
            })
        };
        let decided = match decided {
            Ok(d) => d,
            Err(e) => {
                out.extend(misses.iter().map(|c| (c.0, Matched::Fail(e.clone()))));
                return out;
            }
        };
        let mut adopt = Vec::new();
        for (i, d) in decided {
            if !d.other_guid.is_empty() {
                locked(&m.other_guid).insert(i, d.other_guid);
            }
            match d.decision {
                Decision::Adopt { id, rule } => {
                    locked(&m.rule_of).insert(i, rule);
                    adopt.push((i, id));
                }
                Decision::Conflict { ids, rule, why } => {
                    out.insert(i, Matched::Fail(conflict(&ids, &rule, &why)));
                }
                Decision::Create => {}
            }
        }
        adopt.sort_unstable();
        if m.dry_run {
            out.extend(adopt.into_iter().map(|(i, id)| (i, Matched::Adopt(id))));
        } else if !adopt.is_empty() {
            m.confirm(self, adopt, &mut out);
        }
        out
    }
}
