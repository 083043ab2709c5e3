//! The upload pipeline against a real loopback OTLP collector.

mod metrics_collector;

use litegate::metrics::{names, AttrValue, DropReason, EventKind, Metrics, PointValue};
use metrics_collector::{config, runtime, Collector};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn totals_exact_across_flushes_and_retries() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    // Some retryable failures along the way: 503, a connection-level success
    // after, then a 502 later.
    collector.script(&[(503, None), (200, None), (200, None), (502, None)]);
    let m = Metrics::new(config(Some(&collector.url), None), rt.handle().clone()).expect("metrics");
    let ok = m.counter(names::INFERENCE_RUNS, &[("model", "m1"), ("outcome", "ok")]);
    let err = m.counter(
        names::INFERENCE_RUNS,
        &[("outcome", "error"), ("model", "m1")],
    );
    let lat = m.histogram(names::INFERENCE_LATENCY_MS, &[("model", "m1")]);
    let gauge = m.gauge("app.queue.depth", &[]);
    let mut expect_sum = 0.0;
    let mut n_hist = 0u64;
    for round in 0..3u64 {
        for i in 0..1000u64 {
            ok.inc();
            if i % 10 == 0 {
                err.add(2);
            }
            let v = ((i * 7 + round) % 400) as f64; // integers: exact sums
            lat.record(v);
            expect_sum += v;
            n_hist += 1;
        }
        gauge.set(round as f64 + 0.5);
        m.event(
            EventKind::Fallback,
            &[
                ("from", "gpu".into()),
                ("to", AttrValue::from("cpu")),
                ("round", (round as i64).into()),
            ],
        );
        let stats = m.flush_blocking(WAIT).expect("flush");
        assert_eq!(stats.queued_batches, 0, "round {round}: {stats:?}");
    }
    let t = collector.totals();
    assert_eq!(
        t.counter(names::INFERENCE_RUNS, "model=m1,outcome=ok"),
        3000
    );
    assert_eq!(
        t.counter(names::INFERENCE_RUNS, "model=m1,outcome=error"),
        600
    );
    let (count, sum, buckets, min, max) = t.histograms[&(
        names::INFERENCE_LATENCY_MS.to_owned(),
        "model=m1".to_owned(),
    )];
    assert_eq!(count, n_hist);
    assert_eq!(buckets, n_hist);
    assert_eq!(sum, expect_sum);
    assert_eq!((min, max), (0.0, 399.0));
    assert_eq!(
        t.gauges[&("app.queue.depth".to_owned(), String::new())],
        2.5
    );
    assert_eq!(t.events_named("litegate.fallback"), 3);
    let stats = m.stats();
    assert!(stats.retries >= 2, "{stats:?}");
    assert_eq!(stats.lost_items(), 0);
    // Snapshot agrees with what was delivered.
    let snap = m.snapshot();
    let runs: u64 = snap
        .iter()
        .filter(|p| p.name == names::INFERENCE_RUNS)
        .map(|p| match p.value {
            PointValue::Counter { value } => value,
            _ => 0,
        })
        .sum();
    assert_eq!(runs, 3600);
    let json = serde_json::to_string(&snap).expect("snapshot json");
    assert!(json.contains("\"scale\":6"));
    m.shutdown(WAIT).expect("shutdown");
}

#[test]
fn requests_carry_resource_headers_and_gzip() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), None);
    c.headers = vec![("x-api-key".into(), "secret-1".into())];
    c.resource.platform = "android".into();
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    m.counter("a", &[]).inc();
    m.flush_blocking(WAIT).expect("flush");
    m.set_config_version(42);
    m.set_resource_attribute("device.model", "Pixel 9");
    m.counter("a", &[]).inc();
    m.event(EventKind::Error, &[("code", 7i64.into())]);
    m.flush_blocking(WAIT).expect("flush");
    let got = collector.received();
    assert_eq!(got.len(), 3);
    for r in &got {
        assert_eq!(
            r.headers.get("x-api-key").map(String::as_str),
            Some("secret-1")
        );
        assert_eq!(
            r.headers.get("content-encoding").map(String::as_str),
            Some("gzip")
        );
        assert_eq!(r.batch_id.len(), 32);
    }
    let attrs = |r: &metrics_collector::Received, key: &str| -> Option<String> {
        let res = if r.path == "/v1/metrics" {
            &r.json["resourceMetrics"][0]["resource"]
        } else {
            &r.json["resourceLogs"][0]["resource"]
        };
        res["attributes"]
            .as_array()?
            .iter()
            .find(|kv| kv["key"] == key)
            .and_then(|kv| kv["value"]["stringValue"].as_str().map(str::to_owned))
    };
    assert_eq!(attrs(&got[0], "service.name").as_deref(), Some("test-app"));
    assert_eq!(attrs(&got[0], "os.type").as_deref(), Some("android"));
    assert_eq!(attrs(&got[0], "litegate.config.version"), None);
    assert_eq!(
        attrs(&got[1], "litegate.config.version").as_deref(),
        Some("42")
    );
    assert_eq!(attrs(&got[2], "device.model").as_deref(), Some("Pixel 9"));
    assert_eq!(got[2].path, "/v1/logs");
    let rec = &got[2].json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(rec["severityNumber"], 17);
    assert!(rec["attributes"].as_array().is_some_and(|a| a
        .iter()
        .any(|kv| kv["key"] == "code" && kv["value"]["intValue"] == "7")));
}

