//! The device-side guardrail engine: observations in, trips and the state
//! they impose out.

use super::spec::{
    parse_guardrails, Action, Comparison, GuardrailSpec, GuardrailSpecError, Metric, Severity,
    Target, Window,
};
use super::store::{self, Read, STATE_FILE};
use super::window::WindowState;
use super::GuardrailError;
use crate::config::Document;
use crate::eval::LocalDisables;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Separate windows kept per model guardrail (one per accelerator seen).
pub(crate) const MAX_KEYS_PER_GUARDRAIL: usize = 8;
/// Trips kept for upload; older ones are dropped first (and counted).
pub(crate) const MAX_PENDING_TRIPS: usize = 256;

/// Who an observation is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A flag (the app's feature behind it).
    Flag(Arc<str>),
    /// A model, on an accelerator when known.
    Model {
        /// The model key.
        model: Arc<str>,
        /// `cpu`, `gpu`, `npu`, ...
        accelerator: Option<Arc<str>>,
    },
}

impl Subject {
    /// A flag subject.
    pub fn flag(key: &str) -> Self {
        Subject::Flag(Arc::from(key))
    }

    /// A model on an accelerator.
    pub fn model(model: &str, accelerator: Option<&str>) -> Self {
        Subject::Model {
            model: Arc::from(model),
            accelerator: accelerator.map(Arc::from),
        }
    }
}

/// What was observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ObservationKind {
    /// One use of the feature or one inference.
    Run {
        /// Whether it succeeded (the user got a result).
        ok: bool,
        /// How long it took.
        latency_ms: f64,
        /// Whether it had to fall back (another accelerator or the app's path).
        fell_back: bool,
    },
    /// A model load.
    Load {
        /// Whether it succeeded.
        ok: bool,
        /// How long it took.
        ms: f64,
    },
    /// A crash: a run that never returned (models) or a session that ended
    /// uncleanly (flags).
    Crash,
    /// A session ended, cleanly or not (flags' crash rate denominator).
    SessionEnd {
        /// Whether it ended uncleanly.
        crashed: bool,
    },
    /// A memory reading.
    Memory {
        /// Megabytes in use.
        mb: f64,
    },
}

/// One observation, at a time in unix ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Who it is about.
    pub subject: Subject,
    /// What happened.
    pub kind: ObservationKind,
    /// When (unix ms).
    pub at_ms: i64,
}

impl Observation {
    /// Builds an observation.
    pub fn new(subject: Subject, kind: ObservationKind, at_ms: i64) -> Self {
        Observation {
            subject,
            kind,
            at_ms,
        }
    }
}

/// A guardrail trip, with the figures that tripped it: what the device
/// uploads as a high-priority event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// The guardrail's id.
    pub guardrail: String,
    /// The flag watched, for flag guardrails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The model watched, for model guardrails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The accelerator whose samples tripped it, for model guardrails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// The metric.
    pub metric: Metric,
    /// The measured figure (percent, ms or MB).
    pub observed: f64,
    /// The comparison, `>` etc.
    pub op: super::Comparison,
    /// The threshold.
    pub threshold: f64,
    /// Samples in the window when it tripped.
    pub samples: u64,
    /// The window, as written in the config (`last 20`, `5m`).
    pub window: String,
    /// Warning or critical.
    pub severity: Severity,
    /// The action taken (`none` for warnings).
    pub action: Action,
    /// When (unix ms).
    pub at_ms: i64,
    /// The config version in force when it tripped.
    pub config_version: u64,
    /// When it lifts on its own (unix ms), if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PersistedWindow {
    guardrail: String,
    key: String,
    fingerprint: String,
    state: WindowState,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PersistedState {
    config_version: u64,
    active: Vec<Trip>,
    pending: Vec<Trip>,
    #[serde(default)]
    windows: Vec<PersistedWindow>,
}

