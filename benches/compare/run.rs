//! The orchestrator: starts the emulator process, runs every measurement in a fresh child
//! process, checks the portal's state afterwards, and prints the results table.

use bitrix24_1c::api::{self, Entity};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const GUID_FIELD: &str = "UF_CRM_1723100443089";
/// The cloud's bucket shape, time-scaled: 50 requests at once, then 20 per second.
const BURST: f64 = 50.0;
const PER_SECOND: f64 = 20.0;
/// Commands per batch request.
const BATCH: usize = 50;
const ATTACHMENT_BYTES: u64 = 50 * 1024 * 1024;

pub(crate) fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

pub(crate) struct Setup {
    pub exe: PathBuf,
    pub lib: PathBuf,
    pub benches: PathBuf,
    out_dir: PathBuf,
    pub python: Option<String>,
    pub calls: usize,
    records: usize,
    pub reps: usize,
    addin_objects: usize,
}

/// The emulator child and its control pipe.
pub(crate) struct Emu {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub webhook: String,
}

impl Emu {
    fn start(exe: &Path) -> Emu {
        Emu::start_with(exe, &[])
    }

    /// An emulator process shaped by start-up flags (benches/compare/emulator.rs).
    pub fn start_with(exe: &Path, flags: &[&str]) -> Emu {
        let mut child = Command::new(exe)
            .args(["child", "emulator"])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the emulator process");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the webhook line");
        let webhook = line
            .trim()
            .strip_prefix("webhook: ")
            .expect("webhook: URL")
            .to_string();
        Emu {
            child,
            stdin,
            stdout,
            webhook,
        }
    }

    pub fn cmd(&mut self, c: &str) -> String {
        writeln!(self.stdin, "{c}").expect("emulator control");
        self.stdin.flush().expect("emulator control");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("emulator reply");
        let line = line.trim().to_string();
        assert!(!line.starts_with("error"), "emulator: {c}: {line}");
        line
    }

    pub fn stats(&mut self) -> Value {
        serde_json::from_str(&self.cmd("stats")).expect("stats JSON")
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Runs a measuring child; its last stdout line is its JSON result.
pub(crate) fn run_json(mut cmd: Command) -> Result<Value, String> {
    let what = format!("{cmd:?}");
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty());
    match (
        out.status.success(),
        last.map(serde_json::from_str::<Value>),
    ) {
        (true, Some(Ok(v))) => Ok(v),
        _ => Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            tail(&stdout, 500),
            tail(&String::from_utf8_lossy(&out.stderr), 1500)
        )),
    }
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> String {
    let skip = s.chars().count().saturating_sub(n);
    s.chars().skip(skip).collect()
}

pub(crate) fn rust_child(s: &Setup, mode: &str, args: &[String]) -> Command {
    let mut c = Command::new(&s.exe);
    c.args(["child", mode]).arg(&s.lib).args(args);
    c.env("TMPDIR", fresh_temp_dir());
    c
}

/// A new, empty temp directory for one client run. The library keeps its host-wide bucket file
/// there: a run must not inherit the previous run's bucket level, since the emulator empties
/// its bucket between runs (a portal's drains in its own time). Processes meant to share a
/// bucket are given one directory (`limits/hosts.rs`).
pub(crate) fn fresh_temp_dir() -> std::path::PathBuf {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("b24-bench-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp directory for a bench run");
    dir
}

pub(crate) fn python_script(s: &Setup, script: &str, args: &[String]) -> Option<Command> {
    let py = s.python.as_ref()?;
    let mut c = Command::new(py);
    c.arg(s.benches.join(script)).args(args);
    Some(c)
}

