//! Crash-safe metric buffering with OTLP/HTTP upload.
//!
//! Record from any thread through cheap handles ([`Counter`], [`Histogram`],
//! [`Gauge`]) whose hot path touches only atomics; events (exposures,
//! fallbacks, rollbacks, errors) go to a bounded queue. Every
//! `persist_interval` the deltas and events are cut into immutable
//! [`Batch`]es, written as one checksummed segment file, and queued; an
//! uploader task posts them as gzip'd OTLP/JSON and deletes them only after a
//! 2xx. Everything given up on is counted by [`DropReason`].
//!
//! ```no_run
//! use litegate::metrics::{names, Metrics, MetricsConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rt = tokio::runtime::Runtime::new()?;
//! let config = MetricsConfig::new("com.example.app")
//!     .with_storage_dir("/data/litegate/metrics")
//!     .with_endpoint("http://collector:4318");
//! let metrics = Metrics::new(config, rt.handle().clone())?;
//! let runs = metrics.counter(names::INFERENCE_RUNS, &[("model", "m1"), ("outcome", "ok")]);
//! let latency = metrics.histogram(names::INFERENCE_LATENCY_MS, &[("model", "m1")]);
//! runs.inc();
//! latency.record(12.5);
//! metrics.flush_blocking(std::time::Duration::from_secs(10))?;
//! # Ok(()) }
//! ```

mod batch;
mod config;
mod events;
pub(crate) mod exposure;
mod histogram;
pub(crate) mod hot;
pub mod names;
mod otlp;
mod pipeline;
mod registry;
mod shard;
mod stats;
mod store;
mod upload;

pub use batch::{Batch, BatchBody, Resource};
pub use config::{MetricsConfig, MetricsError};
pub use events::{AttrValue, Event, EventKind};
pub use histogram::{
    bucket_index, relative_error_bound, Buckets, HistogramSnapshot, BUCKETS as HISTOGRAM_BUCKETS,
    BYTES_PER_SERIES as HISTOGRAM_BYTES_PER_SERIES, SCALE as HISTOGRAM_SCALE,
};
pub use otlp::{logs_request, metrics_request, request_body};
pub use pipeline::CheckpointReport;
pub use registry::{
    Counter, Gauge, Histogram, MetricPoint, PointValue, SeriesKind, SeriesLimits, OVERFLOW_LABEL,
};
pub use stats::{DropReason, MetricsStats, StorageMode};
pub use store::MAGIC as SEGMENT_MAGIC;
pub use upload::{parse_retry_after, Attempt, RetryPolicy, Verdict, BATCH_ID_HEADER};

use pipeline::{now_unix_nano, Inner};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How a command's caller waits for the answer.
enum Reply {
    Async(oneshot::Sender<MetricsStats>),
    Blocking(std::sync::mpsc::SyncSender<MetricsStats>),
}

impl Reply {
    fn send(self, stats: MetricsStats) {
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(stats);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(stats);
            }
        }
    }
}

enum Command {
    Flush(Reply),
    Shutdown(Instant, Reply),
}

struct Shared {
    inner: Arc<Inner>,
    commands: mpsc::UnboundedSender<Command>,
    // Dropping the last handle drops this sender, which stops the persister.
    _stop: watch::Sender<()>,
}

/// The metrics pipeline handle. Cheap to clone, `Send + Sync`. Dropping the
/// last clone persists what is pending and stops the background tasks
/// (without uploading; call [`Metrics::shutdown`] for a final upload).
#[derive(Clone)]
pub struct Metrics {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Starts the pipeline: the persister and uploader tasks run on
    /// `runtime`. Persisted data from a previous process is loaded (by the
    /// uploader task, not on this thread) and queued for upload.
    ///
    /// # Errors
    /// [`MetricsError::InvalidConfig`], [`MetricsError::InvalidEndpoint`],
    /// [`MetricsError::HttpClient`].
    pub fn new(
        config: MetricsConfig,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, MetricsError> {
        let inner = Arc::new(Inner::new(config)?);
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(());
        runtime.spawn(persister(Arc::clone(&inner), stop_rx));
        runtime.spawn(uploader(Arc::clone(&inner), rx));
        Ok(Metrics {
            shared: Arc::new(Shared {
                inner,
                commands: tx,
                _stop: stop_tx,
            }),
        })
    }

    fn inner(&self) -> &Inner {
        &self.shared.inner
    }

    /// Offline mode: while `true` no upload request starts; what is recorded
    /// stays queued (and persisted) until the next upload after going back
    /// online.
    pub fn set_offline(&self, offline: bool) {
        self.inner()
            .offline
            .store(offline, std::sync::atomic::Ordering::Release);
    }

    /// The counter series `name` with `labels`. Keep the handle: the lookup
    /// allocates and takes a read lock, `add` does neither.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> Counter {
        let i = self.inner();
        i.registry.counter(name, labels, &i.drops)
    }

