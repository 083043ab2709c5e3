//! Series registry and the recording handles.
//!
//! Looking a series up (`Metrics::counter`) takes a read lock and allocates
//! a key; recording through the returned handle touches only atomics of that
//! one series. Series beyond the cap, and label sets beyond the label
//! limits, are redirected to one overflow series per metric name carrying
//! the attribute `otel.metric.overflow=true` (the OpenTelemetry convention).

use super::histogram::{HistogramCell, HistogramSnapshot};
use super::hot::HotTable;
use super::shard::{shard_index, Padded, SHARDS};
use super::stats::{DropCounters, DropReason};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use twox_hash::XxHash3_64;

/// The label set an overflow series carries.
pub const OVERFLOW_LABEL: (&str, &str) = ("otel.metric.overflow", "true");

/// Limits on series and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLimits {
    /// Distinct (kind, name, labels) series; more go to the overflow series.
    pub max_series: usize,
    /// Of those, histogram series (each holds
    /// [`super::HISTOGRAM_BYTES_PER_SERIES`] bytes).
    pub max_histogram_series: usize,
    /// Labels per series.
    pub max_labels: usize,
    /// Bytes per label key.
    pub max_label_key_bytes: usize,
    /// Bytes per label value.
    pub max_label_value_bytes: usize,
}

impl Default for SeriesLimits {
    fn default() -> Self {
        SeriesLimits {
            max_series: 500,
            max_histogram_series: 64,
            max_labels: 8,
            max_label_key_bytes: 64,
            max_label_value_bytes: 128,
        }
    }
}

/// What kind of aggregate a series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Monotonic sum of integers.
    Counter,
    /// Exponential histogram.
    Histogram,
    /// Last value.
    Gauge,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    kind: SeriesKind,
    name: String,
    labels: Vec<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct CounterCell {
    shards: [Padded<AtomicU64>; SHARDS],
}

#[derive(Debug)]
pub(crate) struct GaugeCell {
    bits: AtomicU64,
    dirty: AtomicBool,
}

#[derive(Debug, Clone)]
enum Cell {
    Counter(Arc<CounterCell>),
    Histogram(Arc<HistogramCell>),
    Gauge(Arc<GaugeCell>),
}

/// A monotonic counter series. Cloning is cheap; `add` touches one atomic.
#[derive(Debug, Clone)]
pub struct Counter {
    cell: Arc<CounterCell>,
}

impl Counter {
    /// Adds `n`. Lock-free and allocation-free.
    #[inline]
    pub fn add(&self, n: u64) {
        self.cell.shards[shard_index()]
            .0
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Adds 1.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
}

/// A histogram series (scale-6 exponential buckets). Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Histogram {
    cell: Arc<HistogramCell>,
}

impl Histogram {
    /// Records one value (NaN and negatives count as 0). Lock-free and
    /// allocation-free.
    #[inline]
    pub fn record(&self, value: f64) {
        self.cell.record(value);
    }
}

/// A gauge series (last value wins). Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Gauge {
    cell: Arc<GaugeCell>,
}

impl Gauge {
    /// Sets the current value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.cell.bits.store(value.to_bits(), Ordering::Relaxed);
        self.cell.dirty.store(true, Ordering::Release);
    }
}

/// One series' data in a delta cut or a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PointValue {
    /// Counter increment (delta) or total.
    Counter {
        /// The value.
        value: u64,
    },
    /// Gauge value.
    Gauge {
        /// The value.
        value: f64,
    },
    /// Histogram delta or total.
    Histogram {
        /// The histogram.
        histogram: HistogramSnapshot,
    },
}

/// One series with its labels and value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name (see [`super::names`]).
    pub name: String,
    /// Labels, sorted by key.
    pub labels: Vec<(String, String)>,
    /// The data.
    #[serde(flatten)]
    pub value: PointValue,
}

