//! Matching without a GUID: on a first sync the portal holds entities managers entered by hand,
//! without the 1C GUID. When an upsert's GUID is not found, its match rules are tried in order:
//! the first rule that finds exactly one entity whose GUID field is empty wins, and that entity
//! is adopted (updated with the record's fields, the GUID among them). A rule that finds several
//! is a `MATCH_CONFLICT`, never a guess. An entity that carries another GUID belongs to another
//! 1C object: it is never adopted, and its ID is reported.
//!
//! - [`codes`]: how the portal compares phones and e-mails (its match codes);
//! - [`fetch`]: the candidate rows of a rule for many records, in few batched requests;
//! - [`single`]: adopting one entity under a claim, and the dry run of one upsert.

pub(crate) mod codes;
mod fetch;
pub(crate) mod single;

use crate::client::Client;
use crate::config::is_field_code;
use crate::crm::{Entity, MULTI_FIELDS};
use crate::error::{Error, ErrorKind};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// A communication type `crm.duplicate.findbycomm` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comm {
    /// `PHONE`, compared by the portal's normalised code.
    Phone,
    /// `EMAIL`, compared trimmed and lower-cased.
    Email,
}

impl Comm {
    /// The multi-field and the findbycomm `type`.
    pub fn name(self) -> &'static str {
        match self {
            Comm::Phone => "PHONE",
            Comm::Email => "EMAIL",
        }
    }
}

/// One match rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `{"field": "UF_CRM_…"}`: the field equals the record's value (case-insensitively).
    Field(String),
    /// `{"fields": ["NAME", "LAST_NAME"]}`: every field equals the record's.
    Fields(Vec<String>),
    /// `{"comm": "PHONE"}` / `{"comm": "EMAIL"}`: a phone or e-mail in common, found with
    /// `crm.duplicate.findbycomm`.
    Comm(Comm),
}

/// What a record gives a rule to match with: `codes` compare (normal forms), `query` is sent.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub codes: Vec<String>,
    pub query: Vec<String>,
}

impl Rule {
    /// The rule's name in results and errors: the field, `NAME+LAST_NAME`, or `PHONE`.
    pub fn label(&self) -> String {
        match self {
            Rule::Field(f) => f.clone(),
            Rule::Fields(fs) => fs.join("+"),
            Rule::Comm(c) => c.name().to_string(),
        }
    }

    /// The record's key for this rule; `None` when the record lacks a value for it (the rule
    /// is then skipped for that record).
    pub(crate) fn key(&self, fields: &Map<String, Value>) -> Option<Key> {
        match self {
            Rule::Field(f) => text(fields.get(f)).map(|t| Key {
                codes: vec![t.clone()],
                query: vec![t],
            }),
            Rule::Fields(fs) => {
                let codes: Option<Vec<String>> = fs.iter().map(|f| text(fields.get(f))).collect();
                codes.map(|c| Key {
                    query: c.clone(),
                    codes: c,
                })
            }
            Rule::Comm(c) => {
                let query = multi_values(fields.get(c.name()));
                let mut codes: Vec<String> =
                    query.iter().filter_map(|v| codes::code(*c, v)).collect();
                codes.dedup();
                (!codes.is_empty()).then_some(Key { codes, query })
            }
        }
    }

    /// Whether a candidate row's codes (see [`fetch::Row`]) match the key.
    fn matches(&self, key: &Key, row: &[String]) -> bool {
        match self {
            Rule::Comm(_) => key.codes.iter().any(|c| row.contains(c)),
            _ => key.codes.as_slice() == row,
        }
    }
}

/// A text value in its compared form: trimmed, lower-case (the portal's filter compares text
/// case-insensitively, as MySQL's `_ci` collations do); a number as its text.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_lowercase()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The VALUEs of a multi-field as a record gives it: strings or `{"VALUE": …}` items.
pub(crate) fn multi_values(v: Option<&Value>) -> Vec<String> {
    let items = match v {
        Some(Value::Array(a)) => a.as_slice(),
        _ => return vec![],
    };
    let value = |it: &Value| match it {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("VALUE").and_then(Value::as_str).map(String::from),
        _ => None,
    };
    items
        .iter()
        .filter_map(value)
        .filter(|s| !s.trim().is_empty())
        .collect()
}

