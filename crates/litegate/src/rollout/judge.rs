//! The checks of one treatment arm: absolute limits, the flag's guardrails
//! on the fleet aggregate, and the comparisons with the control, each a
//! sequential test at the decision's per-test alpha (docs/rollout.md).

use super::decide::{Check, Verdict, WatchState};
use super::plan::{Criteria, Direction};
use super::sequential::{
    bernoulli_mixture_log_lr, count_above, log_latency_moments, normal_mixture_log_lr,
    p_from_log_lr, Side, LATENCY_TAU,
};
use super::snapshot::VariationStats;
use crate::guardrails::{Comparison, GuardrailSpec, Metric, Severity};
use std::collections::BTreeMap;

/// Users per arm below which the latency comparison (a normal
/// approximation) is not run.
pub const MIN_USERS_FOR_LATENCY: u64 = 20;

/// The checks collected so far and the sequential evidence.
pub(crate) struct Judge<'a> {
    pub(crate) checks: Vec<Check>,
    pub(crate) min_p: BTreeMap<String, f64>,
    alpha_each: f64,
    prior: Option<&'a WatchState>,
}

impl<'a> Judge<'a> {
    pub(crate) fn new(alpha_each: f64, prior: Option<&'a WatchState>) -> Self {
        // Evidence of tests not run at this look (arms not compared after a
        // failed SRM check) is kept for the next.
        let min_p = prior.map(|s| s.min_p.clone()).unwrap_or_default();
        Judge {
            checks: Vec::new(),
            min_p,
            alpha_each,
            prior,
        }
    }

    pub(crate) fn push(&mut self, name: impl Into<String>, verdict: Verdict, message: String) {
        self.checks.push(Check {
            name: name.into(),
            verdict,
            message,
            p_value: None,
        });
    }

    /// Records a sequential test's evidence; returns its always-valid
    /// p-value (the smallest in the phase) and whether it crossed alpha.
    fn evidence(&mut self, name: &str, log_lr: f64) -> (f64, bool) {
        let mut p = p_from_log_lr(log_lr);
        if let Some(q) = self.prior.and_then(|s| s.min_p.get(name)) {
            // A state read back from a file: only a probability counts.
            if (0.0..=1.0).contains(q) {
                p = p.min(*q);
            }
        }
        self.min_p.insert(name.to_owned(), p);
        (p, p <= self.alpha_each)
    }

    fn push_test(&mut self, name: String, verdict: Verdict, message: String, p: f64) {
        self.checks.push(Check {
            name,
            verdict,
            message,
            p_value: Some(p),
        });
    }

    fn versus(&self, p: f64) -> String {
        format!(
            "always-valid p = {p:.3e} {} {:.3e}",
            if p <= self.alpha_each { "<=" } else { ">" },
            self.alpha_each
        )
    }
}

/// How the fleet snapshot measures a guardrail's metric.
enum Measure {
    /// `events` among `trials`, the threshold a percentage.
    Rate { events: u64, trials: u64 },
    /// A latency quantile `q` from the histogram.
    Latency { q: f64 },
    /// Not in the snapshot (load time, memory): judged on devices only.
    DeviceOnly,
}

fn measure(metric: Metric, t: &VariationStats) -> Measure {
    match metric {
        Metric::ErrorRate | Metric::InferenceFailureRate => Measure::Rate {
            events: t.errors,
            trials: t.runs,
        },
        Metric::CrashRate => Measure::Rate {
            events: t.crashes,
            trials: t.sessions,
        },
        Metric::FallbackRate => Measure::Rate {
            events: t.fallbacks,
            trials: t.runs,
        },
        Metric::LatencyP50 | Metric::LatencyP95 | Metric::LatencyP99 | Metric::LatencyMax => {
            Measure::Latency {
                q: metric.quantile(),
            }
        }
        Metric::LoadTimeMax | Metric::MemoryMaxMb => Measure::DeviceOnly,
    }
}

/// Sequential tests per treatment arm that can roll back (or, towards
/// improvement, advance): the Bonferroni family of one decision.
pub(crate) fn family_size(criteria: &Criteria, guardrails: &[GuardrailSpec]) -> u32 {
    let absolute = [
        criteria.max_error_rate,
        criteria.max_crash_rate,
        criteria.max_latency_p95_ms,
        criteria.max_latency_p99_ms,
    ]
    .iter()
    .filter(|l| l.is_some())
    .count();
    let critical = guardrails
        .iter()
        .filter(|g| {
            g.severity == Severity::Critical
                && !matches!(g.metric, Metric::LoadTimeMax | Metric::MemoryMaxMb)
        })
        .count();
    let c = &criteria.compare;
    let compared = [c.error_rate, c.crash_rate, c.latency]
        .iter()
        .filter(|d| **d != Direction::Off)
        .count();
    (absolute + critical + compared).max(1) as u32
}

