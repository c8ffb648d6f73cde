//! The `proxy` setting: SOCKS5 proxies carry every request (through a real SOCKS5 server on
//! loopback), and a proxy the library cannot use is refused when the client is made, not per call.

mod common;

use bitrix24_1c::api;
use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A minimal SOCKS5 proxy (RFC 1928: no authentication, CONNECT only) on 127.0.0.1 that counts
/// the tunnels it opened. It serves until the test process ends.
fn socks5_proxy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address");
    let tunnels = Arc::new(AtomicUsize::new(0));
    let count = tunnels.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                if let Ok(upstream) = handshake(&conn) {
                    count.fetch_add(1, Ordering::SeqCst);
                    relay(conn, upstream);
                }
            });
        }
    });
    (addr, tunnels)
}

fn handshake(mut c: &TcpStream) -> std::io::Result<TcpStream> {
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = [0u8; 2];
    c.read_exact(&mut head)?;
    let mut methods = vec![0u8; head[1] as usize];
    c.read_exact(&mut methods)?;
    c.write_all(&[5, 0])?; // version 5, "no authentication required"
    let mut req = [0u8; 4];
    c.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a)?;
            Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            c.read_exact(&mut len)?;
            let mut name = vec![0u8; len[0] as usize];
            c.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            let mut a = [0u8; 16];
            c.read_exact(&mut a)?;
            format!("[{}]", Ipv6Addr::from(a))
        }
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    // The test proxy only ever tunnels to loopback.
    assert!(
        host == "127.0.0.1" || host == "localhost",
        "tunnel to {target}"
    );
    let upstream = TcpStream::connect(&target)?;
    c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    c.set_read_timeout(None)?;
    Ok(upstream)
}

fn relay(client: TcpStream, upstream: TcpStream) {
    let (mut c2, mut u2) = match (client.try_clone(), upstream.try_clone()) {
        (Ok(c), Ok(u)) => (c, u),
        _ => return,
    };
    let (mut c1, mut u1) = (client, upstream);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut u1, &mut c1);
    let _ = c1.shutdown(std::net::Shutdown::Write);
}

#[test]
fn socks5_and_socks5h_proxies_carry_the_requests() {
    let emu = emulator(None);
    for scheme in ["socks5", "socks5h"] {
        let (addr, tunnels) = socks5_proxy();
        let c = client_with(&emu, json!({"proxy": format!("{scheme}://{addr}")}));
        let scopes = ok(api::call(&c, "scope", None));
        assert!(scopes.as_array().is_some_and(|s| !s.is_empty()), "{scopes}");
        assert!(tunnels.load(Ordering::SeqCst) >= 1, "{scheme}: no tunnel");
    }
}

#[test]
fn an_unusable_proxy_is_refused_when_the_client_is_made() {
    let emu = emulator(None);
    for proxy in [
        "ftp://127.0.0.1:21",
        "socks4://127.0.0.1:1080",
        "127.0.0.1:1080",
        "http://",
        "socks5://",
    ] {
        let cfg = json!({"webhook_url": emu.webhook_url(), "proxy": proxy}).to_string();
        let e = api::new_client(&cfg).expect_err(proxy);
        assert_eq!(
            (e.kind.as_str(), e.code.as_str(), e.retryable),
            ("invalid_input", "INVALID_CONFIG", false),
            "{proxy}: {e:?}"
        );
    }
}
