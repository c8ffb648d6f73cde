//! The settings an HTTP client is built from, checked once, so that every engine of a setting
//! (see [`super::engines`]) is built the same way and cannot fail on caller input.

use super::failure::describe;
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

/// The largest CA file read: a real PEM bundle is a few hundred KB.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// A transport setting, validated: the proxy parsed, the TLS configuration built.
#[derive(Clone)]
pub(super) struct Settings {
    connect_timeout: Duration,
    timeout: Duration,
    proxy: Option<reqwest::Proxy>,
    /// Shared by every client of the setting: clones share its root store and its cache of
    /// TLS sessions, so a new engine's first connection resumes a session another one made.
    tls: rustls::ClientConfig,
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
        let extra = match config.ca_cert_path.as_deref() {
            Some(path) => parse_ca(&read_ca(path)?)?,
            None => Vec::new(),
        };
        Ok(Settings {
            connect_timeout: config.connect_timeout,
            timeout: config.timeout,
            proxy,
            tls: tls_config(extra)?,
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
            .default_headers(json_headers())
            .use_preconfigured_tls(self.tls.clone());
        b = match &self.proxy {
            Some(p) => b.proxy(p.clone()),
            None => b.no_proxy(),
        };
        b.build().map_err(|e| cannot_start(describe(&e)))
    }
}

/// The machine or the TLS library refused to make a client: nothing was sent.
pub(super) fn cannot_start(why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Transport,
        "HTTP_CLIENT",
        format!("cannot start the HTTP client: {why}"),
    )
}

/// Every request of the library sends a JSON body and wants JSON back.
fn json_headers() -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
    let json = HeaderValue::from_static("application/json");
    let mut h = reqwest::header::HeaderMap::with_capacity(2);
    h.insert(CONTENT_TYPE, json.clone());
    h.insert(ACCEPT, json);
    h
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

/// The certificates of a PEM file; a file with none, or with a broken one, is refused.
fn parse_ca(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_config(format!("ca_cert_path is not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad_config("ca_cert_path holds no certificate".into()));
    }
    Ok(certs)
}

/// What reqwest would build for its rustls backend: the webpki roots and the system's store
/// (entries rustls cannot parse are skipped, as reqwest does), plus `extra`; TLS 1.2 and 1.3
/// with the ring provider; HTTP/1.1 by ALPN, the only HTTP this build speaks.
fn tls_config(extra: Vec<CertificateDer<'static>>) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| bad_config(format!("ca_cert_path is not a CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(cannot_start)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_CA: &[u8] = include_bytes!("../../tests/fixtures/test-ca.pem");

    #[test]
    fn a_ca_file_is_added_to_the_roots_or_refused_with_a_reason() {
        let certs = parse_ca(TEST_CA).expect("a self-signed CA parses");
        assert_eq!(certs.len(), 1);
        let tls = tls_config(certs).expect("and is accepted as a root");
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let none = parse_ca(b"no PEM here").unwrap_err();
        assert!(
            none.description.contains("holds no certificate"),
            "{none:?}"
        );
        let cut = &TEST_CA[..TEST_CA.len() / 2];
        let broken = parse_ca(cut).unwrap_err();
        assert!(broken.description.contains("not a PEM"), "{broken:?}");
    }
}
