//! REST routing, check order, parameters, envelopes and `batch` (reference §1–§5).

use crate::api::{ApiError, CallResult, Success};
use crate::http::{Reply, Request, Response};
use crate::users::UserScope;
use crate::{faults, lock, php, time, EntityKind, FaultAction, Shared};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Max executed sub-commands of one batch (`CRestUtil::BATCH_MAX_LENGTH`).
const BATCH_MAX: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CrmOp {
    Add,
    Update,
    Get,
    Delete,
    List,
    Fields,
    UfList,
    Links,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum M {
    Scope,
    Methods,
    ServerTime,
    Profile,
    Batch,
    UserGet,
    UserCurrent,
    Crm(EntityKind, CrmOp),
}

const METHOD_NAMES: &[&str] = &[
    "batch",
    "scope",
    "methods",
    "server.time",
    "profile",
    "user.get",
    "user.current",
    "crm.contact.add",
    "crm.contact.update",
    "crm.contact.get",
    "crm.contact.delete",
    "crm.contact.list",
    "crm.contact.fields",
    "crm.contact.userfield.list",
    "crm.contact.company.items.get",
    "crm.company.add",
    "crm.company.update",
    "crm.company.get",
    "crm.company.delete",
    "crm.company.list",
    "crm.company.fields",
    "crm.company.userfield.list",
    "crm.company.contact.items.get",
];

fn lookup(name: &str) -> Option<M> {
    use CrmOp::*;
    use EntityKind::*;
    Some(match name {
        "batch" => M::Batch,
        "scope" => M::Scope,
        "methods" => M::Methods,
        "server.time" => M::ServerTime,
        "profile" => M::Profile,
        "user.get" => M::UserGet,
        "user.current" => M::UserCurrent,
        _ => {
            let (kind, op) = if let Some(r) = name.strip_prefix("crm.contact.") {
                (Contact, r)
            } else if let Some(r) = name.strip_prefix("crm.company.") {
                (Company, r)
            } else {
                return None;
            };
            let op = match (kind, op) {
                (_, "add") => Add,
                (_, "update") => Update,
                (_, "get") => Get,
                (_, "delete") => Delete,
                (_, "list") => List,
                (_, "fields") => Fields,
                (_, "userfield.list") => UfList,
                (Contact, "company.items.get") | (Company, "contact.items.get") => Links,
                _ => return None,
            };
            M::Crm(kind, op)
        }
    })
}

/// Lower-case first, then the name as sent (§1.1).
fn resolve(name: &str) -> Option<M> {
    lookup(&name.to_lowercase()).or_else(|| lookup(name))
}

fn has_scope(sh: &Shared, s: &str) -> bool {
    sh.cfg.scopes.iter().any(|x| x == s)
}

fn scope_ok(sh: &Shared, m: M) -> bool {
    match m {
        M::Crm(..) => has_scope(sh, "crm"),
        M::UserGet | M::UserCurrent => {
            has_scope(sh, "user") || has_scope(sh, "user_basic") || has_scope(sh, "user_brief")
        }
        _ => true,
    }
}

fn user_scope(sh: &Shared) -> UserScope {
    if has_scope(sh, "user") {
        UserScope::Full
    } else {
        UserScope::Reduced
    }
}

fn insufficient_scope() -> ApiError {
    ApiError::new(
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    )
}

/// Run a (non-batch) method.
fn exec(sh: &Shared, m: M, params: &Map<String, Value>, start: Option<&Value>) -> CallResult {
    match m {
        M::Scope => {
            let full = params.get("full").map(php::truthy).unwrap_or(false);
            let l: Vec<Value> = if full {
                ["crm", "user", "user_basic", "user_brief"]
                    .iter()
                    .map(|s| json!(s))
                    .collect()
            } else {
                sh.cfg.scopes.iter().map(|s| json!(s)).collect()
            };
            Ok(Success::plain(Value::Array(l)))
        }
        M::Methods => Ok(Success::plain(json!(METHOD_NAMES))),
        M::ServerTime => Ok(Success::plain(json!(time::iso(time::now_secs())))),
        M::Batch => Err(ApiError::new(
            405,
            "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "Method is not allowed for batch usage",
        )),
        M::Profile => lock(&sh.store).profile(),
        M::UserGet => lock(&sh.store).user_get(params, start, user_scope(sh)),
        M::UserCurrent => lock(&sh.store).user_current(user_scope(sh)),
        M::Crm(kind, op) => {
            let mut st = lock(&sh.store);
            match op {
                CrmOp::Add => st.add(kind, params),
                CrmOp::Update => st.update(kind, params),
                CrmOp::Get => st.get(kind, params),
                CrmOp::Delete => st.delete(kind, params),
                CrmOp::List => st.list(kind, params, start),
                CrmOp::Fields => st.fields(kind),
                CrmOp::UfList => st.userfield_list(kind, params),
                CrmOp::Links => st.link_items(kind, params),
            }
        }
    }
}

fn time_obj(start: f64, finish: f64, processing: f64, op: Option<(f64, Option<i64>)>) -> Value {
    let mut t = Map::new();
    t.insert("start".into(), json!(round6(start)));
    t.insert("finish".into(), json!(round6(finish)));
    t.insert("duration".into(), json!(finish - start));
    t.insert("processing".into(), json!(processing));
    t.insert("date_start".into(), json!(time::iso(start as i64)));
    t.insert("date_finish".into(), json!(time::iso(finish as i64)));
    if let Some((sum, reset)) = op {
        if let Some(r) = reset {
            t.insert("operating_reset_at".into(), json!(r));
        }
        t.insert("operating".into(), json!(sum));
    }
    Value::Object(t)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn envelope(s: &Success, time: Value) -> Value {
    let mut m = Map::new();
    m.insert("result".into(), s.result.clone());
    if let Some(n) = s.next {
        m.insert("next".into(), json!(n));
    }
    if let Some(t) = s.total {
        m.insert("total".into(), json!(t));
    }
    m.insert("time".into(), time);
    Value::Object(m)
}

fn error_value(e: &ApiError) -> Value {
    json!({"error": e.code, "error_description": e.desc})
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Json,
    Xml,
}

fn std_headers(extra: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut h = vec![
        ("Access-Control-Allow-Origin".to_string(), "*".to_string()),
        (
            "Access-Control-Allow-Headers".to_string(),
            "origin, content-type, accept".to_string(),
        ),
        ("X-Content-Type-Options".to_string(), "nosniff".to_string()),
    ];
    h.extend(extra);
    h
}

fn render(status: u16, v: &Value, tr: Transport, extra: Vec<(String, String)>) -> Response {
    match tr {
        Transport::Json => Response {
            status,
            content_type: "application/json; charset=utf-8",
            headers: std_headers(extra),
            body: php::json_encode(v).into_bytes(),
        },
        Transport::Xml => {
            let mut s = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><response>");
            xml_into(v, &mut s);
            s.push_str("</response>");
            Response {
                status,
                content_type: "text/xml; charset=utf-8",
                headers: std_headers(extra),
                body: s.into_bytes(),
            }
        }
    }
}

fn xml_into(v: &Value, out: &mut String) {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let tag = if php::int_key(k).is_some() {
                    "item".to_string()
                } else {
                    k.clone()
                };
                out.push_str(&format!("<{tag}>"));
                xml_into(x, out);
                out.push_str(&format!("</{tag}>"));
            }
        }
        Value::Array(a) => {
            for x in a {
                out.push_str("<item>");
                xml_into(x, out);
                out.push_str("</item>");
            }
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => {}
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&esc(s)),
    }
}

