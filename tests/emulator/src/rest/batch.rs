//! `batch` (reference §5).

use super::envelope::{error_value, time_obj};
use super::methods::{exec, resolve, scope_ok, M};
use super::{operating_of, over_limit};
use crate::api::{ApiError, Success};
use crate::cost::Clock;
use crate::operating::Tally;
use crate::{lock, php, time, BatchBilling, Shared};
use serde_json::{json, Map, Value};
use std::time::Instant;

/// Max executed sub-commands of one batch (`CRestUtil::BATCH_MAX_LENGTH`).
const BATCH_MAX: usize = 50;

/// The five maps of `CRestProvider::methodsBatch`, which references read.
struct BatchState {
    result: Map<String, Value>,
    error: Map<String, Value>,
    total: Map<String, Value>,
    next: Map<String, Value>,
    time: Map<String, Value>,
}

/// Reference kinds in the order the server builds its pattern from the map names.
const KINDS: [&str; 5] = ["result", "next", "total", "time", "error"];

/// PCRE's `\s`.
fn pcre_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// PHP `isset($v[$key])` then `$v[$key]`: a present, non-null array element, or a string offset.
fn isset_get(v: &Value, key: &str) -> Option<Value> {
    match v {
        Value::Object(_) | Value::Array(_) => php::get(v, key).filter(|x| !x.is_null()).cloned(),
        Value::String(s) => {
            let i: usize = key.parse().ok()?;
            s.as_bytes()
                .get(i)
                .map(|b| Value::String(String::from_utf8_lossy(&[*b]).into_owned()))
        }
        _ => None,
    }
}

impl BatchState {
    /// `CRestUtil::processBatchElement`: every `$kind…` up to the next whitespace is a reference
    /// (kind matched case-insensitively, but only the lower-case names are map keys, so
    /// `$RESULT[…]` reads null). Its `[segment]`s are walked while `isset` holds (§5: an
    /// unresolved path stops at the deepest existing level). A reference that is the whole value
    /// replaces it with its type; embedded, numbers and strings are spliced in (`str_replace`,
    /// so every copy of the reference text) and anything else leaves the text as it is.
    fn substitute_str(&self, s: &str) -> Value {
        let mut matches: Vec<(&str, &str)> = Vec::new(); // (kind as written, whole match)
        let lower = s.to_ascii_lowercase();
        let mut i = 0;
        while let Some(off) = s[i..].find('$') {
            let at = i + off;
            let kind = KINDS.iter().find(|k| lower[at + 1..].starts_with(**k));
            let Some(kind) = kind else {
                i = at + 1;
                continue;
            };
            let end = s[at..].find(pcre_space).map_or(s.len(), |e| at + e);
            matches.push((&s[at + 1..at + 1 + kind.len()], &s[at..end]));
            i = end.max(at + 1);
        }
        let mut out = Value::String(s.to_string());
        for (kind, whole) in matches {
            let tail = &whole[1 + kind.len()..];
            let segs = brackets(tail);
            if segs.is_empty() {
                continue;
            }
            let mut r = match kind {
                "result" => Value::Object(self.result.clone()),
                "next" => Value::Object(self.next.clone()),
                "total" => Value::Object(self.total.clone()),
                "time" => Value::Object(self.time.clone()),
                "error" => Value::Object(self.error.clone()),
                _ => Value::Null,
            };
            for seg in &segs {
                match isset_get(&r, seg) {
                    Some(v) => r = v,
                    None => break,
                }
            }
            let Value::String(cur) = &out else { break };
            if whole == cur {
                out = r;
                continue;
            }
            let text = match &r {
                Value::Number(n) => n.to_string(),
                Value::String(t) => t.clone(),
                _ => continue,
            };
            out = Value::String(cur.replace(whole, &text));
        }
        out
    }

    /// `processBatchStructure`: every string value of the parsed sub-query, recursively.
    fn substitute(&self, v: &mut Value) {
        match v {
            Value::String(s) if s.contains('$') => *v = self.substitute_str(s),
            Value::Object(m) => m.values_mut().for_each(|x| self.substitute(x)),
            Value::Array(a) => a.iter_mut().for_each(|x| self.substitute(x)),
            _ => {}
        }
    }
}

