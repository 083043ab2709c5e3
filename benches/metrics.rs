//! Record-path cost: LiteGate's counter and histogram next to
//! OpenTelemetry-Rust's SDK (`opentelemetry_sdk`) instruments, in the same
//! run, with 1 thread and with 2 threads recording into the same series.
//!
//! Run: `cargo bench -p litegate-benches --bench metrics -- --warm-up-time 1 --measurement-time 3`
//!
//! The 2-thread cases report the wall time per operation per thread (each
//! thread does `iters` operations concurrently): equal to the 1-thread
//! figure means perfect scaling.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use litegate::metrics::{names, Metrics, MetricsConfig};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const LABELS: [(&str, &str); 3] = [("model", "m1"), ("accelerator", "gpu"), ("outcome", "ok")];

fn otel_attrs() -> [KeyValue; 3] {
    LABELS.map(|(k, v)| KeyValue::new(k, v))
}

/// Runs `op(thread, i)` `iters` times on each of `threads` threads at once;
/// returns the wall time (so per-iteration time is per op per thread).
fn run_threads<F>(threads: usize, iters: u64, op: F) -> Duration
where
    F: Fn(u64, u64) + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            let op = op.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for i in 0..iters {
                    op(t, i);
                }
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for h in handles {
        let _ = h.join();
    }
    t0.elapsed()
}

/// A latency-like value stream: 0.0 to 499.9 ms; each thread walks it from
/// its own starting point, as independent callers would.
fn sample(thread: u64, i: u64) -> f64 {
    (i.wrapping_mul(7919).wrapping_add(thread * 2503) % 5000) as f64 * 0.1
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let lg = Metrics::new(MetricsConfig::new("bench"), rt.handle().clone()).expect("metrics");
    let lg_counter = lg.counter(names::INFERENCE_RUNS, &LABELS);
    let lg_hist = lg.histogram(names::INFERENCE_LATENCY_MS, &LABELS[..2]);

    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build();
    let meter = provider.meter("bench");
    let otel_counter = meter.u64_counter(names::INFERENCE_RUNS).build();
    let otel_hist = meter.f64_histogram(names::INFERENCE_LATENCY_MS).build();
    let attrs = otel_attrs();
    let attrs2 = [attrs[0].clone(), attrs[1].clone()];

    // OTel's bound instruments (`experimental_metrics_bound_instruments`):
    // attributes resolved once, like LiteGate's handles.
    let otel_counter_bound = otel_counter.bind(&attrs);
    let otel_hist_bound = otel_hist.bind(&attrs2);

    let mut g = c.benchmark_group("counter_add_1thread");
    g.bench_function("litegate", |b| b.iter(|| lg_counter.add(black_box(1))));
    g.bench_function("otel_sdk", |b| {
        b.iter(|| otel_counter.add(black_box(1), &attrs))
    });
    g.bench_function("otel_sdk_bound", |b| {
        b.iter(|| otel_counter_bound.add(black_box(1)))
    });
    g.finish();

    // By name: LiteGate looks the series up from (name, labels) on every
    // call (`metrics.counter(name, labels).add`); OTel's unbound path passes
    // the attributes on every call to an instrument built once.
    let mut g = c.benchmark_group("counter_by_name_1thread");
    g.bench_function("litegate_by_name", |b| {
        b.iter(|| lg.counter(black_box(names::INFERENCE_RUNS), &LABELS).add(1))
    });
    g.bench_function("otel_sdk_unbound", |b| {
        b.iter(|| otel_counter.add(black_box(1), &attrs))
    });
    g.finish();

    let mut g = c.benchmark_group("histogram_record_1thread");
    let mut i = 0u64;
    g.bench_function("litegate", |b| {
        b.iter(|| {
            i += 1;
            lg_hist.record(black_box(sample(0, i)));
        })
    });
    g.bench_function("otel_sdk", |b| {
        b.iter(|| {
            i += 1;
            otel_hist.record(black_box(sample(0, i)), &attrs2);
        })
    });
    g.bench_function("otel_sdk_bound", |b| {
        b.iter(|| {
            i += 1;
            otel_hist_bound.record(black_box(sample(0, i)));
        })
    });
    // The same series from one thread through the 2-thread harness, so the
    // 2-thread row below compares like with like (thread start included).
    let h1 = lg_hist.clone();
    g.bench_function("litegate_harness_1thread", |b| {
        b.iter_custom(|iters| {
            let h = h1.clone();
            run_threads(1, iters, move |t, i| h.record(black_box(sample(t, i))))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("counter_add_2threads_same_series");
    let h = lg_counter.clone();
    g.bench_function("litegate", |b| {
        b.iter_custom(|iters| {
            let h = h.clone();
            run_threads(2, iters, move |_, _| h.add(black_box(1)))
        })
    });
    let oc = otel_counter.clone();
    g.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| {
            let oc = oc.clone();
            let a = otel_attrs();
            run_threads(2, iters, move |_, _| oc.add(black_box(1), &a))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("histogram_record_2threads_same_series");
    let h = lg_hist.clone();
    g.bench_function("litegate", |b| {
        b.iter_custom(|iters| {
            let h = h.clone();
            run_threads(2, iters, move |t, i| h.record(black_box(sample(t, i))))
        })
    });
    // Control: each thread its own series, so nothing is shared at all; the
    // gap between this and the row above is what sharing one series costs.
    let separate = [
        lg.histogram("bench.separate", &[("thread", "0")]),
        lg.histogram("bench.separate", &[("thread", "1")]),
    ];
    g.bench_function("litegate_separate_series", |b| {
        b.iter_custom(|iters| {
            let hs = separate.clone();
            run_threads(2, iters, move |t, i| {
                hs[t as usize % 2].record(black_box(sample(t, i)))
            })
        })
    });
    let oh = otel_hist.clone();
    g.bench_function("otel_sdk", |b| {
        b.iter_custom(|iters| {
            let oh = oh.clone();
            let a = [otel_attrs()[0].clone(), otel_attrs()[1].clone()];
            run_threads(2, iters, move |t, i| oh.record(black_box(sample(t, i)), &a))
        })
    });
    g.finish();
    drop(lg);
}

criterion_group!(benches, bench);
criterion_main!(benches);
