//! Standalone emulator: `b24-emulator [--port 8080] [--bind 127.0.0.1] [--secret S] [--user 1]
//! [--bucket 50:2 | --no-bucket] [--https-required] [--operating 480 | --no-operating]
//! [--batch-billing sub-calls|batch] [--call-cost SECS] [--operating-window SECS]
//! [--latency SECS] [--user-guid GUID]...`.
//! Prints `webhook: URL` and serves until killed.

use b24_emulator::{BatchBilling, Bucket, CallCost, Emulator, EmulatorConfig};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A non-negative number of seconds.
fn secs(v: String) -> Duration {
    v.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or_else(|| usage())
}

fn usage() -> ! {
    eprintln!(
        "usage: b24-emulator [--port 8080] [--bind 127.0.0.1] [--secret S] [--user 1] \
         [--bucket SIZE:DRAIN | --no-bucket] [--https-required] \
         [--operating SECS | --no-operating] [--batch-billing sub-calls|batch] \
         [--call-cost SECS] [--operating-window SECS] [--latency SECS] [--user-guid GUID]..."
    );
    std::process::exit(2)
}

fn main() {
    let mut cfg = EmulatorConfig::default();
    let mut ip: IpAddr = [127, 0, 0, 1].into();
    let mut port: u16 = 8080;
    // Users to seed with a 1C GUID (UF_USR_1722587885970), so GetUserByGUID can be tried.
    let mut user_guids: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => port = val().parse().unwrap_or_else(|_| usage()),
            "--bind" => ip = val().parse().unwrap_or_else(|_| usage()),
            "--secret" => {
                let s = val();
                // The library refuses other secrets (its webhook check), so the emulator does too.
                if !(4..=128).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                    eprintln!("--secret must be 4 to 128 letters and digits");
                    std::process::exit(2);
                }
                cfg.secret = s;
            }
            "--user" => cfg.user_id = val(),
            "--bucket" => {
                let v = val();
                let (s, d) = v.split_once(':').unwrap_or_else(|| usage());
                cfg.bucket = Some(Bucket {
                    size: s.parse().unwrap_or_else(|_| usage()),
                    drain_per_sec: d.parse().unwrap_or_else(|_| usage()),
                });
            }
            "--no-bucket" => cfg.bucket = None,
            "--user-guid" => user_guids.push(val()),
            "--https-required" => cfg.require_https = true,
            "--operating" => {
                cfg.operating_limit_secs = Some(val().parse().unwrap_or_else(|_| usage()))
            }
            "--no-operating" => cfg.operating_limit_secs = None,
            "--batch-billing" => {
                cfg.batch_billing = match val().as_str() {
                    "sub-calls" => BatchBilling::PerSubCall,
                    "batch" => BatchBilling::WholeBatch,
                    _ => usage(),
                }
            }
            "--call-cost" => cfg.call_cost = Some(CallCost::uniform(secs(val()))),
            "--operating-window" => cfg.operating_window = secs(val()),
            "--latency" => cfg.latency = Some(secs(val())),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    cfg.bind = SocketAddr::new(ip, port);
    let emu = match Emulator::start(cfg) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("b24-emulator: cannot bind: {e}");
            std::process::exit(1);
        }
    };
    for (n, guid) in user_guids.iter().enumerate() {
        let id = emu.add_user(serde_json::json!({
            "NAME": format!("Demo {}", n + 1),
            "LAST_NAME": "User",
            "ACTIVE": true,
            "UF_USR_1722587885970": guid,
        }));
        println!("user: ID {id} has GUID {guid}");
    }
    println!("webhook: {}", emu.webhook_url());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
