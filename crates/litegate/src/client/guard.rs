//! Guardrails on the [`Client`]: observations from inference and from the
//! app flow into the guardrail engine; a trip takes effect at once (the
//! evaluator's `LocalDisables`, the inference engine's accelerator and
//! fallback overrides), is persisted, and is reported to metrics as a
//! high-priority event with the figures that tripped it.

use crate::config::Document;
use crate::eval::{now_ms, LocalDisables};
use crate::guardrails::{
    Action, ActiveModel, ActiveSet, Guardrails, Observation, ObservationKind, Subject, Trip,
};
use crate::inference::{Accelerator, InferenceEngine};
use crate::metrics::hot::HotTable;
use crate::metrics::{names, AttrValue, EventKind, Metrics};
use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use twox_hash::XxHash3_64;

/// Bound of the read path's active-flag id table (past it the table starts
/// over; the set itself is unchanged, so a flag is never charged twice).
const ACTIVE_IDS_CAPACITY: usize = 65_536;

/// The guardrail engine and everything a trip acts on.
pub(crate) struct GuardHub {
    guardrails: Mutex<Guardrails>,
    metrics: Metrics,
    /// What the evaluator reads: swapped whole when trips change.
    pub(crate) disables: ArcSwap<LocalDisables>,
    /// Set once the engine exists (it holds the observer that holds us).
    pub(crate) engine: OnceLock<InferenceEngine>,
    /// Flags served a non-off variation and models loaded this session:
    /// charged with a crash if the session does not end cleanly.
    active_flags: RwLock<HashSet<Box<str>>>,
    /// XXH3 ids of `active_flags`' members: the lock-free check of the
    /// read path (a flag already noted costs one probe).
    active_ids: HotTable<()>,
    active_models: Mutex<Vec<ActiveModel>>,
    runtime: tokio::runtime::Handle,
    /// Bumped right after `disables` changes, for flag snapshot readers.
    pub(crate) generation: Arc<super::SnapshotGeneration>,
    events: Arc<super::events::EventHub>,
}

impl GuardHub {
    pub(crate) fn new(
        guardrails: Guardrails,
        metrics: Metrics,
        runtime: tokio::runtime::Handle,
        events: Arc<super::events::EventHub>,
    ) -> Self {
        GuardHub {
            guardrails: Mutex::new(guardrails),
            metrics,
            disables: ArcSwap::from_pointee(LocalDisables::new()),
            engine: OnceLock::new(),
            active_flags: RwLock::new(HashSet::new()),
            active_ids: HotTable::new(ACTIVE_IDS_CAPACITY),
            active_models: Mutex::new(Vec::new()),
            runtime,
            generation: Arc::default(),
            events,
        }
    }

    /// Installs a config's guardrails (a newer version lifts old trips) and
    /// starts the session, charging crashes of the previous one.
    ///
    /// Crashes of the previous session are charged here, before the first
    /// evaluation; what start must write (the session marker, the state) is
    /// written once, on the runtime's blocking pool, never on the caller's
    /// thread.
    pub(crate) fn start(self: &Arc<Self>, doc: Option<&Document>) {
        let mut trips = Vec::new();
        {
            let mut g = self.guardrails.lock();
            g.hold_writes = true;
            if let Some(doc) = doc {
                if let Err(e) = g.apply_config(doc) {
                    tracing::warn!(target: "litegate::guardrails", error = %e, "guardrails section refused");
                }
            }
            match g.begin_session(&ActiveSet::default(), now_ms()) {
                Ok(start) => trips.extend(start.trips),
                Err(e) => {
                    tracing::warn!(target: "litegate::guardrails", error = %e, "session marker")
                }
            }
            trips.extend(g.take_pending_trips());
        }
        let hub = Arc::clone(self);
        self.runtime.spawn_blocking(move || {
            let active = hub.active_set();
            if let Err(e) = hub.guardrails.lock().release_held_writes(&active, now_ms()) {
                tracing::warn!(target: "litegate::guardrails", error = %e, "session marker");
            }
        });
        self.after_change(&trips);
    }

