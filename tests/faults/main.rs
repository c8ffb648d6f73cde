//! The fault suite: what the library returns, and what the portal holds afterwards, when the
//! portal, a proxy or the network misbehaves. Every envelope is checked for the secret by
//! `common::env`.

#[path = "../common/mod.rs"]
mod common;

mod matrix;
mod seeded;
mod wire;
