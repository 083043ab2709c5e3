//! Bucketing properties: golden vectors, uniformity, monotone expansion and
//! independence of flags.

use litegate::config::Document;
use litegate::eval::{bucket, Context, Evaluator, BUCKETS};
use serde_json::{json, Value};

#[test]
fn golden_vectors_match_an_independent_xxh3() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/bucketing-vectors.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 50);
    for v in vectors {
        let salt = v["salt"].as_str().unwrap();
        let value = v["value"].as_str().unwrap();
        let want = v["bucket"].as_u64().unwrap() as u32;
        assert_eq!(
            bucket(salt, value.as_bytes()),
            want,
            "salt {salt:?} value {value:?}"
        );
    }
}

/// Chi-square statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn buckets_are_uniform_over_100k_ids() {
    // 100 bins, 99 degrees of freedom: the 0.1% critical value is 148.23.
    let mut bins = [0u64; 100];
    for i in 0..100_000 {
        let b = bucket("uniformity", format!("user-{i}").as_bytes());
        assert!(b < BUCKETS);
        bins[(b / 1_000) as usize] += 1;
    }
    let chi = chi_square(&bins);
    assert!(
        chi < 148.23,
        "chi-square {chi} over 99 df rejects uniformity"
    );
    // And the fine structure: 1,000 bins of 100 buckets (999 df, 0.1%: 1143.9).
    let mut fine = vec![0u64; 1_000];
    for i in 0..100_000 {
        fine[(bucket("uniformity", format!("device-{i}").as_bytes()) / 100) as usize] += 1;
    }
    let chi = chi_square(&fine);
    assert!(
        chi < 1143.9,
        "chi-square {chi} over 999 df rejects uniformity"
    );
}

fn percentage_doc(percent: f64, salt: Option<&str>) -> Document {
    let mut flag = json!({
        "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "fallthrough": {"percentage": {"percent": percent, "variation": "on", "otherwise": "off"}}
    });
    if let Some(s) = salt {
        flag["salt"] = json!(s);
    }
    let d = json!({"format_version": 1, "environment": "p", "version": 1, "flags": {"f": flag, "g": flag}});
    Document::parse(d.to_string().as_bytes()).unwrap()
}

fn cohort(doc: &Document, flag: &str, n: usize) -> Vec<bool> {
    let e = Evaluator::new();
    (0..n)
        .map(|i| {
            e.bool_details(doc, flag, &Context::new(format!("user-{i}")), false)
                .value
        })
        .collect()
}

#[test]
fn raising_a_percentage_only_adds_users() {
    let steps = [0.0, 1.0, 10.0, 25.0, 50.0, 100.0];
    let mut previous = vec![false; 20_000];
    for p in steps {
        let now = cohort(&percentage_doc(p, None), "f", 20_000);
        for (i, (was, is)) in previous.iter().zip(&now).enumerate() {
            assert!(
                !was || *is,
                "user-{i} left the rollout when it grew to {p}%"
            );
        }
        let share = now.iter().filter(|x| **x).count() as f64 / 20_000.0 * 100.0;
        assert!((share - p).abs() < 1.0, "{p}% rollout served {share}%");
        previous = now;
    }
    // Lowering removes exactly those added last.
    let at50 = cohort(&percentage_doc(50.0, None), "f", 20_000);
    let at25 = cohort(&percentage_doc(25.0, None), "f", 20_000);
    for (a, b) in at50.iter().zip(&at25) {
        assert!(!b || *a);
    }
    // 0.001% resolution: 0.001% differs from 0%.
    let tiny = percentage_doc(0.001, None);
    let b = litegate::eval::bucket("f", b"user-x");
    let r = Evaluator::new().bool_details(&tiny, "f", &Context::new("user-x"), false);
    assert_eq!(r.value, b == 0);
}

#[test]
fn flags_are_independent_unless_they_share_a_salt() {
    let d = percentage_doc(50.0, None);
    let f = cohort(&d, "f", 20_000);
    let g = cohort(&d, "g", 20_000);
    // 2x2 contingency table; chi-square with 1 df, 0.1% critical value 10.83.
    let mut t = [[0f64; 2]; 2];
    for (a, b) in f.iter().zip(&g) {
        t[usize::from(*a)][usize::from(*b)] += 1.0;
    }
    let n = 20_000.0;
    let mut chi = 0.0;
    for (i, row) in t.iter().enumerate() {
        for (j, &observed) in row.iter().enumerate() {
            let expected = (t[i][0] + t[i][1]) * (t[0][j] + t[1][j]) / n;
            chi += (observed - expected).powi(2) / expected;
        }
    }
    assert!(
        chi < 10.83,
        "flags f and g are correlated: chi-square {chi}"
    );
    let shared = percentage_doc(50.0, Some("one-experiment"));
    assert_eq!(cohort(&shared, "f", 5_000), cohort(&shared, "g", 5_000));
}

#[test]
fn split_arms_get_their_weights() {
    let d = json!({"format_version": 1, "environment": "p", "version": 1, "flags": {"ab": {
        "type": "string", "variations": {"a": "A", "b": "B", "c": "C"}, "off_variation": "a",
        "fallthrough": {"split": {"arms": [
            {"variation": "a", "weight": 20}, {"variation": "b", "weight": 30}, {"variation": "c", "weight": 50}]}}
    }}});
    let d = Document::parse(d.to_string().as_bytes()).unwrap();
    let e = Evaluator::new();
    let mut counts = [0u64; 3];
    for i in 0..30_000 {
        let r = e.string_details(&d, "ab", &Context::new(format!("u{i}")), "?".into());
        counts[(r.value.as_bytes()[0] - b'A') as usize] += 1;
        let b = r.bucket.unwrap();
        let want = if b < 20_000 {
            "A"
        } else if b < 50_000 {
            "B"
        } else {
            "C"
        };
        assert_eq!(&*r.value, want);
    }
    // Chi-square against 20/30/50 with 2 df, 0.1% critical value 13.82.
    let expected = [6_000.0, 9_000.0, 15_000.0];
    let chi: f64 = counts
        .iter()
        .zip(expected)
        .map(|(&c, e)| (c as f64 - e).powi(2) / e)
        .sum();
    assert!(chi < 13.82, "split {counts:?} deviates: chi-square {chi}");
}
