//! SDK run vs the bare runtime calls in the same process.
//!
//! "direct" is `runtime::litert::LiteRtInstance::run`: lock/copy the input
//! buffers, `LiteRtRunCompiledModel`, lock/copy the outputs; nothing else.
//! "sdk" is `ModelRunner::run` on the same model: input validation by
//! name/type/shape, the pool, the observer, output tensors.
//! Also: load + verify + compile of the face detector.
//!
//! Needs `cargo xtask setup`; skips with a message otherwise.

#[path = "../crates/litegate/tests/support/tiny_model.rs"]
mod tiny_model;

use criterion::{criterion_group, criterion_main, Criterion};
use litegate::inference::engine::{load_runtime, Runtime};
use litegate::inference::runtime::{cache_root, AlignedBytes, RuntimeLocator};
use litegate::inference::{
    Accelerator, EngineConfig, EngineKind, InferenceEngine, LoadOptions, ModelManifest, Tensor,
};
use std::hint::black_box;
use std::sync::Arc;

fn cases() -> Vec<(&'static str, Vec<u8>, Vec<Tensor>)> {
    let mut out = Vec::new();
    let add = tiny_model::add_model(&[10, 10], None);
    out.push((
        "add_10x10",
        add,
        vec![
            Tensor::from_f32("a", vec![10, 10], &[1.0; 100]),
            Tensor::from_f32("b", vec![10, 10], &[2.0; 100]),
        ],
    ));
    let face = cache_root().join("models/face_detection_short_range.tflite");
    if let Ok(bytes) = std::fs::read(&face) {
        let pixels: Vec<f32> = (0..128 * 128 * 3)
            .map(|i| (i % 255) as f32 / 127.5 - 1.0)
            .collect();
        out.push((
            "face_detector",
            bytes,
            vec![Tensor::from_f32("input", vec![1, 128, 128, 3], &pixels)],
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let Ok(Runtime::LiteRt(rt)) = load_runtime(EngineKind::LiteRt, &RuntimeLocator::default())
    else {
        eprintln!("LiteRT not installed: run `cargo xtask setup`; skipping inference benches");
        return;
    };
    let engine = InferenceEngine::new(EngineConfig::default());
    let opts = LoadOptions {
        engine: Some(EngineKind::LiteRt),
        accelerator: Some(Accelerator::Cpu),
    };
    for (name, bytes, inputs) in cases() {
        let manifest = ModelManifest::for_bytes(name, "1", &bytes);
        let runner = engine.load_with(&manifest, &bytes, &opts).expect("load");
        // The face detector's input name comes from the model.
        let inputs: Vec<Tensor> = inputs
            .into_iter()
            .zip(runner.inputs())
            .map(|(mut t, spec)| {
                t.name = spec.name.clone();
                t
            })
            .collect();
        let aligned = Arc::new(AlignedBytes::copy_from(&bytes));
        let mut direct = rt.compile(&aligned, Accelerator::Cpu).expect("compile");
        let ordered: Vec<Vec<u8>> = direct
            .inputs()
            .iter()
            .map(|spec| {
                inputs
                    .iter()
                    .find(|t| t.name == spec.name)
                    .expect("input")
                    .data
                    .clone()
            })
            .collect();
        let slices: Vec<&[u8]> = ordered.iter().map(Vec::as_slice).collect();
        let mut group = c.benchmark_group(format!("inference/{name}"));
        group.bench_function("direct_c_api", |b| {
            b.iter(|| black_box(direct.run(black_box(&slices)).expect("run")))
        });
        group.bench_function("sdk_run", |b| {
            b.iter(|| black_box(runner.run(black_box(&inputs)).expect("run")))
        });
        group.finish();
    }
    if let Some((_, bytes, _)) = cases().into_iter().find(|c| c.0 == "face_detector") {
        let manifest = ModelManifest::for_bytes("face", "1", &bytes);
        c.bench_function("inference/face_detector/load_verify_compile_cpu", |b| {
            b.iter(|| black_box(engine.load_with(&manifest, &bytes, &opts).expect("load")))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
