//! REST routing, check order and the request pipeline (reference §1–§5).

mod batch;
mod envelope;
mod methods;
mod params;

pub(crate) use envelope::{err_reply, html, Transport};

use crate::api::ApiError;
use crate::cost::Clock;
use crate::http::{Reply, Request, Response};
use crate::operating::Tally;
use crate::{faults, lock, php, time, BatchBilling, FaultAction, Shared};
use envelope::{envelope, render, time_obj};
use methods::{exec, insufficient_scope, resolve, scope_ok, M};
use params::params_of;
use std::time::Instant;

/// Entry point for every parsed HTTP request.
pub fn handle(sh: &Shared, req: &Request) -> Reply {
    let t0 = time::now_f64();
    let (path, query) = match req.target.find('?') {
        Some(p) => (&req.target[..p], &req.target[p + 1..]),
        None => (req.target.as_str(), ""),
    };
    if path.ends_with("/show_file.php") {
        return Reply::Send(download(sh, query));
    }
    let Some(rest) = path.strip_prefix("/rest/") else {
        return Reply::Send(html(404, "Not Found"));
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let segs: &[&str] = match segs.last() {
        Some(&"") => &segs[..segs.len() - 1],
        _ => &segs,
    };
    let (cred, raw_name) = match segs {
        [m] => (None, php::urldecode(m)),
        [u, s, m] => (Some((*u, *s)), php::urldecode(m)),
        _ => (None, String::new()),
    };
    let (name, tr) = if let Some(n) = raw_name.strip_suffix(".json") {
        (n.to_string(), Transport::Json)
    } else if let Some(n) = raw_name.strip_suffix(".xml") {
        (n.to_string(), Transport::Xml)
    } else {
        (raw_name.clone(), Transport::Json)
    };
    let lc = name.to_lowercase();
    *lock(&sh.stats).by_method.entry(lc.clone()).or_insert(0) += 1;

    let hit = faults::take(sh, &lc);
    if let Some(r) = hit
        .as_ref()
        .and_then(|h| faults::before(&h.action, req, tr))
    {
        faults::record(sh, &lc, hit.as_ref(), false);
        return r;
    }
    let action = hit.as_ref().map(|h| &h.action);
    let mut cut_committed = false;
    let reply = rest_call(
        sh,
        Call {
            req,
            query,
            cred,
            name: &name,
            lc: &lc,
            tr,
            t0,
            fault: action,
        },
        &mut cut_committed,
    );
    faults::record(
        sh,
        &lc,
        hit.as_ref(),
        faults::executed(&reply) || cut_committed,
    );
    match action {
        Some(a) => faults::after(a, req, &lc, reply),
        None => reply,
    }
}

/// One REST request as routed: what `rest_call` needs to run it.
struct Call<'a> {
    req: &'a Request,
    query: &'a str,
    cred: Option<(&'a str, &'a str)>,
    /// Method name as sent (`.json`/`.xml` stripped), and in lower case.
    name: &'a str,
    lc: &'a str,
    tr: Transport,
    /// Arrival time (epoch seconds), `time.start`.
    t0: f64,
    fault: Option<&'a FaultAction>,
}

