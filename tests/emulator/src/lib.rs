//! A local emulator of the Bitrix24 REST API v2 (inbound webhooks): a real HTTP/1.1 server on
//! loopback with the portal's wire quirks, limits and injectable faults. It backs the project's
//! tests, demo and benchmarks. Behaviour follows `shared/reference/bitrix24-rest.md`; see
//! README.md for what is emulated and the deliberate deviations.

mod api;
mod cost;
mod crm;
mod faults;
mod filter;
mod http;
mod operating;
mod php;
mod rest;
pub mod spec;
mod time;
mod users;

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use cost::CallCost;
pub use php::{json_encode as php_json_encode, parse_str as php_parse_str};

/// Leaky-bucket request limit (reference §4.1): each request adds 1, the counter drains
/// `drain_per_sec`, a request that would push it above `size` gets 503.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    /// Counter limit X (50 on standard plans, 250 on Enterprise).
    pub size: f64,
    /// Drain rate Y per second (2 or 5).
    pub drain_per_sec: f64,
}

/// Emulator settings. `Default` gives the cloud's standard-plan behaviour on loopback.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Webhook user part of the URL (also the ID of the seeded owner user).
    pub user_id: String,
    /// Webhook secret (only `[A-Za-z0-9]`).
    pub secret: String,
    /// Request-rate bucket; `None` disables it.
    pub bucket: Option<Bucket>,
    /// Scopes granted to the webhook.
    pub scopes: Vec<String>,
    /// Refuse plain-http webhook calls with 401 `INVALID_REQUEST` (§1.5). A request with
    /// `X-Forwarded-Proto: https` counts as https.
    pub require_https: bool,
    /// Per-method operating budget in seconds per 10 minutes (§4.2; docs limits.md: "assume
    /// the established limit is 480 seconds"). `None`: never refuse. The time is counted and
    /// `time.operating` / `time.operating_reset_at` are sent either way, as in the cloud.
    pub operating_limit_secs: Option<f64>,
    /// How a `batch` is billed against the operating limit (§4.2, sources disagree).
    pub batch_billing: BatchBilling,
    /// The cloud's cut-off (§4.3, docs limits.md "Request Execution Time Limit": a request must
    /// finish within 60 s): a request whose processing (an injected `Delay` plus the calls'
    /// `call_cost`, a batch's sub-calls added up) would pass it is answered at the cut-off with
    /// an HTML 504. What ran before the cut stays committed (a batch's earlier sub-calls); the
    /// call in progress and everything after it never run; the request's operating time is not
    /// stored (`LoadLimiter::finalize` is a background job the killed request never reaches).
    /// `None`: no cut-off.
    pub execution_limit: Option<Duration>,
    /// Processing time per executed call (a test knob, see [`CallCost`]). `None`: calls take
    /// only the emulator's own (near-zero) time.
    pub call_cost: Option<CallCost>,
    /// Length of the operating limiter's window: ten slots of a tenth each (600 s = the
    /// source's ten one-minute slots). A test knob, not portal behaviour: a shorter window runs
    /// the same scenario faster; the 0.1 s floor scales with it.
    pub operating_window: Duration,
    /// Network round-trip latency added to every answer (half before the request is handled,
    /// half before the answer is written), to emulate a far portal. Not processing time: it is
    /// not in `time.processing`, not billed and not under the cut-off. `None`: loopback speed.
    pub latency: Option<Duration>,
    /// Listen address.
    pub bind: SocketAddr,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            user_id: "1".into(),
            secret: "emulatorsecret0123456789".into(),
            bucket: Some(Bucket {
                size: 50.0,
                drain_per_sec: 2.0,
            }),
            scopes: vec!["crm".into(), "user".into()],
            require_https: false,
            operating_limit_secs: Some(480.0),
            batch_billing: BatchBilling::PerSubCall,
            execution_limit: Some(Duration::from_secs(60)),
            call_cost: None,
            operating_window: Duration::from_secs(600),
            latency: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// How `batch` is billed against the operating limit (reference §4.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BatchBilling {
    /// Docs (limits.md: "An external call to `batch` is not accounted for in `operating`") and
    /// source (`LoadLimiter::$ignoreMethod` holds `batch`): each sub-call is billed to, checked
    /// against and reports its own method; a blocked sub-call gets `OPERATION_TIME_LIMIT` in
    /// `result_error`. The batch itself is never refused and reports `operating` 0.
    #[default]
    PerSubCall,
    /// A live measurement (b24jssdk PR #539 / issue #459, cited in §4.2): the whole batch is
    /// billed to and refused as `batch`, sub-calls are not counted, and every sub-result carries
    /// the batch's figure.
    WholeBatch,
}

