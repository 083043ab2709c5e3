//! Per-device failure history: which accelerator failed (or was running
//! when the process died) for which model version on which runtime
//! version. Persisted as one small JSON file; written only when something
//! changes, never on an ordinary run.

use super::accel::{Accelerator, EngineKind};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One recorded failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// Model key.
    pub model: String,
    /// Model version.
    pub model_version: String,
    /// Engine.
    pub engine: EngineKind,
    /// Runtime version.
    pub runtime_version: String,
    /// The accelerator.
    pub accelerator: Accelerator,
    /// What happened (`crashed during run`, the error text, ...).
    pub detail: String,
    /// When, Unix milliseconds.
    pub at_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    failures: Vec<FailureRecord>,
    /// Runs in flight: if any is still here at the next start, the process
    /// died during it.
    markers: Vec<FailureRecord>,
}

/// The failure history, optionally persisted to `path`.
#[derive(Debug)]
pub struct FailureHistory {
    path: Option<PathBuf>,
    expiry_ms: i64,
    state: Mutex<Stored>,
}

/// Identifies a model on a runtime.
#[derive(Debug, Clone, Copy)]
pub struct HistoryKey<'a> {
    /// Model key.
    pub model: &'a str,
    /// Model version.
    pub model_version: &'a str,
    /// Engine.
    pub engine: EngineKind,
    /// Runtime version.
    pub runtime_version: &'a str,
}

impl HistoryKey<'_> {
    fn matches(&self, r: &FailureRecord) -> bool {
        r.model == self.model
            && r.model_version == self.model_version
            && r.engine == self.engine
            && r.runtime_version == self.runtime_version
    }

    fn record(&self, accelerator: Accelerator, detail: &str, at_ms: i64) -> FailureRecord {
        FailureRecord {
            model: self.model.into(),
            model_version: self.model_version.into(),
            engine: self.engine,
            runtime_version: self.runtime_version.into(),
            accelerator,
            detail: detail.into(),
            at_ms,
        }
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl FailureHistory {
    /// An in-memory history (nothing persisted).
    pub fn in_memory(expiry_ms: i64) -> FailureHistory {
        FailureHistory {
            path: None,
            expiry_ms,
            state: Mutex::new(Stored::default()),
        }
    }

    /// Opens (or starts) the history at `path`. Markers left by a run that
    /// never finished become failures ("crashed during run"). A corrupt
    /// file is treated as empty: losing history only costs a retry.
    pub fn open(path: PathBuf, expiry_ms: i64) -> FailureHistory {
        let mut stored: Stored = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let crashed: Vec<FailureRecord> = std::mem::take(&mut stored.markers)
            .into_iter()
            .map(|mut m| {
                m.detail = format!("process ended during a run ({})", m.detail);
                m
            })
            .collect();
        let changed = !crashed.is_empty();
        stored.failures.extend(crashed);
        let history = FailureHistory {
            path: Some(path),
            expiry_ms,
            state: Mutex::new(stored),
        };
        if changed {
            history.persist(&history.state.lock());
        }
        history
    }

    fn persist(&self, stored: &Stored) {
        let Some(path) = &self.path else { return };
        let Ok(bytes) = serde_json::to_vec_pretty(stored) else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = path.with_extension("tmp");
        // Write-then-rename so a crash mid-write leaves the old file.
        if std::fs::write(&tmp, &bytes).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }

    /// Accelerators to skip for this model on this runtime (unexpired).
    pub fn failed(&self, key: &HistoryKey<'_>) -> Vec<(Accelerator, String)> {
        let now = now_ms();
        self.state
            .lock()
            .failures
            .iter()
            .filter(|r| key.matches(r) && now - r.at_ms < self.expiry_ms)
            .map(|r| (r.accelerator, r.detail.clone()))
            .collect()
    }

    /// Records a failure.
    pub fn record_failure(&self, key: &HistoryKey<'_>, accelerator: Accelerator, detail: &str) {
        let mut s = self.state.lock();
        s.failures
            .retain(|r| !(key.matches(r) && r.accelerator == accelerator));
        s.failures.push(key.record(accelerator, detail, now_ms()));
        self.persist(&s);
    }

    /// Writes a marker before a run on an accelerator; [`Self::end_run`]
    /// clears it.
    pub fn begin_run(&self, key: &HistoryKey<'_>, accelerator: Accelerator) {
        let mut s = self.state.lock();
        s.markers
            .push(key.record(accelerator, "first run", now_ms()));
        self.persist(&s);
    }

    /// Clears the marker written by [`Self::begin_run`].
    pub fn end_run(&self, key: &HistoryKey<'_>, accelerator: Accelerator) {
        let mut s = self.state.lock();
        s.markers
            .retain(|r| !(key.matches(r) && r.accelerator == accelerator));
        self.persist(&s);
    }

    /// Every unexpired failure (for diagnostics).
    pub fn all(&self) -> Vec<FailureRecord> {
        self.state.lock().failures.clone()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut s = self.state.lock();
        *s = Stored::default();
        self.persist(&s);
    }
}
