//! Values of reference-list fields: `crm.*.fields` describes TYPE_ID, SOURCE_ID, COMPANY_TYPE,
//! INDUSTRY... as `type: "crm_status"` with a `statusType` (`CONTACT_TYPE`...) whose items
//! `crm.status.list` gives (`{"STATUS_ID","NAME",...}`). 1C holds such a value by its name
//! (Դիմորդ), the portal wants the STATUS_ID (`UC_DIUN9M`): a name is sent as its STATUS_ID and a
//! value the list does not hold is reported before anything is sent. The lists are cached per
//! webhook and type for ten minutes, and fetched only when a write holds such a value.

use crate::batch::{self, Command};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One item of a reference list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusItem {
    /// `STATUS_ID`: what the field stores.
    pub id: String,
    /// `NAME`: what a user sees (and 1C holds).
    pub name: String,
}

/// A reference list, shared from the cache.
pub type StatusItems = Arc<Vec<StatusItem>>;

type StatusCache = HashMap<(String, String), (Instant, StatusItems)>;
static STATUS_CACHE: Lazy<Mutex<StatusCache>> = Lazy::new(|| Mutex::new(HashMap::new()));
const STATUS_TTL: Duration = Duration::from_secs(600);
/// Lists cached at most (a bound on the cache, whatever the portals hold).
const STATUS_CACHE_MAX: usize = 256;

/// The `statusType` of `key` if the field is a reference-list field.
fn status_type<'a>(known: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    let info = known.get(key)?;
    if info.get("type").and_then(Value::as_str) != Some("crm_status") {
        return None;
    }
    info.get("statusType").and_then(Value::as_str)
}

/// The list types the records need: those of reference-list fields holding a non-empty value
/// (a clear, `""`, needs no list).
pub fn needed_types<'a>(
    known: &Map<String, Value>,
    records: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Vec<String> {
    let mut types = BTreeSet::new();
    for fields in records {
        for (key, v) in fields.iter() {
            if let Some(t) = status_type(known, key).filter(|_| !given(v).is_empty()) {
                types.insert(t.to_string());
            }
        }
    }
    types.into_iter().collect()
}

/// The lists of `types`: the cached ones, then one `crm.status.list` (one type) or one batch
/// (several). Each type gets its list or the error that kept it.
pub fn status_lists(
    client: &Client,
    types: &[String],
) -> HashMap<String, Result<StatusItems, Error>> {
    let hook = client.config().webhook.cache_key().to_string();
    let cache = || STATUS_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = HashMap::new();
    for t in types {
        if let Some((at, items)) = cache().get(&(hook.clone(), t.clone())) {
            if at.elapsed() < STATUS_TTL {
                out.insert(t.clone(), Ok(items.clone()));
            }
        }
    }
    let missing: Vec<&String> = types.iter().filter(|t| !out.contains_key(*t)).collect();
    for (t, got) in fetch(client, &missing) {
        if let Ok(items) = &got {
            store(&mut cache(), (hook.clone(), t.clone()), items.clone());
        }
        out.insert(t, got);
    }
    out
}

fn store(held: &mut StatusCache, key: (String, String), items: StatusItems) {
    if held.len() >= STATUS_CACHE_MAX {
        held.retain(|_, (at, _)| at.elapsed() < STATUS_TTL);
        if held.len() >= STATUS_CACHE_MAX {
            held.clear();
        }
    }
    held.insert(key, (Instant::now(), items));
}

fn list_params(t: &str) -> Value {
    json!({"filter": {"ENTITY_ID": t}, "order": {"SORT": "ASC"}})
}

/// Fetches the lists: a single call for one type, one batch for several.
fn fetch(client: &Client, types: &[&String]) -> Vec<(String, Result<StatusItems, Error>)> {
    match types {
        [] => vec![],
        [t] => {
            let got = client
                .call("crm.status.list", &list_params(t))
                .and_then(|r| r.value())
                .and_then(|v| parse_items(t, &v));
            vec![((*t).clone(), got)]
        }
        many => {
            let cmds: Vec<Command> = many
                .iter()
                .enumerate()
                .map(|(n, t)| Command {
                    name: format!("s{n}"),
                    method: "crm.status.list".into(),
                    text: format!("crm.status.list?{}", batch::php_query(&list_params(t))),
                })
                .collect();
            let answer = batch::run(client, &cmds, false);
            many.iter()
                .zip(&cmds)
                .map(|(t, c)| {
                    let got = answer.as_ref().map_err(Clone::clone).and_then(|a| {
                        match (a.error_of(&c.name), a.results().get(&c.name)) {
                            (Some(e), _) => Err(e),
                            (None, Some(v)) => parse_items(t, v),
                            (None, None) => Err(not_listed(t)),
                        }
                    });
                    ((*t).clone(), got)
                })
                .collect()
        }
    }
}

fn not_listed(t: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        "INVALID_RESPONSE",
        format!("crm.status.list did not return the {t} list"),
    )
}

/// The rows of type `t`. Rows of another type are skipped: the portal drops filter keys it
/// does not know (`CCrmRestProxyBase::getList` → `internalizeFilterFields`) and would then
/// answer every list.
fn parse_items(t: &str, v: &Value) -> Result<StatusItems, Error> {
    let rows = match v {
        Value::Array(a) => a.as_slice(),
        Value::Object(m) if m.is_empty() => &[],
        _ => return Err(not_listed(t)),
    };
    let text = |r: &Value, k: &str| match r.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let items = rows
        .iter()
        .filter(|r| text(r, "ENTITY_ID").eq_ignore_ascii_case(t))
        .map(|r| StatusItem {
            id: text(r, "STATUS_ID"),
            name: text(r, "NAME"),
        })
        .filter(|it| !it.id.is_empty())
        .collect();
    Ok(Arc::new(items))
}

