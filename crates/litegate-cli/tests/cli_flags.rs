//! The `validate`, `eval` and `bucket` commands, run as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn litegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_litegate"))
        .args(args)
        .output()
        .unwrap()
}

fn sample() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/configs/rollout.json")
        .display()
        .to_string()
}

fn write(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn validate_accepts_the_sample_and_lists_every_problem() {
    let ok = litegate(&["validate", &sample()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(String::from_utf8_lossy(&ok.stdout)
        .contains("9 flag(s) (9 well-formed), 2 segment(s), 1 model(s), 6 guardrail(s)"));

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        &dir,
        "bad.json",
        r#"{"format_version":1,"environment":"production","version":2,"flags":{
            "a":{"type":"bool","variations":{"on":true},"off_variation":"nope","fallthrough":{"variation":"on"}},
            "b":{"type":"bool","variations":{"on":true},"off_variation":"on","fallthrough":{"split":{"arms":[{"variation":"on","weight":99}]}}}}}"#,
    );
    let out = litegate(&["validate", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("flags.a.off_variation: unknown variation `nope`"),
        "{text}"
    );
    assert!(
        text.contains("flags.b.fallthrough.split.arms: weights add up to 99%"),
        "{text}"
    );

    let env = litegate(&["validate", &sample(), "--environment", "staging"]);
    assert_eq!(env.status.code(), Some(1));
    let bad_sections = write(
        &dir,
        "sections.json",
        r#"{"format_version":1,"environment":"production","version":2,
            "models":{"m":{"version":"1","sha256":"nothex","size":-1}},
            "guardrails":{"g":{"target":{"flag":"x"},"metric":"error_rate","threshold":5,"window":{"last":0}}}}"#,
    );
    let out = litegate(&["validate", &bad_sections]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "problem(s) in the guardrails and models sections (devices refuse the document)"
        ) && text.contains("models.m")
            && text.contains("guardrails.g.window.last"),
        "{text}"
    );
    let garbage = write(&dir, "g.json", "{not json");
    assert_eq!(litegate(&["validate", &garbage]).status.code(), Some(1));
}

#[test]
fn eval_prints_one_json_object_per_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = write(
        &dir,
        "ctx.json",
        r#"{"targeting_key":"qa-alice","os":"android","os_version":"14","has_gpu":true,"ram_mb":8192}"#,
    );
    let out = litegate(&["eval", "--config", &sample(), "--context", &ctx]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    let face = lines.iter().find(|l| l["flag"] == "face_model_v2").unwrap();
    assert_eq!(face["reason"], "target_match");
    assert_eq!(face["value"], "face-detector@2.0.0");
    let npu = lines
        .iter()
        .find(|l| l["flag"] == "litert_npu_backend")
        .unwrap();
    assert_eq!(npu["reason"], "kill_switch");
    for l in &lines {
        for k in ["flag", "value", "variation", "reason", "rule", "error"] {
            assert!(l.get(k).is_some(), "missing {k} in {l}");
        }
    }
    let one = litegate(&[
        "eval",
        "--config",
        &sample(),
        "--context",
        &ctx,
        "--flag",
        "nope",
    ]);
    assert_eq!(one.status.code(), Some(1));
    let l: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(l["error"], "FLAG_NOT_FOUND");
}

#[test]
fn bucket_prints_buckets_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let ids = write(&dir, "ids.txt", "user-1\nuser-2\nuser-42\n");
    let out = litegate(&[
        "bucket",
        "--config",
        &sample(),
        "--flag",
        "face_model_v2",
        "--ids-file",
        &ids,
    ]);
    assert!(out.status.success());
    let got: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let want: Vec<u32> = ["user-1", "user-2", "user-42"]
        .iter()
        .map(|id| litegate_bucket("face_model_v2", id))
        .collect();
    assert_eq!(got, want);
    let single = litegate(&[
        "bucket",
        "--config",
        &sample(),
        "--flag",
        "face_model_v2",
        "--id",
        "user-42",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&single.stdout).trim(),
        want[2].to_string()
    );
    assert!(!litegate(&[
        "bucket",
        "--config",
        &sample(),
        "--flag",
        "ghost",
        "--id",
        "x"
    ])
    .status
    .success());
}

fn litegate_bucket(salt: &str, id: &str) -> u32 {
    litegate::eval::bucket(salt, id.as_bytes())
}

#[test]
fn eval_takes_the_context_inline_as_its_help_says() {
    let inline = r#"{"targeting_key":"qa-alice","os":"android","os_version":"14","has_gpu":true,"ram_mb":8192}"#;
    let out = litegate(&[
        "eval",
        "--config",
        &sample(),
        "--context",
        inline,
        "--flag",
        "face_model_v2",
    ]);
    assert!(out.status.success(), "{out:?}");
    let l: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(l["reason"], "target_match");
    let bad = litegate(&["eval", "--config", &sample(), "--context", "{not json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a JSON object"));
}

#[test]
fn every_reading_command_accepts_the_signed_publication_and_says_what_was_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let ok = |args: &[&str]| {
        let out = litegate(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        out
    };
    ok(&[
        "keygen",
        "--key-id",
        "release-2026",
        "--private",
        &path("release.key"),
        "--public",
        &path("release.pub"),
    ]);
    ok(&[
        "keygen",
        "--private",
        &path("other.key"),
        "--public",
        &path("other.pub"),
    ]);
    let signed = path("rollout.signed.json");
    ok(&[
        "sign",
        "--key",
        &path("release.key"),
        "--out",
        &signed,
        &sample(),
    ]);
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    let plain = ok(&["validate", &sample()]);
    assert!(stderr(&plain).contains("unsigned document"), "{plain:?}");
    let unchecked = ok(&["validate", &signed]);
    assert!(
        stderr(&unchecked).contains("signed by release-2026; signature NOT checked"),
        "{unchecked:?}"
    );
    let checked = ok(&["validate", &signed, "--pubkey", &path("release.pub")]);
    assert!(stderr(&checked).contains("signature checked: it holds"));
    let wrong = litegate(&["validate", &signed, "--pubkey", &path("other.pub")]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("signature does not hold"),
        "{wrong:?}"
    );

    let ctx = r#"{"targeting_key":"qa-alice","os":"android","os_version":"14"}"#;
    let from_plain = ok(&["eval", "--config", &sample(), "--context", ctx]);
    let from_signed = ok(&[
        "eval",
        "--config",
        &signed,
        "--pubkey",
        &path("release.pub"),
        "--context",
        ctx,
    ]);
    assert_eq!(from_plain.stdout, from_signed.stdout);
    let bucket = ok(&[
        "bucket",
        "--config",
        &signed,
        "--flag",
        "face_model_v2",
        "--id",
        "user-1",
    ]);
    assert!(!bucket.stdout.is_empty());
}
