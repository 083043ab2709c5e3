//! Last step: flush metrics to the (loopback) OTLP collector and print what
//! it received, decoded from the OTLP/JSON it was sent.

use crate::loopback::Loopback;
use litegate::Client;
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs the step.
pub fn run(client: &Client, collector: &Loopback) -> Result<(), String> {
    let stats = client
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("flush: {e}"))?;
    let posts = collector
        .state
        .lock()
        .map_err(|_| "collector state poisoned")?
        .posts
        .clone();
    let mut counters: BTreeMap<String, i64> = BTreeMap::new();
    let mut histograms: BTreeMap<String, u64> = BTreeMap::new();
    let mut events: BTreeMap<String, usize> = BTreeMap::new();
    for (path, body) in &posts {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("{path}: not JSON: {e}"))?;
        if path.ends_with("/v1/metrics") {
            for m in all(&v, &["resourceMetrics", "scopeMetrics", "metrics"]) {
                let name = m["name"].as_str().unwrap_or("?").to_owned();
                for dp in m["sum"]["dataPoints"].as_array().into_iter().flatten() {
                    let n = dp["asInt"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .or(dp["asInt"].as_i64())
                        .unwrap_or(0);
                    *counters.entry(name.clone()).or_default() += n;
                }
                for kind in ["histogram", "exponentialHistogram"] {
                    for dp in m[kind]["dataPoints"].as_array().into_iter().flatten() {
                        let n = dp["count"]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .or(dp["count"].as_u64())
                            .unwrap_or(0);
                        *histograms.entry(name.clone()).or_default() += n;
                    }
                }
            }
        } else if path.ends_with("/v1/logs") {
            for r in all(&v, &["resourceLogs", "scopeLogs", "logRecords"]) {
                *events
                    .entry(r["eventName"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
            }
        }
    }
    println!("the collector received {} OTLP requests:", posts.len());
    for (name, n) in &counters {
        println!("  counter    {name:<40} {n:>8}");
    }
    for (name, n) in &histograms {
        println!("  histogram  {name:<40} {n:>8} samples");
    }
    for (name, n) in &events {
        println!("  events     {name:<40} {n:>8}");
    }
    println!(
        "pipeline: {} delivered batches, dropped by reason: {}",
        stats.delivered_batches,
        if stats.dropped.is_empty() {
            "none".to_owned()
        } else {
            stats
                .dropped
                .iter()
                .map(|(reason, n)| format!("{} {n}", reason.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if counters.is_empty() || events.is_empty() {
        return Err("the collector received no metrics or no events".into());
    }
    Ok(())
}

/// Every object reached by following `path` through nested arrays.
fn all<'a>(v: &'a serde_json::Value, path: &[&str]) -> Vec<&'a serde_json::Value> {
    let mut level = vec![v];
    for key in path {
        level = level
            .into_iter()
            .flat_map(|x| x[*key].as_array().into_iter().flatten())
            .collect();
    }
    level
}
