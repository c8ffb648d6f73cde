//! Loads the built add-in the way 1C:Enterprise does: a C++ host (`tests/host/host.cpp`, built
//! here with g++ `-Wall -Wextra -Werror`) `dlopen`s the cdylib, drives every vtable entry and
//! export, calls every method against the in-process emulator, and fails on any leak, double or
//! foreign free, wrong result or crash.
//!
//! `host_under_valgrind` (ignored by default; `cargo test --test addin_host -- --ignored`) runs
//! the host under valgrind, which must then be installed.
//!
//! Other builds of the library: `B24_ADDIN_LIB=<path>` loads that file instead of this profile's
//! cdylib, and `B24_HOST_CXXFLAGS` adds g++ flags; e.g. for i686 Linux:
//! `cargo build --lib --target i686-unknown-linux-gnu` then
//! `B24_ADDIN_LIB=target/i686-unknown-linux-gnu/debug/libbitrix24_1c.so B24_HOST_CXXFLAGS=-m32
//! cargo test --test addin_host`.

mod common;

use common::native::profile_dir;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The add-in to load: `B24_ADDIN_LIB`, or this profile's cdylib.
fn library() -> PathBuf {
    if let Some(lib) = std::env::var_os("B24_ADDIN_LIB") {
        let lib = PathBuf::from(lib);
        assert!(
            lib.exists(),
            "B24_ADDIN_LIB={} does not exist",
            lib.display()
        );
        return lib;
    }
    common::native::cdylib().to_path_buf()
}

/// Builds the host once per test run.
fn host() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/host.cpp");
        let dir = profile_dir().join("addin-host");
        std::fs::create_dir_all(&dir).expect("create the host build dir");
        let extra = std::env::var("B24_HOST_CXXFLAGS").unwrap_or_default();
        let extra: Vec<&str> = extra.split_whitespace().collect();
        let suffix: String = extra
            .concat()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let name = if suffix.is_empty() {
            "host".to_string()
        } else {
            format!("host-{suffix}")
        };
        // Build under a private name, then rename: concurrent test runs never see a half file.
        let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
        let status = Command::new("g++")
            .args([
                "-std=c++17",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-g",
                "-O1",
                "-pthread",
            ])
            .args(&extra)
            .arg("-o")
            .arg(&tmp)
            .arg(&src)
            .arg("-ldl")
            .status()
            .expect("g++ must be installed to build the test host");
        assert!(status.success(), "building {} failed", src.display());
        let out = dir.join(name);
        std::fs::rename(&tmp, &out).expect("move the host into place");
        out
    })
}

/// Runs `cmd` with a deadline, so a hang fails the test instead of stalling CI.
fn run(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the host");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the host") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the host did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

fn check(output: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("addin host:"))
        .unwrap_or("(no summary)");
    println!("{what}: {summary}");
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn host_drives_the_addin_like_1c() {
    let lib = library();
    let host = host();
    let emulator = b24_emulator::Emulator::start_default().expect("start the emulator");
    let mut cmd = Command::new(host);
    cmd.arg(&lib)
        .arg(emulator.webhook_url())
        .arg(bitrix24_1c::VERSION);
    let output = run(cmd, Duration::from_secs(300));
    check(&output, "addin host");
}

#[test]
#[ignore = "needs valgrind; CI runs it with --ignored"]
fn host_under_valgrind() {
    let lib = library();
    let host = host();
    let emulator = b24_emulator::Emulator::start_default().expect("start the emulator");
    let mut cmd = common::native::valgrind();
    cmd.arg(host)
        .arg(&lib)
        .arg(emulator.webhook_url())
        .arg(bitrix24_1c::VERSION);
    let output = run(cmd, Duration::from_secs(1200));
    check(&output, "addin host under valgrind");
}

/// Isolated attachment (the server default since 8.3.21): each host process loads its own copy
/// of the add-in. Two such processes upsert the same 300 GUIDs through worker-thread jobs at once,
/// against one portal whose bucket (10, draining 5/s) they must share: the portal never has to
/// refuse, and every GUID ends as exactly one contact.
#[test]
fn two_isolated_processes_share_one_portal() {
    let (lib, host) = (library(), host());
    let emulator = b24_emulator::Emulator::start(b24_emulator::EmulatorConfig {
        bucket: Some(b24_emulator::Bucket {
            size: 10.0,
            drain_per_sec: 5.0,
        }),
        ..Default::default()
    })
    .expect("start the emulator");
    let settings = r#"{"rate_limit":{"burst":10,"per_second":5}}"#;
    let spawn = || {
        let mut cmd = Command::new(host);
        cmd.arg(&lib)
            .arg(emulator.webhook_url())
            .arg(bitrix24_1c::VERSION)
            .env("B24_HOST_MODE", "job")
            .env("B24_HOST_SETTINGS", settings)
            .env("B24_HOST_PREFIX", "isolated")
            .env("B24_HOST_RECORDS", "300");
        std::thread::spawn(move || run(cmd, Duration::from_secs(180)))
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [a.join().expect("host a"), b.join().expect("host b")];
    let mut summaries = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        check(out, &format!("isolated host {i}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("addin host job: "))
            .expect("the job's envelope");
        let env: serde_json::Value = serde_json::from_str(line).expect("the envelope is JSON");
        summaries.push(env["summary"].clone());
    }
    println!(
        "summaries: {summaries:?}, stats: {:?}",
        emulator.stats().limited
    );
    let sum = |k: &str| {
        summaries
            .iter()
            .map(|s| s[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("created"), sum("updated")),
        (300, 300),
        "{summaries:?}"
    );
    assert_eq!((sum("failed"), sum("unknown")), (0, 0), "{summaries:?}");
    assert_eq!(
        emulator.entity_count(b24_emulator::EntityKind::Contact),
        300,
        "one contact per GUID"
    );
    assert_eq!(emulator.stats().limited, 0, "the portal never refused");
}
