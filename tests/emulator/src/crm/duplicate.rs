//! `crm.duplicate.findbycomm` (`crm/classes/general/restservice.php CCrmDuplicateRestProxy`,
//! `crm/lib/integrity/duplicatecommunicationcriterion.php`; docs
//! `api-reference/crm/duplicates/crm-duplicate-find-by-comm.md`).
//!
//! The portal keeps an index of match codes (`b_crm_dp_comm_mcd`) written from the multi-fields
//! on every add and update (`register` → `prepareCodes`); the emulator derives the same codes
//! from the stored multi-field items when it is asked, which gives the same answers.

use super::{Entity, Store};
use crate::api::{ApiError, CallResult, Success};
use crate::php;
use crate::EntityKind;
use serde_json::{Map, Value};

/// Distinct values searched per call; the rest are ignored without a word (`if($qty >= 20)
/// break;`).
const MAX_VALUES: usize = 20;
/// Entities returned per value (`$criterion->find($entityTypeID, 20)`).
const PER_VALUE: usize = 20;

/// Which entity types a call searches (`CCrmOwnerType::ResolveID`).
enum Scope {
    All,
    One(EntityKind),
    /// A type the emulator holds no data of (LEAD, INVOICE, QUOTE...).
    Empty,
}

/// `resolveMultiPartParam($arParams, ['entity', 'type'])`: lower, upper, lowerCamel and
/// UpperCamel spellings; then `ResolveID` (trimmed, upper-cased; names and abbreviations).
fn scope(params: &Map<String, Value>) -> Result<Scope, ApiError> {
    let raw = ["entity_type", "ENTITY_TYPE", "entityType", "EntityType"]
        .iter()
        .find_map(|k| params.get(*k).filter(|v| !v.is_null()))
        .map(php::strval)
        .unwrap_or_default();
    Ok(match raw.trim().to_uppercase().as_str() {
        "CONTACT" | "C" => Scope::One(EntityKind::Contact),
        "COMPANY" | "CO" => Scope::One(EntityKind::Company),
        "DEAL" | "D" => return Err(ApiError::crm("Deal is not supported in current context.")),
        "LEAD" | "L" | "INVOICE" | "I" | "QUOTE" | "Q" => Scope::Empty,
        _ => Scope::All,
    })
}

/// `CCrmRestHelper::resolveParam` / `resolveArrayParam`: the name as given, lower, upper, then
/// capitalised (PHP `isset`: `null` is absent).
fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    let mut cap = name.to_string();
    cap[..1].make_ascii_uppercase();
    [name.to_string(), name.to_uppercase(), cap]
        .into_iter()
        .find_map(|k| params.get(&k).filter(|v| !v.is_null()))
}

/// `\NormalizePhone($number, $minLength)` (`main/tools.php`): `None` is PHP's `false`.
fn normalize_phone_main(number: &str, min_length: usize) -> Option<String> {
    if min_length == 0 || number.chars().count() < min_length {
        return None;
    }
    let mut n = number.to_string();
    if n.chars().count() >= 10 && n.starts_with("+8") {
        n = format!("00{}", &n[1..]);
    }
    let mut n = sanitize(&n);
    if n.len() >= 10 {
        if n.starts_with("80") || n.starts_with("81") || n.starts_with("82") {
        } else if let Some(r) = n.strip_prefix("00") {
            n = r.to_string();
        } else if let Some(r) = n.strip_prefix("011") {
            n = r.to_string();
        } else if let Some(r) = n.strip_prefix('8') {
            n = format!("7{r}");
        } else if let Some(r) = n.strip_prefix('0') {
            n = r.to_string();
        }
    }
    Some(n)
}

/// `preg_replace("/[^0-9\#\*,;]/i", "", $value)`.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || "#*,;".contains(*c))
        .collect()
}

/// `preg_replace('/(\d+)([;#]*)([\d,]*)/', '$1', $s)`: a run of digits keeps only itself, the
/// extension after it (`;`/`#`, digits and commas) goes.
fn drop_extensions(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let (mut out, mut i) = (String::new(), 0);
    while i < c.len() {
        if !c[i].is_ascii_digit() {
            out.push(c[i]);
            i += 1;
            continue;
        }
        while i < c.len() && c[i].is_ascii_digit() {
            out.push(c[i]);
            i += 1;
        }
        while i < c.len() && (c[i] == ';' || c[i] == '#') {
            i += 1;
        }
        while i < c.len() && (c[i].is_ascii_digit() || c[i] == ',') {
            i += 1;
        }
    }
    out
}

/// `DuplicateCommunicationCriterion::normalizePhone`.
pub fn normalize_phone(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let n = match normalize_phone_main(value, 1) {
        Some(n) if !n.is_empty() => n,
        _ => sanitize(value),
    };
    drop_extensions(&n)
}

