//! Fault injection over real sockets: what each fault puts on the wire, whether the method ran,
//! and what `Stats` reports. Every socket has a read timeout, so a wrong fault fails, not hangs.

mod common;

use b24_emulator::{
    Echo, Emulator, EntityKind, Fault, FaultAction, FaultCount, HugeBody, RandomFaults,
};
use common::*;
use serde_json::{json, Value};
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn inject(e: &Emulator, method: &str, action: FaultAction) {
    e.inject(Fault {
        method: Some(method.into()),
        times: 1,
        action,
    });
}

const ADD_BODY: &[u8] = br#"{"fields":{"NAME":"F"}}"#;

/// Send `crm.contact.add` on a fresh connection and return the socket.
fn send_add(e: &Emulator) -> TcpStream {
    let mut s = connect(e);
    let target = format!("{}crm.contact.add", hook(e));
    let ct = [("Content-Type", "application/json")];
    send(&mut s, "POST", &target, &ct, ADD_BODY).unwrap();
    s
}

/// Everything until EOF, and whether it ended with a clean EOF (not a reset or timeout).
fn read_all(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// Split a raw answer into head text and body bytes.
fn split(raw: &[u8]) -> (String, &[u8]) {
    let p = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&raw[..p]).into_owned(),
        &raw[p + 4..],
    )
}

/// Decode a chunked body; the flag says whether the terminating zero chunk was there.
fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    while let Some(p) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&b[..p]).unwrap(), 16).unwrap();
        if size == 0 {
            return (out, true);
        }
        let data = &b[p + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size || data.len() < size + 2 {
            break;
        }
        b = &data[size + 2..];
    }
    (out, false)
}

fn wait_for(cond: impl Fn() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn delay_executes_after_the_client_hung_up() {
    let e = emu();
    inject(
        &e,
        "crm.contact.add",
        FaultAction::Delay(Duration::from_millis(300)),
    );
    let s = send_add(&e);
    std::thread::sleep(Duration::from_millis(50));
    drop(s); // the client gives up during the sleep
    assert_eq!(e.entity_count(EntityKind::Contact), 0, "still sleeping");
    assert!(wait_for(|| e.entity_count(EntityKind::Contact) == 1));
    assert!(wait_for(|| e.stats().executed == 1));
    let st = e.stats();
    assert_eq!((st.faulted, st.faulted_executed), (1, 1));
    assert!(st.fault_log[0].executed && !st.fault_log[0].random);
    // The connection thread is not wedged: the next request is served.
    assert_eq!(get(&e, "profile").status, 200);
}

#[test]
fn empty_and_non_json_answers_after_execution() {
    let e = emu();
    inject(&e, "crm.contact.add", FaultAction::EmptyAfterExecute(200));
    let r = read_resp(&mut send_add(&e)).unwrap();
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("Content-Length"), Some("0"));
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(e.entity_count(EntityKind::Contact), 1);

    inject(&e, "crm.contact.add", FaultAction::NonJsonAfterExecute(504));
    let r = read_resp(&mut send_add(&e)).unwrap();
    assert_eq!(r.status, 504);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("504 Gateway Time-out"), "{}", r.text());
    assert_eq!(e.entity_count(EntityKind::Contact), 2);
    let st = e.stats();
    assert_eq!(st.executed, 2);
    assert_eq!(
        st.by_fault["EmptyAfterExecute"],
        FaultCount {
            hits: 1,
            executed: 1
        }
    );
    assert_eq!(st.by_fault["NonJsonAfterExecute"].executed, 1);
}

#[test]
fn close_mid_body_ends_a_chunked_answer_early() {
    let e = emu();
    inject(&e, "crm.contact.add", FaultAction::CloseMidBody);
    let (raw, _) = read_all(&mut send_add(&e));
    let (head, body) = split(&raw);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");
    let (data, complete) = dechunk(body);
    assert!(!complete, "no terminating chunk");
    assert!(
        data.starts_with(b"{\"result\":1"),
        "{:?}",
        String::from_utf8_lossy(&data)
    );
    assert!(serde_json::from_slice::<Value>(&data).is_err());
    assert_eq!(e.entity_count(EntityKind::Contact), 1, "committed");
}

fn secret_target(e: &Emulator, method: &str) -> String {
    format!("{}{method}", hook(e))
}

