//! Files in a write's fields, from disk or from memory, sent as Bitrix's
//! `{"fileData": ["scan.pdf", "<base64>"]}`:
//! - `{"filePath": "/path/scan.pdf", "fileName": "scan.pdf"}` reads a file from disk;
//! - `{"fileId": "mem:…", "fileName": "scan.pdf"}` takes a file held in memory by [`store`]
//!   (the bytes of a 1C `ДвоичныеДанные`), until [`release`] drops it.
//!
//! The base64 text is encoded straight from the file (or the held bytes) into the final request
//! body, so a 50 MB file costs about 67 MB of memory (its base64 form), not several copies of it.

use crate::error::{Error, ErrorKind};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// The most base64 text the files of one request may take (about 384 MiB of files): far above
/// what a portal accepts in one request, far below what a 32-bit host can hold.
const MAX_FILES_BASE64: u64 = 512 << 20;

/// The most bytes the files held in memory may take together, in one process: what a 32-bit
/// host can still spare next to the base64 copy a request makes of them.
pub const MAX_STORED_TOTAL: u64 = 512 << 20;

/// The most bytes one file held in memory may take: one request could not carry more (see
/// `MAX_FILES_BASE64`).
pub const MAX_STORED_FILE: u64 = 256 << 20;

/// The most files held in memory at once, so that many tiny files cannot grow the table without
/// bound either.
pub const MAX_STORED_COUNT: usize = 10_000;

/// The prefix of every in-memory file's token.
const TOKEN_PREFIX: &str = "mem:";

/// A file to splice into a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    source: Source,
    len: u64,
    /// The placeholder the file's base64 replaces, unique to this request.
    marker: String,
}

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
enum Source {
    /// Read from disk when the body is built.
    Disk(PathBuf),
    /// Held in memory; the request keeps its own reference, so releasing the token while the
    /// request is being built or sent changes nothing for it.
    Memory(Arc<Vec<u8>>),
}

impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Disk(a), Source::Disk(b)) => a == b,
            // The same stored file, not equal bytes: comparing 100 MB to say so would be waste.
            (Source::Memory(a), Source::Memory(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A file held in memory by [`store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// What `{"fileId": ...}` names it by: `mem:` and 32 hex digits (128 random bits).
    pub token: String,
    /// The name it is sent with unless the fields give a `fileName`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One held file. The bytes are behind an `Arc` so that a request takes them without a copy;
/// `Arc<Vec<u8>>` rather than `Arc<[u8]>`, since making the latter from the caller's `Vec` would
/// copy the whole file once more.
struct Held {
    name: String,
    bytes: Arc<Vec<u8>>,
}

/// The files held in memory, with their limits (tests use small ones).
struct Store {
    files: HashMap<String, Held>,
    total: u64,
    max_total: u64,
    max_file: u64,
    max_count: usize,
}

impl Store {
    fn new(max_total: u64, max_file: u64, max_count: usize) -> Store {
        Store {
            files: HashMap::new(),
            total: 0,
            max_total,
            max_file,
            max_count,
        }
    }

    fn insert(&mut self, token: String, name: String, bytes: Vec<u8>) -> Result<StoredFile, Error> {
        let size = bytes.len() as u64;
        let refuse = |text: String| Error::invalid_input("FILES_TOO_LARGE", text);
        if size > self.max_file {
            return Err(refuse(format!(
                "a file in memory may take at most {} MiB, this one is {size} bytes",
                self.max_file >> 20
            )));
        }
        if self.total.saturating_add(size) > self.max_total {
            return Err(refuse(format!(
                "the files in memory would take more than {} MiB; remove the files no longer needed first",
                self.max_total >> 20
            )));
        }
        if self.files.len() >= self.max_count {
            return Err(refuse(format!(
                "at most {} files may be held in memory; remove the files no longer needed first",
                self.max_count
            )));
        }
        self.total += size;
        let stored = StoredFile {
            token: token.clone(),
            name: name.clone(),
            size,
        };
        let bytes = Arc::new(bytes);
        self.files.insert(token, Held { name, bytes });
        Ok(stored)
    }

    fn remove(&mut self, token: &str) {
        if let Some(h) = self.files.remove(token) {
            self.total -= h.bytes.len() as u64;
        }
    }

    fn get(&self, token: &str) -> Option<(String, Arc<Vec<u8>>)> {
        self.files
            .get(token)
            .map(|h| (h.name.clone(), Arc::clone(&h.bytes)))
    }
}

static STORE: Mutex<Option<Store>> = Mutex::new(None);

/// The process's store, created on first use. A panic elsewhere while it was locked leaves it
/// consistent (every change is one insert or remove), so a poisoned lock is taken as it is.
fn with_store<T>(f: impl FnOnce(&mut Store) -> T) -> T {
    let mut guard = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    let store = guard
        .get_or_insert_with(|| Store::new(MAX_STORED_TOTAL, MAX_STORED_FILE, MAX_STORED_COUNT));
    f(store)
}

/// Holds `bytes` in memory under a new random token, for `{"fileId": token}` in a write's fields.
/// Refused with `FILES_TOO_LARGE` when the file is larger than [`MAX_STORED_FILE`], or would
/// bring the process's held files past [`MAX_STORED_TOTAL`] or [`MAX_STORED_COUNT`].
/// An empty `name` becomes `file`.
pub fn store(name: String, bytes: Vec<u8>) -> Result<StoredFile, Error> {
    let name = if name.is_empty() { "file".into() } else { name };
    let token = new_token();
    with_store(|s| s.insert(token, name, bytes))
}

/// Drops the files held under `tokens` (unknown ones are skipped). Requests already built from
/// them keep their bytes until they are sent.
pub fn release(tokens: &[String]) {
    with_store(|s| {
        for t in tokens {
            s.remove(t);
        }
    });
}

/// The bytes the files held in memory take in this process.
pub fn stored_bytes() -> u64 {
    with_store(|s| s.total)
}

/// 128 bits no caller can guess: two SipHash outputs keyed by std's per-process random keys
/// (each `RandomState` draws fresh keys from them), over a counter and the time.
fn new_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(now);
        h.write_u64(salt);
        h.finish()
    };
    format!("{TOKEN_PREFIX}{:016x}{:016x}", half(1), half(2))
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
        Value::Object(o) if o.contains_key("filePath") || o.contains_key("fileId") => {
            let (source, len, default_name) = source_of(o)?;
            let name = match o.get("fileName").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => default_name,
            };
            let marker = marker(nonce, files.len());
            *v = json!({ "fileData": [name, marker] });
            files.push(FileRef {
                source,
                len,
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

/// The file an object in the fields names: its source, size and the name it goes by unless the
/// object gives a `fileName`.
fn source_of(o: &Map<String, Value>) -> Result<(Source, u64, String), Error> {
    if o.contains_key("filePath") && o.contains_key("fileId") {
        return Err(Error::invalid_input(
            "INVALID_FILE",
            "give filePath or fileId, not both",
        ));
    }
    if let Some(id) = o.get("fileId") {
        let id = id.as_str().unwrap_or("");
        if id.is_empty() {
            return Err(Error::invalid_input(
                "INVALID_FILE",
                "fileId must be a non-empty string",
            ));
        }
        let Some((name, bytes)) = with_store(|s| s.get(id)) else {
            // Only a bounded piece of what the caller wrote is quoted back.
            let shown: String = id.chars().take(48).collect();
            return Err(Error::invalid_input(
                "UNKNOWN_FILE_ID",
                format!(
                    "no file in memory has fileId {shown:?} (it was never added, or it was removed)"
                ),
            ));
        };
        let len = bytes.len() as u64;
        return Ok((Source::Memory(bytes), len, name));
    }
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
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    Ok((Source::Disk(path), meta.len(), name))
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

/// Writes a file into `out` as base64: held bytes at once, a file on disk 3 × 64 KiB at a time
/// (a multiple of 3, so padding can only appear at the very end).
fn encode_file(f: &FileRef, out: &mut Vec<u8>) -> Result<(), Error> {
    let path = match &f.source {
        Source::Memory(bytes) => return encode_chunk(bytes, out),
        Source::Disk(path) => path,
    };
    let io_err = |e: std::io::Error| {
        Error::invalid_input(
            "INVALID_FILE",
            format!("cannot read file {}: {e}", path.display()),
        )
    };
    let mut file = File::open(path).map_err(io_err)?;
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
        encode_chunk(&buf[..filled], out)?;
        if filled < buf.len() {
            break;
        }
    }
    if total != f.len {
        return Err(Error::invalid_input(
            "INVALID_FILE",
            format!("file {} changed while it was read", path.display()),
        ));
    }
    Ok(())
}

/// Appends the base64 of `bytes` to `out` (whose room was reserved up front).
fn encode_chunk(bytes: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[start..])
        .map_err(|e| Error::new(ErrorKind::Protocol, "INTERNAL", e.to_string()))?;
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

#[cfg(test)]
mod memory_tests {
    use super::*;

    fn body_of(fields: &mut Value) -> Result<Value, Error> {
        let files = extract(fields.as_object_mut().unwrap())?;
        let body = serialize(&json!({ "fields": fields }), &files)?;
        Ok(serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn a_stored_file_is_spliced_like_one_from_disk() {
        let data: Vec<u8> = (0..100_001u32).map(|i| (i % 251) as u8).collect();
        let f = store("photo.jpg".into(), data.clone()).unwrap();
        assert!(
            f.token.starts_with("mem:") && f.token.len() == 4 + 32,
            "{}",
            f.token
        );
        assert_eq!((f.name.as_str(), f.size), ("photo.jpg", 100_001));
        let mut fields = json!({"PHOTO": {"fileId": f.token}, "UF": [{"fileId": f.token, "fileName": "другое.jpg"}]});
        let v = body_of(&mut fields).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        assert_eq!(v["fields"]["PHOTO"]["fileData"], json!(["photo.jpg", b64]));
        assert_eq!(v["fields"]["UF"][0]["fileData"], json!(["другое.jpg", b64]));
        release(std::slice::from_ref(&f.token));
        let mut again = json!({"PHOTO": {"fileId": f.token}});
        let e = body_of(&mut again).unwrap_err();
        assert_eq!(e.code, "UNKNOWN_FILE_ID");
        assert!(e
            .description_in(crate::error::Lang::Ru)
            .starts_with("в памяти нет файла с fileId \"mem:"));
    }

    #[test]
    fn a_request_keeps_its_bytes_after_release() {
        let f = store(String::new(), b"held".to_vec()).unwrap();
        assert_eq!(f.name, "file");
        let mut fields = json!({"F": {"fileId": f.token}});
        let files = extract(fields.as_object_mut().unwrap()).unwrap();
        release(std::slice::from_ref(&f.token));
        let body = serialize(&json!({ "fields": fields }), &files).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["fields"]["F"]["fileData"], json!(["file", "aGVsZA=="]));
    }

    #[test]
    fn bad_file_ids_are_refused() {
        for (fields, code) in [
            (json!({"F": {"fileId": ""}}), "INVALID_FILE"),
            (json!({"F": {"fileId": 5}}), "INVALID_FILE"),
            (
                json!({"F": {"fileId": "mem:00", "filePath": "/x"}}),
                "INVALID_FILE",
            ),
            (
                json!({"F": [{"fileId": "mem:0123456789abcdef0123456789abcdef"}]}),
                "UNKNOWN_FILE_ID",
            ),
        ] {
            let mut fields = fields;
            assert_eq!(body_of(&mut fields).unwrap_err().code, code, "{fields}");
        }
        let long = "x".repeat(10_000);
        let mut fields = json!({"F": {"fileId": long}});
        let e = body_of(&mut fields).unwrap_err();
        assert!(e.description.len() < 200, "{}", e.description);
    }

    #[test]
    fn tokens_differ() {
        let a: std::collections::HashSet<String> = (0..1000).map(|_| new_token()).collect();
        assert_eq!(a.len(), 1000);
    }

    #[test]
    fn the_store_is_bounded() {
        let mut s = Store::new(10, 6, 3);
        let t = |i: u8| format!("mem:{i}");
        assert_eq!(
            s.insert(t(0), "a".into(), vec![0; 7]).unwrap_err().code,
            "FILES_TOO_LARGE"
        );
        s.insert(t(1), "a".into(), vec![0; 6]).unwrap();
        let e = s.insert(t(2), "b".into(), vec![0; 5]).unwrap_err();
        assert_eq!(e.code, "FILES_TOO_LARGE");
        s.insert(t(3), "c".into(), vec![0; 4]).unwrap();
        assert_eq!(s.total, 10);
        s.remove(&t(1));
        s.remove(&t(1));
        assert_eq!(s.total, 4);
        s.insert(t(4), "d".into(), vec![]).unwrap();
        s.insert(t(5), "e".into(), vec![]).unwrap();
        assert_eq!(
            s.insert(t(6), "f".into(), vec![]).unwrap_err().code,
            "FILES_TOO_LARGE"
        );
        assert!(s.get(&t(3)).is_some() && s.get(&t(1)).is_none());
        // The refusals read in Russian with their numbers.
        let e = Store::new(1 << 20, 1 << 20, 1)
            .insert(t(7), "g".into(), vec![0; (1 << 20) + 1])
            .unwrap_err();
        assert_eq!(
            e.description_in(crate::error::Lang::Ru),
            "файл в памяти может занимать не больше 1 МиБ, а этот — 1048577 байт"
        );
    }
}
