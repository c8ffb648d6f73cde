//! Replays the committed fuzz corpora (fuzz/corpus/<target>/) on stable, through the very
//! bodies the cargo-fuzz targets run (fuzz/targets/common.rs), so a property a fuzzing run
//! checked stays checked by `cargo test`. Inputs that still fail live in fuzz/findings/ and
//! are not replayed here.

#[path = "../fuzz/targets/common.rs"]
mod targets;

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

/// Replays every file of `<root>/<target>/`; root is fuzz/corpus, or `B24_FUZZ_REPLAY_DIR`
/// (for triage: `B24_FUZZ_REPLAY_DIR=fuzz/findings cargo test --test fuzz_replay`).
fn replay(target: &str, body: fn(&[u8])) {
    let root = std::env::var("B24_FUZZ_REPLAY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"));
    let dir = root.join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    // A fixed order: some library state (pools, caches) outlives an input.
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    let started = Instant::now();
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).expect("a readable corpus file");
        // Go on after a failure, so one run names every failing input.
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(f.display().to_string());
        }
    }
    // Straight to stderr, past the test harness's capture, so a passing run shows the counts.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz_replay: {target}: replayed {} inputs in {:.2} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs failed (messages above):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn config_corpus() {
    replay("config", targets::config);
}

#[test]
fn fields_corpus() {
    replay("fields", targets::fields);
}

#[test]
fn batch_corpus() {
    replay("batch", targets::batch);
}

#[test]
fn answers_corpus() {
    replay("answers", targets::answers);
}