pub(crate) fn f(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

pub(crate) fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The library client the orchestrator itself uses (seeding, counting); never measured.
fn admin_client(webhook: &str) -> bitrix24_1c::Client {
    api::new_client(&json!({"webhook_url": webhook, "rate_limit": false}).to_string())
        .expect("admin client")
}

/// Contacts per GUID prefix: (rows, distinct GUIDs).
fn guid_counts(webhook: &str) -> HashMap<String, (u64, u64)> {
    let c = admin_client(webhook);
    let params = json!({"select": ["ID", GUID_FIELD]}).to_string();
    let rows = api::export(&c, "crm.contact.list", Some(&params), None, 50)
        .expect("export contacts")
        .result
        .to_value()
        .expect("rows");
    let mut per: HashMap<String, (u64, std::collections::HashSet<String>)> = HashMap::new();
    for r in rows.as_array().into_iter().flatten() {
        let Some(g) = r.get(GUID_FIELD).and_then(Value::as_str) else {
            continue;
        };
        let Some((prefix, _)) = g.rsplit_once('-') else {
            continue;
        };
        let e = per.entry(prefix.to_string()).or_default();
        e.0 += 1;
        e.1.insert(g.to_string());
    }
    per.into_iter()
        .map(|(k, (n, set))| (k, (n, set.len() as u64)))
        .collect()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub(crate) fn median_by_cpu(mut runs: Vec<Value>) -> Option<Value> {
    runs.sort_by(|a, b| f(a, "cpu_s").total_cmp(&f(b, "cpu_s")));
    let mid = runs.len() / 2;
    runs.into_iter().nth(mid)
}

fn setup() -> Setup {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf();
    let lib = profile.join("libbitrix24_1c.so");
    assert!(
        lib.exists(),
        "{} is missing: build it first (`cargo build --release --lib`, as benches/run does)",
        lib.display()
    );
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches");
    let python = if std::env::var("B24_BENCH_SKIP_PYTHON").is_ok_and(|v| v == "1") {
        None
    } else {
        Some(std::env::var("B24_BENCH_PYTHON").unwrap_or_else(|_| "python3".into()))
    };
    Setup {
        exe,
        lib,
        benches,
        out_dir: profile,
        python,
        calls: env_num("B24_BENCH_CALLS", 5000),
        records: env_num("B24_BENCH_RECORDS", 10_000),
        reps: env_num("B24_BENCH_REPS", 3).max(1),
        addin_objects: env_num("B24_BENCH_ADDIN", 1000).max(2),
    }
}

/// Python and package versions, or why the Python clients are skipped.
fn python_versions(s: &mut Setup) -> String {
    let Some(py) = &s.python else {
        return "Python clients skipped (B24_BENCH_SKIP_PYTHON=1)".into();
    };
    let probe = "import sys, requests, aiohttp, fast_bitrix24.__version__ as v; \
                 print('Python %s, requests %s, aiohttp %s, fast_bitrix24 %s' % \
                 (sys.version.split()[0], requests.__version__, aiohttp.__version__, v.__version__))";
    match Command::new(py).args(["-c", probe]).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            s.python = None;
            "Python clients skipped: `requests`/`fast_bitrix24` not importable \
             (benches/run installs them)"
                .into()
        }
    }
}

pub(crate) struct Report {
    md: String,
    pub notes: Vec<String>,
}

impl Report {
    pub fn line(&mut self, l: impl AsRef<str>) {
        self.md.push_str(l.as_ref());
        self.md.push('\n');
    }
}

