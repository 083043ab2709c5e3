//! Bounded, incremental windows over samples: the last N samples (a ring) or
//! the samples of the last D milliseconds (12 time slots that expire one by
//! one). Each keeps running totals so that judging a window costs a constant
//! amount of work, whatever its size.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Histogram bins per doubling: a bin spans a factor of 2^(1/16) (4.4%).
const BINS_PER_OCTAVE: f64 = 16.0;
/// The smallest value with its own bin is 2^MIN_LOG2.
const MIN_LOG2: f64 = -4.0;
/// Number of bins: values from 2^-4 to 2^24 (1/16 ms to 4.6 hours in ms).
pub(crate) const BINS: usize = 448;
/// Time slots per duration window.
pub(crate) const SLOTS: usize = 12;

fn bin_of(v: f64) -> usize {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    let i = ((v.log2() - MIN_LOG2) * BINS_PER_OCTAVE).floor();
    if i < 0.0 {
        0
    } else if i >= (BINS - 1) as f64 {
        BINS - 1
    } else {
        i as usize
    }
}

fn bin_upper(i: usize) -> f64 {
    ((i as f64 + 1.0) / BINS_PER_OCTAVE + MIN_LOG2).exp2()
}

/// Totals over a set of samples.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Totals {
    pub count: u64,
    pub fails: u64,
    #[serde(default)]
    pub max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hist: Option<Vec<u32>>,
}

impl Totals {
    fn add(&mut self, value: f64, with_hist: bool) {
        self.count += 1;
        if value > 0.5 && !with_hist {
            self.fails += 1;
        }
        if with_hist {
            if value > self.max {
                self.max = value;
            }
            let h = self.hist.get_or_insert_with(|| vec![0; BINS]);
            if let Some(b) = h.get_mut(bin_of(value)) {
                *b += 1;
            }
        }
    }

    fn remove(&mut self, value: f64, with_hist: bool) {
        self.count = self.count.saturating_sub(1);
        if value > 0.5 && !with_hist {
            self.fails = self.fails.saturating_sub(1);
        }
        if with_hist {
            if let Some(b) = self.hist.as_mut().and_then(|h| h.get_mut(bin_of(value))) {
                *b = b.saturating_sub(1);
            }
        }
    }

    fn subtract(&mut self, other: &Totals) {
        self.count = self.count.saturating_sub(other.count);
        self.fails = self.fails.saturating_sub(other.fails);
        if let (Some(a), Some(b)) = (self.hist.as_mut(), other.hist.as_ref()) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.saturating_sub(*y);
            }
        }
    }

    /// The q-quantile: the upper edge of the bin holding that rank, never
    /// above `max`. Overestimates by at most one bin (4.4%), so a guardrail
    /// errs on the side of tripping.
    fn quantile(&self, q: f64, max: f64) -> f64 {
        let Some(h) = &self.hist else { return 0.0 };
        if self.count == 0 {
            return 0.0;
        }
        if q >= 1.0 {
            return max;
        }
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in h.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return bin_upper(i).min(max);
            }
        }
        max
    }
}

/// Samples of one guardrail (and one accelerator, for model guardrails).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum WindowState {
    /// The last `cap` samples.
    Ring {
        cap: u32,
        values: VecDeque<f64>,
        totals: Totals,
        values_hist: bool,
    },
    /// Slot `i` holds samples with `at / slot_ms == epochs[i]`.
    Timed {
        slot_ms: i64,
        epochs: Vec<i64>,
        slots: Vec<Totals>,
        totals: Totals,
        values_hist: bool,
    },
}

/// What a window holds right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reading {
    pub samples: u64,
    pub value: f64,
}

impl WindowState {
    pub(crate) fn last(cap: u32, values: bool) -> Self {
        WindowState::Ring {
            cap,
            values: VecDeque::with_capacity(cap.min(1024) as usize),
            totals: Totals::default(),
            values_hist: values,
        }
    }

    pub(crate) fn duration(ms: i64, values: bool) -> Self {
        WindowState::Timed {
            slot_ms: (ms + SLOTS as i64 - 1) / SLOTS as i64,
            epochs: vec![i64::MIN; SLOTS],
            slots: vec![Totals::default(); SLOTS],
            totals: Totals::default(),
            values_hist: values,
        }
    }

    /// Adds a sample: for rates 1.0 = failing, 0.0 = fine; for value
    /// metrics the value.
    pub(crate) fn push(&mut self, value: f64, at_ms: i64) {
        match self {
            WindowState::Ring {
                cap,
                values,
                totals,
                values_hist,
            } => {
                if values.len() >= *cap as usize {
                    if let Some(old) = values.pop_front() {
                        totals.remove(old, *values_hist);
                        if *values_hist && old >= totals.max {
                            totals.max = values.iter().copied().fold(0.0, f64::max);
                        }
                    }
                }
                values.push_back(value);
                totals.add(value, *values_hist);
            }
            WindowState::Timed {
                slot_ms,
                values_hist,
                ..
            } => {
                let (slot_ms, vh) = (*slot_ms, *values_hist);
                let epoch = at_ms.div_euclid(slot_ms);
                self.expire(at_ms);
                let i = epoch.rem_euclid(SLOTS as i64) as usize;
                self.push_timed(i, epoch, value, vh);
            }
        }
    }

