//! Long calls on a worker thread of the add-in, so a form stays responsive: `Start…` returns at
//! once, progress and completion reach BSL as external events (source "Bitrix24", events
//! "Progress" and "Done"), and `JobResult` hands over what the synchronous method would have
//! returned.
//!
//! One job runs at a time per object. The object's `Done` cancels and joins it, with its events
//! silenced, so no event reaches an object the platform is destroying.

use crate::api::{Cancel, Progress, Reply, Success};
use crate::error::{Error, ErrorKind};
use serde_json::json;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a job's events go: the platform's `ExternalEvent`.
pub(crate) trait Events: Send + Sync {
    /// Queues an event; false when the platform refused it (its buffer is full).
    fn emit(&self, event: &str, data: &str) -> bool;
}

/// The work of a job: runs on the worker thread with a progress sink and the job's cancel flag.
pub(crate) type Work = Box<dyn FnOnce(&mut dyn FnMut(&Progress), &Cancel) -> Reply + Send>;

/// Finished results kept for `JobResult` (the oldest is dropped past this).
const KEPT: usize = 16;
/// The least time between two Progress events: a few a second is all a form can show.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// How often, and how long apart, a refused Done event is offered again (the platform's buffer
/// may be full of Progress events the form has not handled yet).
const DONE_TRIES: u32 = 50;
const DONE_PAUSE: Duration = Duration::from_millis(100);

/// The jobs of one add-in object.
#[derive(Default)]
pub(crate) struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    running: Option<Running>,
    finished: VecDeque<(String, Reply)>,
}

