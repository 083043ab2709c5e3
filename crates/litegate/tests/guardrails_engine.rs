//! The device guardrail engine: the config section, windows, sample minimums,
//! actions, persistence across restarts and the lifting rules.

use litegate::config::Document;
use litegate::eval::{Context, Evaluator, Reason};
use litegate::guardrails::{
    parse_guardrails, Action, Guardrails, Metric, Observation, ObservationKind, Severity, Subject,
    Window,
};
use serde_json::{json, Value};

fn doc_with(version: u64, guardrails: Value) -> Document {
    let v = json!({
        "format_version": 1, "environment": "production", "version": version,
        "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                  "off_variation": "off", "fallthrough": {"variation": "on"}}},
        "guardrails": guardrails
    });
    Document::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
}

/// The seeds' thresholds, as a config would declare them.
fn seeds() -> Value {
    json!({
        "error_rate": {"target": {"flag": "new_model"}, "metric": "error_rate", "op": ">",
                       "threshold": 5, "window": {"last": 100}, "min_samples": 20},
        "crash_rate": {"target": {"flag": "new_model"}, "metric": "crash_rate", "op": ">",
                       "threshold": 2, "window": {"last": 50}, "min_samples": 10},
        "slow_critical": {"target": {"model": "face"}, "metric": "latency_max", "op": ">",
                          "threshold": 2000, "window": {"last": 1}, "action": "force_fallback"},
        "slow_warning": {"target": {"model": "face"}, "metric": "latency_p95", "op": ">",
                         "threshold": 750, "window": {"duration": "5m"}, "min_samples": 20,
                         "severity": "warning"},
        "load_critical": {"target": {"model": "face"}, "metric": "load_time_max", "op": ">",
                          "threshold": 10000, "window": {"last": 1}, "action": "force_fallback"},
        "gpu_failures": {"target": {"model": "face", "accelerator": "gpu"},
                         "metric": "inference_failure_rate", "threshold": 20,
                         "window": {"last": 10}, "min_samples": 5, "action": "disable_accelerator",
                         "expires_after": "24h"}
    })
}

fn run(ok: bool, latency_ms: f64) -> ObservationKind {
    ObservationKind::Run {
        ok,
        latency_ms,
        fell_back: false,
    }
}

fn flag_obs(kind: ObservationKind, at: i64) -> Observation {
    Observation::new(Subject::flag("new_model"), kind, at)
}

fn engine(version: u64) -> Guardrails {
    let mut g = Guardrails::in_memory();
    g.apply_config(&doc_with(version, seeds())).unwrap();
    g
}

#[test]
fn the_seed_thresholds_parse() {
    let specs = parse_guardrails(Some(&seeds())).unwrap();
    assert_eq!(specs.len(), 6);
    let e = specs.iter().find(|s| &*s.id == "error_rate").unwrap();
    assert_eq!(
        (e.metric, e.threshold, e.window, e.min_samples),
        (Metric::ErrorRate, 5.0, Window::Last(100), 20)
    );
    assert_eq!(
        (e.severity, e.action),
        (Severity::Critical, Action::DisableFlag)
    );
    let w = specs.iter().find(|s| &*s.id == "slow_warning").unwrap();
    assert_eq!(
        (w.window, w.severity, w.action),
        (Window::Duration(300_000), Severity::Warning, Action::None)
    );
    let g = specs.iter().find(|s| &*s.id == "gpu_failures").unwrap();
    assert_eq!(g.expires_after_ms, Some(86_400_000));
}

