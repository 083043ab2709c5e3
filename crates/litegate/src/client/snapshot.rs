//! Flag snapshots: every flag evaluated for the default context, built once
//! per change, for readers that cannot afford a call into Rust per read
//! (Kotlin over JNA, Swift).
//!
//! How it fits together:
//!
//! - A [`SnapshotGeneration`] counter, one per client, is bumped *before*
//!   anything else learns of a change that can alter a flag value for the
//!   default context: a new config (the first change listener, registered
//!   before any other), a context change ([`Client::set_context`]), an
//!   override ([`Client::publish_flag_change`], called by the FFI after
//!   `set_override`), a guardrail trip or reset (the guard hub, right after
//!   it swaps the disables). Foreign readers load that counter with acquire
//!   ordering on every read; when it moved, they ask for a new snapshot.
//! - [`Client::flag_snapshot`] reads the generation first, then the state,
//!   and evaluates every flag ([`FlagSnapshot`]); one snapshot is cached
//!   per generation. A snapshot built from state newer than its generation
//!   is harmless: the next read sees the newer generation and rebuilds.
//! - Exposures: each snapshot holds one `AtomicU64` counter per flag. The
//!   foreign reader adds 1 to the flag's counter for every read that served
//!   a variation. Rust drains the counters (swap to 0, so a count is taken
//!   exactly once) every [`EXPOSURE_DRAIN_INTERVAL`], on `flush`, on
//!   `shutdown` and when the snapshot is dropped, and records them through
//!   the same [`crate::metrics::Metrics::exposure`] path as a Rust read
//!   (counter plus de-duplicated event), with the snapshot's own context.
//!
//! Memory: a snapshot holds the evaluated details (one per flag) and 8
//! bytes of counters per flag; at most [`MAX_SNAPSHOT_FLAGS`] flags are
//! taken (a config is bounded well below that). Only the current snapshot
//! is cached; older ones live while a reader still holds them.

use super::guard::GuardHub;
use super::Client;
use crate::config::FlagValue;
use crate::eval::{Context, Details, ErrorCode, Evaluator};
use crate::metrics::{names, Metrics};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the client drains exposure counters of live snapshots into
/// metrics (besides `flush`, `shutdown` and snapshot drop).
pub const EXPOSURE_DRAIN_INTERVAL: Duration = Duration::from_secs(1);

/// The most flags a snapshot evaluates; flags past it (in key order) read
/// as `FLAG_NOT_FOUND` through the snapshot. Configs are bounded far below.
pub const MAX_SNAPSHOT_FLAGS: usize = 100_000;

/// The change counter foreign readers watch. Its address is stable for as
/// long as any `Arc` of it lives (the client and every snapshot hold one).
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub struct SnapshotGeneration {
    value: AtomicU64,
}

impl SnapshotGeneration {
    /// The current generation (acquire).
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    /// Marks every snapshot built so far as stale (release).
    pub(crate) fn bump(&self) {
        self.value.fetch_add(1, Ordering::AcqRel);
    }

    /// The address of the 8-byte, 8-aligned counter, for foreign readers
    /// that load it with acquire ordering. Valid while this value lives.
    pub fn address(&self) -> usize {
        self.value.as_ptr() as usize
    }
}

/// One flag in a [`FlagSnapshot`].
#[derive(Debug, Clone)]
pub struct SnapshotFlag {
    /// The flag's key.
    pub key: Box<str>,
    /// The evaluation for the snapshot's context: `value` is `None` when
    /// the flag cannot be evaluated (`error` says why).
    pub details: Details<Option<FlagValue>>,
    /// Whether the served variation is the flag's feature (not an off path),
    /// so a crash of the session is charged to it.
    pub serves_feature: bool,
}

/// Every flag evaluated for one context at one generation, plus its
/// exposure counters. Immutable except for the counters.
pub struct FlagSnapshot {
    generation: u64,
    generation_cell: Arc<SnapshotGeneration>,
    ready: bool,
    flags: Box<[SnapshotFlag]>,
    exposures: Box<[AtomicU64]>,
    context: Arc<Context>,
    sink: ExposureSink,
}

impl std::fmt::Debug for FlagSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagSnapshot")
            .field("generation", &self.generation)
            .field("ready", &self.ready)
            .field("flags", &self.flags.len())
            .finish_non_exhaustive()
    }
}