/// The evidence that the share of runs above `limit` ms exceeds `share`,
/// with runs weighted down to one per user (runs of one device are
/// correlated: its accelerator sets its latency).
fn latency_exceedance(t: &VariationStats, limit: f64, share: f64) -> Option<(f64, u64, u64)> {
    let h = t.latency_ms.as_ref().filter(|h| h.count > 0)?;
    let above = count_above(h, limit);
    let n = h.count;
    let f = if t.users > 0 && t.users < n {
        t.users as f64 / n as f64
    } else {
        1.0
    };
    let log_lr = bernoulli_mixture_log_lr(
        above as f64 * f,
        (n - above.min(n)) as f64 * f,
        share,
        Side::Greater,
    );
    Some((log_lr, above, n))
}

/// Judges one treatment arm against the control.
pub(crate) fn judge_arm(
    j: &mut Judge<'_>,
    guardrails: &[GuardrailSpec],
    (key, t): (&str, &VariationStats),
    (control_key, c): (&str, &VariationStats),
    criteria: &Criteria,
    srm_blocked: bool,
) {
    if t.users < criteria.min_users {
        j.push(
            format!("min_users:{key}"),
            Verdict::Hold,
            format!(
                "{key} has {} users, {} needed before it can advance (safety limits are judged already)",
                t.users, criteria.min_users
            ),
        );
    }
    absolute_limits(j, key, t, criteria);
    for g in guardrails {
        guardrail(j, g, key, t);
    }
    if srm_blocked {
        j.push(
            format!("comparisons:{key}"),
            Verdict::Hold,
            format!("{key} vs {control_key}: not compared, the sample ratio check failed"),
        );
        return;
    }
    if c.users < criteria.min_users {
        j.push(
            format!("min_users:{control_key}"),
            Verdict::Hold,
            format!(
                "control {control_key} has {} users, {} needed to advance",
                c.users, criteria.min_users
            ),
        );
    }
    let cmp = criteria.compare;
    rate_comparison(
        j,
        "error_rate",
        cmp.error_rate,
        (key, t.errors, t.runs, t.users),
        (control_key, c.errors, c.runs),
        "runs",
    );
    rate_comparison(
        j,
        "crash_rate",
        cmp.crash_rate,
        (key, t.crashes, t.sessions, t.users),
        (control_key, c.crashes, c.sessions),
        "sessions",
    );
    latency_comparison(j, cmp.latency, (key, t), (control_key, c));
}

fn absolute_limits(j: &mut Judge<'_>, key: &str, t: &VariationStats, criteria: &Criteria) {
    for (name, limit, events, trials, unit) in [
        (
            "max_error_rate",
            criteria.max_error_rate,
            t.errors,
            t.runs,
            "runs",
        ),
        (
            "max_crash_rate",
            criteria.max_crash_rate,
            t.crashes,
            t.sessions,
            "sessions",
        ),
    ] {
        let Some(limit) = limit else { continue };
        let check = format!("{name}:{key}");
        if trials == 0 {
            j.push(
                check,
                Verdict::Hold,
                format!(
                    "no data for {name}: {key} has {} users and 0 {unit}",
                    t.users
                ),
            );
            continue;
        }
        let rate = 100.0 * events as f64 / trials as f64;
        let log_lr = bernoulli_mixture_log_lr(
            events as f64,
            (trials - events) as f64,
            limit / 100.0,
            Side::Greater,
        );
        let (p, breached) = j.evidence(&check, log_lr);
        let (verdict, word) = if breached {
            (Verdict::Rollback, "above the limit")
        } else if rate > limit {
            (Verdict::Hold, "above the limit, not yet conclusive")
        } else {
            (Verdict::Advance, "within the limit")
        };
        let msg = format!(
            "{key}: {rate:.3}% ({events}/{trials}) vs limit {limit}%: {word} ({})",
            j.versus(p)
        );
        j.push_test(check, verdict, msg, p);
    }
    for (name, limit, q) in [
        ("max_latency_p95_ms", criteria.max_latency_p95_ms, 0.95),
        ("max_latency_p99_ms", criteria.max_latency_p99_ms, 0.99),
    ] {
        let Some(limit) = limit else { continue };
        let check = format!("{name}:{key}");
        let Some((log_lr, above, n)) = latency_exceedance(t, limit, 1.0 - q) else {
            j.push(
                check,
                Verdict::Hold,
                format!(
                    "no data for {name}: {key} has {} users and no latency histogram",
                    t.users
                ),
            );
            continue;
        };
        let estimate = t
            .latency_ms
            .as_ref()
            .and_then(|h| h.quantile(q))
            .unwrap_or(0.0);
        let (p, breached) = j.evidence(&check, log_lr);
        let (verdict, word) = if breached {
            (Verdict::Rollback, "above the limit")
        } else if estimate > limit {
            (Verdict::Hold, "above the limit, not yet conclusive")
        } else {
            (Verdict::Advance, "within the limit")
        };
        let msg = format!(
            "{key}: p{} = {estimate:.1} ms ({above} of {n} runs above {limit} ms) vs limit {limit} ms: {word} ({})",
            (q * 100.0).round(),
            j.versus(p)
        );
        j.push_test(check, verdict, msg, p);
    }
}

