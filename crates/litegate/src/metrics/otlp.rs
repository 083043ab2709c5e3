//! OTLP/JSON encoding of batches (pure functions, no I/O).
//!
//! Follows the OTLP JSON mapping: lowerCamelCase field names, 64-bit
//! integers as decimal strings, enums as numbers. Counters are `sum` with
//! DELTA temporality (1) and `isMonotonic`; gauges are `gauge`; histograms
//! are `exponentialHistogram` (DELTA) at scale 6; events are log records
//! with `eventName`.

use super::batch::{Batch, BatchBody, Resource};
use super::events::{AttrValue, Event};
use super::names;
use super::registry::{MetricPoint, PointValue};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The instrumentation scope name.
pub const SCOPE_NAME: &str = "litegate";
/// OTLP `AGGREGATION_TEMPORALITY_DELTA`.
const DELTA: u8 = 1;

fn kv(key: &str, value: Value) -> Value {
    json!({ "key": key, "value": value })
}

fn string_attrs(attrs: &[(String, String)]) -> Vec<Value> {
    attrs
        .iter()
        .map(|(k, v)| kv(k, json!({ "stringValue": v })))
        .collect()
}

fn attr_value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Bool(b) => json!({ "boolValue": b }),
        AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttrValue::Double(d) if d.is_finite() => json!({ "doubleValue": d }),
        AttrValue::Double(d) => json!({ "stringValue": d.to_string() }),
        AttrValue::Str(s) => json!({ "stringValue": s }),
    }
}

fn resource(r: &Resource) -> Value {
    json!({ "attributes": string_attrs(&r.attributes()) })
}

fn scope() -> Value {
    json!({ "name": SCOPE_NAME, "version": env!("CARGO_PKG_VERSION") })
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

fn data_point(p: &MetricPoint, start: u64, end: u64) -> Value {
    let mut dp = json!({
        "attributes": string_attrs(&p.labels),
        "startTimeUnixNano": start.to_string(),
        "timeUnixNano": end.to_string(),
    });
    let Some(obj) = dp.as_object_mut() else {
        return dp;
    };
    match &p.value {
        PointValue::Counter { value } => {
            obj.insert("asInt".into(), json!(value.to_string()));
        }
        PointValue::Gauge { value } => {
            obj.insert("asDouble".into(), json!(finite(*value)));
        }
        PointValue::Histogram { histogram: h } => {
            obj.insert("count".into(), json!(h.count.to_string()));
            obj.insert("sum".into(), json!(finite(h.sum)));
            obj.insert("scale".into(), json!(h.scale));
            obj.insert("zeroCount".into(), json!(h.zero_count.to_string()));
            obj.insert(
                "positive".into(),
                json!({
                    "offset": h.positive.offset,
                    "bucketCounts": h.positive.bucket_counts.iter().map(u64::to_string).collect::<Vec<_>>(),
                }),
            );
            if let (Some(min), Some(max)) = (h.min, h.max) {
                obj.insert("min".into(), json!(finite(min)));
                obj.insert("max".into(), json!(finite(max)));
            }
        }
    }
    dp
}

/// The `ExportMetricsServiceRequest` JSON for a metrics batch.
pub fn metrics_request(batch: &Batch, points: &[MetricPoint]) -> Value {
    // One metric per (name, kind), data points in label order.
    let mut by_name: BTreeMap<(&str, u8), Vec<Value>> = BTreeMap::new();
    for p in points {
        let kind = match p.value {
            PointValue::Counter { .. } => 0,
            PointValue::Gauge { .. } => 1,
            PointValue::Histogram { .. } => 2,
        };
        by_name
            .entry((p.name.as_str(), kind))
            .or_default()
            .push(data_point(p, batch.start_unix_nano, batch.end_unix_nano));
    }
    let metrics: Vec<Value> = by_name
        .into_iter()
        .map(|((name, kind), dps)| {
            let mut m = json!({ "name": name, "unit": names::unit(name) });
            if let Some(obj) = m.as_object_mut() {
                let (field, data) = match kind {
                    0 => (
                        "sum",
                        json!({ "dataPoints": dps, "aggregationTemporality": DELTA, "isMonotonic": true }),
                    ),
                    1 => ("gauge", json!({ "dataPoints": dps })),
                    _ => (
                        "exponentialHistogram",
                        json!({ "dataPoints": dps, "aggregationTemporality": DELTA }),
                    ),
                };
                obj.insert(field.into(), data);
            }
            m
        })
        .collect();
    json!({
        "resourceMetrics": [{
            "resource": resource(&batch.resource),
            "scopeMetrics": [{ "scope": scope(), "metrics": metrics }],
        }]
    })
}

fn log_record(e: &Event, observed: u64) -> Value {
    let (severity, text) = e.kind.severity();
    let name = e.kind.event_name();
    let mut attrs: Vec<Value> = vec![kv("event.name", json!({ "stringValue": name }))];
    attrs.extend(e.attributes.iter().map(|(k, v)| kv(k, attr_value(v))));
    json!({
        "timeUnixNano": e.time_unix_nano.to_string(),
        "observedTimeUnixNano": observed.to_string(),
        "severityNumber": severity,
        "severityText": text,
        "eventName": name,
        "body": { "stringValue": name },
        "attributes": attrs,
    })
}

/// The `ExportLogsServiceRequest` JSON for an events batch.
pub fn logs_request(batch: &Batch, events: &[Event]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .map(|e| log_record(e, batch.end_unix_nano))
        .collect();
    json!({
        "resourceLogs": [{
            "resource": resource(&batch.resource),
            "scopeLogs": [{ "scope": scope(), "logRecords": records }],
        }]
    })
}

/// The JSON body for any batch.
pub fn request_body(batch: &Batch) -> Value {
    match &batch.body {
        BatchBody::Metrics { points } => metrics_request(batch, points),
        BatchBody::Events { events } => logs_request(batch, events),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::HistogramSnapshot;

    #[test]
    fn encodes_all_kinds() {
        let batch = Batch {
            id: "x".into(),
            start_unix_nano: 1,
            end_unix_nano: 2,
            resource: Resource::new("app"),
            body: BatchBody::Metrics { points: vec![] },
        };
        let points = vec![
            MetricPoint {
                name: "c".into(),
                labels: vec![("a".into(), "b".into())],
                value: PointValue::Counter { value: 7 },
            },
            MetricPoint {
                name: "h".into(),
                labels: vec![],
                value: PointValue::Histogram {
                    histogram: HistogramSnapshot::default(),
                },
            },
        ];
        let v = metrics_request(&batch, &points);
        let metrics = &v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
        assert_eq!(metrics[0]["sum"]["dataPoints"][0]["asInt"], "7");
        assert_eq!(metrics[0]["sum"]["aggregationTemporality"], 1);
        assert_eq!(
            metrics[1]["exponentialHistogram"]["dataPoints"][0]["scale"],
            6
        );
        assert_eq!(
            v["resourceMetrics"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "app"
        );
    }
}
