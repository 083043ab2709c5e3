//! Fallback for real: GPU and NPU requested on a machine without them fall
//! back to the CPU and say so; a delegate whose Prepare fails forces the
//! classic interpreter down its failure path; failing runs move on; the
//! failure history persists; guardrail overrides and flags apply.

mod support;

use litegate::inference::runner::FallbackStage;
use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    Accelerator, AcceleratorPolicy, EngineConfig, EngineKind, InferenceEngine, InjectedFault,
    LoadOptions, ModelManifest, RunOutcome, Tensor,
};
use support::{runtimes, tiny_model};

fn config() -> Option<EngineConfig> {
    Some(EngineConfig {
        litert_library: RuntimeLocator::explicit(runtimes::litert_lib()?),
        tflite_library: RuntimeLocator::explicit(runtimes::tflite_lib()?),
        ..EngineConfig::default()
    })
}

fn add() -> (ModelManifest, Vec<u8>) {
    let bytes = tiny_model::add_model(&[1, 2], Some(&[1.0, 2.0]));
    (ModelManifest::for_bytes("add", "1", &bytes), bytes)
}

fn input() -> Vec<Tensor> {
    vec![Tensor::from_f32("a", vec![1, 2], &[1.0, 1.0])]
}

fn on(engine: EngineKind) -> LoadOptions {
    LoadOptions {
        engine: Some(engine),
        accelerator: None,
    }
}

#[test]
fn npu_and_gpu_fall_back_to_cpu_on_litert_and_say_so() {
    let Some(cfg) = config() else { return };
    let engine = InferenceEngine::new(cfg);
    let (manifest, bytes) = add();
    let runner = engine
        .load_with(&manifest, &bytes, &on(EngineKind::LiteRt))
        .unwrap();
    assert_eq!(runner.accelerator(), Some(Accelerator::Cpu));
    let tried: Vec<Accelerator> = runner.fallbacks().iter().map(|f| f.accelerator).collect();
    assert_eq!(tried, vec![Accelerator::Npu, Accelerator::Gpu]);
    assert!(runner
        .fallbacks()
        .iter()
        .all(|f| f.stage == FallbackStage::Compile && !f.error.is_empty()));
    match runner.run(&input()).unwrap() {
        RunOutcome::Completed(r) => {
            assert_eq!(r.accelerator, Accelerator::Cpu);
            assert_eq!(r.outputs[0].as_f32().unwrap(), vec![2.0, 3.0]);
        }
        RunOutcome::Unavailable(u) => panic!("{u:?}"),
    }
}

#[test]
fn gpu_only_request_is_unavailable_with_reasons() {
    let Some(cfg) = config() else { return };
    let engine = InferenceEngine::new(cfg);
    let (manifest, bytes) = add();
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let opts = LoadOptions {
            engine: Some(kind),
            accelerator: Some(Accelerator::Gpu),
        };
        let runner = engine.load_with(&manifest, &bytes, &opts).unwrap();
        match runner.run(&input()).unwrap() {
            RunOutcome::Unavailable(u) => {
                assert!(u.cloud_fallback_allowed);
                assert!(
                    u.reasons.iter().any(|r| r.contains("gpu")),
                    "{kind}: {:?}",
                    u.reasons
                );
            }
            RunOutcome::Completed(r) => panic!("{kind}: GPU ran here? {r:?}"),
        }
    }
}

#[test]
fn classic_engine_failing_prepare_delegate_falls_back_through_the_real_interpreter() {
    let Some(mut cfg) = config() else { return };
    cfg.faults = vec![(Accelerator::Gpu, InjectedFault::FailingPrepare)];
    let engine = InferenceEngine::new(cfg);
    let (manifest, bytes) = add();
    let runner = engine
        .load_with(&manifest, &bytes, &on(EngineKind::TfLite))
        .unwrap();
    let fallbacks = runner.fallbacks();
    let gpu = fallbacks
        .iter()
        .find(|f| f.accelerator == Accelerator::Gpu)
        .unwrap();
    assert!(gpu.error.contains("TfLiteInterpreterCreate"), "{gpu:?}");
    let npu = fallbacks
        .iter()
        .find(|f| f.accelerator == Accelerator::Npu)
        .unwrap();
    assert!(npu.error.contains("delegate entry point"), "{npu:?}");
    assert_eq!(runner.accelerator(), Some(Accelerator::Cpu));
    let RunOutcome::Completed(r) = runner.run(&input()).unwrap() else {
        panic!()
    };
    assert_eq!(r.outputs[0].as_f32().unwrap(), vec![2.0, 3.0]);
}

