//! The shared state behind a `Metrics` handle: cutting deltas into batches,
//! persisting them, and uploading them.
//!
//! Lock order: `cut` before `queue`. Only the uploader task sends batches,
//! so a batch is never in flight twice at once.

use super::batch::{new_batch_id, split_by_bytes, Batch, BatchBody, Resource};
use super::config::{MetricsConfig, MetricsError};
use super::events::{EventQueue, QueueBounds};
use super::exposure::ExposureTable;
use super::names;
use super::registry::Registry;
use super::stats::{DropCounters, DropReason, MetricsStats, StorageMode};
use super::store::{encode_segment, SegmentStore};
use super::upload::{HttpSender, Verdict};
use parking_lot::{Mutex, RwLock};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

enum StoreState {
    None,
    Unopened(PathBuf),
    Open(SegmentStore),
}

struct CutState {
    store: StoreState,
    last_cut_ns: u64,
    reported_drops: [u64; DropReason::ALL.len()],
    reported_persist_errors: u64,
}

struct Queued {
    batch: Arc<Batch>,
    seq: Option<u64>,
    bytes: u64,
    attempts: u32,
}

#[derive(Default)]
struct UploadQueue {
    batches: VecDeque<Queued>,
    bytes: u64,
}

impl UploadQueue {
    fn remove(&mut self, id: &str) -> Option<Queued> {
        let pos = self.batches.iter().position(|q| q.batch.id == id)?;
        let q = self.batches.remove(pos)?;
        self.bytes = self.bytes.saturating_sub(q.bytes);
        Some(q)
    }
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointReport {
    /// Batches cut.
    pub batches: u64,
    /// Items (data points and events) in them.
    pub items: u64,
    /// Whether they were written to disk (with nothing to cut: whether
    /// storage is configured and healthy).
    pub persisted: bool,
}

pub(crate) struct Inner {
    pub(crate) config: MetricsConfig,
    pub(crate) registry: Registry,
    pub(crate) drops: DropCounters,
    pub(crate) events: Mutex<EventQueue>,
    pub(crate) exposures: ExposureTable,
    pub(crate) resource: RwLock<Resource>,
    cut: Mutex<CutState>,
    queue: Mutex<UploadQueue>,
    sender: Option<HttpSender>,
    delivered_batches: AtomicU64,
    delivered_points: AtomicU64,
    delivered_events: AtomicU64,
    retries: AtomicU64,
    paced_rounds: AtomicU64,
    persist_errors: AtomicU64,
    storage: AtomicU8,
    disk_bytes: AtomicU64,
    /// While set, no upload request starts (batches stay queued and on disk).
    pub(crate) offline: AtomicBool,
}

fn mode_to_u8(m: StorageMode) -> u8 {
    match m {
        StorageMode::MemoryOnly => 0,
        StorageMode::Disk => 1,
        _ => 2,
    }
}

impl Inner {
    pub(crate) fn new(config: MetricsConfig) -> Result<Self, MetricsError> {
        config.validate()?;
        let sender = match &config.endpoint {
            Some(url) => Some(HttpSender::new(
                url,
                config.headers.clone(),
                config.retry.request_timeout,
            )?),
            None => None,
        };
        let store = match &config.storage_dir {
            Some(dir) => StoreState::Unopened(dir.clone()),
            None => StoreState::None,
        };
        let storage = if config.storage_dir.is_some() {
            StorageMode::Disk
        } else {
            StorageMode::MemoryOnly
        };
        Ok(Inner {
            registry: Registry::new(config.series.clone()),
            drops: DropCounters::default(),
            events: Mutex::new(EventQueue::new(QueueBounds {
                max_events: config.max_pending_events,
                max_bytes: config.max_pending_event_bytes,
            })),
            exposures: ExposureTable::new(
                config.exposure_dedup_window,
                config.exposure_dedup_capacity,
            ),
            resource: RwLock::new(config.resource.clone()),
            cut: Mutex::new(CutState {
                store,
                last_cut_ns: now_unix_nano(),
                reported_drops: [0; DropReason::ALL.len()],
                reported_persist_errors: 0,
            }),
            queue: Mutex::new(UploadQueue::default()),
            sender,
            delivered_batches: AtomicU64::new(0),
            delivered_points: AtomicU64::new(0),
            delivered_events: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            paced_rounds: AtomicU64::new(0),
            offline: AtomicBool::new(false),
            persist_errors: AtomicU64::new(0),
            storage: AtomicU8::new(mode_to_u8(storage)),
            disk_bytes: AtomicU64::new(0),
            config,
        })
    }

