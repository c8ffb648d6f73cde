//! The two halves of a minimal HTTP/1.1 server, for tests whose server must do what the
//! emulator does not (close idle connections on its own, speak TLS).

use std::io::{BufRead, Write};

/// Reads one request: the head, then `Content-Length` bytes of body. `None` when the
/// connection ends (EOF, a read timeout) or the request is cut.
pub fn read_request(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut len = 0usize;
    let mut line = String::new();
    // A head of more than 100 lines is not one of ours: stop reading.
    for _ in 0..100 {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            let mut body = vec![0; len];
            return r.read_exact(&mut body).ok().map(|_| body);
        }
    }
    None
}

/// Answers 200 with a JSON body, keeping the connection open. False when the write fails.
pub fn write_json(w: &mut impl Write, body: &str) -> bool {
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: keep-alive\r\n\r\n{body}",
        body.len()
    );
    w.write_all(reply.as_bytes()).is_ok() && w.flush().is_ok()
}