/// The guardrail engine of one device.
///
/// Not internally synchronised: the owner keeps it behind a lock and hands
/// the evaluator the cheap [`Guardrails::local_disables`] snapshot.
#[derive(Debug, Default)]
pub struct Guardrails {
    dir: Option<PathBuf>,
    config_version: u64,
    specs: Vec<GuardrailSpec>,
    /// Per spec: window per key (accelerator, or "" for flags / no accelerator).
    windows: Vec<Vec<(Box<str>, WindowState)>>,
    by_flag: HashMap<Box<str>, Vec<usize>>,
    by_model: HashMap<Box<str>, Vec<usize>>,
    active: Vec<Trip>,
    pending: Vec<Trip>,
    restored_windows: Vec<PersistedWindow>,
    next_expiry_ms: Option<i64>,
    disables: Arc<LocalDisables>,
    disabled_accelerators: HashMap<Box<str>, Vec<Arc<str>>>,
    forced_fallback: HashMap<Box<str>, Arc<str>>,
    persist_failures: u64,
    dropped_trips: u64,
    recovered: Option<String>,
    /// While set, state changes are not written (start-up: the client
    /// writes what start must write once, on its background runtime; see
    /// [`Guardrails::release_held_writes`]).
    pub(crate) hold_writes: bool,
}

fn fingerprint(spec: &GuardrailSpec) -> String {
    format!("{:?}|{:?}", spec.metric, spec.window)
}

fn window_text(w: Window) -> String {
    match w {
        Window::Last(n) => format!("last {n}"),
        Window::Duration(ms) => format!("{}s", ms / 1000),
    }
}

impl Guardrails {
    /// An engine that persists nothing (tests, simulation).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// An engine persisting in `dir`, restoring trips, pending trip events
    /// and rate windows from an earlier run. A damaged state file is moved
    /// aside (see [`Guardrails::recovered_from`]) and the engine starts clean.
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the directory cannot be created or read.
    pub fn open(dir: &Path) -> Result<Self, GuardrailError> {
        store::ensure_dir(dir)?;
        let mut g = Self {
            dir: Some(dir.to_owned()),
            ..Self::default()
        };
        match store::read_json::<PersistedState>(&dir.join(STATE_FILE))? {
            Read::Absent => {}
            Read::Corrupt(why) => g.recovered = Some(why),
            Read::Found(s) => {
                g.config_version = s.config_version;
                g.active = s.active;
                g.pending = s.pending;
                g.restored_windows = s.windows;
            }
        }
        g.rebuild_effects();
        Ok(g)
    }

    /// Installs the guardrails of a config. A config with a higher version
    /// than the trips were made under lifts them (returned).
    ///
    /// # Errors
    /// [`GuardrailSpecError`] when the section is invalid; the engine then
    /// keeps its previous guardrails and trips.
    pub fn apply_config(&mut self, doc: &Document) -> Result<Vec<Trip>, GuardrailSpecError> {
        let specs = parse_guardrails(doc.section("guardrails"))?;
        let mut lifted = Vec::new();
        if doc.version > self.config_version {
            let version = doc.version;
            let (keep, gone): (Vec<Trip>, Vec<Trip>) = std::mem::take(&mut self.active)
                .into_iter()
                .partition(|t| t.config_version >= version);
            self.active = keep;
            lifted = gone;
        }
        self.config_version = self.config_version.max(doc.version);
        self.install(specs);
        // A lifted guardrail judges fresh evidence only, or it would trip
        // again on the samples that tripped it.
        for t in &lifted {
            self.clear_window(&t.guardrail, t.accelerator.as_deref().unwrap_or(""));
        }
        self.rebuild_effects();
        self.persist();
        Ok(lifted)
    }

