//! `crm.X.fields` and `crm.X.userfield.list`.

use super::schema::FType;
use super::{array_param, to_map, Store};
use crate::api::{CallResult, Success};
use crate::php;
use crate::EntityKind;
use serde_json::{json, Map, Value};

impl Store {
    pub fn fields(&self, kind: EntityKind) -> CallResult {
        let schema = self.schema(kind);
        let mut out = Map::new();
        for d in &schema.defs {
            let mut f = Map::new();
            f.insert("type".into(), json!(d.type_name()));
            f.insert("isRequired".into(), json!(d.required));
            f.insert("isReadOnly".into(), json!(d.ro));
            f.insert("isImmutable".into(), json!(false));
            f.insert("isMultiple".into(), json!(d.multiple));
            f.insert("isDynamic".into(), json!(d.dynamic()));
            if d.ty == FType::CompanyId {
                // `CCrmFieldInfoAttr::Deprecated` → `isDeprecated` (prepareFieldInfos).
                f.insert("isDeprecated".into(), json!(true));
            }
            f.insert("title".into(), json!(d.title));
            if let FType::Status(st) = d.ty {
                f.insert("statusType".into(), json!(st));
            }
            if let FType::UfEnum(items) = &d.ty {
                let l: Vec<Value> = items
                    .iter()
                    .map(|(id, v)| json!({"ID": id, "VALUE": v}))
                    .collect();
                f.insert("items".into(), Value::Array(l));
            }
            if d.dynamic() {
                f.insert("listLabel".into(), json!(d.label));
                f.insert("formLabel".into(), json!(d.label));
                f.insert("filterLabel".into(), json!(d.label));
            }
            out.insert(d.name.clone(), Value::Object(f));
        }
        Ok(Success::plain(Value::Object(out)))
    }

    pub fn userfield_list(&self, kind: EntityKind, params: &Map<String, Value>) -> CallResult {
        let filter = array_param(params, "filter")?
            .map(to_map)
            .unwrap_or_default();
        let schema = self.schema(kind);
        let entity_id = match kind {
            EntityKind::Contact => "CRM_CONTACT",
            EntityKind::Company => "CRM_COMPANY",
        };
        let mut out = Vec::new();
        for d in schema.defs.iter().filter(|d| d.dynamic()) {
            let mut m = Map::new();
            m.insert("ID".into(), json!(d.uf_id.to_string()));
            m.insert("ENTITY_ID".into(), json!(entity_id));
            m.insert("FIELD_NAME".into(), json!(d.name));
            m.insert("USER_TYPE_ID".into(), json!(d.type_name()));
            m.insert("XML_ID".into(), Value::Null);
            m.insert("SORT".into(), json!("100"));
            m.insert("MULTIPLE".into(), json!(if d.multiple { "Y" } else { "N" }));
            m.insert("MANDATORY".into(), json!("N"));
            m.insert("SHOW_FILTER".into(), json!("E"));
            m.insert("SHOW_IN_LIST".into(), json!("Y"));
            m.insert("EDIT_IN_LIST".into(), json!("Y"));
            m.insert("IS_SEARCHABLE".into(), json!("N"));
            m.insert("SETTINGS".into(), json!({}));
            if let FType::UfEnum(items) = &d.ty {
                let l: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .map(|(i, (id, v))| {
                        json!({"ID": id, "SORT": ((i + 1) * 10).to_string(), "VALUE": v, "DEF": "N", "XML_ID": format!("X{id}")})
                    })
                    .collect();
                m.insert("LIST".into(), Value::Array(l));
            }
            let pass = filter.iter().all(|(k, v)| {
                m.get(&k.to_uppercase())
                    .map(|x| php::strval(x) == php::strval(v))
                    .unwrap_or(true)
            });
            if pass {
                out.push(Value::Object(m));
            }
        }
        let n = out.len() as i64;
        Ok(Success {
            result: Value::Array(out),
            next: None,
            total: Some(n),
        })
    }
}
