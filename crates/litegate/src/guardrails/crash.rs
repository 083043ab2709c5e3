//! Crash accounting with marker files.
//!
//! A session marker names what was active (flags, model variants) and is
//! written when a session starts; a clean shutdown removes it. Finding one at
//! the next start means the previous session ended uncleanly: a crash for
//! everything it names. A run marker is written just before a native
//! inference and removed after it; finding one means the process died inside
//! that run, which is charged to that model on that accelerator.

use super::engine::{Guardrails, Observation, ObservationKind, Subject, Trip};
use super::store::{self, Read, RUN_PREFIX, SESSION_FILE};
use super::GuardrailError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A model variant in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveModel {
    /// The model key.
    pub model: String,
    /// The accelerator it runs on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
}

/// What a session uses: charged with a crash if the session ends uncleanly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSet {
    /// Flag keys evaluated to a non-off variation in this session.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Model variants loaded in this session.
    #[serde(default)]
    pub models: Vec<ActiveModel>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SessionMarker {
    started_at_ms: i64,
    config_version: u64,
    active: ActiveSet,
}

#[derive(Debug, Serialize, Deserialize)]
struct RunMarkerFile {
    model: String,
    #[serde(default)]
    accelerator: Option<String>,
    at_ms: i64,
}

/// What [`Guardrails::begin_session`] found about the previous session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStart {
    /// The previous session ended uncleanly.
    pub previous_crashed: bool,
    /// What that session had active.
    pub previous_active: ActiveSet,
    /// Runs that never returned: (model, accelerator).
    pub crashed_runs: Vec<ActiveModel>,
    /// Trips caused by those crashes.
    pub trips: Vec<Trip>,
}

/// A run in progress: its marker is removed by [`RunMarker::finish`] or when
/// dropped. A process that dies inside the run leaves it behind.
#[derive(Debug)]
pub struct RunMarker {
    path: PathBuf,
}

impl RunMarker {
    /// The run returned: removes the marker.
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the marker cannot be removed.
    pub fn finish(self) -> Result<(), GuardrailError> {
        let r = store::remove(&self.path);
        std::mem::forget(self);
        r
    }
}

impl Drop for RunMarker {
    fn drop(&mut self) {
        let _ = store::remove(&self.path);
    }
}

static RUN_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Guardrails {
    /// Starts a session: charges a crash to whatever an unclean previous
    /// session or an unfinished run names, then writes this session's marker.
    /// Does nothing on disk for an in-memory engine.
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when markers cannot be read or written; the
    /// crashes found are already recorded then.
    pub fn begin_session(
        &mut self,
        active: &ActiveSet,
        now_ms: i64,
    ) -> Result<SessionStart, GuardrailError> {
        let Some(dir) = self.dir().map(ToOwned::to_owned) else {
            return Ok(SessionStart::default());
        };
        let mut out = SessionStart::default();
        let session_path = dir.join(SESSION_FILE);
        if let Read::Found(m) = store::read_json::<SessionMarker>(&session_path)? {
            out.previous_crashed = true;
            out.previous_active = m.active;
        }
        for path in store::run_markers(&dir)? {
            if let Read::Found(r) = store::read_json::<RunMarkerFile>(&path)? {
                out.crashed_runs.push(ActiveModel {
                    model: r.model,
                    accelerator: r.accelerator,
                });
            }
            store::remove(&path)?;
        }
        let mut crashes: Vec<Observation> = Vec::new();
        if out.previous_crashed {
            for f in &out.previous_active.flags {
                crashes.push(Observation::new(
                    Subject::flag(f),
                    ObservationKind::SessionEnd { crashed: true },
                    now_ms,
                ));
            }
        }
        if !out.crashed_runs.is_empty() {
            // The run that never returned is the precise culprit.
            for m in &out.crashed_runs {
                crashes.push(Observation::new(
                    Subject::model(&m.model, m.accelerator.as_deref()),
                    ObservationKind::Crash,
                    now_ms,
                ));
            }
        } else if out.previous_crashed {
            for m in &out.previous_active.models {
                crashes.push(Observation::new(
                    Subject::model(&m.model, m.accelerator.as_deref()),
                    ObservationKind::Crash,
                    now_ms,
                ));
            }
        }
        for c in &crashes {
            out.trips.extend(self.observe(c));
        }
        if !self.hold_writes {
            self.write_session(active, now_ms)?;
            self.save()?;
        }
        Ok(out)
    }

    /// Ends a start-up begun with writes held (`hold_writes`): writes the
    /// session marker and the state once. Returns `false`, writing nothing,
    /// when writes were not held (already released, or the session already
    /// ended, which must not leave a marker behind).
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the marker or state cannot be written.
    pub(crate) fn release_held_writes(
        &mut self,
        active: &ActiveSet,
        now_ms: i64,
    ) -> Result<bool, GuardrailError> {
        if !self.hold_writes {
            return Ok(false);
        }
        self.hold_writes = false;
        self.write_session(active, now_ms)?;
        self.save()?;
        Ok(true)
    }

    /// Replaces what the current session has active (rewrites its marker).
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the marker cannot be written.
    pub fn set_active(&mut self, active: &ActiveSet, now_ms: i64) -> Result<(), GuardrailError> {
        self.write_session(active, now_ms)
    }

    fn write_session(&self, active: &ActiveSet, now_ms: i64) -> Result<(), GuardrailError> {
        let Some(dir) = self.dir() else { return Ok(()) };
        store::write_json(
            &dir.join(SESSION_FILE),
            &SessionMarker {
                started_at_ms: now_ms,
                config_version: self.config_version(),
                active: active.clone(),
            },
        )
    }

    /// Ends the session cleanly: counts a clean session for its flags,
    /// saves the state and removes the marker.
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the state or marker cannot be written.
    pub fn end_session(&mut self, active: &ActiveSet, now_ms: i64) -> Result<(), GuardrailError> {
        for f in &active.flags {
            self.observe(&Observation::new(
                Subject::flag(f),
                ObservationKind::SessionEnd { crashed: false },
                now_ms,
            ));
        }
        self.save()?;
        match self.dir() {
            Some(dir) => store::remove(&dir.join(SESSION_FILE)),
            None => Ok(()),
        }
    }

    /// Writes a run marker before a native run of `model` on `accelerator`.
    /// Keep the returned marker alive for the run; finish it afterwards.
    ///
    /// # Errors
    /// [`GuardrailError::Io`] when the marker cannot be written; the caller
    /// may run anyway (the run is just not crash-accounted).
    pub fn begin_run(
        &self,
        model: &str,
        accelerator: Option<&str>,
        now_ms: i64,
    ) -> Result<Option<RunMarker>, GuardrailError> {
        let Some(dir) = self.dir() else {
            return Ok(None);
        };
        let n = RUN_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{RUN_PREFIX}{}-{n}.json", std::process::id()));
        store::write_json(
            &path,
            &RunMarkerFile {
                model: model.to_owned(),
                accelerator: accelerator.map(ToOwned::to_owned),
                at_ms: now_ms,
            },
        )?;
        Ok(Some(RunMarker { path }))
    }
}
