//! Adaptive switching: when the active accelerator's median latency over a
//! window is worse than another measured accelerator's by a threshold, move
//! to that one, then hold still for a cooldown. Pure; the clock is passed in.

use super::accel::Accelerator;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// Tuning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveConfig {
    /// Relative slowdown that triggers a switch (0.3 = 30% slower).
    pub threshold: f64,
    /// Samples per accelerator in the window.
    pub window: usize,
    /// Minimum time between switches, milliseconds.
    pub cooldown_ms: i64,
    /// Every this many runs, one run is measured on each alternative.
    pub probe_every: u64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            threshold: 0.30,
            window: 20,
            cooldown_ms: 60_000,
            probe_every: 200,
        }
    }
}

/// A switch decision with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switch {
    /// Accelerator left.
    pub from: Accelerator,
    /// Accelerator chosen.
    pub to: Accelerator,
    /// Median latency of `from` over the window, microseconds.
    pub from_median_us: f64,
    /// Median latency of `to` over the window, microseconds.
    pub to_median_us: f64,
    /// Samples behind each median.
    pub samples: usize,
}

/// Latency windows and the last switch time.
#[derive(Debug, Clone)]
pub struct AdaptiveSwitcher {
    config: AdaptiveConfig,
    windows: BTreeMap<Accelerator, VecDeque<f64>>,
    last_switch_ms: Option<i64>,
}

fn median(v: &VecDeque<f64>) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

impl AdaptiveSwitcher {
    /// A switcher with empty windows.
    pub fn new(config: AdaptiveConfig) -> AdaptiveSwitcher {
        AdaptiveSwitcher {
            config,
            windows: BTreeMap::new(),
            last_switch_ms: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// Adds a latency sample.
    pub fn record(&mut self, accelerator: Accelerator, micros: f64) {
        let w = self.windows.entry(accelerator).or_default();
        w.push_back(micros);
        while w.len() > self.config.window {
            w.pop_front();
        }
    }

    /// Whether `accelerator` has a full window.
    pub fn is_measured(&self, accelerator: Accelerator) -> bool {
        self.windows
            .get(&accelerator)
            .is_some_and(|w| w.len() >= self.config.window)
    }

    /// Decides whether to leave `active` for one of `alternatives`. A
    /// decision resets the cooldown and the windows.
    pub fn decide(
        &mut self,
        active: Accelerator,
        alternatives: &[Accelerator],
        now_ms: i64,
    ) -> Option<Switch> {
        if self
            .last_switch_ms
            .is_some_and(|t| now_ms - t < self.config.cooldown_ms)
        {
            return None;
        }
        if !self.is_measured(active) {
            return None;
        }
        let active_median = median(self.windows.get(&active)?);
        let best = alternatives
            .iter()
            .filter(|a| **a != active && self.is_measured(**a))
            .filter_map(|a| Some((*a, median(self.windows.get(a)?))))
            .min_by(|x, y| x.1.total_cmp(&y.1))?;
        if active_median > best.1 * (1.0 + self.config.threshold) {
            self.last_switch_ms = Some(now_ms);
            let samples = self.config.window;
            self.windows.clear();
            Some(Switch {
                from: active,
                to: best.0,
                from_median_us: active_median,
                to_median_us: best.1,
                samples,
            })
        } else {
            None
        }
    }
}
