//! JSON-in, envelope-out operations: the one surface both shims (C ABI and 1C add-in) call.
//!
//! Every function takes already-validated Rust strings and returns a [`Reply`]; [`envelope`]
//! renders it as the JSON text both shims hand out.
//!
//! Envelope: success `{"ok":true,"result":<Bitrix result>}` plus `total`/`next` where Bitrix gave
//! them and `warnings` when the library has something to say; failure
//! `{"ok":false,"error":{"code","description","kind","http_status","retryable"}}`.

use crate::batch;
use crate::client::{deadline, Client, Response};
use crate::config::Config;
use crate::crm::{self, WriteRequest};
use crate::error::{Error, ErrorKind};
use crate::sync::{self, BulkOptions, MatchOptions};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

pub use crate::crm::Entity;
pub use crate::sync::{Progress, Waiting};

/// The `result` of a success: the portal's own JSON text, passed through unparsed, or a value
/// the library assembled.
#[derive(Debug, Clone)]
pub enum Payload {
    /// JSON text as the portal sent it (secret masked).
    Raw(Box<RawValue>),
    /// A value built by the library.
    Tree(Value),
}

impl Default for Payload {
    fn default() -> Self {
        Payload::Tree(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Self {
        Payload::Tree(v)
    }
}

impl Payload {
    /// The payload as a value (a raw one parsed, bounded like every network answer).
    pub fn to_value(&self) -> Result<Value, Error> {
        match self {
            Payload::Raw(r) => crate::json::parse_bounded(r.get()),
            Payload::Tree(v) => Ok(v.clone()),
        }
    }

    /// The payload as JSON text.
    pub fn to_json_text(&self) -> String {
        match self {
            Payload::Raw(r) => r.get().to_string(),
            Payload::Tree(v) => v.to_string(),
        }
    }
}

/// A successful operation.
#[derive(Debug, Clone, Default)]
pub struct Success {
    /// Bitrix's `result`, as the portal sent it (or as the library assembled it).
    pub result: Payload,
    /// Bitrix's `total`, when sent.
    pub total: Option<u64>,
    /// Bitrix's `next`, when sent.
    pub next: Option<u64>,
    /// Things the caller should know (for example field keys the portal would drop).
    pub warnings: Vec<String>,
    /// Further top-level envelope keys (for example `not_executed` of a batch).
    pub extra: Map<String, Value>,
}

/// What every operation returns.
pub type Reply = Result<Success, Error>;

impl Success {
    fn from_response(r: Response) -> Success {
        Success {
            result: Payload::Raw(r.result),
            total: r.total,
            next: r.next,
            ..Success::default()
        }
    }
}

/// Renders a reply as the envelope JSON text. A raw `result` is spliced in as it came.
pub fn envelope(reply: &Reply) -> String {
    let s = match reply {
        Ok(s) => s,
        Err(e) => return json!({ "ok": false, "error": e.to_json() }).to_string(),
    };
    let mut out = String::from(r#"{"ok":true,"result":"#);
    match &s.result {
        Payload::Raw(r) => out.push_str(r.get()),
        Payload::Tree(v) => out.push_str(&v.to_string()),
    }
    let mut key = |k: &str, v: &Value| {
        out.push(',');
        out.push_str(&Value::String(k.into()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    };
    if let Some(t) = s.total {
        key("total", &json!(t));
    }
    if let Some(n) = s.next {
        key("next", &json!(n));
    }
    if !s.warnings.is_empty() {
        key("warnings", &json!(s.warnings));
    }
    for (k, v) in &s.extra {
        key(k, v);
    }
    out.push('}');
    out
}

/// The reply with the webhook secret masked in its error and warnings: they may quote caller
/// input (a method name, a field key) as well as the portal. Answers from the portal were
/// masked when they were read.
fn masked(client: &Client, reply: Reply) -> Reply {
    let w = &client.config().webhook;
    match reply {
        Ok(mut s) => {
            for x in &mut s.warnings {
                *x = w.mask(x);
            }
            Ok(s)
        }
        Err(e) => Err(client.mask_error(e)),
    }
}

/// Starts the one deadline (`deadline_secs`) that bounds a single operation, whatever requests
/// and retries it makes. Bulk upsert, batch and export have none: they are long by nature, and
/// each of their requests is bounded on its own.
fn single_operation(client: &Client) -> deadline::Scope {
    deadline::Scope::start(client.config().deadline)
}

/// Parses caller JSON; the error names the position, never echoes the text.
pub fn parse_json(what: &str, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        Error::invalid_input(
            "INVALID_JSON",
            format!(
                "{what} is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Builds a client from the full config JSON (see [`Config::from_json`]).
pub fn new_client(config_json: &str) -> Result<Client, Error> {
    Client::new(Config::from_json(config_json)?)
}

/// Builds a client from a webhook URL, optional settings JSON (the `b24_client_new` config
/// object; its `webhook_url` is overridden) and an optional total timeout in seconds (overrides
/// the settings' `timeout_secs`).
pub fn connect(
    webhook_url: &str,
    settings_json: Option<&str>,
    timeout_secs: Option<f64>,
) -> Result<Client, Error> {
    let mut settings = match settings_json.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => match parse_json("settings", text)? {
            Value::Object(m) => m,
            _ => {
                return Err(Error::invalid_input(
                    "INVALID_CONFIG",
                    "settings must be a JSON object",
                ))
            }
        },
        None => Map::new(),
    };
    settings.insert("webhook_url".into(), json!(webhook_url));
    if let Some(t) = timeout_secs {
        settings.insert("timeout_secs".into(), json!(t));
    }
    new_client(&Value::Object(settings).to_string())
}

/// Calls any method. `params_json` is a JSON object, or `None`/empty for no parameters.
pub fn call(client: &Client, method: &str, params_json: Option<&str>) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let params = match params_json.map(str::trim).filter(|s| !s.is_empty()) {
                Some(text) => parse_json("params", text)?,
                None => json!({}),
            };
            if !params.is_object() {
                return Err(Error::invalid_input(
                    "INVALID_PARAMS",
                    "params must be a JSON object",
                ));
            }
            Ok(Success::from_response(client.call(method, &params)?))
        })(),
    )
}

/// Runs a batch of commands (a JSON object name -> command, or an array); see [`batch`].
/// `result` holds Bitrix's five maps merged over all requests; `not_executed` names the
/// commands a `halt` stopped; `failed` counts the per-command errors in `result.result_error`.
pub fn batch(client: &Client, commands_json: &str, halt: bool) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let commands = batch::parse_commands(&parse_json("commands", commands_json)?)?;
            let out = batch::run(client, &commands, halt)?;
            let mut extra = Map::new();
            extra.insert("failed".into(), json!(out.failed));
            extra.insert("not_executed".into(), json!(out.not_executed));
            Ok(Success {
                result: Value::Object(out.maps).into(),
                extra,
                ..Success::default()
            })
        })(),
    )
}

