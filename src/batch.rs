//! `batch`: up to 50 commands per request; longer lists are split transparently, results keep
//! the caller's names, and every per-command error is reported, never dropped.

use crate::client::{validate_method, Client, Repeat, Response};
use crate::error::{Error, ErrorKind};
use serde_json::{json, Map, Value};

/// Bitrix runs at most this many commands per `batch` request.
pub const BATCH_LIMIT: usize = 50;

/// One command: its name and its `method?query` text.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The caller's name for it (array input: its index).
    pub name: String,
    /// The method name.
    pub method: String,
    /// `method?query` as Bitrix expects it.
    pub text: String,
}

/// The merged outcome of a (possibly split) batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    /// Bitrix's five maps, keyed by command name: `result`, `result_error`, `result_total`,
    /// `result_next`, `result_time`.
    pub maps: Map<String, Value>,
    /// Commands that did not run (after a failure with `halt`): safe to send again.
    pub not_executed: Vec<String>,
    /// How many commands failed.
    pub failed: usize,
}

/// The five maps of a batch answer, in Bitrix's order.
const MAP_KEYS: [&str; 5] = [
    "result",
    "result_error",
    "result_total",
    "result_next",
    "result_time",
];

impl BatchOutcome {
    fn map(&self, key: &str) -> &Map<String, Value> {
        static EMPTY: once_cell::sync::Lazy<Map<String, Value>> =
            once_cell::sync::Lazy::new(Map::new);
        self.maps
            .get(key)
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }

    /// The result of each command that succeeded, by name.
    pub fn results(&self) -> &Map<String, Value> {
        self.map("result")
    }

    /// The `total` command `name` reported, if any.
    pub fn total_of(&self, name: &str) -> Option<u64> {
        let v = self.map("result_total").get(name)?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    }

    /// The error of command `name`, if it failed.
    pub fn error_of(&self, name: &str) -> Option<Error> {
        self.map("result_error").get(name).map(entry_error)
    }

    /// The error of the first failed command, if any.
    pub fn first_error(&self) -> Option<Error> {
        self.map("result_error").values().next().map(entry_error)
    }
}

/// A per-command error entry (`{"error","error_description"}`) as an [`Error`].
pub fn entry_error(v: &Value) -> Error {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // Per-command errors carry no HTTP status of their own; 400 is what Bitrix uses for them.
    crate::client::bitrix_error(400, &text("error"), &text("error_description"))
}

/// Parses commands: a JSON object name → command or an array of commands, where a command is
/// `"method?query"` or `{"method": "...", "params": {...}}`.
pub fn parse_commands(input: &Value) -> Result<Vec<Command>, Error> {
    let entries: Vec<(String, &Value)> = match input {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => {
            return Err(Error::invalid_input(
                "INVALID_COMMANDS",
                "commands must be a JSON object or array",
            ))
        }
    };
    if entries.is_empty() {
        return Err(Error::invalid_input(
            "INVALID_COMMANDS",
            "no commands given",
        ));
    }
    entries
        .into_iter()
        .map(|(name, v)| {
            if name.is_empty() || name.len() > 100 || name.contains(['[', ']', '&', '=', '?', '$'])
            {
                return Err(Error::invalid_input(
                    "INVALID_COMMANDS",
                    format!("command name {name:?} is not allowed"),
                ));
            }
            let (method, text) = match v {
                Value::String(s) => {
                    let method = s.split('?').next().unwrap_or("").to_string();
                    (method, s.clone())
                }
                Value::Object(o) => {
                    let method = o
                        .get("method")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let query = match o.get("params") {
                        None | Some(Value::Null) => String::new(),
                        Some(p @ Value::Object(_)) => {
                            refuse_references(&name, p)?;
                            php_query(p)
                        }
                        Some(_) => {
                            return Err(Error::invalid_input(
                                "INVALID_COMMANDS",
                                format!("command {name:?}: params must be an object"),
                            ))
                        }
                    };
                    let text = if query.is_empty() {
                        method.clone()
                    } else {
                        format!("{method}?{query}")
                    };
                    (method, text)
                }
                _ => {
                    return Err(Error::invalid_input(
                        "INVALID_COMMANDS",
                        format!(
                        "command {name:?} must be \"method?query\" or {{\"method\",\"params\"}}"
                    ),
                    ))
                }
            };
            validate_method(&method).map_err(|e| {
                Error::invalid_input(
                    "INVALID_COMMANDS",
                    format!("command {name:?}: {}", e.description),
                )
            })?;
            if method.eq_ignore_ascii_case("batch") {
                return Err(Error::invalid_input(
                    "INVALID_COMMANDS",
                    format!("command {name:?}: batch cannot be nested"),
                ));
            }
            let (method, text) = without_json_suffix(method, text);
            Ok(Command { name, method, text })
        })
        .collect()
}