    fn install(&mut self, specs: Vec<GuardrailSpec>) {
        let mut old: HashMap<(String, String, String), WindowState> = HashMap::new();
        for (spec, ws) in self.specs.iter().zip(std::mem::take(&mut self.windows)) {
            for (k, w) in ws {
                old.insert((spec.id.to_string(), k.to_string(), fingerprint(spec)), w);
            }
        }
        for pw in std::mem::take(&mut self.restored_windows) {
            old.entry((pw.guardrail, pw.key, pw.fingerprint))
                .or_insert(pw.state);
        }
        self.by_flag.clear();
        self.by_model.clear();
        self.windows = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            match &spec.target {
                Target::Flag(f) => self.by_flag.entry(Box::from(&**f)).or_default().push(i),
                Target::Model { model, .. } => self
                    .by_model
                    .entry(Box::from(&**model))
                    .or_default()
                    .push(i),
            }
            let fp = fingerprint(spec);
            let id = spec.id.to_string();
            let kept: Vec<(Box<str>, WindowState)> = old
                .iter()
                .filter(|((g, _, f), _)| *g == id && *f == fp)
                .map(|((_, k, _), w)| (Box::from(k.as_str()), w.clone()))
                .collect();
            self.windows.push(kept);
        }
        self.specs = specs;
    }

    /// Feeds one observation and returns the trips it caused (usually none;
    /// no allocation then).
    pub fn observe(&mut self, obs: &Observation) -> Vec<Trip> {
        if self.next_expiry_ms.is_some_and(|t| t <= obs.at_ms) {
            self.lift_expired(obs.at_ms);
        }
        let (indices, key): (&[usize], &str) = match &obs.subject {
            Subject::Flag(f) => (self.by_flag.get(&**f).map_or(&[][..], Vec::as_slice), ""),
            Subject::Model { model, accelerator } => (
                self.by_model.get(&**model).map_or(&[][..], Vec::as_slice),
                accelerator.as_deref().unwrap_or(""),
            ),
        };
        let mut trips = Vec::new();
        for &i in indices {
            let spec = &self.specs[i];
            if let Target::Model {
                accelerator: Some(a),
                ..
            } = &spec.target
            {
                if &**a != key {
                    continue;
                }
            }
            let Some(sample) = sample_for(spec.metric, &obs.subject, obs.kind) else {
                continue;
            };
            if spec.severity == Severity::Critical
                && self.active.iter().any(|t| {
                    *t.guardrail == *spec.id && t.accelerator.as_deref().unwrap_or("") == key
                })
            {
                continue;
            }
            let windows = &mut self.windows[i];
            let slot = match windows.iter().position(|(k, _)| &**k == key) {
                Some(p) => p,
                None if windows.len() < MAX_KEYS_PER_GUARDRAIL => {
                    let w = match spec.window {
                        Window::Last(n) => WindowState::last(n, !spec.metric.is_rate()),
                        Window::Duration(ms) => WindowState::duration(ms, !spec.metric.is_rate()),
                    };
                    windows.push((Box::from(key), w));
                    windows.len() - 1
                }
                None => continue,
            };
            let w = &mut windows[slot].1;
            w.push(sample, obs.at_ms);
            if !spec.metric.is_rate()
                && matches!(spec.comparison, Comparison::Above | Comparison::AtLeast)
            {
                // Any quantile is at most the window's largest value: when
                // that cannot trip, skip the histogram walk.
                let (samples, max) = w.count_and_max();
                if samples < u64::from(spec.min_samples)
                    || !spec.comparison.holds(max, spec.threshold)
                {
                    continue;
                }
            }
            let reading = w.read(spec.metric.quantile());
            if reading.samples < u64::from(spec.min_samples)
                || !spec.comparison.holds(reading.value, spec.threshold)
            {
                continue;
            }
            if spec.severity == Severity::Warning {
                // Re-arm on fresh evidence only.
                w.clear();
            }
            let (flag, model) = match &spec.target {
                Target::Flag(f) => (Some(f.to_string()), None),
                Target::Model { model, .. } => (None, Some(model.to_string())),
            };
            trips.push(Trip {
                guardrail: spec.id.to_string(),
                flag,
                model,
                accelerator: (!key.is_empty()).then(|| key.to_owned()),
                metric: spec.metric,
                observed: reading.value,
                op: spec.comparison,
                threshold: spec.threshold,
                samples: reading.samples,
                window: window_text(spec.window),
                severity: spec.severity,
                action: if spec.severity == Severity::Critical {
                    spec.action
                } else {
                    Action::None
                },
                at_ms: obs.at_ms,
                config_version: self.config_version,
                expires_at_ms: spec.expires_after_ms.map(|d| obs.at_ms.saturating_add(d)),
            });
        }
        if !trips.is_empty() {
            self.record(&trips);
        }
        trips
    }

    fn record(&mut self, trips: &[Trip]) {
        for t in trips {
            if t.severity == Severity::Critical {
                self.active.push(t.clone());
            }
            if self.pending.len() >= MAX_PENDING_TRIPS {
                self.pending.remove(0);
                self.dropped_trips += 1;
            }
            self.pending.push(t.clone());
        }
        self.rebuild_effects();
        self.persist();
    }

    fn rebuild_effects(&mut self) {
        let mut disables = LocalDisables::new();
        self.disabled_accelerators.clear();
        self.forced_fallback.clear();
        self.next_expiry_ms = None;
        for t in &self.active {
            if let Some(e) = t.expires_at_ms {
                self.next_expiry_ms = Some(self.next_expiry_ms.map_or(e, |n| n.min(e)));
            }
            let id: Arc<str> = Arc::from(t.guardrail.as_str());
            match (t.action, &t.flag, &t.model) {
                (Action::DisableFlag, Some(f), _) => {
                    disables.entry(Box::from(f.as_str())).or_insert(id);
                }
                (Action::DisableAccelerator, _, Some(m)) => {
                    if let Some(a) = &t.accelerator {
                        let list = self
                            .disabled_accelerators
                            .entry(Box::from(m.as_str()))
                            .or_default();
                        if !list.iter().any(|x| **x == **a) {
                            list.push(Arc::from(a.as_str()));
                        }
                    }
                }
                (Action::ForceFallback, _, Some(m)) => {
                    self.forced_fallback
                        .entry(Box::from(m.as_str()))
                        .or_insert(id);
                }
                _ => {}
            }
        }
        self.disables = Arc::new(disables);
    }

    fn persist(&mut self) {
        if self.hold_writes {
            return;
        }
        if let Err(e) = self.save() {
            self.persist_failures += 1;
            tracing::warn!(error = %e, "guardrail state not persisted");
        }
    }

    /// Writes the state now (trips, pending events, rate windows).
    ///
    /// # Errors
    /// [`GuardrailError::Io`] or [`GuardrailError::Encode`].
    pub fn save(&self) -> Result<(), GuardrailError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let mut windows = Vec::new();
        for (spec, ws) in self.specs.iter().zip(&self.windows) {
            // Only rates are kept across restarts: crash rates count one
            // sample per session; value windows refill within seconds.
            if !spec.metric.is_rate() {
                continue;
            }
            for (k, w) in ws {
                windows.push(PersistedWindow {
                    guardrail: spec.id.to_string(),
                    key: k.to_string(),
                    fingerprint: fingerprint(spec),
                    state: w.clone(),
                });
            }
        }
        let state = PersistedState {
            config_version: self.config_version,
            active: self.active.clone(),
            pending: self.pending.clone(),
            windows,
        };
        store::write_json(&dir.join(STATE_FILE), &state)
    }

    fn clear_window(&mut self, guardrail: &str, key: &str) {
        for (spec, ws) in self.specs.iter().zip(self.windows.iter_mut()) {
            if *spec.id == *guardrail {
                ws.iter_mut()
                    .filter(|(k, _)| &**k == key)
                    .for_each(|(_, w)| w.clear());
            }
        }
    }

    /// Lifts trips whose expiry is at or before `now_ms`; returns them.
    pub fn lift_expired(&mut self, now_ms: i64) -> Vec<Trip> {
        let (gone, keep): (Vec<Trip>, Vec<Trip>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|t| t.expires_at_ms.is_some_and(|e| e <= now_ms));
        self.active = keep;
        for t in &gone {
            self.clear_window(&t.guardrail, t.accelerator.as_deref().unwrap_or(""));
        }
        if !gone.is_empty() {
            self.rebuild_effects();
            self.persist();
        }
        gone
    }

    /// Lifts the trips of one guardrail (`Some(id)`) or all (`None`), and
    /// forgets their windows' samples; returns the lifted trips.
    pub fn reset(&mut self, guardrail: Option<&str>) -> Vec<Trip> {
        let (gone, keep): (Vec<Trip>, Vec<Trip>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|t| guardrail.is_none_or(|g| t.guardrail == g));
        self.active = keep;
        for (spec, ws) in self.specs.iter().zip(self.windows.iter_mut()) {
            if guardrail.is_none_or(|g| *spec.id == *g) {
                ws.iter_mut().for_each(|(_, w)| w.clear());
            }
        }
        self.rebuild_effects();
        self.persist();
        gone
    }

    /// Flags disabled on this device: hand this to
    /// [`crate::eval::Evaluator::with_disables`]. A cheap shared snapshot.
    pub fn local_disables(&self) -> Arc<LocalDisables> {
        self.disables.clone()
    }

    /// Accelerators disabled for `model`.
    pub fn disabled_accelerators(&self, model: &str) -> &[Arc<str>] {
        self.disabled_accelerators
            .get(model)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether `accelerator` is disabled for `model`.
    pub fn is_accelerator_disabled(&self, model: &str, accelerator: &str) -> bool {
        self.disabled_accelerators(model)
            .iter()
            .any(|a| &**a == accelerator)
    }

    /// The guardrail forcing the app's fallback path for `model`, if any.
    pub fn forced_fallback(&self, model: &str) -> Option<&Arc<str>> {
        self.forced_fallback.get(model)
    }

    /// Critical trips in force.
    pub fn active_trips(&self) -> &[Trip] {
        &self.active
    }

    /// Trip events not yet handed out for upload.
    pub fn pending_trips(&self) -> &[Trip] {
        &self.pending
    }

    /// Hands out the trip events for upload and forgets them.
    pub fn take_pending_trips(&mut self) -> Vec<Trip> {
        let out = std::mem::take(&mut self.pending);
        if !out.is_empty() {
            self.persist();
        }
        out
    }

    /// The guardrails installed.
    pub fn specs(&self) -> &[GuardrailSpec] {
        &self.specs
    }

    /// The newest config version applied.
    pub fn config_version(&self) -> u64 {
        self.config_version
    }

    /// How many times persisting the state failed.
    pub fn persist_failures(&self) -> u64 {
        self.persist_failures
    }

    /// Trip events dropped because too many waited for upload.
    pub fn dropped_trips(&self) -> u64 {
        self.dropped_trips
    }

    /// Why the state file was unreadable at open, if it was.
    pub fn recovered_from(&self) -> Option<&str> {
        self.recovered.as_deref()
    }

    pub(crate) fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

/// The sample an observation contributes to a metric, if any: for rates
/// 1.0 (failing) or 0.0, for value metrics the value.
fn sample_for(metric: Metric, subject: &Subject, kind: ObservationKind) -> Option<f64> {
    let bit = |b: bool| if b { 1.0 } else { 0.0 };
    let is_flag = matches!(subject, Subject::Flag(_));
    match (metric, kind) {
        (Metric::ErrorRate, ObservationKind::Run { ok, .. }) => Some(bit(!ok)),
        (Metric::InferenceFailureRate, ObservationKind::Run { ok, .. })
        | (Metric::InferenceFailureRate, ObservationKind::Load { ok, .. }) => Some(bit(!ok)),
        (Metric::FallbackRate, ObservationKind::Run { fell_back, .. }) => Some(bit(fell_back)),
        (Metric::CrashRate, ObservationKind::SessionEnd { crashed }) if is_flag => {
            Some(bit(crashed))
        }
        (Metric::CrashRate, ObservationKind::Run { .. }) if !is_flag => Some(0.0),
        (Metric::CrashRate, ObservationKind::Crash) => Some(1.0),
        (
            Metric::LatencyP50 | Metric::LatencyP95 | Metric::LatencyP99 | Metric::LatencyMax,
            ObservationKind::Run { latency_ms, .. },
        ) => Some(latency_ms),
        (Metric::LoadTimeMax, ObservationKind::Load { ms, .. }) => Some(ms),
        (Metric::MemoryMaxMb, ObservationKind::Memory { mb }) => Some(mb),
        _ => None,
    }
}