    /// A new config is in use.
    pub(crate) fn apply_config(&self, doc: &Document) {
        {
            let mut g = self.guardrails.lock();
            match g.apply_config(doc) {
                Ok(lifted) if !lifted.is_empty() => {
                    tracing::info!(target: "litegate::guardrails", lifted = lifted.len(), "trips lifted by a newer config");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "litegate::guardrails", error = %e, "guardrails section refused")
                }
            }
            let _ = g.save();
        }
        self.after_change(&[]);
    }

    /// Feeds one observation; acts on any trip.
    pub(crate) fn observe(&self, obs: Observation) {
        let trips = {
            let mut g = self.guardrails.lock();
            let trips = g.observe(&obs);
            if !trips.is_empty() {
                let _ = g.save();
            }
            trips
        };
        if !trips.is_empty() {
            self.after_change(&trips);
        }
    }

    /// Lifts every trip (or one guardrail's).
    pub(crate) fn reset(&self, guardrail: Option<&str>) -> Vec<Trip> {
        let lifted = {
            let mut g = self.guardrails.lock();
            let lifted = g.reset(guardrail);
            let _ = g.save();
            lifted
        };
        self.after_change(&[]);
        lifted
    }

    /// The trips in force.
    pub(crate) fn active_trips(&self) -> Vec<Trip> {
        self.guardrails.lock().active_trips().to_vec()
    }

    /// Publishes the engine's effects and reports new trips.
    fn after_change(&self, new_trips: &[Trip]) {
        let trips = {
            let mut g = self.guardrails.lock();
            let _ = g.lift_expired(now_ms());
            self.disables.store(g.local_disables());
            self.generation.bump();
            g.active_trips().to_vec()
        };
        if let Some(engine) = self.engine.get() {
            engine.clear_overrides();
            for t in &trips {
                match (t.action, &t.model) {
                    (Action::DisableAccelerator, Some(model)) => {
                        if let Some(a) = t.accelerator.as_deref().and_then(Accelerator::parse) {
                            engine.disable_accelerator(model, a);
                        }
                    }
                    (Action::ForceFallback, Some(model)) => engine.force_fallback(model),
                    _ => {}
                }
            }
        }
        for t in new_trips {
            self.report(t);
            self.events
                .emit(&super::events::ClientEvent::GuardrailTripped(t.clone()));
        }
    }

    fn report(&self, t: &Trip) {
        let subject = t.flag.as_deref().or(t.model.as_deref()).unwrap_or("");
        let action = format!("{:?}", t.action).to_lowercase();
        self.metrics
            .counter(
                names::GUARDRAIL_TRIPS,
                &[
                    ("guardrail", t.guardrail.as_str()),
                    ("subject", subject),
                    ("action", action.as_str()),
                ],
            )
            .inc();
        let mut attrs: Vec<(&str, AttrValue)> = vec![
            ("guardrail", t.guardrail.as_str().into()),
            ("subject", subject.into()),
            ("metric", format!("{:?}", t.metric).into()),
            ("observed", t.observed.into()),
            ("threshold", t.threshold.into()),
            (
                "samples",
                i64::try_from(t.samples).unwrap_or(i64::MAX).into(),
            ),
            ("window", t.window.as_str().into()),
            (
                "severity",
                format!("{:?}", t.severity).to_lowercase().into(),
            ),
            ("action", action.as_str().into()),
            (
                "config_version",
                i64::try_from(t.config_version).unwrap_or(i64::MAX).into(),
            ),
        ];
        if let Some(a) = &t.accelerator {
            attrs.push(("accelerator", a.as_str().into()));
        }
        self.metrics.event(EventKind::GuardrailTrip, &attrs);
        if t.action == Action::DisableFlag {
            self.metrics.event(
                EventKind::Rollback,
                &[
                    ("flag", subject.into()),
                    ("guardrail", t.guardrail.as_str().into()),
                ],
            );
        }
        tracing::warn!(
            target: "litegate::guardrails",
            guardrail = %t.guardrail, subject, observed = t.observed, threshold = t.threshold,
            "guardrail tripped"
        );
    }

    /// Notes that `flag` served a non-off variation in this session. Cheap
    /// after the first time; the marker file is written in the background.
    pub(crate) fn note_active_flag(self: &Arc<Self>, flag: &str) {
        let id = XxHash3_64::oneshot(flag.as_bytes());
        if self.active_ids.with(id, |_| ()).is_some() {
            return;
        }
        self.active_ids.get_or_insert_with(id, || ());
        if self.active_flags.read().contains(flag) {
            return;
        }
        if !self.active_flags.write().insert(Box::from(flag)) {
            return;
        }
        self.persist_active();
    }

    /// Notes that `model` was loaded in this session.
    pub(crate) fn note_active_model(
        self: &Arc<Self>,
        model: &str,
        accelerator: Option<Accelerator>,
    ) {
        let entry = ActiveModel {
            model: model.to_owned(),
            accelerator: accelerator.map(|a| a.as_str().to_owned()),
        };
        {
            let mut models = self.active_models.lock();
            if models.contains(&entry) {
                return;
            }
            models.push(entry);
        }
        self.persist_active();
    }

    /// Rewrites the session marker on the runtime's blocking pool, never on
    /// the caller's (evaluating) thread.
    fn persist_active(self: &Arc<Self>) {
        let hub = Arc::clone(self);
        self.runtime.spawn_blocking(move || {
            let active = hub.active_set();
            if let Err(e) = hub.guardrails.lock().set_active(&active, now_ms()) {
                tracing::warn!(target: "litegate::guardrails", error = %e, "session marker not updated");
            }
        });
    }

    /// What this session has in use, for the session marker.
    fn active_set(&self) -> ActiveSet {
        let mut flags: Vec<String> = self
            .active_flags
            .read()
            .iter()
            .map(|f| f.to_string())
            .collect();
        flags.sort();
        ActiveSet {
            flags,
            models: self.active_models.lock().clone(),
        }
    }

    /// A clean end of the session.
    pub(crate) fn end_session(&self) {
        let active = self.active_set();
        let mut g = self.guardrails.lock();
        // A start-up write still pending must not recreate the marker.
        g.hold_writes = false;
        let _ = g.end_session(&active, now_ms());
    }

    /// Writes a run marker before a native run.
    pub(crate) fn begin_run(
        &self,
        model: &str,
        accelerator: Option<Accelerator>,
    ) -> Option<crate::guardrails::RunMarker> {
        self.guardrails
            .lock()
            .begin_run(model, accelerator.map(Accelerator::as_str), now_ms())
            .ok()
            .flatten()
    }
}

/// An observation about a flag the app reports (its feature's outcome).
pub(crate) fn flag_run(flag: &str, ok: bool, latency_ms: f64) -> Observation {
    Observation::new(
        Subject::flag(flag),
        ObservationKind::Run {
            ok,
            latency_ms,
            fell_back: false,
        },
        now_ms(),
    )
}