/// Finds the one user whose 1C GUID field equals `guid`; `result` is that user object.
pub fn get_user_by_guid(client: &Client, guid: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let user = crm::user_by_guid(client, guid)?;
            Ok(Success {
                result: user.into(),
                ..Success::default()
            })
        })(),
    )
}

/// The match options beside `"fields"` of an upsert body (`"match"`, `"dry_run"`); a bare fields
/// object has none, so the client's default rules apply.
fn upsert_options(
    client: &Client,
    entity: Entity,
    body: &mut Value,
) -> Result<MatchOptions, Error> {
    let rules = client.config().match_rules.of(entity);
    match body {
        Value::Object(o) if o.contains_key("fields") => {
            MatchOptions::take(o, guid_field_of(client, entity), rules)
        }
        _ => Ok(MatchOptions {
            rules: rules.to_vec(),
            dry_run: false,
        }),
    }
}

fn guid_field_of(client: &Client, entity: Entity) -> &str {
    match entity {
        Entity::Contact => &client.config().guid_fields.contact,
        Entity::Company => &client.config().guid_fields.company,
    }
}

fn write_request(entity: Entity, fields_json: &str) -> Result<WriteRequest, Error> {
    WriteRequest::parse(entity, parse_json("fields", fields_json)?)
}

/// `crm.<entity>.add`; `result` is the new ID.
pub fn create(client: &Client, entity: Entity, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let req = write_request(entity, fields_json)?;
            let (id, warnings) = crm::create(client, entity, &req)?;
            Ok(Success {
                result: json!(id).into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// `crm.<entity>.update`; `result` is `true`.
pub fn update(client: &Client, entity: Entity, id: i64, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            crm::check_id(id)?;
            let req = write_request(entity, fields_json)?;
            let (resp, warnings) = crm::update(client, entity, id, &req)?;
            Ok(Success {
                warnings,
                ..Success::from_response(resp)
            })
        })(),
    )
}

