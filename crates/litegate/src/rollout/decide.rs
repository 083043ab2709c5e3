//! The fleet decision: advance, hold or roll back the current phase, from a
//! metrics snapshot, the phase's success criteria, the flag's guardrails and
//! the A/B comparisons. Every check that ran is reported with its figures.

use super::ops::effective;
use super::plan::{entered_at_ms, plan_phases, Criteria};
use super::snapshot::{MetricsSnapshot, VariationStats};
use super::stats::{mann_whitney_greater, srm_chi_square, two_proportion_z};
use super::{human_duration, RolloutError};
use crate::config::{Document, RolloutState, Serve};
use crate::guardrails::{parse_guardrails, Metric, Severity, Target};
use serde::Serialize;
use serde_json::Value;

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Go to the next phase (or complete at the last one).
    Advance,
    /// Stay; gather more data or look.
    Hold,
    /// Go back.
    Rollback,
}

/// One check and what it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Short name: `srm`, `min_users`, `min_duration`, `max_error_rate`,
    /// `guardrail:<id>`, `error_rate_vs_control`, `latency_vs_control`, ...
    pub name: String,
    /// What this check alone would answer.
    pub verdict: Verdict,
    /// The figures and reasoning.
    pub message: String,
}

/// The decision with every reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The flag.
    pub flag: String,
    /// The phase judged.
    pub phase: Option<String>,
    /// The answer.
    pub verdict: Verdict,
    /// True when the sample-ratio check failed: no decision is trusted.
    pub srm_blocked: bool,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

fn check(checks: &mut Vec<Check>, name: impl Into<String>, verdict: Verdict, message: String) {
    checks.push(Check {
        name: name.into(),
        verdict,
        message,
    });
}

