//! The Rust side of the FFI bench: the same flag evaluations as
//! `bindings/kotlin/src/bench/kotlin/dev/litegate/bench/EvaluationBench.kt`,
//! through the core `Client` and through the `litegate-ffi` wrapper called
//! from Rust. The JVM figure minus these is the cost of the FFI boundary
//! (JNA call, argument lowering, record lifting).
//!
//! `cargo bench -p litegate-benches --bench ffi_client -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::{Client, ClientConfig};
use litegate_ffi::{ClientOptions, EvaluationContext, LiteGateClient};

const REASONS: &[u8] = include_bytes!("../crates/litegate-ffi/tests/fixtures/reasons.json");

fn bench(c: &mut Criterion) {
    let mut config = ClientConfig::new("bench", "production");
    config.bootstrap = Some(REASONS.to_vec());
    let Ok(core) = Client::start(config) else {
        panic!("core client starts");
    };
    core.set_context(litegate::eval::Context::new("user-42"));
    c.bench_function("core bool_value(fixed_on)", |b| {
        b.iter(|| core.bool_value(black_box("fixed_on"), false))
    });

    let mut options = ClientOptions::new("bench".into(), "production".into());
    options.bootstrap = Some(REASONS.to_vec());
    let Ok(ffi) = LiteGateClient::start(options) else {
        panic!("ffi client starts");
    };
    let _ = ffi.set_context(EvaluationContext {
        targeting_key: "user-42".into(),
        ..Default::default()
    });
    c.bench_function("ffi-wrapper bool_value(fixed_on)", |b| {
        b.iter(|| ffi.bool_value(black_box("fixed_on").to_owned(), false))
    });
    c.bench_function("ffi-wrapper bool_details(fixed_on)", |b| {
        b.iter(|| ffi.bool_details(black_box("fixed_on").to_owned(), false, None))
    });
    let contexts: Vec<EvaluationContext> = (0..1024)
        .map(|i| EvaluationContext {
            targeting_key: format!("user-{i}"),
            app_version: Some("5.3.1".into()),
            ram_mb: Some(4096.0),
            ..Default::default()
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("ffi-wrapper float_details(split_half, context)", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            ffi.float_details("split_half".to_owned(), 0.0, Some(contexts[i].clone()))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
