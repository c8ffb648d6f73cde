//! HTTP transport: pooled reqwest clients shared across the process, and the classification of
//! what happened to a request on the wire (crucial for deciding whether a write may be re-sent).

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

/// Settings that require their own HTTP client (and so their own connection pool).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    connect_timeout_ms: u128,
    proxy: Option<String>,
    ca_cert_path: Option<String>,
}

/// One HTTP client per distinct transport setting, for the life of the process. 1C creates an
/// add-in object per session or server call; sharing the pool keeps connections (and TLS
/// sessions) warm across them. The clients are never dropped: dropping reqwest's blocking client
/// joins its runtime thread, which must not happen during library unload.
static POOLS: Lazy<Mutex<HashMap<PoolKey, reqwest::blocking::Client>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// A pooled HTTP client for one configuration.
#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::blocking::Client,
}

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
}

/// The largest CA file read: a real PEM bundle is a few hundred KB.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

impl Transport {
    /// The shared client for `config`'s transport settings, created on first use. The CA file is
    /// read before the pool lock is taken: a slow or endless file (a FIFO, a dead network share,
    /// `/dev/zero`) must not block other sessions' clients.
    pub fn for_config(config: &Config) -> Result<Transport, Error> {
        let key = PoolKey {
            connect_timeout_ms: config.connect_timeout.as_millis(),
            proxy: config.proxy.clone(),
            ca_cert_path: config.ca_cert_path.clone(),
        };
        if let Some(http) = lock_pools().get(&key) {
            return Ok(Transport { http: http.clone() });
        }
        let ca = config.ca_cert_path.as_deref().map(read_ca).transpose()?;
        let http = build_http(config, ca.as_deref())?;
        // Another thread may have built one meanwhile: keep the first, so one pool serves all.
        let http = lock_pools().entry(key).or_insert(http).clone();
        Ok(Transport { http })
    }

    /// POSTs a JSON body and returns the status and the whole body, reading at most `limit`
    /// bytes of it: a larger answer is refused while it is read, never buffered whole.
    pub fn post_json(
        &self,
        url: reqwest::Url,
        body: bytes::Bytes,
        timeout: Duration,
        limit: usize,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout)
            .body(body)
            .send()
            .map_err(classify)?;
        let status = resp.status().as_u16();
        let declared = resp.content_length().unwrap_or(0);
        if declared > limit as u64 {
            return Err(Failure::TooLarge(limit));
        }
        let mut buf = Vec::with_capacity(declared as usize);
        let read = std::io::Read::take(resp, limit as u64 + 1).read_to_end(&mut buf);
        // The status line arrived, so the request surely reached the portal: any failure now
        // is a lost answer, never "not sent".
        read.map_err(|e| match io_timeout(&e) {
            true => Failure::TimedOut(describe_io(&e)),
            false => Failure::Lost(describe_io(&e)),
        })?;
        if buf.len() > limit {
            return Err(Failure::TooLarge(limit));
        }
        Ok((status, buf))
    }
}

fn lock_pools() -> std::sync::MutexGuard<'static, HashMap<PoolKey, reqwest::blocking::Client>> {
    POOLS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the CA file, bounded in size. The message names no path (it is caller input).
fn read_ca(path: &str) -> Result<Vec<u8>, Error> {
    let bad = |why: String| Error::invalid_input("INVALID_CONFIG", format!("ca_cert_path: {why}"));
    // stat first: opening a FIFO for reading would block until a writer comes.
    let meta =
        std::fs::metadata(path).map_err(|e| bad(format!("cannot open the file: {}", e.kind())))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    if meta.len() > MAX_CA_FILE {
        return Err(bad(format!("larger than {} MiB", MAX_CA_FILE >> 20)));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| bad(format!("cannot open the file: {}", e.kind())))?;
    let mut pem = Vec::new();
    std::io::Read::take(file, MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| bad(format!("cannot read the file: {}", e.kind())))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(bad(format!("larger than {} MiB", MAX_CA_FILE >> 20)));
    }
    Ok(pem)
}

/// True when a body read failed on reqwest's timeout.
fn io_timeout(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}

fn describe_io(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
    {
        Some(re) => describe(re),
        None => e.to_string(),
    }
}

fn build_http(config: &Config, ca_pem: Option<&[u8]>) -> Result<reqwest::blocking::Client, Error> {
    let mut b = reqwest::blocking::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        // Shorter than common server keep-alive timeouts, so a pooled connection is rarely
        // closed by the portal just as a request goes out on it.
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        // A 302 means the portal moved; following it would turn POST into GET and lose the body.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bitrix24-1c/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_root_certs(true);
    b = match &config.proxy {
        Some(p) => b.proxy(reqwest::Proxy::all(p).map_err(|e| {
            Error::invalid_input(
                "INVALID_CONFIG",
                format!("proxy URL is invalid: {}", e.without_url()),
            )
        })?),
        None => b.no_proxy(),
    };
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            Error::invalid_input(
                "INVALID_CONFIG",
                format!("ca_cert_path is not a PEM certificate: {e}"),
            )
        })?;
        if certs.is_empty() {
            return Err(Error::invalid_input(
                "INVALID_CONFIG",
                "ca_cert_path holds no certificate",
            ));
        }
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| {
        Error::new(
            ErrorKind::Transport,
            "HTTP_CLIENT",
            format!("cannot start the HTTP client: {}", describe(&e)),
        )
    })
}

fn classify(e: reqwest::Error) -> Failure {
    let text = describe(&e);
    if e.is_timeout() {
        Failure::TimedOut(text)
    } else if e.is_connect() {
        Failure::NotSent(text)
    } else {
        Failure::Lost(text)
    }
}

/// The error chain as one line, without the URL (it holds the secret).
fn describe(e: &reqwest::Error) -> String {
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
