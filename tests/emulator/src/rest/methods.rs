//! The method table: names, lookup (lower-case first), scopes and dispatch (reference §1.1).

use crate::api::{ApiError, CallResult, Success};
use crate::users::UserScope;
use crate::{lock, php, time, EntityKind, Shared};
use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CrmOp {
    Add,
    Update,
    Get,
    Delete,
    List,
    Fields,
    UfList,
    Links,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum M {
    Scope,
    Methods,
    ServerTime,
    Profile,
    Batch,
    UserGet,
    UserCurrent,
    StatusList,
    Crm(EntityKind, CrmOp),
    FindByComm,
}

/// Implemented methods by scope, in the order `CRestProvider::getDescription` builds them
/// (`_global` first; `profile` is appended to it last).
const BY_SCOPE: &[(&str, &[&str])] = &[
    (
        "_global",
        &["batch", "scope", "methods", "server.time", "profile"],
    ),
    (
        "crm",
        &[
            "crm.contact.add",
            "crm.contact.update",
            "crm.contact.get",
            "crm.contact.delete",
            "crm.contact.list",
            "crm.contact.fields",
            "crm.contact.userfield.list",
            "crm.contact.company.items.get",
            "crm.company.add",
            "crm.company.update",
            "crm.company.get",
            "crm.company.delete",
            "crm.company.list",
            "crm.company.fields",
            "crm.company.userfield.list",
            "crm.company.contact.items.get",
            "crm.status.list",
            "crm.duplicate.findbycomm",
        ],
    ),
    ("user", &["user.current", "user.get"]),
    ("user_brief", &["user.current", "user.get"]),
    ("user_basic", &["user.current", "user.get"]),
];

/// `methods` (`CRestProvider::methodsList`): `scope=X` lists that scope (`scope=` with no
/// value: the common `_global` ones), `full` every scope, otherwise the webhook's scopes plus
/// `_global`.
fn methods_list(sh: &Shared, params: &Map<String, Value>) -> Value {
    let up: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_uppercase(), v.clone()))
        .collect();
    let wanted: Vec<String> = match (up.get("SCOPE"), up.get("FULL")) {
        (Some(s), _) if !s.is_null() => match php::strval(s) {
            x if x.is_empty() => vec!["_global".into()],
            x => vec![x],
        },
        (_, Some(f)) if php::truthy(f) => BY_SCOPE.iter().map(|s| s.0.to_string()).collect(),
        _ => {
            let mut v = sh.cfg.scopes.clone();
            v.push("_global".into());
            v
        }
    };
    let names: Vec<Value> = BY_SCOPE
        .iter()
        .filter(|(s, _)| wanted.iter().any(|w| w == s))
        .flat_map(|(_, m)| m.iter().map(|n| json!(n)))
        .collect();
    Value::Array(names)
}

fn lookup(name: &str) -> Option<M> {
    use CrmOp::*;
    use EntityKind::*;
    Some(match name {
        "batch" => M::Batch,
        "scope" => M::Scope,
        "methods" => M::Methods,
        "server.time" => M::ServerTime,
        "profile" => M::Profile,
        "user.get" => M::UserGet,
        "user.current" => M::UserCurrent,
        "crm.status.list" => M::StatusList,
        "crm.duplicate.findbycomm" => M::FindByComm,
        _ => {
            let (kind, op) = if let Some(r) = name.strip_prefix("crm.contact.") {
                (Contact, r)
            } else if let Some(r) = name.strip_prefix("crm.company.") {
                (Company, r)
            } else {
                return None;
            };
            let op = match (kind, op) {
                (_, "add") => Add,
                (_, "update") => Update,
                (_, "get") => Get,
                (_, "delete") => Delete,
                (_, "list") => List,
                (_, "fields") => Fields,
                (_, "userfield.list") => UfList,
                (Contact, "company.items.get") | (Company, "contact.items.get") => Links,
                _ => return None,
            };
            M::Crm(kind, op)
        }
    })
}

/// Lower-case first, then the name as sent (§1.1).
pub(super) fn resolve(name: &str) -> Option<M> {
    lookup(&name.to_lowercase()).or_else(|| lookup(name))
}

fn has_scope(sh: &Shared, s: &str) -> bool {
    sh.cfg.scopes.iter().any(|x| x == s)
}

pub(super) fn scope_ok(sh: &Shared, m: M) -> bool {
    match m {
        M::Crm(..) | M::StatusList | M::FindByComm => has_scope(sh, "crm"),
        M::UserGet | M::UserCurrent => {
            has_scope(sh, "user") || has_scope(sh, "user_basic") || has_scope(sh, "user_brief")
        }
        _ => true,
    }
}

fn user_scope(sh: &Shared) -> UserScope {
    if has_scope(sh, "user") {
        UserScope::Full
    } else {
        UserScope::Reduced
    }
}

pub(super) fn insufficient_scope() -> ApiError {
    ApiError::new(
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    )
}

/// Run a (non-batch) method.
pub(super) fn exec(
    sh: &Shared,
    m: M,
    params: &Map<String, Value>,
    start: Option<&Value>,
) -> CallResult {
    match m {
        M::Scope => {
            let full = params.get("full").map(php::truthy).unwrap_or(false);
            let l: Vec<Value> = if full {
                ["crm", "user", "user_basic", "user_brief"]
                    .iter()
                    .map(|s| json!(s))
                    .collect()
            } else {
                sh.cfg.scopes.iter().map(|s| json!(s)).collect()
            };
            Ok(Success::plain(Value::Array(l)))
        }
        M::Methods => Ok(Success::plain(methods_list(sh, params))),
        M::ServerTime => Ok(Success::plain(json!(time::iso(time::now_secs())))),
        M::Batch => Err(ApiError::new(
            405,
            "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "Method is not allowed for batch usage",
        )),
        M::Profile => lock(&sh.store).profile(),
        M::UserGet => lock(&sh.store).user_get(params, start, user_scope(sh)),
        M::UserCurrent => lock(&sh.store).user_current(user_scope(sh)),
        M::StatusList => lock(&sh.store).status_list(params),
        M::FindByComm => lock(&sh.store).find_by_comm(params),
        M::Crm(kind, op) => {
            let mut st = lock(&sh.store);
            match op {
                CrmOp::Add => st.add(kind, params),
                CrmOp::Update => st.update(kind, params),
                CrmOp::Get => st.get(kind, params),
                CrmOp::Delete => st.delete(kind, params),
                CrmOp::List => st.list(kind, params, start),
                CrmOp::Fields => st.fields(kind),
                CrmOp::UfList => st.userfield_list(kind, params),
                CrmOp::Links => st.link_items(kind, params),
            }
        }
    }
}
