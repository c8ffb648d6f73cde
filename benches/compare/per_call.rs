//! Per-call cost: `crm.contact.get` one call at a time, rate limiting off, this library through
//! its C ABI against Python clients, by CPU time (which moves with machine load) and by
//! instructions under callgrind (which does not).

use crate::run::{f, median_by_cpu, python_script, run_json, rust_child, u, Report, Setup};
use serde_json::Value;
use std::process::Command;

pub struct Client {
    name: &'static str,
    runs: Vec<Value>,
    error: Option<String>,
}

/// The per-call clients: name, and how to start one measuring run of it.
const PER_CALL_CLIENTS: [&str; 5] = [
    "bitrix24-1c (C ABI, via dlopen)",
    "Python requests.Session loop",
    "Python requests.Session loop, `trust_env = False`",
    "fast_bitrix24 `call()` (1-command batch per call)",
    "fast_bitrix24 `call(raw=True)` (plain method)",
];

fn cmd(s: &Setup, i: usize, args: &[String]) -> Option<Command> {
    let with = |extra: &str| {
        let mut a = args.to_vec();
        a.push(extra.to_string());
        a
    };
    match i {
        0 => Some(rust_child(s, "get", args)),
        1 => python_script(s, "percall_requests.py", args),
        2 => python_script(s, "percall_requests.py", &with("no-env")),
        3 => python_script(s, "percall_fast_bitrix24.py", &with("call")),
        _ => python_script(s, "percall_fast_bitrix24.py", &with("raw")),
    }
}

pub fn run(s: &Setup, webhook: &str, ids: &str) -> Vec<Client> {
    let args = [
        webhook.to_string(),
        s.calls.to_string(),
        "50".to_string(), // warm-up calls, not measured
        ids.to_string(),
    ];
    let mut out: Vec<Client> = PER_CALL_CLIENTS
        .iter()
        .map(|name| Client {
            name,
            runs: Vec::new(),
            error: None,
        })
        .collect();
    // Interleaved repetitions, so a burst of outside load hits every client alike.
    for r in 0..s.reps {
        for (i, c) in out.iter_mut().enumerate() {
            let Some(cmd) = cmd(s, i, &args) else {
                c.error.get_or_insert_with(|| "skipped".into());
                continue;
            };
            eprintln!("bench: per-call {}/{}: {}", r + 1, s.reps, c.name);
            match run_json(cmd) {
                Ok(v) => c.runs.push(v),
                Err(e) => {
                    eprintln!("bench: {e}");
                    c.error = Some(e);
                }
            }
        }
    }
    out
}

pub fn table(rep: &mut Report, s: &Setup, clients: Vec<Client>) {
    rep.line(format!(
        "### Per-call cost: {} × `crm.contact.get`, one at a time, rate limiting off",
        s.calls
    ));
    rep.line("");
    rep.line(
        "| client | client CPU per call (user + sys) | range over runs | vs Python requests (default session) | calls/s (wall) | errors |",
    );
    rep.line("| --- | ---: | ---: | ---: | ---: | ---: |");
    let rows: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let per: Vec<f64> = c
                .runs
                .iter()
                .map(|v| f(v, "cpu_s") / f(v, "n") * 1e6)
                .collect();
            let lo = per.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = per.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = format!("{lo:.0}–{hi:.0} µs");
            (c.name, median_by_cpu(c.runs), c.error, range)
        })
        .collect();
    let baseline = rows
        .iter()
        .find(|r| r.0 == PER_CALL_CLIENTS[1])
        .and_then(|r| r.1.as_ref())
        .map(|v| f(v, "cpu_s") / f(v, "n"));
    let per_call_of = |name: &str| {
        rows.iter()
            .find(|r| r.0 == name)
            .and_then(|r| r.1.as_ref())
            .map(|v| f(v, "cpu_s") / f(v, "n"))
    };
    let tuned = per_call_of(PER_CALL_CLIENTS[2]);
    let lib = per_call_of(PER_CALL_CLIENTS[0]);
    let mut lib_ratio = None;
    for (name, med, err, range) in &rows {
        match med {
            Some(v) => {
                let per = f(v, "cpu_s") / f(v, "n");
                let ratio = baseline.map(|b| per / b);
                if name.starts_with("bitrix24-1c") {
                    lib_ratio = ratio;
                }
                rep.line(format!(
                    "| {name} | {:.1} µs ({:.1} + {:.1}) | {range} | {} | {:.0} | {} |",
                    per * 1e6,
                    f(v, "user_s") / f(v, "n") * 1e6,
                    f(v, "sys_s") / f(v, "n") * 1e6,
                    ratio.map_or("—".into(), |r| format!("{r:.3}×")),
                    f(v, "n") / f(v, "wall_s"),
                    u(v, "errors"),
                ));
            }
            None => rep.line(format!(
                "| {name} | not run: {} | | | | |",
                err.as_deref()
                    .unwrap_or("no result")
                    .chars()
                    .take(120)
                    .collect::<String>()
                    .replace('|', "/")
                    .replace('\n', " ")
            )),
        }
    }
    rep.line("");
    if let Some(r) = lib_ratio {
        let vs_tuned = match (lib, tuned) {
            (Some(l), Some(t)) => format!(
                " Against the `trust_env = False` session it is {:.3}×.",
                l / t
            ),
            _ => String::new(),
        };
        rep.line(format!(
            "Target: at most 1/10 of the client CPU of Python requests (default session): \
             {:.3}× → **{}**.{vs_tuned} Median of {} interleaved runs per client (by CPU), each \
             in a fresh process after 50 warm-up calls on the same connection; CPU is the whole \
             client process (all threads), the emulator's is not included.",
            r,
            if r <= 0.1 { "met" } else { "not met" },
            s.reps
        ));
        rep.line("");
    }
}

