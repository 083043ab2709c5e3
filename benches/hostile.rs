//! Issue 14: what hostile but accepted input costs.
//!
//! `prerequisites/worst_graph`: one lookup over the worst prerequisite graph
//! the default limits accept (depth 8, 16 flags reached, fan-out 20: a root
//! flag requiring all 16, below it 8 layers of 2 flags, each requiring every
//! flag of all deeper layers; 128 edges, every prerequisite
//! satisfied so the whole graph is walked). Target: under 10 us.
//! `worst_graph_rules` is the same graph with a three-clause percentage
//! rollout on every flag. `one_flag` is a lookup of one flag without
//! prerequisites, for scale on a loaded machine.
//!
//! Run: `cargo bench -p litegate-benches --bench hostile`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::config::Document;
use litegate::eval::{Context, Evaluator};
use serde_json::{json, Map, Value};

const LAYERS: usize = 8;
const WIDTH: usize = 2;
const FAN_OUT: usize = 20;

fn flag(prerequisites: Vec<Value>, with_rule: bool) -> Value {
    let rules = if with_rule {
        json!([{"id": "r1", "clauses": [
            {"attribute": "country", "op": "in", "values": ["US", "CA", "GB"]},
            {"attribute": "app_version", "op": "semver_gte", "values": ["5.0.0"]},
            {"attribute": "device_model", "op": "starts_with", "values": ["Pixel"]}],
            "serve": {"percentage": {"percent": 100, "variation": "on", "otherwise": "off"}}}])
    } else {
        json!([])
    };
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "prerequisites": prerequisites, "rules": rules, "fallthrough": {"variation": "on"}})
}

fn requires(names: &[String]) -> Vec<Value> {
    names
        .iter()
        .take(FAN_OUT)
        .map(|n| json!({"flag": n, "variations": ["on"]}))
        .collect()
}

/// The worst graph the default limits accept, as a document.
fn worst_graph(with_rule: bool) -> Document {
    let names: Vec<Vec<String>> = (0..LAYERS)
        .map(|l| (0..WIDTH).map(|i| format!("l{l}_{i}")).collect())
        .collect();
    let mut flags = Map::new();
    for l in 0..LAYERS {
        let deeper: Vec<String> = names[l + 1..].iter().flatten().cloned().collect();
        for name in &names[l] {
            flags.insert(name.clone(), flag(requires(&deeper), with_rule));
        }
    }
    let all: Vec<String> = names.iter().flatten().cloned().collect();
    flags.insert("root".to_owned(), flag(requires(&all), with_rule));
    let doc =
        json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags});
    let parsed = Document::parse(doc.to_string().as_bytes()).expect("the limits accept it");
    assert!(parsed.problems().is_empty(), "{:?}", parsed.problems());
    parsed
}

fn bench(c: &mut Criterion) {
    let ctx = Context::new("user-1")
        .country("US")
        .app_version("5.2.0")
        .device_model("Pixel 8");
    let mut g = c.benchmark_group("prerequisites");
    for (name, with_rule) in [("worst_graph", false), ("worst_graph_rules", true)] {
        let doc = worst_graph(with_rule);
        let e = Evaluator::new();
        assert!(e.bool_value(&doc, "root", &ctx, false));
        g.bench_function(name, |b| {
            b.iter(|| e.bool_value(black_box(&doc), black_box("root"), black_box(&ctx), false))
        });
    }
    let doc = worst_graph(false);
    let e = Evaluator::new();
    g.bench_function("one_flag", |b| {
        b.iter(|| e.bool_value(black_box(&doc), black_box("l7_0"), black_box(&ctx), false))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
