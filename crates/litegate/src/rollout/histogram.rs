//! OTLP exponential histograms as exported by the metrics module and
//! aggregated by collectors: `{"scale", "zero_count", "positive": {"offset",
//! "bucket_counts"}, "count", "sum", "min", "max"}`. Bucket `offset + i`
//! holds values in `(base^(offset+i), base^(offset+i+1)]` with
//! `base = 2^(2^-scale)`.

use serde::{Deserialize, Serialize};

/// The positive buckets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    /// Index of the first bucket.
    #[serde(default)]
    pub offset: i32,
    /// Counts of consecutive buckets.
    #[serde(default)]
    pub bucket_counts: Vec<u64>,
}

/// An exponential histogram of non-negative values (latencies in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpHistogram {
    /// Resolution: `base = 2^(2^-scale)`.
    pub scale: i32,
    /// Values equal to zero.
    #[serde(default)]
    pub zero_count: u64,
    /// Buckets of positive values.
    #[serde(default)]
    pub positive: Buckets,
    /// Total values.
    pub count: u64,
    /// Sum of values.
    #[serde(default)]
    pub sum: f64,
    /// Smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ExpHistogram {
    /// An empty histogram at `scale`.
    pub fn new(scale: i32) -> Self {
        ExpHistogram {
            scale,
            zero_count: 0,
            positive: Buckets::default(),
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
        }
    }

    fn base_log2(&self) -> f64 {
        (-f64::from(self.scale)).exp2()
    }

    /// The bucket index of a positive value.
    pub fn index_of(&self, v: f64) -> i32 {
        let x = v.log2() / self.base_log2();
        // (base^i, base^(i+1)]: an exact power lands in the lower bucket.
        (x.ceil() as i32) - 1
    }

    /// Lower and upper bound of bucket `index`.
    pub fn bounds(&self, index: i32) -> (f64, f64) {
        let b = self.base_log2();
        (
            (f64::from(index) * b).exp2(),
            (f64::from(index + 1) * b).exp2(),
        )
    }

    /// Records `n` copies of `v` (negative values count as zero).
    pub fn record_n(&mut self, v: f64, n: u64) {
        if n == 0 || !v.is_finite() {
            return;
        }
        self.count += n;
        self.sum += v * n as f64;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
        if v <= 0.0 {
            self.zero_count += n;
            return;
        }
        let i = self.index_of(v);
        let p = &mut self.positive;
        if p.bucket_counts.is_empty() {
            p.offset = i;
            p.bucket_counts.push(0);
        }
        if i < p.offset {
            let grow = (p.offset - i) as usize;
            let mut v2 = vec![0; grow];
            v2.append(&mut p.bucket_counts);
            p.bucket_counts = v2;
            p.offset = i;
        }
        let pos = (i - p.offset) as usize;
        if pos >= p.bucket_counts.len() {
            p.bucket_counts.resize(pos + 1, 0);
        }
        p.bucket_counts[pos] += n;
    }

    /// Records one value.
    pub fn record(&mut self, v: f64) {
        self.record_n(v, 1);
    }

    /// Adds another histogram of the same scale.
    pub fn merge(&mut self, other: &ExpHistogram) {
        let other = if other.scale == self.scale {
            other.clone()
        } else {
            other.rescaled(self.scale)
        };
        if other.scale != self.scale {
            *self = self.rescaled(other.scale);
        }
        self.zero_count += other.zero_count;
        for (i, &c) in other.positive.bucket_counts.iter().enumerate() {
            if c > 0 {
                let (lo, hi) = other.bounds(other.positive.offset + i as i32);
                let mid = (lo * hi).sqrt();
                let before = (self.count, self.sum, self.min, self.max);
                self.record_n(mid, c);
                (self.count, self.sum, self.min, self.max) = before;
            }
        }
        self.count += other.count;
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

    /// The same data at a coarser (or equal) scale; a finer scale cannot be
    /// made up, so a request for one returns the histogram as is.
    pub fn rescaled(&self, scale: i32) -> ExpHistogram {
        if scale >= self.scale {
            return self.clone();
        }
        let shift = (self.scale - scale) as u32;
        let mut out = ExpHistogram::new(scale);
        out.zero_count = self.zero_count;
        for (i, &c) in self.positive.bucket_counts.iter().enumerate() {
            let idx = (self.positive.offset + i as i32) >> shift;
            let (lo, hi) = out.bounds(idx);
            out.record_n((lo * hi).sqrt(), c);
        }
        out.count = self.count;
        out.sum = self.sum;
        out.min = self.min;
        out.max = self.max;
        out
    }

    /// Counts per bucket from the lowest value up: zero first (index
    /// `None`), then positive buckets.
    pub fn iter_buckets(&self) -> impl Iterator<Item = (Option<i32>, u64)> + '_ {
        std::iter::once((None, self.zero_count)).chain(
            self.positive
                .bucket_counts
                .iter()
                .enumerate()
                .map(|(i, &c)| (Some(self.positive.offset + i as i32), c)),
        )
    }

    /// The q-quantile (0..=1): the bucket holding rank `ceil(q * count)`,
    /// interpolated geometrically inside it, clamped to `[min, max]`.
    /// Relative error at most `base - 1` (1.09% at scale 6). `None` when
    /// empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.iter_buckets().map(|(_, c)| c).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        let mut result = None;
        for (idx, c) in self.iter_buckets() {
            if c == 0 {
                continue;
            }
            if seen + c >= rank {
                result = Some(match idx {
                    None => 0.0,
                    Some(i) => {
                        let (lo, hi) = self.bounds(i);
                        let f = (rank - seen) as f64 / c as f64;
                        lo * (hi / lo).powf(f)
                    }
                });
                break;
            }
            seen += c;
        }
        let mut v = result?;
        if let Some(min) = self.min {
            v = v.max(min);
        }
        if let Some(max) = self.max {
            v = v.min(max);
        }
        Some(v)
    }
}
