//! The observer sees loads, compiles (with errors), fallbacks, runs and
//! unavailability, with the model, engine and accelerator.

mod support;

use litegate::inference::accel::Accelerator;
use litegate::inference::observer::{InferenceObserver, ModelRef, RunStatus};
use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    EngineConfig, EngineKind, InferenceEngine, LoadOptions, ModelManifest, Tensor,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{runtimes, tiny_model};

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl InferenceObserver for Recorder {
    fn on_load(&self, m: ModelRef<'_>, _: Duration) {
        self.0
            .lock()
            .unwrap()
            .push(format!("load {} {} {}", m.key, m.version, m.engine));
    }
    fn on_compile(&self, _: ModelRef<'_>, a: Accelerator, _: Duration, e: Option<&str>) {
        self.0.lock().unwrap().push(format!(
            "compile {a} {}",
            if e.is_some() { "err" } else { "ok" }
        ));
    }
    fn on_run(&self, _: ModelRef<'_>, a: Option<Accelerator>, _: Duration, s: RunStatus) {
        self.0.lock().unwrap().push(format!("run {a:?} {s:?}"));
    }
    fn on_fallback(&self, _: ModelRef<'_>, from: Accelerator, to: Option<Accelerator>, _: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("fallback {from}->{to:?}"));
    }
    fn on_unavailable(&self, m: ModelRef<'_>, _: &[String]) {
        self.0
            .lock()
            .unwrap()
            .push(format!("unavailable {}", m.key));
    }
}

#[test]
fn events_name_model_engine_and_accelerator() {
    let (Some(litert), Some(tflite)) = (runtimes::litert_lib(), runtimes::tflite_lib()) else {
        return;
    };
    let rec = Arc::new(Recorder::default());
    let engine = InferenceEngine::with_observer(
        EngineConfig {
            litert_library: RuntimeLocator::explicit(litert),
            tflite_library: RuntimeLocator::explicit(tflite),
            ..EngineConfig::default()
        },
        rec.clone(),
    );
    let bytes = tiny_model::add_model(&[1, 2], Some(&[1.0, 1.0]));
    let runner = engine
        .load_with(
            &ModelManifest::for_bytes("obs", "7", &bytes),
            &bytes,
            &LoadOptions {
                engine: Some(EngineKind::LiteRt),
                accelerator: None,
            },
        )
        .unwrap();
    runner
        .run(&[Tensor::from_f32("a", vec![1, 2], &[0.0, 1.0])])
        .unwrap();
    engine.force_fallback("obs");
    runner
        .run(&[Tensor::from_f32("a", vec![1, 2], &[0.0, 1.0])])
        .unwrap();
    let events = rec.0.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            "load obs 7 litert",
            "compile npu err",
            "fallback npu->Some(Gpu)",
            "compile gpu err",
            "fallback gpu->Some(Cpu)",
            "compile cpu ok",
            "run Some(Cpu) Ok",
            "unavailable obs",
        ]
    );
}