/// Runs the check order and the method. `cut_committed` is set when the request was cut off at
/// the execution limit after some of its batch sub-calls had committed: its answer is a 504,
/// yet it changed the portal.
fn rest_call(sh: &Shared, call: Call, cut_committed: &mut bool) -> Reply {
    let Call {
        req,
        query,
        cred,
        name,
        lc,
        tr,
        t0,
        fault,
    } = call;
    // The infrastructure limiter sits in front of PHP (§8.3).
    {
        let (ok, level) = lock(&sh.bucket).take();
        let mut st = lock(&sh.stats);
        if level > st.max_bucket_level {
            st.max_bucket_level = level;
        }
        if !ok {
            st.limited += 1;
            return err_reply(
                &ApiError::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
                tr,
            );
        }
    }
    let Some(m) = resolve(name) else {
        return err_reply(&ApiError::not_found(), tr);
    };
    let mut params = params_of(req, query);
    // The webhook provider reads `aplogin`/`ap` from the parameters, which the URL form fills
    // (`rest/lib/apauth/auth.php Auth::onRestCheckAuth`); plain parameters work as well.
    let from_params = match (params.get("aplogin"), params.get("ap")) {
        (Some(u), Some(s)) => Some((php::strval(u), php::strval(s))),
        _ => None,
    };
    let cred = cred
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .or(from_params);
    // HTTPS is demanded of webhook calls only, after the method lookup (`onRestCheckAuth`).
    if cred.is_some()
        && sh.cfg.require_https
        && !req
            .header("X-Forwarded-Proto")
            .map(|p| p.eq_ignore_ascii_case("https"))
            .unwrap_or(false)
    {
        return err_reply(
            &ApiError::new(401, "INVALID_REQUEST", "Https required."),
            tr,
        );
    }
    match cred {
        Some((u, s)) => {
            if u != sh.cfg.user_id || s != sh.cfg.secret {
                return err_reply(
                    &ApiError::new(401, "INVALID_CREDENTIALS", "Invalid request credentials"),
                    tr,
                );
            }
        }
        None => {
            let e = if params.contains_key("auth") {
                ApiError::new(401, "invalid_token", "Unable to get application by token")
            } else {
                ApiError::new(401, "NO_AUTH_FOUND", "Wrong authorization data")
            };
            return err_reply(&e, tr);
        }
    }
    if !scope_ok(sh, m) {
        return err_reply(&insufficient_scope(), tr);
    }
    if !lock(&sh.store).webhook_user_active() {
        return err_reply(
            &ApiError::new(401, "authorization_error", "Unable to authorize user"),
            tr,
        );
    }
    // The operating limit (`CRestServer::processCall`, `LoadLimiter::is`); `batch` is an
    // ignored method unless the whole batch is billed (§4.2).
    let mut tally = lock(&sh.operating).tally(time::now_f64());
    let billed = m != M::Batch || sh.cfg.batch_billing == BatchBilling::WholeBatch;
    if billed && over_limit(sh, &tally, lc) {
        return err_reply(&ApiError::operation_time_limit(), tr);
    }
    // Reserved/auth parameters never reach the method.
    for k in ["auth", "state", "aplogin", "ap"] {
        params.remove(k);
    }
    let start = params.remove("start");
    let p0 = Instant::now();
    let p_start = time::now_f64();
    // Everything the request spends from here counts towards the cut-off: the injected delay,
    // then each call's cost (a batch's sub-calls one after another).
    let clock = Clock::start(sh);
    if let Some(FaultAction::Delay(d)) = fault {
        if clock.spend(*d).is_err() {
            return cut_off(sh, 0, cut_committed);
        }
    }
    let res = if m == M::Batch {
        match batch::batch(sh, &params, &mut tally, &clock) {
            Ok(s) => Ok(s),
            Err(committed) => return cut_off(sh, committed, cut_committed),
        }
    } else {
        if clock.call(lc).is_err() {
            return cut_off(sh, 0, cut_committed);
        }
        exec(sh, m, &params, start.as_ref())
    };
    let processing = p0.elapsed().as_secs_f64();
    if billed && res.is_ok() {
        tally.register(lc, p_start, processing);
    }
    let op = operating_of(sh, &tally, lc);
    lock(&sh.operating).finalize(tally);
    let t1 = time::now_f64();
    match res {
        Ok(s) => {
            let t = time_obj(t0, t1, processing, op);
            // `CRestServer::sendHeadersAdditional`: ten decimals (`number_format(…, 10)`).
            let extra = vec![
                (
                    "X-Bitrix-Rest-Time".to_string(),
                    format!("{processing:.10}"),
                ),
                (
                    "X-Bitrix-Rest-User-Time".to_string(),
                    format!("{processing:.10}"),
                ),
                (
                    "X-Bitrix-Rest-System-Time".to_string(),
                    format!("{:.10}", 0.0),
                ),
            ];
            Reply::Send(render(200, &envelope(&s, t), tr, extra))
        }
        Err(e) => err_reply(&e, tr),
    }
}

/// A method's operating sum is above the configured budget (`LoadLimiter::is`: strictly more).
pub(super) fn over_limit(sh: &Shared, tally: &Tally, method: &str) -> bool {
    sh.cfg
        .operating_limit_secs
        .is_some_and(|limit| lock(&sh.operating).used(tally, method) > limit)
}

/// (`time.operating`, `time.operating_reset_at`) of a method, as `appendDebugInfo` adds them.
pub(super) fn operating_of(sh: &Shared, tally: &Tally, method: &str) -> (f64, i64) {
    let mut op = lock(&sh.operating);
    (op.used(tally, method), op.reset_at(tally, method))
}

/// What the cloud's gateway answers when a request passes the execution limit: an HTML 504.
/// PHP is killed at the cut (docs limits.md "the request is interrupted by timeout"), so the
/// `committed` sub-calls that ran before it stay (`CRestProvider::methodsBatch` runs them one by
/// one with no transaction around the batch) and the tally is dropped unstored
/// (`LoadLimiter::finalize` runs from `Application::terminate`, which a killed request never
/// reaches: a fatal error ends in `ExceptionHandler::handleException` → `die()`).
fn cut_off(sh: &Shared, committed: u64, cut_committed: &mut bool) -> Reply {
    let mut st = lock(&sh.stats);
    st.cut_off += 1;
    st.cut_off_committed += committed;
    *cut_committed = committed > 0;
    Reply::Send(html(504, "Gateway Time-out"))
}

fn download(sh: &Shared, query: &str) -> Response {
    let q = php::parse_str(query);
    let id = q.get("fileId").map(php::intval).unwrap_or(0);
    let st = lock(&sh.store);
    match st.file(id.max(0) as u64) {
        Some(f) => Response {
            status: 200,
            content_type: "application/octet-stream",
            headers: vec![(
                "Content-Disposition".into(),
                format!("attachment; filename=\"{}\"", f.name.replace('"', "")),
            )],
            body: f.bytes.clone(),
        },
        None => html(404, "Not Found"),
    }
}
