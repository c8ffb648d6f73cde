//! Side-by-side benchmarks against the project's emulator on loopback (`bash benches/run`, or
//! `cargo bench --bench compare` once the Python packages are installed):
//!
//! 1. per-call cost: `crm.contact.get` one call at a time, rate limiting off: this library
//!    through its C ABI vs a Python `requests.Session` loop vs fast_bitrix24, by CPU time and,
//!    when valgrind is installed, by instructions per call under callgrind (`per_call.rs`);
//! 2. bulk: contact upserts by 1C GUID against a bucket of 50 draining 20/s, vs fast_bitrix24;
//! 3. memory: peak RSS while a 50 MiB attachment is uploaded through `filePath`, and while
//!    huge answers (300 MB refused, 48 MB passed through) are read;
//! 4. add-in: the cost of creating (and connecting) a new 1C object after the first.
//!
//! The emulator runs in its own process, and every client runs in a fresh process of its own
//! that measures itself (`getrusage(RUSAGE_SELF)` here, `resource.getrusage` in Python), so a
//! client's CPU time contains neither the server's nor process start-up. The results are printed
//! as Markdown and written to `target/release/bench-results.md`.
//!
//! Knobs (environment): `B24_BENCH_CALLS` (5000), `B24_BENCH_RECORDS` (10000), `B24_BENCH_REPS`
//! (3 repetitions of the per-call runs; the median is reported), `B24_BENCH_ADDIN` (1000
//! objects), `B24_BENCH_PYTHON` (`python3`), `B24_BENCH_SKIP_PYTHON=1`, `B24_BENCH_ONLY` (a
//! comma list of sections to run: `per_call,bulk,memory,answers,addin,limits,matching`; default all).
//!
//! 6. matching (`benches/compare/matching.rs`): the first sync against 2,000 hand-entered
//!    contacts without a GUID, dry run then bulk upsert of 5,000 records with a match rule;
//!    knobs `B24_BENCH_MATCH_RECORDS`, `B24_BENCH_MATCH_DUPS`.
//!
//! 5. limits (`benches/compare/limits.rs`): bulk upserts under the operating budget (time-scaled
//!    ÷10, both batch billing models), under the cloud's bucket with 250 ms latency, and 10,000
//!    updates of existing records; knobs `B24_BENCH_LIMITS_RECORDS` (600),
//!    `B24_BENCH_CLOUD_RECORDS` (3000), `B24_BENCH_UPDATES` (10000).

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod addin;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod client;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod emulator;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod limits;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod matching;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod per_call;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod run;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys;

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn main() {
    // `cargo bench` passes `--bench`; children get `child MODE ARGS...`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("child") => {
            let mode = args.get(1).map(String::as_str).unwrap_or("");
            let rest = &args[2.min(args.len())..];
            let out = match mode {
                "emulator" => {
                    emulator::serve(rest);
                    return;
                }
                "get" => client::get(rest),
                "create" => client::create(rest),
                "bulk" => client::bulk(rest),
                "memory" => client::memory(rest),
                "answer" => client::answer(rest),
                "addin" => addin::run(rest),
                "match" => matching::child(rest),
                other => panic!("unknown child mode {other:?}"),
            };
            println!("{out}");
        }
        _ => run::main(),
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn main() {
    eprintln!("the comparison benchmark runs on 64-bit Linux only");
}
