//! Crash accounting with real child processes: the test binary re-runs
//! itself as a child (`CRASH_CHILD_DIR` set), which starts a session and a
//! native run and is then killed with SIGKILL by the parent (or ends cleanly).

use litegate::config::Document;
use litegate::guardrails::{ActiveModel, ActiveSet, Guardrails, Metric};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENV_DIR: &str = "CRASH_CHILD_DIR";
const ENV_MODE: &str = "CRASH_CHILD_MODE";

fn doc() -> Document {
    let v = json!({
        "format_version": 1, "environment": "production", "version": 2,
        "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                  "off_variation": "off", "fallthrough": {"variation": "on"}}},
        "guardrails": {
            "flag_crashes": {"target": {"flag": "new_model"}, "metric": "crash_rate",
                             "threshold": 2, "window": {"last": 50}, "min_samples": 1},
            "model_crashes": {"target": {"model": "face"}, "metric": "crash_rate",
                              "threshold": 2, "window": {"last": 50}, "min_samples": 1,
                              "action": "disable_accelerator"}
        }
    });
    Document::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
}

fn active() -> ActiveSet {
    ActiveSet {
        flags: vec!["new_model".into()],
        models: vec![ActiveModel {
            model: "face".into(),
            accelerator: Some("gpu".into()),
        }],
    }
}

/// The child's body; a no-op in a normal test run.
#[test]
fn crash_child_entry() {
    let Ok(dir) = std::env::var(ENV_DIR) else {
        return;
    };
    let mode = std::env::var(ENV_MODE).unwrap_or_default();
    let mut g = Guardrails::open(dir.as_ref()).unwrap();
    g.apply_config(&doc()).unwrap();
    g.begin_session(&active(), 1_000).unwrap();
    if mode == "clean" {
        let marker = g.begin_run("face", Some("gpu"), 1_001).unwrap().unwrap();
        marker.finish().unwrap();
        g.end_session(&active(), 2_000).unwrap();
        println!("READY");
        return;
    }
    let _marker = if mode == "in_run" {
        Some(g.begin_run("face", Some("gpu"), 1_001).unwrap())
    } else {
        None
    };
    println!("READY");
    // Wait to be killed (bounded, so a lost parent does not leave us forever).
    std::thread::sleep(Duration::from_secs(120));
}

fn run_child(dir: &std::path::Path, mode: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ready = false;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("READY") {
            ready = true;
            break;
        }
        assert!(Instant::now() < deadline, "child never got ready");
    }
    assert!(ready, "child exited before READY");
    if mode == "clean" {
        // Keep reading so the child's last lines never meet a closed pipe.
        lines.for_each(drop);
        assert!(child.wait().unwrap().success());
    } else {
        child.kill().unwrap(); // SIGKILL: no destructors, no cleanup
        child.wait().unwrap();
    }
}

#[test]
fn a_session_killed_mid_run_charges_the_flag_and_the_accelerator() {
    let dir = tempfile::tempdir().unwrap();
    run_child(dir.path(), "in_run");
    assert!(dir.path().join("session.json").exists());
    let mut g = Guardrails::open(dir.path()).unwrap();
    g.apply_config(&doc()).unwrap();
    let start = g.begin_session(&ActiveSet::default(), 5_000).unwrap();
    assert!(start.previous_crashed);
    assert_eq!(start.previous_active, active());
    assert_eq!(start.crashed_runs, active().models);
    let ids: Vec<&str> = start.trips.iter().map(|t| t.guardrail.as_str()).collect();
    assert_eq!(ids, ["flag_crashes", "model_crashes"]);
    assert!(start
        .trips
        .iter()
        .all(|t| t.metric == Metric::CrashRate && t.observed == 100.0));
    assert!(g.local_disables().contains_key("new_model"));
    assert!(g.is_accelerator_disabled("face", "gpu"));
    assert!(!g.is_accelerator_disabled("face", "cpu"));
    // The run markers are consumed: a second start finds nothing new.
    drop(g);
    let mut g = Guardrails::open(dir.path()).unwrap();
    let again = g.begin_session(&ActiveSet::default(), 6_000).unwrap();
    assert!(
        again.previous_crashed,
        "the session started at 5000 never ended"
    );
    assert!(again.crashed_runs.is_empty());
    assert!(
        g.is_accelerator_disabled("face", "gpu"),
        "the trip survived"
    );
}

#[test]
fn a_session_killed_outside_a_run_charges_its_active_models() {
    let dir = tempfile::tempdir().unwrap();
    run_child(dir.path(), "idle");
    let mut g = Guardrails::open(dir.path()).unwrap();
    g.apply_config(&doc()).unwrap();
    let start = g.begin_session(&active(), 5_000).unwrap();
    assert!(start.previous_crashed);
    assert!(start.crashed_runs.is_empty());
    assert_eq!(start.trips.len(), 2);
    assert!(g.is_accelerator_disabled("face", "gpu"));
}

#[test]
fn a_clean_shutdown_counts_no_crash() {
    let dir = tempfile::tempdir().unwrap();
    run_child(dir.path(), "clean");
    assert!(!dir.path().join("session.json").exists());
    let mut g = Guardrails::open(dir.path()).unwrap();
    g.apply_config(&doc()).unwrap();
    let start = g.begin_session(&active(), 5_000).unwrap();
    assert!(!start.previous_crashed);
    assert!(start.trips.is_empty());
    assert!(g.local_disables().is_empty());
}