#[test]
fn run_failure_marks_the_accelerator_and_reruns_on_the_next() {
    let Some(mut cfg) = config() else { return };
    cfg.faults = vec![(Accelerator::Cpu, InjectedFault::FailRuns)];
    let engine = InferenceEngine::new(cfg);
    let (manifest, bytes) = add();
    let runner = engine
        .load_with(&manifest, &bytes, &on(EngineKind::LiteRt))
        .unwrap();
    match runner.run(&input()).unwrap() {
        RunOutcome::Unavailable(u) => {
            assert!(
                u.reasons.iter().any(|r| r.contains("cpu Run")),
                "{:?}",
                u.reasons
            );
        }
        RunOutcome::Completed(r) => panic!("{r:?}"),
    }
    assert!(engine
        .history()
        .all()
        .iter()
        .any(|f| f.accelerator == Accelerator::Cpu));
}

#[test]
fn failure_history_persists_and_skips_at_next_start() {
    let Some(cfg) = config() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    let (manifest, bytes) = add();
    {
        let engine = InferenceEngine::new(EngineConfig {
            history_path: Some(path.clone()),
            ..cfg.clone()
        });
        let runner = engine
            .load_with(&manifest, &bytes, &on(EngineKind::LiteRt))
            .unwrap();
        assert_eq!(runner.fallbacks().len(), 2);
    }
    let engine = InferenceEngine::new(EngineConfig {
        history_path: Some(path.clone()),
        ..cfg.clone()
    });
    let runner = engine
        .load_with(&manifest, &bytes, &on(EngineKind::LiteRt))
        .unwrap();
    assert!(runner.fallbacks().is_empty(), "{:?}", runner.fallbacks());
    assert_eq!(runner.skipped().len(), 2, "{:?}", runner.skipped());
    // A new model version is tried afresh.
    let v2 = ModelManifest {
        version: "2".into(),
        ..manifest.clone()
    };
    let runner = engine
        .load_with(&v2, &bytes, &on(EngineKind::LiteRt))
        .unwrap();
    assert_eq!(runner.fallbacks().len(), 2);
}

#[test]
fn crash_marker_left_by_a_dead_process_becomes_a_failure() {
    use litegate::inference::history::{FailureHistory, HistoryKey};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.json");
    let key = HistoryKey {
        model: "m",
        model_version: "1",
        engine: EngineKind::LiteRt,
        runtime_version: "2.3.0",
    };
    {
        let h = FailureHistory::open(path.clone(), 60_000);
        h.begin_run(&key, Accelerator::Gpu);
        // The process "dies" here: no end_run.
    }
    let h = FailureHistory::open(path, 60_000);
    let failed = h.failed(&key);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, Accelerator::Gpu);
    assert!(failed[0].1.contains("process ended"));
}

#[test]
fn flags_and_guardrails_shape_the_chain() {
    let Some(cfg) = config() else { return };
    let engine = InferenceEngine::new(cfg);
    let (manifest, bytes) = add();
    engine.set_policy(AcceleratorPolicy {
        gpu_enabled: false,
        npu_enabled: false,
        ..AcceleratorPolicy::default()
    });
    let runner = engine
        .load_with(&manifest, &bytes, &on(EngineKind::LiteRt))
        .unwrap();
    assert!(runner.fallbacks().is_empty());
    assert!(matches!(
        runner.run(&input()).unwrap(),
        RunOutcome::Completed(_)
    ));
    engine.force_fallback("add");
    assert!(matches!(
        runner.run(&input()).unwrap(),
        RunOutcome::Unavailable(_)
    ));
    engine.clear_overrides();
    engine.disable_accelerator("add", Accelerator::Cpu);
    match runner.run(&input()).unwrap() {
        RunOutcome::Unavailable(u) => assert!(
            u.reasons.iter().any(|r| r.contains("guardrail")),
            "{:?}",
            u.reasons
        ),
        other => panic!("{other:?}"),
    }
    engine.clear_overrides();
    engine.set_policy(AcceleratorPolicy {
        litert_enabled: false,
        fallback_to_cloud: false,
        ..AcceleratorPolicy::default()
    });
    let (manifest2, bytes2) = add();
    let runner = engine
        .load_with(&manifest2, &bytes2, &on(EngineKind::TfLite))
        .unwrap();
    match runner.run(&input()).unwrap() {
        RunOutcome::Unavailable(u) => {
            assert!(!u.cloud_fallback_allowed);
            assert!(u.reasons[0].contains("litert_enabled"));
        }
        other => panic!("{other:?}"),
    }
}
