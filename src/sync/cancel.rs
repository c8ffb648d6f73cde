//! Stopping a long job from another thread (the add-in's `CancelJob`).

use crate::error::{Error, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag another thread sets to stop a job. A job checks it before each request it would send;
/// requests already sent finish, and their outcomes are reported as usual. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the job to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True once [`Cancel::set`] was called on any clone.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `Err(CANCELLED)` once set: for loops that stop with an error.
    pub fn check(&self) -> Result<(), Error> {
        match self.is_set() {
            true => Err(cancelled()),
            false => Ok(()),
        }
    }
}

/// The error of work the caller cancelled before it was sent: nothing of it was written.
pub fn cancelled() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "CANCELLED",
        "not sent: the job was cancelled before this request went out",
    )
}
