//! `Client::start` from a persisted rich 1,000-flag document to the first
//! evaluation, measured through `Client::start` itself: the background
//! runtime, config delivery (cache read, checksum, Ed25519 check, parse),
//! metrics, guardrails (state and session marker read; their writes go to
//! the background runtime) and the inference engine, then one
//! `Client::bool_details`.
//!
//! Run: `cargo bench -p litegate-benches --bench client_start -- --warm-up-time 1 --measurement-time 5`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::delivery::envelope;
use litegate::delivery::keys::PrivateKeyFile;
use litegate::eval::Context;
use litegate::{Client, ClientConfig};
use serde_json::{json, Value};
use std::time::Duration;

const FLAGS: usize = 1_000;

/// The rich flag of `benches/delivery.rs`: two rules, three clauses, a
/// percentage rule and a percentage fallthrough.
fn flag(i: usize) -> Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [
            {"id": "internal", "clauses": [
                {"attribute": "country", "op": "in", "values": ["US", "CA", "GB", "DE", "FR"]},
                {"attribute": "app_version", "op": "semver_gte", "values": [format!("5.{}.0", i % 10)]}],
             "serve": {"variation": "on"}},
            {"id": "pixels", "clauses": [
                {"attribute": "device_model", "op": "starts_with", "values": ["Pixel", "SM-"]}],
             "serve": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off"}}}],
        "fallthrough": {"percentage": {"percent": 7, "variation": "on", "otherwise": "off"}}})
}

fn document() -> Vec<u8> {
    let flags: serde_json::Map<String, Value> = (0..FLAGS)
        .map(|i| (format!("flag-{i:04}"), flag(i)))
        .collect();
    serde_json::to_vec(&json!({"format_version": 1, "environment": "production",
        "version": 7, "flags": flags}))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let key = PrivateKeyFile::generate(Some("bench")).expect("key");
    let payload = document();
    let body = envelope::seal(&payload, &[(key.key_id.clone(), key.key.clone())]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ClientConfig::new("bench", "production");
    config.storage_dir = Some(dir.path().to_owned());
    config.pinned_keys = vec![key.public().pinned()];
    config.default_context = Context::new("user-42")
        .country("DE")
        .app_version("5.3.1")
        .device_model("Pixel 8");
    // Persist the document the way the SDK does when it accepts it.
    {
        let client = Client::start(config.clone()).expect("start");
        client.delivery().submit(&body, None).expect("applies");
        client.shutdown(Duration::from_secs(5));
    }
    eprintln!(
        "rich document: {} bytes, signed envelope {} bytes, {FLAGS} flags",
        payload.len(),
        body.len()
    );
    let mut g = c.benchmark_group("client_start");
    g.bench_function("persisted_1000_rich_flags_to_first_eval", |b| {
        b.iter_with_large_drop(|| {
            let client = Client::start(config.clone()).expect("start");
            let d = client.bool_details("flag-0500", false, None);
            assert!(d.variation.is_some(), "the persisted document is in use");
            (black_box(d.value), client)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