    /// The histogram series `name` with `labels`.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Histogram {
        let i = self.inner();
        i.registry.histogram(name, labels, &i.drops)
    }

    /// The gauge series `name` with `labels`.
    pub fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> Gauge {
        let i = self.inner();
        i.registry.gauge(name, labels, &i.drops)
    }

    /// Queues an event. Returns `false` when the queue is full (counted as
    /// [`DropReason::QueueFull`]).
    pub fn event(&self, kind: EventKind, attributes: &[(&str, AttrValue)]) -> bool {
        let event = Event {
            kind,
            time_unix_nano: now_unix_nano(),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        let ok = self.inner().events.lock().push(event);
        if !ok {
            self.inner().drops.add(DropReason::QueueFull, 1);
        }
        ok
    }

    /// Records a flag exposure: the [`names::FLAG_EXPOSURES`] counter always,
    /// and an exposure event unless the same (flag, variation, targeting key)
    /// was seen within the de-duplication window. The targeting key is
    /// hashed with the configured salt (SHA-256, first 32 hex digits), sent
    /// raw only when `upload_raw_targeting_keys` is set, and omitted when
    /// neither a salt nor the opt-in is configured. Returns whether an event
    /// was queued.
    pub fn exposure(&self, flag: &str, variation: &str, targeting_key: &str) -> bool {
        self.exposure_prehashed(
            exposure::targeting_key_id(targeting_key),
            flag,
            variation,
            targeting_key,
            crate::eval::now_ms(),
        )
    }

    /// [`Metrics::exposure`] with the targeting key's id already hashed
    /// ([`exposure::targeting_key_id`]) and the wall clock already read (the
    /// evaluator's `now_ms`). An exposure seen before costs one lock-free
    /// probe of the exposure table and one counter add; nothing allocates.
    pub(crate) fn exposure_prehashed(
        &self,
        targeting_id: u64,
        flag: &str,
        variation: &str,
        targeting_key: &str,
        now_ms: i64,
    ) -> bool {
        let i = self.inner();
        let key = exposure::exposure_key(targeting_id, flag, variation);
        let window = i.exposures.window_ms;
        let due = match i.exposures.table.with(key, |e| {
            e.counter.inc();
            e.event_due(now_ms, window)
        }) {
            Some(due) => due,
            None => {
                let entry = i.exposures.table.get_or_insert_with(key, || {
                    std::sync::Arc::new(exposure::ExposureEntry::new(self.counter(
                        names::FLAG_EXPOSURES,
                        &[
                            (names::label::FLAG, flag),
                            (names::label::VARIATION, variation),
                        ],
                    )))
                });
                entry.counter.inc();
                entry.event_due(now_ms, window)
            }
        };
        if !due {
            i.drops.add(DropReason::DuplicateExposure, 1);
            return false;
        }
        let mut attrs: Vec<(&str, AttrValue)> = vec![
            (names::label::FLAG, flag.into()),
            (names::label::VARIATION, variation.into()),
        ];
        if i.config.upload_raw_targeting_keys {
            attrs.push(("targeting_key", targeting_key.into()));
        } else if let Some(salt) = &i.config.targeting_key_salt {
            attrs.push((
                "targeting_key_hash",
                hash_targeting_key(salt, targeting_key).into(),
            ));
        }
        self.event(EventKind::Exposure, &attrs)
    }

    /// Sets the rollout config version reported in the resource attributes
    /// of batches cut from now on.
    pub fn set_config_version(&self, version: u64) {
        self.inner().resource.write().config_version = Some(version);
    }

    /// Sets (or replaces) an extra resource attribute for later batches.
    pub fn set_resource_attribute(&self, key: &str, value: &str) {
        let mut r = self.inner().resource.write();
        r.extra.retain(|(k, _)| k != key);
        r.extra.push((key.to_owned(), value.to_owned()));
    }

    /// Totals of every series since this handle was created (deltas already
    /// cut plus what is live), sorted by name and labels.
    pub fn snapshot(&self) -> Vec<MetricPoint> {
        self.inner().registry.snapshot()
    }

    /// Delivery and drop accounting.
    pub fn stats(&self) -> MetricsStats {
        self.inner().stats()
    }

    /// Cuts and persists now, on the calling thread (disk I/O, no network).
    /// When it returns, everything recorded before the call is on disk (if
    /// storage is configured and writable; see `persisted`).
    ///
    /// # Errors
    /// [`MetricsError::Encode`] if a batch cannot be serialized.
    pub fn checkpoint(&self) -> Result<CheckpointReport, MetricsError> {
        self.inner().checkpoint()
    }

    /// Cuts, persists and uploads everything queued (unpaced), then returns
    /// the stats. A batch the collector keeps refusing stays queued.
    ///
    /// # Errors
    /// [`MetricsError::ShutDown`].
    pub async fn flush(&self) -> Result<MetricsStats, MetricsError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Flush(Reply::Async(tx)))
            .map_err(|_| MetricsError::ShutDown)?;
        rx.await.map_err(|_| MetricsError::ShutDown)
    }

    /// [`Metrics::flush`] for threads outside the runtime, waiting at most
    /// `timeout`.
    ///
    /// # Errors
    /// [`MetricsError::BlockingInRuntime`] when called on a runtime thread,
    /// [`MetricsError::Timeout`], [`MetricsError::ShutDown`].
    pub fn flush_blocking(&self, timeout: Duration) -> Result<MetricsStats, MetricsError> {
        self.blocking(timeout, Command::Flush)
    }

    /// Final cut, persist and upload within `timeout`, then stops the tasks.
    /// What is not delivered stays on disk for the next process.
    ///
    /// # Errors
    /// As [`Metrics::flush_blocking`].
    pub fn shutdown(&self, timeout: Duration) -> Result<MetricsStats, MetricsError> {
        let deadline = deadline_after(timeout);
        // A little slack so the reply arrives after the bounded upload.
        self.blocking(timeout.saturating_add(Duration::from_secs(2)), |r| {
            Command::Shutdown(deadline, r)
        })
    }

    /// [`Metrics::shutdown`] for async callers.
    ///
    /// # Errors
    /// [`MetricsError::ShutDown`] when already shut down.
    pub async fn shutdown_async(&self, timeout: Duration) -> Result<MetricsStats, MetricsError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Shutdown(deadline_after(timeout), Reply::Async(tx)))
            .map_err(|_| MetricsError::ShutDown)?;
        rx.await.map_err(|_| MetricsError::ShutDown)
    }

    fn blocking(
        &self,
        timeout: Duration,
        make: impl FnOnce(Reply) -> Command,
    ) -> Result<MetricsStats, MetricsError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(MetricsError::BlockingInRuntime);
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared
            .commands
            .send(make(Reply::Blocking(tx)))
            .map_err(|_| MetricsError::ShutDown)?;
        match rx.recv_timeout(timeout) {
            Ok(stats) => Ok(stats),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(MetricsError::Timeout(timeout)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(MetricsError::ShutDown),
        }
    }
}