fn guardrail(j: &mut Judge<'_>, g: &GuardrailSpec, key: &str, t: &VariationStats) {
    let check = format!("guardrail:{}:{key}", g.id);
    let side = match g.comparison {
        Comparison::Above | Comparison::AtLeast => Side::Greater,
        Comparison::Below | Comparison::AtMost => Side::Less,
    };
    let (value, samples, log_lr) = match measure(g.metric, t) {
        Measure::DeviceOnly => {
            j.push(
                check,
                Verdict::Advance,
                format!(
                    "{}: judged on the devices only (the fleet snapshot has no such data)",
                    g.metric.as_str()
                ),
            );
            return;
        }
        Measure::Rate { events, trials } => {
            let value = (trials > 0).then(|| 100.0 * events as f64 / trials as f64);
            let log_lr = bernoulli_mixture_log_lr(
                events as f64,
                trials.saturating_sub(events) as f64,
                g.threshold / 100.0,
                side,
            );
            (value, trials, log_lr)
        }
        Measure::Latency { q } => {
            let h = t.latency_ms.as_ref();
            let value = h.and_then(|h| h.quantile(q));
            let n = h.map_or(0, |h| h.count);
            let log_lr = match side {
                Side::Greater => latency_exceedance(t, g.threshold, 1.0 - q).map_or(0.0, |e| e.0),
                // "Trips when faster than": judged on the estimate alone.
                Side::Less => 0.0,
            };
            (value, n, log_lr)
        }
    };
    let Some(value) = value.filter(|_| samples > 0) else {
        j.push(
            check,
            Verdict::Hold,
            format!(
                "no data for guardrail {}: {key} has no {} samples",
                g.id,
                g.metric.as_str()
            ),
        );
        return;
    };
    if samples < u64::from(g.min_samples) {
        j.push(
            check,
            Verdict::Hold,
            format!(
                "{key}: {samples} {} samples, the guardrail's min_samples is {}",
                g.metric.as_str(),
                g.min_samples
            ),
        );
        return;
    }
    let (p, tripped) = j.evidence(&check, log_lr);
    let over = g.comparison.holds(value, g.threshold);
    let verdict = match (tripped, over, g.severity) {
        (true, _, Severity::Critical) => Verdict::Rollback,
        (true, _, Severity::Warning) | (false, true, _) => Verdict::Hold,
        (false, false, _) => Verdict::Advance,
    };
    let msg = format!(
        "{key}: {} = {value:.3} over {samples} samples; trips when {} {}: {} ({})",
        g.metric.as_str(),
        g.comparison.as_str(),
        g.threshold,
        match (tripped, over) {
            (true, _) => "tripped",
            (false, true) => "past the threshold, not yet conclusive",
            (false, false) => "not tripped",
        },
        j.versus(p)
    );
    j.push_test(check, verdict, msg, p);
}

