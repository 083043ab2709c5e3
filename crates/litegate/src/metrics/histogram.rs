//! Exponential histograms in the OTLP layout at a fixed scale.
//!
//! Bucket `i` holds values in `(base^i, base^(i+1)]` with
//! `base = 2^(2^-SCALE)`; at scale 6 that is 64 buckets per power of two and
//! a worst-case relative error of `(base-1)/(base+1)` ≈ 0.54% when a bucket
//! is represented by `2·lo·hi/(lo+hi)`. The live, atomic form
//! ([`HistogramCell`]) has a fixed window of [`BUCKETS`] buckets covering
//! `(2^-8, 2^32]`, so its memory never grows; the exported form
//! ([`HistogramSnapshot`]) is exactly what OTLP's `ExponentialHistogram`
//! data point carries.

use super::shard::{shard_index, Padded, SHARDS};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// The OTLP exponential-histogram scale used by every LiteGate histogram.
pub const SCALE: i32 = 6;
/// Buckets per power of two at [`SCALE`].
const PER_OCTAVE: i32 = 1 << SCALE;
/// Index of the lowest live bucket: values up to `2^-8` land here.
pub const MIN_INDEX: i32 = -8 * PER_OCTAVE;
/// Most buckets a merged snapshot keeps before lowering its scale.
pub const MAX_MERGED_BUCKETS: usize = 8192;
/// Number of live buckets (40 powers of two: `(2^-8, 2^32]`).
pub const BUCKETS: usize = 40 * PER_OCTAVE as usize;
/// Index of the highest live bucket: values above `2^32` land here.
pub const MAX_INDEX: i32 = MIN_INDEX + BUCKETS as i32 - 1;
/// Bytes of live state per histogram series: two halves of buckets (see
/// the hot/cold cell), zero counts, and the per-stripe lines (41 488 bytes).
pub const BYTES_PER_SERIES: usize =
    2 * BUCKETS * 8 + 16 + SHARDS * std::mem::size_of::<Padded<ShardState>>();

/// Upper bound of the relative error of [`HistogramSnapshot::quantile`] for
/// values inside the live window.
pub fn relative_error_bound() -> f64 {
    let base = bucket_base(SCALE);
    (base - 1.0) / (base + 1.0)
}

fn bucket_base(scale: i32) -> f64 {
    2f64.powf(2f64.powi(-scale))
}

/// `BOUNDS[k-1] = 2^(k/64)` for k in 1..=63: the sub-bucket boundaries
/// within one power of two.
static BOUNDS: LazyLock<[f64; 63]> = LazyLock::new(|| {
    let mut b = [0.0; 63];
    for (k, slot) in b.iter_mut().enumerate() {
        *slot = 2f64.powf((k as f64 + 1.0) / f64::from(PER_OCTAVE));
    }
    b
});

/// The OTLP bucket index of a positive, finite, normal value at [`SCALE`].
pub fn bucket_index(value: f64) -> i32 {
    let bits = value.to_bits();
    let exp_field = ((bits >> 52) & 0x7ff) as i32;
    if exp_field == 0 {
        // Subnormal: far below the live window.
        return MIN_INDEX;
    }
    let exp = exp_field - 1023;
    let mantissa = bits & ((1u64 << 52) - 1);
    if mantissa == 0 {
        // Exact powers of two are the inclusive upper bound of the bucket below.
        return exp * PER_OCTAVE - 1;
    }
    let m = f64::from_bits(mantissa | (1023u64 << 52));
    let sub = BOUNDS.partition_point(|b| m > *b) as i32;
    exp * PER_OCTAVE + sub
}

/// Lower and upper bound of bucket `index` at `scale`.
fn bucket_bounds(index: i32, scale: i32) -> (f64, f64) {
    let per = 2f64.powi(-scale);
    (
        2f64.powf(f64::from(index) * per),
        2f64.powf(f64::from(index + 1) * per),
    )
}

/// One writer stripe: which half is hot plus how many records it started
/// there, and per half the completed count, sum, min and max (f64 bits,
/// order-preserving because every recorded value is ≥ 0).
#[derive(Debug)]
pub(crate) struct ShardState {
    /// Bit 63: the hot half; low bits: records started in it since the flip.
    hot_and_started: AtomicU64,
    completed: [AtomicU64; 2],
    sum: [AtomicU64; 2],
    min: [AtomicU64; 2],
    max: [AtomicU64; 2],
}

const INF_BITS: u64 = 0x7ff0_0000_0000_0000;
const HOT_BIT: u64 = 1 << 63;

