//! Envelopes, the `time` object, JSON/XML rendering and error replies (reference §1.5, §1.6, §2.1).

use crate::api::{ApiError, Success};
use crate::http::{Reply, Response};
use crate::{php, time};
use serde_json::{json, Map, Value};

/// The `time` object (`CRestServer::appendDebugInfo`). The limiter is always active in the
/// cloud, so `operating_reset_at` and `operating` are always there (docs limits.md).
pub(super) fn time_obj(start: f64, finish: f64, processing: f64, op: (f64, i64)) -> Value {
    let mut t = Map::new();
    t.insert("start".into(), json!(round6(start)));
    t.insert("finish".into(), json!(round6(finish)));
    t.insert("duration".into(), json!(finish - start));
    t.insert("processing".into(), json!(processing));
    t.insert("date_start".into(), json!(time::iso(start as i64)));
    t.insert("date_finish".into(), json!(time::iso(finish as i64)));
    t.insert("operating_reset_at".into(), json!(op.1));
    t.insert("operating".into(), json!(op.0));
    Value::Object(t)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub(super) fn envelope(s: &Success, time: Value) -> Value {
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

pub(super) fn error_value(e: &ApiError) -> Value {
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

pub(super) fn render(
    status: u16,
    v: &Value,
    tr: Transport,
    extra: Vec<(String, String)>,
) -> Response {
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