/// Entity types of the legacy CRM methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityKind {
    Contact,
    Company,
}

/// Counters since start or the last `reset_stats`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// HTTP requests received (parsed), any path.
    pub requests: u64,
    /// Requests refused with 503 by the bucket (not by injected faults).
    pub limited: u64,
    /// Lower-case method name (no `.json`) -> count; batch sub-commands counted too.
    pub by_method: HashMap<String, u64>,
    /// Highest level the bucket counter reached.
    pub max_bucket_level: f64,
    /// REST requests whose method ran and succeeded, so their effects are committed (a batch
    /// counts once, also when it was cut off after some sub-calls committed), whether or not
    /// the answer then reached the client.
    pub executed: u64,
    /// REST requests answered with the HTML 504 of the execution limit (`execution_limit`).
    pub cut_off: u64,
    /// Batch sub-calls that ran and succeeded (committed) before their request was cut off.
    /// Such a batch counts once in `executed` when this is non-zero for it.
    pub cut_off_committed: u64,
    /// REST requests hit by a fault, queued or random.
    pub faulted: u64,
    /// Of `faulted`, those that executed (committed) before the fault took the answer.
    pub faulted_executed: u64,
    /// Of `faulted`, those chosen by the random mode.
    pub random_faulted: u64,
    /// `FaultAction::name()` -> hits and executions.
    pub by_fault: HashMap<&'static str, FaultCount>,
    /// Every faulted request in arrival order.
    pub fault_log: Vec<FaultRecord>,
}

/// Per-action fault counters in `Stats::by_fault`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCount {
    /// Requests this action hit.
    pub hits: u64,
    /// Of those, requests whose method ran and succeeded (committed).
    pub executed: u64,
}

/// One faulted request, for asserting the portal state afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    /// Lower-case method name as in `Stats::by_method`.
    pub method: String,
    /// `FaultAction::name()`.
    pub action: &'static str,
    /// The method ran and succeeded (committed) before the fault.
    pub executed: bool,
    /// Chosen by the random mode rather than the queue.
    pub random: bool,
}

/// A queued fault: hits the next `times` requests whose method matches.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Lower-case method name (`"batch"` for batches); `None` matches any REST call.
    pub method: Option<String>,
    /// How many matching requests it hits before it is used up.
    pub times: u32,
    /// What happens to each hit request.
    pub action: FaultAction,
}

/// What an injected fault does to a request. "Execute" means the method runs and commits
/// before the fault decides what goes on the wire; the others answer without running it.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// 503 `QUERY_LIMIT_EXCEEDED` without executing.
    QueryLimit,
    /// This status with an HTML body (a balancer page), without executing.
    HtmlError(u16),
    /// Read the request, then reset the connection without executing.
    ResetBeforeExecute,
    /// Execute (commit), then reset the connection without answering.
    ResetAfterExecute,
    /// Sleep, then execute and answer normally (the sleep counts as processing time). The
    /// method runs even if the client hung up during the sleep, as PHP does.
    Delay(Duration),
    /// Execute, send the full `Content-Length` but half the body, then close.
    TruncatedBody,
    /// This status with an empty body, without executing.
    EmptyBody(u16),
    /// 429 `OPERATION_TIME_LIMIT` without executing.
    OperationTimeLimit,
    /// Execute, then answer this status (200 too) with the normal headers and an empty body.
    EmptyAfterExecute(u16),
    /// Execute, then answer this status with an HTML page (gateway timeout, captive portal).
    NonJsonAfterExecute(u16),
    /// Execute, send a chunked answer with the first half of the body in one chunk, then close
    /// without the terminating zero-size chunk.
    CloseMidBody,
    /// Echo the request target (path with the webhook secret, and query) into the answer.
    EchoRequest(Echo),
    /// A 200 answer of `bytes` body bytes, generated while written; without executing.
    Huge {
        bytes: u64,
        body: HugeBody,
        /// `Transfer-Encoding: chunked` instead of `Content-Length`.
        chunked: bool,
    },
    /// Execute, send the head at once, then the body at `bytes_per_sec` (in tenth-second
    /// steps), completing it unless the client hangs up.
    Trickle { bytes_per_sec: u64 },
}