impl MetricPoint {
    /// Rough encoded size, used to bound batches.
    pub(crate) fn approx_bytes(&self) -> usize {
        let labels: usize = self
            .labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum();
        let value = match &self.value {
            PointValue::Histogram { histogram } => 160 + histogram.positive.bucket_counts.len() * 6,
            _ => 48,
        };
        self.name.len() + labels + value + 120
    }
}

/// The id of a by-name lookup: each part seeds the hash of the next, so
/// part boundaries count (`("ab", "c")` differs from `("a", "bc")`).
fn lookup_id(kind: SeriesKind, name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut h = XxHash3_64::oneshot_with_seed(kind as u64, name.as_bytes());
    for (k, v) in labels {
        h = XxHash3_64::oneshot_with_seed(h, k.as_bytes());
        h = XxHash3_64::oneshot_with_seed(h, v.as_bytes());
    }
    h
}

/// All series, keyed by kind, name and labels.
#[derive(Debug)]
pub(crate) struct Registry {
    series: RwLock<HashMap<SeriesKey, Cell>>,
    /// By-name lookups already answered, keyed by the XXH3 of (kind, name,
    /// labels as given): a repeat `metrics.counter(name, labels)` is one
    /// lock-free probe, without building the sorted owned key.
    recent: HotTable<Cell>,
    /// Everything taken so far, for [`Registry::snapshot`].
    totals: Mutex<HashMap<SeriesKey, PointValue>>,
    limits: SeriesLimits,
    /// Non-overflow series count.
    regular: AtomicU64,
    /// Non-overflow histogram series count.
    histograms: AtomicU64,
}

impl Registry {
    pub(crate) fn new(limits: SeriesLimits) -> Self {
        Registry {
            series: RwLock::new(HashMap::new()),
            recent: HotTable::new(limits.max_series.saturating_mul(4).saturating_add(64)),
            totals: Mutex::new(HashMap::new()),
            limits,
            regular: AtomicU64::new(0),
            histograms: AtomicU64::new(0),
        }
    }

    fn labels_fit(&self, labels: &[(&str, &str)]) -> bool {
        labels.len() <= self.limits.max_labels
            && labels.iter().all(|(k, v)| {
                !k.is_empty()
                    && k.len() <= self.limits.max_label_key_bytes
                    && v.len() <= self.limits.max_label_value_bytes
            })
    }

    fn lookup(
        &self,
        kind: SeriesKind,
        name: &str,
        labels: &[(&str, &str)],
        drops: Option<&DropCounters>,
    ) -> Cell {
        let id = lookup_id(kind, name, labels);
        if let Some(cell) = self.recent.with(id, Cell::clone) {
            return cell;
        }
        let (cell, regular) = self.lookup_slow(kind, name, labels, drops);
        // Overflow answers are not remembered: each one is counted as a drop.
        if regular {
            self.recent.get_or_insert_with(id, || cell.clone());
        }
        cell
    }

    /// The series' cell, and whether it is the series asked for (not the
    /// overflow series).
    fn lookup_slow(
        &self,
        kind: SeriesKind,
        name: &str,
        labels: &[(&str, &str)],
        drops: Option<&DropCounters>,
    ) -> (Cell, bool) {
        let mut sorted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        sorted.sort();
        sorted.dedup_by(|a, b| a.0 == b.0);
        let fits = self.labels_fit(labels);
        let key = SeriesKey {
            kind,
            name: name.to_owned(),
            labels: sorted,
        };
        if fits {
            if let Some(cell) = self.series.read().get(&key) {
                return (cell.clone(), true);
            }
        }
        let mut map = self.series.write();
        if fits {
            if let Some(cell) = map.get(&key) {
                return (cell.clone(), true);
            }
            let room = (self.regular.load(Ordering::Relaxed) as usize) < self.limits.max_series
                && (kind != SeriesKind::Histogram
                    || (self.histograms.load(Ordering::Relaxed) as usize)
                        < self.limits.max_histogram_series);
            if drops.is_none() || room {
                let cell = new_cell(kind);
                map.insert(key, cell.clone());
                if drops.is_some() {
                    self.regular.fetch_add(1, Ordering::Relaxed);
                    if kind == SeriesKind::Histogram {
                        self.histograms.fetch_add(1, Ordering::Relaxed);
                    }
                }
                return (cell, true);
            }
        }
        if let Some(d) = drops {
            d.add(DropReason::SeriesOverflow, 1);
        }
        let overflow = SeriesKey {
            kind,
            name: name.to_owned(),
            labels: vec![(OVERFLOW_LABEL.0.to_owned(), OVERFLOW_LABEL.1.to_owned())],
        };
        let cell = map
            .entry(overflow)
            .or_insert_with(|| new_cell(kind))
            .clone();
        (cell, false)
    }

