//! bitrix24-1c: an in-process Bitrix24 REST client for 1C:Enterprise.
//!
//! Layers, from the bottom up:
//! - the safe core: [`config`], [`error`], [`transport`], [`limiter`], [`client`], [`crm`],
//!   [`events`] (outbound event calls the portal POSTs to a handler), [`journal`] (one line per
//!   HTTP request, when asked for);
//!   its one OS-specific part is `host`, the files and locks shared by the processes of a host;
//! - [`api`]: JSON-in / envelope-out operations over the core, shared by both shims;
//! - [`ffi`]: the C ABI (`b24_*`), a thin shim over [`api`];
//! - [`addin`]: the 1C Native API component, another thin shim over [`api`].

pub mod api;
pub mod batch;
pub mod client;
pub mod config;
pub mod crm;
pub mod error;
pub mod events;
pub mod files;
mod host;
pub mod journal;
pub mod json;
pub mod limiter;
pub mod sync;
pub mod transport;

pub mod addin;
pub mod ffi;

pub use client::Client;
pub use config::Config;
pub use error::{Error, ErrorKind, Lang};

/// The library version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
