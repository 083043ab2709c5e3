//! Prerequisite results memoised for one evaluation.
//!
//! Prerequisites form a directed acyclic graph (config load refuses cycles,
//! chains deeper than [`MAX_PREREQUISITE_DEPTH`] and flags that reach more
//! than [`MAX_PREREQUISITE_FLAGS`] other flags). Within one lookup each
//! prerequisite flag is evaluated at most once and every later edge to it is
//! an O(1) probe of [`PrereqMemo`], so a lookup costs time linear in the size
//! of the flag's prerequisite graph instead of exponential in its depth. The
//! memo lives on the stack: the evaluator still allocates nothing.

/// Prerequisite chains deeper than this (edges from the flag looked up to the
/// deepest prerequisite) evaluate as failed; config load refuses them
/// (`Limits::max_prerequisite_depth`) before they get here.
pub const MAX_PREREQUISITE_DEPTH: usize = 16;

/// Distinct flags one lookup may evaluate through prerequisites: the capacity
/// of the per-lookup memo. Config load refuses a flag whose prerequisites
/// reach more flags than `Limits::max_prerequisite_flags` (which cannot be
/// raised past this); a hand-built document that still does sees the
/// prerequisites past this many evaluate as failed.
pub const MAX_PREREQUISITE_FLAGS: usize = 16;

/// Slots in the open-addressing table: twice the capacity, a power of two.
const SLOTS: usize = 2 * MAX_PREREQUISITE_FLAGS;
const EMPTY: u32 = u32::MAX;
/// Stored for a prerequisite flag that did not resolve (malformed, too deep,
/// memo full).
pub(super) const FAILED: u32 = u32::MAX;

/// The variations served by the prerequisite flags evaluated so far in one
/// lookup, keyed by flag index.
pub(super) struct PrereqMemo {
    keys: [u32; SLOTS],
    served: [u32; SLOTS],
    len: usize,
}

impl PrereqMemo {
    /// An empty memo (264 bytes on the stack, nothing on the heap).
    pub(super) fn new() -> Self {
        PrereqMemo {
            keys: [EMPTY; SLOTS],
            served: [FAILED; SLOTS],
            len: 0,
        }
    }

    /// The slot for `flag`: where it is, or the empty slot where it goes.
    fn slot(&self, flag: u32) -> usize {
        // Fibonacci hashing onto 32 slots, then linear probing. The table is
        // never more than half full, so an empty slot is always found.
        let mut i = (flag.wrapping_mul(0x9E37_79B9) >> (32 - SLOTS.trailing_zeros())) as usize;
        for _ in 0..SLOTS {
            let k = self.keys[i];
            if k == flag || k == EMPTY {
                return i;
            }
            i = (i + 1) & (SLOTS - 1);
        }
        i
    }

    /// What `flag` served earlier in this lookup: `Some(FAILED)` when it did
    /// not resolve, `None` when it has not been evaluated yet.
    pub(super) fn get(&self, flag: usize) -> Option<u32> {
        let key = u32::try_from(flag).ok()?;
        let i = self.slot(key);
        (self.keys[i] == key).then_some(self.served[i])
    }

    /// Whether another flag can be remembered.
    pub(super) fn has_room(&self) -> bool {
        self.len < MAX_PREREQUISITE_FLAGS
    }

    /// Remembers what `flag` served ([`FAILED`] when it did not resolve).
    /// Does nothing once full ([`Self::has_room`] is checked first).
    pub(super) fn insert(&mut self, flag: usize, served: u32) {
        let Ok(key) = u32::try_from(flag) else {
            return;
        };
        if key == EMPTY || !self.has_room() {
            return;
        }
        let i = self.slot(key);
        if self.keys[i] == EMPTY {
            self.len += 1;
        }
        self.keys[i] = key;
        self.served[i] = served;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_capacity_then_refuses() {
        let mut m = PrereqMemo::new();
        for f in 0..MAX_PREREQUISITE_FLAGS {
            assert!(m.has_room());
            m.insert(f * 64, f as u32);
        }
        assert!(!m.has_room());
        m.insert(9_999, 1);
        assert_eq!(m.get(9_999), None);
        for f in 0..MAX_PREREQUISITE_FLAGS {
            assert_eq!(m.get(f * 64), Some(f as u32));
        }
        assert_eq!(m.get(1), None);
    }

    #[test]
    fn failed_is_remembered_as_failed() {
        let mut m = PrereqMemo::new();
        m.insert(7, FAILED);
        assert_eq!(m.get(7), Some(FAILED));
    }
}
