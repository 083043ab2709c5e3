//! Every rollout operation and every illegal transition, on whole documents.

use litegate::config::{parse_timestamp_ms, Document};
use litegate::eval::{Context, Evaluator, Reason};
use litegate::rollout::{apply, status, AuditMeta, Operation, RolloutError};
use serde_json::{json, Value};

fn doc(state: Value) -> Value {
    json!({
        "format_version": 1, "environment": "production", "version": 10,
        "x_custom": {"kept": true},
        "flags": {
            "new_model": {
                "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
                "fallthrough": {"phased": {"variation": "on", "otherwise": "off"}},
                "rollout": {
                    "phases": [
                        {"name": "alpha", "percent": 1, "min_duration": "24h"},
                        {"name": "beta", "percent": 10},
                        {"name": "limited", "percent": 25},
                        {"name": "extended", "percent": 50},
                        {"name": "full", "percent": 100}
                    ],
                    "state": state
                }
            },
            "other": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
                      "fallthrough": {"variation": "on"}}
        }
    })
}

const T0: &str = "2027-01-15T08:00:00Z";

fn meta(at: &str) -> AuditMeta {
    AuditMeta {
        actor: "alice".into(),
        reason: Some("looks good".into()),
        now_ms: parse_timestamp_ms(at).unwrap(),
    }
}

fn state_of(v: &Value) -> Value {
    v["flags"]["new_model"]["rollout"]["state"].clone()
}

fn illegal(r: Result<Value, RolloutError>) -> String {
    match r {
        Err(e @ RolloutError::IllegalTransition { .. }) => e.to_string(),
        other => panic!("expected an illegal transition, got {other:?}"),
    }
}