/// Decides for `flag` of `raw` (the document as JSON, for the plan fields)
/// given `snapshot`, at `now_ms`.
///
/// # Errors
/// [`RolloutError`] for an unusable document, flag or plan.
pub fn decide(
    raw: &Value,
    flag: &str,
    snapshot: &MetricsSnapshot,
    now_ms: i64,
) -> Result<Decision, RolloutError> {
    let bytes = serde_json::to_vec(raw).map_err(|e| RolloutError::Document(e.to_string()))?;
    let doc = Document::parse(&bytes)?;
    let (r, state) = effective(&doc, flag, now_ms)?;
    let f = doc
        .ready_flag(flag)
        .ok_or_else(|| RolloutError::NoSuchFlag {
            flag: flag.to_owned(),
        })?;
    let raw_rollout = &raw["flags"][flag]["rollout"];
    let plan = plan_phases(raw_rollout, flag)?;
    let mut checks = Vec::new();
    let phase = match state {
        RolloutState::Running { phase } | RolloutState::Paused { phase } => phase,
        other => {
            let text = super::ops::state_text(other, &r);
            check(
                &mut checks,
                "state",
                Verdict::Hold,
                format!("the rollout is {text}: nothing to decide"),
            );
            return Ok(Decision {
                flag: flag.to_owned(),
                phase: None,
                verdict: Verdict::Hold,
                srm_blocked: false,
                checks,
            });
        }
    };
    let criteria = plan
        .get(phase)
        .map(|p| p.criteria.clone())
        .unwrap_or_default();
    let phase_name = r.phases[phase].name.to_string();
    if let RolloutState::Paused { .. } = state {
        check(
            &mut checks,
            "state",
            Verdict::Hold,
            format!("paused at {phase_name}: resume before advancing"),
        );
    }

    // Arms: (variation key, expected weight); the first is the control.
    let names = |i: usize| f.variations[i].key.to_string();
    let percent = f64::from(r.phases[phase].buckets) / 1000.0;
    let arms: Vec<(String, f64)> = match &f.fallthrough {
        Serve::Phased {
            variation,
            otherwise,
            ..
        } => vec![
            (names(*otherwise), 100.0 - percent),
            (names(*variation), percent),
        ],
        Serve::Percentage {
            buckets,
            variation,
            otherwise,
            ..
        } => {
            let p = f64::from(*buckets) / 1000.0;
            vec![(names(*otherwise), 100.0 - p), (names(*variation), p)]
        }
        Serve::Split { arms, .. } => {
            let mut lower = 0u32;
            arms.iter()
                .map(|(upper, v)| {
                    let w = f64::from(upper - lower) / 1000.0;
                    lower = *upper;
                    (names(*v), w)
                })
                .collect()
        }
        Serve::Variation(v) => vec![(names(*v), 100.0)],
    };
    let empty = VariationStats::default();
    let fs = snapshot.flags.get(flag);
    let stats: Vec<&VariationStats> = arms
        .iter()
        .map(|(k, _)| fs.and_then(|f| f.variations.get(k)).unwrap_or(&empty))
        .collect();

    // Sample ratio mismatch, over arms expected to get users.
    let live: Vec<usize> = (0..arms.len()).filter(|&i| arms[i].1 > 0.0).collect();
    let mut srm_blocked = false;
    if live.len() >= 2 {
        let observed: Vec<u64> = live.iter().map(|&i| stats[i].users).collect();
        let weights: Vec<f64> = live.iter().map(|&i| arms[i].1).collect();
        if let Some(t) = srm_chi_square(&observed, &weights) {
            srm_blocked = t.p_value < criteria.srm_p_value;
            let split: Vec<String> = live
                .iter()
                .map(|&i| format!("{}={} (expected {}%)", arms[i].0, stats[i].users, arms[i].1))
                .collect();
            check(
                &mut checks,
                "srm",
                if srm_blocked {
                    Verdict::Hold
                } else {
                    Verdict::Advance
                },
                format!(
                    "users {}: chi-square {:.3}, p = {:.3e} {} {}{}",
                    split.join(", "),
                    t.statistic,
                    t.p_value,
                    if srm_blocked { "<" } else { ">=" },
                    criteria.srm_p_value,
                    if srm_blocked {
                        "; the observed split does not match the configured one, so no decision is trusted"
                    } else {
                        ""
                    }
                ),
            );
        }
    }

    let treatments: Vec<usize> = (1..arms.len()).collect();
    for &i in &treatments {
        let (key, _) = &arms[i];
        judge_arm(
            &mut checks,
            &doc,
            flag,
            key,
            stats[i],
            stats[0],
            &arms[0].0,
            &criteria,
        );
    }

    // Minimum duration, which only holds back an advance.
    if let Some(min) = plan.get(phase).and_then(|p| p.min_duration_ms) {
        let entered = entered_at_ms(raw_rollout, &phase_name).or(r.phases[phase].start_ms);
        match entered {
            Some(t) if now_ms - t < min => check(
                &mut checks,
                "min_duration",
                Verdict::Hold,
                format!(
                    "{phase_name} has run {} of its {}",
                    human_duration(now_ms - t),
                    human_duration(min)
                ),
            ),
            Some(t) => check(
                &mut checks,
                "min_duration",
                Verdict::Advance,
                format!(
                    "{phase_name} has run {} (min {})",
                    human_duration(now_ms - t),
                    human_duration(min)
                ),
            ),
            None => check(
                &mut checks,
                "min_duration",
                Verdict::Hold,
                format!("when {phase_name} began is unknown (no audit entry, no start time)"),
            ),
        }
    }

    let verdict = if srm_blocked {
        Verdict::Hold
    } else if checks.iter().any(|c| c.verdict == Verdict::Rollback) {
        Verdict::Rollback
    } else if checks.iter().any(|c| c.verdict == Verdict::Hold) {
        Verdict::Hold
    } else {
        Verdict::Advance
    };
    Ok(Decision {
        flag: flag.to_owned(),
        phase: Some(phase_name),
        verdict,
        srm_blocked,
        checks,
    })
}