/// `prepareCodes` for one value: a phone normalised, an e-mail trimmed and lower-cased; `None`
/// when nothing is left.
fn code(kind: &str, value: &str) -> Option<String> {
    let c = match kind {
        "PHONE" => normalize_phone(value),
        _ => value.trim().to_lowercase(),
    };
    (!c.is_empty()).then_some(c)
}

/// `prepareCode`: the code, or the value itself when it has none.
fn search_code(kind: &str, value: &str) -> String {
    code(kind, value).unwrap_or_else(|| value.to_string())
}

/// `equals`: phones compare normalised, e-mails as given.
fn same(kind: &str, a: &str, b: &str) -> bool {
    match kind {
        "PHONE" => normalize_phone(a) == normalize_phone(b),
        _ => a == b,
    }
}

impl Store {
    /// `crm.duplicate.findbycomm`: `{"CONTACT": [ids], "COMPANY": [ids]}` of the entities whose
    /// phones (or e-mails) have one of the values' codes; `[]` when none.
    pub fn find_by_comm(&self, params: &Map<String, Value>) -> CallResult {
        let kind = param(params, "type").map(php::strval).unwrap_or_default();
        let kind = kind.to_uppercase();
        if kind != "EMAIL" && kind != "PHONE" {
            return Err(ApiError::crm(&match kind.as_str() {
                "" => "Communication type is not defined.".to_string(),
                k => format!("Communication type '{k}' is not supported in current context."),
            }));
        }
        let values = param(params, "values").and_then(php::as_list);
        let Some(values) = values.filter(|v| !v.is_empty()) else {
            return Err(ApiError::crm("Communication values is not defined."));
        };
        let scope = scope(params)?;
        let mut searched: Vec<String> = Vec::new();
        let mut out = Map::new();
        for v in values {
            // `is_string`: numbers and arrays are skipped, as are empty strings.
            let Value::String(s) = v else { continue };
            if s.is_empty() || searched.iter().any(|x| same(&kind, x, s)) {
                continue;
            }
            searched.push(s.clone());
            for (k, id) in self.holders(&scope, &kind, &search_code(&kind, s)) {
                let ids = out.entry(k).or_insert_with(|| Value::Array(vec![]));
                if let Value::Array(a) = ids {
                    if !a.contains(&Value::from(id)) {
                        a.push(Value::from(id));
                    }
                }
            }
            if searched.len() >= MAX_VALUES {
                break;
            }
        }
        let result = if out.is_empty() {
            Value::Array(vec![])
        } else {
            Value::Object(out)
        };
        Ok(Success::plain(result))
    }

    /// The entities holding the code, by entity type (contacts, type ID 3, before companies, 4)
    /// then ID, at most [`PER_VALUE`].
    fn holders(&self, scope: &Scope, kind: &str, wanted: &str) -> Vec<(String, u64)> {
        let kinds: &[EntityKind] = match scope {
            Scope::All => &[EntityKind::Contact, EntityKind::Company],
            Scope::One(EntityKind::Contact) => &[EntityKind::Contact],
            Scope::One(EntityKind::Company) => &[EntityKind::Company],
            Scope::Empty => &[],
        };
        let holds = |e: &Entity| {
            e.multi
                .iter()
                .filter(|m| m.type_id == kind)
                .any(|m| code(kind, &m.value).as_deref() == Some(wanted))
        };
        kinds
            .iter()
            .flat_map(|k| {
                let name = match k {
                    EntityKind::Contact => "CONTACT",
                    EntityKind::Company => "COMPANY",
                };
                self.map(*k)
                    .values()
                    .filter(|e| holds(e))
                    .map(move |e| (name.to_string(), e.id))
            })
            .take(PER_VALUE)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_phone;

    #[test]
    fn phones_normalise_as_the_portal_does() {
        assert_eq!(normalize_phone("+374 (98) 88-88-88"), "37498888888");
        assert_eq!(normalize_phone("8 (916) 123-45-67"), "79161234567");
        assert_eq!(normalize_phone("+8 916 123 45 67"), "89161234567");
        assert_eq!(normalize_phone("0037498888888"), "37498888888");
        assert_eq!(normalize_phone("01137498888888"), "37498888888");
        assert_eq!(normalize_phone("098888888"), "098888888");
        assert_eq!(normalize_phone("0988888888"), "988888888");
        assert_eq!(normalize_phone("+37498888888#123"), "37498888888");
        assert_eq!(normalize_phone("98-88-88;77"), "988888");
        assert_eq!(normalize_phone("abc"), "");
    }
}