/// The live, lock-free histogram of one series.
///
/// Two halves (hot/cold): writers record into the hot half; a cut flips
/// every stripe to the other half, waits until the writers that started in
/// the old half have finished, then reads and clears it. So each cut is an
/// exact snapshot: count, buckets, sum, min and max describe the same set
/// of values, even with writers running during the cut.
#[derive(Debug)]
pub(crate) struct HistogramCell {
    /// `BUCKETS` per half, half 0 first.
    buckets: Box<[AtomicU64]>,
    zero: [AtomicU64; 2],
    shards: [Padded<ShardState>; SHARDS],
    /// Serializes cuts (never taken by writers).
    cut: parking_lot::Mutex<()>,
}

impl HistogramCell {
    pub(crate) fn new() -> Self {
        HistogramCell {
            buckets: (0..2 * BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            zero: [AtomicU64::new(0), AtomicU64::new(0)],
            shards: std::array::from_fn(|_| {
                Padded(ShardState {
                    hot_and_started: AtomicU64::new(0),
                    completed: [AtomicU64::new(0), AtomicU64::new(0)],
                    sum: [AtomicU64::new(0), AtomicU64::new(0)],
                    min: [AtomicU64::new(INF_BITS), AtomicU64::new(INF_BITS)],
                    max: [AtomicU64::new(0), AtomicU64::new(0)],
                })
            }),
            cut: parking_lot::Mutex::new(()),
        }
    }

    /// Records one value. NaN and negative values count as 0; values beyond
    /// the window go to the edge bucket (min/max and sum stay exact).
    #[inline]
    pub(crate) fn record(&self, value: f64) {
        let v = if value >= 0.0 {
            value.min(f64::MAX)
        } else {
            0.0
        };
        let shard = &self.shards[shard_index()].0;
        let half = (shard.hot_and_started.fetch_add(1, Ordering::Acquire) >> 63) as usize;
        if v == 0.0 {
            self.zero[half].fetch_add(1, Ordering::Relaxed);
        } else {
            let idx = bucket_index(v).clamp(MIN_INDEX, MAX_INDEX);
            self.buckets[half * BUCKETS + (idx - MIN_INDEX) as usize]
                .fetch_add(1, Ordering::Relaxed);
        }
        let _ = shard.sum[half].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
            Some((f64::from_bits(s) + v).to_bits())
        });
        let bits = v.to_bits();
        if bits < shard.min[half].load(Ordering::Relaxed) {
            shard.min[half].fetch_min(bits, Ordering::Relaxed);
        }
        if bits > shard.max[half].load(Ordering::Relaxed) {
            shard.max[half].fetch_max(bits, Ordering::Relaxed);
        }
        shard.completed[half].fetch_add(1, Ordering::Release);
    }

    /// Takes everything recorded since the previous take and resets it.
    /// Each recorded value lands in exactly one take, whole.
    pub(crate) fn take_delta(&self) -> HistogramSnapshot {
        let _serial = self.cut.lock();
        let mut old_half = 0usize;
        for s in &self.shards {
            let s = &s.0;
            let cur = s.hot_and_started.load(Ordering::Relaxed) & HOT_BIT;
            let n = s.hot_and_started.swap(cur ^ HOT_BIT, Ordering::AcqRel);
            old_half = (n >> 63) as usize;
            let started = n & !HOT_BIT;
            // Writers that saw the old half finish within a few instructions
            // unless preempted; wait for them (bounded by their progress).
            let mut spins = 0u32;
            while s.completed[old_half].load(Ordering::Acquire) != started {
                spins += 1;
                if spins < 64 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            s.completed[old_half].store(0, Ordering::Relaxed);
        }
        self.read_half(old_half, true)
    }

    /// Everything recorded since the previous take, without resetting (not
    /// an exact snapshot while writers run).
    pub(crate) fn peek(&self) -> HistogramSnapshot {
        let _serial = self.cut.lock();
        let mut a = self.read_half(0, false);
        a.merge(&self.read_half(1, false));
        a
    }

    fn read_half(&self, half: usize, reset: bool) -> HistogramSnapshot {
        let take = |a: &AtomicU64, fresh: u64| {
            if reset {
                a.swap(fresh, Ordering::Relaxed)
            } else {
                a.load(Ordering::Relaxed)
            }
        };
        let zero_count = take(&self.zero[half], 0);
        let mut first: Option<usize> = None;
        let mut counts = vec![0u64; 0];
        for (i, b) in self.buckets[half * BUCKETS..(half + 1) * BUCKETS]
            .iter()
            .enumerate()
        {
            if b.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let c = take(b, 0);
            let start = *first.get_or_insert(i);
            counts.resize(i - start + 1, 0);
            counts[i - start] = c;
        }
        let mut sum = 0.0;
        let mut min = f64::INFINITY;
        let mut max = 0.0f64;
        for s in &self.shards {
            sum += f64::from_bits(take(&s.0.sum[half], 0));
            min = min.min(f64::from_bits(take(&s.0.min[half], INF_BITS)));
            max = max.max(f64::from_bits(take(&s.0.max[half], 0)));
        }
        let offset = first.map_or(0, |f| f as i32 + MIN_INDEX);
        let count = zero_count + counts.iter().sum::<u64>();
        let has = count > 0;
        HistogramSnapshot {
            scale: SCALE,
            zero_count,
            positive: Buckets {
                offset,
                bucket_counts: counts,
            },
            count,
            sum,
            min: (has && min.is_finite()).then_some(min),
            max: has.then_some(max),
        }
    }
}

