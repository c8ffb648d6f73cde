//! A form body as PHP's `parse_str` reads it (`php_register_variable_ex` in php-src): `+` and
//! `%XX` decoded, PHP brackets nested, `[]` appending.

use super::{too_deep, too_large, MAX_DEPTH, MAX_VARS};
use crate::error::Error;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A PHP array while it is built: ordered keys, updates in place, and the next index `[]`
/// appends at.
#[derive(Default)]
struct PhpArray {
    entries: Vec<(String, Node)>,
    pos: HashMap<String, usize>,
    next_index: Option<i64>,
}

enum Node {
    Leaf(String),
    Array(PhpArray),
}

impl PhpArray {
    /// The key `[]` appends at: one past the largest integer key so far, or 0.
    fn append_key(&self) -> String {
        self.next_index.unwrap_or(0).to_string()
    }

    /// The index of `key`, inserting `make()` when absent.
    fn slot(&mut self, key: String, make: impl FnOnce() -> Node) -> usize {
        if let Some(&i) = self.pos.get(&key) {
            return i;
        }
        if let Some(n) = php_int_key(&key) {
            // As PHP: the next append goes one past the largest integer key.
            let next = n.saturating_add(1);
            self.next_index = Some(self.next_index.map_or(next, |m| m.max(next)));
        }
        self.entries.push((key.clone(), make()));
        self.pos.insert(key, self.entries.len() - 1);
        self.entries.len() - 1
    }

    /// Sets `key` to a string, keeping its position if it was there (PHP: the last one wins).
    fn set_leaf(&mut self, key: String, value: String) {
        let i = self.slot(key, || Node::Leaf(String::new()));
        self.entries[i].1 = Node::Leaf(value);
    }

    /// The array under `key`, made (or replacing a string there, as PHP does) when needed.
    fn child(&mut self, key: String) -> &mut PhpArray {
        let i = self.slot(key, || Node::Array(PhpArray::default()));
        let node = &mut self.entries[i].1;
        if let Node::Leaf(_) = node {
            *node = Node::Array(PhpArray::default());
        }
        match node {
            Node::Array(a) => a,
            Node::Leaf(_) => unreachable!("replaced just above"),
        }
    }

    /// As JSON, the way PHP's `json_encode` writes it: keys 0, 1, … in order make an array,
    /// anything else an object. Depth is bounded by [`MAX_DEPTH`] when it was built.
    fn into_json(self) -> Value {
        let is_list = self
            .entries
            .iter()
            .enumerate()
            .all(|(i, (k, _))| *k == i.to_string());
        let conv = |n: Node| match n {
            Node::Leaf(s) => Value::String(s),
            Node::Array(a) => a.into_json(),
        };
        if is_list && !self.entries.is_empty() {
            Value::Array(self.entries.into_iter().map(|(_, n)| conv(n)).collect())
        } else {
            Value::Object(
                self.entries
                    .into_iter()
                    .map(|(k, n)| (k, conv(n)))
                    .collect(),
            )
        }
    }
}

/// The integer a key stands for, as PHP decides it (`ZEND_HANDLE_NUMERIC_STR`): a decimal
/// without leading zeros or `+`, optionally negative (not `-0`), that fits 64 bits.
fn php_int_key(k: &str) -> Option<i64> {
    let digits = k.strip_prefix('-').unwrap_or(k);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && k != "-0";
    if canonical {
        k.parse().ok()
    } else {
        None
    }
}

/// `%XX` and `+` decoding, as PHP's `php_url_decode`: a `%` not followed by two hex digits
/// stays as it is.
fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// Bytes as text; bytes that are not UTF-8 become U+FFFD and `lossy` is set. A portal sends
/// UTF-8; an old on-premise one in windows-1251 would not, and its values are still readable
/// in part instead of the whole event being lost.
fn text(bytes: Vec<u8>, lossy: &mut bool) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| {
        *lossy = true;
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })
}

