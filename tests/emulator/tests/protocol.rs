//! Wire-level behaviour: routing, check order, parameters, envelopes, HTTP, batch, limits, faults.

mod common;

use b24_emulator::{Bucket, Emulator, EmulatorConfig, EntityKind, Fault, FaultAction};
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn routes_suffixes_and_case() {
    let e = emu();
    let h = hook(&e);
    for t in [
        "profile",
        "profile/",
        "profile.json",
        "PROFILE",
        "Profile.json/",
    ] {
        let r = raw(&e, "GET", &format!("{h}{t}"), &[], b"").unwrap();
        assert_eq!(r.result()["NAME"], json!("Admin"), "{t}");
    }
    let r = get(&e, "CRM.CONTACT.FIELDS");
    assert!(r.result()["NAME"].is_object());
    let r = get(&e, "profile.xml");
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("text/xml"));
    assert!(
        r.text().contains("<response><result><ID>1</ID>"),
        "{}",
        r.text()
    );
    // Any other suffix is part of the name.
    assert_err(
        &get(&e, "profile.txt"),
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    );
}

#[test]
fn check_order_404_before_auth() {
    let e = emu();
    let bad = raw(&e, "GET", "/rest/1/wrongsecret/no.such.method", &[], b"").unwrap();
    assert_err(&bad, 404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    let bad = raw(&e, "GET", "/rest/1/wrongsecret/profile", &[], b"").unwrap();
    assert_err(
        &bad,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    let bad = raw(
        &e,
        "GET",
        "/rest/2/emulatorsecret0123456789/profile",
        &[],
        b"",
    )
    .unwrap();
    assert_err(
        &bad,
        401,
        "INVALID_CREDENTIALS",
        "Invalid request credentials",
    );
    // The key without the user ID: the path has two segments -> no such method.
    let bad = raw(
        &e,
        "GET",
        "/rest/emulatorsecret0123456789/profile",
        &[],
        b"",
    )
    .unwrap();
    assert_err(&bad, 404, "ERROR_METHOD_NOT_FOUND", "Method not found!");
    let bad = raw(&e, "GET", "/rest/profile", &[], b"").unwrap();
    assert_err(&bad, 401, "NO_AUTH_FOUND", "Wrong authorization data");
    let other = raw(&e, "GET", "/index.php", &[], b"").unwrap();
    assert_eq!(other.status, 404);
}

#[test]
fn https_required_and_scopes() {
    let e = Emulator::start(EmulatorConfig {
        require_https: true,
        scopes: vec!["user".into()],
        bucket: None,
        ..Default::default()
    })
    .unwrap();
    assert_err(
        &get(&e, "profile"),
        401,
        "INVALID_REQUEST",
        "Https required.",
    );
    // Unknown method is still 404 first.
    assert_err(
        &get(&e, "nope"),
        404,
        "ERROR_METHOD_NOT_FOUND",
        "Method not found!",
    );
    let h = hook(&e);
    let via_proxy = |m: &str| {
        raw(
            &e,
            "GET",
            &format!("{h}{m}"),
            &[("X-Forwarded-Proto", "https")],
            b"",
        )
        .unwrap()
    };
    assert_eq!(via_proxy("profile").status, 200);
    assert_err(
        &via_proxy("crm.contact.list"),
        401,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    );
    assert_eq!(via_proxy("scope").result(), json!(["user"]));
    // Inside a batch the scope error is per command with an empty description.
    let b = raw(
        &e,
        "GET",
        &format!("{h}batch?cmd[a]=crm.contact.list&cmd[b]=profile"),
        &[("X-Forwarded-Proto", "https")],
        b"",
    )
    .unwrap()
    .result();
    assert_eq!(
        b["result_error"]["a"],
        json!({"error":"insufficient_scope","error_description":""})
    );
    assert_eq!(b["result"]["b"]["ID"], json!("1"));
}

#[test]
fn envelope_shape_headers_and_encoding() {
    let e = emu();
    let id = add_contact(&e, json!({"NAME": "Ann \"<b>&'/\" Խաչատրյան"}));
    let r = get(&e, &format!("crm.contact.get?ID={id}"));
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    let text = r.text();
    assert!(
        text.contains(r#""NAME":"Ann \u0022\u003Cb\u003E\u0026\u0027\/\u0022 Խաչատրյան""#),
        "{text}"
    );
    assert!(text.starts_with(r#"{"result":{"ID":""#));
    let v = r.json();
    let t = &v["time"];
    let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "start",
            "finish",
            "duration",
            "processing",
            "date_start",
            "date_finish",
            "operating_reset_at",
            "operating"
        ],
        "the cloud's limiter is always on, so the operating keys are always there"
    );
    assert!(t["date_start"].as_str().unwrap().ends_with("+04:00"));
    // list: result, total, time in that order; next only with more pages.
    let l = get(&e, "crm.contact.list").text();
    let (ri, ti, tmi) = (
        l.find("\"result\"").unwrap(),
        l.find("\"total\"").unwrap(),
        l.find("\"time\"").unwrap(),
    );
    assert!(ri < ti && ti < tmi);
    assert!(!l.contains("\"next\""));
}

#[test]
fn parse_str_and_parameter_merging() {
    let e = emu();
    // `+` is a space, %2B a plus, brackets nest.
    let r = form(
        &e,
        "crm.contact.add",
        "fields[NAME]=Ann+Lee&fields[PHONE][0][VALUE]=%2B7999&fields[PHONE][1][VALUE]=+7888&fields[EMAIL][][VALUE]=a@b.cd",
    );
    let id = r.result().as_u64().unwrap();
    let c = e.entity(EntityKind::Contact, id).unwrap();
    assert_eq!(c["NAME"], json!("Ann Lee"));
    assert_eq!(c["PHONE"][0]["VALUE"], json!("+7999"));
    assert_eq!(
        c["PHONE"][1]["VALUE"],
        json!("7888"),
        "'+' became a space, then trimmed"
    );
    assert_eq!(c["EMAIL"][0]["VALUE"], json!("a@b.cd"));

    // Body keys replace query keys shallowly: the query's fields[NAME] is gone.
    let h = hook(&e);
    let r = raw(
        &e,
        "POST",
        &format!("{h}crm.contact.add?fields[NAME]=Q&fields[COMMENTS]=q"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"fields[LAST_NAME]=B",
    )
    .unwrap();
    let c = e
        .entity(EntityKind::Contact, r.result().as_u64().unwrap())
        .unwrap();
    assert_eq!(
        (
            c["NAME"].clone(),
            c["LAST_NAME"].clone(),
            c["COMMENTS"].clone()
        ),
        (Value::Null, json!("B"), Value::Null)
    );

    // Invalid JSON = no body parameters; the query still counts.
    let r = raw(
        &e,
        "POST",
        &format!("{h}crm.contact.add?fields[NAME]=FromQuery"),
        &[("Content-Type", "application/json")],
        b"{not json",
    )
    .unwrap();
    let c = e
        .entity(EntityKind::Contact, r.result().as_u64().unwrap())
        .unwrap();
    assert_eq!(c["NAME"], json!("FromQuery"));

    // A raw body of another type is parsed as a query string.
    let r = raw(
        &e,
        "POST",
        &format!("{h}crm.contact.add"),
        &[("Content-Type", "text/plain")],
        b"fields[NAME]=Raw",
    )
    .unwrap();
    assert!(r.result().is_number());

    // multipart/form-data.
    let body = "--XX\r\nContent-Disposition: form-data; name=\"fields[NAME]\"\r\n\r\nMulti Part\r\n--XX--\r\n";
    let r = raw(
        &e,
        "POST",
        &format!("{h}crm.contact.add"),
        &[("Content-Type", "multipart/form-data; boundary=XX")],
        body.as_bytes(),
    )
    .unwrap();
    let c = e
        .entity(EntityKind::Contact, r.result().as_u64().unwrap())
        .unwrap();
    assert_eq!(c["NAME"], json!("Multi Part"));

    // GET bodies are ignored (PHP fills $_POST only for POST).
    let r = raw(
        &e,
        "GET",
        &format!("{h}crm.contact.get"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"ID=1",
    )
    .unwrap();
    assert_err(&r, 400, "", "ID is not defined or invalid.");
    // `start` must be lower-case; START is just another parameter.
    let r = get(&e, "crm.contact.list?START=50");
    assert_eq!(r.result().as_array().unwrap().len(), 5);
}

#[test]
fn http_keep_alive_chunked_expect_and_limits() {
    let e = emu();
    let h = hook(&e);
    let mut s = connect(&e);
    for _ in 0..200 {
        send(&mut s, "GET", &format!("{h}profile"), &[], b"").unwrap();
        let r = read_resp(&mut s).unwrap();
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.status, 200);
    }
    // Chunked body with Expect: 100-continue.
    let mut s = connect(&e);
    let body = r#"{"fields":{"NAME":"Chunky"}}"#;
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST {h}crm.contact.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n{:x};ext=1\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let r = read_resp(&mut s).unwrap();
    let id = r.result().as_u64().unwrap();
    assert_eq!(
        e.entity(EntityKind::Contact, id).unwrap()["NAME"],
        json!("Chunky")
    );
    // HTTP/1.0 closes after the answer.
    let mut s = connect(&e);
    s.write_all(format!("GET {h}profile HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    let r = read_resp(&mut s).unwrap();
    assert_eq!(r.header("Connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
    // Oversized and malformed requests.
    let mut s = connect(&e);
    s.write_all(
        format!("POST {h}profile HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(read_resp(&mut s).unwrap().status, 413);
    let mut s = connect(&e);
    s.write_all(b"garbage\r\n\r\n").unwrap();
    assert_eq!(read_resp(&mut s).unwrap().status, 400);
    let mut s = connect(&e);
    let big = format!("GET /x HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70 * 1024));
    let _ = s.write_all(big.as_bytes());
    assert_eq!(read_resp(&mut s).unwrap().status, 431);
}

#[test]
fn many_keep_alive_requests_are_fast() {
    let e = emu();
    let h = hook(&e);
    let id = add_contact(&e, json!({"NAME": "Fast"}));
    let mut s = connect(&e);
    let t = Instant::now();
    for _ in 0..2000 {
        send(
            &mut s,
            "GET",
            &format!("{h}crm.contact.get?id={id}"),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(read_resp(&mut s).unwrap().status, 200);
    }
    // Speed is a benchmark's business; this only shows one connection carries them all.
    println!("2000 keep-alive requests: {:?}", t.elapsed());
    assert_eq!(e.stats().by_method["crm.contact.get"], 2000);
}

#[test]
fn batch_basics_references_and_serialisation() {
    let e = emu();
    let b = call(
        &e,
        "batch",
        json!({"halt": 0, "cmd": {
            "add": "crm.contact.add?fields[NAME]=Batch&fields[PHONE][0][VALUE]=%2B1",
            "get": "crm.contact.get?id=$result[add]",
            "list": "crm.contact.list?filter[ID]=$result[add]&select[]=ID&select[]=NAME",
            "text": "crm.contact.add?fields[NAME]=Copy of $result[get][NAME]&fields[COMMENTS]=see $result[get][PHONE]&fields[POST]=$result[get][PHONE]",
            "tot": "crm.contact.add?fields[NAME]=T$total[list]",
            "bad": "crm.contact.get?id=0",
            "missing": "no.method",
        }}),
    )
    .result();
    let res = &b["result"];
    let id = res["add"].as_u64().unwrap();
    assert_eq!(res["get"]["NAME"], json!("Batch"));
    assert_eq!(
        res["list"],
        json!([{"ID": id.to_string(), "NAME": "Batch"}])
    );
    let copy = e
        .entity(EntityKind::Contact, res["text"].as_u64().unwrap())
        .unwrap();
    assert_eq!(copy["NAME"], json!("Copy of Batch"));
    assert_eq!(
        copy["COMMENTS"],
        json!("see $result[get][PHONE]"),
        "embedded non-scalars leave the text"
    );
    assert_eq!(
        copy["POST"],
        json!("Array"),
        "a whole-value reference keeps the type (then PHP casts)"
    );
    let t = e
        .entity(EntityKind::Contact, res["tot"].as_u64().unwrap())
        .unwrap();
    assert_eq!(t["NAME"], json!("T1"));
    assert_eq!(
        b["result_error"]["bad"],
        json!({"error":"","error_description":"ID is not defined or invalid."})
    );
    assert_eq!(
        b["result_error"]["missing"]["error"],
        json!("ERROR_METHOD_NOT_FOUND")
    );
    assert_eq!(b["result_total"], json!({"list": 1}));
    assert_eq!(b["result_next"], json!([]), "empty map is []");
    assert!(b["result_time"]["get"]["start"].is_f64());
    assert!(b["result_time"].get("bad").is_none());
    let st = e.stats();
    assert_eq!(st.by_method["batch"], 1);
    assert_eq!(st.by_method["crm.contact.add"], 3);

    // List-style cmd: maps become JSON lists while keys are 0..n-1, objects after a gap.
    let b = call(&e, "batch", json!({"cmd": ["profile", "scope"]})).result();
    assert!(b["result"].is_array());
    assert_eq!(b["result_error"], json!([]));
    let b = call(&e, "batch", json!({"cmd": ["nope", "scope"]})).result();
    assert_eq!(b["result"], json!({"1": ["crm", "user"]}));
    assert!(b["result_error"].is_array());

    // A whole-value reference to a missing command substitutes the entire result map.
    let b = call(
        &e,
        "batch",
        json!({"CMD": {"p": "profile", "s": "scope?x=$result[nope]"}}),
    )
    .result();
    assert!(b["result"]["s"].is_array());

    // Nested batch, halt.
    let b = call(&e, "batch", json!({"cmd": {"n": "batch?cmd[a]=scope"}})).result();
    assert_eq!(
        b["result_error"]["n"],
        json!({"error":"ERROR_BATCH_METHOD_NOT_ALLOWED","error_description":"Method is not allowed for batch usage"})
    );
    let before = e.entity_count(EntityKind::Contact);
    let b = call(&e, "batch", json!({"halt": 1, "cmd": {"a": "crm.contact.get?id=-1", "b": "crm.contact.add?fields[NAME]=X"}})).result();
    assert!(b["result_error"]["a"].is_object());
    assert_eq!(b["result"], json!([]));
    assert_eq!(
        e.entity_count(EntityKind::Contact),
        before,
        "halt stopped before b"
    );
}

#[test]
fn batch_over_fifty_and_one_bucket_token() {
    let e = Emulator::start(EmulatorConfig {
        bucket: Some(Bucket {
            size: 5.0,
            drain_per_sec: 0.001,
        }),
        ..Default::default()
    })
    .unwrap();
    let cmd: serde_json::Map<String, Value> = (0..60)
        .map(|i| {
            (
                format!("c{i}"),
                json!(format!("crm.contact.add?fields[NAME]=N{i}")),
            )
        })
        .collect();
    let b = call(&e, "batch", json!({ "cmd": cmd })).result();
    assert_eq!(e.entity_count(EntityKind::Contact), 50);
    assert_eq!(b["result"].as_object().unwrap().len(), 50);
    let errs = b["result_error"].as_object().unwrap();
    assert_eq!(errs.len(), 10);
    assert_eq!(
        errs["c55"],
        json!({"error":"ERROR_BATCH_LENGTH_EXCEEDED","error_description":"Max batch length exceeded"})
    );
    let st = e.stats();
    assert_eq!(
        st.max_bucket_level.round(),
        1.0,
        "a batch is one request for the bucket"
    );
    assert_eq!(st.by_method["crm.contact.add"], 50);
}

#[test]
fn bucket_refuses_and_drains() {
    let e = Emulator::start(EmulatorConfig {
        bucket: Some(Bucket {
            size: 3.0,
            drain_per_sec: 0.001,
        }),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..3 {
        assert_eq!(get(&e, "profile").status, 200);
    }
    for _ in 0..2 {
        assert_err(
            &get(&e, "profile"),
            503,
            "QUERY_LIMIT_EXCEEDED",
            "Too many requests",
        );
    }
    let st = e.stats();
    assert_eq!(st.limited, 2);
    assert!((st.max_bucket_level - 3.0).abs() < 0.01);
    // A live change of the drain: 4/s frees a token within 250 ms (slow enough that three
    // requests in a row still meet a full bucket on a loaded machine).
    e.set_bucket(Some(Bucket {
        size: 2.0,
        drain_per_sec: 4.0,
    }));
    assert_eq!(get(&e, "profile").status, 200);
    assert_eq!(get(&e, "profile").status, 200);
    assert_eq!(get(&e, "profile").status, 503);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(get(&e, "profile").status, 200);
    e.set_bucket(None);
    for _ in 0..20 {
        assert_eq!(get(&e, "profile").status, 200);
    }
    // The default config has the 50/2 bucket.
    let d = Emulator::start_default().unwrap();
    let mut s = connect(&d);
    let h = hook(&d);
    let mut codes = Vec::new();
    for _ in 0..52 {
        send(&mut s, "GET", &format!("{h}scope"), &[], b"").unwrap();
        codes.push(read_resp(&mut s).unwrap().status);
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 50);
    assert_eq!(d.stats().limited, 2);
    d.reset_stats();
    assert_eq!(d.stats().requests, 0);
}

#[test]
fn faults_without_execution() {
    let e = emu();
    let h = hook(&e);
    let add = || call(&e, "crm.contact.add", json!({"fields": {"NAME": "F"}}));
    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::QueryLimit,
    });
    e.inject(Fault {
        method: None,
        times: 1,
        action: FaultAction::HtmlError(502),
    });
    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::EmptyBody(500),
    });
    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::OperationTimeLimit,
    });
    // A non-matching method is not hit by the method-specific faults but is by `None`.
    assert_eq!(get(&e, "profile").status, 502);
    assert_eq!(get(&e, "profile").status, 200);
    assert_err(&add(), 503, "QUERY_LIMIT_EXCEEDED", "Too many requests");
    let r = add();
    assert_eq!((r.status, r.body.len()), (500, 0));
    assert_err(
        &add(),
        429,
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
    );
    assert_eq!(e.entity_count(EntityKind::Contact), 0);
    assert_eq!(
        e.stats().limited,
        0,
        "injected 503s are not bucket refusals"
    );
    assert_eq!(add().status, 200);

    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::HtmlError(504),
    });
    let r = add();
    assert_eq!(r.status, 504);
    assert!(r.header("Content-Type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("<html>"));

    // Reset before execute: no answer, nothing stored.
    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 2,
        action: FaultAction::ResetBeforeExecute,
    });
    for _ in 0..2 {
        let r = raw(
            &e,
            "POST",
            &format!("{h}crm.contact.add"),
            &[("Content-Type", "application/json")],
            br#"{"fields":{"NAME":"R"}}"#,
        );
        assert!(r.is_err());
    }
    assert_eq!(e.entity_count(EntityKind::Contact), 1);
    e.inject(Fault {
        method: None,
        times: 5,
        action: FaultAction::QueryLimit,
    });
    e.clear_faults();
    assert_eq!(get(&e, "profile").status, 200);
}

#[test]
fn faults_after_execution() {
    let e = emu();
    let h = hook(&e);
    let post = || {
        raw(
            &e,
            "POST",
            &format!("{h}crm.contact.add"),
            &[("Content-Type", "application/json")],
            br#"{"fields":{"NAME":"Committed"}}"#,
        )
    };
    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::ResetAfterExecute,
    });
    assert!(post().is_err());
    assert_eq!(
        e.entity_count(EntityKind::Contact),
        1,
        "committed although unanswered"
    );

    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::TruncatedBody,
    });
    let err = post().unwrap_err();
    assert!(err.to_string().contains("eof in body"), "{err}");
    assert_eq!(e.entity_count(EntityKind::Contact), 2);

    e.inject(Fault {
        method: Some("crm.contact.add".into()),
        times: 1,
        action: FaultAction::Delay(Duration::from_millis(150)),
    });
    let t = Instant::now();
    let r = post().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(r.json()["time"]["processing"].as_f64().unwrap() >= 0.15);
    assert_eq!(e.entity_count(EntityKind::Contact), 3);

    // Batch faults match the method "batch".
    e.inject(Fault {
        method: Some("batch".into()),
        times: 1,
        action: FaultAction::QueryLimit,
    });
    assert_eq!(get(&e, "crm.contact.list").status, 200);
    assert_eq!(
        call(&e, "batch", json!({"cmd": {"a": "scope"}})).status,
        503
    );
}

#[test]
fn shutdown_closes_the_port() {
    let e = emu();
    let port = e.port();
    let mut idle = connect(&e); // an idle keep-alive connection must not block shutdown
    send(&mut idle, "GET", &format!("{}profile", hook(&e)), &[], b"").unwrap();
    read_resp(&mut idle).unwrap();
    let t = Instant::now();
    e.shutdown();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn stats_and_methods() {
    let e = emu();
    get(&e, "profile");
    get(&e, "crm.contact.list.json");
    get(&e, "nope");
    let st = e.stats();
    assert_eq!(st.requests, 3);
    assert_eq!(st.by_method["crm.contact.list"], 1);
    assert_eq!(st.by_method["nope"], 1);
    let m = get(&e, "methods").result();
    assert!(m.as_array().unwrap().contains(&json!("crm.company.update")));
    assert_eq!(get(&e, "scope").result(), json!(["crm", "user"]));
    assert!(get(&e, "server.time")
        .result()
        .as_str()
        .unwrap()
        .ends_with("+04:00"));
    assert!(e
        .webhook_url()
        .ends_with("/rest/1/emulatorsecret0123456789/"));
    assert_eq!(e.base_url(), format!("http://127.0.0.1:{}", e.port()));
}

#[test]
fn webhook_user_given_as_login() {
    let e = Emulator::start(EmulatorConfig {
        user_id: "admin".into(),
        bucket: None,
        ..Default::default()
    })
    .unwrap();
    assert!(e
        .webhook_url()
        .contains("/rest/admin/emulatorsecret0123456789/"));
    let p = get(&e, "profile").result();
    assert_eq!(p["ID"], json!("1"));
    let id = add_contact(&e, json!({"NAME": "x"}));
    assert_eq!(
        e.entity(EntityKind::Contact, id).unwrap()["CREATED_BY_ID"],
        json!("1")
    );
    assert!(get(&e, "user.get").result()[0].get("LOGIN").is_none());
}