    fn set_mode(&self, m: StorageMode) {
        self.storage.store(mode_to_u8(m), Ordering::Relaxed);
    }

    fn persist_error(&self, what: &str, err: &std::io::Error) {
        self.persist_errors.fetch_add(1, Ordering::Relaxed);
        self.set_mode(StorageMode::Degraded);
        tracing::warn!(error = %err, "metrics storage {what} failed; keeping data in memory");
    }

    /// Opens the store on first use and queues what it held.
    fn ensure_store(&self, cut: &mut CutState) {
        let StoreState::Unopened(dir) = &cut.store else {
            return;
        };
        match SegmentStore::open(dir, self.config.disk_budget_bytes) {
            Ok((store, loaded)) => {
                self.drops
                    .add(DropReason::CorruptedOnDisk, loaded.corrupted_segments);
                self.drops
                    .add(DropReason::DiskError, loaded.unreadable_segments);
                let mut q = self.queue.lock();
                for (seq, batch) in loaded.batches {
                    let bytes = approx_batch_bytes(&batch);
                    q.bytes += bytes;
                    q.batches.push_back(Queued {
                        batch: Arc::new(batch),
                        seq: Some(seq),
                        bytes,
                        attempts: 0,
                    });
                }
                self.disk_bytes.store(store.bytes(), Ordering::Relaxed);
                cut.store = StoreState::Open(store);
            }
            Err(e) => {
                // Keep trying on later checkpoints: the directory may come back.
                self.persist_error("open", &e);
            }
        }
    }

    /// Cuts everything recorded since the last cut into batches, persists
    /// them as one segment (when storage is configured and writable) and
    /// queues them for upload.
    pub(crate) fn checkpoint(&self) -> Result<CheckpointReport, MetricsError> {
        let mut cut = self.cut.lock();
        self.ensure_store(&mut cut);
        self.report_pipeline_counters(&mut cut);
        let points = self.registry.take_deltas();
        let events = self.events.lock().take();
        let start = cut.last_cut_ns;
        let end = now_unix_nano().max(start);
        cut.last_cut_ns = end;
        let resource = self.resource.read().clone();
        let max = self.config.max_batch_bytes;
        let mut batches: Vec<Batch> = Vec::new();
        let make = |body| Batch {
            id: new_batch_id(),
            start_unix_nano: start,
            end_unix_nano: end,
            resource: resource.clone(),
            body,
        };
        for group in split_by_bytes(points, max, |p| p.approx_bytes()) {
            batches.push(make(BatchBody::Metrics { points: group }));
        }
        for group in split_by_bytes(events, max, |e| e.approx_bytes()) {
            batches.push(make(BatchBody::Events { events: group }));
        }
        let mut report = CheckpointReport {
            batches: batches.len() as u64,
            items: batches.iter().map(Batch::items).sum(),
            persisted: false,
        };
        if batches.is_empty() {
            // Nothing new: what was cut before is on disk iff storage is healthy.
            report.persisted = matches!(cut.store, StoreState::Open(_))
                && self.storage.load(Ordering::Relaxed) == mode_to_u8(StorageMode::Disk);
            return Ok(report);
        }
        let mut seq = None;
        if let StoreState::Open(store) = &mut cut.store {
            let refs: Vec<&Batch> = batches.iter().collect();
            let bytes = encode_segment(&refs)?;
            if store.fits_budget(bytes.len() as u64) {
                for (old_seq, ids) in store.evict_for(bytes.len() as u64) {
                    let mut q = self.queue.lock();
                    for id in ids {
                        if let Some(gone) = q.remove(&id) {
                            debug_assert_eq!(gone.seq, Some(old_seq));
                            self.drops.add(DropReason::DiskBudget, gone.batch.items());
                        }
                    }
                }
                match store.write(&bytes, batches.iter().map(|b| b.id.clone()).collect()) {
                    Ok(s) => {
                        seq = Some(s);
                        report.persisted = true;
                        self.set_mode(StorageMode::Disk);
                        self.persist_memory_only(store);
                    }
                    Err(e) => self.persist_error("write", &e),
                }
            } else {
                let err = std::io::Error::other("segment larger than the disk budget");
                self.persist_error("budget", &err);
            }
            self.disk_bytes.store(store.bytes(), Ordering::Relaxed);
        }
        let mut q = self.queue.lock();
        for batch in batches {
            let bytes = approx_batch_bytes(&batch);
            q.bytes += bytes;
            q.batches.push_back(Queued {
                batch: Arc::new(batch),
                seq,
                bytes,
                attempts: 0,
            });
        }
        // Over the memory bound: the oldest go first.
        while q.bytes > self.config.max_queued_bytes && q.batches.len() > 1 {
            let Some(old) = q.batches.pop_front() else {
                break;
            };
            q.bytes = q.bytes.saturating_sub(old.bytes);
            self.drops.add(DropReason::QueueFull, old.batch.items());
            self.resolve_on_disk(&mut cut, &old);
        }
        Ok(report)
    }

