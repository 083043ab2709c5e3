//! LiteGate for Swift and Kotlin: a thin [UniFFI](https://mozilla.github.io/uniffi-rs)
//! layer over [`litegate::Client`].
//!
//! Only this crate knows about UniFFI. It holds no logic of its own beyond
//! converting types: wrapper objects hold an `Arc` of the core type, every
//! conversion lives in [`convert`], every error is mapped to the one flat
//! [`LiteGateError`] in [`error`], and every call into the core runs behind a
//! panic guard so no panic ever unwinds into Swift or Kotlin.
//!
//! Generated bindings: Kotlin package `dev.litegate`, Swift module
//! `LiteGate` (see `uniffi.toml`; `cargo xtask bindings` generates both).
//!
//! # Quickstart (Rust view of the exported API)
//!
//! ```
//! use litegate_ffi::{ClientOptions, LiteGateClient};
//!
//! let bootstrap = br#"{"format_version": 1, "environment": "production", "version": 3,
//!   "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
//!     "off_variation": "off", "fallthrough": {"variation": "on"}}}}"#;
//! let mut options = ClientOptions::new("com.example.app".into(), "production".into());
//! options.bootstrap = Some(bootstrap.to_vec());
//! let client = LiteGateClient::start(options).unwrap();
//! assert!(client.bool_value("new_model".into(), false));
//! ```
#![deny(missing_docs)]

mod client;
pub mod convert;
pub mod error;
mod events;
mod guardrails;
mod lifecycle;
mod log;
mod models;
mod snapshot;
mod submit;
mod types;
mod waits;

pub use client::LiteGateClient;
pub use error::{CallbackError, LiteGateError};
pub use events::{EventSubscription, MAX_PENDING_EVENTS};
pub use guardrails::MAX_OUTCOME_LATENCY_MS;
pub use lifecycle::ConfigListener;
pub use log::{clear_log_sink, set_log_sink, LogSink};
pub use models::{
    AcceleratorKind, CloudFallback, LiteGateModel, ModelRunResult, TensorData, TensorInfo,
    TensorType,
};
pub use snapshot::{litegate_noop, FlagSnapshot, SnapshotEntry, SnapshotHandle};
pub use types::*;

uniffi::setup_scaffolding!();

/// The version of the LiteGate library inside the binary (the crate version).
#[uniffi::export]
pub fn litegate_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
