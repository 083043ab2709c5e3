//! The fleet simulation: deterministic for a seed, and the local guardrail
//! trips long before 1% of users have seen a failure.

use litegate::rollout::simulate::{simulate, simulate_seeds, Arm, Fault, SimConfig, MAX_SEEDS};
use serde_json::{json, Value};

/// The seeds' plan (alpha 1%, beta 10%, limited 25%, extended 50%, full)
/// with the seeds' guardrails, starting at `phase`.
fn config(phase: &str) -> Value {
    let criteria = |min_users: u64| json!({"min_users": min_users, "max_error_rate": 5, "max_crash_rate": 2, "max_latency_p95_ms": 750});
    json!({
        "format_version": 1, "environment": "production", "version": 7,
        "flags": {"face_model_v2": {
            "type": "string", "variations": {"v2": "face_detector_v2", "v1": "face_detector_v1"},
            "off_variation": "v1",
            "fallthrough": {"phased": {"variation": "v2", "otherwise": "v1"}},
            "rollout": {
                "phases": [
                    {"name": "alpha", "percent": 1, "min_duration": "2h", "criteria": criteria(15)},
                    {"name": "beta", "percent": 10, "min_duration": "2h", "criteria": criteria(50)},
                    {"name": "limited", "percent": 25, "min_duration": "4h", "criteria": criteria(100)},
                    {"name": "extended", "percent": 50, "min_duration": "4h", "criteria": criteria(100)},
                    {"name": "full", "percent": 100}
                ],
                "state": {"status": "running", "phase": phase},
                "audit": [{"at": "2027-01-15T08:00:00Z", "actor": "release-bot", "action": "start",
                           "from": {"status": "not_started"}, "to": {"status": "running", "phase": phase}}]
            }
        }},
        "guardrails": {
            "v2_errors": {"target": {"flag": "face_model_v2"}, "metric": "error_rate", "threshold": 5,
                          "window": {"last": 50}, "min_samples": 10},
            "v2_crashes": {"target": {"flag": "face_model_v2"}, "metric": "crash_rate", "threshold": 2,
                           "window": {"last": 50}, "min_samples": 10},
            "v2_slow": {"target": {"model": "face_detector_v2"}, "metric": "latency_max", "threshold": 2000,
                        "window": {"last": 1}, "action": "force_fallback"},
            "v2_gpu": {"target": {"model": "face_detector_v2", "accelerator": "gpu"},
                       "metric": "inference_failure_rate", "threshold": 20, "window": {"last": 10},
                       "min_samples": 3, "action": "disable_accelerator"}
        }
    })
}

fn cfg(seed: u64, faults: &[&str]) -> SimConfig {
    let mut c = SimConfig::new(3000, 12, seed);
    c.faults = faults.iter().map(|f| Fault::parse(f).unwrap()).collect();
    c
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let a = simulate(&config("beta"), &cfg(42, &["error:rate=0.08"])).unwrap();
    let b = simulate(&config("beta"), &cfg(42, &["error:rate=0.08"])).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.svg(), b.svg());
    assert_eq!(a.table(), b.table());
    let c = simulate(&config("beta"), &cfg(43, &["error:rate=0.08"])).unwrap();
    assert_ne!(a.timeline, c.timeline);
}

#[test]
fn the_guardrail_trips_before_one_percent_of_users_see_a_failure() {
    // A new model version failing 30% of its runs, already at 10% of users.
    let r = simulate(&config("beta"), &cfg(7, &["error:rate=0.3"])).unwrap();
    let first_trip = r.first_trip_minute.expect("a local trip");
    let one_percent = r.one_percent_failed_minute.unwrap_or(i64::MAX);
    assert!(
        first_trip < one_percent,
        "trip at {first_trip}, 1% failed at {one_percent}\n{}",
        r.table()
    );
    // The fleet decision rolled the phase back too.
    let rollback = r.fleet_rollback_minute.expect("a fleet rollback");
    assert!(r
        .events
        .iter()
        .any(|e| e.kind == "operation" && e.detail.starts_with("rollback")));
    assert_eq!(r.phases[0].phase, "beta");
    assert_eq!(r.phases[0].rolled_back_after_minutes, Some(rollback));
    assert!(r.phases[0].local_trips > 0);
    assert!(r.timeline.iter().all(|p| p.failed_total <= p.exposed_total));
}

#[test]
fn at_alpha_the_blast_radius_stays_under_one_percent() {
    let r = simulate(&config("alpha"), &cfg(11, &["error:rate=0.08"])).unwrap();
    assert!(r.first_trip_minute.is_some());
    assert!(r.one_percent_failed_minute.is_none(), "{}", r.table());
    assert!(f64::from(r.blast_radius) < 0.01 * 3000.0);
    assert_eq!(r.final_state, "rolled-back", "{}", r.table());
}

