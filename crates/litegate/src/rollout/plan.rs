//! The parts of a flag's rollout plan that only rollout control reads:
//! minimum durations, success criteria and the audit log. The evaluator
//! ignores them (unknown fields are skipped by the config parser).

use super::RolloutError;
use crate::guardrails::parse_duration_ms;
use serde_json::Value;

/// One phase's success criteria. Rates in percent, latencies in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    /// Users per variation needed before anything is judged (default 100).
    pub min_users: u64,
    /// Highest acceptable error rate of the treatment.
    pub max_error_rate: Option<f64>,
    /// Highest acceptable crash rate of the treatment.
    pub max_crash_rate: Option<f64>,
    /// Highest acceptable p95 latency of the treatment.
    pub max_latency_p95_ms: Option<f64>,
    /// Highest acceptable p99 latency of the treatment.
    pub max_latency_p99_ms: Option<f64>,
    /// Confidence level of the whole decision (default 0.95): `1 -
    /// confidence` is the family-wise error rate over every criterion and
    /// every look of the phase.
    pub confidence: f64,
    /// The sample-ratio-mismatch test blocks every decision when its p-value
    /// is below this (default 0.001).
    pub srm_p_value: f64,
    /// What each comparison with the control must show (`compare`).
    pub compare: Compare,
}

/// What a comparison with the control must show: the config's
/// `criteria.compare.<metric>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A guardrail: roll back when the treatment is significantly worse
    /// (the default).
    #[default]
    Harm,
    /// A primary metric: advance only once the treatment is significantly
    /// better; hold until then.
    Improvement,
    /// Not compared.
    Off,
}

impl Direction {
    /// The word used in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Harm => "harm",
            Direction::Improvement => "improvement",
            Direction::Off => "off",
        }
    }
}

/// The direction of each comparison with the control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compare {
    /// Errors per run.
    pub error_rate: Direction,
    /// Crashes per session.
    pub crash_rate: Direction,
    /// Run latency.
    pub latency: Direction,
}

fn parse_compare(v: &Value, path: &str) -> Result<Compare, RolloutError> {
    let m = v
        .as_object()
        .ok_or_else(|| bad(path.to_owned(), "expected an object"))?;
    let mut c = Compare::default();
    for (k, d) in m {
        let dir = match d.as_str() {
            Some("harm") => Direction::Harm,
            Some("improvement") => Direction::Improvement,
            Some("off") => Direction::Off,
            _ => {
                return Err(bad(
                    format!("{path}.{k}"),
                    "expected \"harm\", \"improvement\" or \"off\"",
                ))
            }
        };
        match k.as_str() {
            "error_rate" => c.error_rate = dir,
            "crash_rate" => c.crash_rate = dir,
            "latency" => c.latency = dir,
            _ => {
                return Err(bad(
                    format!("{path}.{k}"),
                    "unknown metric (expected error_rate, crash_rate or latency)",
                ))
            }
        }
    }
    Ok(c)
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            min_users: 100,
            max_error_rate: None,
            max_crash_rate: None,
            max_latency_p95_ms: None,
            max_latency_p99_ms: None,
            confidence: 0.95,
            srm_p_value: 0.001,
            compare: Compare::default(),
        }
    }
}

/// A phase as rollout control sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPhase {
    /// The phase name.
    pub name: String,
    /// Percent of users in the rollout.
    pub percent: f64,
    /// Time to spend in the phase before advancing (ms).
    pub min_duration_ms: Option<i64>,
    /// What must hold to advance.
    pub criteria: Criteria,
}

fn bad(path: String, message: impl Into<String>) -> RolloutError {
    RolloutError::InvalidPlan {
        path,
        message: message.into(),
    }
}

fn opt_num(
    m: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<f64>, RolloutError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(bad(
                format!("{path}.{key}"),
                "expected a non-negative number",
            )),
        },
    }
}

/// Parses the criteria object at `path`.
///
/// # Errors
/// [`RolloutError::InvalidPlan`] naming the field.
pub fn parse_criteria(v: Option<&Value>, path: &str) -> Result<Criteria, RolloutError> {
    let mut c = Criteria::default();
    let Some(v) = v else { return Ok(c) };
    let m = v
        .as_object()
        .ok_or_else(|| bad(path.to_owned(), "expected an object"))?;
    if let Some(n) = opt_num(m, "min_users", path)? {
        c.min_users = n as u64;
    }
    c.max_error_rate = opt_num(m, "max_error_rate", path)?;
    c.max_crash_rate = opt_num(m, "max_crash_rate", path)?;
    c.max_latency_p95_ms = opt_num(m, "max_latency_p95_ms", path)?;
    c.max_latency_p99_ms = opt_num(m, "max_latency_p99_ms", path)?;
    if let Some(x) = opt_num(m, "confidence", path)? {
        if !(0.5..1.0).contains(&x) {
            return Err(bad(
                format!("{path}.confidence"),
                "expected a level in [0.5, 1), such as 0.95",
            ));
        }
        c.confidence = x;
    }
    if let Some(x) = opt_num(m, "srm_p_value", path)? {
        if !(0.0..0.5).contains(&x) {
            return Err(bad(
                format!("{path}.srm_p_value"),
                "expected a p-value below 0.5, such as 0.001",
            ));
        }
        c.srm_p_value = x;
    }
    if let Some(v) = m.get("compare").filter(|v| !v.is_null()) {
        c.compare = parse_compare(v, &format!("{path}.compare"))?;
    }
    Ok(c)
}

/// The phases of the flag's rollout in the raw document.
///
/// # Errors
/// [`RolloutError::InvalidPlan`] for a bad `min_duration` or `criteria`.
pub fn plan_phases(rollout: &Value, flag: &str) -> Result<Vec<PlanPhase>, RolloutError> {
    let path = format!("flags.{flag}.rollout.phases");
    let phases = rollout
        .get("phases")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(path.clone(), "expected an array"))?;
    let mut out = Vec::with_capacity(phases.len());
    for (i, p) in phases.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let min_duration_ms = match p.get("min_duration") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_str().and_then(parse_duration_ms).ok_or_else(|| {
                bad(
                    format!("{ip}.min_duration"),
                    "expected a duration such as `24h`",
                )
            })?),
        };
        out.push(PlanPhase {
            name: p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            percent: p.get("percent").and_then(Value::as_f64).unwrap_or(0.0),
            min_duration_ms,
            criteria: parse_criteria(p.get("criteria"), &format!("{ip}.criteria"))?,
        });
    }
    Ok(out)
}

/// When the rollout last entered phase `phase_name` according to its audit
/// log (unix ms).
pub fn entered_at_ms(rollout: &Value, phase_name: &str) -> Option<i64> {
    rollout
        .get("audit")?
        .as_array()?
        .iter()
        .rev()
        .find(|e| {
            e.get("to")
                .and_then(|t| t.get("phase"))
                .and_then(Value::as_str)
                == Some(phase_name)
        })
        .and_then(|e| e.get("at")?.as_str())
        .and_then(crate::config::parse_timestamp_ms)
}