    /// After the disk came back: writes the batches that were queued while
    /// it was failing, so they survive a kill from now on.
    fn persist_memory_only(&self, store: &mut SegmentStore) {
        let pending: Vec<Arc<Batch>> = self
            .queue
            .lock()
            .batches
            .iter()
            .filter(|q| q.seq.is_none())
            .map(|q| Arc::clone(&q.batch))
            .collect();
        if pending.is_empty() {
            return;
        }
        let refs: Vec<&Batch> = pending.iter().map(|b| b.as_ref()).collect();
        let Ok(bytes) = encode_segment(&refs) else {
            return;
        };
        if store.bytes() + bytes.len() as u64 > store.budget() {
            // Not evicting persisted data for it: it stays memory-only.
            return;
        }
        let ids: Vec<String> = pending.iter().map(|b| b.id.clone()).collect();
        match store.write(&bytes, ids) {
            Ok(seq) => {
                let mut q = self.queue.lock();
                for entry in q.batches.iter_mut().filter(|e| e.seq.is_none()) {
                    if pending.iter().any(|b| b.id == entry.batch.id) {
                        entry.seq = Some(seq);
                    }
                }
            }
            Err(e) => self.persist_error("write", &e),
        }
    }

    /// Moves the pipeline's own drop and error counts into their counters so
    /// they are uploaded like any metric.
    fn report_pipeline_counters(&self, cut: &mut CutState) {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            let now = self.drops.get(*reason);
            let delta = now.saturating_sub(cut.reported_drops[i]);
            if delta > 0 {
                self.registry
                    .counter_uncapped(names::DROPPED, &[(names::label::REASON, reason.as_str())])
                    .add(delta);
                cut.reported_drops[i] = now;
            }
        }
        let errors = self.persist_errors.load(Ordering::Relaxed);
        if errors > cut.reported_persist_errors {
            self.registry
                .counter_uncapped(names::PERSIST_ERRORS, &[])
                .add(errors - cut.reported_persist_errors);
            cut.reported_persist_errors = errors;
        }
    }

    fn resolve_on_disk(&self, cut: &mut CutState, q: &Queued) {
        if let (Some(seq), StoreState::Open(store)) = (q.seq, &mut cut.store) {
            if let Err(e) = store.resolve(seq, &q.batch.id) {
                self.persist_error("delete", &e);
            }
            self.disk_bytes.store(store.bytes(), Ordering::Relaxed);
        }
    }

    /// Removes a batch from the queue (delivered or dropped) and from disk.
    fn finish(&self, id: &str) -> Option<Arc<Batch>> {
        let mut cut = self.cut.lock();
        let q = self.queue.lock().remove(id)?;
        self.resolve_on_disk(&mut cut, &q);
        Some(q.batch)
    }