/// Parses an `application/x-www-form-urlencoded` body as PHP's `parse_str` (and so `$_POST`)
/// does (`main/php_variables.c`, `php_default_treat_data` and `php_register_variable_ex`):
/// - pairs split at `&` (empty ones skipped), name and value at the first `=` (no `=`: the
///   value is `""`); both `+`/`%XX` decoded, a bad `%` kept as it is;
/// - a name is read up to a NUL; leading spaces dropped; before the first `[`, ` ` and `.`
///   become `_`; an empty name is skipped;
/// - `a[b][c]` nests, `a[]` (or `a[ ]`) appends at one past the largest integer key; text after a `]` that
///   is not `[` is ignored; an unclosed first `[` is kept as `_` in a plain name (`a[b` →
///   `a_b`), an unclosed later one ends the name (`a[b][c` → `a[b]`);
/// - a later pair replaces an earlier one of the same name in place, and a string in the way of
///   a nested name is replaced by an array.
///
/// PHP drops names nested deeper than `max_input_nesting_level` and pairs past `max_input_vars`
/// with a warning; here they refuse the body ([`MAX_DEPTH`], [`MAX_VARS`]): a portal never sends
/// them, and half an event is worse than none. Arrays whose keys are 0, 1, … in order become
/// JSON arrays, as PHP's `json_encode` writes them; every value is a string.
pub fn parse_form(body: &str) -> Result<(Map<String, Value>, Vec<String>), Error> {
    let mut root = PhpArray::default();
    let mut lossy = false;
    for (n, pair) in body.split('&').filter(|p| !p.is_empty()).enumerate() {
        if n >= MAX_VARS {
            return Err(too_large(format!(
                "the event body holds more than {MAX_VARS} name=value pairs"
            )));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = text(url_decode(k), &mut lossy);
        let value = text(url_decode(v), &mut lossy);
        register(&mut root, &name, value)?;
    }
    let mut warnings = Vec::new();
    if lossy {
        warnings.push(
            "some names or values of the event were not UTF-8; their bad bytes read as U+FFFD"
                .to_string(),
        );
    }
    let map = root
        .entries
        .into_iter()
        .map(|(k, n)| {
            let v = match n {
                Node::Leaf(s) => Value::String(s),
                Node::Array(a) => a.into_json(),
            };
            (k, v)
        })
        .collect();
    Ok((map, warnings))
}

/// Stores one decoded pair under its PHP name (see [`parse_form`]).
fn register(root: &mut PhpArray, name: &str, value: String) -> Result<(), Error> {
    // PHP takes the name as a C string: a decoded NUL ends it.
    let name = name.split('\0').next().unwrap_or_default();
    let name = name.trim_start_matches(' ');
    let (base, rest) = match name.find('[') {
        Some(i) => (&name[..i], Some(&name[i..])),
        None => (name, None),
    };
    if base.is_empty() {
        return Ok(());
    }
    let base = base.replace([' ', '.'], "_");
    let Some(mut rest) = rest else {
        root.set_leaf(base, value);
        return Ok(());
    };
    // `None` is `[]`, an append.
    let mut indices: Vec<Option<&str>> = Vec::new();
    loop {
        // PHP counts a level before it reads the index, closed or not.
        if indices.len() >= MAX_DEPTH {
            return Err(too_deep());
        }
        let inner = &rest[1..];
        // PHP skips one whitespace character after `[` when it looks for `[]`, so `[ ]` appends
        // too; any other index keeps its spaces.
        let probe = inner
            .strip_prefix(|c: char| c.is_ascii_whitespace() || c == '\x0b')
            .unwrap_or(inner);
        if let Some(after) = probe.strip_prefix(']') {
            indices.push(None);
            if after.starts_with('[') {
                rest = after;
                continue;
            }
            break;
        }
        let Some(close) = inner.find(']') else {
            if indices.is_empty() {
                let plain = format!("{base}_{}", inner.replace([' ', '.', '['], "_"));
                root.set_leaf(plain, value);
                return Ok(());
            }
            break;
        };
        let index = &inner[..close];
        indices.push(Some(index));
        let after = &inner[close + 1..];
        if after.starts_with('[') {
            rest = after;
        } else {
            break;
        }
    }
    let mut cur = root.child(base);
    let last = indices.len() - 1;
    for (n, index) in indices.into_iter().enumerate() {
        let key = index.map_or_else(|| cur.append_key(), str::to_string);
        if n == last {
            cur.set_leaf(key, value);
            break;
        }
        cur = cur.child(key);
    }
    Ok(())
}