pub fn main() {
    let mut s = setup();
    let started = Instant::now();
    let load_before = load_average();
    let versions = python_versions(&mut s);
    eprintln!("bench: {versions}");
    let mut emu = Emu::start(&s.exe);
    let webhook = emu.webhook.clone();
    eprintln!("bench: emulator at {webhook}");
    let mut rep = Report {
        md: String::new(),
        notes: Vec::new(),
    };

    // Seed contacts for the reads (not measured).
    let admin = admin_client(&webhook);
    let ids: Vec<String> = (0..20)
        .map(|i| {
            let fields = json!({
                "NAME": format!("Read {i}"), "LAST_NAME": "Bench",
                "PHONE": [{"VALUE": format!("+3749100{i:04}"), "VALUE_TYPE": "WORK"}],
                "EMAIL": [{"VALUE": format!("read{i}@example.com"), "VALUE_TYPE": "WORK"}],
            });
            let r = api::create(&admin, Entity::Contact, &fields.to_string()).expect("seed");
            r.result.to_json_text().trim_matches('"').to_string()
        })
        .collect();
    let ids = ids.join(",");

    let only = std::env::var("B24_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|s| s.trim() == name);
    let per_call = if wanted("per_call") {
        crate::per_call::run(&s, &webhook, &ids)
    } else {
        vec![]
    };
    let counted = wanted("per_call")
        .then(|| crate::per_call::instructions(&s, &webhook, &ids))
        .flatten();
    let bulk = if wanted("bulk") {
        bulk(&s, &mut emu, &webhook)
    } else {
        vec![]
    };
    let memory = wanted("memory").then(|| memory(&s, &webhook));
    let first_id = ids.split(',').next().unwrap_or("1").to_string();
    let answers = wanted("answers").then(|| answers(&s, &mut emu, &webhook, &first_id));
    let limits = wanted("limits").then(|| crate::limits::run(&s));
    let matching = wanted("matching").then(|| crate::matching::run(&s));
    let addin = wanted("addin").then(|| {
        run_json(rust_child(
            &s,
            "addin",
            &[webhook.clone(), s.addin_objects.to_string()],
        ))
    });
    drop(emu);

    // ----------------------------------------------------------------------------------------
    let load_after = load_average();
    rep.line(format!(
        "Machine: {}, {} cores (shared with other work; load average {} before, {} after). {}. \
         Total run {:.0} s.",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        load_after,
        versions,
        started.elapsed().as_secs_f64()
    ));
    rep.line("");
    if !per_call.is_empty() {
        crate::per_call::table(&mut rep, &s, per_call);
    }
    if let Some(c) = &counted {
        crate::per_call::instructions_table(&mut rep, c);
    }
    if !bulk.is_empty() {
        bulk_table(&mut rep, &s, bulk);
    }
    if let Some(m) = memory {
        memory_table(&mut rep, m);
    }
    if let Some(a) = answers {
        answers_table(&mut rep, a);
    }
    if let Some(a) = addin {
        addin_table(&mut rep, &s, a);
    }
    if let Some(l) = limits {
        crate::limits::table(&mut rep, l);
    }
    if let Some(m) = matching {
        crate::matching::table(&mut rep, m);
    }
    if !rep.notes.is_empty() {
        rep.line("");
        for n in std::mem::take(&mut rep.notes) {
            rep.line(format!("- {n}"));
        }
    }
    println!("\n{}", rep.md);
    let path = s.out_dir.join("bench-results.md");
    match std::fs::write(&path, &rep.md) {
        Ok(()) => eprintln!("bench: results written to {}", path.display()),
        Err(e) => eprintln!("bench: cannot write {}: {e}", path.display()),
    }
}

// --------------------------------------------------------------------------------------------
// Bulk

struct BulkRun {
    label: String,
    client: Value,
    stats: Value,
    rows: u64,
    distinct: u64,
    error: Option<String>,
}

fn bulk(s: &Setup, emu: &mut Emu, webhook: &str) -> Vec<BulkRun> {
    let n = s.records;
    let lib_args = |prefix: &str| {
        vec![
            webhook.to_string(),
            n.to_string(),
            prefix.to_string(),
            BURST.to_string(),
            PER_SECOND.to_string(),
        ]
    };
    let mut plan: Vec<(String, String, Option<Command>)> = Vec::new();
    for (label, prefix) in [
        ("bitrix24-1c, run 1 (all new)", "lib"),
        ("bitrix24-1c, run 2 (all updates)", "lib"),
    ] {
        plan.push((
            label.into(),
            prefix.into(),
            Some(rust_child(s, "bulk", &lib_args(prefix))),
        ));
    }
    let fb_args = |prefix: &str, concurrency: Option<&str>| {
        let mut a = lib_args(prefix);
        a.extend(concurrency.map(str::to_string));
        a
    };
    for (label, prefix, concurrency) in [
        (
            "fast_bitrix24 (its default 50 in flight), run 1 (all new)",
            "fb50",
            None,
        ),
        ("fast_bitrix24 `slow(4)`, run 1 (all new)", "fb4", Some("4")),
        (
            "fast_bitrix24 `slow(4)`, run 2 (all updates)",
            "fb4",
            Some("4"),
        ),
    ] {
        plan.push((
            label.into(),
            prefix.into(),
            python_script(s, "bulk_fast_bitrix24.py", &fb_args(prefix, concurrency)),
        ));
    }
    let mut out = Vec::new();
    for (label, prefix, cmd) in plan {
        let Some(cmd) = cmd else {
            out.push(BulkRun {
                label,
                client: Value::Null,
                stats: Value::Null,
                rows: 0,
                distinct: 0,
                error: Some("skipped".into()),
            });
            continue;
        };
        eprintln!("bench: bulk: {label}");
        emu.cmd(&format!("bucket {BURST} {PER_SECOND}"));
        emu.cmd("reset");
        let emu_cpu = f(&emu.stats(), "cpu_s");
        let result = run_json(cmd);
        let mut stats = emu.stats();
        stats["run_cpu_s"] = json!(f(&stats, "cpu_s") - emu_cpu);
        emu.cmd("bucket none");
        let counts = guid_counts(webhook);
        let (rows, distinct) = counts.get(&prefix).copied().unwrap_or((0, 0));
        let (client, error) = match result {
            Ok(v) => (v, None),
            Err(e) => {
                eprintln!("bench: {e}");
                (Value::Null, Some(e))
            }
        };
        out.push(BulkRun {
            label,
            client,
            stats,
            rows,
            distinct,
            error,
        });
    }
    out
}

fn bulk_table(rep: &mut Report, s: &Setup, runs: Vec<BulkRun>) {
    let n = s.records as f64;
    let write_batches = (s.records.div_ceil(BATCH)) as f64;
    // An upsert must first learn whether each GUID exists: a list command returns at most 50
    // rows and a batch holds 50 commands, so one request can look up at most 2,500 GUIDs.
    let lookup_batches = (s.records.div_ceil(BATCH * BATCH)) as f64;
    let t_writes = (write_batches - BURST).max(0.0) / PER_SECOND;
    let t_min = (write_batches + lookup_batches - BURST).max(0.0) / PER_SECOND;
    rep.line(format!(
        "### Bulk: {} contact upserts by GUID, emulator bucket {BURST:.0} draining {PER_SECOND:.0}/s",
        s.records
    ));
    rep.line("");
    rep.line(format!(
        "Ceiling: {} upserts need at least ⌈{}/{BATCH}⌉ = {write_batches:.0} write batches, and \
         before writing, the portal must be asked which GUIDs exist: a list command returns at \
         most {BATCH} rows and a batch holds {BATCH} commands, so at least ⌈{}/{}⌉ = \
         {lookup_batches:.0} lookup requests. The bucket admits {BURST:.0} at once and then \
         {PER_SECOND:.0}/s, so no client can finish before ({write_batches:.0} + \
         {lookup_batches:.0} − {BURST:.0}) / {PER_SECOND:.0} = **{t_min:.2} s**. Ratio = {t_min:.2} s \
         / achieved wall time; everything else the client sends (the field check, extra lookups) \
         and its latency count against it. The stricter \"writes only\" column ignores the \
         lookups: ({write_batches:.0} − {BURST:.0}) / {PER_SECOND:.0} = {t_writes:.2} s / wall. \
         Steady-state ceiling: {BATCH} × {PER_SECOND:.0} = {} upserts/s. Pacing = (requests the \
         bucket admitted − {BURST:.0}) / {PER_SECOND:.0} / wall time: how close the client ran to \
         the bucket with the requests it chose to send (1.0 is the bucket's limit).",
        s.records,
        s.records,
        s.records,
        BATCH * BATCH,
        BATCH as f64 * PER_SECOND
    ));
    rep.line("");
    rep.line(
        "| run | wall | ratio to ceiling | writes only | pacing | upserts/s | requests (refused 503) | surfaced limit errors | other errors | contacts / distinct GUIDs | duplicates | client CPU | emulator CPU |",
    );
    rep.line(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    let mut lib_ok = true;
    for r in &runs {
        if let Some(e) = &r.error {
            rep.line(format!(
                "| {} | not run: {} | | | | | | | | | | | |",
                r.label,
                e.chars()
                    .take(120)
                    .collect::<String>()
                    .replace('|', "/")
                    .replace('\n', " ")
            ));
            if r.label.starts_with("bitrix24") {
                lib_ok = false;
            }
            continue;
        }
        let c = &r.client;
        let wall = f(c, "wall_s");
        let ratio = t_min / wall;
        let limited = u(c, "rate_limited");
        let failed = u(c, "failed");
        let other = failed.saturating_sub(limited);
        let dups = r.rows.saturating_sub(r.distinct);
        let missing = (s.records as u64).saturating_sub(r.distinct);
        let complete = failed == 0 && c.get("fatal").is_none();
        if r.label.starts_with("bitrix24") && (!complete || ratio < 0.95 || limited > 0 || dups > 0)
        {
            lib_ok = false;
        }
        // Pacing: the least time the bucket needed for the requests this client had admitted.
        let admitted = u(&r.stats, "requests").saturating_sub(u(&r.stats, "limited")) as f64;
        let pacing = (admitted - BURST).max(0.0) / PER_SECOND / wall;
        let (ratio, writes_only, rate, pacing) = if complete {
            (
                format!("{ratio:.3}"),
                format!("{:.3}", t_writes / wall),
                format!("{:.0}", n / wall),
                format!("{pacing:.3}"),
            )
        } else {
            ("— (incomplete)".into(), "—".into(), "—".into(), "—".into())
        };
        let fatal = fatal_note(c);
        rep.line(format!(
            "| {}{fatal} | {wall:.2} s | {ratio} | {writes_only} | {pacing} | {rate} | {} ({}) | {limited} | {other} | {} / {}{} | {dups} | {:.2} s | {:.2} s |",
            r.label,
            u(&r.stats, "requests"),
            u(&r.stats, "limited"),
            r.rows,
            r.distinct,
            if missing > 0 {
                format!(" ({missing} missing)")
            } else {
                String::new()
            },
            f(c, "cpu_s"),
            f(&r.stats, "run_cpu_s"),
        ));
    }
    rep.line("");
    rep.line(
        "In the all-updates runs every GUID exists, and the wall time includes the emulator's \
         own work on the GUID lookups (`@`/`%` list filters scanned over all contacts: see the \
         emulator CPU column), which is server time, not client time.",
    );
    rep.line("");
    rep.line(format!(
        "Target for bitrix24-1c: ratio ≥ 0.95, zero surfaced limit errors, zero duplicates → **{}**.",
        if lib_ok { "met" } else { "not met" }
    ));
    rep.line("");
    rep.notes.push(
        "Bulk, bitrix24-1c: one `b24_bulk_upsert_contacts` call with `rate_limit` \
         `{\"burst\":50,\"per_second\":20}` and the default `bulk_concurrency` (4); records \
         `{NAME, LAST_NAME, UF_CRM_1723100443089: \"lib-<i>\", PHONE: [...]}`. Requests and \
         503 refusals are the emulator's own counters; contacts and distinct GUIDs are counted \
         afterwards by listing every contact."
            .into(),
    );
    rep.notes.push(
        "Bulk, fast_bitrix24 (it has no upsert): the same records with GUIDs `fb50-<i>` / \
         `fb4-<i>`, upserted the way its API allows: `get_all(\"crm.contact.list\", {select: \
         [ID, GUID], filter: {\"%GUID\": \"fb4-\"}})` to find existing GUIDs, then \
         `call(\"crm.contact.add\", new)` and `call(\"crm.contact.update\", existing)` (batches \
         of 50), with `request_pool_size=50, requests_per_second=20` to match the bucket. It \
         retries 503s but gives up after 10 failures in a row (`RuntimeError: All attempts to \
         get data from server exhausted`); such a call raises for all its records (counted as \
         surfaced limit errors), although part of them were written (they appear in the \
         contacts column). With its default of up to 50 requests in flight it overruns the \
         bucket; `slow(4)` (at most 4 in flight, like the library's `bulk_concurrency`) is the \
         setting that completes."
            .into(),
    );
}

// --------------------------------------------------------------------------------------------
// Memory

fn attachment(s: &Setup) -> PathBuf {
    let path = s.out_dir.join("bench-attachment-50MiB.bin");
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(ATTACHMENT_BYTES) {
        // Pseudo-random bytes (xorshift), so nothing along the way can shortcut them; written
        // in 1 MiB chunks so this process stays small (a child's `ru_maxrss` starts from its
        // parent's peak).
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("attachment"));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunk = Vec::with_capacity(1 << 20);
        for _ in 0..ATTACHMENT_BYTES / (1 << 20) {
            chunk.clear();
            while chunk.len() < 1 << 20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.extend_from_slice(&x.to_le_bytes());
            }
            w.write_all(&chunk).expect("write the attachment");
        }
        w.flush().expect("write the attachment");
    }
    path
}