#[test]
fn exposures_deduplicated_and_keys_hashed() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), None);
    c.targeting_key_salt = Some("app-salt".into());
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    assert!(m.exposure("new_model", "on", "user-1"));
    for _ in 0..4 {
        assert!(!m.exposure("new_model", "on", "user-1"));
    }
    m.exposure("new_model", "off", "user-1");
    m.exposure("new_model", "on", "user-2");
    m.flush_blocking(WAIT).expect("flush");
    let t = collector.totals();
    assert_eq!(t.events_named("litegate.exposure"), 3);
    assert_eq!(
        t.counter(names::FLAG_EXPOSURES, "flag=new_model,variation=on"),
        6
    );
    assert_eq!(m.stats().dropped(DropReason::DuplicateExposure), 4);
    let all: Vec<u8> = collector
        .received()
        .into_iter()
        .flat_map(|r| r.body)
        .collect();
    let text = String::from_utf8_lossy(&all);
    assert!(
        !text.contains("user-1") && !text.contains("user-2"),
        "raw key uploaded"
    );
    assert!(text.contains(&litegate::metrics::hash_targeting_key("app-salt", "user-1")));
    // The drop counts are uploaded as metrics themselves on the next cut.
    m.flush_blocking(WAIT).expect("flush");
    let t = collector.totals();
    assert_eq!(t.counter(names::DROPPED, "reason=duplicate_exposure"), 4);
}

#[test]
fn series_beyond_cap_go_to_overflow_and_are_counted() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), None);
    c.series.max_series = 3;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    for i in 0..10 {
        m.counter("per_user", &[("user", &format!("u{i}"))]).add(5);
    }
    m.counter("per_user", &[("user", "u0")]).add(1);
    let too_long = "x".repeat(500);
    m.counter("per_user", &[("user", &too_long)]).add(1);
    m.flush_blocking(WAIT).expect("flush");
    m.flush_blocking(WAIT).expect("flush");
    let t = collector.totals();
    assert_eq!(t.counter_all_labels("per_user"), 52);
    assert_eq!(t.counter("per_user", "user=u0"), 6);
    assert_eq!(t.counter("per_user", "otel.metric.overflow=true"), 36);
    assert_eq!(m.stats().dropped(DropReason::SeriesOverflow), 8);
    assert_eq!(t.counter(names::DROPPED, "reason=series_overflow"), 8);
}

#[test]
fn blocking_flush_refused_inside_runtime() {
    let rt = runtime();
    let m = Metrics::new(config(None, None), rt.handle().clone()).expect("metrics");
    let m2 = m.clone();
    let r = rt.block_on(async move { m2.flush_blocking(Duration::from_secs(1)) });
    assert!(matches!(
        r,
        Err(litegate::metrics::MetricsError::BlockingInRuntime)
    ));
    let stats = rt.block_on(m.flush()).expect("async flush");
    assert_eq!(stats.delivered_batches, 0);
}

#[test]
fn large_cut_is_split_into_byte_bounded_batches() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), None);
    c.max_batch_bytes = 8 * 1024;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    for i in 0..300u64 {
        m.counter("wide", &[("series", &format!("s{i:03}")), ("model", "m1")])
            .add(i + 1);
    }
    for i in 0..20u64 {
        m.histogram("wide.hist", &[("series", &format!("h{i:02}"))])
            .record(1.0 + i as f64);
    }
    for i in 0..500i64 {
        m.event(
            EventKind::Error,
            &[("code", i.into()), ("detail", "x".repeat(40).into())],
        );
    }
    let s = m.flush_blocking(WAIT).expect("flush");
    assert_eq!(s.queued_batches, 0);
    let got = collector.received();
    let metrics_reqs = got.iter().filter(|r| r.path == "/v1/metrics").count();
    let logs_reqs = got.iter().filter(|r| r.path == "/v1/logs").count();
    assert!(
        metrics_reqs >= 3 && logs_reqs >= 3,
        "{metrics_reqs} {logs_reqs}"
    );
    for r in &got {
        assert!(
            r.body.len() <= 8 * 1024 + 1024,
            "batch of {} bytes",
            r.body.len()
        );
    }
    let t = collector.totals();
    assert_eq!(t.counter_all_labels("wide"), (1..=300).sum::<u64>());
    assert_eq!(
        t.histograms
            .keys()
            .filter(|(n, _)| n == "wide.hist")
            .count(),
        20
    );
    assert_eq!(t.events_named("litegate.error"), 500);
}

#[test]
fn full_event_queue_drops_are_counted_and_uploaded() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), None);
    c.max_pending_events = 5;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    let accepted = (0..8)
        .filter(|i| m.event(EventKind::Rollback, &[("i", (*i as i64).into())]))
        .count();
    assert_eq!(accepted, 5);
    let s = m.flush_blocking(WAIT).expect("flush");
    assert_eq!(s.dropped(DropReason::QueueFull), 3);
    assert_eq!(s.delivered_events, 5);
    assert_eq!(collector.totals().events_named("litegate.rollback"), 5);
    assert_eq!(
        collector
            .totals()
            .counter(names::DROPPED, "reason=queue_full"),
        3
    );
}
