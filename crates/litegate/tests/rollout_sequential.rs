//! The sequential tests behind `rollout decide`, checked against reference
//! values computed independently with SciPy and statsmodels by
//! `tests/data/rollout_sequential_reference.py` (binomial log-pmfs summed
//! over the mixture grid, the normal mixture integrated by quadrature,
//! `scipy.special.log_ndtr`, Fisher's exact test), stored in
//! `tests/data/rollout_sequential_vectors.json`.

use litegate::rollout::histogram::ExpHistogram;
use litegate::rollout::sequential::{
    bernoulli_mixture_log_lr, count_above, log_latency_moments, log_normal_cdf,
    normal_mixture_log_lr, p_from_log_lr, Side,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rollout_sequential_vectors.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn side(v: &Value) -> Side {
    match v.as_str().unwrap() {
        "greater" => Side::Greater,
        "less" => Side::Less,
        other => panic!("side {other}"),
    }
}

fn close(a: f64, b: f64, abs: f64, rel: f64, what: &str) {
    assert!(
        (a - b).abs() <= abs + rel * b.abs(),
        "{what}: {a} vs reference {b}"
    );
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap()
}

#[test]
fn bernoulli_mixture_matches_scipy_binomial_log_pmfs() {
    let v = vectors();
    let cases = v["bernoulli_mixture"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let ours =
            bernoulli_mixture_log_lr(num(c, "x"), num(c, "y"), num(c, "p0"), side(&c["side"]));
        close(ours, num(c, "log_lr"), 1e-9, 1e-9, &c.to_string());
    }
}

#[test]
fn normal_mixture_closed_form_matches_scipy_quadrature() {
    let v = vectors();
    for c in v["normal_mixture"].as_array().unwrap() {
        let ours = normal_mixture_log_lr(num(c, "d"), num(c, "v"), num(c, "tau"), side(&c["side"]));
        close(ours, num(c, "log_lr"), 1e-7, 1e-7, &c.to_string());
    }
}

#[test]
fn log_normal_cdf_matches_scipy_log_ndtr() {
    let v = vectors();
    for c in v["log_normal_cdf"].as_array().unwrap() {
        let z = num(c, "z");
        close(
            log_normal_cdf(z),
            num(c, "value"),
            1e-9,
            1e-6,
            &format!("z = {z}"),
        );
    }
}

#[test]
fn one_event_is_never_enough_where_fishers_exact_test_says_so() {
    // The case: 1 error in 10,000 treatment runs, 0 in 90,000. The
    // pooled z-test says p = 0.0013; Fisher's exact test and the exact
    // conditional binomial say 0.10; the sequential p-value is no smaller.
    let v = vectors();
    let t = &v["tiny_counts"];
    close(num(t, "p_fisher"), 0.1, 1e-12, 0.0, "reference");
    close(
        litegate::rollout::stats::two_proportion_z(1, 10_000, 0, 90_000)
            .unwrap()
            .p_value,
        num(t, "p_z"),
        0.0,
        1e-6,
        "z-test",
    );
    let p = p_from_log_lr(bernoulli_mixture_log_lr(1.0, 0.0, 0.1, Side::Greater));
    assert!(p >= num(t, "p_fisher"), "{p}");
    assert!(p >= num(t, "p_conditional_binomial"), "{p}");
}

#[test]
fn histogram_helpers_count_only_certain_exceedances() {
    let mut h = ExpHistogram::new(6);
    for v in [10.0, 10.0, 100.0, 752.0, 2000.0] {
        h.record(v);
    }
    h.record_n(0.0, 2);
    // 752 shares its bucket (747.9, 756.1] with 750: not counted.
    assert_eq!(count_above(&h, 750.0), 1);
    assert_eq!(count_above(&h, 50.0), 3);
    let (n, mean, var) = log_latency_moments(&h).unwrap();
    assert_eq!(n, 7);
    let exact: Vec<f64> = [0.0, 0.0, 10.0, 10.0, 100.0, 752.0, 2000.0]
        .iter()
        .map(|v: &f64| (1.0 + v).ln())
        .collect();
    let m = exact.iter().sum::<f64>() / 7.0;
    let s2 = exact.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 6.0;
    close(mean, m, 0.01, 0.0, "mean");
    close(var, s2, 0.02, 0.0, "variance");
    assert!(log_latency_moments(&ExpHistogram::new(6)).is_none());
}