/// A value as text, trimmed; `""` for what is not a string or number.
fn given(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(given).collect::<Vec<_>>().concat(),
        _ => String::new(),
    }
}

/// Sends names given to reference-list fields as their STATUS_IDs; returns a problem per value
/// the list does not hold (or whose name several items share). Fields whose list is not in
/// `lists` (not needed, or not fetched) are left alone.
pub fn map_statuses(
    known: &Map<String, Value>,
    lists: &HashMap<String, StatusItems>,
    fields: &mut Map<String, Value>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in fields.iter_mut() {
        let Some((t, items)) = status_type(known, key).and_then(|t| lists.get_key_value(t)) else {
            continue;
        };
        match value {
            Value::Array(list) => {
                for v in list.iter_mut() {
                    problems.extend(map_one(key, t, items, v));
                }
            }
            v => problems.extend(map_one(key, t, items, v)),
        }
    }
    problems
}

fn map_one(key: &str, t: &str, items: &[StatusItem], v: &mut Value) -> Option<String> {
    if !matches!(v, Value::String(_) | Value::Number(_)) {
        return None;
    }
    let wanted = given(v);
    if wanted.is_empty() {
        return None;
    }
    if items.iter().any(|it| it.id == wanted) {
        *v = Value::String(wanted);
        return None;
    }
    // A name: exactly as written first, then ignoring case if that names one item.
    let exact: Vec<&StatusItem> = items.iter().filter(|it| it.name.trim() == wanted).collect();
    let lower = wanted.to_lowercase();
    let by_name = match exact.as_slice() {
        [] => items
            .iter()
            .filter(|it| it.name.trim().to_lowercase() == lower)
            .collect(),
        _ => exact,
    };
    match by_name.as_slice() {
        [it] => {
            *v = Value::String(it.id.clone());
            None
        }
        [] => Some(format!(
            "{key}: {wanted:?} is neither a STATUS_ID nor a name in the portal's {t} list ({})",
            shown(items)
        )),
        many => Some(format!(
            "{key}: the name {wanted:?} belongs to several items of the {t} list ({}); give the STATUS_ID",
            many.iter().map(|it| it.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The first items as `STATUS_ID name`, for a message.
fn shown(items: &[StatusItem]) -> String {
    let parts = items.iter().map(|it| format!("{} {}", it.id, it.name));
    super::values::shown_items(parts, items.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, name: &str) -> StatusItem {
        StatusItem {
            id: id.into(),
            name: name.into(),
        }
    }

    #[test]
    fn ids_kept_names_mapped_strangers_named() {
        let known = json!({
            "TYPE_ID": {"type": "crm_status", "statusType": "CONTACT_TYPE"},
            "SOURCE_ID": {"type": "crm_status", "statusType": "SOURCE"},
            "NAME": {"type": "string"},
        });
        let known = known.as_object().unwrap();
        let lists = HashMap::from([(
            "CONTACT_TYPE".to_string(),
            Arc::new(vec![
                item("CLIENT", "Client"),
                item("UC_A", "Դիմորդ"),
                item("UC_B", "Twin"),
                item("UC_C", "twin"),
            ]),
        )]);
        let run = |v: Value| {
            let mut f = json!({"TYPE_ID": v, "SOURCE_ID": "Nowhere", "NAME": "Client"})
                .as_object()
                .unwrap()
                .clone();
            let p = map_statuses(known, &lists, &mut f);
            assert_eq!(f["SOURCE_ID"], json!("Nowhere"), "no list: left alone");
            assert_eq!(f["NAME"], json!("Client"));
            (f["TYPE_ID"].clone(), p)
        };
        assert_eq!(run(json!(" CLIENT ")), (json!("CLIENT"), vec![]));
        assert_eq!(run(json!(" Դիմորդ")), (json!("UC_A"), vec![]));
        assert_eq!(run(json!("client")), (json!("CLIENT"), vec![]));
        assert_eq!(
            run(json!("Twin")),
            (json!("UC_B"), vec![]),
            "exact case first"
        );
        assert_eq!(run(json!("")), (json!(""), vec![]), "a clear stays");
        let (v, p) = run(json!("TWIN"));
        assert_eq!(v, json!("TWIN"));
        assert!(
            p[0].contains("several items") && p[0].contains("UC_B, UC_C"),
            "{p:?}"
        );
        let (_, p) = run(json!("Nobody"));
        assert!(
            p[0].contains("CONTACT_TYPE") && p[0].contains("CLIENT Client"),
            "{p:?}"
        );
    }

    #[test]
    fn only_non_empty_status_values_need_a_list() {
        let known = json!({
            "TYPE_ID": {"type": "crm_status", "statusType": "CONTACT_TYPE"},
            "SOURCE_ID": {"type": "crm_status", "statusType": "SOURCE"},
        });
        let a = json!({"TYPE_ID": "", "NAME": "x"})
            .as_object()
            .unwrap()
            .clone();
        let b = json!({"SOURCE_ID": "CALL"}).as_object().unwrap().clone();
        let known = known.as_object().unwrap();
        assert!(needed_types(known, [&a]).is_empty());
        assert_eq!(needed_types(known, [&a, &b]), ["SOURCE"]);
        let rows = json!([{"ENTITY_ID": "SOURCE", "STATUS_ID": "CALL", "NAME": "Call"},
                          {"ENTITY_ID": "INDUSTRY", "STATUS_ID": "IT", "NAME": "IT"}]);
        assert_eq!(
            *parse_items("SOURCE", &rows).unwrap(),
            [item("CALL", "Call")]
        );
    }
}
