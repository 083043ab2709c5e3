//! Step 2: the face detector runs on the best accelerator that works here,
//! falling back NPU → GPU → CPU and saying so; a corrupted copy never reaches
//! the runtime; with local inference switched off the app's own path runs.

use litegate::client::{AppFallback, ModelOutcome};
use litegate::inference::Tensor;
use litegate::Client;

/// The app's cloud path in this demo: a stand-in that answers "no faces".
struct CloudDetector;

impl AppFallback for CloudDetector {
    fn run(&self, _model: &str, _inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        Ok(vec![Tensor::from_f32("cloud_faces", vec![1], &[0.0])])
    }
}

/// A deterministic test image: a bright disc on a dark background.
fn image() -> Tensor {
    let mut px = Vec::with_capacity(128 * 128 * 3);
    for y in 0..128 {
        for x in 0..128 {
            let d = ((x as f32 - 64.0).powi(2) + (y as f32 - 60.0).powi(2)).sqrt();
            let v = if d < 30.0 { 0.8 } else { -0.6 };
            px.extend_from_slice(&[v, v * 0.9, v * 0.8]);
        }
    }
    Tensor::from_f32("input", vec![1, 128, 128, 3], &px)
}

/// Runs step 2.
pub fn run(client: &Client) -> Result<(), String> {
    let path =
        litegate::inference::runtime::cache_root().join("models/face_detection_short_range.tflite");
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("{}: {e} (run `cargo xtask setup`)", path.display()))?;
    let policy = client.inference_policy();
    println!(
        "policy from flags for this device: litert_enabled={} gpu={} npu={} cloud_fallback={}",
        policy.litert_enabled, policy.gpu_enabled, policy.npu_enabled, policy.fallback_to_cloud
    );
    let model = client
        .load_model("face_detector", &bytes)
        .map_err(|e| e.to_string())?;
    let t = model.runner().load_timings();
    println!(
        "face_detector 0.6.0 verified (size + SHA-256) and loaded: verify {:.2} ms, runtime {:.2} ms, compile {:.2} ms",
        t.verify.as_secs_f64() * 1e3,
        t.runtime.as_secs_f64() * 1e3,
        t.compile.as_secs_f64() * 1e3
    );
    for f in model.runner().fallbacks() {
        println!(
            "  tried {:<3} alone: {} failed: {}",
            f.accelerator.as_str(),
            f.stage,
            f.error
        );
    }
    for (accel, why) in model.runner().skipped() {
        println!("  skipped {}: {why}", accel.as_str());
    }
    let outcome = client
        .run_model(&model, &[image()], Some(&CloudDetector))
        .map_err(|e| e.to_string())?;
    let ModelOutcome::Local(report) = outcome else {
        return Err(format!("expected a local run, got {outcome:?}"));
    };
    let scores = report
        .outputs
        .iter()
        .find(|o| o.name == "classificators")
        .and_then(|o| o.as_f32());
    let best = scores
        .unwrap_or_default()
        .into_iter()
        .fold(f32::MIN, f32::max);
    println!(
        "ran on {} ({} {}) in {:.2} ms; best anchor score {best:.3}",
        report.accelerator.as_str(),
        report.engine.as_str(),
        report.runtime_version,
        report.latency.as_secs_f64() * 1e3
    );

    // The failure history remembers what failed on this device: a second
    // load does not try it again (until the model or runtime changes).
    let again = client
        .load_model("face_detector", &bytes)
        .map_err(|e| e.to_string())?;
    let remembered: Vec<String> = again
        .runner()
        .skipped()
        .iter()
        .map(|(a, why)| format!("{} ({why})", a.as_str()))
        .collect();
    println!("loaded again: skipped {}", remembered.join(", "));

    let mut corrupted = bytes.clone();
    corrupted[bytes.len() / 2] ^= 0x40;
    match client.load_model("face_detector", &corrupted) {
        Err(e) => println!("a bit-flipped copy is refused before the runtime sees it: {e}"),
        Ok(_) => return Err("a corrupted model was accepted".into()),
    }

    client.set_override("litert_enabled", "off");
    let outcome = client
        .run_model(&model, &[image()], Some(&CloudDetector))
        .map_err(|e| e.to_string());
    client.clear_override("litert_enabled");
    match outcome? {
        ModelOutcome::AppFallback { outputs, reasons } => println!(
            "with litert_enabled forced off (QA override) the app's cloud path answered ({}): {}",
            outputs[0].name,
            reasons.join("; ")
        ),
        other => return Err(format!("expected the app path, got {other:?}")),
    }
    Ok(())
}