/// Where `FaultAction::EchoRequest` puts the request target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// Execute and answer normally, but: an object result gets `"REQUEST_URI": target`, each
    /// object of a list result too, a scalar result becomes the target string. In a batch this
    /// applies to every sub-result, and every `result_error` description gets
    /// `" (request: target)"` appended.
    InResult,
    /// Without executing: 400 `ERROR_CORE` "SQL query error! Request: target".
    InError,
}

/// Body of `FaultAction::Huge`. Each is exactly `bytes` long when `bytes` is at least its
/// fixed part (14 bytes for `JsonArray`, 13 for `JsonString`); shorter requests get that part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HugeBody {
    /// `{"result":[0,0,...]}` (a space pads an odd length), `application/json`.
    JsonArray,
    /// `{"result":"xxx..."}`, `application/json`.
    JsonString,
    /// `xxx...`, `text/html`.
    NonJson,
}

impl FaultAction {
    /// The variant's name, the key of `Stats::by_fault`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::QueryLimit => "QueryLimit",
            FaultAction::HtmlError(_) => "HtmlError",
            FaultAction::ResetBeforeExecute => "ResetBeforeExecute",
            FaultAction::ResetAfterExecute => "ResetAfterExecute",
            FaultAction::Delay(_) => "Delay",
            FaultAction::TruncatedBody => "TruncatedBody",
            FaultAction::EmptyBody(_) => "EmptyBody",
            FaultAction::OperationTimeLimit => "OperationTimeLimit",
            FaultAction::EmptyAfterExecute(_) => "EmptyAfterExecute",
            FaultAction::NonJsonAfterExecute(_) => "NonJsonAfterExecute",
            FaultAction::CloseMidBody => "CloseMidBody",
            FaultAction::EchoRequest(_) => "EchoRequest",
            FaultAction::Huge { .. } => "Huge",
            FaultAction::Trickle { .. } => "Trickle",
        }
    }
}

/// Seeded random faults (`Emulator::set_random_faults`) for probabilistic runs: each matching
/// request is faulted with `probability`, the action picked uniformly from `actions`. The
/// sequence is fixed by `seed` and the order in which requests arrive.
#[derive(Clone, Debug)]
pub struct RandomFaults {
    pub seed: u64,
    /// 0.0..=1.0 per matching request.
    pub probability: f64,
    /// Candidates; empty means no faults.
    pub actions: Vec<FaultAction>,
    /// Lower-case method names (`"batch"` for batches); `None` matches any REST call.
    pub methods: Option<Vec<String>>,
}

pub(crate) struct BucketState {
    pub cfg: Option<Bucket>,
    pub level: f64,
    pub last: Instant,
}

impl BucketState {
    /// Take one token; `false` means refuse. Refused requests add nothing.
    pub fn take(&mut self) -> (bool, f64) {
        let Some(b) = self.cfg else {
            return (true, 0.0);
        };
        let now = Instant::now();
        let el = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.level = (self.level - el * b.drain_per_sec).max(0.0);
        if self.level + 1.0 > b.size + 1e-9 {
            return (false, self.level);
        }
        self.level += 1.0;
        (true, self.level)
    }
}

pub(crate) struct Shared {
    pub cfg: EmulatorConfig,
    pub store: Mutex<crm::Store>,
    pub bucket: Mutex<BucketState>,
    pub faults: Mutex<VecDeque<Fault>>,
    pub random: Mutex<Option<faults::Random>>,
    pub stats: Mutex<Stats>,
    pub operating: Mutex<operating::Operating>,
    pub shutdown: AtomicBool,
    pub live_conns: AtomicUsize,
}