    /// Uploads queued batches in order. `limit` bounds the batches sent
    /// (pacing), `gap` spaces requests, `deadline` bounds the whole round.
    /// A batch that keeps failing ends the round (it stays queued).
    pub(crate) async fn upload_round(
        &self,
        limit: Option<usize>,
        gap: Duration,
        deadline: Option<Instant>,
    ) {
        let Some(sender) = &self.sender else {
            return;
        };
        let policy = &self.config.retry;
        if limit.is_some() {
            self.paced_rounds.fetch_add(1, Ordering::Relaxed);
        }
        let mut sent = 0usize;
        let mut skip = 0usize;
        loop {
            if limit.is_some_and(|l| sent >= l)
                || deadline.is_some_and(|d| Instant::now() >= d)
                || self.offline.load(Ordering::Acquire)
            {
                return;
            }
            let next = {
                let q = self.queue.lock();
                q.batches
                    .get(skip)
                    .map(|q| (Arc::clone(&q.batch), q.attempts))
            };
            let Some((batch, mut attempts)) = next else {
                return;
            };
            let body = match HttpSender::encode(&batch) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot encode a metrics batch; skipping it");
                    skip += 1;
                    continue;
                }
            };
            let mut round_attempts = 0;
            loop {
                if self.offline.load(Ordering::Acquire) {
                    return;
                }
                let attempt = sender.send(&batch, body.clone()).await;
                attempts += 1;
                round_attempts += 1;
                self.set_attempts(&batch.id, attempts);
                match policy.verdict(&attempt, attempts) {
                    Verdict::Delivered => {
                        if self.finish(&batch.id).is_some() {
                            self.delivered_batches.fetch_add(1, Ordering::Relaxed);
                            let counter = match batch.body {
                                BatchBody::Metrics { .. } => &self.delivered_points,
                                BatchBody::Events { .. } => &self.delivered_events,
                            };
                            counter.fetch_add(batch.items(), Ordering::Relaxed);
                        }
                        break;
                    }
                    Verdict::Reject => {
                        tracing::warn!(?attempt, batch = %batch.id, "collector rejected a metrics batch");
                        if self.finish(&batch.id).is_some() {
                            self.drops.add(DropReason::RejectedByServer, batch.items());
                        }
                        break;
                    }
                    Verdict::Retry(after) => {
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        if round_attempts >= policy.attempts_per_round {
                            return;
                        }
                        let wait = after
                            .unwrap_or_else(|| policy.backoff(attempts, rand::random::<f64>()));
                        if deadline.is_some_and(|d| {
                            Instant::now().checked_add(wait).is_none_or(|t| t >= d)
                        }) {
                            return;
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            sent += 1;
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
        }
    }

    fn set_attempts(&self, id: &str, attempts: u32) {
        if let Some(q) = self
            .queue
            .lock()
            .batches
            .iter_mut()
            .find(|q| q.batch.id == id)
        {
            q.attempts = attempts;
        }
    }

    pub(crate) fn stats(&self) -> MetricsStats {
        let (queued_batches, queued_bytes) = {
            let q = self.queue.lock();
            (q.batches.len() as u64, q.bytes)
        };
        MetricsStats {
            delivered_batches: self.delivered_batches.load(Ordering::Relaxed),
            delivered_points: self.delivered_points.load(Ordering::Relaxed),
            delivered_events: self.delivered_events.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            paced_rounds: self.paced_rounds.load(Ordering::Relaxed),
            dropped: self.drops.all(),
            queued_batches,
            queued_bytes,
            pending_events: self.events.lock().len() as u64,
            persist_errors: self.persist_errors.load(Ordering::Relaxed),
            storage: match self.storage.load(Ordering::Relaxed) {
                0 => StorageMode::MemoryOnly,
                1 => StorageMode::Disk,
                _ => StorageMode::Degraded,
            },
            disk_bytes: self.disk_bytes.load(Ordering::Relaxed),
            series: self.registry.len() as u64,
        }
    }
}

fn approx_batch_bytes(b: &Batch) -> u64 {
    let items: usize = match &b.body {
        BatchBody::Metrics { points } => points.iter().map(|p| p.approx_bytes()).sum(),
        BatchBody::Events { events } => events.iter().map(|e| e.approx_bytes()).sum(),
    };
    (items + 512) as u64
}
