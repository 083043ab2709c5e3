//! `decide` on the cases of the fleet-decision issue: tiny counts, no data,
//! winners (the direction of each comparison), and the state a watch loop
//! carries between looks.

use litegate::config::parse_timestamp_ms;
use litegate::rollout::histogram::ExpHistogram;
use litegate::rollout::{decide, decide_watched, Decision, MetricsSnapshot, Verdict, WatchState};
use serde_json::{json, Value};

fn config(criteria: Value) -> Value {
    json!({
        "format_version": 1, "environment": "production", "version": 3,
        "flags": {"new_model": {
            "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "fallthrough": {"phased": {"variation": "on", "otherwise": "off"}},
            "rollout": {
                "phases": [
                    {"name": "alpha", "percent": 10, "criteria": criteria},
                    {"name": "full", "percent": 100}
                ],
                "state": {"status": "running", "phase": "alpha"}
            }
        }}
    })
}

fn latency(base: f64, n: u64) -> Value {
    let mut h = ExpHistogram::new(6);
    for i in 0..n {
        h.record(base * (1.0 + (i % 50) as f64 / 100.0));
    }
    serde_json::to_value(h).unwrap()
}

fn snap(on: Value, off: Value) -> MetricsSnapshot {
    let doc = json!({"format": 1, "flags": {"new_model": {"variations": {"on": on, "off": off}}}});
    MetricsSnapshot::parse(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

const NOW: &str = "2027-01-12T00:00:00Z";

fn run(cfg: &Value, s: &MetricsSnapshot) -> Decision {
    decide(cfg, "new_model", s, parse_timestamp_ms(NOW).unwrap()).unwrap()
}

fn check<'a>(d: &'a Decision, name: &str) -> &'a litegate::rollout::Check {
    d.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {:#?}", d.checks))
}

#[test]
fn one_error_against_none_does_not_roll_back() {
    // 1 error in 10,000 treatment runs against 0 in 90,000: the z-test said
    // p = 0.0013 and rolled back; Fisher's exact p is 0.10.
    let cfg = config(json!({"min_users": 100}));
    let d = run(
        &cfg,
        &snap(
            json!({"users": 1000, "runs": 10_000, "errors": 1, "sessions": 1000}),
            json!({"users": 9000, "runs": 90_000, "errors": 0, "sessions": 9000}),
        ),
    );
    assert_ne!(d.verdict, Verdict::Rollback, "{:#?}", d.checks);
    let c = check(&d, "error_rate_vs_control:on");
    assert_eq!(c.verdict, Verdict::Advance);
    assert!(c.p_value.unwrap() >= 0.1, "{}", c.message);
}

#[test]
fn one_error_in_ten_runs_over_a_five_percent_limit_holds_not_rolls_back() {
    let cfg = config(json!({"min_users": 5, "max_error_rate": 5}));
    let d = run(
        &cfg,
        &snap(
            json!({"users": 10, "runs": 10, "errors": 1, "sessions": 10}),
            json!({"users": 90, "runs": 90, "errors": 4, "sessions": 90}),
        ),
    );
    let c = check(&d, "max_error_rate:on");
    assert_eq!(c.verdict, Verdict::Hold, "{}", c.message);
    assert!(c.message.contains("not yet conclusive"), "{}", c.message);
    assert_eq!(d.verdict, Verdict::Hold);
}

#[test]
fn a_configured_latency_limit_without_latency_data_holds_and_says_so() {
    let cfg = config(json!({"min_users": 100, "max_latency_p95_ms": 750}));
    let d = run(
        &cfg,
        &snap(
            json!({"users": 1000, "runs": 10_000, "errors": 10, "sessions": 1000}),
            json!({"users": 9000, "runs": 90_000, "errors": 90, "sessions": 9000}),
        ),
    );
    assert_eq!(d.verdict, Verdict::Hold);
    let c = check(&d, "max_latency_p95_ms:on");
    assert_eq!(c.verdict, Verdict::Hold);
    assert!(
        c.message.starts_with("no data for max_latency_p95_ms"),
        "{}",
        c.message
    );
}

#[test]
fn users_without_runs_or_sessions_hold_and_say_which() {
    let cfg = config(json!({"min_users": 100, "max_error_rate": 5, "max_crash_rate": 2}));
    let d = run(
        &cfg,
        &snap(
            json!({"users": 1000}),
            json!({"users": 9000, "runs": 90_000, "errors": 90, "sessions": 9000}),
        ),
    );
    assert_eq!(d.verdict, Verdict::Hold);
    let e = check(&d, "max_error_rate:on");
    assert_eq!(e.verdict, Verdict::Hold);
    assert_eq!(
        e.message,
        "no data for max_error_rate: on has 1000 users and 0 runs"
    );
    assert!(!e.message.contains("0.000%"));
    let c = check(&d, "max_crash_rate:on");
    assert_eq!(
        c.message,
        "no data for max_crash_rate: on has 1000 users and 0 sessions"
    );
    let cmp = check(&d, "error_rate_vs_control:on");
    assert_eq!(cmp.verdict, Verdict::Hold);
    assert!(
        cmp.message.starts_with("no data for error_rate"),
        "{}",
        cmp.message
    );
}

#[test]
fn a_clearly_better_treatment_is_a_winner_when_the_config_asks_for_improvement() {
    let faster = |compare: Value| {
        let cfg = config(json!({"min_users": 100, "compare": compare}));
        run(
            &cfg,
            &snap(
                json!({"users": 1000, "runs": 10_000, "errors": 20, "sessions": 1000,
                       "latency_ms": latency(70.0, 5000)}),
                json!({"users": 9000, "runs": 90_000, "errors": 900, "sessions": 9000,
                       "latency_ms": latency(100.0, 5000)}),
            ),
        )
    };
    // Towards harm (the default): p = 1, the treatment is not worse.
    let d = faster(json!({}));
    assert_eq!(d.verdict, Verdict::Advance, "{:#?}", d.checks);
    assert_eq!(check(&d, "latency_vs_control:on").p_value, Some(1.0));
    assert_eq!(check(&d, "error_rate_vs_control:on").p_value, Some(1.0));
    // Towards improvement: significantly faster and fewer errors, advance.
    let d = faster(json!({"latency": "improvement", "error_rate": "improvement"}));
    assert_eq!(d.verdict, Verdict::Advance, "{:#?}", d.checks);
    let lat = check(&d, "latency_vs_control:on");
    assert!(
        lat.message.contains("significantly faster"),
        "{}",
        lat.message
    );
    assert!(lat.p_value.unwrap() < 1e-6);
    let err = check(&d, "error_rate_vs_control:on");
    assert!(
        err.message.contains("significantly better"),
        "{}",
        err.message
    );
    // An unchanged primary metric is not a winner: hold.
    let cfg = config(json!({"min_users": 100, "compare": {"latency": "improvement"}}));
    let same = json!({"users": 1000, "runs": 10_000, "errors": 10, "sessions": 1000,
                      "latency_ms": latency(100.0, 5000)});
    let mut off = same.clone();
    off["users"] = json!(9000);
    let d = run(&cfg, &snap(same, off));
    assert_eq!(d.verdict, Verdict::Hold);
    assert!(check(&d, "latency_vs_control:on")
        .message
        .contains("not yet shown faster"));
    // "off" drops the comparison.
    let d = faster(json!({"latency": "off"}));
    assert!(!d.checks.iter().any(|c| c.name == "latency_vs_control:on"));
}

#[test]
fn compare_directions_are_checked_with_their_path() {
    for (compare, needle) in [
        (json!({"latency": "better"}), "criteria.compare.latency"),
        (json!({"throughput": "harm"}), "criteria.compare.throughput"),
        (json!("harm"), "criteria.compare"),
    ] {
        let cfg = config(json!({"compare": compare}));
        let s = snap(json!({}), json!({}));
        let e = decide(&cfg, "new_model", &s, 0).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn the_family_shares_alpha_across_criteria() {
    let cfg = config(
        json!({"min_users": 100, "max_error_rate": 5, "max_crash_rate": 2,
                            "max_latency_p95_ms": 750, "confidence": 0.9}),
    );
    let s = snap(json!({"users": 1000}), json!({"users": 9000}));
    let d = run(&cfg, &s);
    // 3 absolute limits + 3 comparisons.
    assert_eq!(d.tests, 6);
    let cfg2 = config(json!({"compare": {"crash_rate": "off"}}));
    assert_eq!(run(&cfg2, &s).tests, 2);
    assert!((d.alpha - 0.1).abs() < 1e-12);
}

#[test]
fn a_crossed_test_stays_crossed_at_later_looks_of_the_phase() {
    let cfg = config(json!({"min_users": 100}));
    let now = parse_timestamp_ms(NOW).unwrap();
    let bad = snap(
        json!({"users": 1000, "runs": 10_000, "errors": 80, "sessions": 1000}),
        json!({"users": 9000, "runs": 90_000, "errors": 360, "sessions": 9000}),
    );
    let first = decide_watched(&cfg, "new_model", &bad, now, &WatchState::default()).unwrap();
    assert_eq!(first.verdict, Verdict::Rollback);
    assert_eq!(first.watch.looks, 1);
    assert_eq!(first.watch.phase.as_deref(), Some("alpha"));
    // A later snapshot where the evidence alone would not suffice.
    let later = snap(
        json!({"users": 1000, "runs": 10_000, "errors": 45, "sessions": 1000}),
        json!({"users": 9000, "runs": 90_000, "errors": 360, "sessions": 9000}),
    );
    let fresh = decide(&cfg, "new_model", &later, now).unwrap();
    assert_eq!(fresh.verdict, Verdict::Advance, "{:#?}", fresh.checks);
    let watched = decide_watched(&cfg, "new_model", &later, now, &first.watch).unwrap();
    assert_eq!(watched.verdict, Verdict::Rollback);
    assert_eq!(watched.watch.looks, 2);
    // The state survives a restart (JSON) and a new phase starts afresh.
    let saved: WatchState =
        serde_json::from_str(&serde_json::to_string(&watched.watch).unwrap()).unwrap();
    assert_eq!(saved, watched.watch);
    let mut other = saved.clone();
    other.phase = Some("beta".into());
    let d = decide_watched(&cfg, "new_model", &later, now, &other).unwrap();
    assert_eq!(d.verdict, Verdict::Advance);
    assert_eq!(d.watch.looks, 1);
    // A state that is not a probability is ignored, not trusted.
    let mut forged = saved.clone();
    for p in forged.min_p.values_mut() {
        *p = -1.0;
    }
    let fresh_state = decide_watched(&cfg, "new_model", &later, now, &forged).unwrap();
    assert_eq!(fresh_state.verdict, Verdict::Advance);
}