pub(crate) fn err_reply(e: &ApiError, tr: Transport) -> Reply {
    Reply::Send(render(e.status, &error_value(e), tr, vec![]))
}

pub(crate) fn html(status: u16, title: &str) -> Response {
    Response {
        status,
        content_type: "text/html; charset=utf-8",
        headers: vec![],
        body: format!(
            "<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head><body><center><h1>{status} {title}</h1></center><hr><center>nginx</center></body></html>\n"
        )
        .into_bytes(),
    }
}

/// Query string + body, body keys replacing query keys (§1.2).
fn params_of(req: &Request, query: &str) -> Map<String, Value> {
    let mut p = php::parse_str(query);
    if !req.method.eq_ignore_ascii_case("POST") || req.body.is_empty() {
        return p;
    }
    let ct = req
        .header("Content-Type")
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let body_str = || String::from_utf8_lossy(&req.body).into_owned();
    let mut body: Map<String, Value> = match ct.as_str() {
        "application/x-www-form-urlencoded" => php::parse_str(&body_str()),
        "multipart/form-data" => multipart(req),
        _ => Map::new(),
    };
    if body.is_empty() {
        // PHP found no form fields: parse the raw body by Content-Type.
        body = if ct == "application/json" {
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(v @ (Value::Object(_) | Value::Array(_))) => crate::crm::to_map(&v),
                _ => Map::new(), // invalid JSON means "no parameters"
            }
        } else {
            php::parse_str(&body_str())
        };
    }
    for (k, v) in body {
        p.insert(k, v);
    }
    p
}

