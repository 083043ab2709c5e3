//! Exposure recording without allocation once an exposure was seen: a
//! [`HotTable`] keyed by the XXH3 of (targeting key, flag, variation) holds
//! the exposure counter's handle for (flag, variation) and when the last
//! exposure event was queued, so a repeat costs one probe, one counter add
//! and one comparison: no label strings, no series lookup, no lock.

use super::hot::HotTable;
use super::registry::Counter;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use twox_hash::XxHash3_64;

/// Seed of the targeting-key hash (any fixed value; not a secret).
const TARGETING_SEED: u64 = 0x6c67_6578_706f;

/// The id of a targeting key in the exposure table: hash it once per
/// context and pass it to [`super::Metrics::exposure_prehashed`].
#[inline]
pub(crate) fn targeting_key_id(targeting_key: &str) -> u64 {
    XxHash3_64::oneshot_with_seed(TARGETING_SEED, targeting_key.as_bytes())
}

/// The table key of one (targeting key, flag, variation): each part seeds
/// the hash of the next, so `("ab", "c")` and `("a", "bc")` differ.
#[inline]
pub(crate) fn exposure_key(targeting_id: u64, flag: &str, variation: &str) -> u64 {
    let flag_id = XxHash3_64::oneshot_with_seed(targeting_id, flag.as_bytes());
    XxHash3_64::oneshot_with_seed(flag_id, variation.as_bytes())
}

/// One (targeting key, flag, variation) seen in this session.
pub(crate) struct ExposureEntry {
    pub(crate) counter: Counter,
    /// Wall-clock ms of the last queued event; `i64::MIN` before the first.
    emitted_ms: AtomicI64,
}

impl ExposureEntry {
    pub(crate) fn new(counter: Counter) -> Self {
        ExposureEntry {
            counter,
            emitted_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether an event is due at `now_ms`: the first sighting, or the
    /// window has elapsed since the last event (or the clock went back).
    /// Exactly one of several racing threads gets `true`.
    #[inline]
    pub(crate) fn event_due(&self, now_ms: i64, window_ms: i64) -> bool {
        if window_ms <= 0 {
            return true;
        }
        let last = self.emitted_ms.load(Ordering::Relaxed);
        if last != i64::MIN {
            let age = now_ms.saturating_sub(last);
            if (0..window_ms).contains(&age) {
                return false;
            }
        }
        self.emitted_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// The exposure table of a metrics pipeline: bounded by
/// `MetricsConfig::exposure_dedup_capacity` entries (when full it starts
/// over, so an exposure may be re-sent early under memory pressure).
pub(crate) struct ExposureTable {
    pub(crate) table: HotTable<Arc<ExposureEntry>>,
    pub(crate) window_ms: i64,
}

impl ExposureTable {
    pub(crate) fn new(window: std::time::Duration, capacity: usize) -> Self {
        ExposureTable {
            table: HotTable::new(capacity),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        let t = targeting_key_id("u1");
        assert_ne!(exposure_key(t, "ab", "c"), exposure_key(t, "a", "bc"));
        assert_ne!(exposure_key(t, "f", "on"), exposure_key(t, "f", "off"));
        assert_ne!(
            exposure_key(t, "f", "on"),
            exposure_key(targeting_key_id("u2"), "f", "on")
        );
        assert_eq!(exposure_key(t, "f", "on"), exposure_key(t, "f", "on"));
    }
}
