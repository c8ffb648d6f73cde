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
use crate::crm;
use crate::error::{Error, ErrorKind};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

mod bulk;
mod crm_ops;
mod export;

pub use crate::crm::Entity;
pub use crate::sync::{Cancel, Progress, Waiting};
pub use bulk::{bulk_upsert, bulk_upsert_with};
pub use crm_ops::{create, delete, fields, get, set_multifield, update, upsert};
pub use export::{export, export_with, pull};

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
    envelope_in(reply, crate::error::Lang::En)
}

/// [`envelope`] with the library's own error description in `lang` (the portal's stay as sent;
/// codes never change).
pub fn envelope_in(reply: &Reply, lang: crate::error::Lang) -> String {
    let s = match reply {
        Ok(s) => s,
        Err(e) => return json!({ "ok": false, "error": e.to_json_in(lang) }).to_string(),
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

/// Calls `scope`; `result` is `{"scopes":[...],"crm":bool,"user":bool,"webhook_url":"<masked URL>"}` (the key `Connect` uses too).
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
            result: json!({ "scopes": scopes, "crm": has("crm"), "user": has("user"), "webhook_url": client.masked_webhook_url() }).into(),
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
