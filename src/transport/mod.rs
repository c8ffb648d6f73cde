//! HTTP transport: connection pools shared across the process, requests run in the calling
//! thread ([`engines`]), and the classification of what happened to a request on the wire
//! (crucial for deciding whether a write may be re-sent).

mod engines;
mod failure;
mod setup;

pub use failure::Failure;

use crate::config::Config;
use crate::error::Error;
use engines::Engines;
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Settings that require their own HTTP clients (and so their own connection pools).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    connect_timeout_ms: u128,
    proxy: Option<String>,
    ca_cert_path: Option<String>,
}

/// The engines of each distinct transport setting, for the life of the process. 1C creates an
/// add-in object per session or server call; sharing them keeps connections (and TLS sessions)
/// warm across those objects.
static POOLS: Lazy<Mutex<HashMap<PoolKey, Arc<Engines>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// The shared HTTP clients of one configuration.
#[derive(Clone, Debug)]
pub struct Transport {
    engines: Arc<Engines>,
}

impl Transport {
    /// The shared transport for `config`'s settings, created on first use (when the CA file
    /// is read, with no lock held).
    pub fn for_config(config: &Config) -> Result<Transport, Error> {
        let key = PoolKey {
            connect_timeout_ms: config.connect_timeout.as_millis(),
            proxy: config.proxy.clone(),
            ca_cert_path: config.ca_cert_path.clone(),
        };
        if let Some(engines) = lock_pools().get(&key) {
            return Ok(Transport {
                engines: engines.clone(),
            });
        }
        let engines = Arc::new(Engines::new(setup::Settings::of(config)?)?);
        // Another thread may have built one meanwhile: keep the first, so one pool serves all.
        let engines = lock_pools().entry(key).or_insert(engines).clone();
        Ok(Transport { engines })
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
        self.engines
            .run(|http| exchange(http, url, body, timeout, limit))
    }
}

/// One request and its whole answer; `timeout` bounds both.
async fn exchange(
    http: reqwest::Client,
    url: reqwest::Url,
    body: bytes::Bytes,
    timeout: Duration,
    limit: usize,
) -> Result<(u16, Vec<u8>), Failure> {
    let mut resp = http
        .post(url)
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(Failure::of_send)?;
    let status = resp.status().as_u16();
    let declared = resp.content_length().unwrap_or(0);
    if declared > limit as u64 {
        return Err(Failure::TooLarge(limit));
    }
    let mut buf = Vec::with_capacity(declared as usize);
    while let Some(chunk) = resp.chunk().await.map_err(Failure::of_body)? {
        if buf.len() + chunk.len() > limit {
            return Err(Failure::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((status, buf))
}

fn lock_pools() -> std::sync::MutexGuard<'static, HashMap<PoolKey, Arc<Engines>>> {
    POOLS.lock().unwrap_or_else(|p| p.into_inner())
}
