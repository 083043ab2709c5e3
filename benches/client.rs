//! Flag evaluation through the `Client` (document read, overrides,
//! guardrail disables, exposure recording) next to the bare evaluator.
//!
//! Run: `cargo bench -p litegate-benches --bench client`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::eval::{Context, Evaluator};
use litegate::{Client, ClientConfig};

const CONFIG: &[u8] = include_bytes!("../examples/configs/rollout.json");

fn bench(c: &mut Criterion) {
    let ctx = Context::new("user-7")
        .os("android")
        .os_version("14")
        .has_gpu(true)
        .device_id("d-7")
        .ram_mb(8192.0);
    let mut config = ClientConfig::new("bench", "production");
    config.bootstrap = Some(CONFIG.to_vec());
    config.default_context = ctx.clone();
    let client = Client::start(config).unwrap();
    let mut quiet = ClientConfig::new("bench", "production");
    quiet.bootstrap = Some(CONFIG.to_vec());
    quiet.default_context = ctx.clone();
    quiet.record_exposures = false;
    let quiet = Client::start(quiet).unwrap();
    let doc = client.document().unwrap();

    let mut g = c.benchmark_group("gpu_flag");
    g.bench_function("evaluator_details", |b| {
        b.iter(|| Evaluator::new().bool_details(black_box(&doc), "litert_gpu_backend", &ctx, false))
    });
    g.bench_function("client_details_with_exposure", |b| {
        b.iter(|| client.bool_details(black_box("litert_gpu_backend"), false, None))
    });
    g.bench_function("client_details_without_exposure", |b| {
        b.iter(|| quiet.bool_details(black_box("litert_gpu_backend"), false, None))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
