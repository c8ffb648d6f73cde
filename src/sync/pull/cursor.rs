//! The pull cursor: where the last pull stopped, and the IDs it knew, as one opaque string.
//!
//! Text: URL-safe base64 (no padding) of JSON
//! `{"v":1,"method":"crm.contact.list","modified":"2026-12-01T10:00:00+03:00","id":0,"n":3,"ids":"…","digest":"…"}`:
//! every row with (DATE_MODIFY, ID) up to (`modified`, `id`) was delivered (`id` 0: every row
//! modified before `modified`); `ids` is the set of IDs known to exist (see [`encode_ids`]), `n`
//! its size and `digest` a check over both, so a cut or edited cursor is refused instead of
//! reporting wrong deletions.

use crate::error::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The cursor format version this library writes and reads.
const VERSION: i64 = 1;
/// Cursors longer than this are refused before decoding (a 1C string can hold anything).
const MAX_CURSOR_LEN: usize = 64 << 20;
/// Known IDs at most: bounds the memory a decoded cursor takes (80 MB of `i64`).
pub const MAX_IDS: usize = 10_000_000;

/// A decoded cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cursor {
    /// The list method the cursor belongs to, lower-cased.
    pub method: String,
    /// (DATE_MODIFY as the portal wrote it, ID) of the last delivered position; `None` before
    /// the first pull finished.
    pub pos: Option<(String, i64)>,
    /// The IDs known to exist, sorted, unique.
    pub ids: Vec<i64>,
}

fn bad(why: &str) -> Error {
    Error::invalid_input("INVALID_CURSOR", format!("the cursor is not valid: {why}"))
}

impl Cursor {
    /// Decodes a cursor written by [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Cursor, Error> {
        let text = text.trim();
        if text.len() > MAX_CURSOR_LEN {
            return Err(bad("too long"));
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad("not base64"))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("not JSON"))?;
        if v.get("v").and_then(Value::as_i64) != Some(VERSION) {
            return Err(bad("unknown version"));
        }
        let method = v
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no method"))?
            .to_ascii_lowercase();
        let pos = match (v.get("modified"), v.get("id")) {
            (Some(Value::String(m)), Some(id)) => {
                let id = id
                    .as_i64()
                    .filter(|i| *i >= 0)
                    .ok_or_else(|| bad("bad id"))?;
                if super::dates::parse(m).is_none() {
                    return Err(bad("modified is not an ISO 8601 time with an offset"));
                }
                Some((m.clone(), id))
            }
            (None | Some(Value::Null), _) => None,
            _ => return Err(bad("bad position")),
        };
        let n = v
            .get("n")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no n"))?;
        let packed = v
            .get("ids")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no ids"))?;
        let digest = v.get("digest").and_then(Value::as_str).unwrap_or("");
        if digest != digest_of(n, packed) {
            return Err(bad("digest mismatch"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(packed)
            .map_err(|_| bad("ids not base64"))?;
        let ids = decode_ids(&bytes, n).ok_or_else(|| bad("ids do not decode"))?;
        Ok(Cursor { method, pos, ids })
    }

    /// The cursor's text.
    pub fn encode(&self) -> String {
        let packed = URL_SAFE_NO_PAD.encode(encode_ids(&self.ids));
        let n = self.ids.len() as u64;
        let (modified, id) = match &self.pos {
            Some((m, id)) => (json!(m), json!(id)),
            None => (Value::Null, json!(0)),
        };
        let v = json!({
            "v": VERSION,
            "method": self.method,
            "modified": modified,
            "id": id,
            "n": n,
            "ids": packed,
            "digest": digest_of(n, &packed),
        });
        URL_SAFE_NO_PAD.encode(v.to_string())
    }
}

/// FNV-1a over the count and the packed IDs: not a secret, only a guard against a cursor cut
/// short or edited by hand.
fn digest_of(n: u64, packed: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in n.to_le_bytes().iter().chain(packed.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Sorted unique IDs as runs of consecutive IDs, each run two LEB128 varints: the gap from the
/// end of the previous run and the run's length. CRM IDs are handed out in order and mostly
/// survive, so 100,000 contacts with scattered deletions pack into a few kilobytes; the worst
/// case (every other ID gone) is about two bytes per ID.
pub fn encode_ids(ids: &[i64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev_end: i64 = 0;
    let mut i = 0;
    while i < ids.len() {
        let start = ids[i];
        let mut len = 1;
        while i + len < ids.len() && ids[i + len] == start + len as i64 {
            len += 1;
        }
        varint(&mut out, (start - prev_end) as u64);
        varint(&mut out, len as u64);
        prev_end = start + len as i64;
        i += len;
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Reverses [`encode_ids`]; `None` unless the runs add up to exactly `n` positive IDs.
pub fn decode_ids(bytes: &[u8], n: u64) -> Option<Vec<i64>> {
    if n > MAX_IDS as u64 {
        return None;
    }
    // The count is the caller's data: reserve modestly up front and grow as runs decode (the
    // total stays bounded by `n` <= MAX_IDS), so a forged count allocates nothing by itself.
    let mut ids = Vec::with_capacity((n as usize).min(bytes.len().saturating_mul(8)));
    let mut at = 0;
    let mut prev_end: i64 = 0;
    // Bounded: every run consumes at least two bytes.
    while at < bytes.len() {
        let gap = read_varint(bytes, &mut at)?;
        let len = read_varint(bytes, &mut at)?;
        if len == 0 || (ids.len() as u64).checked_add(len)? > n {
            return None;
        }
        // The first run may start at 1 (gap 1 from 0); later ones leave at least one ID out.
        if gap == 0 || gap > i64::MAX as u64 {
            return None;
        }
        let start = prev_end.checked_add(gap as i64)?;
        let end = start.checked_add(len as i64)?;
        ids.extend(start..end);
        prev_end = end;
    }
    (ids.len() as u64 == n).then_some(ids)
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_compactly() {
        let dense: Vec<i64> = (1..=100_000).filter(|i| i % 997 != 0).collect();
        let packed = encode_ids(&dense);
        assert!(packed.len() < 1000, "{} bytes", packed.len());
        assert_eq!(decode_ids(&packed, dense.len() as u64).unwrap(), dense);
        let sparse: Vec<i64> = (1..=1000).map(|i| i * 2).collect();
        assert_eq!(decode_ids(&encode_ids(&sparse), 1000).unwrap(), sparse);
        assert_eq!(decode_ids(&encode_ids(&[]), 0).unwrap(), Vec::<i64>::new());
        assert!(decode_ids(&packed, 5).is_none());
        assert!(decode_ids(&[0x80, 0x80], 1).is_none());
    }

    #[test]
    fn cursor_round_trip_and_tampering() {
        let c = Cursor {
            method: "crm.contact.list".into(),
            pos: Some(("2026-12-01T10:00:00+03:00".into(), 7)),
            ids: vec![1, 2, 3, 9],
        };
        let t = c.encode();
        assert_eq!(Cursor::decode(&t).unwrap(), c);
        for bad in ["", "!!!", "e30", &t[..t.len() - 3]] {
            assert_eq!(
                Cursor::decode(bad).unwrap_err().code,
                "INVALID_CURSOR",
                "{bad}"
            );
        }
        let mut v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&t).unwrap()).unwrap();
        v["n"] = json!(3);
        let edited = URL_SAFE_NO_PAD.encode(v.to_string());
        assert!(Cursor::decode(&edited).is_err());
    }
}
