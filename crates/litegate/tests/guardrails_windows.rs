//! The incremental windows against a naive recomputation over every sample,
//! on random sequences (proptest), plus the metrics not covered elsewhere.

use litegate::config::Document;
use litegate::guardrails::{Guardrails, Observation, ObservationKind, Subject};
use proptest::prelude::*;
use serde_json::json;

fn engine(guardrail: serde_json::Value) -> Guardrails {
    let v = json!({
        "format_version": 1, "environment": "production", "version": 1,
        "flags": {"f": {"type": "bool", "variations": {"on": true, "off": false},
                  "off_variation": "off", "fallthrough": {"variation": "on"}}},
        "guardrails": {"g": guardrail}
    });
    let mut g = Guardrails::in_memory();
    g.apply_config(&Document::parse(&serde_json::to_vec(&v).unwrap()).unwrap())
        .unwrap();
    g
}

fn run(ok: bool, latency_ms: f64, fell_back: bool) -> ObservationKind {
    ObservationKind::Run {
        ok,
        latency_ms,
        fell_back,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn last_n_error_rate_trips_exactly_when_a_naive_count_says_so(
        fails in prop::collection::vec(prop::bool::weighted(0.15), 1..300),
        n in 1u32..60,
        min in 1u32..60,
        threshold in 0.0f64..50.0,
    ) {
        let min = min.min(n);
        let mut g = engine(json!({"target": {"flag": "f"}, "metric": "error_rate",
            "threshold": threshold, "window": {"last": n}, "min_samples": min}));
        let mut expected = None;
        for i in 0..fails.len() {
            let start = (i + 1).saturating_sub(n as usize);
            let window = &fails[start..=i];
            let rate = 100.0 * window.iter().filter(|f| **f).count() as f64 / window.len() as f64;
            if window.len() >= min as usize && rate > threshold {
                expected = Some(i);
                break;
            }
        }
        let mut got = None;
        for (i, f) in fails.iter().enumerate() {
            if !g.observe(&Observation::new(Subject::flag("f"), run(!f, 1.0, false), i as i64)).is_empty() {
                got = Some(i);
                break;
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn timed_windows_count_the_samples_of_their_live_slots(
        gaps in prop::collection::vec(0i64..20_000, 1..200),
        fails in prop::collection::vec(prop::bool::weighted(0.2), 200),
        threshold in 5.0f64..60.0,
    ) {
        // 60 s window: 12 slots of 5 s; a sample at `a` is live at `now`
        // while its slot is among the last 12.
        let mut g = engine(json!({"target": {"flag": "f"}, "metric": "error_rate",
            "threshold": threshold, "window": {"duration": "60s"}, "min_samples": 5}));
        let mut at = 0i64;
        let mut seen: Vec<(i64, bool)> = Vec::new();
        for (i, gap) in gaps.iter().enumerate() {
            at += gap;
            let fail = fails[i];
            seen.push((at, fail));
            let now_slot = at / 5_000;
            let live: Vec<bool> = seen.iter().filter(|(a, _)| a / 5_000 > now_slot - 12).map(|(_, f)| *f).collect();
            let rate = 100.0 * live.iter().filter(|f| **f).count() as f64 / live.len() as f64;
            let expect = live.len() >= 5 && rate > threshold;
            let tripped = !g.observe(&Observation::new(Subject::flag("f"), run(!fail, 1.0, false), at)).is_empty();
            prop_assert_eq!(tripped, expect, "at {} live {:?}", at, live);
            if tripped { break; }
        }
    }
}

#[test]
fn fallback_rate_memory_and_lower_bounds() {
    let mut g = engine(
        json!({"target": {"model": "m"}, "metric": "fallback_rate", "threshold": 50,
        "window": {"last": 4}, "min_samples": 4, "action": "force_fallback"}),
    );
    let m = |kind, at| Observation::new(Subject::model("m", Some("npu")), kind, at);
    for i in 0..3 {
        assert!(g.observe(&m(run(true, 5.0, true), i)).is_empty());
    }
    assert_eq!(
        g.observe(&m(run(true, 5.0, false), 3)).len(),
        1,
        "3 of 4 fell back: 75% > 50%"
    );
    assert!(g.forced_fallback("m").is_some());

    let mut g = engine(
        json!({"target": {"model": "m"}, "metric": "memory_max_mb", "threshold": 512,
        "window": {"duration": "1m"}, "severity": "warning"}),
    );
    assert!(g
        .observe(&m(ObservationKind::Memory { mb: 400.0 }, 0))
        .is_empty());
    let t = g.observe(&m(ObservationKind::Memory { mb: 600.0 }, 1));
    assert_eq!((t.len(), t[0].observed), (1, 600.0));

    // `<`: a throughput-like floor, here a p50 latency that is suspiciously low.
    let mut g = engine(
        json!({"target": {"model": "m"}, "metric": "latency_p50", "op": "<",
        "threshold": 1, "window": {"last": 3}, "min_samples": 3, "action": "disable_accelerator"}),
    );
    for i in 0..2 {
        assert!(g.observe(&m(run(true, 0.2, false), i)).is_empty());
    }
    assert_eq!(g.observe(&m(run(true, 0.2, false), 2)).len(), 1);
    assert!(g.is_accelerator_disabled("m", "npu"));
}
