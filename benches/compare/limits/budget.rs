//! Scenario (a): the operating budget, time-scaled ÷10, under both batch billing models.

use super::{lib_args, measure, Scenario, BATCH};
use crate::run::{env_num, python_script, rust_child, Emu, Setup};

/// Operating window, per-method budget and per-call cost, seconds.
const WINDOW: f64 = 60.0;
const BUDGET: f64 = 6.0;
const COST: f64 = 0.025;
/// The cloud's bucket time-scaled ×10 like the budget.
const A_BURST: f64 = 50.0;
const A_RATE: f64 = 20.0;

/// The earliest finish under a per-method budget: `total` seconds of processing, at most
/// `budget` of it per `window` (the limit itself; the check-before-call lets a client overrun
/// it by the calls already in flight, and slot alignment can free a window up to a tenth
/// early, so a client can beat this slightly). The last part's own processing is not added.
fn budget_earliest(total: f64, budget: f64, window: f64) -> f64 {
    ((total / budget).ceil() - 1.0).max(0.0) * window
}

/// Scenario (a), both billing models, the library and (if installed) fast_bitrix24 `slow(4)`.
pub(super) fn scenario(s: &Setup) -> Scenario {
    let n = env_num("B24_BENCH_LIMITS_RECORDS", 600);
    let total = n as f64 * COST;
    let earliest = budget_earliest(total, BUDGET, WINDOW);
    let mut rows = Vec::new();
    for (billing, name) in [("sub-calls", "per sub-call"), ("batch", "whole batch")] {
        let flags = [
            "--operating-window",
            "60",
            "--operating",
            "6",
            "--call-cost",
            "0.025",
            "--batch-billing",
            billing,
            "--bucket",
            "50:20",
        ];
        for client in ["bitrix24-1c", "fast_bitrix24 `slow(4)`"] {
            // A fresh emulator per run: each starts with an unspent budget.
            let mut emu = Emu::start_with(&s.exe, &flags);
            let hook = emu.webhook.clone();
            let prefix = if client.starts_with("bitrix") {
                "lib"
            } else {
                "fb"
            };
            let args = lib_args(&hook, n, prefix, A_BURST, A_RATE);
            let cmd = if prefix == "lib" {
                // The client is told the scaled portal's budget and window.
                let scaled = format!(
                    r#"{{"operating_limit_secs": {BUDGET}, "operating_window_secs": {WINDOW}}}"#
                );
                let mut args = args;
                args.push(scaled);
                Some(rust_child(s, "bulk", &args))
            } else {
                let mut a = args;
                a.push("4".into());
                python_script(s, "bulk_fast_bitrix24.py", &a)
            };
            let label = format!("{client}, billing {name}");
            rows.push(measure(&mut emu, &label, prefix, n, earliest, cmd));
        }
    }
    Scenario {
        heading: format!(
            "Operating budget, time-scaled ÷10: {n} new contacts, every call {COST} s, \
             {BUDGET:.0} s per method per {WINDOW:.0} s window, bucket {A_BURST:.0}/{A_RATE:.0} per s"
        ),
        bound: format!(
            "Earliest finish: the adds cost {n} × {COST} = {total:.1} s of `crm.contact.add` \
             budget (whole-batch billing adds at least the GUID lookups' {:.2} s, one list command \
             per 50 GUIDs, to `batch`), at most \
             {BUDGET:.0} s per {WINDOW:.0} s window, so the last part cannot start before \
             (⌈{total:.1} / {BUDGET:.0}⌉ − 1) × {WINDOW:.0} = **{earliest:.0} s** (the last \
             part's processing not added; slots are aligned to {:.0} s, so a window can free a \
             little early). Ratio = earliest / wall; above 1 the client spent more than the \
             budget in a window, which the limiter lets through: it checks before each call \
             against stored time plus the request's own calls, and a request's time is stored \
             only when it ends, so requests in flight do not see each other (whole-batch \
             billing checks only at the start of each batch). \
             The real scenario (600 s window, 60 s budget, 0.25 s per call) takes ten times as \
             long.",
            (n as f64 / BATCH).ceil() * COST,
            WINDOW / 10.0
        ),
        rows,
    }
}