    pub(crate) fn counter(&self, name: &str, labels: &[(&str, &str)], d: &DropCounters) -> Counter {
        match self.lookup(SeriesKind::Counter, name, labels, Some(d)) {
            Cell::Counter(cell) => Counter { cell },
            _ => Counter {
                cell: Arc::new(new_counter()),
            },
        }
    }

    /// A counter for the pipeline's own accounting: never redirected to
    /// the overflow series and not counted against the cap.
    pub(crate) fn counter_uncapped(&self, name: &str, labels: &[(&str, &str)]) -> Counter {
        match self.lookup(SeriesKind::Counter, name, labels, None) {
            Cell::Counter(cell) => Counter { cell },
            _ => Counter {
                cell: Arc::new(new_counter()),
            },
        }
    }

    pub(crate) fn histogram(
        &self,
        name: &str,
        labels: &[(&str, &str)],
        d: &DropCounters,
    ) -> Histogram {
        match self.lookup(SeriesKind::Histogram, name, labels, Some(d)) {
            Cell::Histogram(cell) => Histogram { cell },
            _ => Histogram {
                cell: Arc::new(HistogramCell::new()),
            },
        }
    }

    pub(crate) fn gauge(&self, name: &str, labels: &[(&str, &str)], d: &DropCounters) -> Gauge {
        match self.lookup(SeriesKind::Gauge, name, labels, Some(d)) {
            Cell::Gauge(cell) => Gauge { cell },
            _ => Gauge {
                cell: Arc::new(new_gauge()),
            },
        }
    }

    /// Takes every series' change since the previous take (counters and
    /// histograms reset; gauges reported when set since), and adds it to the
    /// running totals.
    pub(crate) fn take_deltas(&self) -> Vec<MetricPoint> {
        let map = self.series.read();
        let mut totals = self.totals.lock();
        let mut out = Vec::new();
        for (key, cell) in map.iter() {
            let Some(value) = read_cell(cell, true) else {
                continue;
            };
            match totals.get_mut(key) {
                Some(total) => accumulate(total, &value),
                None => {
                    totals.insert(key.clone(), value.clone());
                }
            }
            out.push(MetricPoint {
                name: key.name.clone(),
                labels: key.labels.clone(),
                value,
            });
        }
        out.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        out
    }

    /// Totals since this registry was created: what was taken plus what is
    /// live now. Reads without resetting anything.
    pub(crate) fn snapshot(&self) -> Vec<MetricPoint> {
        let map = self.series.read();
        let totals = self.totals.lock();
        let mut out = Vec::new();
        for (key, cell) in map.iter() {
            let live = read_cell(cell, false);
            let value = match (totals.get(key), live) {
                (Some(t), Some(l)) => {
                    let mut t = t.clone();
                    accumulate(&mut t, &l);
                    t
                }
                (Some(t), None) => t.clone(),
                (None, Some(l)) => l,
                (None, None) => match cell {
                    Cell::Counter(_) => PointValue::Counter { value: 0 },
                    Cell::Gauge(_) => continue,
                    Cell::Histogram(_) => PointValue::Histogram {
                        histogram: HistogramSnapshot::default(),
                    },
                },
            };
            out.push(MetricPoint {
                name: key.name.clone(),
                labels: key.labels.clone(),
                value,
            });
        }
        out.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
        out
    }

