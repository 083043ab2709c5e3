//! `decide`: advance, hold or roll back on a fleet snapshot, with reasons.

use litegate::config::parse_timestamp_ms;
use litegate::rollout::histogram::ExpHistogram;
use litegate::rollout::{decide, MetricsSnapshot, Verdict};
use serde_json::{json, Value};

fn config() -> Value {
    json!({
        "format_version": 1, "environment": "production", "version": 3,
        "flags": {"new_model": {
            "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "fallthrough": {"phased": {"variation": "on", "otherwise": "off"}},
            "rollout": {
                "phases": [
                    {"name": "alpha", "percent": 1},
                    {"name": "beta", "percent": 10, "min_duration": "24h",
                     "criteria": {"min_users": 500, "max_error_rate": 5, "max_crash_rate": 2,
                                  "max_latency_p95_ms": 750, "confidence": 0.95}},
                    {"name": "full", "percent": 100}
                ],
                "state": {"status": "running", "phase": "beta"},
                "audit": [{"at": "2027-01-10T00:00:00Z", "actor": "a", "action": "advance",
                           "from": {"status": "running", "phase": "alpha"},
                           "to": {"status": "running", "phase": "beta"}}]
            }
        }},
        "guardrails": {
            "errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "threshold": 5,
                       "window": {"last": 100}, "min_samples": 50},
            "slow": {"target": {"flag": "new_model"}, "metric": "latency_p95", "threshold": 600,
                     "window": {"duration": "5m"}, "min_samples": 50, "severity": "warning"}
        }
    })
}

fn latency(base: f64, n: u64) -> ExpHistogram {
    let mut h = ExpHistogram::new(6);
    for i in 0..n {
        h.record(base * (1.0 + (i % 50) as f64 / 100.0));
    }
    h
}

#[allow(clippy::too_many_arguments)]
fn snapshot(
    t_users: u64,
    c_users: u64,
    t_err: u64,
    c_err: u64,
    t_crash: u64,
    t_lat: f64,
) -> MetricsSnapshot {
    let v = |users: u64, errors: u64, crashes: u64, lat: f64| {
        json!({"users": users, "exposures": users * 3, "runs": users * 10, "errors": errors,
               "sessions": users * 2, "crashes": crashes,
               "latency_ms": serde_json::to_value(latency(lat, users.min(5000))).unwrap()})
    };
    let doc = json!({"format": 1, "flags": {"new_model": {"variations": {
        "on": v(t_users, t_err, t_crash, t_lat),
        "off": v(c_users, c_err, c_users / 500, 100.0)
    }}}});
    MetricsSnapshot::parse(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn at(s: &str) -> i64 {
    parse_timestamp_ms(s).unwrap()
}

const LATE: &str = "2027-01-12T00:00:00Z";

#[test]
fn healthy_treatment_after_min_duration_advances() {
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1000, 9000, 10, 90, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Advance, "{:#?}", d.checks);
    assert!(!d.srm_blocked);
    assert!(d.checks.iter().any(|c| c.name == "srm"));
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "error_rate_vs_control:on"));
    assert!(d.checks.iter().any(|c| c.name == "latency_vs_control:on"));
    assert!(d.checks.iter().any(|c| c.name == "guardrail:errors:on"));
}

#[test]
fn before_min_duration_it_holds() {
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1000, 9000, 10, 90, 2, 100.0),
        at("2027-01-10T12:00:00Z"),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Hold);
    let c = d.checks.iter().find(|c| c.name == "min_duration").unwrap();
    assert_eq!(c.verdict, Verdict::Hold);
    assert!(c.message.contains("12h 0m"), "{}", c.message);
}

#[test]
fn a_high_error_rate_rolls_back_with_every_reason() {
    // 8% errors in the treatment, 1% in the control.
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1000, 9000, 800, 900, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Rollback);
    let names: Vec<&str> = d
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Rollback)
        .map(|c| c.name.as_str())
        .collect();
    assert!(names.contains(&"max_error_rate:on"), "{names:?}");
    assert!(names.contains(&"guardrail:errors:on"), "{names:?}");
    assert!(names.contains(&"error_rate_vs_control:on"), "{names:?}");
}

#[test]
fn a_crash_rate_above_the_criterion_rolls_back_even_during_min_duration() {
    // 2000 sessions, 60 crashes: 3% > 2%.
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1000, 9000, 10, 90, 60, 100.0),
        at("2027-01-10T06:00:00Z"),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Rollback);
}

#[test]
fn slow_latency_trips_the_criterion_and_the_comparison() {
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1000, 9000, 10, 90, 2, 900.0),
        at(LATE),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Rollback);
    let lat = d
        .checks
        .iter()
        .find(|c| c.name == "latency_vs_control:on")
        .unwrap();
    assert_eq!(lat.verdict, Verdict::Rollback);
    assert!(
        lat.message.contains("significantly slower"),
        "{}",
        lat.message
    );
    assert!(lat.p_value.unwrap() < 1e-6);
    let p95 = d
        .checks
        .iter()
        .find(|c| c.name == "max_latency_p95_ms:on")
        .unwrap();
    assert_eq!(p95.verdict, Verdict::Rollback, "{}", p95.message);
    let warn = d
        .checks
        .iter()
        .find(|c| c.name == "guardrail:slow:on")
        .unwrap();
    assert_eq!(warn.verdict, Verdict::Hold);
}

