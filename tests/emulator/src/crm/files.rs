//! File fields: uploads, removals and output objects (§6.1 Files).

use super::schema::FieldDef;
use super::{Entity, Pending, Store, StoredFile};
use crate::php;
use crate::EntityKind;
use base64::Engine;
use serde_json::{json, Value};

pub(crate) fn lenient_b64(s: &str) -> Option<Vec<u8>> {
    // PHP's non-strict base64_decode skips characters outside the alphabet.
    let mut clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(clean.as_bytes())
        .ok()
        .filter(|b| !b.is_empty())
}

impl Store {
    pub(crate) fn upload(&mut self, item: &Value, p: &mut Pending) -> Option<u64> {
        let fd = php::get(item, "fileData")?;
        let (name, data) = if php::is_array(fd) {
            (
                php::get(fd, "0").map(php::strval).unwrap_or_default(),
                php::get(fd, "1").map(php::strval).unwrap_or_default(),
            )
        } else {
            (String::new(), php::strval(fd))
        };
        let bytes = lenient_b64(&data)?;
        let id = self.next_file;
        self.next_file += 1;
        let name = if name.is_empty() {
            format!("file{id}.bin")
        } else {
            name
        };
        p.new_files.push((id, StoredFile { name, bytes }));
        Some(id)
    }

    /// Apply a file field value (§6.1 Files). Multiple fields are replaced by the kept and new
    /// files; unmentioned old files are dropped (the legacy methods cannot keep them reliably).
    pub(crate) fn apply_file(
        &mut self,
        def: &FieldDef,
        v: &Value,
        e: &mut Entity,
        p: &mut Pending,
    ) {
        let old: Vec<u64> = match e.vals.get(&def.name) {
            Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_u64()).collect(),
            Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
            _ => vec![],
        };
        let single_obj = php::get(v, "fileData").is_some() || php::get(v, "id").is_some();
        let items: Vec<&Value> = if single_obj || !php::is_array(v) {
            vec![v]
        } else {
            php::as_list(v).unwrap_or_default()
        };
        let mut keep: Vec<u64> = Vec::new();
        let mut touched = false;
        for it in items {
            if !php::is_array(it) {
                // `""` clears the field.
                if php::strval(it).is_empty() {
                    touched = true;
                }
                continue;
            }
            if php::get(it, "fileData").is_some() {
                if let Some(id) = self.upload(it, p) {
                    keep.push(id);
                    touched = true;
                }
            } else if let Some(idv) = php::get(it, "id") {
                let id = php::intval(idv).max(0) as u64;
                let remove = php::get(it, "remove")
                    .map(|r| php::strval(r).eq_ignore_ascii_case("Y"))
                    .unwrap_or(false);
                touched = true;
                if !remove && old.contains(&id) {
                    keep.push(id);
                }
            }
        }
        if !touched {
            return;
        }
        if !def.multiple {
            // A single field keeps the newest upload.
            if keep.len() > 1 {
                keep.drain(..keep.len() - 1);
            }
        }
        for o in &old {
            if !keep.contains(o) {
                p.removed_files.push(*o);
            }
        }
        let val = if def.multiple {
            Value::Array(keep.into_iter().map(Value::from).collect())
        } else {
            keep.first().map(|&i| Value::from(i)).unwrap_or(Value::Null)
        };
        e.vals.insert(def.name.clone(), val);
    }

    pub(crate) fn file_obj(&self, kind: EntityKind, owner: u64, field: &str, fid: u64) -> Value {
        let comp = match kind {
            EntityKind::Contact => "crm.contact.show",
            EntityKind::Company => "crm.company.show",
        };
        let dynamic = if field.starts_with("UF_") { "Y" } else { "N" };
        let q = format!("ownerId={owner}&fieldName={field}&dynamic={dynamic}&fileId={fid}");
        json!({
            "id": fid,
            "showUrl": format!("/bitrix/components/bitrix/{comp}/show_file.php?{q}"),
            "downloadUrl": format!("/bitrix/components/bitrix/{comp}/show_file.php?auth=&{q}"),
        })
    }

    pub fn file(&self, id: u64) -> Option<&StoredFile> {
        self.files.get(&id)
    }
}
