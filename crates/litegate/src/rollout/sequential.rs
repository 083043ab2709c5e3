//! Sequential tests that stay valid however often the fleet is looked at
//! (docs/rollout.md, "How `decide` answers"). Each test is a mixture
//! likelihood ratio `Λ` (a mixture sequential probability ratio test,
//! mSPRT): under the null hypothesis `Λ` is a non-negative supermartingale
//! with `E[Λ] <= 1`, so by Ville's inequality the chance that it *ever*
//! reaches `1/α`, at any look, is at most `α`. The always-valid p-value is
//! `min(1, 1/Λ)` (its running minimum over looks stays valid).
//!
//! - [`bernoulli_mixture_log_lr`]: events among trials against a null rate
//!   `p0`, an equal-weight mixture over the alternatives whose odds are
//!   `p0`'s odds times each of [`RATIO_GRID`] (or divided by it). Used for
//!   an absolute limit (errors among runs against `max_error_rate`) and,
//!   conditionally on the events of both arms, for the comparison of two
//!   rates: under equal rates each event is a treatment event with
//!   probability `n_t / (n_t + n_c)`, the exact conditional binomial
//!   model, valid for any count, one event included.
//! - [`normal_mixture_log_lr`]: a difference of means `d` with variance `v`
//!   (the normal approximation), a half-normal mixture of scale `tau` over
//!   the alternatives on one side; closed form
//!   `Λ = 2 sqrt(v/(v+τ²)) exp(τ²d²/(2v(v+τ²))) Φ(dτ/sqrt(v(v+τ²)))`.
//!   Used for latency (the mean of `ln(1 + ms)` per arm).
//!
//! Checked against SciPy (numerical integration and log-pmf sums) in
//! `tests/rollout_sequential.rs`.

use super::histogram::ExpHistogram;
use super::stats::normal_sf;

/// The odds ratios of the alternatives each Bernoulli mixture weighs
/// equally: from a 5% relative change to thirty-fold.
pub const RATIO_GRID: [f64; 12] = [
    1.05, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0,
];

/// The mixture scale of the latency test on the `ln(1 + ms)` scale: effects
/// around 10% (0.1) are detected fastest.
pub const LATENCY_TAU: f64 = 0.1;

/// Which side of the null hypothesis the alternatives lie on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The rate or mean is higher than under the null.
    Greater,
    /// The rate or mean is lower.
    Less,
}

