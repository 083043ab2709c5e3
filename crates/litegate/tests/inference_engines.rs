//! Real inference on both engines: generated ADD models with known
//! results, and the face detector with the two engines compared.

mod support;

use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    Accelerator, EngineConfig, EngineKind, InferenceEngine, LoadOptions, ModelManifest, RunOutcome,
    RunReport, Tensor,
};
use support::{runtimes, tiny_model};

fn engine() -> Option<InferenceEngine> {
    let litert = runtimes::litert_lib()?;
    let tflite = runtimes::tflite_lib()?;
    Some(InferenceEngine::new(EngineConfig {
        litert_library: RuntimeLocator::explicit(litert),
        tflite_library: RuntimeLocator::explicit(tflite),
        ..EngineConfig::default()
    }))
}

fn completed(outcome: RunOutcome) -> RunReport {
    match outcome {
        RunOutcome::Completed(r) => r,
        RunOutcome::Unavailable(u) => panic!("unavailable: {:?}", u.reasons),
    }
}

fn cpu(engine: EngineKind) -> LoadOptions {
    LoadOptions {
        engine: Some(engine),
        accelerator: Some(Accelerator::Cpu),
    }
}

#[test]
fn add_model_gives_known_sums_on_both_engines() {
    let Some(engine) = engine() else { return };
    let bytes = tiny_model::add_model(&[1, 4], None);
    let manifest = ModelManifest::for_bytes("add", "1", &bytes);
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let runner = engine.load_with(&manifest, &bytes, &cpu(kind)).unwrap();
        assert_eq!(runner.inputs().len(), 2, "{kind}: {:?}", runner.inputs());
        let a = Tensor::from_f32("a", vec![1, 4], &[1.0, 2.0, 3.0, 4.0]);
        let b = Tensor::from_f32("b", vec![1, 4], &[10.0, 20.0, 30.0, 40.5]);
        let report = completed(runner.run(&[b, a]).unwrap());
        assert_eq!(report.engine, kind);
        assert_eq!(report.accelerator, Accelerator::Cpu);
        assert_eq!(report.outputs[0].name, "out");
        assert_eq!(report.outputs[0].shape, vec![1, 4]);
        assert_eq!(
            report.outputs[0].as_f32().unwrap(),
            vec![11.0, 22.0, 33.0, 44.5],
            "{kind}"
        );
    }
}

#[test]
fn add_with_constant_operand_uses_the_model_weights() {
    let Some(engine) = engine() else { return };
    let bytes = tiny_model::add_model(&[1, 3], Some(&[0.5, -1.0, 100.0]));
    let manifest = ModelManifest::for_bytes("add_const", "1", &bytes);
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let runner = engine.load_with(&manifest, &bytes, &cpu(kind)).unwrap();
        let a = Tensor::from_f32("a", vec![1, 3], &[1.0, 1.0, 1.0]);
        let report = completed(runner.run(&[a]).unwrap());
        assert_eq!(
            report.outputs[0].as_f32().unwrap(),
            vec![1.5, 0.0, 101.0],
            "{kind}"
        );
    }
}