#[test]
fn section_problems_carry_their_paths() {
    let bad = json!({
        "a": {"target": {"flag": "f"}, "metric": "errors", "threshold": 5, "window": {"last": 10}},
        "b": {"target": {"flag": "f"}, "metric": "error_rate", "threshold": 500, "window": {"last": 10}},
        "c": {"target": {"flag": "f"}, "metric": "error_rate", "threshold": 5, "window": {"last": 10},
              "min_samples": 20},
        "d": {"target": {"flag": "f"}, "metric": "error_rate", "threshold": 5, "window": {"duration": "soon"}},
        "e": {"target": {"flag": "f"}, "metric": "error_rate", "threshold": 5, "window": {"last": 10},
              "action": "disable_accelerator"},
        "f": {"target": {"flag": "f", "model": "m"}, "metric": "error_rate", "threshold": 5, "window": {"last": 10}},
        "g": {"target": {"model": "m"}, "metric": "latency_p95", "threshold": 5, "window": {"last": 10},
              "severity": "fatal"}
    });
    let err = parse_guardrails(Some(&bad)).unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    for p in [
        "guardrails.a.metric",
        "guardrails.b.threshold",
        "guardrails.c.min_samples",
        "guardrails.d.window.duration",
        "guardrails.e.action",
        "guardrails.f.target",
        "guardrails.g.severity",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    assert!(parse_guardrails(Some(&json!([]))).is_err());
    assert!(parse_guardrails(None).unwrap().is_empty());
    // An engine keeps its guardrails when a config's section is invalid.
    let mut g = engine(1);
    assert!(g.apply_config(&doc_with(2, bad)).is_err());
    assert_eq!(g.specs().len(), 6);
}

#[test]
fn nothing_trips_below_the_minimum_sample_size() {
    let mut g = engine(1);
    // 19 runs with 5 failures (26%): below min_samples 20.
    for i in 0..19 {
        assert!(g.observe(&flag_obs(run(i >= 5, 10.0), 1000 + i)).is_empty());
    }
    assert!(g.local_disables().is_empty());
    let trips = g.observe(&flag_obs(run(true, 10.0), 2000));
    assert_eq!(trips.len(), 1);
    let t = &trips[0];
    assert_eq!(
        (t.guardrail.as_str(), t.samples, t.observed),
        ("error_rate", 20, 25.0)
    );
    assert_eq!(
        (t.threshold, t.window.as_str(), t.at_ms, t.config_version),
        (5.0, "last 100", 2000, 1)
    );
    assert_eq!(t.flag.as_deref(), Some("new_model"));
    assert_eq!(
        g.local_disables().get("new_model").map(|s| &**s),
        Some("error_rate")
    );
    // The next evaluation serves the off variation, with reason guardrail.
    let doc = doc_with(1, seeds());
    let disables = g.local_disables();
    let d = Evaluator::new().with_disables(&disables).bool_details(
        &doc,
        "new_model",
        &Context::new("u"),
        true,
    );
    assert!(!d.value);
    assert_eq!(
        d.reason,
        Reason::Guardrail {
            guardrail: "error_rate".into()
        }
    );
    assert_eq!(d.reason.kind(), "guardrail");
}

#[test]
fn a_healthy_rate_in_the_last_n_does_not_trip_and_old_failures_roll_out() {
    let mut g = engine(1);
    for i in 0..4 {
        g.observe(&flag_obs(run(false, 10.0), i));
    }
    // 4 failures then successes: judged once 20 samples are in (4/20 = 20%).
    let mut tripped_at = None;
    for i in 4..200 {
        if !g.observe(&flag_obs(run(true, 10.0), i)).is_empty() {
            tripped_at.get_or_insert(i);
        }
    }
    assert_eq!(tripped_at, Some(19));
    let mut g = engine(1);
    // 1 failure in every 50 runs: at most 1/20 = 5% once judged, never above.
    for i in 0..1000 {
        assert!(
            g.observe(&flag_obs(run(i % 50 != 0, 10.0), i)).is_empty(),
            "at {i}"
        );
    }
}

#[test]
fn time_windows_expire_old_samples() {
    let mut g = engine(1);
    let model = |kind, at| Observation::new(Subject::model("face", Some("cpu")), kind, at);
    // 19 slow runs, then 10 minutes later one more: the old ones expired.
    for i in 0..19 {
        assert!(g.observe(&model(run(true, 900.0), i * 1000)).is_empty());
    }
    assert!(g.observe(&model(run(true, 900.0), 600_000)).is_empty());
    // 20 slow runs inside 5 minutes: a warning, no action, and it re-arms.
    let mut warnings = 0;
    for i in 0..40 {
        for t in g.observe(&model(run(true, 900.0), 700_000 + i * 1000)) {
            assert_eq!((t.severity, t.action), (Severity::Warning, Action::None));
            assert!(t.observed > 750.0);
            warnings += 1;
        }
    }
    assert_eq!(warnings, 2);
    assert!(g.forced_fallback("face").is_none());
    assert!(g.active_trips().is_empty());
    assert_eq!(g.pending_trips().len(), 2);
}

#[test]
fn model_guardrails_act_per_accelerator_and_force_fallback() {
    let mut g = engine(1);
    let m = |acc: &str, kind, at| Observation::new(Subject::model("face", Some(acc)), kind, at);
    for i in 0..5 {
        g.observe(&m("cpu", run(false, 50.0), i));
    }
    assert!(
        !g.is_accelerator_disabled("face", "cpu"),
        "the gpu guardrail ignores the cpu"
    );
    for i in 0..4 {
        assert!(g.observe(&m("gpu", run(i != 0, 50.0), i)).is_empty());
    }
    let trips = g.observe(&m(
        "gpu",
        ObservationKind::Load {
            ok: false,
            ms: 30.0,
        },
        10,
    ));
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].accelerator.as_deref(), Some("gpu"));
    assert!(g.is_accelerator_disabled("face", "gpu"));
    assert_eq!(g.disabled_accelerators("face").len(), 1);
    // One inference over 2 s: critical, force the app's fallback path.
    let trips = g.observe(&m("cpu", run(true, 2001.0), 20));
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].observed, 2001.0);
    assert_eq!(
        g.forced_fallback("face").map(|s| &**s),
        Some("slow_critical")
    );
    // A model load over 10 s.
    let mut g = engine(1);
    assert!(g
        .observe(&m(
            "npu",
            ObservationKind::Load {
                ok: true,
                ms: 9_999.0
            },
            1
        ))
        .is_empty());
    assert_eq!(
        g.observe(&m(
            "npu",
            ObservationKind::Load {
                ok: true,
                ms: 12_000.0
            },
            2
        ))
        .len(),
        1
    );
    assert!(g.forced_fallback("face").is_some());
}

