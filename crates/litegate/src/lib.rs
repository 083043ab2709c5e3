//! LiteGate: on-device rollout control for LiteRT models.
//!
//! One core that evaluates feature flags locally, runs LiteRT models on the
//! best accelerator that works (falling back down the chain and finally to the
//! app's own path), buffers metrics crash-safely for OTLP upload, and trips
//! guardrails that roll a feature back on the device at once.
//!
//! # Quickstart
//!
//! ```
//! use litegate::config::Document;
//! use litegate::eval::{Context, Evaluator};
//!
//! let json = br#"{
//!   "format_version": 1, "environment": "production", "version": 1,
//!   "flags": {
//!     "new_model": {
//!       "type": "bool",
//!       "variations": {"on": true, "off": false},
//!       "off_variation": "off",
//!       "fallthrough": {"percentage": {"percent": 25, "variation": "on", "otherwise": "off"}}
//!     }
//!   }
//! }"#;
//! let doc = Document::parse(json).unwrap();
//! let ctx = Context::new("user-42");
//! let details = Evaluator::new().bool_details(&doc, "new_model", &ctx, false);
//! println!("{} because {:?}", details.value, details.reason);
//! ```
#![deny(missing_docs)]

pub mod client;
pub mod config;
pub mod delivery;
pub mod display;
pub mod eval;
pub mod guardrails;
pub mod inference;
pub mod judge;
pub mod metrics;
pub mod rollout;
pub mod runtime;

pub use client::{Client, ClientConfig, ClientError};

/// The README, so that `cargo test --doc` compiles its Rust quickstart as
/// written and it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeQuickstart;
