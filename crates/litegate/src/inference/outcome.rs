//! What loads and runs report: outcomes, fallbacks, timings, options.

use super::accel::{Accelerator, EngineKind};
use super::tensor::Tensor;
use serde::Serialize;
use std::time::Duration;

/// Options for one load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Engine to use instead of the manifest's.
    pub engine: Option<EngineKind>,
    /// Try only this accelerator (no fallback to others).
    pub accelerator: Option<Accelerator>,
}

/// Where a fallback happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FallbackStage {
    /// Compiling for the accelerator failed.
    Compile,
    /// A run on the accelerator failed.
    Run,
}

/// One accelerator that was tried and failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FallbackAttempt {
    /// The accelerator.
    pub accelerator: Accelerator,
    /// Compile or run.
    pub stage: FallbackStage,
    /// The error.
    pub error: String,
}

/// The result of a successful run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Engine that ran.
    pub engine: EngineKind,
    /// Its version.
    pub runtime_version: String,
    /// The accelerator that ran (compiled alone, so this is the truth).
    pub accelerator: Accelerator,
    /// Fallbacks during this run.
    pub fallbacks: Vec<FallbackAttempt>,
    /// Output tensors in model order.
    pub outputs: Vec<Tensor>,
    /// Time inside the runtime call plus copies.
    pub latency: Duration,
}

/// Why nothing local can run; the app should use its own fallback path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unavailable {
    /// Model key.
    pub model: String,
    /// Every reason, in order.
    pub reasons: Vec<String>,
    /// Whether the `ai_fallback_to_cloud` flag allows the cloud path.
    pub cloud_fallback_allowed: bool,
}

/// What `run` returns when the input was acceptable.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum RunOutcome {
    /// Outputs computed on the device.
    Completed(RunReport),
    /// Nothing local works; use the fallback path.
    Unavailable(Unavailable),
}

/// Load-time figures.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LoadTimings {
    /// Verify (size, hash, structure) plus copying into aligned memory.
    pub verify: Duration,
    /// Loading the runtime library (zero when already loaded).
    pub runtime: Duration,
    /// Compile attempts, all accelerators together.
    pub compile: Duration,
}
