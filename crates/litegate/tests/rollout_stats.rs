//! The statistics behind `rollout decide`, checked against reference values
//! computed independently with SciPy 1.17.1 (Python 3.11, a one-off venv:
//! `python -m venv v && v/bin/pip install scipy`), by this script:
//!
//! ```python
//! import numpy as np
//! from scipy import stats, special
//! def z2(x1,n1,x2,n2):   # pooled two-proportion z, one-sided "x1/n1 higher"
//!     p=(x1+x2)/(n1+n2); se=np.sqrt(p*(1-p)*(1/n1+1/n2)); z=(x1/n1-x2/n2)/se
//!     return z, stats.norm.sf(z)
//! # chi-square: stats.chisquare(observed, expected_counts)
//! # Q(a, x):    special.gammaincc(a, x)
//! # normal:     stats.norm.sf(z)
//! vals=[10,20,40,80,160]; x=np.repeat(vals,[5,20,40,25,10]); y=np.repeat(vals,[10,30,40,15,5])
//! stats.mannwhitneyu(x, y, alternative='greater', method='asymptotic', use_continuity=True)
//! ```
//!
//! The values printed were pasted below. The Mann-Whitney case uses values
//! that fall in distinct histogram buckets, so the histogram's tie groups
//! are exactly SciPy's ties.

use litegate::rollout::histogram::ExpHistogram;
use litegate::rollout::stats::{
    gamma_q, mann_whitney_greater, normal_sf, srm_chi_square, two_proportion_z,
};

fn close(a: f64, b: f64, rel: f64) {
    let tol = rel * b.abs().max(1e-300);
    assert!((a - b).abs() <= tol, "{a} vs reference {b} (rel tol {rel})");
}

#[test]
fn regularised_gamma_matches_scipy() {
    for (a, x, r) in [
        (0.5, 0.1, 0.6547208460185768),
        (0.5, 3.0, 0.014305878435429641),
        (2.5, 1.0, 0.8491450360846096),
        (10.0, 15.0, 0.06985366069940986),
        (1.0, 40.0, 4.248354255291595e-18),
    ] {
        close(gamma_q(a, x), r, 1e-9);
    }
}

#[test]
fn normal_tail_matches_scipy() {
    for (z, r) in [
        (0.0, 0.5),
        (1.0, 0.15865525393145707),
        (1.6448536269514722, 0.050000000000000044),
        (3.0, 0.0013498980316300933),
        (5.0, 2.866515718791933e-07),
        (-2.0, 0.9772498680518208),
    ] {
        close(normal_sf(z), r, 1e-9);
    }
}

#[test]
fn two_proportion_z_matches_scipy() {
    for ((x1, n1, x2, n2), z, p) in [
        (
            (40, 1000, 25, 1000),
            1.8915119696438358,
            0.029278017345154114,
        ),
        (
            (120, 5000, 100, 5000),
            1.363481431367087,
            0.08636541631657135,
        ),
        ((3, 200, 1, 180), 0.900731906231301, 0.18386544003985072),
        (
            (80, 1000, 100, 1000),
            -1.562690769794985,
            0.9409373267558547,
        ),
    ] {
        let t = two_proportion_z(x1, n1, x2, n2).unwrap();
        close(t.statistic, z, 1e-9);
        close(t.p_value, p, 1e-8);
    }
    assert!(two_proportion_z(0, 100, 0, 100).is_none());
    assert!(two_proportion_z(1, 0, 0, 100).is_none());
}

#[test]
fn srm_chi_square_matches_scipy() {
    for (obs, w, chi, p) in [
        (
            vec![5100u64, 4900],
            vec![50.0, 50.0],
            4.0,
            0.04550026389635857,
        ),
        (
            vec![830, 9170],
            vec![10.0, 90.0],
            32.11111111111111,
            1.4560220147828232e-08,
        ),
        (
            vec![340, 330, 330],
            vec![1.0, 1.0, 1.0],
            0.20000000000000004,
            0.9048374180359595,
        ),
        (
            vec![1050, 8950],
            vec![10.0, 90.0],
            2.7777777777777777,
            0.09558070454562936,
        ),
    ] {
        let t = srm_chi_square(&obs, &w).unwrap();
        close(t.statistic, chi, 1e-9);
        close(t.p_value, p, 1e-7);
    }
    let exact = srm_chi_square(&[990, 10], &[99.0, 1.0]).unwrap();
    assert_eq!(exact.statistic, 0.0);
    close(exact.p_value, 1.0, 1e-12);
}

fn hist(values: &[f64], counts: &[u64]) -> ExpHistogram {
    let mut h = ExpHistogram::new(6);
    for (v, c) in values.iter().zip(counts) {
        h.record_n(*v, *c);
    }
    h
}

#[test]
fn mann_whitney_on_histograms_matches_scipy() {
    let vals = [10.0, 20.0, 40.0, 80.0, 160.0];
    let t = hist(&vals, &[5, 20, 40, 25, 10]);
    let c = hist(&vals, &[10, 30, 40, 15, 5]);
    let r = mann_whitney_greater(&t, &c).unwrap();
    close(r.p_value, 0.002702649041421004, 1e-7);
    let same = hist(&vals, &[20, 30, 30, 15, 5]);
    let r = mann_whitney_greater(&same, &same.clone()).unwrap();
    close(r.p_value, 0.5005041705424835, 1e-7);
}

#[test]
fn exponential_histogram_quantiles_stay_within_one_bucket() {
    // 1..=1000 ms, one each: the true q-quantile is ceil(q * 1000).
    let mut h = ExpHistogram::new(6);
    for v in 1..=1000 {
        h.record(f64::from(v));
    }
    let base = (2f64).powf((2f64).powi(-6));
    for q in [0.5, 0.9, 0.95, 0.99] {
        let truth = (q * 1000.0f64).ceil();
        let got = h.quantile(q).unwrap();
        assert!(
            got <= truth * base && got >= truth / base,
            "q{q}: {got} vs {truth}"
        );
    }
    assert_eq!(h.quantile(1.0), Some(1000.0));
    assert_eq!(h.quantile(0.0), Some(1.0));
    assert_eq!(ExpHistogram::new(6).quantile(0.5), None);
    // The OTLP JSON shape round-trips.
    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["scale"], 6);
    assert!(json["positive"]["bucket_counts"].is_array());
    let back: ExpHistogram = serde_json::from_value(json).unwrap();
    assert_eq!(back, h);
}

#[test]
fn histograms_at_different_scales_are_compared_at_the_coarser() {
    let vals = [10.0, 20.0, 40.0, 80.0, 160.0];
    let t = hist(&vals, &[5, 20, 40, 25, 10]);
    let mut c = ExpHistogram::new(3);
    for (v, n) in vals.iter().zip([10u64, 30, 40, 15, 5]) {
        c.record_n(*v, n);
    }
    let r = mann_whitney_greater(&t, &c).unwrap();
    close(r.p_value, 0.002702649041421004, 1e-7);
}