#[test]
fn a_full_rollout_walks_every_phase_with_audit_and_versions() {
    let mut d = doc(json!({"status": "not_started"}));
    d = apply(
        &d,
        "new_model",
        Operation::Start {
            clear_kill_switch: false,
        },
        &meta(T0),
    )
    .unwrap();
    assert_eq!(state_of(&d), json!({"status": "running", "phase": "alpha"}));
    assert_eq!(d["version"], 11);
    // alpha has a 24h minimum.
    let early = apply(
        &d,
        "new_model",
        Operation::Advance { force: false },
        &meta("2027-01-15T20:00:00Z"),
    );
    match early {
        Err(RolloutError::MinDurationNotMet {
            phase,
            elapsed,
            required,
            ..
        }) => {
            assert_eq!(
                (phase.as_str(), elapsed.as_str(), required.as_str()),
                ("alpha", "12h 0m", "1d 0h")
            );
        }
        other => panic!("{other:?}"),
    }
    d = apply(
        &d,
        "new_model",
        Operation::Advance { force: false },
        &meta("2027-01-16T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(state_of(&d)["phase"], "beta");
    for expected in ["limited", "extended", "full"] {
        d = apply(
            &d,
            "new_model",
            Operation::Advance { force: false },
            &meta("2027-01-17T09:00:00Z"),
        )
        .unwrap();
        assert_eq!(state_of(&d)["phase"], expected);
    }
    d = apply(
        &d,
        "new_model",
        Operation::Advance { force: false },
        &meta("2027-01-18T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(state_of(&d), json!({"status": "complete"}));
    assert_eq!(d["version"], 16);
    let audit = d["flags"]["new_model"]["rollout"]["audit"]
        .as_array()
        .unwrap();
    assert_eq!(audit.len(), 6);
    assert_eq!(audit[0]["actor"], "alice");
    assert_eq!(audit[0]["action"], "start");
    assert_eq!(audit[0]["at"], T0);
    assert_eq!(audit[0]["from"], json!({"status": "not_started"}));
    assert_eq!(audit[5]["to"], json!({"status": "complete"}));
    // Everything else is untouched.
    let before = doc(json!({"status": "not_started"}));
    assert_eq!(d["x_custom"], before["x_custom"]);
    assert_eq!(d["flags"]["other"], before["flags"]["other"]);
    assert_eq!(
        d["flags"]["new_model"]["rollout"]["phases"],
        before["flags"]["new_model"]["rollout"]["phases"]
    );
    let parsed = Document::parse(&serde_json::to_vec(&d).unwrap()).unwrap();
    assert_eq!(parsed.version, 16);
    let complete = illegal(apply(
        &d,
        "new_model",
        Operation::Advance { force: false },
        &meta(T0),
    ));
    assert!(complete.contains("complete"), "{complete}");
}

#[test]
fn force_skips_the_minimum_duration() {
    let d = doc(json!({"status": "not_started"}));
    let d = apply(
        &d,
        "new_model",
        Operation::Start {
            clear_kill_switch: false,
        },
        &meta(T0),
    )
    .unwrap();
    let d = apply(
        &d,
        "new_model",
        Operation::Advance { force: true },
        &meta("2027-01-15T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(state_of(&d)["phase"], "beta");
}

#[test]
fn pause_resume_and_their_illegal_transitions() {
    let d = doc(json!({"status": "running", "phase": "beta"}));
    let p = apply(&d, "new_model", Operation::Pause, &meta(T0)).unwrap();
    assert_eq!(state_of(&p), json!({"status": "paused", "phase": "beta"}));
    let msg = illegal(apply(&p, "new_model", Operation::Pause, &meta(T0)));
    assert!(msg.contains("paused at beta"), "{msg}");
    let msg = illegal(apply(
        &p,
        "new_model",
        Operation::Advance { force: true },
        &meta(T0),
    ));
    assert!(msg.contains("resume it first"), "{msg}");
    let r = apply(&p, "new_model", Operation::Resume, &meta(T0)).unwrap();
    assert_eq!(state_of(&r), json!({"status": "running", "phase": "beta"}));
    illegal(apply(&r, "new_model", Operation::Resume, &meta(T0)));
    illegal(apply(
        &r,
        "new_model",
        Operation::Start {
            clear_kill_switch: false,
        },
        &meta(T0),
    ));
    let ns = doc(json!({"status": "not_started"}));
    let msg = illegal(apply(
        &ns,
        "new_model",
        Operation::Advance { force: true },
        &meta(T0),
    ));
    assert!(msg.contains("start it first"), "{msg}");
    illegal(apply(&ns, "new_model", Operation::Pause, &meta(T0)));
    illegal(apply(&ns, "new_model", Operation::Resume, &meta(T0)));
    illegal(apply(&ns, "new_model", Operation::Rollback, &meta(T0)));
}

#[test]
fn rollback_returns_to_the_previous_phase_and_from_the_first_rolls_back() {
    let d = doc(json!({"status": "running", "phase": "limited"}));
    let b = apply(&d, "new_model", Operation::Rollback, &meta(T0)).unwrap();
    assert_eq!(state_of(&b), json!({"status": "paused", "phase": "beta"}));
    let a = apply(&b, "new_model", Operation::Rollback, &meta(T0)).unwrap();
    assert_eq!(state_of(&a), json!({"status": "paused", "phase": "alpha"}));
    let gone = apply(&a, "new_model", Operation::Rollback, &meta(T0)).unwrap();
    assert_eq!(state_of(&gone), json!({"status": "rolled_back"}));
    let msg = illegal(apply(&gone, "new_model", Operation::Rollback, &meta(T0)));
    assert!(msg.contains("emergency-rollback"), "{msg}");
    illegal(apply(&gone, "new_model", Operation::Pause, &meta(T0)));
    // Rolled back: restartable.
    let again = apply(
        &gone,
        "new_model",
        Operation::Start {
            clear_kill_switch: false,
        },
        &meta(T0),
    )
    .unwrap();
    assert_eq!(state_of(&again)["phase"], "alpha");
    let c = doc(json!({"status": "complete"}));
    let back = apply(&c, "new_model", Operation::Rollback, &meta(T0)).unwrap();
    assert_eq!(
        state_of(&back),
        json!({"status": "paused", "phase": "extended"})
    );
}

#[test]
fn emergency_rollback_turns_the_kill_switch_on_and_needs_a_reason() {
    let d = doc(json!({"status": "running", "phase": "extended"}));
    let mut no_reason = meta(T0);
    no_reason.reason = None;
    assert!(matches!(
        apply(&d, "new_model", Operation::EmergencyRollback, &no_reason),
        Err(RolloutError::ReasonRequired { .. })
    ));
    no_reason.reason = Some("   ".into());
    assert!(apply(&d, "new_model", Operation::EmergencyRollback, &no_reason).is_err());
    let mut m = meta(T0);
    m.reason = Some("crash spike on pixel-7".into());
    let e = apply(&d, "new_model", Operation::EmergencyRollback, &m).unwrap();
    assert_eq!(state_of(&e), json!({"status": "rolled_back"}));
    assert_eq!(
        e["flags"]["new_model"]["kill_switch"],
        json!({"active": true, "reason": "crash spike on pixel-7"})
    );
    let parsed = Document::parse(&serde_json::to_vec(&e).unwrap()).unwrap();
    let det = Evaluator::new().bool_details(&parsed, "new_model", &Context::new("u1"), true);
    assert!(!det.value);
    assert!(matches!(det.reason, Reason::KillSwitch { .. }));
    illegal(apply(&e, "new_model", Operation::EmergencyRollback, &m));
    // Starting again needs the switch cleared explicitly.
    assert!(matches!(
        apply(
            &e,
            "new_model",
            Operation::Start {
                clear_kill_switch: false
            },
            &meta(T0)
        ),
        Err(RolloutError::KillSwitchActive { .. })
    ));
    let s = apply(
        &e,
        "new_model",
        Operation::Start {
            clear_kill_switch: true,
        },
        &meta(T0),
    )
    .unwrap();
    assert_eq!(s["flags"]["new_model"]["kill_switch"]["active"], false);
    assert_eq!(state_of(&s)["phase"], "alpha");
    // Emergency rollback works from any state, even not started.
    let ns = doc(json!({"status": "not_started"}));
    assert!(apply(&ns, "new_model", Operation::EmergencyRollback, &m).is_ok());
}

#[test]
fn bad_input_is_refused_with_a_typed_error() {
    let d = doc(json!({"status": "running", "phase": "alpha"}));
    assert!(matches!(
        apply(&d, "missing", Operation::Pause, &meta(T0)),
        Err(RolloutError::NoSuchFlag { .. })
    ));
    assert!(matches!(
        apply(&d, "other", Operation::Pause, &meta(T0)),
        Err(RolloutError::NoRollout { .. })
    ));
    let mut bad = d.clone();
    bad["flags"]["new_model"]["rollout"]["phases"][0]["min_duration"] = json!("soon");
    match apply(
        &bad,
        "new_model",
        Operation::Advance { force: false },
        &meta(T0),
    ) {
        Err(RolloutError::InvalidPlan { path, .. }) => {
            assert_eq!(path, "flags.new_model.rollout.phases[0].min_duration")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        apply(
            &json!({"format_version": 1}),
            "new_model",
            Operation::Pause,
            &meta(T0)
        ),
        Err(RolloutError::Config(_))
    ));
}

#[test]
fn status_reports_phase_percent_and_time_in_phase() {
    let d = doc(json!({"status": "not_started"}));
    let d = apply(
        &d,
        "new_model",
        Operation::Start {
            clear_kill_switch: false,
        },
        &meta(T0),
    )
    .unwrap();
    let s = status(
        &d,
        "new_model",
        parse_timestamp_ms("2027-01-15T10:00:00Z").unwrap(),
    )
    .unwrap();
    assert_eq!(s.status, "running");
    assert_eq!(s.phase.as_deref(), Some("alpha"));
    assert_eq!(s.percent, 1.0);
    assert_eq!(s.entered_at_ms, parse_timestamp_ms(T0));
    assert_eq!(s.min_duration_ms, Some(86_400_000));
    assert_eq!(s.next_phase.as_deref(), Some("beta"));
    assert_eq!(s.audit.len(), 1);
}