/// `crm.<entity>.delete`; `result` is `true`.
pub fn delete(client: &Client, entity: Entity, id: i64) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let warnings = crm::delete(client, entity, id)?;
            Ok(Success {
                result: json!(true).into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// `crm.<entity>.get`; `result` is the entity object.
pub fn get(client: &Client, entity: Entity, id: i64) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            Ok(Success::from_response(crm::by_id(
                client, entity, "get", id,
            )?))
        })(),
    )
}

/// `crm.<entity>.fields`; `result` maps field codes to their descriptions.
pub fn fields(client: &Client, entity: Entity) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let f = crm::field_list(client, entity)?;
            Ok(Success {
                result: Value::Object((*f).clone()).into(),
                ..Success::default()
            })
        })(),
    )
}

/// Calls `scope`; `result` is `{"scopes":[...],"crm":bool,"user":bool,"webhook":"<masked URL>"}`.
pub fn check_connection(client: &Client) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let resp = client.call("scope", &json!({}))?;
            let scopes: Vec<String> = match &resp.value()? {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect(),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        "INVALID_RESPONSE",
                        "scope did not return a list",
                    ))
                }
            };
            let has = |s: &str| scopes.iter().any(|x| x == s);
            let mut out = Success {
            result: json!({ "scopes": scopes, "crm": has("crm"), "user": has("user"), "webhook": client.masked_webhook_url() }).into(),
            ..Success::default()
        };
            for needed in ["crm", "user"] {
                if !has(needed) {
                    out.warnings
                        .push(format!("the webhook lacks the `{needed}` scope"));
                }
            }
            Ok(out)
        })(),
    )
}

/// Upserts by 1C GUID (the GUID field must be among the fields); `result` is
/// `{"id": N, "created": true|false}`.
pub fn upsert(client: &Client, entity: Entity, fields_json: &str) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            let mut body = parse_json("fields", fields_json)?;
            let options = upsert_options(client, entity, &mut body)?;
            let req = WriteRequest::parse(entity, body)?;
            if options.dry_run {
                let plan = sync::plan_upsert(client, entity, &req, &options)?;
                return Ok(Success {
                    result: plan.into(),
                    ..Success::default()
                });
            }
            let (u, warnings) = sync::upsert_with(client, entity, &req, &options.rules)?;
            let mut result = json!({"id": u.id, "created": u.created});
            if u.adopted {
                result["adopted"] = json!(true);
            }
            Ok(Success {
                result: result.into(),
                warnings,
                ..Success::default()
            })
        })(),
    )
}

/// Makes a multi-field (PHONE, EMAIL, WEB, IM, LINK) exactly the given values (a JSON array
/// of strings or `{"VALUE","VALUE_TYPE"}`); `result` is `{"kept","changed","added","deleted"}`.
pub fn set_multifield(
    client: &Client,
    entity: Entity,
    id: i64,
    field: &str,
    values_json: &str,
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let _deadline = single_operation(client);
            crm::check_id(id)?;
            let values = parse_json("values", values_json)?;
            let r = sync::replace_multifield(client, entity, id, field, &values)?;
            Ok(Success {
            result:
                json!({"kept": r.kept, "changed": r.changed, "added": r.added, "deleted": r.deleted})
                    .into(),
            ..Success::default()
        })
        })(),
    )
}

/// Options that the records object of a bulk upsert may give once for every record (a record
/// that gives its own keeps it).
const SHARED_RECORD_KEYS: [&str; 3] = ["create_only", "exact", "exact_clears"];

