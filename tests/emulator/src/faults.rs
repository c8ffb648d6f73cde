//! Injected faults, queued and random: what is answered instead of running the method, what
//! happens to the answer of a method that ran, and the socket-level answers that are not one
//! plain response (README "Faults").

use crate::api::ApiError;
use crate::http::{head_with, Framing, Reply, Request, Response};
use crate::rest::{err_reply, html, Transport};
use crate::{lock, php, Echo, FaultAction, FaultRecord, HugeBody, RandomFaults, Shared};
use serde_json::Value;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A fault chosen for one request.
pub struct Hit {
    pub action: FaultAction,
    pub random: bool,
}

/// The random mode's settings and PRNG state.
pub struct Random {
    cfg: RandomFaults,
    state: u64,
}

impl Random {
    pub fn new(cfg: RandomFaults) -> Random {
        Random {
            state: cfg.seed,
            cfg,
        }
    }

    /// splitmix64: tiny, well mixed even for seeds 0, 1, 2, ...
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn matches(&self, method: &str) -> bool {
        match &self.cfg.methods {
            Some(ms) => ms.iter().any(|m| m.eq_ignore_ascii_case(method)),
            None => true,
        }
    }

    fn pick(&mut self, method: &str) -> Option<FaultAction> {
        if self.cfg.actions.is_empty() || !self.matches(method) {
            return None;
        }
        // 53 random bits give a uniform f64 in [0, 1).
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        if u >= self.cfg.probability {
            return None;
        }
        let i = (self.next() % self.cfg.actions.len() as u64) as usize;
        Some(self.cfg.actions[i].clone())
    }
}

/// The fault for this request: the first matching queued one, else a random draw.
pub fn take(sh: &Shared, method: &str) -> Option<Hit> {
    if let Some(action) = take_queued(sh, method) {
        return Some(Hit {
            action,
            random: false,
        });
    }
    let action = lock(&sh.random).as_mut()?.pick(method)?;
    Some(Hit {
        action,
        random: true,
    })
}

/// Pop the first queued fault matching `method` (consumed in queue order).
fn take_queued(sh: &Shared, method: &str) -> Option<FaultAction> {
    let mut q = lock(&sh.faults);
    let pos = q.iter().position(|f| {
        f.times > 0
            && f.method
                .as_deref()
                .map(|m| m.eq_ignore_ascii_case(method))
                .unwrap_or(true)
    })?;
    let f = &mut q[pos];
    f.times -= 1;
    let action = f.action.clone();
    if f.times == 0 {
        q.remove(pos);
    }
    Some(action)
}

/// The answer of a fault that does not let the method run; `None` for the others.
pub fn before(action: &FaultAction, req: &Request, tr: Transport) -> Option<Reply> {
    Some(match action {
        FaultAction::QueryLimit => err_reply(
            &ApiError::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
            tr,
        ),
        FaultAction::HtmlError(s) => Reply::Send(html(*s, "Error")),
        FaultAction::ResetBeforeExecute => Reply::Reset,
        FaultAction::EmptyBody(s) => Reply::Send(Response {
            status: *s,
            content_type: "text/html; charset=utf-8",
            headers: vec![],
            body: vec![],
        }),
        FaultAction::OperationTimeLimit => err_reply(&ApiError::operation_time_limit(), tr),
        FaultAction::EchoRequest(Echo::InError) => err_reply(
            &ApiError::core(&format!("SQL query error! Request: {}", req.target)),
            tr,
        ),
        FaultAction::Huge {
            bytes,
            body,
            chunked,
        } => Reply::Wire(Wire::Huge {
            bytes: *bytes,
            body: *body,
            chunked: *chunked,
        }),
        _ => return None,
    })
}

/// Whether the REST handler's answer means the method ran and succeeded: every check and
/// method error answers an error status, so 200 is exactly "executed and committed".
pub fn executed(reply: &Reply) -> bool {
    matches!(reply, Reply::Send(r) if r.status == 200)
}

