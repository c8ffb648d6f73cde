//! Full export by ID cursor.

use super::guid::{id_of, row_id};
use crate::batch::{self, Command, BATCH_LIMIT};
use crate::client::{Client, Repeat};
use crate::crm;
use crate::error::{Error, ErrorKind};
use serde_json::{json, Map, Value};

/// Rows per page of a legacy list method (fixed by Bitrix).
const PAGE_SIZE: usize = 50;

/// The caller's params split for the cursor: the params without `filter`, the filter without
/// `>ID`, and the starting cursor (the caller's `>ID`, or 0).
struct Cursor {
    base: Map<String, Value>,
    filter: Map<String, Value>,
    last: i64,
}

/// Lists every row of a `*.list` method with the ID cursor (`order ID ASC`, `filter >ID`,
/// `start=-1`: no row counting, no duplicates, no holes), `pages_per_batch` pages per request
/// (1..=50; more than one chains the pages inside a batch). Each row goes to `sink`. Returns
/// the row count and the warnings: filter keys the portal would drop (see
/// [`crm::filter_keys`]: keys it knows in upper case are sent upper-cased, so `"name"` filters by
/// NAME and `">id"` moves the cursor; under `strict_fields` an unknown key is an error).
pub fn export(
    client: &Client,
    method: &str,
    params: &Value,
    pages_per_batch: usize,
    sink: &mut dyn FnMut(Value) -> Result<(), Error>,
) -> Result<(u64, Vec<String>), Error> {
    crate::client::validate_method(method)?;
    if !method.to_ascii_lowercase().ends_with(".list") {
        return Err(Error::invalid_input(
            "INVALID_METHOD",
            "export works with *.list methods",
        ));
    }
    let (mut cur, warnings) = cursor(client, method, params)?;
    // Inside a batch the portal would expand `$result[...]`-like text in the caller's params.
    let pages = match batch::references_in(params) {
        Some(_) => 1,
        None => pages_per_batch.clamp(1, BATCH_LIMIT),
    };
    let mut count: u64 = 0;
    // Bounded: each request must move the cursor, and the loop stops at a short page.
    for _ in 0..10_000_000u64 {
        let page_rows = if pages == 1 {
            vec![single_page(client, method, &cur)?]
        } else {
            batch_pages(client, method, &cur, pages)?
        };
        let before = cur.last;
        let mut finished = false;
        for rows in page_rows {
            let full = rows.len() >= PAGE_SIZE;
            count += emit(rows, &mut cur.last, sink)?;
            if !full {
                finished = true;
                break;
            }
        }
        if finished {
            return Ok((count, warnings));
        }
        if cur.last == before {
            return Err(Error::new(
                ErrorKind::Protocol,
                "EXPORT_STALLED",
                "the portal returned full pages that did not advance the ID cursor",
            ));
        }
    }
    Err(Error::new(
        ErrorKind::Protocol,
        "EXPORT_STALLED",
        "export did not finish within its bound",
    ))
}

/// A JSON object of list params (or of a filter).
type Params = Map<String, Value>;

/// The caller's list params as an object (`null`: none), and its `filter` taken out of it.
pub(super) fn params_and_filter(params: &Value) -> Result<(Params, Params), Error> {
    let mut base = match params {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(Error::invalid_input(
                "INVALID_PARAMS",
                "params must be a JSON object",
            ))
        }
    };
    let filter = match base.remove("filter") {
        Some(Value::Object(f)) => f,
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(Error::invalid_input(
                "INVALID_PARAMS",
                "filter must be an object",
            ))
        }
    };
    Ok((base, filter))
}

fn cursor(client: &Client, method: &str, params: &Value) -> Result<(Cursor, Vec<String>), Error> {
    let (mut base, filter) = params_and_filter(params)?;
    let (mut filter, warnings) = crm::filter_keys(client, method, filter)?;
    let last: i64 = filter.remove(">ID").as_ref().and_then(id_of).unwrap_or(0);
    if let Some(Value::Array(sel)) = base.get_mut("select") {
        if !sel.iter().any(|s| s == "ID" || s == "*") {
            sel.push(json!("ID"));
        }
    }
    base.insert("order".into(), json!({"ID": "ASC"}));
    base.insert("start".into(), json!(-1));
    Ok((Cursor { base, filter, last }, warnings))
}

/// The params of the page after `cur.last`.
fn page_params(cur: &Cursor) -> Map<String, Value> {
    let mut p = cur.base.clone();
    let mut f = cur.filter.clone();
    f.insert(">ID".into(), json!(cur.last));
    p.insert("filter".into(), Value::Object(f));
    p
}

fn single_page(client: &Client, method: &str, cur: &Cursor) -> Result<Vec<Value>, Error> {
    let p = Value::Object(page_params(cur));
    let r = client.call_with(method, &p, Repeat::Safe)?;
    as_rows(r.value()?)
}

/// `pages` pages in one batch: page k's cursor is the last ID of page k-1, resolved on the
/// portal. Returns the pages that came back, in order.
fn batch_pages(
    client: &Client,
    method: &str,
    cur: &Cursor,
    pages: usize,
) -> Result<Vec<Vec<Value>>, Error> {
    let p = page_params(cur);
    let first = format!("{method}?{}", batch::php_query(&Value::Object(p.clone())));
    let mut cmds = vec![Command {
        name: "p0".into(),
        method: method.into(),
        text: first,
    }];
    for k in 1..pages {
        let mut pk = p.clone();
        pk.insert("filter".into(), Value::Object(cur.filter.clone()));
        let q = batch::php_query(&Value::Object(pk));
        let text = format!(
            "{method}?{q}{}filter%5B%3EID%5D=$result[p{}][49][ID]",
            if q.is_empty() { "" } else { "&" },
            k - 1
        );
        cmds.push(Command {
            name: format!("p{k}"),
            method: method.into(),
            text,
        });
    }
    let out = batch::run(client, &cmds, true)?;
    // A later page may fail on a cursor that did not resolve; only the first page's failure is
    // the export's.
    if let Some(e) = out.error_of("p0") {
        return Err(e);
    }
    let res = out.results();
    let mut v = Vec::new();
    for k in 0..pages {
        match res.get(&format!("p{k}")) {
            Some(r) => v.push(as_rows(r.clone())?),
            None => break,
        }
    }
    Ok(v)
}

/// Sends the rows past the cursor to `sink`, moving the cursor; returns how many went.
fn emit(
    rows: Vec<Value>,
    last: &mut i64,
    sink: &mut dyn FnMut(Value) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut count = 0;
    for row in rows {
        let id = row_id(&row)?;
        if id <= *last {
            continue; // a page chained on a stale cursor: already seen
        }
        *last = id;
        sink(row)?;
        count += 1;
    }
    Ok(count)
}

fn as_rows(v: Value) -> Result<Vec<Value>, Error> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(m) if m.is_empty() => Ok(vec![]),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            "a list method did not return a list",
        )),
    }
}