/// Where drained exposures go: the client's metrics and guard hub.
#[derive(Clone)]
struct ExposureSink {
    metrics: Metrics,
    guard: Arc<GuardHub>,
    record_exposures: bool,
}

impl FlagSnapshot {
    /// The generation this snapshot was built at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The client's generation counter (shared by all its snapshots).
    pub fn generation_cell(&self) -> &Arc<SnapshotGeneration> {
        &self.generation_cell
    }

    /// Whether a config was in use; when not, every read is
    /// `PROVIDER_NOT_READY`.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The flags, sorted by key.
    pub fn flags(&self) -> &[SnapshotFlag] {
        &self.flags
    }

    /// The context the flags were evaluated for.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// The index of `key` in [`FlagSnapshot::flags`].
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.flags.binary_search_by(|f| (*f.key).cmp(key)).ok()
    }

    /// The exposure counters, one per flag, in [`FlagSnapshot::flags`]
    /// order. A reader adds 1 (any ordering) for a read that served a
    /// variation; Rust swaps them to 0 when it drains.
    pub fn exposure_counters(&self) -> &[AtomicU64] {
        &self.exposures
    }

    /// The address of the first exposure counter (8-aligned `u64`s, one per
    /// flag), for foreign readers that add to them atomically. Valid while
    /// this snapshot lives.
    pub fn exposure_counters_address(&self) -> usize {
        self.exposures.as_ptr() as usize
    }

    /// Counts one exposure of flag `index` (the Rust equivalent of what a
    /// foreign reader does through [`FlagSnapshot::exposure_counters_address`]).
    /// Out-of-range indexes are ignored.
    pub fn count_exposure(&self, index: usize) {
        if let Some(c) = self.exposures.get(index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Marks flag `index` as in use this session (a crash is charged to it)
    /// if it serves its feature: the foreign reader calls this on the first
    /// exposure of a flag in a snapshot, so crash attribution does not wait
    /// for a drain.
    pub fn note_in_use(&self, index: usize) {
        if let Some(f) = self.flags.get(index) {
            if f.serves_feature {
                self.sink.guard.note_active_flag(&f.key);
            }
        }
    }

    /// Records every counted exposure through the metrics exposure path
    /// (counter and de-duplicated event) and resets the counters. Returns
    /// how many exposures were recorded.
    pub fn drain_exposures(&self) -> u64 {
        let mut total = 0;
        for (flag, counter) in self.flags.iter().zip(self.exposures.iter()) {
            let n = counter.swap(0, Ordering::AcqRel);
            if n == 0 {
                continue;
            }
            total += n;
            let Some(variation) = flag.details.variation.as_deref() else {
                continue;
            };
            if flag.serves_feature {
                self.sink.guard.note_active_flag(&flag.key);
            }
            if !self.sink.record_exposures {
                continue;
            }
            self.sink
                .metrics
                .exposure(&flag.key, variation, &self.context.targeting_key);
            if n > 1 {
                self.sink
                    .metrics
                    .counter(
                        names::FLAG_EXPOSURES,
                        &[
                            (names::label::FLAG, &*flag.key),
                            (names::label::VARIATION, variation),
                        ],
                    )
                    .add(n - 1);
            }
        }
        total
    }
}

impl Drop for FlagSnapshot {
    fn drop(&mut self) {
        // Counts taken after the last drain are recorded, not lost.
        self.drain_exposures();
    }
}

/// The client's snapshot state: the generation, the cached current
/// snapshot, and weak references to every snapshot handed out (for drains).
pub(crate) struct Snapshots {
    pub(crate) generation: Arc<SnapshotGeneration>,
    current: Mutex<Option<Arc<FlagSnapshot>>>,
    live: Mutex<Vec<Weak<FlagSnapshot>>>,
}

impl Snapshots {
    pub(crate) fn new(generation: Arc<SnapshotGeneration>) -> Self {
        Snapshots {
            generation,
            current: Mutex::new(None),
            live: Mutex::new(Vec::new()),
        }
    }

    /// Drains the exposure counters of every live snapshot; prunes dead ones.
    pub(crate) fn drain(&self) -> u64 {
        let live: Vec<Arc<FlagSnapshot>> = {
            let mut l = self.live.lock();
            l.retain(|w| w.strong_count() > 0);
            l.iter().filter_map(Weak::upgrade).collect()
        };
        live.iter().map(|s| s.drain_exposures()).sum()
    }
}

impl Client {
    /// Every flag evaluated for the default context, as of now. Cached per
    /// generation: cheap when nothing changed since the last call. Exposures
    /// are not recorded by building; readers count them on the snapshot.
    pub fn flag_snapshot(&self) -> Arc<FlagSnapshot> {
        let snapshots = &self.shared.snapshots;
        let mut current = snapshots.current.lock();
        // The generation first, the state after: a snapshot is never newer
        // in name than in content.
        let generation = snapshots.generation.get();
        if let Some(s) = current.as_ref() {
            if s.generation == generation {
                return Arc::clone(s);
            }
        }
        let snapshot = Arc::new(self.build_snapshot(generation));
        *current = Some(Arc::clone(&snapshot));
        drop(current);
        let mut live = snapshots.live.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&snapshot));
        snapshot
    }

    /// Tells snapshot readers that flag values may have changed, before any
    /// listener hears of it. The client calls it for configs, contexts and
    /// guardrail trips; call it after [`Client::set_override`] and
    /// [`Client::clear_override`]/[`Client::clear_overrides`] (the FFI does).
    pub fn publish_flag_change(&self) {
        self.shared.snapshots.generation.bump();
    }

    /// Records the exposures counted on every live snapshot now (done every
    /// [`EXPOSURE_DRAIN_INTERVAL`], on `flush` and on `shutdown`). Returns
    /// how many were recorded.
    pub fn drain_snapshot_exposures(&self) -> u64 {
        self.shared.snapshots.drain()
    }

    fn build_snapshot(&self, generation: u64) -> FlagSnapshot {
        let doc = self.document();
        let context = self.context();
        let overrides = self.shared.overrides.load_full();
        let disables = self.shared.guard.disables.load_full();
        let evaluator = Evaluator::new()
            .with_overrides(&overrides)
            .with_disables(&disables);
        let flags: Box<[SnapshotFlag]> = match &doc {
            None => Box::new([]),
            Some(doc) => {
                let mut keys: Vec<&str> = doc.flag_keys().collect();
                keys.sort_unstable();
                keys.truncate(MAX_SNAPSHOT_FLAGS);
                keys.into_iter()
                    .map(|key| {
                        let details = match evaluator.details(doc, key, &context) {
                            Ok(d) => Details {
                                value: Some(d.value),
                                variation: d.variation,
                                reason: d.reason,
                                error: d.error,
                                bucket: d.bucket,
                            },
                            Err(code) => Details::error(None, code),
                        };
                        let serves_feature = details.variation.is_some()
                            && super::flags::serves_feature(&details.reason);
                        SnapshotFlag {
                            key: Box::from(key),
                            details,
                            serves_feature,
                        }
                    })
                    .collect()
            }
        };
        let exposures = (0..flags.len()).map(|_| AtomicU64::new(0)).collect();
        FlagSnapshot {
            generation,
            generation_cell: Arc::clone(&self.shared.snapshots.generation),
            ready: doc.is_some(),
            flags,
            exposures,
            context,
            sink: ExposureSink {
                metrics: self.shared.metrics.clone(),
                guard: Arc::clone(&self.shared.guard),
                record_exposures: self.shared.config.record_exposures,
            },
        }
    }
}

/// What a snapshot read of `key` gives when the key is not in the snapshot.
pub fn missing_flag_code(snapshot: &FlagSnapshot) -> ErrorCode {
    if snapshot.ready {
        ErrorCode::FlagNotFound
    } else {
        ErrorCode::ProviderNotReady
    }
}

/// Wires snapshots into a starting client: the config hook (registered
/// before any other change listener, so it runs first on the dispatch
/// thread) and the periodic drain on the client's runtime.
pub(crate) fn install(client: &Client, runtime: &tokio::runtime::Handle) {
    let generation = Arc::clone(&client.shared.snapshots.generation);
    client.shared.delivery.on_change(move |_| generation.bump());
    let weak = Arc::downgrade(&client.shared.snapshots);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(EXPOSURE_DRAIN_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(snapshots) = weak.upgrade() else {
                return;
            };
            snapshots.drain();
        }
    });
}
