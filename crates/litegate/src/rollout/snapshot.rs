//! The fleet metrics snapshot `rollout decide` reads (documented in
//! docs/rollout.md): per flag, per variation, the aggregated counts and a
//! latency histogram.

use super::histogram::ExpHistogram;
use super::RolloutError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Aggregates for one variation of one flag over the decision window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariationStats {
    /// Distinct users exposed (the unit of the split).
    #[serde(default)]
    pub users: u64,
    /// Exposure events.
    #[serde(default)]
    pub exposures: u64,
    /// Runs (inferences or feature uses).
    #[serde(default)]
    pub runs: u64,
    /// Runs that failed.
    #[serde(default)]
    pub errors: u64,
    /// Runs that fell back.
    #[serde(default)]
    pub fallbacks: u64,
    /// Sessions.
    #[serde(default)]
    pub sessions: u64,
    /// Sessions that crashed.
    #[serde(default)]
    pub crashes: u64,
    /// Run latency in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<ExpHistogram>,
}

impl VariationStats {
    /// Errors / runs in percent (0 when no runs).
    pub fn error_rate(&self) -> f64 {
        pct(self.errors, self.runs)
    }
    /// Crashes / sessions in percent.
    pub fn crash_rate(&self) -> f64 {
        pct(self.crashes, self.sessions)
    }
    /// Fallbacks / runs in percent.
    pub fn fallback_rate(&self) -> f64 {
        pct(self.fallbacks, self.runs)
    }
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// One flag's aggregates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlagSnapshot {
    /// Per variation key.
    pub variations: BTreeMap<String, VariationStats>,
}

/// The whole snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Always 1.
    #[serde(default = "one")]
    pub format: u32,
    /// When the aggregates end (RFC 3339), informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// Per flag key.
    pub flags: BTreeMap<String, FlagSnapshot>,
}

fn one() -> u32 {
    1
}

impl MetricsSnapshot {
    /// Parses and checks a snapshot.
    ///
    /// # Errors
    /// [`RolloutError::InvalidSnapshot`] naming the bad field.
    pub fn parse(bytes: &[u8]) -> Result<MetricsSnapshot, RolloutError> {
        let s: MetricsSnapshot =
            serde_json::from_slice(bytes).map_err(|e| RolloutError::InvalidSnapshot {
                path: format!("line {} column {}", e.line(), e.column()),
                message: e.to_string(),
            })?;
        if s.format != 1 {
            return Err(RolloutError::InvalidSnapshot {
                path: "format".into(),
                message: format!("unsupported format {} (expected 1)", s.format),
            });
        }
        for (flag, f) in &s.flags {
            for (var, v) in &f.variations {
                let path = format!("flags.{flag}.variations.{var}");
                let bad = |field: &str, message: &str| RolloutError::InvalidSnapshot {
                    path: format!("{path}.{field}"),
                    message: message.to_owned(),
                };
                if v.errors > v.runs {
                    return Err(bad("errors", "more errors than runs"));
                }
                if v.fallbacks > v.runs {
                    return Err(bad("fallbacks", "more fallbacks than runs"));
                }
                if v.crashes > v.sessions {
                    return Err(bad("crashes", "more crashes than sessions"));
                }
                if let Some(h) = &v.latency_ms {
                    if !(-10..=20).contains(&h.scale) {
                        return Err(bad("latency_ms.scale", "scale outside -10..=20"));
                    }
                    let n: u64 = h.iter_buckets().map(|(_, c)| c).sum();
                    if n != h.count {
                        return Err(bad(
                            "latency_ms.count",
                            "count differs from the sum of bucket counts",
                        ));
                    }
                }
            }
        }
        Ok(s)
    }
}
