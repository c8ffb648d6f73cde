//! Request parameters: query string and body merged as PHP and `CRestUtil::getRequestData` do
//! (reference §1.2, §1.3).

use crate::http::Request;
use crate::php;
use serde_json::{Map, Value};

/// Query string + body, body keys replacing query keys (§1.2).
pub(super) fn params_of(req: &Request, query: &str) -> Map<String, Value> {
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
