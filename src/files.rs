//! Files from disk: `{"filePath": "/path/scan.pdf", "fileName": "scan.pdf"}` anywhere in a
//! write's fields becomes Bitrix's `{"fileData": ["scan.pdf", "<base64>"]}`. The base64 text is
//! encoded straight from the file into the final request body, so a 50 MB file costs about
//! 67 MB of memory (its base64 form), not several copies of it.

use crate::error::{Error, ErrorKind};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

/// The most base64 text the files of one request may take (about 384 MiB of files): far above
/// what a portal accepts in one request, far below what a 32-bit host can hold.
const MAX_FILES_BASE64: u64 = 512 << 20;

/// A file to splice into a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    path: PathBuf,
    len: u64,
    /// The placeholder the file's base64 replaces, unique to this request.
    marker: String,
}

/// A placeholder no caller can write: it carries a random nonce drawn for each request, so a
/// field value that copies one (from an earlier body, say) never receives a file's content.
fn marker(nonce: u64, i: usize) -> String {
    format!("\u{1}b24-file-{nonce:016x}-{i}\u{1}")
}

/// The marker as serde_json writes it (control characters as `\u0001`).
fn serialized_marker(marker: &str) -> Vec<u8> {
    serde_json::to_vec(marker).unwrap_or_default()
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.finish()
}

/// Replaces every `{"filePath": ...}` object in `fields` with a `fileData` placeholder and
/// returns the files, checked to exist and be readable.
pub fn extract(fields: &mut Map<String, Value>) -> Result<Vec<FileRef>, Error> {
    let mut files = Vec::new();
    let nonce = nonce();
    for v in fields.values_mut() {
        walk(v, &mut files, nonce, 0)?;
    }
    Ok(files)
}

fn walk(v: &mut Value, files: &mut Vec<FileRef>, nonce: u64, depth: usize) -> Result<(), Error> {
    if depth > 4 {
        return Ok(());
    }
    match v {
        Value::Object(o) if o.contains_key("filePath") => {
            let path = o
                .get("filePath")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if path.is_empty() {
                return Err(Error::invalid_input(
                    "INVALID_FILE",
                    "filePath must be a non-empty string",
                ));
            }
            let path = PathBuf::from(path);
            let meta = std::fs::metadata(&path).map_err(|e| {
                Error::invalid_input(
                    "INVALID_FILE",
                    format!("cannot read file {}: {e}", path.display()),
                )
            })?;
            if !meta.is_file() {
                return Err(Error::invalid_input(
                    "INVALID_FILE",
                    format!("{} is not a file", path.display()),
                ));
            }
            let name = match o.get("fileName").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".into()),
            };
            let marker = marker(nonce, files.len());
            *v = json!({ "fileData": [name, marker] });
            files.push(FileRef {
                path,
                len: meta.len(),
                marker,
            });
        }
        Value::Object(o) => {
            for x in o.values_mut() {
                walk(x, files, nonce, depth + 1)?;
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                walk(x, files, nonce, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Serialises `params` and splices each file's base64 text in place of its marker.
pub fn serialize(params: &Value, files: &[FileRef]) -> Result<Vec<u8>, Error> {
    let json = serde_json::to_vec(params)
        .map_err(|e| Error::invalid_input("INVALID_JSON", e.to_string()))?;
    if files.is_empty() {
        return Ok(json);
    }
    let b64_total: u64 = files.iter().map(|f| f.len.div_ceil(3) * 4 + 2).sum();
    if b64_total > MAX_FILES_BASE64 {
        return Err(Error::invalid_input(
            "INVALID_FILE",
            format!(
                "the files of one request exceed {} MiB",
                MAX_FILES_BASE64 >> 20
            ),
        ));
    }
    let mut out = Vec::new();
    // A refused allocation is an error, never an abort of the host process.
    out.try_reserve_exact(json.len() + b64_total as usize)
        .map_err(|_| Error::invalid_input("INVALID_FILE", "not enough memory for the files"))?;
    let mut rest = &json[..];
    for f in files {
        let needle = serialized_marker(&f.marker);
        let pos = find(rest, &needle).ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                "INTERNAL",
                "file placeholder lost during serialisation",
            )
        })?;
        out.extend_from_slice(&rest[..pos]);
        out.push(b'"');
        encode_file(f, &mut out)?;
        out.push(b'"');
        rest = &rest[pos + needle.len()..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Streams a file into `out` as base64, 3 × 64 KiB at a time (a multiple of 3, so padding can
/// only appear at the very end).
fn encode_file(f: &FileRef, out: &mut Vec<u8>) -> Result<(), Error> {
    let io_err = |e: std::io::Error| {
        Error::invalid_input(
            "INVALID_FILE",
            format!("cannot read file {}: {e}", f.path.display()),
        )
    };
    let mut file = File::open(&f.path).map_err(io_err)?;
    let mut buf = vec![0u8; 3 * 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).map_err(io_err)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        total += filled as u64;
        let start = out.len();
        out.resize(start + filled.div_ceil(3) * 4, 0);
        base64::engine::general_purpose::STANDARD
            .encode_slice(&buf[..filled], &mut out[start..])
            .map_err(|e| Error::new(ErrorKind::Protocol, "INTERNAL", e.to_string()))?;
        if filled < buf.len() {
            break;
        }
    }
    if total != f.len {
        return Err(Error::invalid_input(
            "INVALID_FILE",
            format!("file {} changed while it was read", f.path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_base64_of_the_file() {
        let dir = std::env::temp_dir().join(format!("b24-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.bin");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let mut fields = json!({"NAME": "x", "UF": [{"filePath": p.to_str().unwrap()}], "PHOTO": {"filePath": p.to_str().unwrap(), "fileName": "me.jpg"}});
        let files = extract(fields.as_object_mut().unwrap()).unwrap();
        assert_eq!(files.len(), 2);
        let body = serialize(&json!({"fields": fields}), &files).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        assert_eq!(v["fields"]["UF"][0]["fileData"], json!(["a.bin", b64]));
        assert_eq!(v["fields"]["PHOTO"]["fileData"][0], json!("me.jpg"));
        assert!(
            body.capacity() < body.len() + 1024,
            "the body was sized up front"
        );
        let mut missing = json!({"F": {"filePath": "/nonexistent/file"}});
        assert_eq!(
            extract(missing.as_object_mut().unwrap()).unwrap_err().code,
            "INVALID_FILE"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_value_that_copies_a_marker_gets_no_file() {
        let dir = std::env::temp_dir().join(format!("b24-marker-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("secret.txt");
        std::fs::write(&p, b"private bytes").unwrap();
        let copied = [marker(0, 0), "\u{1}b24-file-0\u{1}".to_string()];
        let mut fields = json!({"COMMENTS": copied, "F": {"filePath": p.to_str().unwrap()}});
        let files = extract(fields.as_object_mut().unwrap()).unwrap();
        let body = serialize(&json!({"fields": fields}), &files).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["fields"]["COMMENTS"], json!(copied));
        let b64 = base64::engine::general_purpose::STANDARD.encode(b"private bytes");
        assert_eq!(v["fields"]["F"]["fileData"][1], json!(b64));
        std::fs::remove_dir_all(&dir).ok();
    }
}
