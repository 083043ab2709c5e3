//! Several threads record while cuts, persistence and uploads run
//! continuously; every total stays exact.

mod metrics_collector;

use litegate::metrics::{names, EventKind, Metrics, PointValue};
use metrics_collector::{config, runtime, Collector};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const THREADS: u64 = 4;
const OPS: u64 = 200_000;

#[test]
fn threads_record_while_persisting_and_uploading_totals_exact() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    // Some retries in the mix.
    collector.script(&[
        (503, None),
        (200, None),
        (429, Some("0")),
        (200, None),
        (502, None),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(Some(&collector.url), Some(dir.path()));
    c.persist_interval = Duration::from_millis(3);
    c.upload_interval = Duration::from_millis(5);
    c.max_batches_per_round = 4;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    let shared = m.counter(names::INFERENCE_RUNS, &[("outcome", "ok")]);
    let hist = m.histogram(names::INFERENCE_LATENCY_MS, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    // A thread that keeps checkpointing from outside the runtime too.
    let checkpointer = {
        let m = m.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 100_000 {
                m.checkpoint().expect("checkpoint");
                std::thread::sleep(Duration::from_millis(1));
                n += 1;
            }
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let m = m.clone();
            let shared = shared.clone();
            let hist = hist.clone();
            std::thread::spawn(move || {
                let own = m.counter("per_thread", &[("thread", &t.to_string())]);
                let g = m.gauge("thread.progress", &[("thread", &t.to_string())]);
                for i in 0..OPS {
                    shared.inc();
                    own.add(2);
                    hist.record((i % 1000) as f64);
                    if i % 1000 == 0 {
                        g.set(i as f64);
                        m.event(EventKind::Fallback, &[("thread", (t as i64).into())]);
                    }
                }
                g.set(OPS as f64);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    stop.store(true, Ordering::Relaxed);
    checkpointer.join().expect("checkpointer");
    let mut stats = m.flush_blocking(Duration::from_secs(60)).expect("flush");
    for _ in 0..20 {
        if stats.queued_batches == 0 {
            break;
        }
        stats = m.flush_blocking(Duration::from_secs(60)).expect("flush");
    }
    assert_eq!(stats.queued_batches, 0, "{stats:?}");
    assert_eq!(stats.lost_items(), 0, "{stats:?}");
    let t = collector.totals();
    assert_eq!(
        t.counter(names::INFERENCE_RUNS, "outcome=ok"),
        THREADS * OPS
    );
    for th in 0..THREADS {
        assert_eq!(t.counter("per_thread", &format!("thread={th}")), 2 * OPS);
        assert_eq!(
            t.gauges[&("thread.progress".to_owned(), format!("thread={th}"))],
            OPS as f64
        );
    }
    let (count, sum, buckets, min, max) =
        t.histograms[&(names::INFERENCE_LATENCY_MS.to_owned(), String::new())];
    let per_thread_sum: u64 = (0..OPS).map(|i| i % 1000).sum();
    assert_eq!((count, buckets), (THREADS * OPS, THREADS * OPS));
    assert_eq!(sum, (THREADS * per_thread_sum) as f64);
    assert_eq!((min, max), (0.0, 999.0));
    assert_eq!(
        t.events_named("litegate.fallback") as u64,
        THREADS * OPS / 1000
    );
    // The snapshot agrees.
    let snap = m.snapshot();
    let h = snap
        .iter()
        .find(|p| p.name == names::INFERENCE_LATENCY_MS)
        .expect("histogram in snapshot");
    match &h.value {
        PointValue::Histogram { histogram } => {
            assert_eq!(histogram.count, THREADS * OPS);
            let p50 = histogram.quantile(0.5).expect("p50");
            assert!((p50 - 499.0).abs() <= 499.0 * 0.0055 + 1.0, "p50 {p50}");
        }
        other => panic!("not a histogram: {other:?}"),
    }
    assert!(
        collector.received().len() > 5,
        "uploads ran during recording"
    );
    m.shutdown(Duration::from_secs(10)).expect("shutdown");
}
