//! The fleet decision: advance, hold or roll back the current phase, from a
//! metrics snapshot, the phase's success criteria, the flag's guardrails and
//! the comparisons with the control. Every check that ran is reported with
//! its figures. The tests are sequential ([`super::sequential`]): a watch
//! loop may call [`decide_watched`] at every look, carrying the
//! [`WatchState`] of the previous answer, and the chance of a false
//! rollback over the whole phase, all criteria together, stays at or below
//! `1 - confidence`.

use super::judge::{family_size, judge_arm, Judge};
use super::ops::effective;
use super::plan::{entered_at_ms, plan_phases};
use super::snapshot::{MetricsSnapshot, VariationStats};
use super::stats::srm_chi_square;
use super::{human_duration, RolloutError};
use crate::config::{Document, RolloutState, Serve};
use crate::guardrails::{parse_guardrails, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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
    /// Short name: `srm`, `min_users:<arm>`, `min_duration`,
    /// `max_error_rate:<arm>`, `guardrail:<id>:<arm>`,
    /// `error_rate_vs_control:<arm>`, `latency_vs_control:<arm>`, ...
    pub name: String,
    /// What this check alone would answer.
    pub verdict: Verdict,
    /// The figures and reasoning.
    pub message: String,
    /// The always-valid p-value of a sequential test (the smallest over the
    /// looks of the phase when a [`WatchState`] was carried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
}

/// What a watch loop carries from one look to the next (serialisable, so a
/// restarted loop can go on where it stopped). A new phase starts afresh.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    /// The phase these looks belong to.
    #[serde(default)]
    pub phase: Option<String>,
    /// Looks taken in the phase, this one included.
    #[serde(default)]
    pub looks: u32,
    /// Per sequential check name, the smallest always-valid p-value seen in
    /// the phase: once a test has crossed its threshold it stays crossed.
    #[serde(default)]
    pub min_p: BTreeMap<String, f64>,
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
    /// True when the sample-ratio check failed: the comparisons between
    /// arms are not trusted (absolute limits and guardrails still apply).
    pub srm_blocked: bool,
    /// The family-wise error rate of the decision, `1 - confidence`.
    pub alpha: f64,
    /// Sequential tests sharing it (Bonferroni): each runs at
    /// `alpha / tests`.
    pub tests: u32,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
    /// Pass to the next look's [`decide_watched`].
    pub watch: WatchState,
}

/// Decides for `flag` of `raw` (the document as JSON, for the plan fields)
/// given `snapshot`, at `now_ms`, as a first look.
///
/// # Errors
/// [`RolloutError`] for an unusable document, flag or plan.
pub fn decide(
    raw: &Value,
    flag: &str,
    snapshot: &MetricsSnapshot,
    now_ms: i64,
) -> Result<Decision, RolloutError> {
    decide_watched(raw, flag, snapshot, now_ms, &WatchState::default())
}

/// Decides as [`decide`] does, at a later look of a watch loop: `prior` is
/// the [`Decision::watch`] of the previous look (of any phase). The snapshot
/// must hold the aggregates since the phase began, as every look's does.
///
/// # Errors
/// [`RolloutError`] for an unusable document, flag or plan.
pub fn decide_watched(
    raw: &Value,
    flag: &str,
    snapshot: &MetricsSnapshot,
    now_ms: i64,
    prior: &WatchState,
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
    let phase = match state {
        RolloutState::Running { phase } | RolloutState::Paused { phase } => phase,
        other => {
            let text = super::ops::state_text(other, &r);
            return Ok(Decision {
                flag: flag.to_owned(),
                phase: None,
                verdict: Verdict::Hold,
                srm_blocked: false,
                alpha: 0.0,
                tests: 0,
                checks: vec![Check {
                    name: "state".into(),
                    verdict: Verdict::Hold,
                    message: format!("the rollout is {text}: nothing to decide"),
                    p_value: None,
                }],
                watch: WatchState::default(),
            });
        }
    };
    let criteria = plan
        .get(phase)
        .map(|p| p.criteria.clone())
        .unwrap_or_default();
    let phase_name = r.phases[phase].name.to_string();
    let same_phase = prior.phase.as_deref() == Some(phase_name.as_str());
    let guardrails: Vec<_> = parse_guardrails(doc.section("guardrails"))
        .map(|specs| {
            specs
                .into_iter()
                .filter(|g| g.target == Target::Flag(flag.into()))
                .collect()
        })
        .unwrap_or_default();
    let alpha = 1.0 - criteria.confidence;

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

    let tests = family_size(&criteria, &guardrails) * (arms.len().max(2) as u32 - 1);
    let mut j = Judge::new(alpha / f64::from(tests.max(1)), same_phase.then_some(prior));
    if let RolloutState::Paused { .. } = state {
        j.push(
            "state",
            Verdict::Hold,
            format!("paused at {phase_name}: resume before advancing"),
        );
    }

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
            j.push(
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
                        "; the observed split does not match the configured one, so the comparisons between arms are not trusted (absolute limits and guardrails still apply)"
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
            &mut j,
            &guardrails,
            (key, stats[i]),
            (&arms[0].0, stats[0]),
            &criteria,
            srm_blocked,
        );
    }

    // Minimum duration, which only holds back an advance.
    if let Some(min) = plan.get(phase).and_then(|p| p.min_duration_ms) {
        let entered = entered_at_ms(raw_rollout, &phase_name).or(r.phases[phase].start_ms);
        match entered {
            Some(t) if now_ms - t < min => j.push(
                "min_duration",
                Verdict::Hold,
                format!(
                    "{phase_name} has run {} of its {}",
                    human_duration(now_ms - t),
                    human_duration(min)
                ),
            ),
            Some(t) => j.push(
                "min_duration",
                Verdict::Advance,
                format!(
                    "{phase_name} has run {} (min {})",
                    human_duration(now_ms - t),
                    human_duration(min)
                ),
            ),
            None => j.push(
                "min_duration",
                Verdict::Hold,
                format!("when {phase_name} began is unknown (no audit entry, no start time)"),
            ),
        }
    }

    let checks = j.checks;
    let verdict = if checks.iter().any(|c| c.verdict == Verdict::Rollback) {
        Verdict::Rollback
    } else if checks.iter().any(|c| c.verdict == Verdict::Hold) {
        Verdict::Hold
    } else {
        Verdict::Advance
    };
    Ok(Decision {
        flag: flag.to_owned(),
        phase: Some(phase_name.clone()),
        verdict,
        srm_blocked,
        alpha,
        tests,
        checks,
        watch: WatchState {
            phase: Some(phase_name.clone()),
            looks: if same_phase {
                prior.looks.saturating_add(1)
            } else {
                1
            },
            min_p: j.min_p,
        },
    })
}
