//! `batch` (reference §5).

use super::envelope::{error_value, time_obj};
use super::methods::{exec, resolve, scope_ok, M};
use super::op_status;
use crate::api::{ApiError, Success};
use crate::{lock, php, time, Shared};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// Max executed sub-commands of one batch (`CRestUtil::BATCH_MAX_LENGTH`).
const BATCH_MAX: usize = 50;

/// A reference like `$result[cmd][0][ID]` at the start of `s`: (kind, path, length).
fn parse_ref(s: &str) -> Option<(String, Vec<String>, usize)> {
    let rest = s.strip_prefix('$')?;
    let kind_len = rest.find('[')?;
    let kind = rest[..kind_len].to_lowercase();
    if !["result", "next", "total", "time", "error"].contains(&kind.as_str()) {
        return None;
    }
    let mut i = 1 + kind_len;
    let mut path = Vec::new();
    while s[i..].starts_with('[') {
        let close = s[i..].find(']')?;
        path.push(s[i + 1..i + close].to_string());
        i += close + 1;
    }
    if path.is_empty() {
        return None;
    }
    Some((kind, path, i))
}

struct BatchState {
    result: Map<String, Value>,
    error: Map<String, Value>,
    total: Map<String, Value>,
    next: Map<String, Value>,
    time: Map<String, Value>,
}

impl BatchState {
    /// Walk a reference path as far as it resolves (§5: unresolved paths stop at the deepest
    /// existing level).
    fn resolve(&self, kind: &str, path: &[String]) -> Value {
        let root = match kind {
            "result" => &self.result,
            "next" => &self.next,
            "total" => &self.total,
            "time" => &self.time,
            _ => &self.error,
        };
        let mut cur: Option<&Value> = None;
        let mut top = Some(root);
        for seg in path {
            let nxt = match (top, cur) {
                (Some(m), _) => m.get(seg),
                (None, Some(v)) => php::get(v, seg),
                _ => None,
            };
            match nxt {
                Some(v) => {
                    cur = Some(v);
                    top = None;
                }
                None => break,
            }
        }
        match (top, cur) {
            (Some(m), _) => Value::Object(m.clone()),
            (None, Some(v)) => v.clone(),
            _ => Value::Null,
        }
    }

    fn substitute(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if !s.contains('$') {
                    return;
                }
                if let Some((k, p, len)) = parse_ref(s) {
                    if len == s.len() {
                        *v = self.resolve(&k, &p);
                        return;
                    }
                }
                // Embedded references: scalars are spliced in, others leave the text as is.
                let mut out = String::new();
                let mut i = 0;
                while i < s.len() {
                    if s.as_bytes()[i] == b'$' {
                        if let Some((k, p, len)) = parse_ref(&s[i..]) {
                            let r = self.resolve(&k, &p);
                            if php::is_scalar(&r) || r.is_null() {
                                out.push_str(&php::strval(&r));
                            } else {
                                out.push_str(&s[i..i + len]);
                            }
                            i += len;
                            continue;
                        }
                    }
                    let ch = s[i..].chars().next().unwrap_or(' ');
                    out.push(ch);
                    i += ch.len_utf8();
                }
                *s = out;
            }
            Value::Object(m) => {
                for x in m.values_mut() {
                    self.substitute(x);
                }
            }
            Value::Array(a) => {
                for x in a.iter_mut() {
                    self.substitute(x);
                }
            }
            _ => {}
        }
    }
}

/// `batch` (§5): at most 50 run, overflow and nested batches fail per command, `halt` stops at
/// the first failure, results in five PHP-array maps.
pub(super) fn batch(sh: &Shared, params: &Map<String, Value>) -> Success {
    let up: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.to_uppercase(), v.clone()))
        .collect();
    let halt = up.get("HALT").map(php::truthy).unwrap_or(false);
    let cmds: Vec<(String, Value)> = match up.get("CMD") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        _ => vec![],
    };
    let mut st = BatchState {
        result: Map::new(),
        error: Map::new(),
        total: Map::new(),
        next: Map::new(),
        time: Map::new(),
    };
    let mut executed = 0usize;
    for (key, cmd) in cmds {
        let Value::String(cmd) = cmd else {
            continue; // non-string commands are skipped silently
        };
        if executed >= BATCH_MAX {
            st.error.insert(
                key,
                json!({"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}),
            );
            if halt {
                break;
            }
            continue;
        }
        executed += 1;
        let t0 = time::now_f64();
        let (mname, q) = match cmd.find('?') {
            Some(p) => (&cmd[..p], &cmd[p + 1..]),
            None => (cmd.as_str(), ""),
        };
        let mname = mname.trim();
        let mname = mname.strip_suffix(".json").unwrap_or(mname);
        *lock(&sh.stats)
            .by_method
            .entry(mname.to_lowercase())
            .or_insert(0) += 1;
        let mut sub = Value::Object(php::parse_str(q));
        st.substitute(&mut sub);
        let mut sub = crate::crm::to_map(&sub);
        let start = sub.remove("start");
        let p0 = Instant::now();
        let res = match resolve(mname) {
            None => Err(ApiError::not_found()),
            Some(M::Batch) => Err(ApiError::new(
                405,
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "Method is not allowed for batch usage",
            )),
            Some(m) if !scope_ok(sh, m) => Err(ApiError::new(401, "insufficient_scope", "")),
            Some(m) => exec(sh, m, &sub, start.as_ref()),
        };
        let processing = p0.elapsed().as_secs_f64();
        match res {
            Ok(s) => {
                st.result.insert(key.clone(), s.result);
                if let Some(n) = s.next {
                    st.next.insert(key.clone(), json!(n));
                }
                if let Some(t) = s.total {
                    st.total.insert(key.clone(), json!(t));
                }
                // Batches are billed to `batch` (live measurement, §4.2).
                let t = time_obj(t0, time::now_f64(), processing, op_status(sh, "batch"));
                st.time.insert(key, t);
            }
            Err(e) => {
                st.error.insert(key, error_value(&e));
                if halt {
                    break;
                }
            }
        }
    }
    Success::plain(json!({
        "result": Value::Object(st.result),
        "result_error": Value::Object(st.error),
        "result_total": Value::Object(st.total),
        "result_next": Value::Object(st.next),
        "result_time": Value::Object(st.time),
    }))
}