#[test]
fn trips_persist_across_a_restart_and_only_a_newer_version_lifts_them() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut g = Guardrails::open(dir.path()).unwrap();
        g.apply_config(&doc_with(4, seeds())).unwrap();
        for i in 0..20 {
            g.observe(&flag_obs(run(i % 2 == 0, 10.0), i));
        }
        assert!(g.local_disables().contains_key("new_model"));
    }
    let mut g = Guardrails::open(dir.path()).unwrap();
    assert!(
        g.local_disables().contains_key("new_model"),
        "restored before any config"
    );
    assert_eq!(g.pending_trips().len(), 1);
    // The same version again (an app restart reloading its cached config).
    assert!(g.apply_config(&doc_with(4, seeds())).unwrap().is_empty());
    assert!(g.local_disables().contains_key("new_model"));
    // An older version never lifts.
    assert!(g.apply_config(&doc_with(3, seeds())).unwrap().is_empty());
    assert!(g.local_disables().contains_key("new_model"));
    // Uploading drains the events, persistently.
    assert_eq!(g.take_pending_trips().len(), 1);
    drop(g);
    let mut g = Guardrails::open(dir.path()).unwrap();
    assert!(g.pending_trips().is_empty());
    let lifted = g.apply_config(&doc_with(5, seeds())).unwrap();
    assert_eq!(lifted.len(), 1);
    assert!(g.local_disables().is_empty());
    // A lifted guardrail needs fresh evidence: one success does not re-trip.
    assert!(g.observe(&flag_obs(run(true, 10.0), 100)).is_empty());
    drop(g);
    assert!(Guardrails::open(dir.path())
        .unwrap()
        .local_disables()
        .is_empty());
}

#[test]
fn expiry_and_reset_lift_trips() {
    let mut g = engine(1);
    let m = |kind, at| Observation::new(Subject::model("face", Some("gpu")), kind, at);
    for i in 0..5 {
        g.observe(&m(run(false, 10.0), i));
    }
    assert!(g.is_accelerator_disabled("face", "gpu"));
    assert!(g.lift_expired(86_400_000 - 1).is_empty());
    assert!(g.is_accelerator_disabled("face", "gpu"));
    // The next observation after the expiry lifts it on its own.
    g.observe(&m(run(true, 10.0), 86_400_004));
    assert!(!g.is_accelerator_disabled("face", "gpu"));
    // Explicit reset, of one guardrail or of all.
    for i in 0..20 {
        g.observe(&flag_obs(run(false, 10.0), i));
    }
    g.observe(&Observation::new(
        Subject::model("face", None),
        run(true, 5000.0),
        1,
    ));
    assert_eq!(g.active_trips().len(), 2);
    assert_eq!(g.reset(Some("error_rate")).len(), 1);
    assert!(g.local_disables().is_empty());
    assert!(g.forced_fallback("face").is_some());
    assert_eq!(g.reset(None).len(), 1);
    assert!(g.active_trips().is_empty());
}

#[test]
fn a_damaged_state_file_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("guardrails.json"),
        b"{\"config_version\": 3, \"act",
    )
    .unwrap();
    let g = Guardrails::open(dir.path()).unwrap();
    assert!(g.recovered_from().is_some());
    assert!(g.active_trips().is_empty());
    assert!(dir.path().join("guardrails.json.corrupt").exists());
}

#[test]
fn crash_rate_counts_sessions_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    for s in 0..9 {
        let mut g = Guardrails::open(dir.path()).unwrap();
        g.apply_config(&doc_with(1, seeds())).unwrap();
        let t = g.observe(&flag_obs(
            ObservationKind::SessionEnd { crashed: s == 0 },
            s,
        ));
        assert!(t.is_empty());
        // Observations persist with the state (end_session saves it too).
        g.save().unwrap();
    }
    // The tenth session makes the minimum: 1 crash in 10 = 10% > 2%.
    let mut g = Guardrails::open(dir.path()).unwrap();
    g.apply_config(&doc_with(1, seeds())).unwrap();
    let t = g.observe(&flag_obs(
        ObservationKind::SessionEnd { crashed: false },
        10,
    ));
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].metric, t[0].samples, t[0].observed),
        (Metric::CrashRate, 10, 10.0)
    );
}

#[test]
fn check_guardrails_reports_unknown_flag_targets() {
    use litegate::guardrails::check_guardrails;
    assert!(check_guardrails(&doc_with(1, seeds())).is_empty());
    let problems = check_guardrails(&doc_with(
        1,
        json!({"typo": {"target": {"flag": "new_modle"}, "metric": "error_rate", "threshold": 5,
                        "window": {"last": 10}}}),
    ));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "guardrails.typo.target.flag");
    let problems = check_guardrails(&doc_with(1, json!({"bad": {"metric": "error_rate"}})));
    assert!(problems.iter().any(|p| p.path == "guardrails.bad.target"));
}
