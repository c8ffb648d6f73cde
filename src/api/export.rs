//! Long listings: export and incremental pull, in memory or streamed to a file.

use super::{masked, parse_json, Reply, Success};
use crate::client::Client;
use crate::error::Error;
use crate::sync::{self, Cancel};
use serde_json::{json, Map, Value};

/// Lists every row of a `*.list` method by ID cursor. Without `file_path`, `result` is the JSON
/// array of rows; with it, the rows are written there as a JSON array and `result` is
/// `{"path": ..., "count": N}`.
pub fn export(
    client: &Client,
    method: &str,
    params_json: Option<&str>,
    file_path: Option<&str>,
    pages_per_batch: usize,
) -> Reply {
    export_with(
        client,
        method,
        params_json,
        file_path,
        pages_per_batch,
        &Cancel::new(),
    )
}

/// [`export`] that `cancel` can stop from another thread: the export then fails with
/// `CANCELLED` before its next request (rows already read are dropped; a file holds what was
/// written so far and is not a complete JSON array).
pub fn export_with(
    client: &Client,
    method: &str,
    params_json: Option<&str>,
    file_path: Option<&str>,
    pages_per_batch: usize,
    cancel: &Cancel,
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            cancel.check()?;
            let params = match params_json.map(str::trim).filter(|s| !s.is_empty()) {
                Some(t) => parse_json("params", t)?,
                None => json!({}),
            };
            match file_path.map(str::trim).filter(|s| !s.is_empty()) {
                None => {
                    let mut rows = Vec::new();
                    let (count, warnings) =
                        sync::export(client, method, &params, pages_per_batch, &mut |row| {
                            cancel.check()?;
                            rows.push(row);
                            Ok(())
                        })?;
                    Ok(Success {
                        result: Value::Array(rows).into(),
                        total: Some(count),
                        warnings,
                        ..Success::default()
                    })
                }
                Some(path) => {
                    let (count, warnings) = rows_to_file(path, &mut |sink| {
                        let mut checked = |row| cancel.check().and_then(|()| sink(row));
                        sync::export(client, method, &params, pages_per_batch, &mut checked)
                    })?;
                    Ok(Success {
                        result: json!({"path": path, "count": count}).into(),
                        total: Some(count),
                        warnings,
                        ..Success::default()
                    })
                }
            }
        })(),
    )
}

/// Rows of a legacy `crm.<entity>.list` changed since `cursor` (`None` or empty: every row), and
/// with `reconcile` the IDs deleted since. `params_json` as for [`export`], plus an optional
/// library key `settle_secs` (0..=300, default 2; see [`sync::PullOptions`]). Without
/// `file_path`, `result` is the JSON array of rows; with it, the rows are written there as a JSON
/// array and `result` is `{"path","count"}`. Either way the envelope carries `cursor` (for the
/// next pull), `deleted` (an array of IDs) and `total` (the row count). `date` fields come as
/// `YYYY-MM-DD`, datetimes as the portal wrote them.
pub fn pull(
    client: &Client,
    method: &str,
    cursor: Option<&str>,
    params_json: Option<&str>,
    file_path: Option<&str>,
    reconcile: bool,
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let mut params = match params_json.map(str::trim).filter(|s| !s.is_empty()) {
                Some(t) => parse_json("params", t)?,
                None => json!({}),
            };
            let mut options = sync::PullOptions {
                reconcile,
                ..sync::PullOptions::default()
            };
            if let Some(v) = params.as_object_mut().and_then(|m| m.remove("settle_secs")) {
                options.settle_secs = v.as_u64().filter(|s| *s <= 300).ok_or_else(|| {
                    Error::invalid_input(
                        "INVALID_PARAMS",
                        "settle_secs must be a whole number of seconds from 0 to 300",
                    )
                })? as u32;
            }
            let path = file_path.map(str::trim).filter(|s| !s.is_empty());
            let (pulled, result) = match path {
                None => {
                    let mut rows = Vec::new();
                    let p = sync::pull(client, method, cursor, &params, options, &mut |row| {
                        rows.push(row);
                        Ok(())
                    })?;
                    (p, Value::Array(rows))
                }
                Some(path) => {
                    let p = rows_to_file(path, &mut |sink| {
                        sync::pull(client, method, cursor, &params, options, sink)
                    })?;
                    let result = json!({"path": path, "count": p.count});
                    (p, result)
                }
            };
            let mut extra = Map::new();
            extra.insert("cursor".into(), json!(pulled.cursor));
            extra.insert("deleted".into(), json!(pulled.deleted));
            Ok(Success {
                result: result.into(),
                total: Some(pulled.count),
                warnings: pulled.warnings,
                extra,
                ..Success::default()
            })
        })(),
    )
}

/// Where a long listing sends each row.
type RowSink<'a> = dyn FnMut(Value) -> Result<(), Error> + 'a;

/// Runs `produce` with a sink that writes its rows to `path` as one JSON array. The file is
/// complete only when `produce` succeeds; on an error it holds what came so far.
fn rows_to_file<T>(
    path: &str,
    produce: &mut dyn FnMut(&mut RowSink) -> Result<T, Error>,
) -> Result<T, Error> {
    use std::io::Write;
    let io = |e: std::io::Error| {
        Error::invalid_input("INVALID_FILE", format!("cannot write {path}: {e}"))
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    w.write_all(b"[").map_err(io)?;
    let mut first = true;
    let out = produce(&mut |row| {
        if !first {
            w.write_all(b",\n").map_err(io)?;
        }
        first = false;
        serde_json::to_writer(&mut w, &row).map_err(|e| io(e.into()))
    })?;
    w.write_all(b"]\n").map_err(io)?;
    w.flush().map_err(io)?;
    Ok(out)
}