    fn push_timed(&mut self, i: usize, epoch: i64, value: f64, vh: bool) {
        if let WindowState::Timed {
            epochs,
            slots,
            totals,
            ..
        } = self
        {
            if epochs[i] != epoch {
                if epochs[i] > epoch {
                    // A sample older than the window: ignore it.
                    return;
                }
                totals.subtract(&slots[i]);
                slots[i] = Totals::default();
                epochs[i] = epoch;
            }
            slots[i].add(value, vh);
            totals.add(value, vh);
        }
    }

    /// Drops time slots older than the window at `now_ms`.
    pub(crate) fn expire(&mut self, now_ms: i64) {
        if let WindowState::Timed {
            slot_ms,
            epochs,
            slots,
            totals,
            ..
        } = self
        {
            let now_epoch = now_ms.div_euclid(*slot_ms);
            for i in 0..SLOTS {
                if epochs[i] != i64::MIN && epochs[i] <= now_epoch - SLOTS as i64 {
                    totals.subtract(&slots[i]);
                    slots[i] = Totals::default();
                    epochs[i] = i64::MIN;
                }
            }
            if totals.count == 0 {
                *totals = Totals::default();
            }
        }
    }

    /// Forgets every sample.
    pub(crate) fn clear(&mut self) {
        match self {
            WindowState::Ring {
                cap, values_hist, ..
            } => *self = Self::last(*cap, *values_hist),
            WindowState::Timed {
                slot_ms,
                values_hist,
                ..
            } => {
                let ms = *slot_ms * SLOTS as i64;
                *self = Self::duration(ms, *values_hist);
            }
        }
    }

    /// Samples in the window and the largest value (value windows).
    pub(crate) fn count_and_max(&self) -> (u64, f64) {
        match self {
            WindowState::Ring { totals, .. } => (totals.count, totals.max),
            WindowState::Timed {
                totals,
                slots,
                epochs,
                ..
            } => (
                totals.count,
                slots
                    .iter()
                    .zip(epochs)
                    .filter(|(_, e)| **e != i64::MIN)
                    .map(|(s, _)| s.max)
                    .fold(0.0, f64::max),
            ),
        }
    }

    /// Samples in the window and the metric: a rate in percent, or the
    /// `q`-quantile of the values.
    pub(crate) fn read(&self, q: f64) -> Reading {
        let (totals, hist, max) = match self {
            WindowState::Ring {
                totals,
                values_hist,
                ..
            } => (totals, *values_hist, totals.max),
            WindowState::Timed {
                totals,
                slots,
                epochs,
                values_hist,
                ..
            } => {
                let max = slots
                    .iter()
                    .zip(epochs)
                    .filter(|(_, e)| **e != i64::MIN)
                    .map(|(s, _)| s.max)
                    .fold(0.0, f64::max);
                (totals, *values_hist, max)
            }
        };
        let value = if hist {
            totals.quantile(q, max)
        } else if totals.count == 0 {
            0.0
        } else {
            100.0 * totals.fails as f64 / totals.count as f64
        };
        Reading {
            samples: totals.count,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_only_the_last_n() {
        let mut w = WindowState::last(4, false);
        for v in [1.0, 1.0, 0.0, 0.0, 0.0, 0.0] {
            w.push(v, 0);
        }
        assert_eq!(w.read(0.0).samples, 4);
        assert_eq!(w.read(0.0).value, 0.0);
        w.push(1.0, 0);
        assert_eq!(w.read(0.0).value, 25.0);
    }

    #[test]
    fn ring_quantile_is_exact_for_a_single_value_and_max_tracks_eviction() {
        let mut w = WindowState::last(1, true);
        w.push(2001.0, 0);
        assert_eq!(w.read(0.95).value, 2001.0);
        let mut w = WindowState::last(3, true);
        for v in [900.0, 10.0, 10.0, 10.0] {
            w.push(v, 0);
        }
        assert_eq!(w.read(1.0).value, 10.0);
        let p = w.read(0.5).value;
        assert!((10.0..=10.0 * 1.045).contains(&p), "{p}");
    }

    #[test]
    fn timed_window_expires_old_slots() {
        let mut w = WindowState::duration(60_000, false);
        w.push(1.0, 0);
        w.push(0.0, 30_000);
        assert_eq!(w.read(0.0).samples, 2);
        w.expire(62_000);
        assert_eq!(w.read(0.0).samples, 1);
        assert_eq!(w.read(0.0).value, 0.0);
        w.expire(200_000);
        assert_eq!(w.read(0.0).samples, 0);
    }

    #[test]
    fn bins_cover_the_range_monotonically() {
        let mut last = 0;
        for v in [0.01, 0.1, 1.0, 10.0, 750.0, 2000.0, 1e6, 1e9] {
            let b = bin_of(v);
            assert!(b >= last);
            assert!(bin_upper(b) >= v.min(bin_upper(BINS - 1)));
            last = b;
        }
    }
}