#[allow(clippy::too_many_arguments)]
fn judge_arm(
    checks: &mut Vec<Check>,
    doc: &Document,
    flag: &str,
    key: &str,
    t: &VariationStats,
    c: &VariationStats,
    control_key: &str,
    criteria: &Criteria,
) {
    if t.users < criteria.min_users {
        check(
            checks,
            format!("min_users:{key}"),
            Verdict::Hold,
            format!("{key} has {} users, {} needed", t.users, criteria.min_users),
        );
        return;
    }
    let p95 = t.latency_ms.as_ref().and_then(|h| h.quantile(0.95));
    let p99 = t.latency_ms.as_ref().and_then(|h| h.quantile(0.99));
    let limits = [
        (
            "max_error_rate",
            criteria.max_error_rate,
            Some(t.error_rate()),
            "%",
        ),
        (
            "max_crash_rate",
            criteria.max_crash_rate,
            Some(t.crash_rate()),
            "%",
        ),
        (
            "max_latency_p95_ms",
            criteria.max_latency_p95_ms,
            p95,
            " ms",
        ),
        (
            "max_latency_p99_ms",
            criteria.max_latency_p99_ms,
            p99,
            " ms",
        ),
    ];
    for (name, limit, value, unit) in limits {
        let (Some(limit), Some(value)) = (limit, value) else {
            continue;
        };
        let over = value > limit;
        check(
            checks,
            format!("{name}:{key}"),
            if over {
                Verdict::Rollback
            } else {
                Verdict::Advance
            },
            format!(
                "{key}: {value:.3}{unit} {} {limit}{unit}",
                if over { ">" } else { "<=" }
            ),
        );
    }
    // The flag's device guardrails, applied to the fleet aggregate.
    if let Ok(specs) = parse_guardrails(doc.section("guardrails")) {
        for g in specs
            .iter()
            .filter(|g| g.target == Target::Flag(flag.into()))
        {
            let (value, samples) = match g.metric {
                Metric::ErrorRate | Metric::InferenceFailureRate => (Some(t.error_rate()), t.runs),
                Metric::CrashRate => (Some(t.crash_rate()), t.sessions),
                Metric::FallbackRate => (Some(t.fallback_rate()), t.runs),
                Metric::LatencyP50
                | Metric::LatencyP95
                | Metric::LatencyP99
                | Metric::LatencyMax => {
                    let h = t.latency_ms.as_ref();
                    (
                        h.and_then(|h| h.quantile(g.metric.quantile())),
                        h.map_or(0, |h| h.count),
                    )
                }
                Metric::LoadTimeMax | Metric::MemoryMaxMb => (None, 0),
            };
            let Some(value) = value else { continue };
            if samples < u64::from(g.min_samples) {
                continue;
            }
            let trips = g.comparison.holds(value, g.threshold);
            check(
                checks,
                format!("guardrail:{}:{key}", g.id),
                match (trips, g.severity) {
                    (false, _) => Verdict::Advance,
                    (true, Severity::Critical) => Verdict::Rollback,
                    (true, Severity::Warning) => Verdict::Hold,
                },
                format!(
                    "{key}: {} = {value:.3} over {samples} samples; trips when {} {}: {}",
                    g.metric.as_str(),
                    g.comparison.as_str(),
                    g.threshold,
                    if trips { "tripped" } else { "not tripped" }
                ),
            );
        }
    }
    // Comparisons with the control.
    let alpha = 1.0 - criteria.confidence;
    let conf = criteria.confidence * 100.0;
    if c.users >= criteria.min_users {
        for (name, (x1, n1), (x2, n2)) in [
            ("error_rate", (t.errors, t.runs), (c.errors, c.runs)),
            (
                "crash_rate",
                (t.crashes, t.sessions),
                (c.crashes, c.sessions),
            ),
        ] {
            if let Some(res) = two_proportion_z(x1, n1, x2, n2) {
                let worse = res.p_value < alpha;
                check(
                    checks,
                    format!("{name}_vs_control:{key}"),
                    if worse { Verdict::Rollback } else { Verdict::Advance },
                    format!(
                        "{key} {x1}/{n1} vs {control_key} {x2}/{n2}: z = {:.3}, one-sided p = {:.3e}: {} at {conf}% confidence",
                        res.statistic,
                        res.p_value,
                        if worse { "significantly worse" } else { "not significantly worse" }
                    ),
                );
            }
        }
        if let (Some(th), Some(ch)) = (&t.latency_ms, &c.latency_ms) {
            if let Some(res) = mann_whitney_greater(th, ch) {
                let slower = res.p_value < alpha;
                check(
                    checks,
                    format!("latency_vs_control:{key}"),
                    if slower { Verdict::Hold } else { Verdict::Advance },
                    format!(
                        "Mann-Whitney U, {key} (n={}) vs {control_key} (n={}): z = {:.3}, one-sided p = {:.3e}: {} at {conf}% confidence",
                        th.count,
                        ch.count,
                        res.statistic,
                        res.p_value,
                        if slower { "significantly slower" } else { "not significantly slower" }
                    ),
                );
            }
        }
    } else {
        check(
            checks,
            format!("min_users:{control_key}"),
            Verdict::Hold,
            format!(
                "control {control_key} has {} users, {} needed to compare",
                c.users, criteria.min_users
            ),
        );
    }
}