#[test]
fn sample_ratio_mismatch_blocks_the_comparisons_only() {
    // 10% expected, 13% observed, healthy otherwise: hold, arms not compared.
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1300, 8700, 13, 90, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert!(d.srm_blocked);
    assert_eq!(d.verdict, Verdict::Hold);
    let srm = d.checks.iter().find(|c| c.name == "srm").unwrap();
    assert!(srm.message.contains("does not match"), "{}", srm.message);
    assert!(!d.checks.iter().any(|c| c.name.contains("_vs_control")));
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "comparisons:on" && c.verdict == Verdict::Hold));
}

#[test]
fn sample_ratio_mismatch_does_not_hide_an_absolute_breach() {
    // The split is broken and the treatment errs on 8% of its runs (limit 5%).
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1300, 8700, 1040, 90, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert!(d.srm_blocked);
    assert_eq!(d.verdict, Verdict::Rollback, "{:#?}", d.checks);
    let c = d
        .checks
        .iter()
        .find(|c| c.name == "max_error_rate:on")
        .unwrap();
    assert_eq!(c.verdict, Verdict::Rollback);
    // A 50% crash rate (limit 2%) under a broken split rolls back too.
    let d = decide(
        &config(),
        "new_model",
        &snapshot(1300, 8700, 13, 90, 1300, 100.0),
        at(LATE),
    )
    .unwrap();
    assert!(d.srm_blocked);
    assert_eq!(d.verdict, Verdict::Rollback);
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "max_crash_rate:on" && c.verdict == Verdict::Rollback));
}

#[test]
fn sample_ratio_mismatch_does_not_hide_a_critical_guardrail() {
    // No absolute error criterion; the flag's critical guardrail (error
    // rate > 5%) trips on the fleet aggregate (30% errors).
    let mut c = config();
    c["flags"]["new_model"]["rollout"]["phases"][1]["criteria"] = json!({"min_users": 500});
    let d = decide(
        &c,
        "new_model",
        &snapshot(1300, 8700, 3900, 90, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert!(d.srm_blocked);
    assert_eq!(d.verdict, Verdict::Rollback, "{:#?}", d.checks);
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "guardrail:errors:on" && c.verdict == Verdict::Rollback));
}

#[test]
fn too_few_users_hold() {
    let d = decide(
        &config(),
        "new_model",
        &snapshot(60, 540, 1, 5, 0, 100.0),
        at(LATE),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Hold, "{:#?}", d.checks);
    assert!(d
        .checks
        .iter()
        .any(|c| c.name == "min_users:on" && c.verdict == Verdict::Hold));
}

#[test]
fn bad_snapshots_are_refused_with_their_path() {
    let bad = br#"{"format": 1, "flags": {"f": {"variations": {"on": {"runs": 1, "errors": 2}}}}}"#;
    let e = MetricsSnapshot::parse(bad).unwrap_err().to_string();
    assert!(e.contains("flags.f.variations.on.errors"), "{e}");
    let bad = br#"{"format": 1, "flags": {"f": {"variations": {"on": {"latency_ms": {"scale": 6, "count": 3, "positive": {"offset": 0, "bucket_counts": [1]}}}}}}}"#;
    let e = MetricsSnapshot::parse(bad).unwrap_err().to_string();
    assert!(e.contains("latency_ms.count"), "{e}");
    assert!(MetricsSnapshot::parse(br#"{"format": 2, "flags": {}}"#).is_err());
}

#[test]
fn nothing_to_decide_when_not_running() {
    let mut c = config();
    c["flags"]["new_model"]["rollout"]["state"] = json!({"status": "rolled_back"});
    let d = decide(
        &c,
        "new_model",
        &snapshot(1000, 9000, 10, 90, 2, 100.0),
        at(LATE),
    )
    .unwrap();
    assert_eq!(d.verdict, Verdict::Hold);
    assert_eq!(d.checks[0].name, "state");
}

#[test]
fn an_ab_split_compares_each_arm_with_the_first_and_checks_its_ratio() {
    let mut c = config();
    c["flags"]["new_model"]["variations"] = json!({"control": "a", "b": "b", "c": "c"});
    c["flags"]["new_model"]["type"] = json!("string");
    c["flags"]["new_model"]["off_variation"] = json!("control");
    c["flags"]["new_model"]["fallthrough"] = json!({"split": {"arms": [{"variation": "control", "weight": 50}, {"variation": "b", "weight": 25}, {"variation": "c", "weight": 25}]}});
    let v = |users: u64, errors: u64| {
        json!({"users": users, "runs": users * 10, "errors": errors,
               "sessions": users, "crashes": 0,
               "latency_ms": serde_json::to_value(latency(100.0, users)).unwrap()})
    };
    let snap = |b_users: u64, c_errors: u64| {
        let doc = json!({"format": 1, "flags": {"new_model": {"variations": {
            "control": v(2000, 100), "b": v(b_users, 50), "c": v(1000, c_errors)}}}});
        MetricsSnapshot::parse(&serde_json::to_vec(&doc).unwrap()).unwrap()
    };
    let d = decide(&c, "new_model", &snap(1000, 50), at(LATE)).unwrap();
    assert_eq!(d.verdict, Verdict::Advance, "{:#?}", d.checks);
    assert!(d.checks.iter().any(|c| c.name == "error_rate_vs_control:b"));
    assert!(d.checks.iter().any(|c| c.name == "error_rate_vs_control:c"));
    // Arm c errs twice as often as the control (1% vs 0.5% of runs).
    let d = decide(&c, "new_model", &snap(1000, 100), at(LATE)).unwrap();
    assert_eq!(d.verdict, Verdict::Rollback);
    // Arm b got 1200 users where 1000 were expected: the split is broken.
    let d = decide(&c, "new_model", &snap(1200, 100), at(LATE)).unwrap();
    assert!(d.srm_blocked);
    assert_eq!(d.verdict, Verdict::Hold);
}