fn memory(s: &Setup, webhook: &str) -> Result<Value, String> {
    eprintln!("bench: memory: 50 MiB attachment");
    let file = attachment(s);
    run_json(rust_child(
        s,
        "memory",
        &[webhook.to_string(), file.to_string_lossy().into_owned()],
    ))
}

fn memory_table(rep: &mut Report, m: Result<Value, String>) {
    rep.line(
        "### Memory: one contact with a 50 MiB file attached by `filePath` (C ABI, fresh process)",
    );
    rep.line("");
    let v = match m {
        Ok(v) => v,
        Err(e) => {
            rep.line(format!("not run: {e}"));
            rep.line("");
            return;
        }
    };
    let mib = |kib: f64| kib / 1024.0;
    let file = f(&v, "file_bytes") / 1024.0; // KiB
    let peak = f(&v, "peak_hwm_kib");
    let base = f(&v, "baseline_hwm_kib");
    let ratio = peak / file;
    rep.line("| file | RSS before the upload (current / peak so far) | peak RSS (`VmHWM`) | `ru_maxrss` | peak / file | (peak − before) / file | upload wall | ok |");
    rep.line("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    rep.line(format!(
        "| {:.0} MiB | {:.1} / {:.1} MiB | {:.1} MiB | {:.1} MiB | {ratio:.2}× | {:.2}× | {:.2} s | {} |",
        mib(file),
        mib(f(&v, "baseline_rss_kib")),
        mib(base),
        mib(peak),
        mib(f(&v, "peak_maxrss_kib")),
        (peak - base) / file,
        f(&v, "wall_s"),
        v["ok"],
    ));
    rep.line("");
    rep.line(format!(
        "Target: peak RSS ≤ 3× the file size → **{}**. The process is fresh: it loads the \
         library, creates a client and one small contact (connection, field cache and runtime \
         warmed up, as in a running 1C process), then uploads. `VmHWM` is this process image's \
         peak; `ru_maxrss` agrees unless the parent's peak was higher (Linux carries it across \
         `exec`).",
        if ratio <= 3.0 && v["ok"] == json!(true) {
            "met"
        } else {
            "not met"
        }
    ));
    rep.line("");
}

