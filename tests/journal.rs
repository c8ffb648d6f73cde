//! The request journal over real sockets: one line per HTTP request (retries, batches, bulk
//! lookups and uploads included), in the ring and in the file alike, bounded, off by default.
//! The secret-never-in-the-journal checks live with the other secret tests (tests/faults/wire.rs,
//! tests/resilience.rs).

mod common;

use b24_emulator::{Fault, FaultAction};
use base64::Engine;
use bitrix24_1c::api::{self, Entity};
use bitrix24_1c::journal::rfc3339_millis;
use common::*;
use serde_json::json;
use std::time::SystemTime;

/// One journal line, its fields checked for shape.
#[derive(Debug)]
struct Line {
    time: String,
    method: String,
    status: String,
    code: String,
    attempt: u32,
    request_bytes: u64,
    answer_bytes: String,
}

fn parse(line: &str) -> Line {
    let f: Vec<&str> = line.split('\t').collect();
    assert_eq!(f.len(), 7, "seven tab-separated fields: {line:?}");
    let t = f[0].as_bytes();
    assert!(
        t.len() == 24 && t[4] == b'-' && t[10] == b'T' && t[19] == b'.' && t[23] == b'Z',
        "RFC 3339 UTC with ms: {line:?}"
    );
    let ms = f[5].strip_suffix("ms").expect("duration in ms");
    assert!(ms.parse::<u64>().is_ok(), "{line:?}");
    let (sent, got) = f[6].split_once('/').expect("request/answer bytes");
    assert!(got == "-" || got.parse::<u64>().is_ok(), "{line:?}");
    Line {
        time: f[0].into(),
        method: f[1].into(),
        status: f[2].into(),
        code: f[3].into(),
        attempt: f[4].parse().expect("attempt number"),
        request_bytes: sent.parse().expect("request bytes"),
        answer_bytes: got.into(),
    }
}

fn lines(text: &str) -> Vec<Line> {
    text.lines().map(parse).collect()
}

/// (method, status, code, attempt) of each line, for compact assertions.
fn summary(text: &str) -> Vec<(String, String, String, u32)> {
    lines(text)
        .into_iter()
        .map(|l| (l.method, l.status, l.code, l.attempt))
        .collect()
}

fn row(method: &str, status: &str, code: &str, attempt: u32) -> (String, String, String, u32) {
    (method.into(), status.into(), code.into(), attempt)
}

fn with_ring(emu: &b24_emulator::Emulator, lines: usize) -> bitrix24_1c::Client {
    client_with(emu, json!({"journal": {"lines": lines}}))
}

#[test]
fn the_journal_is_off_by_default() {
    let (_emu, c) = setup();
    ok(api::call(&c, "scope", None));
    assert_eq!(c.journal_text(), "");
    // An empty journal object asks for nothing either.
    let emu = emulator(None);
    let c = client_with(&emu, json!({"journal": {}}));
    ok(api::call(&c, "scope", None));
    assert_eq!(c.journal_text(), "");
}

#[test]
fn journal_settings_are_validated() {
    let emu = emulator(None);
    let url = emu.webhook_url();
    for journal in [
        json!({"lines": 10_001}),
        json!({"lines": -1}),
        json!({"file": ""}),
        json!({"lines": 5, "rotate": true}),
        json!("on"),
    ] {
        let cfg = json!({"webhook_url": url, "journal": journal});
        let e = api::new_client(&cfg.to_string()).expect_err("refused");
        assert_eq!(e.code, "INVALID_CONFIG", "{journal}: {e}");
    }
}

/// A success, a Bitrix error, a rate-limit refusal retried to success, and a batch: each
/// request has its line, in order, with its status, code and attempt number.
#[test]
fn the_ring_records_every_attempt() {
    let emu = emulator(None);
    let c = with_ring(&emu, 100);
    let before = rfc3339_millis(SystemTime::now());
    ok(api::call(&c, "scope", None));
    err(api::call(&c, "no.such.method", None));
    emu.inject(Fault {
        method: Some("crm.contact.list".into()),
        times: 2,
        action: FaultAction::QueryLimit,
    });
    ok(api::call(&c, "crm.contact.list", None));
    ok(api::batch(
        &c,
        r#"{"a":"scope","b":"crm.contact.list"}"#,
        false,
    ));
    let after = rfc3339_millis(SystemTime::now());
    let text = c.journal_text();
    println!("{text}");
    assert_eq!(
        summary(&text),
        [
            row("scope", "200", "-", 1),
            row("no.such.method", "404", "ERROR_METHOD_NOT_FOUND", 1),
            row("crm.contact.list", "503", "QUERY_LIMIT_EXCEEDED", 1),
            row("crm.contact.list", "503", "QUERY_LIMIT_EXCEEDED", 2),
            row("crm.contact.list", "200", "-", 3),
            row("batch", "200", "-", 1),
        ],
        "{text}"
    );
    for l in lines(&text) {
        // Fixed-width UTC times sort as text.
        assert!(
            before <= l.time && l.time <= after,
            "{l:?} in {before}..{after}"
        );
        assert!(l.request_bytes > 0 && l.answer_bytes != "-", "{l:?}");
    }
}