/// Count one REST request in `Stats` (`hit` = the fault it got, if any).
pub fn record(sh: &Shared, method: &str, hit: Option<&Hit>, executed: bool) {
    let mut st = lock(&sh.stats);
    st.executed += executed as u64;
    let Some(h) = hit else {
        return;
    };
    st.faulted += 1;
    st.faulted_executed += executed as u64;
    st.random_faulted += h.random as u64;
    let c = st.by_fault.entry(h.action.name()).or_default();
    c.hits += 1;
    c.executed += executed as u64;
    st.fault_log.push(FaultRecord {
        method: method.to_string(),
        action: h.action.name(),
        executed,
        random: h.random,
    });
}

/// Apply a fault to the answer of a request that went through the REST handler.
pub fn after(action: &FaultAction, req: &Request, method: &str, reply: Reply) -> Reply {
    if *action == FaultAction::ResetAfterExecute {
        return Reply::Reset;
    }
    let Reply::Send(r) = reply else {
        return reply;
    };
    match action {
        FaultAction::TruncatedBody => Reply::Truncate(r),
        FaultAction::EmptyAfterExecute(s) => Reply::Send(Response {
            status: *s,
            body: vec![],
            ..r
        }),
        FaultAction::NonJsonAfterExecute(s) => Reply::Send(html(*s, page_title(*s))),
        FaultAction::CloseMidBody => Reply::Wire(Wire::CloseMidBody(r)),
        FaultAction::Trickle { bytes_per_sec } => Reply::Wire(Wire::Trickle(r, *bytes_per_sec)),
        FaultAction::EchoRequest(Echo::InResult) => {
            Reply::Send(echo(r, &req.target, method == "batch"))
        }
        _ => Reply::Send(r),
    }
}

fn page_title(status: u16) -> &'static str {
    match status {
        200 => "Network Login Required",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => "Error",
    }
}

/// Put `target` into a JSON answer (`Echo::InResult`); other bodies are left as they are.
fn echo(mut r: Response, target: &str, batch: bool) -> Response {
    if !r.content_type.starts_with("application/json") {
        return r;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&r.body) else {
        return r;
    };
    if let Some(res) = v.get_mut("result") {
        if batch {
            echo_batch(res, target);
        } else {
            echo_into(res, target);
        }
    }
    echo_description(&mut v, target);
    r.body = php::json_encode(&v).into_bytes();
    r
}

fn echo_batch(res: &mut Value, target: &str) {
    if let Some(m) = res.get_mut("result") {
        values_mut(m).into_iter().for_each(|x| echo_into(x, target));
    }
    if let Some(m) = res.get_mut("result_error") {
        values_mut(m)
            .into_iter()
            .for_each(|x| echo_description(x, target));
    }
}

/// Map values or list elements (PHP arrays keyed 0..n-1 arrive as lists).
fn values_mut(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Object(m) => m.values_mut().collect(),
        Value::Array(a) => a.iter_mut().collect(),
        _ => vec![],
    }
}

fn echo_into(v: &mut Value, target: &str) {
    let field = |m: &mut serde_json::Map<String, Value>| {
        m.insert("REQUEST_URI".into(), Value::from(target));
    };
    match v {
        Value::Object(m) => field(m),
        Value::Array(a) if a.iter().any(Value::is_object) => a
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(field),
        Value::Array(a) => a.push(Value::from(target)),
        _ => *v = Value::from(target),
    }
}

fn echo_description(v: &mut Value, target: &str) {
    if let Some(Value::String(d)) = v.get_mut("error_description") {
        d.push_str(&format!(" (request: {target})"));
    }
}

/// Answers written straight to the socket; the connection is closed afterwards.
pub enum Wire {
    CloseMidBody(Response),
    Trickle(Response, u64),
    Huge {
        bytes: u64,
        body: HugeBody,
        chunked: bool,
    },
}

