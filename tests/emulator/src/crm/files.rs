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

/// PHP array with integer keys only (`isIndexedArray`).
fn indexed(v: &Value) -> bool {
    match v {
        Value::Array(_) => true,
        Value::Object(m) => m.keys().all(|k| k.parse::<i64>().is_ok()),
        _ => false,
    }
}

/// PHP array with a non-integer key (`isAssociativeArray`).
fn associative(v: &Value) -> bool {
    matches!(v, Value::Object(m) if m.keys().any(|k| k.parse::<i64>().is_err()))
}

/// `fileData` → (name, content): a list gives `[name, content]` or `[content]`, anything else
/// is the content itself.
fn file_data(item: &Value) -> (String, Option<String>) {
    let Some(fd) = php::get(item, "fileData") else {
        return (String::new(), None);
    };
    if !indexed(fd) {
        return (String::new(), fd.as_str().map(str::to_string));
    }
    let l = php::as_list(fd).unwrap_or_default();
    match l.len() {
        0 => (String::new(), None),
        1 => (String::new(), l[0].as_str().map(str::to_string)),
        _ => (php::strval(l[0]), l[1].as_str().map(str::to_string)),
    }
}

/// One file item after `tryInternalizeFileField`.
enum FileOp {
    Upload(u64),
    Remove,
}

impl Store {
    /// `CRestUtil::saveFile`: a non-empty content other than `"false"` is base64-decoded; an
    /// empty decode saves nothing.
    fn save_file(&mut self, name: String, content: &str, p: &mut Pending) -> Option<u64> {
        if content == "false" {
            return None;
        }
        let bytes = lenient_b64(content)?;
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

    fn file_op(&mut self, item: &Value, p: &mut Pending) -> Option<FileOp> {
        if !associative(item) {
            return None;
        }
        let (name, content) = file_data(item);
        if let Some(c) = content.filter(|c| !c.is_empty()) {
            return self.save_file(name, &c, p).map(FileOp::Upload);
        }
        let id = php::get(item, "id").map(php::intval).unwrap_or(0);
        let remove = php::get(item, "remove")
            .and_then(Value::as_str)
            .is_some_and(|r| r.eq_ignore_ascii_case("Y"));
        (id > 0 && remove).then_some(FileOp::Remove)
    }

    /// Apply a file field (`CCrmRestProxyBase::tryInternalizeFileField`). A multiple field
    /// becomes exactly this request's uploads (`[]`, `{"id":N}` items or undecodable data clear
    /// it); a single field takes one object — an upload replaces, `{"id","remove":"Y"}` clears,
    /// anything else (a list, `""`) leaves it unchanged.
    pub(crate) fn apply_file(
        &mut self,
        def: &FieldDef,
        v: &Value,
        e: &mut Entity,
        p: &mut Pending,
    ) {
        if v.is_null() {
            return;
        }
        let items: Vec<&Value> = if def.multiple && indexed(v) {
            php::as_list(v).unwrap_or_default()
        } else {
            vec![v]
        };
        let ops: Vec<FileOp> = items
            .into_iter()
            .filter_map(|it| self.file_op(it, p))
            .collect();
        let new: Option<Value> = if def.multiple {
            let ids = ops.iter().filter_map(|o| match o {
                FileOp::Upload(id) => Some(Value::from(*id)),
                FileOp::Remove => None,
            });
            Some(Value::Array(ids.collect()))
        } else {
            match ops.first() {
                Some(FileOp::Upload(id)) => Some(Value::from(*id)),
                Some(FileOp::Remove) => Some(Value::Null),
                None => None,
            }
        };
        let Some(new) = new else { return };
        for old in stored_files(e.vals.get(&def.name)) {
            p.removed_files.push(old);
        }
        e.vals.insert(def.name.clone(), new);
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

/// File IDs held by a stored file-field value.
pub(crate) fn stored_files(v: Option<&Value>) -> Vec<u64> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_u64()).collect(),
        Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
        _ => vec![],
    }
}
