//! What `Client::start` writes, and where: the guardrail state and the
//! session marker are written once, on the background runtime (the caller's
//! thread does not wait for an fsync), and crash accounting still works
//! through the client: a session that never ended charges its active flags
//! on the next start, before the first evaluation.

use litegate::eval::{Context, Reason};
use litegate::{Client, ClientConfig};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

fn doc() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format_version": 1, "environment": "production", "version": 2,
        "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                  "off_variation": "off", "fallthrough": {"variation": "on"}}},
        "guardrails": {
            "flag_crashes": {"target": {"flag": "new_model"}, "metric": "crash_rate",
                             "threshold": 2, "window": {"last": 50}, "min_samples": 1}
        }
    }))
    .unwrap()
}

fn start(dir: &Path) -> Client {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(doc());
    c.storage_dir = Some(dir.to_path_buf());
    c.default_context = Context::new("u1");
    Client::start(c).unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn marker(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join("guardrails").join("session.json")).ok()
}

/// Set in the child process that plays the app that crashes.
const CHILD: &str = "LITEGATE_STARTUP_CRASH_CHILD";

#[test]
fn start_writes_marker_and_state_in_the_background_and_crashes_are_still_charged() {
    if let Some(dir) = std::env::var_os(CHILD) {
        // The child: start, wait for the background writes, then die without
        // ending the session (the storage lock goes with the process, as in
        // a real crash).
        let dir = std::path::PathBuf::from(dir);
        let client = start(&dir);
        assert_eq!(
            client.bool_details("new_model", false, None).reason,
            Reason::Fallthrough
        );
        // Written by the background runtime, then updated with the active flag.
        wait_for("the session marker naming the active flag", || {
            marker(&dir).is_some_and(|m| m.contains("new_model"))
        });
        wait_for("the guardrail state", || {
            dir.join("guardrails").join("guardrails.json").exists()
        });
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "start_writes_marker_and_state_in_the_background_and_crashes_are_still_charged",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .status()
        .unwrap();
    assert!(!status.success(), "the child crashes on purpose");
    assert!(
        marker(dir.path()).is_some_and(|m| m.contains("new_model")),
        "the crashed child left its session marker"
    );

    let again = start(dir.path());
    // Charged during start, before the first evaluation.
    let d = again.bool_details("new_model", false, None);
    assert!(
        matches!(d.reason, Reason::Guardrail { .. }),
        "the crashed session's flag is disabled: {:?}",
        d.reason
    );
    again.shutdown(Duration::from_secs(5));
    assert!(
        marker(dir.path()).is_none(),
        "a clean end removes the marker"
    );
}

#[test]
fn a_shutdown_right_after_start_leaves_no_marker() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..5 {
        let client = start(dir.path());
        client.shutdown(Duration::from_secs(5));
        // The start-up write, if still pending, must not recreate it.
        std::thread::sleep(Duration::from_millis(50));
        assert!(marker(dir.path()).is_none());
    }
    // Five clean sessions: nothing was charged.
    let client = start(dir.path());
    assert_eq!(
        client.bool_details("new_model", false, None).reason,
        Reason::Fallthrough
    );
    client.shutdown(Duration::from_secs(5));
}
