//! Client-side pacing against a portal-side leaky bucket: the library must never surface
//! `QUERY_LIMIT_EXCEEDED` for a load the bucket can carry, and must not be much slower than it
//! allows. (Figures are printed; the time bounds are generous so the test does not flake.)

mod common;

use b24_emulator::Bucket;
use bitrix24_1c::api;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const BUCKET: Bucket = Bucket {
    size: 10.0,
    drain_per_sec: 20.0,
};

fn paced_client(emu: &b24_emulator::Emulator) -> bitrix24_1c::Client {
    client_with(
        emu,
        json!({"rate_limit": {"burst": BUCKET.size, "per_second": BUCKET.drain_per_sec}}),
    )
}

#[test]
fn two_hundred_calls_fit_the_bucket() {
    let emu = emulator(Some(BUCKET));
    let c = paced_client(&emu);
    let t = Instant::now();
    for _ in 0..200 {
        ok(api::call(&c, "scope", None));
    }
    let took = t.elapsed();
    let ideal = (200.0 - BUCKET.size) / BUCKET.drain_per_sec;
    let s = emu.stats();
    println!("200 calls, bucket 10 draining 20/s: {:.2} s (ideal {ideal:.2} s), refused by portal: {}, peak level {:.1}", took.as_secs_f64(), s.limited, s.max_bucket_level);
    assert_eq!(s.limited, 0, "the portal never had to refuse");
    assert!(
        took >= Duration::from_secs_f64(ideal * 0.9),
        "faster than the bucket allows?"
    );
    assert!(
        took <= Duration::from_secs_f64(ideal * 1.5 + 1.0),
        "much slower than the bucket allows"
    );
}

#[test]
fn four_threads_share_one_portal_bucket() {
    let emu = emulator(Some(BUCKET));
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            // A separate client per thread, as 1C has one per session: the bucket is still shared.
            let c = paced_client(&emu);
            s.spawn(move || {
                for _ in 0..50 {
                    ok(api::call(&c, "scope", None));
                }
            });
        }
    });
    let took = t.elapsed();
    let s = emu.stats();
    println!(
        "4 threads x 50 calls: {:.2} s, refused by portal: {}, peak level {:.1}",
        took.as_secs_f64(),
        s.limited,
        s.max_bucket_level
    );
    assert_eq!(s.limited, 0);
    assert!(took >= Duration::from_secs_f64(9.5 * 0.9));
}

#[test]
fn a_bucket_filled_by_someone_else_is_waited_out() {
    let emu = emulator(Some(Bucket {
        size: 5.0,
        drain_per_sec: 10.0,
    }));
    // Fill the portal's bucket behind the library's back (another program on the same portal).
    let rogue = client_with(&emu, json!({"max_retries": 0}));
    let mut refused = 0;
    for _ in 0..10 {
        if api::call(&rogue, "scope", None).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0);
    let c = client_with(&emu, json!({"rate_limit": {"burst": 5, "per_second": 10}}));
    for _ in 0..20 {
        ok(api::call(&c, "scope", None));
    }
}
