//! The `models` section: valid manifests parse; each problem is reported
//! with its JSON path. Also the adaptive switcher and shadow comparison,
//! which are pure.

use litegate::config::Document;
use litegate::inference::accel::Accelerator;
use litegate::inference::adaptive::{AdaptiveConfig, AdaptiveSwitcher};
use litegate::inference::shadow::compare;
use litegate::inference::{parse_models, DType, EngineKind, Tensor};
use serde_json::json;

fn sha() -> String {
    "ab".repeat(32)
}

#[test]
fn a_full_manifest_parses_from_the_config_section() {
    let config = json!({
        "format_version": 1, "environment": "production", "version": 1, "flags": {},
        "models": {
            "face": {
                "version": "0.6.0", "sha256": sha(), "size": 229032,
                "url": "https://cdn.example/face.tflite", "engine": "tflite",
                "accelerators": ["gpu", "cpu"],
                "inputs": [{"name": "input", "dtype": "f32", "shape": [1, 128, 128, 3]}],
                "outputs": [{"name": "classificators", "dtype": "f32", "shape": [1, 896, 1]}],
                "gates": {"latency_p95_ms": 30, "peak_memory_mb": 64},
                "shadow": {"version": "0.7.0", "sha256": sha(), "size": 10, "sample_rate": 0.05}
            }
        }
    });
    let doc = Document::parse(config.to_string().as_bytes()).unwrap();
    let models = parse_models(doc.section("models").unwrap()).unwrap();
    assert_eq!(models.len(), 1);
    let m = &models[0];
    assert_eq!(
        (m.key.as_str(), m.version.as_str(), m.size),
        ("face", "0.6.0", 229032)
    );
    assert_eq!(m.engine, EngineKind::TfLite);
    assert_eq!(m.accelerators, vec![Accelerator::Gpu, Accelerator::Cpu]);
    assert_eq!(m.inputs[0].dtype, DType::F32);
    assert_eq!(m.gates.latency_p95_ms, Some(30.0));
    assert_eq!(m.shadow.as_ref().unwrap().sample_rate, 0.05);
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let section = json!({
        "bad": {
            "version": "", "sha256": "xyz", "size": 0, "url": "ftp://x", "engine": "onnx",
            "accelerators": ["tpu"], "inputs": [{"name": "x", "dtype": "f99", "shape": [1, -2]}],
            "gates": {"latency_p99_ms": 1}, "extra": true
        }
    });
    let errors = parse_models(&section).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for expected in [
        "models.bad.version",
        "models.bad.sha256",
        "models.bad.size",
        "models.bad.url",
        "models.bad.engine",
        "models.bad.accelerators[0]",
        "models.bad.inputs[0].dtype",
        "models.bad.inputs[0].shape",
        "models.bad.gates.latency_p99_ms",
    ] {
        assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
    }
    // Unknown fields are ignored (forward compatibility); unknown gates are
    // not, since a gate that is silently skipped would pass a bad model.
    assert!(!paths.contains(&"models.bad.extra"), "{paths:?}");
    assert!(parse_models(&json!([])).is_err());
}

#[test]
fn adaptive_switcher_switches_once_past_the_threshold_then_cools_down() {
    let cfg = AdaptiveConfig {
        threshold: 0.3,
        window: 5,
        cooldown_ms: 60_000,
        probe_every: 10,
    };
    let mut s = AdaptiveSwitcher::new(cfg);
    for _ in 0..5 {
        s.record(Accelerator::Gpu, 1000.0);
        s.record(Accelerator::Cpu, 800.0);
    }
    // 1000 vs 800: 25% slower, under the 30% threshold.
    assert_eq!(s.decide(Accelerator::Gpu, &[Accelerator::Cpu], 0), None);
    for _ in 0..5 {
        s.record(Accelerator::Gpu, 2000.0);
    }
    let sw = s.decide(Accelerator::Gpu, &[Accelerator::Cpu], 1).unwrap();
    assert_eq!((sw.from, sw.to), (Accelerator::Gpu, Accelerator::Cpu));
    assert_eq!((sw.from_median_us, sw.to_median_us), (2000.0, 800.0));
    for _ in 0..5 {
        s.record(Accelerator::Cpu, 5000.0);
        s.record(Accelerator::Gpu, 100.0);
    }
    assert_eq!(
        s.decide(Accelerator::Cpu, &[Accelerator::Gpu], 30_000),
        None,
        "cooldown"
    );
    assert!(s
        .decide(Accelerator::Cpu, &[Accelerator::Gpu], 61_001)
        .is_some());
}

#[test]
fn shadow_comparison_reports_difference_and_top1() {
    let p = [Tensor::from_f32("p", vec![1, 3], &[0.1, 0.7, 0.2])];
    let same_top = [Tensor::from_f32("p", vec![1, 3], &[0.2, 0.6, 0.2])];
    let c = compare("2", &p, &same_top);
    assert_eq!(c.top1_agree, Some(true));
    assert!((c.max_abs_diff.unwrap() - 0.1).abs() < 1e-6);
    let other_top = [Tensor::from_f32("p", vec![1, 3], &[0.9, 0.0, 0.1])];
    assert_eq!(compare("2", &p, &other_top).top1_agree, Some(false));
    let other_shape = [Tensor::from_f32("p", vec![3], &[0.9, 0.0, 0.1])];
    assert!(compare("2", &p, &other_shape).error.is_some());
}
