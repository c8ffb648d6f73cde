//! HTTPS end to end: a portal whose certificate a private CA issued is reached with
//! `ca_cert_path`, and refused without it. The server is rustls over a real socket, with the
//! test certificates in `tests/fixtures` (a throwaway CA, and a leaf for 127.0.0.1 it signed).

mod common;

use bitrix24_1c::api;
use common::*;
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use serde_json::json;
use std::io::{BufReader, Read, Write};
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// An HTTPS server on 127.0.0.1 that answers every request with `{"result":7}`, keeping the
/// connection alive. Returns its webhook URL.
fn https_portal() -> String {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/test-server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/test-server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(32).flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let tls = rustls::ServerConnection::new(config).unwrap();
                serve(rustls::StreamOwned::new(tls, tcp));
            });
        }
    });
    format!("https://127.0.0.1:{port}/rest/1/{SECRET}/")
}

/// Answers requests on one connection until it ends (at most 64).
fn serve(stream: impl Read + Write) {
    let mut r = BufReader::new(stream);
    for _ in 0..64 {
        if raw_http::read_request(&mut r).is_none()
            || !raw_http::write_json(r.get_mut(), r#"{"result":7}"#)
        {
            return;
        }
    }
}

fn client(url: &str, extra: serde_json::Value) -> bitrix24_1c::Client {
    let mut cfg =
        json!({"webhook_url": url, "rate_limit": false, "timeout_secs": 5, "max_retries": 1});
    if let serde_json::Value::Object(m) = extra {
        for (k, v) in m {
            cfg[k] = v;
        }
    }
    api::new_client(&cfg.to_string()).unwrap()
}

#[test]
fn a_private_ca_is_trusted_through_ca_cert_path_from_every_thread() {
    let url = https_portal();
    let c = client(
        &url,
        json!({"ca_cert_path": format!("{FIXTURES}/test-ca.pem")}),
    );
    assert_eq!(ok(api::call(&c, "scope", None)), json!(7));
    // Threads at once borrow engines of their own; every one trusts the same CA.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                (0..3)
                    .map(|_| ok(api::call(&c, "scope", None)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), vec![json!(7); 3]);
    }
}

#[test]
fn a_certificate_no_trusted_root_issued_is_refused_before_anything_is_sent() {
    let url = https_portal();
    let c = client(&url, json!({}));
    let e = err(api::call(
        &c,
        "crm.contact.add",
        Some(r#"{"fields":{"NAME":"X"}}"#),
    ));
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("transport"), Some("CONNECT_FAILED")),
        "{e}"
    );
    let text = e["description"].as_str().unwrap_or_default().to_lowercase();
    assert!(text.contains("certificate"), "{e}");
}
