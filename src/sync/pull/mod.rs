//! Changes since a cursor: every row of a legacy `crm.<entity>.list` modified since the last
//! pull, once, in (DATE_MODIFY, ID) order, and on request the IDs deleted since.
//!
//! Paging is a keyset on (DATE_MODIFY, ID) with `start=-1` (no row counting): after a position
//! (T, I) come first the rows at exactly T with an ID above I (`=DATE_MODIFY` + `>ID`, by ID),
//! then the rows after T (`>DATE_MODIFY`, by DATE_MODIFY then ID). Both queries are sent in one
//! `batch`, so a page costs one request, and many rows sharing one second (an import) are walked
//! by ID without being read twice. T is always the text the portal wrote: the portal parses it
//! with `strtotime`, offset included (`CRestUtil::unConvertDateTime`).
//!
//! DATE_MODIFY has whole seconds and is the database's `NOW()` at the write
//! (`CCrmContact::Update`: `~DATE_MODIFY = $DB->CurrentTimeFunction()`). A row written during
//! the pull, or in the current second, could still get a stamp behind a position already
//! passed. So a pull delivers only rows modified before a bound: the portal's own time at the
//! pull's first request (`time.date_start`) less `settle_secs`; later rows wait for the next
//! pull. The new cursor is then (bound, 0): every row modified before the bound was delivered.
//!
//! Deletions: the cursor keeps the IDs known to exist (see [`cursor`]); a reconcile pull lists
//! every ID of the filtered list (`select: ["ID"]`, by ID cursor: 50 IDs a page, 2,500 per
//! request) and reports the known IDs that are gone.

mod cursor;
mod dates;
mod keyset;

pub use cursor::MAX_IDS;

use super::guid::id_of;
use crate::batch;
use crate::client::Client;
use crate::crm;
use crate::error::{Error, ErrorKind};
use cursor::Cursor;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Rows per page of a legacy list method (fixed by Bitrix).
const PAGE_SIZE: usize = 50;

/// How a pull runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PullOptions {
    /// Also list every ID and report the known ones that are gone.
    pub reconcile: bool,
    /// Rows modified this many seconds before the portal's clock at the pull's start, or later,
    /// wait for the next pull (commit lag, PHP and database clocks apart). Default 2.
    pub settle_secs: u32,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            reconcile: false,
            settle_secs: 2,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pulled {
    /// Rows sent to the sink.
    pub count: u64,
    /// The cursor for the next pull.
    pub cursor: String,
    /// IDs the previous cursor knew that are no longer listed (reconcile pulls only), ascending.
    pub deleted: Vec<i64>,
    /// Things the caller should know (dropped filter keys, a missing bound).
    pub warnings: Vec<String>,
}

/// The caller's params split for the keyset.
struct Query {
    method: String,
    base: Map<String, Value>,
    filter: Map<String, Value>,
    /// `date` fields: their values go out as `YYYY-MM-DD`.
    date_fields: Vec<String>,
    single: bool,
}

/// A position in (DATE_MODIFY, ID) order: the text the portal wrote, its instant, the ID.
#[derive(Debug, Clone)]
struct Pos {
    text: String,
    epoch: i64,
    id: i64,
}

impl Pos {
    fn from_parts(text: String, id: i64) -> Result<Pos, Error> {
        let epoch = dates::parse(&text).map(|s| s.epoch).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                "INVALID_RESPONSE",
                format!("DATE_MODIFY {text:?} is not an ISO 8601 time with an offset"),
            )
        })?;
        Ok(Pos { text, epoch, id })
    }
    fn before(&self, other: &Pos) -> bool {
        (self.epoch, self.id) < (other.epoch, other.id)
    }
}

