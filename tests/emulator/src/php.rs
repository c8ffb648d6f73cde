//! PHP compatibility: `parse_str`, `urldecode`, `json_encode` with Bitrix's flags, truthiness and
//! `intval`. Bitrix is a PHP application, so its wire quirks are PHP's quirks (reference §1.3, §1.6).

use serde_json::{Map, Value};
use std::collections::HashMap;

/// PHP's `max_input_nesting_level` default: deeper bracket paths are dropped.
const MAX_NESTING: usize = 64;

/// `urldecode`: `+` is a space, `%XX` a byte; malformed escapes stay literal.
pub fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Is `s` a PHP "integer-like" array key (`"0"`, `"12"`, `"-3"`, not `"01"` or `"+1"`)?
pub fn int_key(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty()
        || !digits.bytes().all(|c| c.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
        || s == "-0"
    {
        return None;
    }
    s.parse().ok()
}

/// `parse_str` into a PHP-array-like map. Keys are kept as strings; `[]` appends with the next
/// integer key, as PHP does.
pub fn parse_str(query: &str) -> Map<String, Value> {
    let mut root = Map::new();
    let mut next_idx: HashMap<String, i64> = HashMap::new();
    for pair in query.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.find('=') {
            Some(p) => (&pair[..p], &pair[p + 1..]),
            None => (pair, ""),
        };
        let key = urldecode(k);
        let val = urldecode(v);
        register(&mut root, &key, Value::String(val), &mut next_idx);
    }
    root
}

/// Split a PHP variable name into its base and bracket indices (`None` = `[]`), following
/// `php_register_variable_ex`.
fn split_var(name: &str) -> Option<(String, Vec<Option<String>>)> {
    let name = name.trim_start_matches(' ');
    let bytes: Vec<char> = name.chars().collect();
    let mut base = String::new();
    let mut i = 0;
    let mut is_array = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == ' ' || c == '.' {
            base.push('_');
        } else if c == '[' {
            is_array = true;
            break;
        } else {
            base.push(c);
        }
        i += 1;
    }
    if base.is_empty() {
        return None;
    }
    let mut idx = Vec::new();
    if is_array {
        // i points at '['
        loop {
            let start = i + 1;
            match bytes[start..].iter().position(|&c| c == ']') {
                None => {
                    if idx.is_empty() {
                        // Unterminated first bracket: '[' becomes '_' and the rest is kept verbatim.
                        base.push('_');
                        base.extend(&bytes[start..]);
                    }
                    break;
                }
                Some(off) => {
                    let inner: String = bytes[start..start + off].iter().collect();
                    idx.push(if off == 0 { None } else { Some(inner) });
                    i = start + off + 1;
                    if i < bytes.len() && bytes[i] == '[' {
                        continue;
                    }
                    break; // anything after a closing bracket that is not '[' is ignored
                }
            }
        }
    }
    Some((base, idx))
}

fn register(
    root: &mut Map<String, Value>,
    name: &str,
    val: Value,
    next_idx: &mut HashMap<String, i64>,
) {
    let Some((base, idx)) = split_var(name) else {
        return;
    };
    if idx.len() > MAX_NESTING {
        return;
    }
    if idx.is_empty() {
        root.insert(base, val);
        return;
    }
    let mut path = base.clone();
    let mut slot = root.entry(base).or_insert(Value::Null);
    for seg in idx {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
            next_idx.remove(&path);
        }
        let map = slot.as_object_mut().unwrap();
        let key = match seg {
            Some(k) => {
                if let Some(n) = int_key(&k) {
                    let e = next_idx.entry(path.clone()).or_insert(0);
                    if n >= *e {
                        *e = n + 1;
                    }
                }
                k
            }
            None => {
                let e = next_idx.entry(path.clone()).or_insert(0);
                let k = e.to_string();
                *e += 1;
                k
            }
        };
        path.push('\0');
        path.push_str(&key);
        slot = map.entry(key).or_insert(Value::Null);
    }
    *slot = val;
}

