//! Drop accounting and delivery statistics.
//!
//! Every item the pipeline gives up on is counted here under exactly one
//! [`DropReason`]; the counts are uploaded as the metric
//! [`super::names::DROPPED`] with a `reason` label.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why data was given up on. An "item" is one data point or one event,
/// except where stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// The event queue or the upload queue was full.
    QueueFull,
    /// A new label set was redirected to the overflow series (counts label
    /// sets, the data itself is kept in the overflow series).
    SeriesOverflow,
    /// Persisted data evicted (oldest first) to stay within the disk budget.
    DiskBudget,
    /// Persisted data that could not be read back (I/O error).
    DiskError,
    /// The collector answered a non-retryable status (4xx other than 429, or
    /// a 5xx that kept failing).
    RejectedByServer,
    /// A persisted record failed its checksum or was truncated (counts
    /// skipped segment tails: the items in them cannot be known).
    CorruptedOnDisk,
    /// An exposure event suppressed as a duplicate within the window (not a
    /// loss: counted so that nothing disappears unexplained).
    DuplicateExposure,
}

impl DropReason {
    /// All reasons, in a stable order.
    pub const ALL: [DropReason; 7] = [
        DropReason::QueueFull,
        DropReason::SeriesOverflow,
        DropReason::DiskBudget,
        DropReason::DiskError,
        DropReason::RejectedByServer,
        DropReason::CorruptedOnDisk,
        DropReason::DuplicateExposure,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::SeriesOverflow => "series_overflow",
            DropReason::DiskBudget => "disk_budget",
            DropReason::DiskError => "disk_error",
            DropReason::RejectedByServer => "rejected_by_server",
            DropReason::CorruptedOnDisk => "corrupted_on_disk",
            DropReason::DuplicateExposure => "duplicate_exposure",
        }
    }

    fn slot(self) -> usize {
        DropReason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Lock-free drop counters, with what was already reported upstream.
#[derive(Debug, Default)]
pub(crate) struct DropCounters {
    counts: [AtomicU64; 7],
}

impl DropCounters {
    pub(crate) fn add(&self, reason: DropReason, n: u64) {
        if n > 0 {
            self.counts[reason.slot()].fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.slot()].load(Ordering::Relaxed)
    }

    pub(crate) fn all(&self) -> BTreeMap<DropReason, u64> {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r))).collect()
    }
}

/// Where persisted data currently goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StorageMode {
    /// No storage directory configured.
    MemoryOnly,
    /// Persisting to disk.
    Disk,
    /// Disk writes failed; memory-only until a later write succeeds.
    Degraded,
}

/// A point-in-time view of the pipeline's accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricsStats {
    /// Batches the collector acknowledged with a 2xx.
    pub delivered_batches: u64,
    /// Data points in delivered batches.
    pub delivered_points: u64,
    /// Events in delivered batches.
    pub delivered_events: u64,
    /// Upload attempts that failed and will be retried.
    pub retries: u64,
    /// Periodic (paced) upload rounds run so far.
    pub paced_rounds: u64,
    /// Drops by reason (every reason present, zeros included).
    pub dropped: BTreeMap<DropReason, u64>,
    /// Batches waiting for upload.
    pub queued_batches: u64,
    /// Approximate bytes of batches waiting for upload.
    pub queued_bytes: u64,
    /// Events recorded but not yet cut into a batch.
    pub pending_events: u64,
    /// Failed disk writes or deletes (data kept in memory).
    pub persist_errors: u64,
    /// Current storage mode.
    pub storage: StorageMode,
    /// Bytes of segment files on disk.
    pub disk_bytes: u64,
    /// Number of series (including overflow series).
    pub series: u64,
}

impl MetricsStats {
    /// Total of all drops except [`DropReason::DuplicateExposure`] and
    /// [`DropReason::SeriesOverflow`] (which lose no recorded value).
    pub fn lost_items(&self) -> u64 {
        self.dropped
            .iter()
            .filter(|(r, _)| {
                !matches!(
                    r,
                    DropReason::DuplicateExposure | DropReason::SeriesOverflow
                )
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Drops for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }
}
