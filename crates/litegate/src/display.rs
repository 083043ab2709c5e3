//! How values meant for people print: the words a release engineer or app
//! developer reads in logs, the CLI and the demo, never Rust's debug
//! formatting (`Some(13)`, `Running { phase: 0 }`).

use crate::config::RolloutState;
use crate::delivery::ConfigSource;
use crate::eval::Reason;
use crate::inference::accel::SkipReason;
use crate::inference::outcome::FallbackStage;
use crate::rollout::Verdict;
use crate::runtime::ShutdownOutcome;
use std::fmt;

impl fmt::Display for Reason {
    /// The reason's snake_case name ([`Reason::kind`]), with what it names:
    /// `rule_match (rule testers)`, `guardrail (face_error_rate)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())?;
        match self {
            Reason::RuleMatch { rule_id } => write!(f, " (rule {rule_id})"),
            Reason::PrerequisiteFailed { flag } => write!(f, " (prerequisite {flag})"),
            Reason::KillSwitch { reason } | Reason::GlobalDisable { reason } => {
                write!(f, " ({reason})")
            }
            Reason::Guardrail { guardrail } => write!(f, " ({guardrail})"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for RolloutState {
    /// `not started`, `running at phase 2`, `paused at phase 1`,
    /// `rolled back`, `complete` (phases counted from 0 as in the config).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RolloutState::NotStarted => f.write_str("not started"),
            RolloutState::Running { phase } => write!(f, "running at phase {phase}"),
            RolloutState::Paused { phase } => write!(f, "paused at phase {phase}"),
            RolloutState::RolledBack => f.write_str("rolled back"),
            RolloutState::Complete => f.write_str("complete"),
        }
    }
}

impl fmt::Display for ConfigSource {
    /// [`ConfigSource::as_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Verdict {
    /// `advance`, `hold`, `roll back`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Advance => "advance",
            Verdict::Hold => "hold",
            Verdict::Rollback => "roll back",
        })
    }
}

impl fmt::Display for SkipReason {
    /// A short sentence fragment: `disabled by flag litert_npu_backend`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotAllowedByManifest => f.write_str("not allowed by the model manifest"),
            SkipReason::DisabledByFlag { flag } => write!(f, "disabled by flag {flag}"),
            SkipReason::DisabledByGuardrail => f.write_str("disabled by a guardrail"),
            SkipReason::FailedBefore { detail } => {
                write!(f, "failed on this device before ({detail})")
            }
            SkipReason::NotRequested => f.write_str("not requested"),
        }
    }
}

impl fmt::Display for FallbackStage {
    /// `compile` or `run`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FallbackStage::Compile => "compile",
            FallbackStage::Run => "run",
        })
    }
}

impl fmt::Display for ShutdownOutcome {
    /// `stopped`, `timed out (left to finish)`, `already stopped`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownOutcome::Stopped => "stopped",
            ShutdownOutcome::TimedOut => "timed out (left to finish in the background)",
            ShutdownOutcome::AlreadyStopped => "already stopped",
            ShutdownOutcome::CalledFromRuntimeThread => {
                "requested from the SDK's own thread (stops when its task yields)"
            }
        })
    }
}

/// Paths as a person reads them: `a, b, c`, or `nowhere` for none.
pub fn paths(paths: &[std::path::PathBuf]) -> String {
    if paths.is_empty() {
        return "nowhere".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The standard reason phrase of an HTTP status (`504` -> `Gateway
/// Timeout`), or `unknown status` for a code without one.
pub fn http_reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unknown status")
}

/// `None` as `none`, else the value's display: for optional figures such as
/// a config version in people-facing lines.
pub fn optional<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn people_facing_values_print_without_debug_formatting() {
        let rule = Reason::RuleMatch {
            rule_id: Arc::from("testers"),
        };
        assert_eq!(rule.to_string(), "rule_match (rule testers)");
        assert_eq!(Reason::Split.to_string(), "split");
        assert_eq!(
            RolloutState::Running { phase: 0 }.to_string(),
            "running at phase 0"
        );
        assert_eq!(Verdict::Rollback.to_string(), "roll back");
        assert_eq!(ConfigSource::Remote.to_string(), "remote");
        assert_eq!(
            SkipReason::DisabledByFlag {
                flag: "litert_npu_backend".into()
            }
            .to_string(),
            "disabled by flag litert_npu_backend"
        );
        assert_eq!(optional(Some(13)), "13");
        assert_eq!(optional(None::<u64>), "none");
        assert_eq!(http_reason(504), "Gateway Timeout");
        assert_eq!(http_reason(599), "unknown status");
        for text in [rule.to_string(), ShutdownOutcome::TimedOut.to_string()] {
            assert!(!text.contains('{') && !text.contains("Some("), "{text}");
        }
    }
}
