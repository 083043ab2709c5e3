//! Rollout control for release engineers: the operations on a flag's phased
//! rollout (pure functions from a config document to the next one), the
//! fleet decision (advance, hold or roll back on measured evidence) with its
//! statistics, and the fleet simulation.
//!
//! Everything here is a plain function over data: no I/O, no clock (the
//! caller passes `now`), no randomness except the simulation's seeded one.

mod chart;
mod decide;
pub mod histogram;
mod judge;
mod ops;
mod plan;
pub mod sequential;
pub mod simulate;
mod snapshot;
pub mod stats;
mod status;

pub use decide::{decide, decide_watched, Check, Decision, Verdict, WatchState};
pub use ops::{apply, AuditMeta, Operation};
pub use plan::{
    entered_at_ms, parse_criteria, plan_phases, Compare, Criteria, Direction, PlanPhase,
};
pub use snapshot::{FlagSnapshot, MetricsSnapshot, VariationStats};
pub use status::{status, RolloutStatus};

use crate::config::ConfigError;

/// Why a rollout operation or decision was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RolloutError {
    /// The input document does not parse, or the result would not.
    #[error("config: {0}")]
    Config(#[from] ConfigError),
    /// No flag with this key.
    #[error("no flag `{flag}` in the document")]
    NoSuchFlag {
        /// The key asked for.
        flag: String,
    },
    /// The flag is malformed.
    #[error("flag `{flag}` is malformed: {problems}")]
    MalformedFlag {
        /// The key.
        flag: String,
        /// Its problems, joined.
        problems: String,
    },
    /// The flag has no phased rollout.
    #[error("flag `{flag}` has no `rollout` plan")]
    NoRollout {
        /// The key.
        flag: String,
    },
    /// The operation is not allowed in the current state.
    #[error("cannot {operation} flag `{flag}`: its rollout is {state}; {hint}")]
    IllegalTransition {
        /// The key.
        flag: String,
        /// The operation refused.
        operation: &'static str,
        /// The current state, e.g. `paused at beta`.
        state: String,
        /// What to do instead.
        hint: String,
    },
    /// `advance` before the phase's minimum duration.
    #[error("cannot advance flag `{flag}`: phase `{phase}` has run {elapsed}, its min_duration is {required} (use --force to override)")]
    MinDurationNotMet {
        /// The key.
        flag: String,
        /// The phase.
        phase: String,
        /// Time spent, human readable.
        elapsed: String,
        /// Time required, human readable.
        required: String,
    },
    /// The operation needs a reason.
    #[error("{operation} needs a --reason")]
    ReasonRequired {
        /// The operation.
        operation: &'static str,
    },
    /// The kill switch is on and the operation would serve the flag again.
    #[error(
        "flag `{flag}`'s kill switch is on ({reason}); pass --clear-kill-switch to start again"
    )]
    KillSwitchActive {
        /// The key.
        flag: String,
        /// The kill switch's reason.
        reason: String,
    },
    /// A rollout-control field (`min_duration`, `criteria`, `audit`) is wrong.
    #[error("{path}: {message}")]
    InvalidPlan {
        /// Where.
        path: String,
        /// What.
        message: String,
    },
    /// The document is not a JSON object or misses `version`.
    #[error("document: {0}")]
    Document(String),
    /// The metrics snapshot is unusable.
    #[error("metrics snapshot {path}: {message}")]
    InvalidSnapshot {
        /// Where in the snapshot.
        path: String,
        /// What.
        message: String,
    },
}

/// Formats a duration in ms as `3d 4h`, `5h 12m`, `12m 5s` or `42s`.
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// Formats unix ms as RFC 3339 (UTC, seconds).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