fn log_sum_exp(terms: &[f64]) -> f64 {
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// `ln Λ` of the Bernoulli mixture for `x` events and `y` non-events
/// (counts; fractional counts are accepted for effective sample sizes)
/// against the null event probability `p0`, alternatives on `side`.
///
/// `p0 <= 0` with an event on the `Greater` side is infinite evidence; a
/// `p0` at or outside the boundary on the tested side gives 0 (`Λ = 1`).
pub fn bernoulli_mixture_log_lr(x: f64, y: f64, p0: f64, side: Side) -> f64 {
    let (x, y) = (x.max(0.0), y.max(0.0));
    match side {
        Side::Greater if p0 <= 0.0 => {
            return if x > 0.0 { f64::INFINITY } else { 0.0 };
        }
        Side::Less if p0 >= 1.0 => {
            return if y > 0.0 { f64::INFINITY } else { 0.0 };
        }
        Side::Greater if p0 >= 1.0 => return 0.0,
        Side::Less if p0 <= 0.0 => return 0.0,
        _ => {}
    }
    let odds0 = p0 / (1.0 - p0);
    let mut terms = [0.0f64; RATIO_GRID.len()];
    for (t, r) in terms.iter_mut().zip(RATIO_GRID) {
        let odds1 = match side {
            Side::Greater => odds0 * r,
            Side::Less => odds0 / r,
        };
        let p1 = odds1 / (1.0 + odds1);
        // x ln(p1/p0) + y ln((1-p1)/(1-p0)), each term 0 when its count is.
        let a = if x > 0.0 { x * (p1 / p0).ln() } else { 0.0 };
        let b = if y > 0.0 {
            y * ((1.0 - p1) / (1.0 - p0)).ln()
        } else {
            0.0
        };
        *t = a + b;
    }
    log_sum_exp(&terms) - (RATIO_GRID.len() as f64).ln()
}

/// `ln Φ(z)` for a standard normal, accurate far into the lower tail.
pub fn log_normal_cdf(z: f64) -> f64 {
    if z > -30.0 {
        normal_sf(-z).ln()
    } else {
        // Mills ratio: Φ(z) = φ(z)/|z| (1 - 1/z² + 3/z⁴ - ...).
        let z2 = z * z;
        -0.5 * z2 - (-z).ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            + (1.0 - 1.0 / z2 + 3.0 / (z2 * z2)).ln()
    }
}

/// `ln Λ` of the one-sided normal mixture for an estimated difference `d`
/// with variance `v` and mixture scale `tau` (see the module docs).
/// 0 (`Λ = 1`) when `v` or `tau` is not positive and finite.
pub fn normal_mixture_log_lr(d: f64, v: f64, tau: f64, side: Side) -> f64 {
    if !(v > 0.0 && v.is_finite() && tau > 0.0 && tau.is_finite() && d.is_finite()) {
        return 0.0;
    }
    let s = match side {
        Side::Greater => d,
        Side::Less => -d,
    };
    let t2 = tau * tau;
    let k = v + t2;
    std::f64::consts::LN_2
        + 0.5 * (v / k).ln()
        + t2 * s * s / (2.0 * v * k)
        + log_normal_cdf(s * tau / (v * k).sqrt())
}

/// The always-valid p-value `min(1, 1/Λ)` from `ln Λ`.
pub fn p_from_log_lr(log_lr: f64) -> f64 {
    if log_lr.is_nan() {
        return 1.0;
    }
    (-log_lr).exp().min(1.0)
}

/// Count, mean and variance of `ln(1 + ms)` over a latency histogram, each
/// value taken at its bucket's geometric midpoint (zeros at 0). `None` when
/// empty.
pub fn log_latency_moments(h: &ExpHistogram) -> Option<(u64, f64, f64)> {
    let mut n = 0u64;
    let (mut sum, mut sum2) = (0.0f64, 0.0f64);
    for (idx, c) in h.iter_buckets() {
        if c == 0 {
            continue;
        }
        let v = match idx {
            None => 0.0,
            Some(i) => {
                let (lo, hi) = h.bounds(i);
                (1.0 + (lo * hi).sqrt()).ln()
            }
        };
        n += c;
        sum += c as f64 * v;
        sum2 += c as f64 * v * v;
    }
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    let var = if n > 1 {
        ((sum2 - n as f64 * mean * mean) / (n - 1) as f64).max(0.0)
    } else {
        0.0
    };
    Some((n, mean, var))
}

/// Values certainly above `limit`: the counts of buckets whose lower bound
/// is at least `limit` (a bucket straddling it counts as not above, so the
/// count never overstates a breach).
pub fn count_above(h: &ExpHistogram, limit: f64) -> u64 {
    h.iter_buckets()
        .filter(|(idx, _)| match idx {
            None => limit < 0.0,
            Some(i) => h.bounds(*i).0 >= limit,
        })
        .map(|(_, c)| c)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_events_no_evidence_of_a_higher_rate() {
        assert!(bernoulli_mixture_log_lr(0.0, 1000.0, 0.05, Side::Greater) < 0.0);
        assert!(bernoulli_mixture_log_lr(0.0, 1000.0, 0.05, Side::Less) > 0.0);
        assert_eq!(bernoulli_mixture_log_lr(0.0, 0.0, 0.3, Side::Greater), 0.0);
    }

    #[test]
    fn the_lower_tail_of_the_normal_is_continuous() {
        let a = log_normal_cdf(-29.999_999);
        let b = log_normal_cdf(-30.000_001);
        assert!((a - b).abs() < 1e-4, "{a} {b}");
        assert!(normal_mixture_log_lr(-1e3, 1e-6, 0.1, Side::Greater).is_finite());
    }
}