// --------------------------------------------------------------------------------------------
// Huge answers

/// (label, body bytes, body kind, framing, max_response_mb)
const ANSWERS: [(&str, u64, &str, &str, u32); 5] = [
    (
        "300 MB JSON array, Content-Length",
        300 << 20,
        "json",
        "declared",
        64,
    ),
    (
        "300 MB JSON array, chunked",
        300 << 20,
        "json",
        "chunked",
        64,
    ),
    ("300 MB HTML, chunked", 300 << 20, "html", "chunked", 64),
    (
        "48 MB JSON array `[0,0,…]`, chunked (accepted)",
        48 << 20,
        "json",
        "chunked",
        64,
    ),
    (
        "48 MB JSON string, chunked (accepted)",
        48 << 20,
        "string",
        "chunked",
        64,
    ),
];

fn answers(
    s: &Setup,
    emu: &mut Emu,
    webhook: &str,
    id: &str,
) -> Vec<(String, u64, Result<Value, String>)> {
    ANSWERS
        .iter()
        .map(|(label, bytes, kind, framing, max_mb)| {
            eprintln!("bench: answers: {label}");
            emu.cmd(&format!("huge {bytes} {kind} {framing}"));
            let args = [webhook.to_string(), id.to_string(), max_mb.to_string()];
            (
                label.to_string(),
                *bytes,
                run_json(rust_child(s, "answer", &args)),
            )
        })
        .collect()
}

