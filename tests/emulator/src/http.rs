//! A small HTTP/1.1 server on `std::net`: thread per connection, keep-alive, Content-Length and
//! chunked bodies, bounded sizes and timeouts. Hand-written so faults can act at socket level.

use crate::{lock, Shared};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 200;
const MAX_BODY: usize = 256 * 1024 * 1024;
const MAX_CONNS: usize = 1024;
/// Poll interval for the shutdown flag while a connection waits for bytes.
const POLL: Duration = Duration::from_millis(100);
const IDLE: Duration = Duration::from_secs(60);
const SLOW_REQUEST: Duration = Duration::from_secs(60);

pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How to answer at socket level.
pub enum Reply {
    Send(Response),
    /// Close with RST, answering nothing.
    Reset,
    /// Full Content-Length, half the body, then close.
    Truncate(Response),
    /// A fault's own socket-level answer, then close.
    Wire(crate::faults::Wire),
}

/// How a response head frames its body.
pub enum Framing {
    Length(u64),
    Chunked,
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let conn = listener.accept();
        if shared.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok((stream, _)) = conn else {
            // e.g. EMFILE: back off instead of spinning.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if shared.live_conns.load(Ordering::SeqCst) >= MAX_CONNS {
            drop(stream);
            continue;
        }
        shared.live_conns.fetch_add(1, Ordering::SeqCst);
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("b24-emulator-conn".into())
            .spawn(move || {
                let _ = serve_conn(stream, &sh);
                sh.live_conns.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.live_conns.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Conn<'a> {
    s: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    shared: &'a Shared,
}

enum ReadErr {
    /// Connection over (EOF, timeout, shutdown): just close.
    Closed,
    /// Malformed/oversized: answer this status and close.
    Bad(u16),
}

impl From<io::Error> for ReadErr {
    fn from(_: io::Error) -> Self {
        ReadErr::Closed
    }
}

impl Conn<'_> {
    /// Read more bytes into the buffer; `Closed` on EOF, shutdown or deadline.
    fn fill(&mut self, deadline: Instant, want: usize) -> Result<(), ReadErr> {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos > 64 * 1024) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        let chunk = want.clamp(16 * 1024, 1024 * 1024);
        self.buf.resize(old + chunk, 0);
        loop {
            if self.shared.shutdown.load(Ordering::SeqCst) || Instant::now() > deadline {
                self.buf.truncate(old);
                return Err(ReadErr::Closed);
            }
            match self.s.read(&mut self.buf[old..]) {
                Ok(0) => {
                    self.buf.truncate(old);
                    return Err(ReadErr::Closed);
                }
                Ok(n) => {
                    self.buf.truncate(old + n);
                    return Ok(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(_) => {
                    self.buf.truncate(old);
                    return Err(ReadErr::Closed);
                }
            }
        }
    }

    fn avail(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, ReadErr> {
        while self.avail().len() < n {
            let need = n - self.avail().len();
            self.fill(deadline, need)?;
        }
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }

    fn line(&mut self, deadline: Instant, max: usize) -> Result<String, ReadErr> {
        loop {
            if let Some(p) = self.avail().windows(2).position(|w| w == b"\r\n") {
                let l = String::from_utf8_lossy(&self.avail()[..p]).into_owned();
                self.pos += p + 2;
                return Ok(l);
            }
            if self.avail().len() > max {
                return Err(ReadErr::Bad(400));
            }
            self.fill(deadline, 0)?;
        }
    }

    fn read_request(&mut self) -> Result<Request, ReadErr> {
        let idle_deadline = Instant::now() + IDLE;
        // Skip stray CRLFs between requests, wait for the first byte.
        loop {
            while self.avail().starts_with(b"\r\n") {
                self.pos += 2;
            }
            if !self.avail().is_empty() && self.avail() != b"\r" {
                break;
            }
            self.fill(idle_deadline, 0)?;
        }
        let deadline = Instant::now() + SLOW_REQUEST;
        let head_end = loop {
            if let Some(p) = find(self.avail(), b"\r\n\r\n") {
                break p;
            }
            if self.avail().len() > MAX_HEAD {
                return Err(ReadErr::Bad(431));
            }
            self.fill(deadline, 0)?;
        };
        if head_end > MAX_HEAD {
            return Err(ReadErr::Bad(431));
        }
        let head = String::from_utf8_lossy(&self.avail()[..head_end]).into_owned();
        self.pos += head_end + 4;
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or("");
        let parts: Vec<&str> = first.split(' ').filter(|p| !p.is_empty()).collect();
        if parts.len() != 3 || !parts[2].starts_with("HTTP/1.") {
            return Err(ReadErr::Bad(400));
        }
        let http11 = parts[2] != "HTTP/1.0";
        let mut headers = Vec::new();
        for l in lines {
            if headers.len() >= MAX_HEADERS {
                return Err(ReadErr::Bad(431));
            }
            let Some(c) = l.find(':') else {
                return Err(ReadErr::Bad(400));
            };
            headers.push((l[..c].trim().to_string(), l[c + 1..].trim().to_string()));
        }
        let mut req = Request {
            method: parts[0].to_string(),
            target: parts[1].to_string(),
            headers,
            body: Vec::new(),
            keep_alive: http11,
        };
        if let Some(c) = req.header("Connection") {
            let c = c.to_ascii_lowercase();
            if c.contains("close") {
                req.keep_alive = false;
            } else if c.contains("keep-alive") {
                req.keep_alive = true;
            }
        }
        let chunked = req
            .header("Transfer-Encoding")
            .map(|t| t.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        let clen = match req.header("Content-Length") {
            Some(v) if !chunked => match v.trim().parse::<usize>() {
                Ok(n) => n,
                Err(_) => return Err(ReadErr::Bad(400)),
            },
            _ => 0,
        };
        if clen > MAX_BODY {
            return Err(ReadErr::Bad(413));
        }
        if (chunked || clen > 0)
            && req
                .header("Expect")
                .map(|e| e.eq_ignore_ascii_case("100-continue"))
                .unwrap_or(false)
        {
            self.s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        if chunked {
            let mut body = Vec::new();
            loop {
                let l = self.line(deadline, 1024)?;
                let size_s = l.split(';').next().unwrap_or("").trim();
                let Ok(size) = usize::from_str_radix(size_s, 16) else {
                    return Err(ReadErr::Bad(400));
                };
                if size == 0 {
                    // Trailers until an empty line.
                    for _ in 0..MAX_HEADERS {
                        if self.line(deadline, MAX_HEAD)?.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if body.len() + size > MAX_BODY {
                    return Err(ReadErr::Bad(413));
                }
                body.extend(self.take(size, deadline)?);
                if !self.line(deadline, 2)?.is_empty() {
                    return Err(ReadErr::Bad(400));
                }
            }
            req.body = body;
        } else if clen > 0 {
            req.body = self.take(clen, deadline)?;
        }
        Ok(req)
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn head_bytes(r: &Response, keep_alive: bool) -> Vec<u8> {
    let len = Framing::Length(r.body.len() as u64);
    head_with(r.status, r.content_type, &r.headers, len, keep_alive)
}

pub fn head_with(
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    framing: Framing,
    keep_alive: bool,
) -> Vec<u8> {
    let framing = match framing {
        Framing::Length(n) => format!("Content-Length: {n}"),
        Framing::Chunked => "Transfer-Encoding: chunked".to_string(),
    };
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nServer: b24-emulator\r\nContent-Type: {content_type}\r\n{framing}\r\nConnection: {}\r\n",
        reason(status),
        if keep_alive { "keep-alive" } else { "close" }
    );
    for (k, v) in headers {
        h.push_str(k);
        h.push_str(": ");
        h.push_str(v);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Close with RST (SO_LINGER 0) so the client sees "connection reset".
fn reset(s: TcpStream) {
    linger0(&s);
    drop(s);
}

#[cfg(unix)]
fn linger0(s: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    #[repr(C)]
    struct Linger {
        onoff: i32,
        linger: i32,
    }
    extern "C" {
        fn setsockopt(
            fd: i32,
            level: i32,
            name: i32,
            val: *const std::ffi::c_void,
            len: u32,
        ) -> i32;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const OPT: (i32, i32) = (1, 13);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const OPT: (i32, i32) = (0xffff, 0x80);
    let l = Linger {
        onoff: 1,
        linger: 0,
    };
    // SAFETY: valid fd owned by `s`, pointer to a properly sized struct for the call's duration.
    unsafe {
        setsockopt(
            s.as_raw_fd(),
            OPT.0,
            OPT.1,
            &l as *const Linger as *const std::ffi::c_void,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

#[cfg(windows)]
fn linger0(s: &TcpStream) {
    use std::os::windows::io::AsRawSocket;
    #[repr(C)]
    struct Linger {
        onoff: u16,
        linger: u16,
    }
    #[link(name = "ws2_32")]
    extern "system" {
        fn setsockopt(s: usize, level: i32, name: i32, val: *const u8, len: i32) -> i32;
    }
    let l = Linger {
        onoff: 1,
        linger: 0,
    };
    // SAFETY: valid socket owned by `s`, pointer to a properly sized struct for the call.
    unsafe {
        setsockopt(
            s.as_raw_socket() as usize,
            0xffff,
            0x0080,
            &l as *const Linger as *const u8,
            std::mem::size_of::<Linger>() as i32,
        );
    }
}

#[cfg(not(any(unix, windows)))]
fn linger0(_s: &TcpStream) {}

fn serve_conn(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut c = Conn {
        s: stream,
        buf: Vec::with_capacity(16 * 1024),
        pos: 0,
        shared,
    };
    for _ in 0..u64::MAX {
        let req = match c.read_request() {
            Ok(r) => r,
            Err(ReadErr::Closed) => return Ok(()),
            Err(ReadErr::Bad(status)) => {
                let r = Response {
                    status,
                    content_type: "text/html; charset=utf-8",
                    headers: vec![],
                    body: format!(
                        "<html><body><h1>{status} {}</h1></body></html>",
                        reason(status)
                    )
                    .into_bytes(),
                };
                let _ = c.s.write_all(&[head_bytes(&r, false), r.body].concat());
                return Ok(());
            }
        };
        lock(&shared.stats).requests += 1;
        let keep = req.keep_alive && !shared.shutdown.load(Ordering::SeqCst);
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        // A far portal's round trip (`EmulatorConfig::latency`): half on the way in, half on the
        // way out, outside the processing the request's `time` reports.
        let latency = shared.cfg.latency.unwrap_or_default();
        crate::cost::sleep_checked(shared, latency / 2);
        let reply = crate::rest::handle(shared, &req);
        crate::cost::sleep_checked(shared, latency - latency / 2);
        match reply {
            Reply::Send(r) => {
                let mut out = head_bytes(&r, keep);
                if !head_only {
                    out.extend_from_slice(&r.body);
                }
                c.s.write_all(&out)?;
                if !keep {
                    let _ = c.s.shutdown(Shutdown::Write);
                    return Ok(());
                }
            }
            Reply::Reset => {
                reset(c.s);
                return Ok(());
            }
            Reply::Truncate(r) => {
                let mut out = head_bytes(&r, false);
                out.extend_from_slice(&r.body[..r.body.len() / 2]);
                c.s.write_all(&out)?;
                c.s.flush()?;
                let _ = c.s.shutdown(Shutdown::Both);
                return Ok(());
            }
            Reply::Wire(w) => {
                crate::faults::write(w, &mut c.s, shared);
                let _ = c.s.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
    Ok(())
}
