//! Flag evaluation and config parsing, with Unleash's Rust engine
//! (`unleash-yggdrasil`) evaluating equivalent flags in the same run.
//!
//! Run: `cargo bench -p litegate-benches --bench evaluation`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::config::Document;
use litegate::eval::{Context, Evaluator};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A percentage rollout behind three clauses.
fn pct_flag() -> Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [{"id": "r1", "clauses": [
            {"attribute": "country", "op": "in", "values": ["US", "CA", "GB"]},
            {"attribute": "app_version", "op": "semver_gte", "values": ["5.0.0"]},
            {"attribute": "device_model", "op": "starts_with", "values": ["Pixel"]}],
            "serve": {"percentage": {"percent": 30, "variation": "on", "otherwise": "off"}}}],
        "fallthrough": {"variation": "off"}})
}

/// `n` rules with SemVer clauses; only the last matches.
fn semver_flag(n: usize) -> Value {
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            let min = if i == n - 1 {
                "1.0.0".to_owned()
            } else {
                format!("{}.0.0", 10 + i)
            };
            json!({"id": format!("r{i}"), "clauses": [
                {"attribute": "app_version", "op": "semver_gte", "values": [min]},
                {"attribute": "os_version", "op": "semver_gte", "values": ["12.0.0"]}],
                "serve": {"variation": "on"}})
        })
        .collect();
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": rules, "fallthrough": {"variation": "off"}})
}

/// A realistic 1,000-flag document (about 390 KB): a quarter each of
/// percentage rollouts behind three clauses, three-rule SemVer flags, A/B
/// splits with targets, and int flags with one rule.
pub fn thousand_flag_document() -> Vec<u8> {
    let mut flags = serde_json::Map::new();
    for i in 0..1_000 {
        let f = match i % 4 {
            0 => pct_flag(),
            1 => semver_flag(3),
            2 => json!({"type": "string", "variations": {"a": "A", "b": "B"}, "off_variation": "a",
                "targets": [{"variation": "b", "ids": ["u1", "u2", "u3"]}],
                "fallthrough": {"split": {"arms": [{"variation": "a", "weight": 50}, {"variation": "b", "weight": 50}]}}}),
            _ => {
                json!({"type": "int", "variations": {"small": 1, "big": 100}, "off_variation": "small",
                "rules": [{"id": "ram", "clauses": [{"attribute": "ram_mb", "op": "gte", "values": [6000]}], "serve": {"variation": "big"}}],
                "fallthrough": {"variation": "small"}})
            }
        };
        flags.insert(format!("flag_{i:04}"), f);
    }
    json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags})
        .to_string()
        .into_bytes()
}

fn ctx() -> Context {
    Context::new("user-123456")
        .country("US")
        .app_version("5.2.1")
        .os_version("14")
        .device_model("Pixel 8")
        .ram_mb(8192.0)
}

fn unleash_engine() -> unleash_yggdrasil::EngineState {
    let constraints_pct = json!([
        {"contextName": "country", "operator": "IN", "values": ["US", "CA", "GB"]},
        {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "4.9.9"},
        {"contextName": "deviceModel", "operator": "STR_STARTS_WITH", "values": ["Pixel"]}]);
    let semver_strategies: Vec<Value> = (0..10)
        .map(|i| {
            let min = if i == 9 {
                "0.9.9".to_owned()
            } else {
                format!("{}.0.0", 10 + i)
            };
            json!({"name": "default", "parameters": {}, "constraints": [
                {"contextName": "appVersion", "operator": "SEMVER_GT", "value": min},
                {"contextName": "osVersion", "operator": "SEMVER_GT", "value": "11.9.9"}]})
        })
        .collect();
    let features = json!({"version": 2, "features": [
        {"name": "pct", "enabled": true, "strategies": [{"name": "flexibleRollout",
            "parameters": {"rollout": "30", "stickiness": "userId", "groupId": "pct"}, "constraints": constraints_pct}]},
        {"name": "semver", "enabled": true, "strategies": semver_strategies}
    ]});
    let features: unleash_types::client_features::ClientFeatures =
        serde_json::from_value(features).unwrap();
    let engine = unleash_yggdrasil::EngineState::initial_state(chrono::Utc::now());
    let _ = engine.take_state(unleash_yggdrasil::UpdateMessage::FullResponse(features));
    engine
}