/// Write a socket-level answer. An error means the client hung up, so it ends quietly.
pub fn write(w: Wire, s: &mut TcpStream, sh: &Shared) {
    let _ = match w {
        Wire::CloseMidBody(r) => close_mid_body(&r, s),
        Wire::Trickle(r, bps) => trickle(&r, bps, s, sh),
        Wire::Huge {
            bytes,
            body,
            chunked,
        } => huge(bytes, body, chunked, s, sh),
    };
}

fn close_mid_body(r: &Response, s: &mut TcpStream) -> io::Result<()> {
    let half = &r.body[..r.body.len() / 2];
    let mut out = head_with(
        r.status,
        r.content_type,
        &r.headers,
        Framing::Chunked,
        false,
    );
    out.extend_from_slice(format!("{:x}\r\n", half.len()).as_bytes());
    out.extend_from_slice(half);
    out.extend_from_slice(b"\r\n");
    s.write_all(&out)?;
    s.flush()
}

fn stopping(sh: &Shared) -> bool {
    sh.shutdown.load(Ordering::SeqCst)
}

fn trickle(r: &Response, bps: u64, s: &mut TcpStream, sh: &Shared) -> io::Result<()> {
    let len = Framing::Length(r.body.len() as u64);
    s.write_all(&head_with(r.status, r.content_type, &r.headers, len, false))?;
    // Tenth-second steps, or one byte per 1/bps seconds when slower than 10 B/s.
    let bps = bps.max(1);
    let step = (bps / 10).max(1) as usize;
    let pause = Duration::from_secs_f64(step as f64 / bps as f64);
    for piece in r.body.chunks(step) {
        if stopping(sh) {
            break;
        }
        std::thread::sleep(pause);
        s.write_all(piece)?;
    }
    Ok(())
}

/// (prefix, repeated unit, padding byte, suffix) of a huge body.
fn huge_parts(body: HugeBody) -> (&'static [u8], &'static [u8], u8, &'static [u8]) {
    match body {
        HugeBody::JsonArray => (b"{\"result\":[0", b",0", b' ', b"]}"),
        HugeBody::JsonString => (b"{\"result\":\"", b"x", b' ', b"\"}"),
        HugeBody::NonJson => (b"", b"x", b'x', b""),
    }
}

fn huge(
    bytes: u64,
    body: HugeBody,
    chunked: bool,
    s: &mut TcpStream,
    sh: &Shared,
) -> io::Result<()> {
    let (prefix, unit, pad, suffix) = huge_parts(body);
    let fixed = (prefix.len() + suffix.len()) as u64;
    let filler = bytes.saturating_sub(fixed);
    let (mut units, pad_len) = (filler / unit.len() as u64, filler % unit.len() as u64);
    let ct = match body {
        HugeBody::NonJson => "text/html; charset=utf-8",
        _ => "application/json; charset=utf-8",
    };
    let framing = match chunked {
        true => Framing::Chunked,
        false => Framing::Length(fixed + filler),
    };
    s.write_all(&head_with(200, ct, &[], framing, false))?;
    let mut out = Body { s, chunked };
    out.put(prefix)?;
    // One 64 KiB buffer of units, reused: the body is never held in memory.
    let per_buf = (64 * 1024 / unit.len()) as u64;
    let buf = unit.repeat(per_buf as usize);
    while units > 0 && !stopping(sh) {
        let n = units.min(per_buf);
        out.put(&buf[..n as usize * unit.len()])?;
        units -= n;
    }
    out.put(&vec![pad; pad_len as usize])?;
    out.put(suffix)?;
    out.end()
}

/// A body writer, raw or chunked.
struct Body<'a> {
    s: &'a mut TcpStream,
    chunked: bool,
}

impl Body<'_> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        if b.is_empty() {
            return Ok(()); // an empty chunk would end a chunked body
        }
        if self.chunked {
            self.s.write_all(format!("{:x}\r\n", b.len()).as_bytes())?;
            self.s.write_all(b)?;
            self.s.write_all(b"\r\n")
        } else {
            self.s.write_all(b)
        }
    }

    fn end(&mut self) -> io::Result<()> {
        if self.chunked {
            self.s.write_all(b"0\r\n\r\n")?;
        }
        self.s.flush()
    }
}
