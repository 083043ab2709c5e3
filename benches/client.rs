//! Flag evaluation through the `Client` (document read, overrides,
//! guardrail disables, exposure recording) next to the bare evaluator, and
//! next to Unleash's engine doing the same work on the same flag.
//!
//! Run: `cargo bench -p litegate-benches --bench client`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::eval::{Context, Evaluator};
use litegate::{Client, ClientConfig};
use serde_json::json;
use std::collections::HashMap;

const CONFIG: &[u8] = include_bytes!("../examples/configs/rollout.json");

/// The percentage rollout behind three clauses of `benches/evaluation.rs`.
fn pct_document() -> Vec<u8> {
    json!({"format_version": 1, "environment": "production", "version": 1, "flags": {"pct":
        {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [{"id": "r1", "clauses": [
            {"attribute": "country", "op": "in", "values": ["US", "CA", "GB"]},
            {"attribute": "app_version", "op": "semver_gte", "values": ["5.0.0"]},
            {"attribute": "device_model", "op": "starts_with", "values": ["Pixel"]}],
            "serve": {"percentage": {"percent": 30, "variation": "on", "otherwise": "off"}}}],
        "fallthrough": {"variation": "off"}}}})
    .to_string()
    .into_bytes()
}

/// The same flag for Unleash: three constraints and a 30% flexible rollout.
fn unleash_engine() -> unleash_yggdrasil::EngineState {
    let features = json!({"version": 2, "features": [
        {"name": "pct", "enabled": true, "strategies": [{"name": "flexibleRollout",
            "parameters": {"rollout": "30", "stickiness": "userId", "groupId": "pct"}, "constraints": [
                {"contextName": "country", "operator": "IN", "values": ["US", "CA", "GB"]},
                {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "4.9.9"},
                {"contextName": "deviceModel", "operator": "STR_STARTS_WITH", "values": ["Pixel"]}]}]}
    ]});
    let features: unleash_types::client_features::ClientFeatures =
        serde_json::from_value(features).unwrap();
    let engine = unleash_yggdrasil::EngineState::initial_state(chrono::Utc::now());
    let _ = engine.take_state(unleash_yggdrasil::UpdateMessage::FullResponse(features));
    engine
}

fn unleash_ctx() -> unleash_types::client_features::Context {
    let mut props = HashMap::new();
    props.insert("country".to_owned(), "US".to_owned());
    props.insert("appVersion".to_owned(), "5.2.1".to_owned());
    props.insert("deviceModel".to_owned(), "Pixel 8".to_owned());
    unleash_types::client_features::Context {
        user_id: Some("user-123456".into()),
        properties: Some(props),
        ..Default::default()
    }
}

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

    // The same flag and attributes on both sides (3 clauses + a 30%
    // rollout). LiteGate: the app's call, `Client::bool_value` /
    // `bool_details` with exposure recording on (a counter per flag and
    // variation plus a de-duplicated event). Unleash: `is_enabled` plus
    // `count_toggle`, i.e. evaluation plus its own per-flag yes/no metric
    // (what its SDKs do per call); `is_enabled` alone for reference.
    let pct_ctx = Context::new("user-123456")
        .country("US")
        .app_version("5.2.1")
        .device_model("Pixel 8");
    let mut config = ClientConfig::new("bench", "production");
    config.bootstrap = Some(pct_document());
    config.default_context = pct_ctx;
    let pct_client = Client::start(config).unwrap();
    let engine = unleash_engine();
    let uctx = unleash_ctx();
    let mut g = c.benchmark_group("client_vs_unleash_pct");
    g.bench_function("litegate_client_bool_value", |b| {
        b.iter(|| pct_client.bool_value(black_box("pct"), false))
    });
    g.bench_function("litegate_client_bool_details", |b| {
        b.iter(|| pct_client.bool_details(black_box("pct"), false, None))
    });
    g.bench_function("unleash_is_enabled_and_count", |b| {
        b.iter(|| {
            let on = engine.is_enabled(black_box("pct"), black_box(&uctx), &None);
            engine.count_toggle("pct", on);
            on
        })
    });
    g.bench_function("unleash_is_enabled_only", |b| {
        b.iter(|| engine.is_enabled(black_box("pct"), black_box(&uctx), &None))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
