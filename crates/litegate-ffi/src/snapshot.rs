//! Flag snapshots for foreign readers: the Kotlin and Swift getters read an
//! immutable snapshot of every flag (handed over in one call) instead of
//! calling into Rust for every read.
//!
//! The contract with the foreign side (see `litegate::client::FlagSnapshot`):
//!
//! - `generation_address` points at the client's change counter, a `u64`
//!   aligned to 8 bytes. A reader loads it with acquire ordering before a
//!   read; when it differs from the snapshot's `generation`, it calls
//!   [`LiteGateClient::flag_snapshot`] again. Rust bumps it before any
//!   listener hears of a change.
//! - `exposure_counters_address` points at `flags.len()` `u64`s (8-aligned),
//!   one per flag in `flags` order. A read that served a variation adds 1
//!   atomically to its flag's counter; Rust drains them into metrics.
//! - Both stay valid while the foreign side holds `handle` (the snapshot
//!   owns its counters and a reference to the generation counter), and
//!   nothing else about them may be assumed. The foreign side never frees
//!   them; it drops `handle` like any UniFFI object.

use crate::client::LiteGateClient;
use crate::convert;
use crate::error::{catch_panic, guard, LiteGateError};
use crate::types::ValueDetails;
use std::sync::Arc;

/// Keeps one snapshot's memory (exposure counters, generation counter)
/// alive for the foreign reader that holds it.
#[derive(Debug, uniffi::Object)]
pub struct SnapshotHandle {
    inner: Arc<litegate::client::FlagSnapshot>,
}

#[uniffi::export]
impl SnapshotHandle {
    /// Marks flag `index` as in use this session (a crash is charged to
    /// it): call once, on the first exposure of the flag in this snapshot.
    /// Out-of-range indexes are ignored.
    pub fn note_in_use(&self, index: u32) {
        let _ = catch_panic(|| self.inner.note_in_use(index as usize));
    }

    /// Counts one exposure of flag `index` and returns the client's current
    /// generation: for readers that cannot add to the counters themselves
    /// (Swift without an atomics package). The first exposure of a flag
    /// also marks it in use. Out-of-range indexes count nothing.
    pub fn count_exposure(&self, index: u32) -> u64 {
        catch_panic(|| {
            let i = index as usize;
            let first = self
                .inner
                .exposure_counters()
                .get(i)
                .map(|c| c.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0);
            if first == Some(true) {
                self.inner.note_in_use(i);
            }
            self.inner.generation_cell().get()
        })
        .unwrap_or(u64::MAX)
    }

    /// The client's current generation (when it differs from the
    /// snapshot's, a newer snapshot is due).
    pub fn current_generation(&self) -> u64 {
        catch_panic(|| self.inner.generation_cell().get()).unwrap_or(u64::MAX)
    }
}

/// One flag of a [`FlagSnapshot`].
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SnapshotEntry {
    /// The flag's key.
    pub key: String,
    /// Its evaluation for the snapshot's context (`value` is `None` when it
    /// cannot be evaluated; `error_code` says why).
    pub details: ValueDetails,
    /// Whether the served variation is the flag's feature (not an off
    /// path): its first exposure marks it in use ([`SnapshotHandle::note_in_use`]).
    pub serves_feature: bool,
}

/// Every flag evaluated for the default context, and where to count
/// exposures. Built by Rust when the config, the context, an override or a
/// guardrail trip changed; read by the Kotlin and Swift getters without
/// crossing the FFI.
#[derive(Debug, uniffi::Record)]
pub struct FlagSnapshot {
    /// Keeps the counters below alive; hold it as long as the snapshot.
    pub handle: Arc<SnapshotHandle>,
    /// The generation this snapshot was built at.
    pub generation: u64,
    /// Address of the client's generation counter (`u64`, 8-aligned).
    pub generation_address: u64,
    /// Address of the exposure counters (`flags.len()` `u64`s, 8-aligned).
    pub exposure_counters_address: u64,
    /// Whether a config was in use; when not, every read is
    /// `PROVIDER_NOT_READY`.
    pub ready: bool,
    /// The flags, sorted by key; an index here is an index into the counters.
    pub flags: Vec<SnapshotEntry>,
}

/// Converts a core snapshot for the foreign side.
fn snapshot_record(s: Arc<litegate::client::FlagSnapshot>) -> FlagSnapshot {
    FlagSnapshot {
        generation: s.generation(),
        generation_address: s.generation_cell().address() as u64,
        exposure_counters_address: s.exposure_counters_address() as u64,
        ready: s.is_ready(),
        flags: s
            .flags()
            .iter()
            .map(|f| SnapshotEntry {
                key: f.key.to_string(),
                details: convert::value_details(&f.details),
                serves_feature: f.serves_feature,
            })
            .collect(),
        handle: Arc::new(SnapshotHandle { inner: s }),
    }
}

#[uniffi::export]
impl LiteGateClient {
    /// Every flag evaluated for the default context now, in one call; the
    /// same snapshot comes back until something changes.
    ///
    /// # Errors
    /// `Internal` if the SDK failed (a bug); readers then serve defaults.
    pub fn flag_snapshot(&self) -> Result<FlagSnapshot, LiteGateError> {
        guard("flag_snapshot", || {
            Ok(snapshot_record(self.core().flag_snapshot()))
        })
    }
}

/// Does nothing: the floor of a foreign call into this library, for the
/// bindings bench (a plain JNA call of an empty C function).
#[no_mangle]
pub extern "C" fn litegate_noop() {}