/// Lock ignoring poisoning: a panicking connection thread must not wedge the emulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running emulator. The server lives on background threads; dropping it stops them.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Bind and start serving.
    pub fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(config.bind)?;
        let addr = listener.local_addr()?;
        // The URL's user part may be an ID or a login (§1.1); the owner gets ID 1 then.
        let owner = config.user_id.parse::<u64>().unwrap_or(1);
        let mut store = crm::Store::new(&owner.to_string());
        store.add_user(&serde_json::json!({
            "ID": owner,
            "NAME": "Admin",
            "LAST_NAME": "",
            "EMAIL": "admin@example.com",
            "ACTIVE": true,
            "LOGIN": config.user_id,
        }));
        let operating = operating::Operating::new(config.operating_window);
        let shared = Arc::new(Shared {
            bucket: Mutex::new(BucketState {
                cfg: config.bucket,
                level: 0.0,
                last: Instant::now(),
            }),
            cfg: config,
            store: Mutex::new(store),
            faults: Mutex::new(VecDeque::new()),
            random: Mutex::new(None),
            stats: Mutex::new(Stats::default()),
            operating: Mutex::new(operating),
            shutdown: AtomicBool::new(false),
            live_conns: AtomicUsize::new(0),
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name("b24-emulator-accept".into())
            .spawn(move || http::accept_loop(listener, sh))?;
        Ok(Emulator {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// Start with `EmulatorConfig::default()` (bucket 50/2 on).
    pub fn start_default() -> std::io::Result<Emulator> {
        Emulator::start(EmulatorConfig::default())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn host(&self) -> String {
        match self.addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".into(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}:{}", self.host(), self.port())
    }

    /// `http://127.0.0.1:PORT/rest/USER/SECRET/`
    pub fn webhook_url(&self) -> String {
        format!(
            "{}/rest/{}/{}/",
            self.base_url(),
            self.shared.cfg.user_id,
            self.shared.cfg.secret
        )
    }

    /// Reconfigure the bucket live; the counter restarts at zero.
    pub fn set_bucket(&self, bucket: Option<Bucket>) {
        let mut b = lock(&self.shared.bucket);
        b.cfg = bucket;
        b.level = 0.0;
        b.last = Instant::now();
    }

    /// Queue a fault. Faults are consumed in order by matching REST requests.
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.shared.faults).push_back(fault);
        }
    }

    /// Drop all queued faults and switch the random mode off.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
        *lock(&self.shared.random) = None;
    }

    /// Switch the random mode on (replacing an earlier one), or off with `None`. Queued faults
    /// still come first; a request hit by a queued fault draws no random number.
    pub fn set_random_faults(&self, random: Option<RandomFaults>) {
        *lock(&self.shared.random) = random.map(faults::Random::new);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Zero the counters.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// Insert a user (fields as `user.get` shows them; `UF_USR_*` allowed). Returns its ID.
    pub fn add_user(&self, user: serde_json::Value) -> String {
        lock(&self.shared.store).add_user(&user)
    }

    /// Add a row to a CRM reference list (`crm.status.list`), e.g. a portal's own contact
    /// type: `add_status("CONTACT_TYPE", "UC_ABC123", "Name")`.
    pub fn add_status(&self, entity_id: &str, status_id: &str, name: &str) {
        lock(&self.shared.store).add_status(entity_id, status_id, name)
    }

    /// What `crm.X.get` would return, read directly (no HTTP, no limits), plus the entity's
    /// full link set (`COMPANY_IDS` of a contact, `CONTACT_ID` of a company) for inspection.
    pub fn entity(&self, kind: EntityKind, id: u64) -> Option<serde_json::Value> {
        lock(&self.shared.store).get_value(kind, id)
    }

    /// Number of stored entities of a kind.
    pub fn entity_count(&self, kind: EntityKind) -> usize {
        lock(&self.shared.store).count(kind)
    }

    /// Content of an uploaded file.
    pub fn file_bytes(&self, file_id: u64) -> Option<Vec<u8>> {
        lock(&self.shared.store)
            .file(file_id)
            .map(|f| f.bytes.clone())
    }

    /// Stop the server and wait (briefly) for connection threads.
    pub fn shutdown(self) {
        drop(self)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let wake = SocketAddr::new(
            if self.addr.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                self.addr.ip()
            },
            self.addr.port(),
        );
        let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(500));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        // Connection threads poll the flag every read timeout; give them a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.live_conns.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
