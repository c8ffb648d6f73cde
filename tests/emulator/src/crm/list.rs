//! `crm.X.list`: filter, order, select and legacy paging (§2.2, §6.1).

use super::schema::{FType, FieldDef};
use super::{array_param, predicate, to_map, Entity, Store, PAGE};
use crate::api::{CallResult, Success};
use crate::filter;
use crate::php;
use crate::EntityKind;
use serde_json::{Map, Value};
use std::collections::HashSet;

impl Store {
    /// `crm.X.list` with legacy paging (§2.2): page = floor(start/50)+1, out-of-range -> page 1.
    pub fn list(
        &self,
        kind: EntityKind,
        params: &Map<String, Value>,
        start: Option<&Value>,
    ) -> CallResult {
        let filter = array_param(params, "filter")?
            .map(to_map)
            .unwrap_or_default();
        let order = array_param(params, "order")?
            .map(to_map)
            .unwrap_or_default();
        let select = array_param(params, "select")?;
        let schema = self.schema(kind);
        let sel = Selection::new(select);

        let preds = predicate::predicates(&schema, &filter);
        let mut ord: Vec<(&FieldDef, bool)> = Vec::new();
        for (k, v) in &order {
            if let Some(d) = schema.get(&k.to_uppercase()) {
                ord.push((d, php::strval(v).eq_ignore_ascii_case("DESC")));
            }
        }
        let id_asc = ord.is_empty() || (ord.len() == 1 && ord[0].0.name == "ID" && !ord[0].1);

        let (lo, hi) = predicate::id_range(&preds);
        let start_n = start.map(php::intval).unwrap_or(0);
        let no_count = start_n == -1;
        let pass = |e: &Entity| self.passes(e, &preds);
        let map = self.map(kind);
        let iter = if lo > hi {
            map.range(1..1)
        } else {
            map.range(lo..=hi)
        };
        let (rows, total, next): (Vec<&Entity>, i64, Option<i64>) = if no_count && id_asc {
            let rows: Vec<&Entity> = iter
                .map(|(_, e)| e)
                .filter(|e| pass(e))
                .take(PAGE as usize)
                .collect();
            (rows, 0, None)
        } else {
            let mut all: Vec<&Entity> = iter.map(|(_, e)| e).filter(|e| pass(e)).collect();
            if !id_asc {
                let keyed: Vec<(Vec<Option<String>>, &Entity)> = all
                    .into_iter()
                    .map(|e| {
                        let k = ord
                            .iter()
                            .map(|(d, _)| self.field_vals(e, d).into_iter().next())
                            .collect();
                        (k, e)
                    })
                    .collect();
                let mut keyed = keyed;
                keyed.sort_by(|a, b| {
                    for (i, (d, desc)) in ord.iter().enumerate() {
                        let o = filter::order_cmp(d.kind(), a.0[i].as_deref(), b.0[i].as_deref());
                        let o = if *desc { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    a.1.id.cmp(&b.1.id)
                });
                all = keyed.into_iter().map(|(_, e)| e).collect();
            }
            if no_count {
                all.truncate(PAGE as usize);
                (all, 0, None)
            } else {
                let total = all.len() as i64;
                let mut page = start_n.max(0) / PAGE + 1;
                if (page - 1) * PAGE >= total {
                    page = 1; // Bitrix paging falls back to the first page
                }
                let from = ((page - 1) * PAGE) as usize;
                let rows: Vec<&Entity> = all.into_iter().skip(from).take(PAGE as usize).collect();
                let next = if page * PAGE < total {
                    Some(page * PAGE)
                } else {
                    None
                };
                (rows, total, next)
            }
        };
        let out: Vec<Value> = rows
            .into_iter()
            .map(|e| self.externalize(kind, e, Some(&sel)))
            .collect();
        Ok(Success {
            result: Value::Array(out),
            next,
            total: Some(total),
        })
    }
}

/// `select` of a list call: default `*` + `UF_*` (docs crm-contact-list.md); standard columns
/// match case-insensitively (`CSqlUtil::PrepareSql` upper-cases them), multi-fields
/// (`findSelectedFmTypeIds`, strict `in_array`), user fields and `UF_*`
/// (`CUserTypeSQL::SetSelect`) only as written; `ID` is always added.
pub(crate) struct Selection {
    all_std: bool,
    all_uf: bool,
    exact: HashSet<String>,
    upper: HashSet<String>,
}

impl Selection {
    pub(crate) fn new(select: Option<&Value>) -> Selection {
        let names: Vec<String> = select
            .and_then(php::as_list)
            .unwrap_or_default()
            .into_iter()
            .map(php::strval)
            .filter(|s| !s.is_empty())
            .collect();
        if names.is_empty() {
            return Selection {
                all_std: true,
                all_uf: true,
                exact: HashSet::new(),
                upper: HashSet::new(),
            };
        }
        Selection {
            all_std: names.iter().any(|n| n == "*"),
            all_uf: names.iter().any(|n| n == "UF_*"),
            upper: names.iter().map(|n| n.to_uppercase()).collect(),
            exact: names.into_iter().collect(),
        }
    }
    fn named(&self, d: &FieldDef) -> bool {
        match d.ty {
            FType::Multi(_) => self.exact.contains(&d.name),
            _ if d.dynamic() => self.exact.contains(&d.name),
            _ => self.upper.contains(&d.name),
        }
    }
    pub(crate) fn wants(&self, d: &FieldDef) -> bool {
        if d.name == "ID" || self.named(d) {
            return !d.hidden_in_get();
        }
        match d.ty {
            FType::Multi(_) | FType::CompanyIds | FType::ContactIds => false,
            _ if d.dynamic() => self.all_uf,
            _ => self.all_std,
        }
    }
}
