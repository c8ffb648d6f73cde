//! The (DATE_MODIFY, ID) keyset walk: the pages of one pull, in order, each row once, up to the
//! settle bound (see the module above for why).

use super::{dates, Pos, PullOptions, Query, PAGE_SIZE};
use crate::batch::{self, Command};
use crate::client::{Client, Repeat};
use crate::error::{Error, ErrorKind};
use crate::sync::guid::row_id;
use serde_json::{json, Value};

/// Pages per pull at most: 500 million rows, far past any portal, yet a bound.
const MAX_STEPS: u64 = 10_000_000;

/// Where a page of the keyset starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Rows at the position's second with a higher ID.
    Tie,
    /// Rows after the position's second (all rows when there is no position).
    After,
}

impl Query {
    fn params(&self, phase: Phase, pos: Option<&Pos>) -> Value {
        let mut p = self.base.clone();
        let mut f = self.filter.clone();
        match (phase, pos) {
            (Phase::Tie, Some(pos)) => {
                f.insert("=DATE_MODIFY".into(), json!(pos.text));
                f.insert(">ID".into(), json!(pos.id));
                p.insert("order".into(), json!({"ID": "ASC"}));
            }
            (_, pos) => {
                if let Some(pos) = pos {
                    f.insert(">DATE_MODIFY".into(), json!(pos.text));
                }
                p.insert("order".into(), json!({"DATE_MODIFY": "ASC", "ID": "ASC"}));
            }
        }
        p.insert("filter".into(), Value::Object(f));
        Value::Object(p)
    }

    /// One page as a single call; also the portal's time at its start.
    fn page(
        &self,
        client: &Client,
        phase: Phase,
        pos: Option<&Pos>,
    ) -> Result<(Vec<Value>, Option<String>), Error> {
        let r = client.call_with(&self.method, &self.params(phase, pos), Repeat::Safe)?;
        let started = r
            .time
            .as_ref()
            .and_then(|t| t.date_start.as_str())
            .map(str::to_string);
        Ok((as_rows(r.value()?)?, started))
    }

    /// The tie page and the page after it in one batch; the second is `None` when it did not
    /// come back.
    fn pair(&self, client: &Client, pos: &Pos) -> Result<(Vec<Value>, Option<Vec<Value>>), Error> {
        let cmd = |name: &str, phase| Command {
            name: name.into(),
            method: self.method.clone(),
            text: format!(
                "{}?{}",
                self.method,
                batch::php_query(&self.params(phase, Some(pos)))
            ),
        };
        let out = batch::run(
            client,
            &[cmd("tie", Phase::Tie), cmd("after", Phase::After)],
            true,
        )?;
        if let Some(e) = out.error_of("tie").or_else(|| out.error_of("after")) {
            return Err(e);
        }
        let res = out.results();
        let tie = as_rows(res.get("tie").cloned().unwrap_or(Value::Null))?;
        let after = res.get("after").cloned().map(as_rows).transpose()?;
        Ok((tie, after))
    }
}

/// Walks the keyset from `start`, sending each row before the bound to `emit`. Returns the
/// bound (`None` when the portal sent no time) and the last delivered position.
pub(super) fn walk(
    client: &Client,
    q: &Query,
    start: Option<Pos>,
    options: PullOptions,
    emit: &mut dyn FnMut(Value, i64) -> Result<(), Error>,
) -> Result<(Option<Pos>, Option<Pos>), Error> {
    let mut pos = start;
    let mut last: Option<Pos> = None;
    let mut phase = if pos.is_some() {
        Phase::Tie
    } else {
        Phase::After
    };
    // The first page goes alone: its envelope's time sets the bound for the whole pull.
    let (rows, started) = q.page(client, phase, pos.as_ref())?;
    let bound = match started {
        Some(s) => match dates::earlier(&s, i64::from(options.settle_secs)) {
            Some(text) => Some(Pos::from_parts(text, 0)?),
            None => None,
        },
        None => None,
    };
    let mut pages = vec![(phase, rows)];
    for _ in 0..MAX_STEPS {
        for (ph, rows) in pages.drain(..) {
            let full = rows.len() >= PAGE_SIZE;
            let before = pos.clone();
            let cut = deliver(q, rows, &mut pos, bound.as_ref(), emit)?;
            if pos.is_some() {
                last.clone_from(&pos);
            }
            if cut || !full {
                if cut || ph == Phase::After {
                    return Ok((bound, last));
                }
                phase = Phase::After; // the tie second is done
                continue;
            }
            let moved = match (&before, &pos) {
                (Some(b), Some(p)) => b.before(p),
                (None, p) => p.is_some(),
                _ => false,
            };
            if !moved {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "PULL_STALLED",
                    "the portal returned a full page that did not advance the (DATE_MODIFY, ID) cursor",
                ));
            }
            // A full page: its last second may hold more rows.
            phase = Phase::Tie;
            break;
        }
        let Some(at) = pos.clone() else {
            return Ok((bound, last)); // nothing at all was listed
        };
        pages = match (phase, q.single) {
            (Phase::After, _) => vec![(Phase::After, q.page(client, Phase::After, Some(&at))?.0)],
            (Phase::Tie, true) => vec![(Phase::Tie, q.page(client, Phase::Tie, Some(&at))?.0)],
            (Phase::Tie, false) => {
                let (tie, after) = q.pair(client, &at)?;
                // After a full tie page the after page may skip rows still at that second.
                match after {
                    Some(a) if tie.len() < PAGE_SIZE => vec![(Phase::Tie, tie), (Phase::After, a)],
                    _ => vec![(Phase::Tie, tie)],
                }
            }
        };
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "PULL_STALLED",
        "the pull did not finish within its bound",
    ))
}

/// Sends the rows past `pos` and before `bound` to `emit`, moving `pos`. Returns whether a row
/// at or past the bound was met (the rest of the list waits for the next pull).
fn deliver(
    q: &Query,
    rows: Vec<Value>,
    pos: &mut Option<Pos>,
    bound: Option<&Pos>,
    emit: &mut dyn FnMut(Value, i64) -> Result<(), Error>,
) -> Result<bool, Error> {
    for mut row in rows {
        let id = row_id(&row)?;
        let text = row
            .get("DATE_MODIFY")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let here = Pos::from_parts(text, id)?;
        if pos.as_ref().is_some_and(|p| !p.before(&here)) {
            continue; // at or behind the cursor: already delivered
        }
        if bound.is_some_and(|b| b.epoch <= here.epoch) {
            return Ok(true);
        }
        date_only_fields(&mut row, &q.date_fields);
        *pos = Some(here);
        emit(row, id)?;
    }
    Ok(false)
}

/// `date` fields as `YYYY-MM-DD`; empty or unreadable values stay as they are.
fn date_only_fields(row: &mut Value, date_fields: &[String]) {
    let Value::Object(m) = row else { return };
    for f in date_fields {
        if let Some(Value::String(s)) = m.get_mut(f) {
            if let Some(d) = dates::date_only(s) {
                *s = d;
            }
        }
    }
}

fn as_rows(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(m) if m.is_empty() => Ok(vec![]),
        Value::Null => Ok(vec![]),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "a list method did not return a list",
        )),
    }
}
