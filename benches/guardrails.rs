//! Guardrail evaluation on the inference path: the cost of one `observe`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::config::Document;
use litegate::guardrails::{Guardrails, Observation, ObservationKind, Subject};

fn engine() -> Guardrails {
    let json = br#"{
      "format_version": 1, "environment": "production", "version": 1,
      "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                "off_variation": "off", "fallthrough": {"variation": "on"}}},
      "guardrails": {
        "errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "threshold": 5,
                   "window": {"last": 100}, "min_samples": 20},
        "slow": {"target": {"flag": "new_model"}, "metric": "latency_p95", "threshold": 750,
                 "window": {"duration": "5m"}, "min_samples": 20, "severity": "warning"},
        "m_slow": {"target": {"model": "face"}, "metric": "latency_max", "threshold": 2000,
                   "window": {"last": 1}, "action": "force_fallback"},
        "m_fail": {"target": {"model": "face"}, "metric": "inference_failure_rate", "threshold": 20,
                   "window": {"last": 50}, "min_samples": 10, "action": "disable_accelerator"},
        "m_p99": {"target": {"model": "face"}, "metric": "latency_p99", "threshold": 1500,
                  "window": {"duration": "10m"}, "min_samples": 50, "severity": "warning"}
      }
    }"#;
    let doc = Document::parse(json).expect("bench config parses");
    let mut g = Guardrails::in_memory();
    g.apply_config(&doc).expect("bench guardrails parse");
    g
}

fn bench(c: &mut Criterion) {
    let mut g = engine();
    let flag = Subject::flag("new_model");
    let mut t = 0i64;
    c.bench_function("guardrails/observe_flag_run_2_guardrails", |b| {
        b.iter(|| {
            t += 7;
            let kind = ObservationKind::Run {
                ok: true,
                latency_ms: 40.0 + (t % 13) as f64,
                fell_back: false,
            };
            black_box(g.observe(black_box(&Observation::new(flag.clone(), kind, t))))
        })
    });
    let mut g = engine();
    let model = Subject::model("face", Some("gpu"));
    c.bench_function("guardrails/observe_model_run_3_guardrails", |b| {
        b.iter(|| {
            t += 7;
            let kind = ObservationKind::Run {
                ok: true,
                latency_ms: 40.0 + (t % 13) as f64,
                fell_back: false,
            };
            black_box(g.observe(black_box(&Observation::new(model.clone(), kind, t))))
        })
    });
    let mut g = engine();
    let other = Subject::flag("unguarded");
    c.bench_function("guardrails/observe_unguarded_subject", |b| {
        b.iter(|| {
            let kind = ObservationKind::Run {
                ok: true,
                latency_ms: 40.0,
                fell_back: false,
            };
            black_box(g.observe(black_box(&Observation::new(other.clone(), kind, 1))))
        })
    });
    let g = engine();
    c.bench_function("guardrails/local_disables_snapshot", |b| {
        b.iter(|| black_box(g.local_disables()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