/// A PHP array (list or map) seen as an ordered list of values; `None` for scalars.
pub fn as_list(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(a) => Some(a.iter().collect()),
        Value::Object(m) => Some(m.values().collect()),
        _ => None,
    }
}

/// `is_array()` in PHP terms.
pub fn is_array(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

/// Look up a key of a PHP array given as a JSON object or list.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    }
}

/// PHP truthiness (`(bool)$x`).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(true),
        Value::String(s) => !(s.is_empty() || s == "0"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// PHP `intval()`: leading whitespace, optional sign, digits; anything else stops the number.
pub fn intval(v: &Value) -> i64 {
    match v {
        Value::Null => 0,
        Value::Bool(b) => *b as i64,
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .unwrap_or(0),
        Value::String(s) => intval_str(s),
        Value::Array(a) => !a.is_empty() as i64,
        Value::Object(m) => !m.is_empty() as i64,
    }
}

pub fn intval_str(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for c in rest.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

/// PHP `(string)$x` for scalars; arrays become `"Array"` like PHP's cast.
pub fn strval(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "1".into(),
        Value::Bool(false) => String::new(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "Array".into(),
    }
}

/// Serialise like Bitrix's `Json::encode`: `JSON_HEX_TAG|HEX_AMP|HEX_APOS|HEX_QUOT|
/// UNESCAPED_UNICODE`, slashes escaped, and PHP array semantics (an empty map or a map keyed
/// exactly `0..n-1` is a JSON list).
pub fn json_encode(v: &Value) -> String {
    let mut out = String::with_capacity(256);
    encode_into(v, &mut out);
    out
}

pub fn encode_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => encode_str(s, out),
        Value::Array(a) => encode_seq(a.iter(), out),
        Value::Object(m) => {
            if m.is_empty() || is_sequential(m) {
                encode_seq(m.values(), out);
            } else {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    encode_str(k, out);
                    out.push(':');
                    encode_into(v, out);
                }
                out.push('}');
            }
        }
    }
}

fn encode_seq<'a>(it: impl Iterator<Item = &'a Value>, out: &mut String) {
    out.push('[');
    for (i, v) in it.enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_into(v, out);
    }
    out.push(']');
}

fn is_sequential(m: &Map<String, Value>) -> bool {
    m.keys()
        .enumerate()
        .all(|(i, k)| int_key(k) == Some(i as i64))
}

fn encode_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\u0022"),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\'' => out.push_str("\\u0027"),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // PHP escapes line/paragraph separators even with UNESCAPED_UNICODE.
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_str_basics() {
        let m = parse_str("a=1&b[]=x&b[]=y&c[d][e]=2&f.g=3&h%20i=4&p=%2B7+9");
        assert_eq!(
            Value::Object(m),
            json!({"a":"1","b":{"0":"x","1":"y"},"c":{"d":{"e":"2"}},"f_g":"3","h_i":"4","p":"+7 9"})
        );
    }

    #[test]
    fn parse_str_quirks() {
        let m = parse_str("a[b.c]=1&x[=2&y[1]=a&y[]=b&z=1&z=2&q[a]b=3");
        assert_eq!(m["a"], json!({"b.c":"1"}));
        assert_eq!(m["x_"], json!("2"));
        assert_eq!(m["y"], json!({"1":"a","2":"b"}));
        assert_eq!(m["z"], json!("2"));
        assert_eq!(m["q"], json!({"a":"3"}));
    }

    #[test]
    fn encoder() {
        let v = json!({"a":"<a href='x'>\"&\"</a>/é", "e":{}, "l":{"0":1,"1":2}, "o":{"1":1}});
        assert_eq!(
            json_encode(&v),
            r#"{"a":"\u003Ca href=\u0027x\u0027\u003E\u0022\u0026\u0022\u003C\/a\u003E\/é","e":[],"l":[1,2],"o":{"1":1}}"#
        );
    }

    #[test]
    fn intval_cases() {
        assert_eq!(intval(&json!("12abc")), 12);
        assert_eq!(intval(&json!(" -3")), -3);
        assert_eq!(intval(&json!("abc")), 0);
        assert_eq!(intval(&json!(7.9)), 7);
    }
}