/// `crm.contact.get.json` → `crm.contact.get`. The portal strips the `.json` suffix from a
/// request's URL, not from a batch's sub-commands: `CRestProvider::batch` (rest_provider.php)
/// takes a command's `parse_url` path as the method name, trying it in lower case and as given,
/// so a `.json` command would be `ERROR_METHOD_NOT_FOUND` there.
fn without_json_suffix(method: String, text: String) -> (String, String) {
    let cut = method.len().saturating_sub(".json".len());
    match method.get(cut..) {
        Some(tail) if cut > 0 && tail.eq_ignore_ascii_case(".json") => {
            let rest = text.get(method.len()..).unwrap_or("");
            let bare = method[..cut].to_string();
            let text = format!("{bare}{rest}");
            (bare, text)
        }
        _ => (method, text),
    }
}

/// Structured params are data: a value the portal would expand as a reference would be stored
/// altered, so it is refused (references belong in `"method?query"` string commands).
fn refuse_references(name: &str, params: &Value) -> Result<(), Error> {
    match references_in(params) {
        None => Ok(()),
        Some(text) => {
            let shown: String = text.chars().take(60).collect();
            Err(Error::invalid_input(
                "INVALID_COMMANDS",
                format!(
                    "command {name:?}: the params value {shown:?} contains a batch reference \
                     ($result[, $next[, $total[, $time[ or $error[), which the portal would \
                     replace inside a batch; write the command as \"method?query\" to use \
                     references, or send this call on its own"
                ),
            ))
        }
    }
}

/// Runs the commands, 50 per request. With `halt`, the first failure stops everything after it.
pub fn run(client: &Client, commands: &[Command], halt: bool) -> Result<BatchOutcome, Error> {
    check_references(commands)?;
    let mut out = BatchOutcome::default();
    for key in MAP_KEYS {
        out.maps.insert(key.into(), Value::Object(Map::new()));
    }
    let chunks: Vec<&[Command]> = commands.chunks(BATCH_LIMIT).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let repeat = if chunk
            .iter()
            .all(|c| Repeat::of_method(&c.method) == Repeat::Safe)
        {
            Repeat::Safe
        } else {
            Repeat::Unsafe
        };
        let cmd: Map<String, Value> = chunk
            .iter()
            .map(|c| (c.name.clone(), Value::String(c.text.clone())))
            .collect();
        pace_chunk(client, chunk);
        let answer = client.call_with(
            "batch",
            &json!({ "halt": if halt { 1 } else { 0 }, "cmd": cmd }),
            repeat,
        );
        let value = match answer.and_then(|r| envelope(r, repeat)) {
            Ok(r) => r,
            // A chunk that failed as a whole: earlier chunks' results are kept and reported.
            Err(e) if i > 0 => {
                let rest: Vec<String> = chunks[i..]
                    .iter()
                    .flat_map(|c| c.iter().map(|c| c.name.clone()))
                    .collect();
                let details =
                    json!({ "partial": partial_json(&out), "not_executed_or_unknown": rest });
                return Err(e.with_details(details));
            }
            Err(e) => return Err(e),
        };
        note_operating(client, chunk, &value);
        let mut failed_here = false;
        for key in MAP_KEYS {
            let src = as_map(value.get(key));
            let dst = out
                .maps
                .get_mut(key)
                .and_then(Value::as_object_mut)
                .expect("map created above");
            for (name, mut v) in src {
                if key == "result_error" {
                    failed_here = true;
                    out.failed += 1;
                    v = enrich_error(v);
                }
                dst.insert(name, v);
            }
        }
        let done = |name: &str| {
            ["result", "result_error"].iter().any(|k| {
                out.maps[*k]
                    .as_object()
                    .is_some_and(|m| m.contains_key(name))
            })
        };
        let missing: Vec<String> = chunk
            .iter()
            .filter(|c| !done(&c.name))
            .map(|c| c.name.clone())
            .collect();
        out.not_executed.extend(missing);
        if halt && failed_here {
            out.not_executed.extend(
                chunks[i + 1..]
                    .iter()
                    .flat_map(|c| c.iter().map(|c| c.name.clone())),
            );
            break;
        }
    }
    Ok(out)
}

