//! `fields` → stored values (`CCrmRestProxyBase::internalizeFields`, restservice.php).

use super::schema::{FType, FieldDef};
use super::{other, Entity, Pending, Store};
use crate::api::ApiError;
use crate::php;
use crate::time;
use crate::EntityKind;
use serde_json::{json, Map, Value};

/// The four system fields that `params.IMPORT` makes writable on `add`
/// (`CCrmRestProxyBase::add` removes their ReadOnly attribute).
const IMPORT_FIELDS: [&str; 4] = [
    "DATE_CREATE",
    "DATE_MODIFY",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
];

/// PHP `(bool)$params['IMPORT']`: everything but `""`, `"0"`, `0`, `false`, `null`, `[]`.
pub(crate) fn import_mode(params: Option<&Value>) -> bool {
    match params.and_then(|p| php::get(p, "IMPORT")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !(s.is_empty() || s == "0"),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

fn date_value(def: &FieldDef, s: &str) -> Option<Value> {
    if s.is_empty() {
        return Some(json!(""));
    }
    if def.ty == FType::Date {
        time::parse_date_days(s).map(|d| Value::String(time::iso_date(d)))
    } else {
        time::parse_datetime(s).map(|t| Value::String(time::iso(t)))
    }
}

/// A scalar-typed field's new value; `None` = the field is dropped.
fn scalar_value(def: &FieldDef, v: &Value) -> Option<Value> {
    if v.is_null() {
        // `(string)null` for string/char/crm_status (non-scalar cast); a date's `null` is not
        // `''` and does not convert, so it is dropped; other types keep PHP's `isset` = absent.
        return match def.ty {
            FType::Str | FType::Status(_) | FType::UfString if !def.multiple => Some(json!("")),
            _ => None,
        };
    }
    Some(match &def.ty {
        FType::Integer | FType::User | FType::Lead => Value::String(php::intval(v).to_string()),
        FType::Str | FType::Status(_) | FType::Currency => Value::String(php::strval(v)),
        FType::Char => {
            let y = matches!(v, Value::Bool(true)) || php::strval(v).eq_ignore_ascii_case("Y");
            json!(if y { "Y" } else { "N" })
        }
        FType::Double => {
            let f = php::strval(v).trim().parse::<f64>().unwrap_or(0.0);
            Value::String(format!("{f:.2}"))
        }
        FType::Date | FType::DateTime | FType::UfDateTime => {
            return date_value(def, &php::strval(v))
        }
        // Enumerations are not checked against their items (`EnumType::checkFields` only
        // checks required values).
        FType::UfString | FType::UfEnum(_) if def.multiple => {
            let l: Vec<Value> = php::as_list(v)
                .unwrap_or_else(|| vec![v])
                .into_iter()
                .map(php::strval)
                .filter(|s| !s.is_empty())
                .map(Value::String)
                .collect();
            Value::Array(l)
        }
        FType::UfString | FType::UfEnum(_) => Value::String(php::strval(v)),
        _ => return None,
    })
}

impl Store {
    /// Turn `fields` into entity changes. Keys match the field list exactly (`$fieldsInfo[$k]`);
    /// unknown and read-only keys are dropped; `import` unlocks [`IMPORT_FIELDS`].
    pub(crate) fn internalize(
        &mut self,
        kind: EntityKind,
        fields: &Map<String, Value>,
        e: &mut Entity,
        import: bool,
        p: &mut Pending,
    ) -> Result<(), ApiError> {
        let schema = self.schema(kind);
        for (key, v) in fields {
            let Some(def) = schema.get(key) else { continue };
            if def.ro && !(import && IMPORT_FIELDS.contains(&key.as_str())) {
                continue;
            }
            self.internalize_one(kind, fields, def, v, e, p)?;
        }
        Ok(())
    }

    fn internalize_one(
        &mut self,
        kind: EntityKind,
        fields: &Map<String, Value>,
        def: &FieldDef,
        v: &Value,
        e: &mut Entity,
        p: &mut Pending,
    ) -> Result<(), ApiError> {
        match &def.ty {
            FType::File | FType::UfFile => self.apply_file(def, v, e, p),
            FType::Multi(t) => self.apply_multi(t, v, e)?,
            FType::CompanyIds | FType::ContactIds if !v.is_null() => {
                p.links = Some(self.existing_ids(other(kind), v));
            }
            FType::CompanyId if !v.is_null() && !fields.contains_key("COMPANY_IDS") => {
                let n = php::intval(v);
                if n <= 0 {
                    p.links = Some(vec![]);
                } else if !e.links.contains(&(n as u64)) {
                    p.links = Some(self.existing_ids(EntityKind::Company, v));
                }
            }
            FType::CompanyId | FType::CompanyIds | FType::ContactIds => {}
            _ => {
                if let Some(val) = scalar_value(def, v) {
                    e.vals.insert(def.name.clone(), val);
                }
            }
        }
        Ok(())
    }
}
