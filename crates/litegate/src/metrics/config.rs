//! Settings of the metrics pipeline, and its errors.

use super::batch::Resource;
use super::registry::SeriesLimits;
use super::upload::RetryPolicy;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the pipeline needs. `MetricsConfig::new(app_id)` gives the
/// defaults documented on each field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Where segments are persisted; `None` keeps everything in memory.
    pub storage_dir: Option<PathBuf>,
    /// OTLP/HTTP base URL (e.g. `http://collector:4318`); `/v1/metrics` and
    /// `/v1/logs` are appended. `None` records and persists but never uploads.
    pub endpoint: Option<String>,
    /// Extra request headers (e.g. an API key).
    pub headers: Vec<(String, String)>,
    /// Resource attributes (the config version can be changed later with
    /// [`super::Metrics::set_config_version`]).
    pub resource: Resource,
    /// Series and label limits.
    pub series: SeriesLimits,
    /// Events waiting for the next cut, by count (default 10 000).
    pub max_pending_events: usize,
    /// Events waiting for the next cut, by approximate bytes (default 2 MiB).
    pub max_pending_event_bytes: usize,
    /// Batches waiting for upload, by approximate bytes (default 8 MiB);
    /// beyond it the oldest are dropped.
    pub max_queued_bytes: u64,
    /// Disk budget for segments (default 8 MiB); oldest evicted first.
    pub disk_budget_bytes: u64,
    /// Largest batch, in approximate uncompressed bytes (default 256 KiB).
    pub max_batch_bytes: usize,
    /// How often aggregates and events are cut and persisted: the most data
    /// a kill can lose (default 5 s).
    pub persist_interval: Duration,
    /// How often queued batches are uploaded (default 30 s).
    pub upload_interval: Duration,
    /// Batches per periodic upload round, so that a backlog drains gradually
    /// (default 20). `flush()` is not limited.
    pub max_batches_per_round: usize,
    /// Pause between requests within a periodic round (default 100 ms).
    pub min_request_gap: Duration,
    /// Retry and timeout settings.
    pub retry: RetryPolicy,
    /// Exposure de-duplication window (default 1 h; zero disables).
    pub exposure_dedup_window: Duration,
    /// (targeting key, flag, variation) ids remembered (default 10 000);
    /// when full the table starts over.
    pub exposure_dedup_capacity: usize,
    /// Salt for hashing targeting keys in exposure events. Without a salt
    /// (and without `upload_raw_targeting_keys`) the key is omitted.
    pub targeting_key_salt: Option<String>,
    /// Upload targeting keys as given (the app must have consent).
    pub upload_raw_targeting_keys: bool,
}

impl MetricsConfig {
    /// Defaults for `app_id`: memory-only, no upload.
    pub fn new(app_id: impl Into<String>) -> Self {
        MetricsConfig {
            storage_dir: None,
            endpoint: None,
            headers: Vec::new(),
            resource: Resource::new(app_id),
            series: SeriesLimits::default(),
            max_pending_events: 10_000,
            max_pending_event_bytes: 2 * 1024 * 1024,
            max_queued_bytes: 8 * 1024 * 1024,
            disk_budget_bytes: 8 * 1024 * 1024,
            max_batch_bytes: 256 * 1024,
            persist_interval: Duration::from_secs(5),
            upload_interval: Duration::from_secs(30),
            max_batches_per_round: 20,
            min_request_gap: Duration::from_millis(100),
            retry: RetryPolicy::default(),
            exposure_dedup_window: Duration::from_secs(3600),
            exposure_dedup_capacity: 10_000,
            targeting_key_salt: None,
            upload_raw_targeting_keys: false,
        }
    }

    /// Sets the storage directory.
    pub fn with_storage_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage_dir = Some(dir.into());
        self
    }

    /// Sets the OTLP base URL.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), MetricsError> {
        let positive = [
            ("persist_interval", self.persist_interval),
            ("upload_interval", self.upload_interval),
        ];
        for (field, d) in positive {
            if d.is_zero() {
                return Err(MetricsError::InvalidConfig {
                    field,
                    reason: "must be greater than zero".into(),
                });
            }
        }
        if self.max_batch_bytes == 0 || self.max_queued_bytes == 0 {
            return Err(MetricsError::InvalidConfig {
                field: "max_batch_bytes",
                reason: "byte bounds must be greater than zero".into(),
            });
        }
        if let Some(url) = &self.endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(MetricsError::InvalidEndpoint {
                    url: url.clone(),
                    reason: "must start with http:// or https://".into(),
                });
            }
        }
        for (k, _) in &self.headers {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(MetricsError::InvalidConfig {
                    field: "headers",
                    reason: format!("invalid header name {k:?}"),
                });
            }
        }
        Ok(())
    }
}

/// Errors of the metrics pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// A setting is out of range.
    #[error("invalid metrics setting {field}: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The endpoint URL is unusable.
    #[error("invalid OTLP endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// A blocking call was made from inside a tokio runtime, where it could
    /// deadlock the runtime that serves it.
    #[error("blocking metrics call made from inside an async runtime; use the async variant")]
    BlockingInRuntime,
    /// A blocking call did not complete in time (the work goes on).
    #[error("metrics operation did not finish within {0:?}")]
    Timeout(Duration),
    /// The pipeline was shut down.
    #[error("the metrics pipeline is shut down")]
    ShutDown,
    /// Encoding a batch failed.
    #[error("cannot encode a metrics batch: {0}")]
    Encode(#[from] serde_json::Error),
    /// A flush ended with data still queued: the collector is down, slow or
    /// refusing. Nothing is lost: it stays persisted and is uploaded later.
    #[error(
        "metrics not delivered: {queued_batches} batch(es) ({queued_bytes} bytes) and \
         {pending_events} event(s) still queued after {delivered_batches} batch(es) delivered \
         in this process; they stay persisted for a later upload"
    )]
    NotDelivered {
        /// Batches delivered by this process so far.
        delivered_batches: u64,
        /// Batches still waiting for upload.
        queued_batches: u64,
        /// Their approximate size in bytes.
        queued_bytes: u64,
        /// Events recorded but not yet cut into a batch.
        pending_events: u64,
    },
}
