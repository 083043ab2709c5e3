//! The hook through which the client connects inference to metrics and
//! guardrails. This module depends on neither.

use super::accel::{Accelerator, EngineKind};
use std::time::Duration;

/// Identifies a model in events.
#[derive(Debug, Clone, Copy)]
pub struct ModelRef<'a> {
    /// Manifest key.
    pub key: &'a str,
    /// Manifest version.
    pub version: &'a str,
    /// Engine.
    pub engine: EngineKind,
}

/// How a run ended, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Outputs returned.
    Ok,
    /// Failed; the error kind is a short stable label (`runtime_status`,
    /// `invalid_input`, `busy`, ...).
    Failed(&'static str),
}

/// Receives inference events. Implementations must be cheap and must not
/// block: they run on the caller's thread, inside `run`.
pub trait InferenceObserver: Send + Sync {
    /// A model's bytes were verified and loaded.
    fn on_load(&self, _model: ModelRef<'_>, _load: Duration) {}
    /// A compile attempt for one accelerator finished.
    fn on_compile(
        &self,
        _model: ModelRef<'_>,
        _accelerator: Accelerator,
        _took: Duration,
        _error: Option<&str>,
    ) {
    }
    /// A run finished.
    fn on_run(
        &self,
        _model: ModelRef<'_>,
        _accelerator: Option<Accelerator>,
        _latency: Duration,
        _status: RunStatus,
    ) {
    }
    /// An accelerator failed and the next one was tried.
    fn on_fallback(
        &self,
        _model: ModelRef<'_>,
        _from: Accelerator,
        _to: Option<Accelerator>,
        _error: &str,
    ) {
    }
    /// Nothing local worked: the app was told to use its fallback path.
    fn on_unavailable(&self, _model: ModelRef<'_>, _reasons: &[String]) {}
    /// Adaptive switching moved to another accelerator.
    fn on_switch(&self, _model: ModelRef<'_>, _switch: &super::adaptive::Switch) {}
    /// A shadow comparison finished.
    fn on_shadow(&self, _model: ModelRef<'_>, _comparison: &super::shadow::ShadowComparison) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl InferenceObserver for NoopObserver {}