#[test]
fn face_detector_runs_on_both_engines_and_they_agree() {
    let Some(engine) = engine() else { return };
    let Some(path) = runtimes::face_model() else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let manifest = ModelManifest::for_bytes("face", "0.6.0", &bytes);
    // A deterministic image: a smooth gradient in [-1, 1].
    let pixels: Vec<f32> = (0..128 * 128 * 3)
        .map(|i| ((i % 255) as f32 / 127.5) - 1.0)
        .collect();
    let mut results = Vec::new();
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let runner = engine.load_with(&manifest, &bytes, &cpu(kind)).unwrap();
        assert_eq!(runner.inputs().len(), 1);
        assert_eq!(runner.inputs()[0].shape, vec![1, 128, 128, 3]);
        let input = Tensor::from_f32(
            runner.inputs()[0].name.clone(),
            vec![1, 128, 128, 3],
            &pixels,
        );
        let report = completed(runner.run(&[input]).unwrap());
        let mut shapes: Vec<Vec<i64>> = report.outputs.iter().map(|o| o.shape.clone()).collect();
        shapes.sort();
        assert_eq!(shapes, vec![vec![1, 896, 1], vec![1, 896, 16]], "{kind}");
        let mut by_shape = report.outputs.clone();
        by_shape.sort_by_key(|o| o.shape.clone());
        results.push(by_shape);
    }
    for (l, t) in results[0].iter().zip(&results[1]) {
        let (l, t) = (l.as_f32().unwrap(), t.as_f32().unwrap());
        let max = l
            .iter()
            .zip(&t)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-2, "engines disagree by {max}");
        assert!(l.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn wrong_input_is_a_typed_error_before_the_runtime() {
    use litegate::inference::tensor::TensorError;
    use litegate::inference::InferenceError;
    let Some(engine) = engine() else { return };
    let bytes = tiny_model::add_model(&[1, 4], None);
    let manifest = ModelManifest::for_bytes("add", "1", &bytes);
    let runner = engine
        .load_with(&manifest, &bytes, &cpu(EngineKind::LiteRt))
        .unwrap();
    let a = Tensor::from_f32("a", vec![1, 4], &[1.0; 4]);
    let short = Tensor::from_bytes(
        "b",
        litegate::inference::DType::F32,
        vec![1, 4],
        vec![0; 15],
    );
    let err = runner.run(&[a.clone(), short]).unwrap_err();
    assert!(
        matches!(
            err,
            InferenceError::InvalidInput(TensorError::WrongByteLength {
                expected: 16,
                actual: 15,
                ..
            })
        ),
        "{err:?}"
    );
    let wrong_shape = Tensor::from_f32("b", vec![4, 1], &[1.0; 4]);
    assert!(matches!(
        runner.run(&[a.clone(), wrong_shape]).unwrap_err(),
        InferenceError::InvalidInput(TensorError::WrongShape { .. })
    ));
    let wrong_type = Tensor::from_bytes(
        "b",
        litegate::inference::DType::I32,
        vec![1, 4],
        vec![0; 16],
    );
    assert!(matches!(
        runner.run(&[a.clone(), wrong_type]).unwrap_err(),
        InferenceError::InvalidInput(TensorError::WrongType { .. })
    ));
    assert!(matches!(
        runner.run(std::slice::from_ref(&a)).unwrap_err(),
        InferenceError::InvalidInput(TensorError::MissingInput { .. })
    ));
    let extra = Tensor::from_f32("zzz", vec![1, 4], &[1.0; 4]);
    assert!(matches!(
        runner.run(&[a, extra]).unwrap_err(),
        InferenceError::InvalidInput(TensorError::UnknownInput { .. })
    ));
}

#[test]
fn shadow_candidate_runs_in_background_without_changing_results() {
    let Some(engine) = engine() else { return };
    let prod_bytes = tiny_model::add_model(&[1, 3], Some(&[1.0, 0.0, 0.0]));
    let cand_bytes = tiny_model::add_model(&[1, 3], Some(&[1.5, 0.0, 0.0]));
    let opts = cpu(EngineKind::LiteRt);
    let prod = engine
        .load_with(
            &ModelManifest::for_bytes("cls", "1", &prod_bytes),
            &prod_bytes,
            &opts,
        )
        .unwrap();
    let cand = engine
        .load_with(
            &ModelManifest::for_bytes("cls", "2", &cand_bytes),
            &cand_bytes,
            &opts,
        )
        .unwrap();
    prod.attach_shadow(cand, 1.0);
    for _ in 0..3 {
        let a = Tensor::from_f32("a", vec![1, 3], &[0.0, 0.5, 0.2]);
        let r = completed(prod.run(&[a]).unwrap());
        assert_eq!(r.outputs[0].as_f32().unwrap(), vec![1.0, 0.5, 0.2]);
    }
    // Bounded wait for the background comparisons.
    let mut stats = prod.shadow_stats().unwrap();
    for _ in 0..500 {
        if stats.compared + stats.dropped >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        stats = prod.shadow_stats().unwrap();
    }
    assert!(stats.compared >= 1, "{stats:?}");
    assert!((stats.max_abs_diff - 0.5).abs() < 1e-6, "{stats:?}");
    assert_eq!(stats.top1_agreements, stats.top1_compared);
}