/// 1,000 Unleash toggles in the mix of [`thousand_flag_document`]: a 30%
/// rollout behind three constraints, three SemVer strategies, a 50/50
/// variant split with a user-id override, and a single-constraint toggle.
fn unleash_thousand() -> unleash_yggdrasil::EngineState {
    let features: Vec<Value> = (0..1_000)
        .map(|i| {
            let name = format!("flag_{i:04}");
            let strategies = match i % 4 {
                0 => json!([{"name": "flexibleRollout",
                    "parameters": {"rollout": "30", "stickiness": "userId", "groupId": name},
                    "constraints": [
                        {"contextName": "country", "operator": "IN", "values": ["US", "CA", "GB"]},
                        {"contextName": "appVersion", "operator": "SEMVER_GT", "value": "4.9.9"},
                        {"contextName": "deviceModel", "operator": "STR_STARTS_WITH", "values": ["Pixel"]}]}]),
                1 => Value::Array((0..3).map(|r| json!({"name": "default", "parameters": {}, "constraints": [
                        {"contextName": "appVersion", "operator": "SEMVER_GT", "value": if r == 2 { "0.9.9".to_owned() } else { format!("{}.0.0", 10 + r) }},
                        {"contextName": "osVersion", "operator": "SEMVER_GT", "value": "11.9.9"}]})).collect()),
                2 => json!([{"name": "default", "parameters": {}, "constraints": [], "variants": [
                        {"name": "a", "weight": 500, "stickiness": "userId", "overrides": [{"contextName": "userId", "values": ["u1", "u2", "u3"]}]},
                        {"name": "b", "weight": 500, "stickiness": "userId"}]}]),
                _ => json!([{"name": "default", "parameters": {}, "constraints": [
                        {"contextName": "ramMb", "operator": "NUM_GTE", "value": "6000"}]}]),
            };
            json!({"name": name, "enabled": true, "strategies": strategies})
        })
        .collect();
    let features: unleash_types::client_features::ClientFeatures =
        serde_json::from_value(json!({"version": 2, "features": features})).unwrap();
    let engine = unleash_yggdrasil::EngineState::initial_state(chrono::Utc::now());
    let _ = engine.take_state(unleash_yggdrasil::UpdateMessage::FullResponse(features));
    engine
}

fn unleash_ctx() -> unleash_types::client_features::Context {
    let mut props = HashMap::new();
    props.insert("country".to_owned(), "US".to_owned());
    props.insert("appVersion".to_owned(), "5.2.1".to_owned());
    props.insert("osVersion".to_owned(), "14.0.0".to_owned());
    props.insert("deviceModel".to_owned(), "Pixel 8".to_owned());
    props.insert("ramMb".to_owned(), "8192".to_owned());
    unleash_types::client_features::Context {
        user_id: Some("user-123456".into()),
        properties: Some(props),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let doc = Document::parse(
        json!({"format_version": 1, "environment": "production", "version": 1,
            "flags": {"pct": pct_flag(), "semver": semver_flag(10)}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let ctx = ctx();
    let e = Evaluator::new();
    assert!(e.bool_details(&doc, "semver", &ctx, false).value);
    let engine = unleash_engine();
    let uctx = unleash_ctx();
    assert!(engine.is_enabled("semver", &uctx, &None));

    let mut g = c.benchmark_group("percentage_3_clauses");
    g.bench_function("litegate_value", |b| {
        b.iter(|| e.bool_value(black_box(&doc), "pct", black_box(&ctx), false))
    });
    g.bench_function("litegate", |b| {
        b.iter(|| e.bool_details(black_box(&doc), "pct", black_box(&ctx), false))
    });
    g.bench_function("unleash_yggdrasil", |b| {
        b.iter(|| engine.is_enabled(black_box("pct"), black_box(&uctx), &None))
    });
    // Same work on both sides: the `Evaluator` built per call (it reads the
    // clock, as `Client` does per read).
    g.bench_function("litegate_value_evaluator_per_call", |b| {
        b.iter(|| Evaluator::new().bool_value(black_box(&doc), "pct", black_box(&ctx), false))
    });
    // Same work on both sides: the app version parsed on every call
    // (Unleash parses its `appVersion` property per evaluation; here the
    // context's version attribute is rebuilt, and parsed, per call).
    let mut per_call_ctx = ctx.clone();
    g.bench_function("litegate_value_version_parsed_per_call", |b| {
        b.iter(|| {
            per_call_ctx = std::mem::take(&mut per_call_ctx).app_version(black_box("5.2.1"));
            Evaluator::new().bool_value(black_box(&doc), "pct", black_box(&per_call_ctx), false)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ten_semver_rules");
    g.bench_function("litegate_value", |b| {
        b.iter(|| e.bool_value(black_box(&doc), "semver", black_box(&ctx), false))
    });
    g.bench_function("litegate", |b| {
        b.iter(|| e.bool_details(black_box(&doc), "semver", black_box(&ctx), false))
    });
    g.bench_function("unleash_yggdrasil", |b| {
        b.iter(|| engine.is_enabled(black_box("semver"), black_box(&uctx), &None))
    });
    g.finish();

    let big = thousand_flag_document();
    let big_doc = Document::parse(&big).unwrap();
    eprintln!("1,000-flag document: {} bytes", big.len());
    let keys: Vec<String> = big_doc.flag_keys().map(str::to_owned).collect();
    c.bench_function("all_flags_of_1000", |b| {
        b.iter(|| {
            let e = Evaluator::new();
            let mut n = 0usize;
            for k in &keys {
                n += usize::from(e.details(&big_doc, k, &ctx).is_ok());
            }
            n
        })
    });
    // The peer for all flags: Unleash's `resolve_all` over 1,000 toggles
    // (a quarter each of the shapes above, as constraints).
    let uall = unleash_thousand();
    assert_eq!(uall.resolve_all(&uctx, &None).map(|m| m.len()), Some(1_000));
    c.bench_function("all_flags_of_1000_unleash_resolve_all", |b| {
        b.iter(|| uall.resolve_all(black_box(&uctx), &None))
    });
    c.bench_function("parse_validate_1000_flags", |b| {
        b.iter(|| Document::parse(black_box(&big)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