struct Running {
    id: String,
    cancel: Cancel,
    /// Set by `shutdown`: the worker sends no more events.
    silent: Arc<AtomicBool>,
    outcome: Arc<Mutex<Option<Reply>>>,
    thread: JoinHandle<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn job_error(code: &str, description: String) -> Error {
    Error::new(ErrorKind::InvalidInput, code, description)
}

impl Jobs {
    /// Starts `work` on a new thread; returns the job's ID.
    pub(crate) fn start(&self, events: Arc<dyn Events>, work: Work) -> Result<String, Error> {
        let mut inner = lock(&self.inner);
        inner.reap();
        if let Some(r) = &inner.running {
            return Err(job_error(
                "JOB_RUNNING",
                format!(
                    "job {} is still running: one job at a time per object",
                    r.id
                ),
            ));
        }
        inner.next += 1;
        let id = inner.next.to_string();
        let (cancel, silent) = (Cancel::new(), Arc::new(AtomicBool::new(false)));
        let outcome = Arc::new(Mutex::new(None));
        let body = {
            let (id, cancel, silent, outcome) =
                (id.clone(), cancel.clone(), silent.clone(), outcome.clone());
            move || run(&id, work, &cancel, &silent, &outcome, &*events)
        };
        let thread = std::thread::Builder::new()
            .name(format!("b24-job-{id}"))
            .spawn(body)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Server,
                    "THREAD_FAILED",
                    format!("could not start the job's thread: {e}"),
                )
            })?;
        inner.running = Some(Running {
            id: id.clone(),
            cancel,
            silent,
            outcome,
            thread,
        });
        Ok(id)
    }

    /// What job `id` returned (once: the result is handed over and forgotten).
    pub(crate) fn result(&self, id: &str) -> Reply {
        let mut inner = lock(&self.inner);
        inner.reap();
        if inner.running.as_ref().is_some_and(|r| r.id == id) {
            return Err(job_error(
                "JOB_RUNNING",
                format!("job {id} is still running"),
            ));
        }
        match inner.finished.iter().position(|(j, _)| j == id) {
            Some(at) => inner
                .finished
                .remove(at)
                .map_or_else(|| Err(not_found(id)), |(_, r)| r),
            None => Err(not_found(id)),
        }
    }

    /// Asks job `id` to stop; `result` is true when it was still running.
    pub(crate) fn cancel(&self, id: &str) -> Reply {
        let mut inner = lock(&self.inner);
        inner.reap();
        let running = inner.running.as_ref().filter(|r| r.id == id);
        if let Some(r) = running {
            r.cancel.set();
        } else if !inner.finished.iter().any(|(j, _)| j == id) {
            return Err(not_found(id));
        }
        Ok(Success {
            result: json!(running.is_some()).into(),
            ..Success::default()
        })
    }

    /// Cancels the running job and waits for it, sending no more events. Bounded by the
    /// requests in flight, which finish within the client's timeouts.
    pub(crate) fn shutdown(&self) {
        let running = lock(&self.inner).running.take();
        if let Some(r) = running {
            r.silent.store(true, Ordering::Release);
            r.cancel.set();
            let _ = r.thread.join();
        }
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn not_found(id: &str) -> Error {
    job_error(
        "JOB_NOT_FOUND",
        format!("no job {id:?}: unknown, or its result was already taken"),
    )
}

impl Inner {
    /// Moves a finished job's result from `running` to `finished`.
    fn reap(&mut self) {
        let done = self
            .running
            .as_ref()
            .is_some_and(|r| lock(&r.outcome).is_some() && r.thread.is_finished());
        if !done {
            return;
        }
        let Some(r) = self.running.take() else { return };
        let _ = r.thread.join();
        let reply = lock(&r.outcome).take();
        if let Some(reply) = reply {
            if self.finished.len() >= KEPT {
                self.finished.pop_front();
            }
            self.finished.push_back((r.id, reply));
        }
    }
}

/// The worker thread's body: runs the work, keeps its reply, and says Done.
fn run(
    id: &str,
    work: Work,
    cancel: &Cancel,
    silent: &AtomicBool,
    outcome: &Mutex<Option<Reply>>,
    events: &dyn Events,
) {
    let quiet = || silent.load(Ordering::Acquire);
    let mut last: Option<Instant> = None;
    let mut progress = |p: &Progress| {
        let due = last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) || p.done == p.total;
        if due && !quiet() {
            last = Some(Instant::now());
            let data = json!({"job": id, "done": p.done, "total": p.total});
            events.emit("Progress", &data.to_string());
        }
    };
    let reply = catch_unwind(AssertUnwindSafe(|| work(&mut progress, cancel)))
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Server, "INTERNAL", "the job failed")));
    let data = json!({"job": id, "ok": reply.is_ok()}).to_string();
    *lock(outcome) = Some(reply);
    for _ in 0..DONE_TRIES {
        if quiet() || events.emit("Done", &data) {
            return;
        }
        std::thread::sleep(DONE_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Seen(Mutex<Vec<(String, String)>>);

    impl Events for Seen {
        fn emit(&self, event: &str, data: &str) -> bool {
            lock(&self.0).push((event.into(), data.into()));
            true
        }
    }

    fn wait_done(seen: &Seen) {
        // Bounded: the test jobs finish within a few seconds.
        for _ in 0..500 {
            if lock(&seen.0).iter().any(|(e, _)| e == "Done") {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no Done event");
    }

    #[test]
    fn a_job_reports_progress_then_done_then_hands_its_result_once() {
        let (jobs, seen) = (Jobs::default(), Arc::new(Seen::default()));
        let work: Work = Box::new(|p, _| {
            for done in 0..=3 {
                p(&Progress {
                    done,
                    total: 3,
                    waiting: None,
                });
            }
            Ok(Success {
                result: json!(42).into(),
                ..Success::default()
            })
        });
        let id = jobs.start(seen.clone(), work).unwrap();
        wait_done(&seen);
        let events = lock(&seen.0).clone();
        assert_eq!(events.first().unwrap().0, "Progress");
        assert!(events
            .iter()
            .any(|(e, d)| e == "Progress" && d.contains("\"done\":3")));
        assert_eq!(
            events.last().unwrap(),
            &("Done".into(), format!("{{\"job\":\"{id}\",\"ok\":true}}"))
        );
        let r = jobs.result(&id).unwrap();
        assert_eq!(r.result.to_value().unwrap(), json!(42));
        assert_eq!(jobs.result(&id).unwrap_err().code, "JOB_NOT_FOUND");
    }

    /// Work that runs until it is cancelled, 10 s at most.
    fn until_cancelled() -> Work {
        Box::new(|_, cancel| {
            for _ in 0..1000 {
                cancel.check()?;
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(Success::default())
        })
    }

    #[test]
    fn one_job_at_a_time_and_cancel_stops_it() {
        let (jobs, seen) = (Jobs::default(), Arc::new(Seen::default()));
        let work = until_cancelled();
        let id = jobs.start(seen.clone(), work).unwrap();
        let again: Work = Box::new(|_, _| Ok(Success::default()));
        assert_eq!(
            jobs.start(seen.clone(), again).unwrap_err().code,
            "JOB_RUNNING"
        );
        assert_eq!(jobs.result(&id).unwrap_err().code, "JOB_RUNNING");
        assert_eq!(
            jobs.cancel(&id).unwrap().result.to_value().unwrap(),
            json!(true)
        );
        wait_done(&seen);
        assert_eq!(jobs.result(&id).unwrap_err().code, "CANCELLED");
        assert_eq!(jobs.cancel("nope").unwrap_err().code, "JOB_NOT_FOUND");
    }

    #[test]
    fn shutdown_joins_silently() {
        let (jobs, seen) = (Jobs::default(), Arc::new(Seen::default()));
        let work = until_cancelled();
        jobs.start(seen.clone(), work).unwrap();
        jobs.shutdown();
        assert!(lock(&seen.0).iter().all(|(e, _)| e != "Done"));
    }
}