/// Pulls the rows of `method` (a legacy `crm.<entity>.list`) modified since `cursor` (`None`:
/// every row) into `sink`, and returns the new cursor. `params` may hold `filter` and `select`
/// as for the method; the pull owns `order`, `start` and the DATE_MODIFY and ID conditions.
pub fn pull(
    client: &Client,
    method: &str,
    cursor: Option<&str>,
    params: &Value,
    options: PullOptions,
    sink: &mut dyn FnMut(Value) -> Result<(), Error>,
) -> Result<Pulled, Error> {
    crate::client::validate_method(method)?;
    let old = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        Some(text) => Some(Cursor::decode(text)?),
        None => None,
    };
    if let Some(c) = &old {
        if c.method != method.to_ascii_lowercase() {
            return Err(Error::invalid_input(
                "INVALID_CURSOR",
                format!("the cursor belongs to {}, not {method}", c.method),
            ));
        }
    }
    let (q, mut warnings) = query(client, method, params)?;
    let mut known: BTreeSet<i64> = old.iter().flat_map(|c| c.ids.iter().copied()).collect();
    let start = match old.as_ref().and_then(|c| c.pos.clone()) {
        Some((text, id)) => Some(Pos::from_parts(text, id)?),
        None => None,
    };
    let mut count = 0u64;
    let (bound, end) = keyset::walk(client, &q, start.clone(), options, &mut |row, id| {
        if known.len() >= MAX_IDS && !known.contains(&id) {
            return Err(Error::invalid_input(
                "TOO_MANY_IDS",
                format!("a cursor keeps at most {MAX_IDS} IDs"),
            ));
        }
        known.insert(id);
        count += 1;
        sink(row)
    })?;
    // Every row modified before the bound was delivered; a bound behind the cursor (a clock
    // set back) leaves the cursor where it was.
    let pos = match (bound, end.or(start)) {
        (Some(b), Some(p)) if b.before(&p) => Some(p),
        (Some(b), _) => Some(b),
        (None, p) => {
            warnings.push(
                "the portal's answer had no time.date_start; the cursor stops at the last row"
                    .into(),
            );
            p
        }
    };
    let mut deleted = Vec::new();
    if options.reconcile {
        let mut now = BTreeSet::new();
        let mut p = q.base.clone();
        p.insert("select".into(), json!(["ID"]));
        p.insert("filter".into(), Value::Object(q.filter.clone()));
        p.remove("order");
        p.remove("start");
        let (_, w) = super::export::export(client, method, &Value::Object(p), 50, &mut |row| {
            if let Some(id) = row.get("ID").and_then(id_of) {
                if now.len() >= MAX_IDS {
                    return Err(Error::invalid_input(
                        "TOO_MANY_IDS",
                        format!("a cursor keeps at most {MAX_IDS} IDs"),
                    ));
                }
                now.insert(id);
            }
            Ok(())
        })?;
        warnings.extend(w);
        if old.is_some() {
            deleted = known.difference(&now).copied().collect();
        }
        known = now;
    }
    let cursor = Cursor {
        method: method.to_ascii_lowercase(),
        pos: pos.map(|p| (p.text, p.id)),
        ids: known.into_iter().collect(),
    };
    Ok(Pulled {
        count,
        cursor: cursor.encode(),
        deleted,
        warnings,
    })
}

/// Checks the method and params; reads the entity's field types.
fn query(client: &Client, method: &str, params: &Value) -> Result<(Query, Vec<String>), Error> {
    let fields = crm::list_fields(client, method)?.ok_or_else(|| {
        Error::invalid_input(
            "INVALID_METHOD",
            "pull works with the legacy crm.<entity>.list methods (crm.contact.list, crm.company.list, ...)",
        )
    })?;
    if !fields.contains_key("DATE_MODIFY") {
        return Err(Error::invalid_input(
            "INVALID_METHOD",
            format!("{method} has no DATE_MODIFY field to pull changes by"),
        ));
    }
    let (mut base, filter) = super::export::params_and_filter(params)?;
    for owned in ["order", "start"] {
        if base.remove(owned).is_some() {
            return Err(Error::invalid_input(
                "INVALID_PARAMS",
                format!("a pull sets {owned:?} itself"),
            ));
        }
    }
    let (filter, warnings) = crm::filter_keys(client, method, filter)?;
    if let Some(k) = filter.keys().find(|k| {
        let (_, f) = crm::split_operator(k);
        f == "DATE_MODIFY" || f == "ID"
    }) {
        return Err(Error::invalid_input(
            "INVALID_PARAMS",
            format!("filter key {k:?}: a pull sets the DATE_MODIFY and ID conditions itself"),
        ));
    }
    if let Some(Value::Array(sel)) = base.get_mut("select") {
        let all = sel.iter().any(|s| s == "*");
        for need in ["ID", "DATE_MODIFY"] {
            if !all && !sel.iter().any(|s| s == need) {
                sel.push(json!(need));
            }
        }
    }
    base.insert("start".into(), json!(-1));
    let date_fields = fields
        .iter()
        .filter(|(_, d)| d.get("type").and_then(Value::as_str) == Some("date"))
        .map(|(k, _)| k.clone())
        .collect();
    // Inside a batch the portal would expand `$result[...]`-like text in the caller's params.
    let single = batch::references_in(params).is_some();
    let q = Query {
        method: method.to_string(),
        base,
        filter,
        date_fields,
        single,
    };
    Ok((q, warnings))
}
