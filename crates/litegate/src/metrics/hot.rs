//! A bounded table keyed by pre-hashed 64-bit ids whose hits are lock-free:
//! the read path of exposures and of the session's active-flag set.
//!
//! Entries live in two maps: a *frozen* one published through `arc-swap`
//! (read without a lock or a reference-count write) and a small *young* one
//! behind a mutex that takes new entries. When the young map grows to a
//! fraction of the frozen one, both are merged into a new frozen map, so
//! each entry is copied a bounded number of times (geometric growth) and a
//! key seen twice is, from then on, a single probe of the frozen map. Keys
//! are already hashes (XXH3 of the ids), so the maps use them as is: no
//! SipHash, no hasher state on the heap.

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// A `Hasher` for keys that are already well-mixed 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are used; fold anything else so it stays correct.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;

/// The table. `V` is cloned when maps merge: keep it small (an `Arc` or a
/// unit).
pub(crate) struct HotTable<V> {
    frozen: ArcSwap<Map<V>>,
    young: Mutex<Map<V>>,
    capacity: usize,
}

impl<V> std::fmt::Debug for HotTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotTable")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<V: Clone> HotTable<V> {
    /// An empty table holding at most `capacity` entries (at least 1); when
    /// full it starts over empty (callers treat a forgotten key as new).
    pub(crate) fn new(capacity: usize) -> Self {
        HotTable {
            frozen: ArcSwap::from_pointee(Map::default()),
            young: Mutex::new(Map::default()),
            capacity: capacity.max(1),
        }
    }

    /// Calls `f` on the entry of `key`, if any. A key in the frozen map costs
    /// one lock-free probe; one found in the young map takes its mutex and
    /// promotes the young map (see [`HotTable::promote_if_cheap`]) so the
    /// next hit is lock-free.
    #[inline]
    pub(crate) fn with<R>(&self, key: u64, f: impl FnOnce(&V) -> R) -> Option<R> {
        {
            let frozen = self.frozen.load();
            if let Some(v) = frozen.get(&key) {
                return Some(f(v));
            }
        }
        let mut young = self.young.lock();
        let r = young.get(&key).map(f)?;
        self.promote_if_cheap(&mut young);
        Some(r)
    }

    /// The entry of `key`, made with `make` when absent (under the young
    /// map's mutex, so two threads agree on one entry). Returns a clone.
    pub(crate) fn get_or_insert_with(&self, key: u64, make: impl FnOnce() -> V) -> V {
        if let Some(v) = self.frozen.load().get(&key) {
            return v.clone();
        }
        let mut young = self.young.lock();
        // Re-check the frozen map: a merge may have moved the key there.
        let frozen_len = {
            let frozen = self.frozen.load();
            if let Some(v) = frozen.get(&key) {
                return v.clone();
            }
            frozen.len()
        };
        if let Some(v) = young.get(&key) {
            return v.clone();
        }
        if frozen_len + young.len() >= self.capacity {
            self.frozen.store(Arc::new(Map::default()));
            young.clear();
        }
        let v = make();
        young.insert(key, v.clone());
        // Geometric growth: each entry is copied O(1) times on average.
        if young.len() > self.frozen.load().len() / 2 {
            self.merge(&mut young);
        }
        v
    }

    /// Merges the young map into the frozen one when that copies at most 16
    /// entries per young entry (always while the table is small): keys that
    /// are read again become lock-free without quadratic copying.
    fn promote_if_cheap(&self, young: &mut Map<V>) {
        if young.len().saturating_mul(16) >= self.frozen.load().len() {
            self.merge(young);
        }
    }

    /// Publishes frozen ∪ young as the new frozen map; the caller holds the
    /// young map's mutex, so merges never race.
    fn merge(&self, young: &mut Map<V>) {
        let frozen = self.frozen.load_full();
        let mut merged: Map<V> = Map::with_capacity_and_hasher(
            frozen.len() + young.len(),
            BuildHasherDefault::default(),
        );
        merged.extend(frozen.iter().map(|(k, v)| (*k, v.clone())));
        merged.extend(young.drain());
        self.frozen.store(Arc::new(merged));
    }

    /// How many entries the table holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let young = self.young.lock();
        young.len() + self.frozen.load().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_across_merges() {
        let t: HotTable<u32> = HotTable::new(1000);
        for k in 0..300u64 {
            assert_eq!(t.get_or_insert_with(k * 7919, || k as u32), k as u32);
        }
        for k in 0..300u64 {
            assert_eq!(t.with(k * 7919, |v| *v), Some(k as u32));
            // An existing entry is returned, not replaced.
            assert_eq!(t.get_or_insert_with(k * 7919, || 0), k as u32);
        }
        assert_eq!(t.with(1, |v| *v), None);
        assert_eq!(t.len(), 300);
        // Every key read again is now in the frozen (lock-free) map.
        assert!(t.young.lock().is_empty());
        assert_eq!(t.frozen.load().len(), 300);
    }

    #[test]
    fn a_lone_key_becomes_lock_free() {
        let t: HotTable<u8> = HotTable::new(100);
        t.get_or_insert_with(5, || 1);
        assert_eq!(t.with(5, |v| *v), Some(1));
        assert!(t.frozen.load().contains_key(&5));
    }

    #[test]
    fn bounded_at_capacity_exactly() {
        let t: HotTable<()> = HotTable::new(16);
        for k in 0..16u64 {
            t.get_or_insert_with(k, || ());
        }
        assert_eq!(t.len(), 16);
        // One past the bound starts over with just the new key.
        t.get_or_insert_with(99, || ());
        assert_eq!(t.len(), 1);
        assert!(t.with(99, |_| ()).is_some());
        assert!(t.with(0, |_| ()).is_none());
    }
}
