//! A tiny raw-socket HTTP/1.1 client, so the tests see exactly what goes over the wire.
#![allow(dead_code)]

use b24_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// `result` of a 200 answer.
    pub fn result(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text());
        self.json()["result"].clone()
    }
}

/// An emulator without the rate bucket, for tests that are not about limits.
pub fn emu() -> Emulator {
    Emulator::start(EmulatorConfig {
        bucket: None,
        ..Default::default()
    })
    .unwrap()
}

pub fn connect(emu: &Emulator) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", emu.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Read one response; errors if the connection ends early.
pub fn read_resp(s: &mut TcpStream) -> io::Result<Resp> {
    read_resp_after(s, Vec::new())
}

/// Reads a response whose first bytes may already be in `buf` (a `100 Continue` and the final
/// answer can arrive in one read).
fn read_resp_after(s: &mut TcpStream, mut buf: Vec<u8>) -> io::Result<Resp> {
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let clen: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    if status == 100 {
        // An interim answer has no body: what follows it is the final answer.
        return read_resp_after(s, body);
    }
    while body.len() < clen {
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("eof in body: {} of {clen}", body.len()),
            ));
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// One request on a fresh connection.
pub fn raw(
    emu: &Emulator,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Resp> {
    let mut s = connect(emu);
    send(&mut s, method, target, headers, body)?;
    read_resp(&mut s)
}

pub fn send(
    s: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes)
}

/// The webhook path prefix, e.g. `/rest/1/secret/`.
pub fn hook(emu: &Emulator) -> String {
    emu.webhook_url()
        .trim_start_matches(&emu.base_url())
        .to_string()
}

/// POST a JSON body to a webhook method.
pub fn call(emu: &Emulator, method: &str, body: Value) -> Resp {
    let target = format!("{}{method}", hook(emu));
    raw(
        emu,
        "POST",
        &target,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap()
}

/// GET a webhook method with a raw query string.
pub fn get(emu: &Emulator, method_and_query: &str) -> Resp {
    let target = format!("{}{method_and_query}", hook(emu));
    raw(emu, "GET", &target, &[], b"").unwrap()
}

/// POST a form-encoded body.
pub fn form(emu: &Emulator, method: &str, body: &str) -> Resp {
    let target = format!("{}{method}", hook(emu));
    raw(
        emu,
        "POST",
        &target,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .unwrap()
}

/// Assert an error answer.
pub fn assert_err(r: &Resp, status: u16, code: &str, desc: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], Value::from(code), "{}", r.text());
    assert_eq!(v["error_description"], Value::from(desc), "{}", r.text());
    assert!(
        v.get("time").is_none(),
        "errors carry no time: {}",
        r.text()
    );
}

pub fn add_contact(emu: &Emulator, fields: Value) -> u64 {
    let r = call(
        emu,
        "crm.contact.add",
        serde_json::json!({ "fields": fields }),
    );
    r.result()
        .as_u64()
        .unwrap_or_else(|| panic!("{}", r.text()))
}