fn answers_table(rep: &mut Report, runs: Vec<(String, u64, Result<Value, String>)>) {
    rep.line("### Memory: huge answers to one `b24_get_contact` (C ABI, fresh process, `max_response_mb` 64)");
    rep.line("");
    rep.line("| answer | outcome | peak RSS (`VmHWM`) | growth over the warmed-up process | growth / body | wall |");
    rep.line("| --- | --- | ---: | ---: | ---: | ---: |");
    let mib = |kib: f64| kib / 1024.0;
    for (label, bytes, r) in runs {
        match r {
            Ok(v) => {
                let growth = f(&v, "peak_hwm_kib") - f(&v, "baseline_hwm_kib");
                rep.line(format!(
                    "| {label} | {} | {:.1} MiB | {:.1} MiB | {:.2}× | {:.2} s |",
                    v["outcome"].as_str().unwrap_or("?"),
                    mib(f(&v, "peak_hwm_kib")),
                    mib(growth),
                    growth * 1024.0 / bytes as f64,
                    f(&v, "wall_s"),
                ));
            }
            Err(e) => rep.line(format!("| {label} | not run: {e} | | | | |")),
        }
    }
    rep.line("");
    rep.line(
        "A refused answer costs at most what was read before the limit (nothing when its \
         `Content-Length` declares it too large); an accepted one is passed through as the \
         portal's JSON text, so it costs the body, its masked copy inside the envelope and the \
         returned C string, never a parsed tree.",
    );
    rep.line("");
}