/// The `[...]` segments of a reference's tail (`/\[([^\]]+)\]/`, anywhere in it).
fn brackets(tail: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = tail;
    while let Some(o) = rest.find('[') {
        let after = &rest[o + 1..];
        match after.find(']') {
            Some(0) => rest = &after[1..],
            Some(c) => {
                out.push(after[..c].to_string());
                rest = &after[c + 1..];
            }
            None => break,
        }
    }
    out
}

/// `parse_url($cmd)`: the path (method name, taken as is: no `.json` suffix handling, no
/// trimming) and the query, up to a `#` fragment.
fn split_command(cmd: &str) -> (&str, &str) {
    let end = cmd.find('#').unwrap_or(cmd.len());
    let cmd = &cmd[..end];
    match cmd.find('?') {
        Some(p) => (&cmd[..p], &cmd[p + 1..]),
        None => (cmd, ""),
    }
}

/// `batch` (§5; `CRestProvider::methodsBatch`): the first 50 commands are run (non-string
/// ones among them skipped silently), the rest get `ERROR_BATCH_LENGTH_EXCEEDED`; a nested
/// `batch` gets `ERROR_BATCH_METHOD_NOT_ALLOWED`; `halt` stops at the first failure; results in
/// five PHP-array maps. Each sub-call runs like a request of its own (`CRestServerBatchItem`):
/// method lookup, scope, operating limit, then the method, which spends its `call_cost` on the
/// request's `clock` first. When the accumulated processing passes the execution limit the
/// batch is cut there: `Err` with the number of sub-calls that had succeeded (committed).
pub(super) fn batch(
    sh: &Shared,
    params: &Map<String, Value>,
    tally: &mut Tally,
    clock: &Clock,
) -> Result<Success, u64> {
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
    let per_sub = sh.cfg.batch_billing == BatchBilling::PerSubCall;
    let mut committed = 0u64;
    for (n, (key, cmd)) in cmds.into_iter().enumerate() {
        let res = if n >= BATCH_MAX {
            Err(ApiError::new(
                400,
                "ERROR_BATCH_LENGTH_EXCEEDED",
                "Max batch length exceeded",
            ))
        } else {
            let Value::String(cmd) = cmd else {
                continue;
            };
            let t0 = time::now_f64();
            let (mname, q) = split_command(&cmd);
            let lc = mname.to_lowercase();
            *lock(&sh.stats).by_method.entry(lc.clone()).or_insert(0) += 1;
            let mut sub = Value::Object(php::parse_str(q));
            st.substitute(&mut sub);
            let mut sub = crate::crm::to_map(&sub);
            // `init` drops `state`; the outer call's cleared auth keys are injected, then
            // cleared again (`CRestServerBatchItem::checkAuth`).
            for k in ["state", "aplogin", "ap"] {
                sub.remove(k);
            }
            let start = sub.remove("start");
            let p0 = Instant::now();
            let p_start = time::now_f64();
            let res = match resolve(mname) {
                None => Err(ApiError::not_found()),
                Some(M::Batch) => Err(ApiError::new(
                    405,
                    "ERROR_BATCH_METHOD_NOT_ALLOWED",
                    "Method is not allowed for batch usage",
                )),
                Some(m) if !scope_ok(sh, m) => Err(ApiError::new(401, "insufficient_scope", "")),
                Some(_) if per_sub && over_limit(sh, tally, &lc) => {
                    Err(ApiError::operation_time_limit())
                }
                Some(m) => {
                    if clock.call(&lc).is_err() {
                        return Err(committed);
                    }
                    exec(sh, m, &sub, start.as_ref())
                }
            };
            let processing = p0.elapsed().as_secs_f64();
            res.map(|s| {
                if per_sub {
                    tally.register(&lc, p_start, processing);
                }
                let billed = if per_sub { lc.as_str() } else { "batch" };
                let op = operating_of(sh, tally, billed);
                (s, time_obj(t0, time::now_f64(), processing, op))
            })
        };
        match res {
            Ok((s, t)) => {
                committed += 1;
                st.result.insert(key.clone(), s.result);
                if let Some(n) = s.next {
                    st.next.insert(key.clone(), json!(n));
                }
                if let Some(t) = s.total {
                    st.total.insert(key.clone(), json!(t));
                }
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
    Ok(Success::plain(json!({
        "result": Value::Object(st.result),
        "result_error": Value::Object(st.error),
        "result_total": Value::Object(st.total),
        "result_next": Value::Object(st.next),
        "result_time": Value::Object(st.time),
    })))
}
