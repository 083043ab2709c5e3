//! Names of the well-known metrics and their label keys.
//!
//! Durations are histograms in milliseconds (`unit: "ms"`); counts are
//! counters (`unit: "1"`). The full list with labels is in `docs/metrics.md`.

/// Counter: inference runs. Labels: model, version, engine, accelerator, outcome.
pub const INFERENCE_RUNS: &str = "litegate.inference.runs";
/// Histogram (ms): inference latency. Labels: model, version, engine, accelerator.
pub const INFERENCE_LATENCY_MS: &str = "litegate.inference.latency";
/// Histogram (ms): model load time. Labels: model, version, engine, accelerator.
pub const MODEL_LOAD_MS: &str = "litegate.model.load.duration";
/// Histogram (ms): model compile / delegate preparation time. Labels as load.
pub const MODEL_COMPILE_MS: &str = "litegate.model.compile.duration";
/// Counter: accelerator fallbacks. Labels: model, from, to, reason.
pub const FALLBACKS: &str = "litegate.inference.fallbacks";
/// Counter: flag exposures (every exposure, before de-duplication).
/// Labels: flag, variation.
pub const FLAG_EXPOSURES: &str = "litegate.flag.exposures";
/// Counter: guardrail trips. Labels: guardrail, flag, action.
pub const GUARDRAIL_TRIPS: &str = "litegate.guardrail.trips";
/// Counter: rollout configs rejected. Labels: reason.
pub const CONFIG_REJECTIONS: &str = "litegate.config.rejections";
/// Counter: items the metrics pipeline dropped. Labels: reason.
pub const DROPPED: &str = "litegate.metrics.dropped";
/// Counter: failed disk writes/deletes of the metrics store (data kept in memory).
pub const PERSIST_ERRORS: &str = "litegate.metrics.persist_errors";

/// Label keys.
pub mod label {
    /// Model id.
    pub const MODEL: &str = "model";
    /// Model version.
    pub const VERSION: &str = "version";
    /// Inference engine (e.g. `litert`, `tflite`, `app`).
    pub const ENGINE: &str = "engine";
    /// Accelerator (e.g. `npu`, `gpu`, `cpu`).
    pub const ACCELERATOR: &str = "accelerator";
    /// Outcome (e.g. `ok`, `error`, `fallback`).
    pub const OUTCOME: &str = "outcome";
    /// Flag key.
    pub const FLAG: &str = "flag";
    /// Variation name.
    pub const VARIATION: &str = "variation";
    /// Drop or rejection reason.
    pub const REASON: &str = "reason";
}

/// The OTLP unit of a well-known metric (`"1"` for anything else).
pub fn unit(name: &str) -> &'static str {
    match name {
        INFERENCE_LATENCY_MS | MODEL_LOAD_MS | MODEL_COMPILE_MS => "ms",
        _ => "1",
    }
}
