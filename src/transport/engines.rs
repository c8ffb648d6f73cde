//! Where a request runs: in the calling thread, on an engine it borrows for the exchange.
//!
//! An engine is a single-threaded tokio runtime and an HTTP client whose pooled connections
//! live on that runtime. A thread takes an idle engine (or builds one), drives the whole
//! exchange on it with `block_on`, and gives it back. reqwest's blocking client instead hands
//! every request to its own runtime thread and the answer back, which costs two thread wake-ups
//! a call: on loopback, a third of a call's CPU time.
//!
//! One engine serves one thread at a time, so no request waits for another session's; there
//! are as many engines as requests were ever in flight at once for a setting. Engines are kept
//! for the life of the process (never dropped during library unload), and hold no
//! thread-local state, so any thread, including a short-lived one, may borrow any of them.

use super::setup::Settings;
use super::Failure;
use crate::error::Error;
use std::future::Future;
use std::sync::Mutex;

struct Engine {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

/// The engines of one transport setting.
pub(super) struct Engines {
    settings: Settings,
    idle: Mutex<Vec<Engine>>,
}

impl std::fmt::Debug for Engines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engines").finish_non_exhaustive()
    }
}

impl Engines {
    /// The engines of `settings`, with the first one built now, so that a setting the HTTP
    /// client refuses fails when the client is made, not at its first call.
    pub fn new(settings: Settings) -> Result<Engines, Error> {
        let first = Engine::build(&settings)?;
        Ok(Engines {
            settings,
            idle: Mutex::new(vec![first]),
        })
    }

    /// Runs `exchange` to its end in this thread, on an engine no other thread is using.
    pub fn run<T, F>(&self, exchange: impl FnOnce(reqwest::Client) -> F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>>,
    {
        let engine = match self.lock().pop() {
            Some(e) => e,
            // The setting was checked when the first engine was built: what fails here is the
            // machine (no file descriptors left), before anything was sent.
            None => Engine::build(&self.settings).map_err(|e| Failure::NotSent(e.description))?,
        };
        let lease = Lease {
            engines: self,
            engine: Some(engine),
        };
        let e = lease.engine.as_ref().expect("leased");
        let http = e.http.clone();
        e.rt.block_on(async move {
            // Lets the runtime see what happened on its sockets while no one drove it: a
            // connection the portal closed meanwhile is then dropped from the pool, or its
            // request retried by hyper before a byte of it is written, instead of the request
            // being cut on it and ending as "outcome unknown".
            tokio::task::yield_now().await;
            exchange(http).await
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Engine>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine {
    fn build(settings: &Settings) -> Result<Engine, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(super::setup::cannot_start)?;
        Ok(Engine {
            rt,
            http: settings.client()?,
        })
    }
}

/// An engine on loan; given back when the exchange ends. One that a panic unwound through is
/// dropped instead: its connections may be mid-request.
struct Lease<'a> {
    engines: &'a Engines,
    engine: Option<Engine>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            if !std::thread::panicking() {
                self.engines.lock().push(e);
            }
        }
    }
}
