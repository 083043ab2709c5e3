//! Batches: the unit that is persisted, uploaded, retried and acknowledged.
//!
//! A batch is immutable once cut: its id, its time window and the resource
//! attributes in force when it was cut travel with it, so a retry (even from
//! a later process) sends the same bytes under the same id.

use super::events::Event;
use super::registry::MetricPoint;
use serde::{Deserialize, Serialize};

/// Resource attributes identifying the app and SDK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Resource {
    /// App identifier (exported as `service.name`).
    pub app_id: String,
    /// App version (exported as `service.version` when set).
    pub app_version: Option<String>,
    /// SDK version (exported as `telemetry.sdk.version`).
    pub sdk_version: String,
    /// Platform, e.g. `android`, `ios`, `linux` (exported as `os.type`).
    pub platform: String,
    /// Version of the rollout config in force (`litegate.config.version`).
    pub config_version: Option<u64>,
    /// Extra attributes (key, value).
    pub extra: Vec<(String, String)>,
}

impl Resource {
    /// A resource for `app_id` with this SDK's version and the build's OS.
    pub fn new(app_id: impl Into<String>) -> Self {
        Resource {
            app_id: app_id.into(),
            app_version: None,
            sdk_version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: std::env::consts::OS.to_owned(),
            config_version: None,
            extra: Vec::new(),
        }
    }

    /// The OTLP resource attributes, in a stable order.
    pub fn attributes(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("service.name".to_owned(), self.app_id.clone()),
            ("telemetry.sdk.name".to_owned(), "litegate".to_owned()),
            ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
            ("telemetry.sdk.version".to_owned(), self.sdk_version.clone()),
            ("os.type".to_owned(), self.platform.clone()),
        ];
        if let Some(v) = &self.app_version {
            out.push(("service.version".to_owned(), v.clone()));
        }
        if let Some(v) = self.config_version {
            out.push(("litegate.config.version".to_owned(), v.to_string()));
        }
        out.extend(self.extra.iter().cloned());
        out
    }
}

/// What a batch carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchBody {
    /// Metric deltas, sent to `/v1/metrics`.
    Metrics {
        /// The data points.
        points: Vec<MetricPoint>,
    },
    /// Events, sent to `/v1/logs`.
    Events {
        /// The events.
        events: Vec<Event>,
    },
}

/// One immutable batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Unique id (32 hex digits), sent as the `x-litegate-batch-id` header.
    pub id: String,
    /// Start of the delta window (ns since the Unix epoch).
    pub start_unix_nano: u64,
    /// End of the delta window, when it was cut.
    pub end_unix_nano: u64,
    /// Resource attributes at cut time.
    pub resource: Resource,
    /// The data.
    pub body: BatchBody,
}

impl Batch {
    /// Number of items (data points or events).
    pub fn items(&self) -> u64 {
        match &self.body {
            BatchBody::Metrics { points } => points.len() as u64,
            BatchBody::Events { events } => events.len() as u64,
        }
    }

    /// The OTLP path this batch is posted to.
    pub fn path(&self) -> &'static str {
        match self.body {
            BatchBody::Metrics { .. } => "/v1/metrics",
            BatchBody::Events { .. } => "/v1/logs",
        }
    }
}

/// A fresh random batch id.
pub(crate) fn new_batch_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Splits points into groups whose approximate encoded size stays within
/// `max_bytes` (a single oversized item still gets its own group).
pub(crate) fn split_by_bytes<T>(
    items: Vec<T>,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let s = size(&item);
        if !current.is_empty() && bytes + s > max_bytes {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += s;
        current.push(item);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_budget() {
        let groups = split_by_bytes((0..10).collect(), 25, |_| 10);
        assert_eq!(groups.len(), 5);
        assert!(groups.iter().all(|g| g.len() == 2));
        let big = split_by_bytes(vec![1, 2], 5, |_| 10);
        assert_eq!(big.len(), 2);
        assert_ne!(new_batch_id(), new_batch_id());
        assert_eq!(new_batch_id().len(), 32);
    }
}