/// Text fields of a multipart body, registered with PHP naming rules (file parts are ignored).
fn multipart(req: &Request) -> Map<String, Value> {
    let ct = req.header("Content-Type").unwrap_or("");
    let Some(b) = ct
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
    else {
        return Map::new();
    };
    let delim = format!("--{}", b.trim_matches('"'));
    let body = String::from_utf8_lossy(&req.body);
    let mut q = String::new();
    for part in body.split(delim.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some(he) = part.find("\r\n\r\n") else {
            continue;
        };
        let (head, val) = (&part[..he], &part[he + 4..]);
        let val = val.strip_suffix("\r\n").unwrap_or(val);
        let disp = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        if disp.contains("filename=") {
            continue;
        }
        let Some(n) = disp
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))
        else {
            continue;
        };
        let n = n.trim_matches('"');
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(&pct(n));
        q.push('=');
        q.push_str(&pct(val));
    }
    php::parse_str(&q)
}

fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.[]".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn op_status(sh: &Shared, method: &str) -> Option<(f64, Option<i64>)> {
    sh.cfg.operating_limit_secs?;
    Some(lock(&sh.operating).status(method, time::now_f64()))
}

/// Entry point for every parsed HTTP request.
pub fn handle(sh: &Shared, req: &Request) -> Reply {
    let t0 = time::now_f64();
    let (path, query) = match req.target.find('?') {
        Some(p) => (&req.target[..p], &req.target[p + 1..]),
        None => (req.target.as_str(), ""),
    };
    if path.ends_with("/show_file.php") {
        return Reply::Send(download(sh, query));
    }
    let Some(rest) = path.strip_prefix("/rest/") else {
        return Reply::Send(html(404, "Not Found"));
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let segs: &[&str] = match segs.last() {
        Some(&"") => &segs[..segs.len() - 1],
        _ => &segs,
    };
    let (cred, raw_name) = match segs {
        [m] => (None, php::urldecode(m)),
        [u, s, m] => (Some((*u, *s)), php::urldecode(m)),
        _ => (None, String::new()),
    };
    let (name, tr) = if let Some(n) = raw_name.strip_suffix(".json") {
        (n.to_string(), Transport::Json)
    } else if let Some(n) = raw_name.strip_suffix(".xml") {
        (n.to_string(), Transport::Xml)
    } else {
        (raw_name.clone(), Transport::Json)
    };
    let lc = name.to_lowercase();
    *lock(&sh.stats).by_method.entry(lc.clone()).or_insert(0) += 1;

    let hit = faults::take(sh, &lc);
    if let Some(r) = hit
        .as_ref()
        .and_then(|h| faults::before(&h.action, req, tr))
    {
        faults::record(sh, &lc, hit.as_ref(), false);
        return r;
    }
    let action = hit.as_ref().map(|h| &h.action);
    let reply = rest_call(sh, req, query, cred, &name, &lc, tr, t0, action);
    faults::record(sh, &lc, hit.as_ref(), faults::executed(&reply));
    match action {
        Some(a) => faults::after(a, req, &lc, reply),
        None => reply,
    }
}

#[allow(clippy::too_many_arguments)]
fn rest_call(
    sh: &Shared,
    req: &Request,
    query: &str,
    cred: Option<(&str, &str)>,
    name: &str,
    lc: &str,
    tr: Transport,
    t0: f64,
    fault: Option<&FaultAction>,
) -> Reply {
    // The infrastructure limiter sits in front of PHP (§8.3).
    {
        let (ok, level) = lock(&sh.bucket).take();
        let mut st = lock(&sh.stats);
        if level > st.max_bucket_level {
            st.max_bucket_level = level;
        }
        if !ok {
            st.limited += 1;
            return err_reply(
                &ApiError::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
                tr,
            );
        }
    }
    let Some(m) = resolve(name) else {
        return err_reply(&ApiError::not_found(), tr);
    };
    let mut params = params_of(req, query);
    if sh.cfg.require_https
        && !req
            .header("X-Forwarded-Proto")
            .map(|p| p.eq_ignore_ascii_case("https"))
            .unwrap_or(false)
    {
        return err_reply(
            &ApiError::new(401, "INVALID_REQUEST", "Https required."),
            tr,
        );
    }
    match cred {
        Some((u, s)) => {
            if u != sh.cfg.user_id || s != sh.cfg.secret {
                return err_reply(
                    &ApiError::new(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
                    tr,
                );
            }
        }
        None => {
            let e = if params.contains_key("auth") {
                ApiError::new(401, "invalid_token", "Unable to get application by token")
            } else {
                ApiError::new(401, "NO_AUTH_FOUND", "Wrong authorization data")
            };
            return err_reply(&e, tr);
        }
    }
    if !scope_ok(sh, m) {
        return err_reply(&insufficient_scope(), tr);
    }
    if !lock(&sh.store).webhook_user_active() {
        return err_reply(
            &ApiError::new(401, "authorization_error", "Unable to authorize user"),
            tr,
        );
    }
    if let Some(limit) = sh.cfg.operating_limit_secs {
        let (sum, _) = lock(&sh.operating).status(lc, time::now_f64());
        if sum > limit {
            return err_reply(&ApiError::operation_time_limit(), tr);
        }
    }
    // Reserved/auth parameters never reach the method.
    for k in ["auth", "state", "aplogin", "ap"] {
        params.remove(k);
    }
    let start = params.remove("start");
    let p0 = Instant::now();
    if let Some(FaultAction::Delay(d)) = fault {
        if let Some(cut) = delay_or_cut_off(sh, *d) {
            return cut;
        }
    }
    let res = if m == M::Batch {
        Ok(batch(sh, &params))
    } else {
        exec(sh, m, &params, start.as_ref())
    };
    let processing = p0.elapsed().as_secs_f64();
    let t1 = time::now_f64();
    if sh.cfg.operating_limit_secs.is_some() {
        lock(&sh.operating).add(lc, t1, processing);
    }
    match res {
        Ok(s) => {
            let t = time_obj(t0, t1, processing, op_status(sh, lc));
            let extra = vec![
                ("X-Bitrix-Rest-Time".to_string(), format!("{processing:.6}")),
                (
                    "X-Bitrix-Rest-User-Time".to_string(),
                    format!("{processing:.6}"),
                ),
                ("X-Bitrix-Rest-System-Time".to_string(), "0".to_string()),
            ];
            Reply::Send(render(200, &envelope(&s, t), tr, extra))
        }
        Err(e) => err_reply(&e, tr),
    }
}

/// Sleeps the injected processing time, or, when it would outlast the execution limit, only
/// up to the limit and answers what the cloud's gateway does then: an HTML 504, with nothing
/// executed (the request was killed before it committed).
fn delay_or_cut_off(sh: &Shared, d: Duration) -> Option<Reply> {
    match sh.cfg.execution_limit {
        Some(limit) if d > limit => {
            sleep_checked(sh, limit);
            Some(Reply::Send(html(504, "Gateway Time-out")))
        }
        _ => {
            sleep_checked(sh, d);
            None
        }
    }
}

fn sleep_checked(sh: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !sh.shutdown.load(std::sync::atomic::Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn download(sh: &Shared, query: &str) -> Response {
    let q = php::parse_str(query);
    let id = q.get("fileId").map(php::intval).unwrap_or(0);
    let st = lock(&sh.store);
    match st.file(id.max(0) as u64) {
        Some(f) => Response {
            status: 200,
            content_type: "application/octet-stream",
            headers: vec![(
                "Content-Disposition".into(),
                format!("attachment; filename=\"{}\"", f.name.replace('"', "")),
            )],
            body: f.bytes.clone(),
        },
        None => html(404, "Not Found"),
    }
}

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
fn batch(sh: &Shared, params: &Map<String, Value>) -> Success {
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
