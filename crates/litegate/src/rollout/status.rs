//! `rollout status`: where a flag's rollout stands.

use super::ops::{effective, state_text};
use super::plan::{entered_at_ms, plan_phases};
use super::RolloutError;
use crate::config::{Document, RolloutState};
use serde::Serialize;
use serde_json::Value;

/// A flag's rollout at one instant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RolloutStatus {
    /// The flag.
    pub flag: String,
    /// The document version.
    pub version: u64,
    /// `not_started`, `running`, `paused`, `rolled_back` or `complete`.
    pub status: &'static str,
    /// Human-readable state, e.g. `running at beta`.
    pub state: String,
    /// The phase in force.
    pub phase: Option<String>,
    /// Percent of users in the rollout now.
    pub percent: f64,
    /// When the phase was entered (unix ms), from the audit log or schedule.
    pub entered_at_ms: Option<i64>,
    /// The phase's minimum duration (ms).
    pub min_duration_ms: Option<i64>,
    /// The next phase, if any.
    pub next_phase: Option<String>,
    /// The kill switch's reason when it is on.
    pub kill_switch: Option<String>,
    /// The audit log, oldest first.
    pub audit: Vec<Value>,
}

/// The status of `flag` in `raw` at `now_ms`.
///
/// # Errors
/// [`RolloutError`] when the document or flag is unusable.
pub fn status(raw: &Value, flag: &str, now_ms: i64) -> Result<RolloutStatus, RolloutError> {
    let bytes = serde_json::to_vec(raw).map_err(|e| RolloutError::Document(e.to_string()))?;
    let doc = Document::parse(&bytes)?;
    let (r, state) = effective(&doc, flag, now_ms)?;
    let raw_rollout = &raw["flags"][flag]["rollout"];
    let plan = plan_phases(raw_rollout, flag)?;
    let phase = match state {
        RolloutState::Running { phase } | RolloutState::Paused { phase } => Some(phase),
        RolloutState::Complete => Some(r.phases.len() - 1),
        _ => None,
    };
    let percent = match state {
        RolloutState::Complete => 100.0,
        _ => phase.map_or(0.0, |p| f64::from(r.phases[p].buckets) / 1000.0),
    };
    let name = phase.map(|p| r.phases[p].name.to_string());
    Ok(RolloutStatus {
        flag: flag.to_owned(),
        version: doc.version,
        status: match state {
            RolloutState::NotStarted => "not_started",
            RolloutState::Running { .. } => "running",
            RolloutState::Paused { .. } => "paused",
            RolloutState::RolledBack => "rolled_back",
            RolloutState::Complete => "complete",
        },
        state: state_text(state, &r),
        entered_at_ms: name
            .as_deref()
            .and_then(|n| entered_at_ms(raw_rollout, n))
            .or_else(|| phase.and_then(|p| r.phases[p].start_ms)),
        min_duration_ms: phase
            .and_then(|p| plan.get(p))
            .and_then(|p| p.min_duration_ms),
        next_phase: match state {
            RolloutState::Running { phase } | RolloutState::Paused { phase } => {
                r.phases.get(phase + 1).map(|p| p.name.to_string())
            }
            RolloutState::NotStarted => r.phases.first().map(|p| p.name.to_string()),
            _ => None,
        },
        phase: name,
        percent,
        kill_switch: doc
            .ready_flag(flag)
            .and_then(|f| f.kill_switch.as_ref())
            .map(ToString::to_string),
        audit: raw_rollout
            .get("audit")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    })
}