/// `now + timeout`, saturating at a day for absurd timeouts.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

/// The exported form of a targeting key: SHA-256 of salt, NUL, key; the
/// first 16 bytes in hex.
pub fn hash_targeting_key(salt: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn log_checkpoint_error(r: Result<CheckpointReport, MetricsError>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "metrics checkpoint failed");
    }
}

/// Runs a checkpoint (disk writes and fsync) on the blocking pool so that
/// uploads sharing the runtime thread are not held up by the disk.
async fn checkpoint_off_thread(inner: &Arc<Inner>) {
    let i = Arc::clone(inner);
    match tokio::task::spawn_blocking(move || i.checkpoint()).await {
        Ok(r) => log_checkpoint_error(r),
        // The runtime is shutting down: do it here instead.
        Err(_) => log_checkpoint_error(inner.checkpoint()),
    }
}

async fn persister(inner: Arc<Inner>, mut stop: watch::Receiver<()>) {
    let period = inner.config.persist_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => checkpoint_off_thread(&inner).await,
            changed = stop.changed() => {
                if changed.is_err() {
                    // Last handle dropped: save what is pending.
                    log_checkpoint_error(inner.checkpoint());
                    return;
                }
            }
        }
    }
}

async fn uploader(inner: Arc<Inner>, mut commands: mpsc::UnboundedReceiver<Command>) {
    // Open the store (and queue the backlog) off the caller's thread.
    checkpoint_off_thread(&inner).await;
    let mut tick = tokio::time::interval(inner.config.upload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                checkpoint_off_thread(&inner).await;
                inner
                    .upload_round(
                        Some(inner.config.max_batches_per_round),
                        inner.config.min_request_gap,
                        None,
                    )
                    .await;
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Flush(reply)) => {
                    checkpoint_off_thread(&inner).await;
                    inner.upload_round(None, Duration::ZERO, None).await;
                    reply.send(inner.stats());
                }
                Some(Command::Shutdown(deadline, reply)) => {
                    checkpoint_off_thread(&inner).await;
                    let round = inner.upload_round(None, Duration::ZERO, Some(deadline));
                    // Cancelling mid-request is safe: the batch stays queued and on disk.
                    let _ = tokio::time::timeout_at(deadline.into(), round).await;
                    // Drops counted during the final upload reach the disk.
                    checkpoint_off_thread(&inner).await;
                    reply.send(inner.stats());
                    commands.close();
                    return;
                }
                None => return,
            }
        }
    }
}
