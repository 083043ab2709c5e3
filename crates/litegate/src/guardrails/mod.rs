//! Guardrails on the device: declared in the config's `guardrails` section,
//! fed with observations (runs, loads, fallbacks, crashes, memory), judged
//! incrementally, and acted on at once: a tripped critical guardrail disables
//! its flag ([`crate::eval::LocalDisables`]), an accelerator of a model, or
//! forces the app's fallback path. Trips persist in a storage directory and
//! are lifted only by a newer config version, an expiry or an explicit reset.
//!
//! ```
//! use litegate::config::Document;
//! use litegate::guardrails::{Guardrails, Observation, ObservationKind, Subject};
//!
//! let doc = Document::parse(br#"{
//!   "format_version": 1, "environment": "production", "version": 3,
//!   "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
//!             "off_variation": "off", "fallthrough": {"variation": "on"}}},
//!   "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate",
//!                  "op": ">", "threshold": 5, "window": {"last": 20}, "min_samples": 10}}
//! }"#).unwrap();
//! let mut g = Guardrails::in_memory();
//! g.apply_config(&doc).unwrap();
//! for i in 0..10 {
//!     g.observe(&Observation::new(Subject::flag("new_model"),
//!         ObservationKind::Run { ok: i != 0, latency_ms: 12.0, fell_back: false }, 1_000));
//! }
//! // 1 failure in 10 runs = 10% > 5%: the flag is disabled on this device.
//! assert!(g.local_disables().contains_key("new_model"));
//! ```

mod crash;
mod engine;
mod spec;
mod store;
mod window;

pub use crash::{ActiveModel, ActiveSet, RunMarker, SessionStart};
pub use engine::{Guardrails, Observation, ObservationKind, Subject, Trip};
pub use spec::{
    parse_duration_ms, parse_guardrails, Action, Comparison, GuardrailSpec, GuardrailSpecError,
    Metric, Severity, Target, Window, MAX_GUARDRAILS, MAX_LAST_N,
};

use std::path::PathBuf;

/// What can go wrong with guardrails outside of the config itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardrailError {
    /// The `guardrails` section is invalid.
    #[error(transparent)]
    Spec(#[from] GuardrailSpecError),
    /// A state or marker file could not be read or written.
    #[error("guardrail storage {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A state or marker file could not be encoded.
    #[error("guardrail storage {path}: cannot encode: {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What serde said.
        message: String,
    },
}

/// Every problem of a document's `guardrails` section, for tools such as
/// `litegate validate`: the section's own problems plus flag targets that
/// name no flag of the document (`ProblemKind::UnknownFlag` at
/// `guardrails.<id>.target.flag`). Devices are more lenient: an unknown flag
/// target there simply never sees an observation.
pub fn check_guardrails(doc: &crate::config::Document) -> Vec<crate::config::Problem> {
    match parse_guardrails(doc.section("guardrails")) {
        Err(e) => e.problems,
        Ok(specs) => specs
            .iter()
            .filter_map(|s| match &s.target {
                Target::Flag(f) if doc.flag(f).is_none() => Some(crate::config::Problem {
                    path: format!("guardrails.{}.target.flag", s.id),
                    kind: crate::config::ProblemKind::UnknownFlag(f.to_string()),
                }),
                _ => None,
            })
            .collect(),
    }
}
