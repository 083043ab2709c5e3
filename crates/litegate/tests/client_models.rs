//! Models through the `Client`: verified against the config's manifest, run
//! with fallback steered by flags, the app's own path when nothing local
//! works, and every run recorded in metrics. Real LiteRT, real face detector.

#[path = "support/runtimes.rs"]
mod runtimes;

use litegate::client::{AppFallback, ModelError, ModelOutcome};
use litegate::eval::Context;
use litegate::inference::{Accelerator, InferenceError, Tensor};
use litegate::metrics::names;
use litegate::{Client, ClientConfig};
use serde_json::json;

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn client(model: &[u8], flags: serde_json::Value) -> Client {
    let doc = json!({
        "format_version": 1, "environment": "production", "version": 3,
        "models": {"face": {"version": "0.6.0", "sha256": sha256(model), "size": model.len(), "engine": "litert"}},
        "flags": flags,
    });
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(serde_json::to_vec(&doc).unwrap());
    c.litert_library = runtimes::litert_lib();
    c.default_context = Context::new("u1");
    Client::start(c).unwrap()
}

fn switch(on: bool) -> serde_json::Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
           "fallthrough": {"variation": if on { "on" } else { "off" }}})
}

fn input() -> Tensor {
    Tensor::from_f32("input", vec![1, 128, 128, 3], &vec![0.5; 128 * 128 * 3])
}

struct Cloud;

impl AppFallback for Cloud {
    fn run(&self, model: &str, _inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        assert_eq!(model, "face");
        Ok(vec![Tensor::from_f32("cloud", vec![1], &[42.0])])
    }
}

#[test]
fn runs_locally_with_fallback_to_cpu_and_records_metrics() {
    let (Some(_), Some(path)) = (runtimes::litert_lib(), runtimes::face_model()) else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let client = client(
        &bytes,
        json!({"litert_enabled": switch(true), "litert_gpu_backend": switch(true), "litert_npu_backend": switch(true)}),
    );
    let model = client.load_model("face", &bytes).unwrap();
    match client.run_model(&model, &[input()], Some(&Cloud)).unwrap() {
        ModelOutcome::Local(report) => {
            // No GPU or NPU here: both were tried alone and failed, CPU ran.
            assert_eq!(report.accelerator, Accelerator::Cpu);
            assert_eq!(report.outputs.len(), 2);
        }
        other => panic!("expected a local run, got {other:?}"),
    }
    let fallbacks = model.runner().fallbacks();
    assert!(
        fallbacks.iter().any(|f| f.accelerator == Accelerator::Npu),
        "{fallbacks:?}"
    );
    assert!(
        fallbacks.iter().any(|f| f.accelerator == Accelerator::Gpu),
        "{fallbacks:?}"
    );
    let runs: u64 = client
        .metrics()
        .snapshot()
        .iter()
        .filter(|p| p.name == names::INFERENCE_RUNS)
        .map(|p| match p.value {
            litegate::metrics::PointValue::Counter { value } => value,
            _ => 0,
        })
        .sum();
    assert_eq!(runs, 1);
}

#[test]
fn flags_steer_accelerators_and_the_app_path() {
    let (Some(_), Some(path)) = (runtimes::litert_lib(), runtimes::face_model()) else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    // GPU and NPU off by flag: CPU is the only candidate, no fallback needed.
    let client1 = client(
        &bytes,
        json!({"litert_gpu_backend": switch(false), "litert_npu_backend": switch(false)}),
    );
    let policy = client1.inference_policy();
    assert!(!policy.gpu_enabled && !policy.npu_enabled && policy.litert_enabled);
    let model = client1.load_model("face", &bytes).unwrap();
    assert!(model.runner().fallbacks().is_empty());
    assert!(
        matches!(client1.run_model(&model, &[input()], None).unwrap(), ModelOutcome::Local(r) if r.accelerator == Accelerator::Cpu)
    );

    // Local inference off: the app's path runs, when allowed.
    let client2 = client(&bytes, json!({"litert_enabled": switch(false)}));
    let model = client2.load_model("face", &bytes).unwrap();
    match client2.run_model(&model, &[input()], Some(&Cloud)).unwrap() {
        ModelOutcome::AppFallback { outputs, reasons } => {
            assert_eq!(outputs[0].name, "cloud");
            assert!(!reasons.is_empty());
        }
        other => panic!("expected the app path, got {other:?}"),
    }
    assert!(matches!(
        client2.run_model(&model, &[input()], None).unwrap(),
        ModelOutcome::Unavailable(_)
    ));

    // ... and not when `ai_fallback_to_cloud` is off.
    let client3 = client(
        &bytes,
        json!({"litert_enabled": switch(false), "ai_fallback_to_cloud": switch(false)}),
    );
    let model = client3.load_model("face", &bytes).unwrap();
    match client3.run_model(&model, &[input()], Some(&Cloud)).unwrap() {
        ModelOutcome::Unavailable(u) => assert!(!u.cloud_fallback_allowed),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[test]
fn integrity_and_manifest_errors_are_typed() {
    let bytes = b"TFL3 not really a model, but its hash is in the manifest".to_vec();
    let client = client(&bytes, json!({}));
    assert!(matches!(
        client.load_model("nope", &bytes),
        Err(ModelError::NotInConfig(_))
    ));
    let mut flipped = bytes.clone();
    flipped[10] ^= 1;
    assert!(matches!(
        client.load_model("face", &flipped),
        Err(ModelError::Inference(InferenceError::Integrity(_)))
    ));
    assert!(matches!(
        client.load_model("face", &bytes[..20]),
        Err(ModelError::Inference(InferenceError::Integrity(_)))
    ));
    // Right hash, but not a model: refused before any runtime sees it.
    assert!(matches!(
        client.load_model("face", &bytes),
        Err(ModelError::Inference(InferenceError::Integrity(_)))
    ));
}