/// Waits, before a chunk goes, as long as the operating budgets of its sub-calls' methods ask
/// (the portal bills each sub-call to its own method), within the operation's deadline.
fn pace_chunk(client: &Client, chunk: &[Command]) {
    let mut calls: Vec<(&str, usize)> = Vec::new();
    for c in chunk {
        match calls
            .iter_mut()
            .find(|(m, _)| m.eq_ignore_ascii_case(&c.method))
        {
            Some((_, n)) => *n += 1,
            None => calls.push((&c.method, 1)),
        }
    }
    let wait = client.operating_pace(&calls);
    let wait = crate::client::deadline::current().map_or(wait, |d| {
        wait.min(d.saturating_duration_since(std::time::Instant::now()))
    });
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
}

/// Takes in each sub-call's `result_time` (its own operating figures) and notes the sub-calls
/// refused for their method's operating limit.
fn note_operating(client: &Client, chunk: &[Command], value: &Value) {
    let times = value.get("result_time").and_then(Value::as_object);
    let errors = value.get("result_error").and_then(Value::as_object);
    for c in chunk {
        if let Some(t) = times.and_then(|m| m.get(&c.name)) {
            client.note_operating(&c.method, &crate::client::Time::of(t));
        }
        let code = errors
            .and_then(|m| m.get(&c.name))
            .and_then(|e| e.get("error"))
            .and_then(Value::as_str);
        if code.is_some_and(|c| c.eq_ignore_ascii_case("OPERATION_TIME_LIMIT")) {
            client.note_blocked(&c.method);
        }
    }
}

/// A batch answer must carry its `result` and `result_error` maps (an empty one is `[]`).
/// Anything else says nothing about which commands ran, and must not read as "none did": for a
/// batch holding writes it is `OUTCOME_UNKNOWN` (an answer came, so nothing is still running).
fn envelope(resp: Response, repeat: Repeat) -> Result<Value, Error> {
    let value = resp.value()?;
    let is_map = |k: &str| value.get(k).is_some_and(|v| v.is_object() || v.is_array());
    if is_map("result") && is_map("result_error") {
        return Ok(value);
    }
    let shown: String = resp.result.get().chars().take(120).collect();
    let e = Error::new(
        ErrorKind::Protocol,
        "INVALID_RESPONSE",
        format!("the batch answer has no result/result_error maps: {shown}"),
    )
    .with_status(200);
    Err(match repeat {
        Repeat::Unsafe => Error::outcome_unknown(e),
        Repeat::Safe => e,
    })
}

fn partial_json(out: &BatchOutcome) -> Value {
    Value::Object(out.maps.clone())
}

/// PHP serialises a map with keys 0..n-1 as a JSON array; give callers one shape.
fn as_map(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        _ => Map::new(),
    }
}

/// Adds the library's `kind` to a per-command error, keeping Bitrix's own keys.
fn enrich_error(v: Value) -> Value {
    let kind = entry_error(&v).kind;
    let mut m = match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("error".into(), other);
            m
        }
    };
    m.insert("kind".into(), json!(kind.as_str()));
    Value::Object(m)
}

/// `$result[name]...` references resolve only inside one request; a reference across the
/// 50-command split would silently resolve to something else on the portal.
fn check_references(commands: &[Command]) -> Result<(), Error> {
    if commands.len() <= BATCH_LIMIT {
        return Ok(());
    }
    for (i, c) in commands.iter().enumerate() {
        let lower = c.text.to_ascii_lowercase();
        for prefix in ["$result[", "$next[", "$total[", "$time[", "$error["] {
            let mut rest = lower.as_str();
            let mut guard = 0;
            while let Some(pos) = rest.find(prefix) {
                guard += 1;
                if guard > 1000 {
                    break;
                }
                let after = &rest[pos + prefix.len()..];
                let target = after.split(']').next().unwrap_or("");
                if let Some(j) = commands
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(target))
                {
                    if j / BATCH_LIMIT != i / BATCH_LIMIT {
                        return Err(Error::invalid_input(
                            "CROSS_BATCH_REFERENCE",
                            format!("command {:?} refers to {:?}, which lands in another request of 50; keep chained commands within 50", c.name, commands[j].name),
                        ));
                    }
                }
                rest = after;
            }
        }
    }
    Ok(())
}

/// The reference kinds the portal expands inside batch commands (§5), case-insensitively.
const REFERENCE_KINDS: [&str; 5] = ["result", "next", "total", "time", "error"];

/// True when the portal would treat part of `s` as a reference to an earlier command's result
/// (`$result[`, `$next[`, `$total[`, `$time[`, `$error[`, any case) if `s` travelled inside a
/// batch command: it expands such text anywhere in a value, so the value would be stored
/// altered.
pub fn is_reference(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.match_indices('$').any(|(i, _)| {
        let after = &lower[i + 1..];
        REFERENCE_KINDS
            .iter()
            .any(|k| after.strip_prefix(k).is_some_and(|r| r.starts_with('[')))
    })
}

