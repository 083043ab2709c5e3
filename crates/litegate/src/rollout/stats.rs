//! The statistics behind rollout decisions, written from their textbook
//! definitions and checked against SciPy in `tests/rollout_stats.rs`.
//!
//! - Normal and chi-square tails come from the regularised upper incomplete
//!   gamma function `Q(a, x)`: `P(Z > z) = Q(1/2, z²/2) / 2` and
//!   `P(χ²_k > x) = Q(k/2, x/2)`. `Q` uses its power series below `a + 1`
//!   and a continued fraction (modified Lentz) above.
//! - Rates: the pooled two-proportion z-test.
//! - Latency: the Mann-Whitney U test on the histogram buckets (values in
//!   one bucket are ties), normal approximation with tie correction and
//!   continuity correction.
//! - Sample ratio mismatch: Pearson's chi-square goodness of fit.

use super::histogram::ExpHistogram;

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, 9 terms; about 15
/// significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised upper incomplete gamma function `Q(a, x) = Γ(a, x)/Γ(a)`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if !x.is_finite() {
        return 0.0;
    }
    let ln_pre = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^-x x^a / Γ(a+1) Σ x^n / ((a+1)...(a+n)).
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_pre.exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Γ(a, x), modified Lentz.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_pre.exp() * h).clamp(0.0, 1.0)
    }
}

/// `P(Z > z)` for a standard normal `Z`.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let tail = 0.5 * gamma_q(0.5, z * z / 2.0);
    if z >= 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// `P(χ²_dof > x)`.
pub fn chi2_sf(x: f64, dof: u32) -> f64 {
    gamma_q(f64::from(dof) / 2.0, x / 2.0)
}

/// The result of a test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The statistic: z for z-tests and Mann-Whitney, χ² for SRM.
    pub statistic: f64,
    /// One-sided p-value (treatment worse) for comparisons; the upper tail
    /// for chi-square.
    pub p_value: f64,
}

/// Pooled two-proportion z-test of `x1/n1` (treatment) against `x2/n2`
/// (control); the p-value is for "treatment's rate is higher". `None` when a
/// group is empty or no/every trial failed in both.
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<TestResult> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (x1f, n1f, x2f, n2f) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (x1f + x2f) / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (x1f / n1f - x2f / n2f) / se;
    Some(TestResult {
        statistic: z,
        p_value: normal_sf(z),
    })
}

/// Mann-Whitney U test that treatment latencies are stochastically larger
/// than control latencies, from two histograms (brought to a common scale;
/// each bucket is one tie group). The statistic is the z-score.
pub fn mann_whitney_greater(
    treatment: &ExpHistogram,
    control: &ExpHistogram,
) -> Option<TestResult> {
    let scale = treatment.scale.min(control.scale);
    let (t, c) = (treatment.rescaled(scale), control.rescaled(scale));
    let n1: u64 = t.iter_buckets().map(|(_, n)| n).sum();
    let n2: u64 = c.iter_buckets().map(|(_, n)| n).sum();
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Walk both bucket lists in value order.
    let mut groups: std::collections::BTreeMap<(u8, i32), (u64, u64)> = Default::default();
    for (idx, n) in t.iter_buckets() {
        let key = idx.map_or((0, 0), |i| (1, i));
        groups.entry(key).or_default().0 += n;
    }
    for (idx, n) in c.iter_buckets() {
        let key = idx.map_or((0, 0), |i| (1, i));
        groups.entry(key).or_default().1 += n;
    }
    let mut u = 0.0f64;
    let mut control_below = 0u64;
    let mut tie_term = 0.0f64;
    for (a, b) in groups.values() {
        u += *a as f64 * (control_below as f64 + 0.5 * *b as f64);
        control_below += b;
        let tg = (a + b) as f64;
        tie_term += tg * tg * tg - tg;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let n = n1f + n2f;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        return None;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    Some(TestResult {
        statistic: z,
        p_value: normal_sf(z),
    })
}

/// Pearson's chi-square goodness of fit of `observed` counts to `expected`
/// shares (any positive weights). `None` with fewer than two groups or no
/// observations.
pub fn srm_chi_square(observed: &[u64], expected_weights: &[f64]) -> Option<TestResult> {
    if observed.len() < 2 || observed.len() != expected_weights.len() {
        return None;
    }
    let total: f64 = observed.iter().map(|&x| x as f64).sum();
    let wsum: f64 = expected_weights.iter().sum();
    if total == 0.0 || wsum <= 0.0 {
        return None;
    }
    let mut chi = 0.0;
    let mut groups = 0u32;
    for (&o, &w) in observed.iter().zip(expected_weights) {
        let e = total * w / wsum;
        if e > 0.0 {
            chi += (o as f64 - e).powi(2) / e;
            groups += 1;
        } else if o > 0 {
            // Observations where none are expected: certain mismatch.
            return Some(TestResult {
                statistic: f64::INFINITY,
                p_value: 0.0,
            });
        }
    }
    if groups < 2 {
        return None;
    }
    Some(TestResult {
        statistic: chi,
        p_value: chi2_sf(chi, groups - 1),
    })
}
