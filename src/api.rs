//! JSON-in, envelope-out operations: the one surface both shims (C ABI and 1C add-in) call.
//!
//! Every function takes already-validated Rust strings and returns a [`Reply`]; [`envelope`]
//! renders it as the JSON text both shims hand out.
//!
//! Envelope: success `{"ok":true,"result":<Bitrix result>}` plus `total`/`next` where Bitrix gave
//! them and `warnings` when the library has something to say; failure
//! `{"ok":false,"error":{"code","description","kind","http_status","retryable"}}`.

use crate::client::Client;
use crate::error::Error;
use serde_json::{Map, Value};

/// The CRM entity an operation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// `crm.contact.*`
    Contact,
    /// `crm.company.*`
    Company,
}

/// A successful operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Success {
    /// Bitrix's `result`, as the portal sent it (or as the library assembled it).
    pub result: Value,
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

fn not_yet() -> Error {
    Error::new(crate::error::ErrorKind::Server, "NOT_IMPLEMENTED", "not implemented yet")
}

/// Renders a reply as the envelope JSON text.
pub fn envelope(reply: &Reply) -> String {
    match reply {
        Ok(s) => serde_json::json!({"ok": true, "result": s.result}).to_string(),
        Err(e) => serde_json::json!({"ok": false, "error": e.to_json()}).to_string(),
    }
}

/// Builds a client from a webhook URL, optional settings JSON (the `b24_client_new` config
/// object; its `webhook_url` is overridden) and an optional total timeout in seconds.
pub fn connect(webhook_url: &str, settings_json: Option<&str>, timeout_secs: Option<f64>) -> Result<Client, Error> {
    let _ = (webhook_url, settings_json, timeout_secs);
    Err(not_yet())
}

/// Builds a client from the full config JSON.
pub fn new_client(config_json: &str) -> Result<Client, Error> {
    let _ = config_json;
    Err(not_yet())
}

/// Calls any method. `params_json` is a JSON object, or `None`/empty for no parameters.
pub fn call(client: &Client, method: &str, params_json: Option<&str>) -> Reply {
    let _ = (client, method, params_json);
    Err(not_yet())
}

/// Runs a batch of commands (a JSON object name -> command, or an array).
pub fn batch(client: &Client, commands_json: &str, halt: bool) -> Reply {
    let _ = (client, commands_json, halt);
    Err(not_yet())
}

/// Finds the one user whose 1C GUID field equals `guid`.
pub fn get_user_by_guid(client: &Client, guid: &str) -> Reply {
    let _ = (client, guid);
    Err(not_yet())
}

/// `crm.<entity>.add`.
pub fn create(client: &Client, entity: Entity, fields_json: &str) -> Reply {
    let _ = (client, entity, fields_json);
    Err(not_yet())
}

/// `crm.<entity>.update`.
pub fn update(client: &Client, entity: Entity, id: i64, fields_json: &str) -> Reply {
    let _ = (client, entity, id, fields_json);
    Err(not_yet())
}

/// `crm.<entity>.delete`.
pub fn delete(client: &Client, entity: Entity, id: i64) -> Reply {
    let _ = (client, entity, id);
    Err(not_yet())
}

/// `crm.<entity>.get`.
pub fn get(client: &Client, entity: Entity, id: i64) -> Reply {
    let _ = (client, entity, id);
    Err(not_yet())
}

/// `crm.<entity>.fields`.
pub fn fields(client: &Client, entity: Entity) -> Reply {
    let _ = (client, entity);
    Err(not_yet())
}

/// Calls `scope` and reports the webhook's scopes.
pub fn check_connection(client: &Client) -> Reply {
    let _ = client;
    Err(not_yet())
}
