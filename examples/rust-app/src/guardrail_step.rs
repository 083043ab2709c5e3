//! Step 4: a fault is injected into the new model version (8% of uses fail),
//! the device's guardrail trips and the flag falls back at once; then the
//! fleet decision (`litegate rollout decide`) rolls the phase back and the
//! signed result reaches the device through the config host.

use crate::delivery_step::sign;
use crate::fleet::Rng;
use crate::loopback::Loopback;
use litegate::delivery::keys::PrivateKeyFile;
use litegate::eval::Reason;
use litegate::rollout::{self, AuditMeta, MetricsSnapshot, Operation, Verdict};
use litegate::Client;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Fleet aggregates for the current phase (25%): v2 fails 8% of runs, v1 1%.
fn fleet_snapshot() -> serde_json::Value {
    serde_json::json!({
        "format": 1,
        "flags": {"face_model_v2": {"variations": {
            "v1": {"users": 15_030, "exposures": 15_030, "runs": 150_300, "errors": 1_503, "sessions": 30_000, "crashes": 30},
            "v2": {"users": 4_970, "exposures": 4_970, "runs": 49_700, "errors": 3_976, "sessions": 9_900, "crashes": 11}
        }}}
    })
}

/// The `litegate` binary next to this demo's, if it was built.
fn cli() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe
        .parent()?
        .join(format!("litegate{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

fn run_cli(cli: &Path, args: &[&str]) -> Result<(i32, String), String> {
    let out = Command::new(cli)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", cli.display()))?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.code().unwrap_or(-1), text))
}

/// Runs step 4.
pub fn run(
    client: &Client,
    host: &Loopback,
    key: &PrivateKeyFile,
    work: &Path,
) -> Result<(), String> {
    let before = client.string_details("face_model_v2", "none", None);
    println!(
        "this device serves face_model_v2 = {} ({})",
        before.value, before.reason
    );

    // Fault injection: the new model version fails 8% of the time.
    let mut rng = Rng::new(8);
    let mut uses = 0;
    let mut failures = 0;
    while uses < 1_000 {
        let d = client.string_details("face_model_v2", "none", None);
        if d.variation.as_deref() != Some("v2") {
            break;
        }
        let ok = !rng.chance(0.08);
        failures += usize::from(!ok);
        uses += 1;
        client.record_outcome("face_model_v2", ok, 40.0 + (rng.next() % 20) as f64);
    }
    let after = client.string_details("face_model_v2", "none", None);
    let Reason::Guardrail { guardrail } = &after.reason else {
        return Err(format!(
            "the guardrail did not trip after {uses} uses ({failures} failures)"
        ));
    };
    let trip = client
        .guardrail_trips()
        .into_iter()
        .find(|t| *t.guardrail == **guardrail)
        .ok_or("no trip recorded")?;
    println!(
        "fault injected (8% of v2 uses fail): guardrail `{guardrail}` tripped after {uses} uses: error rate {:.1}% over the last {} samples > {}%",
        trip.observed, trip.samples, trip.threshold
    );
    println!(
        "the flag fell back on this device at once: face_model_v2 = {} ({})",
        after.value,
        after.reason.kind()
    );

    // The fleet view: release engineering asks the CLI for a decision. The
    // files stay after the demo so the printed commands can be rerun as is.
    let work = work.join("rollout");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let config_path = work.join("rollout-v14.json");
    let current = crate::delivery_step::document(14, |v| {
        v["flags"]["litert_gpu_backend"]["kill_switch"] = serde_json::json!({"active": true, "reason": "GPU delegate corrupts output on Mali-G57 (INC-412)"});
    });
    std::fs::write(&config_path, &current).map_err(|e| e.to_string())?;
    let snapshot_path = work.join("fleet-snapshot.json");
    std::fs::write(&snapshot_path, fleet_snapshot().to_string()).map_err(|e| e.to_string())?;
    let key_path = work.join("release.key");
    std::fs::write(&key_path, key.to_text()).map_err(|e| e.to_string())?;
    let signed_path = work.join("rollout-v15.signed.json");

    let (cfg, snap, keyf, out) = (
        config_path.display().to_string(),
        snapshot_path.display().to_string(),
        key_path.display().to_string(),
        signed_path.display().to_string(),
    );
    let published = if let Some(cli) = cli() {
        let (code, text) = run_cli(
            &cli,
            &[
                "rollout",
                "decide",
                "--config",
                &cfg,
                "--flag",
                "face_model_v2",
                "--metrics",
                &snap,
            ],
        )?;
        println!("$ litegate rollout decide --config {cfg} --flag face_model_v2 --metrics {snap}");
        for line in text.lines() {
            println!("  {line}");
        }
        if code != 4 {
            return Err(format!(
                "expected the decision to roll back (exit 4), got exit {code}"
            ));
        }
        let reason = "v2 error rate 8% vs 1% on v1 (fleet decision)";
        let (code, text) = run_cli(
            &cli,
            &[
                "rollout",
                "rollback",
                "--config",
                &cfg,
                "--flag",
                "face_model_v2",
                "--actor",
                "release-bot",
                "--reason",
                reason,
                "--key",
                &keyf,
                "--out",
                &out,
            ],
        )?;
        println!(
            "$ litegate rollout rollback --config {cfg} --flag face_model_v2 --actor release-bot --reason '{reason}' --key {keyf} --out {out}"
        );
        println!("  {}", text.trim());
        if code != 0 {
            return Err(format!("rollback refused (exit {code})"));
        }
        std::fs::read(&signed_path).map_err(|e| e.to_string())?
    } else {
        // Without the CLI binary (e.g. `cargo run -p` of this example alone),
        // call the same library functions the CLI calls.
        println!("(the `litegate` binary is not built next to the demo; using the library the CLI calls)");
        let raw: serde_json::Value = serde_json::from_slice(&current).map_err(|e| e.to_string())?;
        let snapshot: MetricsSnapshot =
            serde_json::from_value(fleet_snapshot()).map_err(|e| e.to_string())?;
        let decision = rollout::decide(&raw, "face_model_v2", &snapshot, litegate::eval::now_ms())
            .map_err(|e| e.to_string())?;
        for c in &decision.checks {
            println!("  {:<24} {}: {}", c.name, c.verdict, c.message);
        }
        if decision.verdict != Verdict::Rollback {
            return Err(format!(
                "expected a rollback decision, got {}",
                decision.verdict
            ));
        }
        let meta = AuditMeta {
            actor: "release-bot".into(),
            reason: Some("v2 error rate 8% vs 1% on v1".into()),
            now_ms: litegate::eval::now_ms(),
        };
        let next = rollout::apply(&raw, "face_model_v2", Operation::Rollback, &meta)
            .map_err(|e| e.to_string())?;
        sign(
            key,
            &serde_json::to_vec_pretty(&next).map_err(|e| e.to_string())?,
        )
    };

    host.publish(published, "\"v15\"");
    client.refresh();
    let start = Instant::now();
    // Wait for the state this step asserts: v15 installed AND the local trip
    // lifted (the newer version lifts it on the SDK's thread just after the
    // install, so reading right after the version changes can race it).
    let lifted = || {
        client.status().config_version == Some(15)
            && client
                .guardrail_trips()
                .iter()
                .all(|t| t.flag.as_deref() != Some("face_model_v2"))
    };
    while !lifted() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(
                "the rolled-back config did not reach the device, or did not lift the trip".into(),
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let doc = client.document().ok_or("no document")?;
    let state = doc
        .ready_flag("face_model_v2")
        .and_then(|f| f.rollout.as_ref())
        .map(|r| r.state.to_string())
        .unwrap_or_default();
    let now = client.string_details("face_model_v2", "none", None);
    println!(
        "the device applied v15 ({state}); the newer version lifts the local trip: face_model_v2 = {} ({})",
        now.value,
        now.reason.kind()
    );
    if matches!(now.reason, litegate::eval::Reason::Guardrail { .. }) {
        return Err("face_model_v2 is still disabled by the guardrail after v15".into());
    }
    Ok(())
}
