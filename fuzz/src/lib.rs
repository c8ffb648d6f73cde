//! The fuzz target bodies, compiled once for the four cargo-fuzz binaries. The same file is
//! included by the root crate's `tests/fuzz_replay.rs`, which replays the corpora on stable.

#[path = "../targets/common.rs"]
mod common;

pub use common::*;