#[test]
fn echo_in_plain_results() {
    let e = emu();
    let add = secret_target(&e, "crm.contact.add");
    assert!(add.contains("emulatorsecret0123456789"));
    inject(
        &e,
        "crm.contact.add",
        FaultAction::EchoRequest(Echo::InResult),
    );
    let r = read_resp(&mut send_add(&e)).unwrap();
    // PHP escapes slashes, so the wire shows `\/rest\/1\/...`; decoded it is the target.
    assert!(r.text().contains(&add.replace('/', "\\/")), "{}", r.text());
    assert_eq!(r.result(), json!(add), "a scalar result becomes the target");
    assert_eq!(e.entity_count(EntityKind::Contact), 1, "executed");

    inject(
        &e,
        "crm.contact.get",
        FaultAction::EchoRequest(Echo::InResult),
    );
    let r = get(&e, "crm.contact.get?id=1");
    assert_eq!(
        r.result()["REQUEST_URI"],
        json!(secret_target(&e, "crm.contact.get?id=1"))
    );
    assert_eq!(r.result()["NAME"], json!("F"));
    inject(
        &e,
        "crm.contact.list",
        FaultAction::EchoRequest(Echo::InResult),
    );
    let r = get(&e, "crm.contact.list");
    assert_eq!(
        r.result()[0]["REQUEST_URI"],
        json!(secret_target(&e, "crm.contact.list"))
    );
    inject(&e, "scope", FaultAction::EchoRequest(Echo::InResult));
    assert_eq!(
        get(&e, "scope").result()[2],
        json!(secret_target(&e, "scope"))
    );
    // An error answer gets it in its description.
    inject(
        &e,
        "crm.contact.get",
        FaultAction::EchoRequest(Echo::InResult),
    );
    let d = get(&e, "crm.contact.get?id=0").json()["error_description"].clone();
    assert!(d.as_str().unwrap().ends_with(&format!(
        "(request: {})",
        secret_target(&e, "crm.contact.get?id=0")
    )));
}

#[test]
fn echo_in_batch_results_and_errors() {
    let e = emu();
    inject(&e, "batch", FaultAction::EchoRequest(Echo::InResult));
    let cmd = json!({"cmd": {"a": "crm.contact.add?fields[NAME]=B", "b": "crm.contact.get?id=0"}});
    let r = call(&e, "batch", cmd).result();
    let t = secret_target(&e, "batch");
    assert_eq!(r["result"]["a"], json!(t));
    let d = r["result_error"]["b"]["error_description"]
        .as_str()
        .unwrap();
    assert_eq!(d, format!("ID is not defined or invalid. (request: {t})"));
    assert_eq!(e.entity_count(EntityKind::Contact), 1);
}

#[test]
fn echo_in_error_does_not_execute() {
    let e = emu();
    inject(
        &e,
        "crm.contact.add",
        FaultAction::EchoRequest(Echo::InError),
    );
    let r = read_resp(&mut send_add(&e)).unwrap();
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"], json!("ERROR_CORE"));
    let want = format!(
        "SQL query error! Request: {}",
        secret_target(&e, "crm.contact.add")
    );
    assert_eq!(v["error_description"], json!(want));
    assert_eq!(e.entity_count(EntityKind::Contact), 0);
    assert!(!e.stats().fault_log[0].executed);
}

fn huge(e: &Emulator, bytes: u64, body: HugeBody, chunked: bool) -> (String, Vec<u8>) {
    inject(
        e,
        "crm.contact.add",
        FaultAction::Huge {
            bytes,
            body,
            chunked,
        },
    );
    let (raw, clean) = read_all(&mut send_add(e));
    assert!(clean, "a complete huge answer ends with FIN");
    let (head, body) = split(&raw);
    let body = if chunked {
        let (b, complete) = dechunk(body);
        assert!(complete);
        b
    } else {
        body.to_vec()
    };
    (head, body)
}

#[test]
fn huge_bodies_have_the_asked_size() {
    let e = emu();
    let (head, b) = huge(&e, 1_000_001, HugeBody::JsonArray, false);
    assert!(head.contains("Content-Length: 1000001"), "{head}");
    assert_eq!(b.len(), 1_000_001);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["result"].as_array().unwrap().len(), (1_000_001 - 13) / 2);

    let (head, b) = huge(&e, 300_000, HugeBody::JsonString, true);
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    assert_eq!(b.len(), 300_000);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["result"].as_str().unwrap().len(), 300_000 - 13);

    let (head, b) = huge(&e, 70_000, HugeBody::NonJson, false);
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert!(b.len() == 70_000 && b.iter().all(|c| *c == b'x'));
    let (_, b) = huge(&e, 3, HugeBody::JsonArray, true);
    assert_eq!(b, br#"{"result":[0]}"#, "shorter than the fixed part");
    assert_eq!(e.entity_count(EntityKind::Contact), 0, "never executes");
    assert_eq!(
        e.stats().by_fault["Huge"],
        FaultCount {
            hits: 4,
            executed: 0
        }
    );
}