/// Parses `"match"`: an array of rules, tried in order. `guid_field` may not be one.
pub fn parse_rules(v: &Value, guid_field: &str) -> Result<Vec<Rule>, Error> {
    let bad = |why: String| Error::invalid_input("INVALID_MATCH", why);
    let Value::Array(items) = v else {
        return Err(bad("\"match\" must be an array of rules".into()));
    };
    let field = |f: &Value| -> Result<String, Error> {
        match f.as_str() {
            Some(s) if is_field_code(s) && s != guid_field && !MULTI_FIELDS.contains(&s) => {
                Ok(s.to_string())
            }
            _ => Err(bad(format!(
                "{f} is not a field a rule can compare (an upper-case field code, not the GUID field, not a multi-field: use {{\"comm\": \"PHONE\"}} for phones)"
            ))),
        }
    };
    let rule = |r: &Value| -> Result<Rule, Error> {
        let o = r.as_object().filter(|o| o.len() == 1);
        match o.and_then(|o| o.iter().next()) {
            Some((k, f)) if k == "field" => Ok(Rule::Field(field(f)?)),
            Some((k, Value::Array(fs))) if k == "fields" && !fs.is_empty() && fs.len() <= 5 => {
                Ok(Rule::Fields(fs.iter().map(field).collect::<Result<_, _>>()?))
            }
            Some((k, c)) if k == "comm" => match c.as_str() {
                Some("PHONE") => Ok(Rule::Comm(Comm::Phone)),
                Some("EMAIL") => Ok(Rule::Comm(Comm::Email)),
                _ => Err(bad(format!("comm must be \"PHONE\" or \"EMAIL\", not {c}"))),
            },
            _ => Err(bad(format!(
                "{r} is not a rule: {{\"field\": F}}, {{\"fields\": [F, ...]}} (up to 5) or {{\"comm\": \"PHONE\"|\"EMAIL\"}}"
            ))),
        }
    };
    if items.len() > 10 {
        return Err(bad("at most 10 match rules".into()));
    }
    items.iter().map(rule).collect()
}

/// What matching decided for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Exactly one free entity matched: adopt it.
    Adopt { id: i64, rule: String },
    /// Several matched (or the one that did is adopted by an earlier record of the call).
    Conflict {
        ids: Vec<i64>,
        rule: String,
        why: String,
    },
    /// Nothing matched: add.
    Create,
}

/// A record's decision and the matching entities skipped because they carry another GUID.
#[derive(Debug, Clone)]
pub(crate) struct Matched {
    pub decision: Decision,
    pub other_guid: Vec<i64>,
}

/// A record to match: its index, its GUID (normal form) and its fields.
pub(crate) type Candidate<'a> = (usize, &'a str, &'a Map<String, Value>);

/// Tries the rules in order over all `records`, each rule's lookups batched over every record
/// still undecided. `taken`: entities already adopted by earlier records of the call (entity →
/// record); an entity is adopted by one record only, a later one gets a conflict.
pub(crate) fn match_all(
    client: &Client,
    entity: Entity,
    guid_field: &str,
    rules: &[Rule],
    records: &[Candidate],
    taken: &mut HashMap<i64, usize>,
) -> Result<HashMap<usize, Matched>, Error> {
    let mut out: HashMap<usize, Matched> = HashMap::new();
    let mut pending: Vec<&Candidate> = records.iter().collect();
    for rule in rules {
        let keyed: Vec<(&Candidate, Key)> = pending
            .iter()
            .filter_map(|r| rule.key(r.2).map(|k| (*r, k)))
            .collect();
        if keyed.is_empty() {
            continue;
        }
        let keys: Vec<&Key> = keyed.iter().map(|(_, k)| k).collect();
        let rows = fetch::candidates(client, entity, guid_field, rule, &keys)?;
        let mut decided = HashSet::new();
        for ((i, guid, _), key) in keyed.iter().map(|(r, k)| (*r, k)) {
            let (free, other) = split_hits(rule, key, &rows, guid);
            let m = out.entry(*i).or_insert(Matched {
                decision: Decision::Create,
                other_guid: vec![],
            });
            for id in other {
                if !m.other_guid.contains(&id) {
                    m.other_guid.push(id);
                }
            }
            if let Some(d) = decide(rule, &free, *i, taken) {
                m.decision = d;
                decided.insert(*i);
            }
        }
        pending.retain(|r| !decided.contains(&r.0));
    }
    for r in pending {
        out.entry(r.0).or_insert(Matched {
            decision: Decision::Create,
            other_guid: vec![],
        });
    }
    Ok(out)
}