/// A portal that cannot be reached: each attempt is a line with no status, the `not_sent`
/// tag and no answer bytes.
#[test]
fn transport_failures_are_tagged() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/rest/1/{SECRET}/");
    let cfg = json!({"webhook_url": url, "max_retries": 1, "rate_limit": false,
                     "journal": {"lines": 10}});
    let c = api::new_client(&cfg.to_string()).unwrap();
    err(api::call(&c, "scope", None));
    let text = c.journal_text();
    assert_eq!(
        summary(&text),
        [
            row("scope", "-", "not_sent", 1),
            row("scope", "-", "not_sent", 2)
        ],
        "{text}"
    );
    assert!(lines(&text).iter().all(|l| l.answer_bytes == "-"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn the_ring_keeps_only_the_newest_lines() {
    let emu = emulator(None);
    let c = with_ring(&emu, 3);
    for method in [
        "scope",
        "crm.contact.list",
        "crm.company.list",
        "user.get",
        "scope",
    ] {
        ok(api::call(&c, method, None));
    }
    let methods: Vec<String> = lines(&c.journal_text())
        .into_iter()
        .map(|l| l.method)
        .collect();
    assert_eq!(methods, ["crm.company.list", "user.get", "scope"]);
}

/// Two clients (as two sessions or processes would) append to one file from several threads:
/// every request is one whole line, and each client's ring lines are in the file as they are.
#[test]
fn the_file_gets_the_same_lines() {
    let emu = emulator(None);
    let path = journal_path("shared");
    let journal = json!({"journal": {"lines": 1000, "file": path.to_str().unwrap()}});
    let (a, b) = (
        client_with(&emu, journal.clone()),
        client_with(&emu, journal),
    );
    std::thread::scope(|s| {
        for c in [&a, &b, &a, &b] {
            s.spawn(move || {
                for _ in 0..25 {
                    ok(api::call(c, "scope", None));
                }
            });
        }
    });
    let file = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(file.ends_with('\n'), "one line per request, each ended");
    let in_file: Vec<&str> = file.lines().collect();
    assert_eq!(lines(&file).len(), 100, "{file}");
    for c in [&a, &b] {
        let ring = c.journal_text();
        assert_eq!(ring.lines().count(), 50);
        for line in ring.lines() {
            assert!(in_file.contains(&line), "{line:?} not in the file");
        }
    }
}

/// A file that cannot be written never fails a request: the failures are counted in a note
/// after the ring's lines, without the path.
#[test]
fn a_file_that_cannot_be_written_never_fails_a_request() {
    let emu = emulator(None);
    let path = std::env::temp_dir().join("b24-journal-no-such-dir/sub/j.log");
    let c = client_with(
        &emu,
        json!({"journal": {"lines": 10, "file": path.to_str().unwrap()}}),
    );
    ok(api::call(&c, "scope", None));
    ok(api::call(&c, "scope", None));
    let text = c.journal_text();
    let all: Vec<&str> = text.lines().collect();
    assert_eq!(all.len(), 3, "{text}");
    assert!(all[2].starts_with("# journal_write_errors\t2\t"), "{text}");
    assert!(!text.contains("no-such-dir"), "{text}");
    assert_eq!(lines(&all[..2].join("\n")).len(), 2);
    // Without a ring, the note is all there is.
    let c = client_with(&emu, json!({"journal": {"file": path.to_str().unwrap()}}));
    ok(api::call(&c, "scope", None));
    assert!(c.journal_text().starts_with("# journal_write_errors\t1\t"));
}

/// The requests a bulk upsert makes (lookups and write batches, on worker threads) and an
/// upload each have a line.
#[test]
fn bulk_requests_and_uploads_are_journaled() {
    let emu = emulator(None);
    let c = with_ring(&emu, 1000);
    let records: Vec<_> = (0..60)
        .map(|i| json!({"NAME": format!("J{i}"), "UF_CRM_1723100443089": format!("j-{i}")}))
        .collect();
    let out = env(&api::bulk_upsert(
        &c,
        Entity::Contact,
        &json!(records).to_string(),
        &mut |_| {},
    ));
    assert_eq!(out["summary"]["created"], json!(60), "{out}");
    let bulk = lines(&c.journal_text());
    let sent = emu.stats().requests;
    assert_eq!(
        bulk.len() as u64,
        sent,
        "one line per request the portal saw"
    );
    assert!(bulk.iter().filter(|l| l.method == "batch").count() >= 2);
    assert!(bulk.iter().all(|l| l.status == "200"), "{bulk:?}");

    let file = vec![7u8; 30_000];
    let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
    let body = json!({"NAME": "Файл", "UF_CRM_1707822691457": [{"fileData": ["scan.bin", b64]}]});
    ok(api::create(&c, Entity::Contact, &body.to_string()));
    let all = lines(&c.journal_text());
    let upload = all
        .iter()
        .find(|l| l.method == "crm.contact.add")
        .expect("the upload's line");
    assert!(upload.request_bytes > 40_000, "{upload:?}");
    assert_eq!((upload.status.as_str(), upload.code.as_str()), ("200", "-"));
}