fn rate_comparison(
    j: &mut Judge<'_>,
    metric: &str,
    direction: Direction,
    (key, x1, n1, users): (&str, u64, u64, u64),
    (control_key, x2, n2): (&str, u64, u64),
    unit: &str,
) {
    if direction == Direction::Off {
        return;
    }
    let check = format!("{metric}_vs_control:{key}");
    if n1 == 0 && n2 == 0 {
        j.push(
            check,
            Verdict::Advance,
            format!("no {unit} in either arm: nothing to compare"),
        );
        return;
    }
    if n1 == 0 || n2 == 0 {
        let (arm, users_text) = if n1 == 0 {
            (key, format!("{users} users and "))
        } else {
            (control_key, String::new())
        };
        j.push(
            check,
            Verdict::Hold,
            format!("no data for {metric}: {arm} has {users_text}0 {unit}"),
        );
        return;
    }
    // Conditional on the events of both arms, each is a treatment event with
    // probability n1 / (n1 + n2) when the rates are equal.
    let share = n1 as f64 / (n1 + n2) as f64;
    let side = match direction {
        Direction::Improvement => Side::Less,
        _ => Side::Greater,
    };
    let log_lr = bernoulli_mixture_log_lr(x1 as f64, x2 as f64, share, side);
    let (p, shown) = j.evidence(&check, log_lr);
    let (r1, r2) = (100.0 * x1 as f64 / n1 as f64, 100.0 * x2 as f64 / n2 as f64);
    let (verdict, word) = match (direction, shown) {
        (Direction::Improvement, true) => (Verdict::Advance, "significantly better"),
        (Direction::Improvement, false) => (Verdict::Hold, "not yet shown better"),
        (_, true) => (Verdict::Rollback, "significantly worse"),
        (_, false) => (Verdict::Advance, "not shown worse"),
    };
    let msg = format!(
        "{key} {x1}/{n1} ({r1:.3}%) vs {control_key} {x2}/{n2} ({r2:.3}%), towards {}: {word} ({})",
        direction.as_str(),
        j.versus(p)
    );
    j.push_test(check, verdict, msg, p);
}

fn latency_comparison(
    j: &mut Judge<'_>,
    direction: Direction,
    (key, t): (&str, &VariationStats),
    (control_key, c): (&str, &VariationStats),
) {
    if direction == Direction::Off {
        return;
    }
    let check = format!("latency_vs_control:{key}");
    let mt = t.latency_ms.as_ref().and_then(log_latency_moments);
    let mc = c.latency_ms.as_ref().and_then(log_latency_moments);
    let ((nt, mean_t, var_t), (nc, mean_c, var_c)) = match (mt, mc) {
        (None, None) => {
            j.push(
                check,
                Verdict::Advance,
                "no latency in either arm: nothing to compare".into(),
            );
            return;
        }
        (Some(a), Some(b)) => (a, b),
        (None, _) | (_, None) => {
            let arm = if mt.is_none() { key } else { control_key };
            j.push(
                check,
                Verdict::Hold,
                format!("no data for latency_vs_control: {arm} has no latency histogram"),
            );
            return;
        }
    };
    // One observation per user: runs of one device are correlated, so the
    // run-level variance over the users is the conservative variance.
    let eff = |n: u64, users: u64| if users > 0 { n.min(users) } else { n };
    let (et, ec) = (eff(nt, t.users), eff(nc, c.users));
    if et < MIN_USERS_FOR_LATENCY || ec < MIN_USERS_FOR_LATENCY {
        j.push(
            check,
            Verdict::Hold,
            format!(
                "{key} ({et}) vs {control_key} ({ec}): fewer than {MIN_USERS_FOR_LATENCY} users in an arm to compare latency"
            ),
        );
        return;
    }
    let d = mean_t - mean_c;
    let v = var_t / et as f64 + var_c / ec as f64;
    let side = match direction {
        Direction::Improvement => Side::Less,
        _ => Side::Greater,
    };
    let (p, shown) = j.evidence(&check, normal_mixture_log_lr(d, v, LATENCY_TAU, side));
    let (verdict, word) = match (direction, shown) {
        (Direction::Improvement, true) => (Verdict::Advance, "significantly faster"),
        (Direction::Improvement, false) => (Verdict::Hold, "not yet shown faster"),
        (_, true) => (Verdict::Rollback, "significantly slower"),
        (_, false) => (Verdict::Advance, "not shown slower"),
    };
    let msg = format!(
        "{key} vs {control_key}: geometric mean of 1+ms {:+.1}% (n = {nt} runs / {et} users vs {nc} / {ec}), towards {}: {word} ({})",
        100.0 * d.exp_m1(),
        direction.as_str(),
        j.versus(p)
    );
    j.push_test(check, verdict, msg, p);
}
