//! Readiness, refresh, flush, shutdown and status of the [`Client`].

use super::Client;
use crate::delivery::{ConfigSource, DeliveryStatus, WaitError};
use crate::metrics::{MetricsError, MetricsStats};
use crate::runtime::ShutdownOutcome;
use std::time::{Duration, Instant};

/// What the client knows about itself, for a status screen or a bug report.
#[derive(Debug, Clone)]
pub struct ClientStatus {
    /// The version of the config in use, if any.
    pub config_version: Option<u64>,
    /// Where it came from.
    pub config_source: Option<ConfigSource>,
    /// Config delivery in detail (last fetch, last error, last rejection).
    pub delivery: DeliveryStatus,
    /// The metrics pipeline's counts (recorded, delivered, dropped by reason).
    pub metrics: MetricsStats,
    /// Guardrail trips in force on this device.
    pub guardrail_trips: Vec<crate::guardrails::Trip>,
    /// Runtimes that load here, with their versions (`litert 2.3.0`).
    pub runtimes: Vec<String>,
    /// Why the client runs memory-only although a storage directory was
    /// given (read-only, or locked by another client); `None` otherwise.
    pub memory_only: Option<String>,
}

impl Client {
    /// Blocks until the first remote fetch succeeded, or `timeout` passes.
    /// The client is usable without it; this is for apps that prefer fresh
    /// flags over fast start. Do not call it on a UI thread.
    ///
    /// # Errors
    /// [`WaitError`] on timeout (with the last fetch error), or when no
    /// config URL is set.
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<(), WaitError> {
        self.shared.delivery.wait_until_ready(timeout)
    }

    /// Asks for a config fetch now (in the background; returns at once).
    pub fn refresh(&self) {
        self.shared.delivery.refresh();
    }

    /// Persists and uploads pending metrics, waiting at most `timeout`, and
    /// returns the stats once everything queued was delivered.
    ///
    /// # Errors
    /// [`MetricsError::NotDelivered`] when a metrics endpoint is configured
    /// and batches are still queued afterwards (the collector is down or
    /// refusing; they stay persisted and are uploaded later), with what was
    /// delivered and what is queued; [`MetricsError::Timeout`] or
    /// [`MetricsError::ShutDown`] when the pipeline did not answer.
    pub fn flush(&self, timeout: Duration) -> Result<MetricsStats, MetricsError> {
        self.drain_snapshot_exposures();
        let stats = self.shared.metrics.flush_blocking(timeout)?;
        require_delivered(self.shared.config.metrics_endpoint.is_some(), stats)
    }

    /// Stops the client: a final metrics upload and persistence within
    /// `timeout`, then the background thread. What could not be uploaded
    /// stays persisted for the next start. Safe to call more than once;
    /// later calls return at once.
    pub fn shutdown(&self, timeout: Duration) -> ShutdownOutcome {
        let deadline = Instant::now() + timeout;
        let Some(mut runtime) = self.shared.runtime.lock().take() else {
            return ShutdownOutcome::AlreadyStopped;
        };
        self.shared.guard.end_session();
        self.drain_snapshot_exposures();
        let _ = self.shared.metrics.shutdown(timeout);
        self.shared.delivery.shutdown();
        let outcome = runtime.shutdown(deadline.saturating_duration_since(Instant::now()));
        if outcome == ShutdownOutcome::Stopped {
            // Nothing in the background writes any more: the next client
            // may have the storage directory.
            self.shared.storage.release();
        }
        outcome
    }

    /// The client's status.
    pub fn status(&self) -> ClientStatus {
        let delivery = self.shared.delivery.status();
        ClientStatus {
            config_version: delivery.version,
            config_source: delivery.source,
            delivery,
            metrics: self.shared.metrics.stats(),
            guardrail_trips: self.shared.guard.active_trips(),
            runtimes: [
                crate::inference::EngineKind::LiteRt,
                crate::inference::EngineKind::TfLite,
            ]
            .into_iter()
            .filter_map(|k| {
                let rt = self.shared.inference.runtime(k).ok()?;
                Some(format!("{} {}", k.as_str(), rt.version()))
            })
            .collect(),
            memory_only: self.shared.storage.memory_only.clone(),
        }
    }
}

/// A flush's stats as its result: `Err(NotDelivered)` when an endpoint is
/// configured and batches are still queued, so a `?` caller sees it.
/// Without an endpoint nothing is ever uploaded, so nothing is owed.
pub(crate) fn require_delivered(
    uploads: bool,
    stats: MetricsStats,
) -> Result<MetricsStats, MetricsError> {
    // Events recorded after the flush's cut are not owed by this flush.
    if uploads && stats.queued_batches > 0 {
        return Err(MetricsError::NotDelivered {
            delivered_batches: stats.delivered_batches,
            queued_batches: stats.queued_batches,
            queued_bytes: stats.queued_bytes,
            pending_events: stats.pending_events,
        });
    }
    Ok(stats)
}