    /// Number of series (including overflow series).
    pub(crate) fn len(&self) -> usize {
        self.series.read().len()
    }
}

/// Reads one cell; `None` when nothing changed. `reset` takes the delta.
fn read_cell(cell: &Cell, reset: bool) -> Option<PointValue> {
    match cell {
        Cell::Counter(c) => {
            let v: u64 = c
                .shards
                .iter()
                .map(|s| {
                    if reset {
                        s.0.swap(0, Ordering::Relaxed)
                    } else {
                        s.0.load(Ordering::Relaxed)
                    }
                })
                .sum();
            (v > 0).then_some(PointValue::Counter { value: v })
        }
        Cell::Histogram(h) => {
            let snap = if reset { h.take_delta() } else { h.peek() };
            (snap.count > 0).then_some(PointValue::Histogram { histogram: snap })
        }
        Cell::Gauge(g) => {
            let dirty = if reset {
                g.dirty.swap(false, Ordering::Acquire)
            } else {
                g.dirty.load(Ordering::Acquire)
            };
            dirty.then(|| PointValue::Gauge {
                value: f64::from_bits(g.bits.load(Ordering::Relaxed)),
            })
        }
    }
}

/// Adds a later value into a running total of the same kind.
fn accumulate(total: &mut PointValue, later: &PointValue) {
    match (total, later) {
        (PointValue::Counter { value: t }, PointValue::Counter { value: l }) => *t += l,
        (PointValue::Gauge { value: t }, PointValue::Gauge { value: l }) => *t = *l,
        (PointValue::Histogram { histogram: t }, PointValue::Histogram { histogram: l }) => {
            t.merge(l)
        }
        (t, l) => *t = l.clone(),
    }
}

fn new_counter() -> CounterCell {
    CounterCell {
        shards: std::array::from_fn(|_| Padded(AtomicU64::new(0))),
    }
}

fn new_gauge() -> GaugeCell {
    GaugeCell {
        bits: AtomicU64::new(0),
        dirty: AtomicBool::new(false),
    }
}

fn new_cell(kind: SeriesKind) -> Cell {
    match kind {
        SeriesKind::Counter => Cell::Counter(Arc::new(new_counter())),
        SeriesKind::Histogram => Cell::Histogram(Arc::new(HistogramCell::new())),
        SeriesKind::Gauge => Cell::Gauge(Arc::new(new_gauge())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_lookups_share_one_series_and_overflow_keeps_counting() {
        let r = Registry::new(SeriesLimits {
            max_series: 2,
            ..SeriesLimits::default()
        });
        let d = DropCounters::default();
        let a = r.counter("c", &[("x", "1"), ("y", "2")], &d);
        let b = r.counter("c", &[("y", "2"), ("x", "1")], &d);
        let again = r.counter("c", &[("x", "1"), ("y", "2")], &d);
        assert!(Arc::ptr_eq(&a.cell, &b.cell));
        assert!(Arc::ptr_eq(&a.cell, &again.cell));
        // Part boundaries count: this is another series.
        let other = r.counter("c", &[("x", "1y"), ("2", "")], &d);
        assert!(!Arc::ptr_eq(&a.cell, &other.cell));
        // The cap is reached (2 regular series): each overflow is counted,
        // remembered lookups or not.
        let o1 = r.counter("c", &[("x", "3")], &d);
        let o2 = r.counter("c", &[("x", "3")], &d);
        assert!(Arc::ptr_eq(&o1.cell, &o2.cell));
        assert_eq!(d.get(DropReason::SeriesOverflow), 2);
    }
}