// --------------------------------------------------------------------------------------------
// Instructions per call (callgrind)

/// The calls of the short and the long callgrind run: their difference is what is counted, so
/// process start-up, `dlopen`, the connection and the warm-up cancel out.
const FEW: usize = 100;
const MANY: usize = 500;

/// The most instructions one `b24_get_contact` may take (issue 13).
const GET_TARGET: f64 = 150_000.0;

/// One measured row: what was called, and instructions per call (or why there is none).
pub struct Counted {
    what: &'static str,
    per_call: Result<f64, String>,
}

/// Instructions per call under callgrind for `b24_get_contact`, `b24_create_contact` and the
/// Python `requests` loop; `None` when valgrind is not installed.
pub fn instructions(s: &Setup, webhook: &str, ids: &str) -> Option<Vec<Counted>> {
    let found = Command::new("valgrind").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let args = |n: usize, rest: &[&str]| {
        let mut a = vec![webhook.to_string(), n.to_string(), "20".to_string()];
        a.extend(rest.iter().map(|x| x.to_string()));
        a
    };
    let get = |n| Some(rust_child(s, "get", &args(n, &[ids])));
    let create = |n| Some(rust_child(s, "create", &args(n, &[])));
    // The interpreter itself, not a launcher script (pyenv's shim): callgrind follows no children.
    let python = s.python.as_deref().and_then(real_python);
    let requests = |n| {
        let mut c = Command::new(python.as_ref()?);
        c.arg(s.benches.join("percall_requests.py"))
            .args(args(n, &[ids]));
        Some(c)
    };
    let mut rows = vec![
        counted("`b24_get_contact` (crm.contact.get)", &get),
        counted("`b24_create_contact` (crm.contact.add)", &create),
    ];
    if python.is_some() {
        rows.push(counted(
            "Python requests.Session loop (crm.contact.get)",
            &requests,
        ));
    }
    Some(rows)
}

fn counted(what: &'static str, cmd: &dyn Fn(usize) -> Option<Command>) -> Counted {
    eprintln!("bench: callgrind: {what}");
    let run = |n: usize| {
        cmd(n)
            .ok_or_else(|| "not run".to_string())
            .and_then(collected)
    };
    let per_call = run(FEW).and_then(|few| {
        let many = run(MANY)?;
        Ok(many.saturating_sub(few) as f64 / (MANY - FEW) as f64)
    });
    Counted { what, per_call }
}

/// The path of the interpreter `python` runs (`sys.executable`).
fn real_python(python: &str) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

/// Runs `cmd` under callgrind and returns the instructions it executed, all threads together.
fn collected(cmd: Command) -> Result<u64, String> {
    let mut v = Command::new("valgrind");
    v.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, val) in cmd.get_envs() {
        if let Some(val) = val {
            v.env(k, val);
        }
    }
    let out = v.output().map_err(|e| format!("valgrind: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let total = err
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok());
    match (out.status.success(), total) {
        (true, Some(n)) => Ok(n),
        _ => Err(format!(
            "callgrind run failed ({}): {}",
            out.status,
            err.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
        )),
    }
}

/// The instruction table, next to the CPU-time table above it.
pub fn instructions_table(rep: &mut Report, rows: &[Counted]) {
    rep.line(format!(
        "Instructions per call under callgrind (the difference between a {FEW}- and a \
         {MANY}-call run in fresh processes, all threads; they do not move with machine load):"
    ));
    rep.line("");
    rep.line("| call | instructions per call | vs Python requests |");
    rep.line("| --- | ---: | ---: |");
    let python = rows
        .iter()
        .find(|r| r.what.starts_with("Python"))
        .and_then(|r| r.per_call.as_ref().ok().copied());
    for r in rows {
        match &r.per_call {
            Ok(n) => rep.line(format!(
                "| {} | {:.0} k | {} |",
                r.what,
                n / 1e3,
                python.map_or("—".into(), |p| format!("{:.3}×", n / p))
            )),
            Err(e) => rep.line(format!(
                "| {} | not run: {} | |",
                r.what,
                e.replace('|', "/")
            )),
        }
    }
    rep.line("");
    if let Some(Ok(get)) = rows.first().map(|r| &r.per_call) {
        rep.line(format!(
            "Target: at most {:.0} k instructions per `b24_get_contact`: {:.0} k → **{}**.",
            GET_TARGET / 1e3,
            get / 1e3,
            if *get <= GET_TARGET { "met" } else { "not met" }
        ));
        rep.line("");
    }
}