/// The first key or string value in `v` that the portal would expand inside a batch command.
pub fn references_in(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => is_reference(s).then(|| s.clone()),
        Value::Array(a) => a.iter().find_map(references_in),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if is_reference(k) {
                Some(k.clone())
            } else {
                references_in(x)
            }
        }),
        _ => None,
    }
}

/// Encodes parameters the way PHP's `http_build_query` does (`a[b][0]=x`), percent-encoding
/// everything but unreserved characters, so `+` in phone numbers survives.
pub fn php_query(params: &Value) -> String {
    let mut parts = Vec::new();
    if let Value::Object(m) = params {
        for (k, v) in m {
            encode_into(&mut parts, &pct(k), v);
        }
    }
    parts.join("&")
}

fn encode_into(parts: &mut Vec<String>, prefix: &str, v: &Value) {
    match v {
        Value::Null => {} // PHP skips nulls; sending "" would clear the field instead
        Value::Bool(b) => parts.push(format!("{prefix}={}", if *b { 1 } else { 0 })),
        // `1e+16`: a bare `+` in a query string is a space to PHP, so numbers are encoded too.
        Value::Number(n) => parts.push(format!("{prefix}={}", pct(&n.to_string()))),
        Value::String(s) => parts.push(format!("{prefix}={}", pct(s))),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                encode_into(parts, &format!("{prefix}%5B{i}%5D"), x);
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                encode_into(parts, &format!("{prefix}%5B{}%5D", pct(k)), x);
            }
        }
    }
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding() {
        let q = php_query(
            &json!({"id": 5, "fields": {"PHONE": [{"VALUE": "+374 98", "VALUE_TYPE": "WORK"}], "X": null, "B": true}}),
        );
        assert_eq!(q, "id=5&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B374%2098&fields%5BPHONE%5D%5B0%5D%5BVALUE_TYPE%5D=WORK&fields%5BB%5D=1");
    }

    #[test]
    fn commands() {
        let c = parse_commands(
            &json!({"a": "crm.contact.get?id=1", "b": {"method": "user.get", "params": {"ID": 1}}}),
        )
        .unwrap();
        assert_eq!(c[1].text, "user.get?ID=1");
        let c = parse_commands(&json!(["scope", "user.get"])).unwrap();
        assert_eq!(c[1].name, "1");
        let c =
            parse_commands(&json!(["crm.contact.get.JSON?id=1", {"method": "scope.json"}, "json"]))
                .unwrap();
        let got: Vec<(&str, &str)> = c
            .iter()
            .map(|c| (c.method.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("crm.contact.get", "crm.contact.get?id=1"),
                ("scope", "scope"),
                ("json", "json")
            ]
        );
        assert!(parse_commands(&json!({"a": "../x"})).is_err());
        assert!(parse_commands(&json!({"a": "batch?cmd[x]=scope"})).is_err());
        assert!(parse_commands(&json!({})).is_err());
        assert!(parse_commands(&json!({"a": 5})).is_err());
    }

    #[test]
    fn reference_text() {
        for yes in [
            "$result[a]",
            "x $Total[g0] y",
            "$ERROR[",
            "a$next[0][ID]",
            "$time[x]",
        ] {
            assert!(is_reference(yes), "{yes}");
        }
        for no in [
            "$result",
            "$ result[a]",
            "result[a]",
            "$results[a]",
            "$",
            "US$100 [net]",
        ] {
            assert!(!is_reference(no), "{no}");
        }
        assert_eq!(
            references_in(&json!({"fields": {"PHONE": [{"VALUE": "+1 $next[x]"}]}})),
            Some("+1 $next[x]".to_string())
        );
        assert_eq!(
            references_in(&json!({"fields": {"NAME": "Ann", "N": 5}})),
            None
        );
        let e =
            parse_commands(&json!({"c": {"method": "user.get", "params": {"ID": "$result[a]"}}}))
                .unwrap_err();
        assert!(e.description.contains("\"c\""), "{}", e.description);
        assert!(parse_commands(&json!({"c": "user.get?ID=$result[a]"})).is_ok());
    }

    #[test]
    fn cross_chunk_reference_rejected() {
        let mut v = Map::new();
        for i in 0..60 {
            v.insert(format!("c{i}"), json!("user.get"));
        }
        v.insert("late".into(), json!("user.get?ID=$result[c0][0][ID]"));
        let c = parse_commands(&Value::Object(v)).unwrap();
        assert_eq!(
            check_references(&c).unwrap_err().code,
            "CROSS_BATCH_REFERENCE"
        );
    }
}