#[test]
fn a_gpu_fault_on_one_device_model_disables_the_gpu_there() {
    let r = simulate(&config("beta"), &cfg(5, &["gpu-fail:device=pixel-7"])).unwrap();
    assert!(r.first_trip_minute.is_some(), "{}", r.table());
    assert!(
        r.events
            .iter()
            .any(|e| e.kind == "first_trip" && e.detail.contains("pixel-7")),
        "{:?}",
        r.events
    );
}

#[test]
fn a_healthy_rollout_advances_to_full_without_trips() {
    let mut c = cfg(3, &[]);
    c.hours = 20;
    let r = simulate(&config("alpha"), &c).unwrap();
    assert_eq!(r.first_trip_minute, None);
    assert_eq!(r.blast_radius, 0);
    let phases: Vec<&str> = r.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(
        phases,
        ["alpha", "beta", "limited", "extended", "full"],
        "{}",
        r.table()
    );
    assert!(r.fleet_rollback_minute.is_none());
    let svg = r.svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("advance -&gt; beta"));
}

#[test]
fn fault_specs_are_parsed_or_refused_clearly() {
    assert_eq!(
        Fault::parse("error:rate=0.08,device=pixel-7").unwrap(),
        Fault::Error {
            rate: 0.08,
            device: Some("pixel-7".into()),
            arm: Arm::Treatment,
        }
    );
    assert_eq!(
        Fault::parse("error:rate=0.05,arm=both").unwrap(),
        Fault::Error {
            rate: 0.05,
            device: None,
            arm: Arm::Both,
        }
    );
    assert_eq!(
        Fault::parse("latency:factor=1.2").unwrap(),
        Fault::Latency { factor: 1.2 }
    );
    assert!(Fault::parse("error:rate=0.05,arm=all")
        .unwrap_err()
        .contains("arm=all"));
    assert!(Fault::parse("latency:factor=0")
        .unwrap_err()
        .contains("between"));
    assert!(Fault::parse("latency:factor=100").is_ok());
    assert!(Fault::parse("latency:factor=100.5").is_err());
    assert_eq!(
        Fault::parse("gpu-fail").unwrap(),
        Fault::GpuFail { device: None }
    );
    assert_eq!(
        Fault::parse("slow:ms=2500,rate=0.5").unwrap(),
        Fault::Slow {
            ms: 2500.0,
            rate: 0.5
        }
    );
    assert!(Fault::parse("error:rate=8")
        .unwrap_err()
        .contains("probability"));
    assert!(Fault::parse("error").unwrap_err().contains("rate="));
    assert!(Fault::parse("meteor")
        .unwrap_err()
        .contains("unknown fault kind"));
    assert!(Fault::parse("crash:rate")
        .unwrap_err()
        .contains("key=value"));
}

#[test]
fn many_seeds_of_a_healthy_fleet_are_not_rolled_back_by_mistake() {
    // Both arms fail 2% of their runs: identical, so any rollback is a
    // mistake. Hourly decisions over 24 hours: 24 looks a run.
    let mut c = cfg(100, &["error:rate=0.02,arm=both"]);
    c.hours = 24;
    let r = simulate_seeds(&config("alpha"), &c, 4).unwrap();
    println!("{}", r.summary());
    assert!(!r.faulty);
    assert!(r.looks >= 4 * 23, "{}", r.looks);
    // The healthy runs advance through the phases, none is rolled back.
    assert!(r.phases_judged >= 4 * 3, "{}", r.summary());
    assert_eq!(r.runs_rolled_back, 0, "{}", r.summary());
    assert!(r.summary().contains("runs rolled back by mistake"));
    assert!(simulate_seeds(&config("alpha"), &c, 0).is_err());
    let e = simulate_seeds(&config("alpha"), &c, MAX_SEEDS + 1).unwrap_err();
    assert!(e.to_string().contains("10000"), "{e}");
}

#[test]
fn many_seeds_of_an_eight_percent_error_fleet_against_five_are_rolled_back() {
    let mut c = cfg(200, &["error:rate=0.08", "error:rate=0.05,arm=control"]);
    c.hours = 8;
    let r = simulate_seeds(&config("beta"), &c, 4).unwrap();
    println!("{}", r.summary());
    assert!(r.faulty);
    assert_eq!(r.runs_rolled_back, 4, "{}", r.summary());
    assert!(r.minutes_quantile(1.0).unwrap() <= 8 * 60);
}