#[test]
fn huge_body_stops_when_the_client_hangs_up() {
    let e = emu();
    let ten_gib = 10 << 30;
    inject(
        &e,
        "crm.contact.add",
        FaultAction::Huge {
            bytes: ten_gib,
            body: HugeBody::JsonArray,
            chunked: false,
        },
    );
    let mut s = send_add(&e);
    let mut buf = vec![0u8; 256 * 1024];
    s.read_exact(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf).contains(&format!("Content-Length: {ten_gib}")));
    drop(s);
    assert_eq!(get(&e, "profile").status, 200);
    let t = Instant::now();
    e.shutdown(); // waits for connection threads; a writer still going would take the full 2 s
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn trickle_sends_the_body_slowly() {
    let e = emu();
    inject(
        &e,
        "scope",
        FaultAction::Trickle {
            bytes_per_sec: 1000,
        },
    );
    let mut s = connect(&e);
    send(&mut s, "GET", &format!("{}scope", hook(&e)), &[], b"").unwrap();
    let t = Instant::now();
    let (raw, clean) = read_all(&mut s);
    let (head, body) = split(&raw);
    let len: usize = head
        .split("Content-Length: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(clean && body.len() == len, "complete: {head}");
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["result"], json!(["crm", "user"]));
    // 100-byte steps at 1000 B/s, one pause before each.
    let min = Duration::from_millis((len as u64).div_ceil(100) * 100 - 50);
    assert!(t.elapsed() >= min, "{:?} < {min:?}", t.elapsed());
}

#[test]
fn trickle_outlasts_a_client_timeout_after_committing() {
    let e = emu();
    inject(
        &e,
        "crm.contact.add",
        FaultAction::Trickle { bytes_per_sec: 20 },
    );
    let mut s = send_add(&e);
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    // A client with a 600 ms total timeout: bytes keep coming, the answer never completes.
    let timed_out = loop {
        if t.elapsed() > Duration::from_millis(600) {
            break true;
        }
        match s.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(err) => panic!("{err}"),
        }
    };
    assert!(timed_out);
    let (head, body) = split(&got);
    assert!(head.starts_with("HTTP/1.1 200"), "head at once: {head}");
    assert!(
        !body.is_empty() && body.len() < 40,
        "{} body bytes",
        body.len()
    );
    assert_eq!(e.entity_count(EntityKind::Contact), 1, "committed");
    drop(s);
    let t = Instant::now();
    e.shutdown();
    assert!(t.elapsed() < Duration::from_millis(1500));
}

fn random_run(seed: u64) -> (Emulator, Vec<u16>) {
    let e = emu();
    e.set_random_faults(Some(RandomFaults {
        seed,
        probability: 0.5,
        actions: vec![
            FaultAction::QueryLimit,
            FaultAction::ResetAfterExecute,
            FaultAction::EmptyAfterExecute(502),
        ],
        methods: Some(vec!["crm.contact.add".into()]),
    }));
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(read_resp(&mut send_add(&e)).map(|r| r.status).unwrap_or(0));
        assert_eq!(
            get(&e, "profile").status,
            200,
            "other methods are not faulted"
        );
    }
    (e, codes)
}

#[test]
fn random_faults_are_seeded_and_counted() {
    let (e, codes) = random_run(7);
    let st = e.stats();
    let count = |c: u16| codes.iter().filter(|x| **x == c).count() as u64;
    assert_eq!(st.faulted, 40 - count(200));
    assert!((8..=32).contains(&st.faulted), "{codes:?}");
    assert_eq!(st.random_faulted, st.faulted);
    assert_eq!(st.by_fault["QueryLimit"].hits, count(503));
    assert_eq!(st.by_fault["ResetAfterExecute"].hits, count(0));
    assert_eq!(st.by_fault["EmptyAfterExecute"].hits, count(502));
    assert_eq!(st.by_fault.len(), 3, "all actions drawn: {:?}", st.by_fault);
    // Everything but the 503s ran: the store shows it.
    let executed_adds = 40 - count(503);
    assert_eq!(e.entity_count(EntityKind::Contact) as u64, executed_adds);
    assert_eq!(st.executed, executed_adds + 40, "plus the profile calls");
    assert_eq!(st.faulted_executed, st.faulted - count(503));
    assert!(st
        .fault_log
        .iter()
        .all(|f| f.random && f.method == "crm.contact.add"));

    let (_, again) = random_run(7);
    assert_eq!(codes, again, "same seed, same faults");
    let (_, other) = random_run(8);
    assert_ne!(codes, other);

    e.clear_faults();
    for _ in 0..10 {
        assert_eq!(read_resp(&mut send_add(&e)).unwrap().status, 200);
    }
    assert_eq!(e.stats().faulted, st.faulted);
}

#[test]
fn queued_faults_come_before_random_ones() {
    let e = emu();
    e.set_random_faults(Some(RandomFaults {
        seed: 1,
        probability: 1.0,
        actions: vec![FaultAction::OperationTimeLimit],
        methods: None,
    }));
    inject(&e, "profile", FaultAction::HtmlError(502));
    assert_eq!(get(&e, "profile").status, 502);
    assert_eq!(get(&e, "profile").status, 429);
    e.set_random_faults(None);
    assert_eq!(get(&e, "profile").status, 200);
    let st = e.stats();
    assert_eq!((st.faulted, st.random_faulted, st.executed), (2, 1, 1));
    assert!(!st.fault_log[0].random && st.fault_log[1].random);
}
