//! The settings an HTTP client is built from, checked once, so that every engine of a setting
//! (see [`super::engines`]) is built the same way and cannot fail on caller input.

use super::failure::describe;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use std::io::Read;
use std::time::Duration;

/// The largest CA file read: a real PEM bundle is a few hundred KB.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// A transport setting, validated: the proxy parsed, the CA file read and parsed.
#[derive(Clone)]
pub(super) struct Settings {
    connect_timeout: Duration,
    timeout: Duration,
    proxy: Option<reqwest::Proxy>,
    roots: Vec<reqwest::Certificate>,
}

impl Settings {
    /// Checks `config`'s transport settings. Reads the CA file (bounded) without any lock held:
    /// a slow or endless file (a FIFO, a dead network share, `/dev/zero`) must not block other
    /// sessions.
    pub fn of(config: &Config) -> Result<Settings, Error> {
        let proxy =
            match &config.proxy {
                Some(p) => Some(reqwest::Proxy::all(p).map_err(|e| {
                    bad_config(format!("proxy URL is invalid: {}", e.without_url()))
                })?),
                None => None,
            };
        let roots = match config.ca_cert_path.as_deref() {
            Some(path) => parse_ca(&read_ca(path)?)?,
            None => Vec::new(),
        };
        Ok(Settings {
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            proxy,
            roots,
        })
    }

    /// A new HTTP client of this setting. Its connections live on the runtime that first drives
    /// it, so it must only ever be driven by one (see [`super::engines`]).
    pub fn client(&self) -> Result<reqwest::Client, Error> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            // Shorter than common server keep-alive timeouts, so a pooled connection is rarely
            // closed by the portal just as a request goes out on it.
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            // A 302 means the portal moved; following it would turn POST into GET and lose the
            // body.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bitrix24-1c/", env!("CARGO_PKG_VERSION")))
            .tls_built_in_root_certs(true);
        b = match &self.proxy {
            Some(p) => b.proxy(p.clone()),
            None => b.no_proxy(),
        };
        for c in &self.roots {
            b = b.add_root_certificate(c.clone());
        }
        b.build().map_err(|e| {
            Error::new(
                ErrorKind::Transport,
                "HTTP_CLIENT",
                format!("cannot start the HTTP client: {}", describe(&e)),
            )
        })
    }
}

fn bad_config(why: String) -> Error {
    Error::invalid_input("INVALID_CONFIG", why)
}

/// Reads the CA file, bounded in size. The message names no path (it is caller input).
fn read_ca(path: &str) -> Result<Vec<u8>, Error> {
    let bad = |why: String| bad_config(format!("ca_cert_path: {why}"));
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

fn parse_ca(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, Error> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| bad_config(format!("ca_cert_path is not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad_config("ca_cert_path holds no certificate".into()));
    }
    Ok(certs)
}