/// Bucket counts of one sign, as in OTLP's `ExponentialHistogramDataPoint.Buckets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Buckets {
    /// Index of the first bucket in `bucket_counts`.
    pub offset: i32,
    /// Counts of consecutive buckets starting at `offset`.
    pub bucket_counts: Vec<u64>,
}

/// One histogram's data (a delta or a merged total): the OTLP
/// `ExponentialHistogram` data point shape. Serialized as JSON this is the
/// format documented in `docs/metrics.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramSnapshot {
    /// OTLP scale: bucket base is `2^(2^-scale)`.
    pub scale: i32,
    /// Values recorded as 0 (or negative/NaN, which are clamped to 0).
    pub zero_count: u64,
    /// Positive buckets.
    pub positive: Buckets,
    /// Number of values (`zero_count` + all bucket counts).
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value, `None` when `count` is 0.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest value, `None` when `count` is 0.
    #[serde(default)]
    pub max: Option<f64>,
}

impl Default for HistogramSnapshot {
    fn default() -> Self {
        HistogramSnapshot {
            scale: SCALE,
            zero_count: 0,
            positive: Buckets::default(),
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
        }
    }
}

impl HistogramSnapshot {
    /// Adds `other` into `self`. Snapshots at different scales are merged at
    /// the coarser of the two (OTLP downscaling: index >> difference); if
    /// the merged buckets would span more than [`MAX_MERGED_BUCKETS`], the
    /// scale is lowered further until they fit (so hand-written or hostile
    /// JSON cannot make it allocate without bound). Counts saturate.
    pub fn merge(&mut self, other: &HistogramSnapshot) {
        let mut other = other.clone();
        let mut scale = self.scale.min(other.scale);
        loop {
            self.downscale_to(scale);
            other.downscale_to(scale);
            let spans = [&self.positive, &other.positive]
                .into_iter()
                .filter(|b| !b.bucket_counts.is_empty())
                .map(|b| {
                    (
                        i64::from(b.offset),
                        i64::from(b.offset) + b.bucket_counts.len() as i64,
                    )
                });
            let (lo, hi) = spans.fold((i64::MAX, i64::MIN), |(l, h), (s, e)| (l.min(s), h.max(e)));
            if lo >= hi || hi - lo <= MAX_MERGED_BUCKETS as i64 {
                break;
            }
            scale -= 1;
        }
        if !other.positive.bucket_counts.is_empty() {
            if self.positive.bucket_counts.is_empty() {
                self.positive = other.positive.clone();
            } else {
                let start = i64::from(self.positive.offset.min(other.positive.offset));
                let end = [&self.positive, &other.positive]
                    .iter()
                    .map(|b| i64::from(b.offset) + b.bucket_counts.len() as i64)
                    .max()
                    .unwrap_or(start);
                let mut merged = vec![0u64; (end - start).max(0) as usize];
                for b in [&self.positive, &other.positive] {
                    let base = (i64::from(b.offset) - start) as usize;
                    for (i, c) in b.bucket_counts.iter().enumerate() {
                        merged[base + i] = merged[base + i].saturating_add(*c);
                    }
                }
                self.positive = Buckets {
                    offset: start as i32,
                    bucket_counts: merged,
                };
            }
        }
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        self.count = self.count.saturating_add(other.count);
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn downscale_to(&mut self, scale: i32) {
        if scale >= self.scale || self.positive.bucket_counts.is_empty() {
            self.scale = scale.min(self.scale);
            return;
        }
        let shift = (i64::from(self.scale) - i64::from(scale)).min(40) as u32;
        let offset = i64::from(self.positive.offset);
        let start = offset >> shift;
        let last = (offset + self.positive.bucket_counts.len() as i64 - 1) >> shift;
        let mut counts = vec![0u64; (last - start + 1) as usize];
        for (i, c) in self.positive.bucket_counts.iter().enumerate() {
            let idx = ((offset + i as i64) >> shift) - start;
            counts[idx as usize] = counts[idx as usize].saturating_add(*c);
        }
        self.positive = Buckets {
            offset: start as i32,
            bucket_counts: counts,
        };
        self.scale = scale;
    }

    /// The `q`-quantile (0 ≤ q ≤ 1, nearest rank), within
    /// [`relative_error_bound`] of a recorded value and clamped to
    /// `[min, max]`. `None` when empty or `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let target = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let clamp = |v: f64| {
            let lo = self.min.unwrap_or(v);
            let hi = self.max.unwrap_or(v).max(lo);
            v.clamp(lo, hi)
        };
        let mut seen = self.zero_count;
        if seen >= target {
            return Some(clamp(0.0));
        }
        for (i, c) in self.positive.bucket_counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                let (lo, hi) = bucket_bounds(self.positive.offset + i as i32, self.scale);
                return Some(clamp(2.0 * lo * hi / (lo + hi)));
            }
        }
        // Counts inconsistent with `count` (hand-written JSON): the largest value.
        self.max
    }

    /// Mean of the values, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_log_definition() {
        for &v in &[1.0, 1.5, 2.0, 3.0, 0.01, 123.456, 1e6, 0.3] {
            let idx = bucket_index(v);
            let (lo, hi) = bucket_bounds(idx, SCALE);
            assert!(
                lo < v * (1.0 + 1e-12) && v <= hi * (1.0 + 1e-12),
                "{v} in ({lo}, {hi}]"
            );
        }
        assert_eq!(bucket_index(1.0), -1);
        assert_eq!(bucket_index(2.0), 63);
        assert_eq!(bucket_index(1.0000001), 0);
    }

    #[test]
    fn quantiles_within_bound() {
        let cell = HistogramCell::new();
        let values: Vec<f64> = (1..=10_000).map(|i| f64::from(i) * 0.37).collect();
        for v in &values {
            cell.record(*v);
        }
        let snap = cell.take_delta();
        assert_eq!(snap.count, 10_000);
        for q in [0.01, 0.5, 0.9, 0.99, 0.999] {
            let exact = values[((q * 10_000f64).ceil() as usize).clamp(1, 10_000) - 1];
            let est = snap.quantile(q).unwrap_or(f64::NAN);
            assert!(
                ((est - exact) / exact).abs() <= relative_error_bound() + 1e-9,
                "q{q}: {est} vs {exact}"
            );
        }
        assert!(relative_error_bound() < 0.0055);
        assert_eq!(BYTES_PER_SERIES, 41_488);
        assert_eq!(cell.take_delta().count, 0);
    }

    #[test]
    fn merge_and_downscale_preserve_counts() {
        let a = HistogramCell::new();
        let b = HistogramCell::new();
        for i in 0..100 {
            a.record(f64::from(i));
            b.record(f64::from(i) * 1000.0);
        }
        let mut sa = a.take_delta();
        let sb = b.take_delta();
        sa.merge(&sb);
        assert_eq!(sa.count, 200);
        assert_eq!(sa.zero_count, 2);
        assert_eq!(sa.positive.bucket_counts.iter().sum::<u64>(), 198);
        assert_eq!(sa.min, Some(0.0));
        assert_eq!(sa.max, Some(99_000.0));
        let mut coarse = HistogramSnapshot {
            scale: 2,
            ..HistogramSnapshot::default()
        };
        coarse.merge(&sa);
        assert_eq!(coarse.scale, 2);
        assert_eq!(coarse.count, 200);
        assert_eq!(coarse.positive.bucket_counts.iter().sum::<u64>(), 198);
    }

    #[test]
    fn merge_of_far_apart_snapshots_stays_bounded() {
        let far = |offset: i32| HistogramSnapshot {
            positive: Buckets {
                offset,
                bucket_counts: vec![1, 2],
            },
            count: 3,
            ..HistogramSnapshot::default()
        };
        let mut a = far(-2_000_000_000);
        a.merge(&far(2_000_000_000));
        assert!(a.positive.bucket_counts.len() <= MAX_MERGED_BUCKETS);
        assert_eq!(a.positive.bucket_counts.iter().sum::<u64>(), 6);
        assert_eq!(a.count, 6);
        let mut b = HistogramSnapshot {
            scale: 20,
            ..far(5)
        };
        b.merge(&HistogramSnapshot {
            scale: -10,
            ..far(-3)
        });
        assert_eq!(b.scale, -10);
        assert_eq!(b.positive.bucket_counts.iter().sum::<u64>(), 6);
    }

    #[test]
    fn json_round_trip() {
        let cell = HistogramCell::new();
        cell.record(5.0);
        cell.record(0.0);
        let snap = cell.take_delta();
        let json = serde_json::to_string(&snap).unwrap_or_default();
        let back: HistogramSnapshot = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, snap);
    }
}