/// The records of a bulk upsert: a JSON array, or `{"records": [...], "create_only": [keys],
/// "exact": [multi-fields], "exact_clears": bool, "match": [rules], "dry_run": bool}`, whose
/// record options apply to every record that does not give its own; and the match options (the
/// client's default rules without `"match"`).
fn bulk_records(
    client: &Client,
    entity: Entity,
    text: &str,
) -> Result<(Vec<Value>, MatchOptions), Error> {
    let not_records = || {
        Error::invalid_input(
            "INVALID_RECORDS",
            "records must be a JSON array, or {\"records\": [...], \"create_only\": [...], \"exact\": [...], \"exact_clears\": false, \"match\": [...], \"dry_run\": false}",
        )
    };
    let rules = client.config().match_rules.of(entity);
    let mut o = match parse_json("records", text)? {
        Value::Array(a) => {
            let default = MatchOptions {
                rules: rules.to_vec(),
                dry_run: false,
            };
            return Ok((a, default));
        }
        Value::Object(o) => o,
        _ => return Err(not_records()),
    };
    let options = MatchOptions::take(&mut o, guid_field_of(client, entity), rules)?;
    let Some(Value::Array(records)) = o.remove("records") else {
        return Err(not_records());
    };
    let shared: Map<String, Value> = SHARED_RECORD_KEYS
        .iter()
        .filter_map(|k| o.remove(*k).map(|v| (k.to_string(), v)))
        .collect();
    if !o.is_empty() {
        return Err(not_records());
    }
    if shared.is_empty() {
        return Ok((records, options));
    }
    let records = records
        .into_iter()
        .map(|r| {
            let mut o = match r {
                Value::Object(o) if o.contains_key("fields") => o,
                fields => Map::from_iter([("fields".to_string(), fields)]),
            };
            for (k, v) in &shared {
                o.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Value::Object(o)
        })
        .collect();
    Ok((records, options))
}

/// Upserts a JSON array of records by 1C GUID; `result` holds one entry per record in input
/// order (`{"guid","id","created"}` or `{"guid","error":{...}}`), `summary` the counts.
pub fn bulk_upsert(
    client: &Client,
    entity: Entity,
    records_json: &str,
    progress: &mut dyn FnMut(&Progress),
) -> Reply {
    masked(
        client,
        (|| -> Reply {
            let (records, matching) = bulk_records(client, entity, records_json)?;
            let (dry_run, matches) = (matching.dry_run, !matching.rules.is_empty());
            let options = BulkOptions {
                concurrency: client.config().bulk_concurrency,
                matching,
            };
            let (rows, warnings) = sync::bulk_upsert(client, entity, &records, options, progress)?;
            let count = |f: &dyn Fn(&Value) -> bool| rows.iter().filter(|r| f(r)).count();
            let mut summary = match dry_run {
                true => dry_summary(&rows),
                false => json!({
                    "created": count(&|r| r["created"] == json!(true)),
                    "updated": count(&|r| r["created"] == json!(false)),
                    // A record whose write may have run is not "failed": it may be on the portal.
                    "failed": count(&|r| r.get("error").is_some() && r["error"]["code"] != json!("OUTCOME_UNKNOWN")),
                    "unknown": count(&|r| r["error"]["code"] == json!("OUTCOME_UNKNOWN")),
                }),
            };
            if matches && !dry_run {
                // Among `updated`: the entities a match rule found and the GUID was written to.
                summary["adopted"] = json!(count(&|r| r["adopted"] == json!(true)));
            }
            let mut extra = Map::new();
            extra.insert("summary".into(), summary);
            Ok(Success {
                result: Value::Array(rows).into(),
                warnings,
                extra,
                ..Success::default()
            })
        })(),
    )
}

/// The summary of a dry run: how many records would be created, updated, adopted, how many
/// conflict, and how many failed (their lookup, or their input).
fn dry_summary(rows: &[Value]) -> Value {
    let count = |a: &str| rows.iter().filter(|r| r["action"] == json!(a)).count();
    json!({
        "create": count("create"),
        "update": count("update"),
        "adopt": count("adopt"),
        "conflict": count("conflict"),
        "failed": rows.iter().filter(|r| r.get("error").is_some()).count(),
    })
}

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
    masked(
        client,
        (|| -> Reply {
            let params = match params_json.map(str::trim).filter(|s| !s.is_empty()) {
                Some(t) => parse_json("params", t)?,
                None => json!({}),
            };
            match file_path.map(str::trim).filter(|s| !s.is_empty()) {
                None => {
                    let mut rows = Vec::new();
                    let (count, warnings) =
                        sync::export(client, method, &params, pages_per_batch, &mut |row| {
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
                        sync::export(client, method, &params, pages_per_batch, sink)
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

/// Parses an outbound event call's body (as the portal POSTs it to a handler URL) and checks
/// its application token; see [`crate::events::parse_event`]. Needs no client. `result` is
/// `{"event": "ONCRMCONTACTUPDATE", "id": 123 | null, "token_ok": bool, "payload": {...}}`:
/// `id` is `data.FIELDS.ID` as a number, `payload` the whole body as JSON with the tokens in
/// `auth` masked. A wrong or missing token, when one is expected, is an `auth` error
/// `INVALID_APPLICATION_TOKEN`.
pub fn parse_event(body: &str, content_type: Option<&str>, expected_token: Option<&str>) -> Reply {
    let e = crate::events::parse_event(body, content_type, expected_token)?;
    Ok(Success {
        result: json!({"event": e.name, "id": e.id, "token_ok": e.token_ok, "payload": e.payload})
            .into(),
        warnings: e.warnings,
        ..Success::default()
    })
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