/// The rows matching the key: free ones (GUID empty, or already this record's) and those held
/// by another GUID.
fn split_hits(rule: &Rule, key: &Key, rows: &[fetch::Row], guid: &str) -> (Vec<i64>, Vec<i64>) {
    let (mut free, mut other) = (Vec::new(), Vec::new());
    for row in rows.iter().filter(|r| rule.matches(key, &r.codes)) {
        let list = match row.guid.as_deref() {
            None => &mut free,
            Some(g) if g == guid => &mut free,
            Some(_) => &mut other,
        };
        if !list.contains(&row.id) {
            list.push(row.id);
        }
    }
    (free, other)
}

/// The rule's decision for record `i` given its free hits; `None`: no hit, try the next rule.
fn decide(
    rule: &Rule,
    free: &[i64],
    i: usize,
    taken: &mut HashMap<i64, usize>,
) -> Option<Decision> {
    let rule = rule.label();
    match free {
        [] => None,
        [id] => match taken.get(id) {
            Some(first) if *first != i => Some(Decision::Conflict {
                ids: vec![*id],
                why: format!("it is adopted by record {first} of this call"),
                rule,
            }),
            _ => {
                taken.insert(*id, i);
                Some(Decision::Adopt { id: *id, rule })
            }
        },
        many => Some(Decision::Conflict {
            ids: many.to_vec(),
            why: format!("{} entities match", many.len()),
            rule,
        }),
    }
}

/// The `MATCH_CONFLICT` error of a conflict decision (kind `conflict`, `details.ids`/`rule`).
pub(crate) fn conflict(ids: &[i64], rule: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::Conflict,
        "MATCH_CONFLICT",
        format!("not adopted, nothing written: by {rule}, {why}: {ids:?}"),
    )
    .with_details(json!({ "ids": ids, "rule": rule }))
}

/// The warning for matching entities left alone because they carry another GUID.
pub(crate) fn other_guid_warning(entity: Entity, guid: &str, ids: &[i64]) -> String {
    format!(
        "{} {ids:?} match the record of GUID {guid:?} but carry another GUID: not adopted",
        entity.name()
    )
}

/// Matching options of one call.
#[derive(Debug, Clone, Default)]
pub struct MatchOptions {
    /// The rules, tried in order when a record's GUID is not found; empty: no matching.
    pub rules: Vec<Rule>,
    /// Look up and match only: report what would be created, updated and adopted, write nothing.
    pub dry_run: bool,
}

/// The client's default rules per entity: `"match": {"contact": [...], "company": [...]}` in the
/// configuration; a call's own `"match"` replaces them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchRules {
    /// Rules for contacts.
    pub contact: Vec<Rule>,
    /// Rules for companies.
    pub company: Vec<Rule>,
}

impl MatchRules {
    /// The rules of `entity`.
    pub fn of(&self, entity: Entity) -> &[Rule] {
        match entity {
            Entity::Contact => &self.contact,
            Entity::Company => &self.company,
        }
    }

    /// Parses the configuration's `"match"` object (keys `contact`, `company`, both optional).
    pub fn parse(v: &Value, contact_guid: &str, company_guid: &str) -> Result<MatchRules, Error> {
        let Value::Object(o) = v else {
            return Err(Error::invalid_input(
                "INVALID_CONFIG",
                "match must be an object: {\"contact\": [rules], \"company\": [rules]}",
            ));
        };
        let mut out = MatchRules::default();
        for (k, rules) in o {
            let config = |e: Error| {
                Error::invalid_input("INVALID_CONFIG", format!("match.{k}: {}", e.description))
            };
            match k.as_str() {
                "contact" => out.contact = parse_rules(rules, contact_guid).map_err(config)?,
                "company" => out.company = parse_rules(rules, company_guid).map_err(config)?,
                _ => {
                    return Err(config(Error::invalid_input(
                        "",
                        "only contact and company take rules",
                    )))
                }
            }
        }
        Ok(out)
    }
}

impl MatchOptions {
    /// Takes a call's `"match"` (rules; `[]` turns matching off) and `"dry_run"` (`true`/`false`)
    /// out of its body object; without `"match"`, `default` (the client's rules) applies.
    pub fn take(
        body: &mut Map<String, Value>,
        guid_field: &str,
        default: &[Rule],
    ) -> Result<MatchOptions, Error> {
        let rules = match body.remove("match") {
            Some(v) => parse_rules(&v, guid_field)?,
            None => default.to_vec(),
        };
        let dry_run = match body.remove("dry_run") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => {
                return Err(Error::invalid_input(
                    "INVALID_MATCH",
                    "dry_run must be true or false",
                ))
            }
        };
        Ok(MatchOptions { rules, dry_run })
    }
}
