//! List filters of `crm.X.list` (`CCrmRestProxyBase::internalizeFilterFields`, restservice.php;
//! `CSqlUtil::PrepareWhere`, main/classes/general/sql_util.php).

use super::schema::{FType, FieldDef, Schema};
use super::{Entity, Store};
use crate::filter::{self, Kind, Op, Prepared};
use crate::php;
use serde_json::{Map, Value};

pub(crate) enum Pred<'a> {
    /// A column condition; `neg` is the `!` prefix.
    Field {
        neg: bool,
        op: Op,
        def: &'a FieldDef,
        test: Prepared<'a>,
        value: &'a Value,
    },
    /// `PHONE`/`EMAIL`/… given without an operator: `PrepareMultiFieldFilter($filter, [],
    /// '=%', true)` turns it into `VALUE LIKE 'v%'` over that type's values.
    MultiPrefix {
        type_id: &'static str,
        pattern: String,
    },
}

/// The multi-field condition of `CCrmEntityHelper::PrepareMultiFieldFilter`: the first element
/// of an array, trimmed, `%` removed, matched as a prefix; empty = no condition.
fn multi_prefix(type_id: &'static str, v: &Value) -> Option<Pred<'static>> {
    let first = match php::as_list(v) {
        Some(l) => l.first().map(|x| php::strval(x)).unwrap_or_default(),
        None => php::strval(v),
    };
    let value = first.trim().replace('%', "");
    (!value.is_empty()).then(|| Pred::MultiPrefix {
        type_id,
        pattern: format!("{value}%"),
    })
}

/// Operation actually applied to a field: LIKE on crm_status / crm_company / crm_contact
/// becomes `=` (internalizeFilterFields), LIKE on numbers becomes `=`, dates accept only
/// `= < > <= >=` (PrepareWhere).
fn effective(op: Op, def: &FieldDef) -> Op {
    let like = matches!(op, Op::Contains | Op::Like);
    let exact_only = matches!(
        def.ty,
        FType::Status(_) | FType::CompanyId | FType::CompanyIds | FType::ContactIds
    );
    if like && (exact_only || def.kind() != Kind::Str) {
        return Op::Eq;
    }
    op
}

/// Keys are split into operator and field name; the name must be a field of the list exactly
/// (case-sensitive `$fieldsInfo[$fieldName]`), otherwise the key is dropped. Fields that are no
/// SQL column of `GetListEx` (`COMPANY_IDS`, company `CONTACT_ID`, multi-fields with an
/// operator) are dropped too.
pub(crate) fn predicates<'a>(schema: &'a Schema, filter: &'a Map<String, Value>) -> Vec<Pred<'a>> {
    let mut out = Vec::new();
    for (k, v) in filter {
        let Some((neg, op, name)) = filter::crm_split(k) else {
            continue;
        };
        let Some(def) = schema.get(name) else {
            continue;
        };
        match def.ty {
            FType::Multi(t) => {
                if k == name {
                    out.extend(multi_prefix(t, v));
                }
            }
            FType::CompanyIds | FType::ContactIds => {}
            _ => {
                let op = effective(op, def);
                out.push(Pred::Field {
                    neg,
                    op,
                    def,
                    test: Prepared::new(op, def.kind(), v),
                    value: v,
                });
            }
        }
    }
    out
}

/// The ID range implied by `>ID`/`>=ID`/`<ID`/`<=ID`, so cursor exports walk a B-tree range.
pub(crate) fn id_range(preds: &[Pred]) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, u64::MAX);
    for p in preds {
        let Pred::Field {
            neg: false,
            op,
            def,
            value,
            ..
        } = p
        else {
            continue;
        };
        if def.name != "ID" || php::is_array(value) {
            continue;
        }
        let n = php::strval(value)
            .trim()
            .parse::<f64>()
            .unwrap_or(0.0)
            .floor();
        let n = if n < 0.0 { 0 } else { n as u64 };
        match op {
            Op::Gt => lo = lo.max(n.saturating_add(1)),
            Op::Ge => lo = lo.max(n),
            Op::Lt => hi = hi.min(n.saturating_sub(1)),
            Op::Le => hi = hi.min(n),
            _ => {}
        }
    }
    (lo, hi)
}

impl Store {
    pub(crate) fn passes(&self, e: &Entity, preds: &[Pred]) -> bool {
        preds.iter().all(|p| match p {
            Pred::Field { neg, def, test, .. } => test.test(&self.field_vals(e, def)) != *neg,
            Pred::MultiPrefix { type_id, pattern } => e
                .multi
                .iter()
                .any(|m| m.type_id == *type_id && filter::like(pattern, &m.value)),
        })
    }
}
