//! `Client::flush` tells a `?` caller when nothing was delivered: a real
//! loopback collector that refuses, then accepts.

#[path = "metrics_collector/mod.rs"]
mod metrics_collector;

use litegate::eval::Context;
use litegate::metrics::MetricsError;
use litegate::{Client, ClientConfig};
use std::time::Duration;

const DOC: &str = r#"{"format_version": 1, "environment": "production", "version": 1,
  "flags": {"f": {"type": "bool", "variations": {"on": true, "off": false},
  "off_variation": "off", "fallthrough": {"variation": "on"}}}}"#;

#[test]
fn flush_is_an_error_while_the_collector_refuses_and_ok_once_delivered() {
    let rt = metrics_collector::runtime();
    let collector = metrics_collector::Collector::start(&rt);
    // Every upload attempt of the first flush is refused.
    collector.script(&[(503, None); 64]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClientConfig::new("test-app", "production");
    config.bootstrap = Some(DOC.as_bytes().to_vec());
    config.storage_dir = Some(dir.path().to_path_buf());
    config.metrics_endpoint = Some(collector.url.clone());
    config.default_context = Context::new("user-1");
    let client = Client::start(config).unwrap();
    assert!(client.bool_value("f", false));

    let err = client.flush(Duration::from_secs(10)).unwrap_err();
    let MetricsError::NotDelivered { queued_batches, .. } = err else {
        panic!("expected NotDelivered, got {err}");
    };
    assert!(queued_batches >= 1, "{err}");
    assert!(err.to_string().contains("still queued"), "{err}");
    assert!(!collector.received().is_empty(), "the collector was asked");

    // The collector recovers: the same data is delivered and flush says so.
    collector.clear_script();
    let stats = client.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(stats.queued_batches, 0);
    assert!(stats.delivered_batches >= 1);
    assert!(
        collector
            .totals()
            .counter_all_labels("litegate.flag.exposures")
            >= 1
    );

    // Without an endpoint nothing is owed: flush is Ok.
    let mut local = ClientConfig::new("test-app", "production");
    local.bootstrap = Some(DOC.as_bytes().to_vec());
    let offline = Client::start(local).unwrap();
    offline.bool_value("f", false);
    offline.flush(Duration::from_secs(5)).unwrap();
}