// --------------------------------------------------------------------------------------------
// Add-in objects

fn addin_table(rep: &mut Report, s: &Setup, a: Result<Value, String>) {
    rep.line(format!(
        "### Add-in: {} objects created and connected one after another (fresh process, `dlopen`)",
        s.addin_objects
    ));
    rep.line("");
    let v = match a {
        Ok(v) => v,
        Err(e) => {
            rep.line(format!("not run: {e}"));
            rep.line("");
            return;
        }
    };
    rep.line(
        "| first object | later objects: median | p99 | max | destroy (median) | failed Connects |",
    );
    rep.line("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let us = |x: f64| {
        if x >= 1000.0 {
            format!("{:.2} ms", x / 1000.0)
        } else {
            format!("{x:.0} µs")
        }
    };
    rep.line(format!(
        "| {} | {} | {} | {} | {} | {} |",
        us(f(&v, "first_us")),
        us(f(&v, "median_us")),
        us(f(&v, "p99_us")),
        us(f(&v, "max_us")),
        us(f(&v, "destroy_median_us")),
        u(&v, "failures"),
    ));
    rep.line("");
    let met = f(&v, "median_us") <= 1000.0 && f(&v, "p99_us") <= 1000.0 && u(&v, "failures") == 0;
    rep.line(format!(
        "One object = `GetClassObject`, `setMemManager`, `Init`, `GetInfo`, \
         `RegisterExtensionAs`, `FindMethod(\"Connect\")`, `CallAsFunc(Connect, webhook)` \
         (builds the client; no request is sent). Target: ≤ 1 ms after the first (median and \
         p99) → **{}**.",
        if met { "met" } else { "not met" }
    ));
    rep.line("");
}

/// " (failed: …)" for a client run that ended with an error envelope, else "".
pub(crate) fn fatal_note(c: &Value) -> String {
    c.get("fatal")
        .map(|e| {
            let shown: String = e.to_string().chars().take(80).collect();
            format!(" (failed: {shown})")
        })
        .unwrap_or_default()
}
