//! `litegate keygen / sign / verify` and `litegate rollout ...` as a release
//! engineer runs them: every write is a new, higher, signed version that
//! `verify` accepts; illegal transitions are refused; `decide` answers with
//! its exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn litegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_litegate"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/rollout.json")
}

fn version_of(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let payload = litegate::delivery::envelope::open(&bytes, None)
        .unwrap()
        .payload;
    litegate::config::Document::parse(&payload).unwrap().version
}

#[test]
fn signed_rollout_operations_and_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let (private, public, config) = (p("release.key"), p("release.pub"), p("rollout.json"));
    std::fs::copy(sample(), &config).unwrap();
    let out = litegate(&["keygen", "--private", &private, "--public", &public]);
    assert!(out.status.success(), "{}", text(&out));

    let base = ["--config", config.as_str(), "--flag", "face_model_v2"];
    let op = |args: &[&str]| {
        let mut all = vec!["rollout"];
        all.extend_from_slice(&args[..1]);
        all.extend_from_slice(&base);
        all.extend_from_slice(&args[1..]);
        litegate(&all)
    };
    // Paused at the current phase, signed: a new, higher version.
    let out = op(&[
        "pause",
        "--actor",
        "alice",
        "--reason",
        "look at crash dashboards",
        "--key",
        &private,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(version_of(Path::new(&config)), 13);
    let verify = litegate(&["verify", "--pubkey", &public, &config]);
    assert!(verify.status.success(), "{}", text(&verify));
    // Pausing twice is illegal and says why.
    let out = op(&["pause", "--key", &private]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("refused"), "{}", text(&out));
    // Resume, roll back a phase, then the emergency path needs a reason.
    assert!(op(&["resume", "--actor", "alice", "--key", &private])
        .status
        .success());
    let out = op(&[
        "rollback",
        "--actor",
        "alice",
        "--reason",
        "error spike",
        "--key",
        &private,
    ]);
    assert!(text(&out).contains("paused at beta"), "{}", text(&out));
    assert_eq!(
        op(&["emergency-rollback", "--key", &private]).status.code(),
        Some(1)
    );
    let out = op(&[
        "emergency-rollback",
        "--reason",
        "INC-9",
        "--actor",
        "oncall",
        "--key",
        &private,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(version_of(Path::new(&config)), 16);
    let status = op(&["status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["audit"].as_array().map(Vec::len), Some(4), "{st}");
    // A tampered copy fails verification.
    let mut bytes = std::fs::read(&config).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(p("tampered.json"), bytes).unwrap();
    assert_eq!(
        litegate(&["verify", "--pubkey", &public, &p("tampered.json")])
            .status
            .code(),
        Some(1)
    );

    // decide: a healthy treatment at the limited phase advances (exit 0), a
    // failing one rolls back (exit 4), one without the latency its criteria
    // name holds (exit 3) and says so.
    let docs_snapshot =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/rollout-snapshot.json");
    let snapshot = |v2_errors: u64| {
        serde_json::json!({"format": 1, "flags": {"face_model_v2": {"variations": {
            "v1": {"users": 15_000, "runs": 150_000, "errors": 1_500, "sessions": 30_000, "crashes": 30},
            "v2": {"users": 5_000, "runs": 50_000, "errors": v2_errors, "sessions": 10_000, "crashes": 10}}}}})
    };
    let fresh = p("fresh.json");
    std::fs::copy(sample(), &fresh).unwrap();
    std::fs::write(p("no-latency.json"), snapshot(480).to_string()).unwrap();
    std::fs::write(p("bad.json"), snapshot(4_000).to_string()).unwrap();
    let decide = |snap: &str| {
        litegate(&[
            "rollout",
            "decide",
            "--config",
            &fresh,
            "--flag",
            "face_model_v2",
            "--metrics",
            snap,
            "--at",
            "2026-11-22T00:00:00Z",
        ])
    };
    let good = decide(docs_snapshot.to_str().unwrap());
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let bad = decide(&p("bad.json"));
    assert_eq!(bad.status.code(), Some(4), "{}", text(&bad));
    assert!(text(&bad).contains("max_error_rate"), "{}", text(&bad));
    let blind = decide(&p("no-latency.json"));
    assert_eq!(blind.status.code(), Some(3), "{}", text(&blind));
    assert!(
        text(&blind).contains("no data for max_latency_p95_ms"),
        "{}",
        text(&blind)
    );
}

/// The `rollout decide` command that docs/rollout.md gives for its sample
/// snapshot runs as printed, from the repository root, and advances.
#[test]
fn the_docs_decide_command_runs_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let docs = std::fs::read_to_string(root.join("docs/rollout.md")).unwrap();
    let line = docs
        .lines()
        .find(|l| l.starts_with("litegate rollout decide --config examples/"))
        .expect("docs/rollout.md shows a runnable decide command");
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert!(args.contains(&"docs/rollout-snapshot.json"), "{line}");
    let out = Command::new(env!("CARGO_BIN_EXE_litegate"))
        .args(&args)
        .current_dir(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("ADVANCE at phase limited"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("latency_vs_control:v2"),
        "{}",
        text(&out)
    );
}

/// `simulate --seeds` reports the healthy phases rolled back by mistake.
#[test]
fn simulate_reports_mistaken_rollbacks_over_seeds() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = litegate(&[
        "simulate",
        "--config",
        root.join("examples/configs/rollout.json").to_str().unwrap(),
        "--flag",
        "face_model_v2",
        "--devices",
        "300",
        "--hours",
        "4",
        "--seeds",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("runs rolled back by mistake"),
        "{}",
        text(&out)
    );
    let out = litegate(&[
        "simulate",
        "--config",
        root.join("examples/configs/rollout.json").to_str().unwrap(),
        "--seeds",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--seeds"), "{}", text(&out));
}
