//! What became of a request that got no usable HTTP answer, told from reqwest's errors without
//! the URL (it holds the secret).

/// What became of a request that got no usable HTTP answer.
#[derive(Debug)]
pub enum Failure {
    /// The request never left (connection refused, DNS, TLS handshake): safe to send again.
    NotSent(String),
    /// The request may have reached the portal and run there; the answer was lost.
    Lost(String),
    /// No answer within the timeout; the request may have run.
    TimedOut(String),
    /// The answer is larger than `max_response_bytes`; the request surely ran.
    TooLarge(usize),
}

impl Failure {
    /// A short tag for the request journal: `not_sent`, `lost`, `timeout`, `too_large`.
    pub fn tag(&self) -> &'static str {
        match self {
            Failure::NotSent(_) => "not_sent",
            Failure::Lost(_) => "lost",
            Failure::TimedOut(_) => "timeout",
            Failure::TooLarge(_) => "too_large",
        }
    }

    /// A failure before any answer arrived: the request may have gone out unless it could not
    /// connect.
    pub(super) fn of_send(e: reqwest::Error) -> Failure {
        let text = describe(&e);
        if e.is_timeout() {
            Failure::TimedOut(text)
        } else if e.is_connect() {
            Failure::NotSent(text)
        } else {
            Failure::Lost(text)
        }
    }

    /// A failure while the body was read. The status line arrived, so the request surely
    /// reached the portal: never "not sent".
    pub(super) fn of_body(e: reqwest::Error) -> Failure {
        match e.is_timeout() {
            true => Failure::TimedOut(describe(&e)),
            false => Failure::Lost(describe(&e)),
        }
    }
}

/// The error chain as one line, without the URL.
pub(super) fn describe(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    let mut depth = 0;
    while let Some(err) = cur {
        let msg = if depth == 0 {
            // reqwest's own Display appends " for url (...)": strip it.
            let s = err.to_string();
            s.split(" for url (").next().unwrap_or_default().to_string()
        } else {
            err.to_string()
        };
        if !msg.is_empty() && !out.contains(&msg) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&msg);
        }
        cur = err.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    out
}
