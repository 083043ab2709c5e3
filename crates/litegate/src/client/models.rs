//! Models on the [`Client`]: load against the config's manifest, run with
//! accelerator fallback chosen by flags and guardrails, and fall back to the
//! app's own path when nothing local works. Every load, run and fallback is
//! recorded in metrics.

use super::Client;
use crate::eval::{now_ms, Evaluator};
use crate::guardrails::{Observation, ObservationKind, Subject};
use crate::inference::observer::{ModelRef, RunStatus};
use crate::inference::{
    parse_models, Accelerator, AcceleratorPolicy, InferenceError, InferenceObserver, ModelManifest,
    ModelRunner, RunOutcome, RunReport, Tensor, Unavailable,
};
use crate::metrics::{names, AttrValue, EventKind, Metrics};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The app's own path for a model (a cloud endpoint, a simpler heuristic),
/// used when no local accelerator can run it and the
/// `ai_fallback_to_cloud` flag allows it.
pub trait AppFallback: Send + Sync {
    /// Computes the outputs for `inputs`, or says why it cannot.
    ///
    /// # Errors
    /// A message for logs and metrics when the app's path fails too.
    fn run(&self, model: &str, inputs: &[Tensor]) -> Result<Vec<Tensor>, String>;
}

/// Why a model could not be loaded through the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No config is loaded, or its `models` section has no such key.
    #[error("model `{0}` is not in the config's `models` section")]
    NotInConfig(String),
    /// The config's `models` section is malformed.
    #[error("the config's `models` section is invalid: {0}")]
    InvalidManifest(String),
    /// Loading or verifying failed.
    #[error(transparent)]
    Inference(#[from] InferenceError),
}

/// What a model run through the client produced.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum ModelOutcome {
    /// Ran on the device; the report names the accelerator that really ran
    /// and every fallback on the way.
    Local(RunReport),
    /// Ran on the app's own path because nothing local worked.
    AppFallback {
        /// The app path's outputs.
        outputs: Vec<Tensor>,
        /// Why the local path was not used.
        reasons: Vec<String>,
    },
    /// Nothing worked: no local accelerator and no (allowed, working) app
    /// path. The caller decides what the user sees.
    Unavailable(Unavailable),
}

/// A model loaded through the client.
#[derive(Clone)]
pub struct Model {
    runner: Arc<ModelRunner>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("key", &self.runner.key())
            .field("version", &self.runner.version())
            .finish_non_exhaustive()
    }
}

impl Model {
    /// The underlying runner (specs, accelerator, timings).
    pub fn runner(&self) -> &ModelRunner {
        &self.runner
    }
}

impl Client {
    /// The manifest of `key` in the config in use.
    ///
    /// # Errors
    /// [`ModelError::NotInConfig`] or [`ModelError::InvalidManifest`].
    pub fn model_manifest(&self, key: &str) -> Result<ModelManifest, ModelError> {
        let doc = self
            .document()
            .ok_or_else(|| ModelError::NotInConfig(key.to_owned()))?;
        let section = doc
            .section("models")
            .ok_or_else(|| ModelError::NotInConfig(key.to_owned()))?;
        let models = parse_models(section).map_err(|errors| {
            ModelError::InvalidManifest(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        models
            .into_iter()
            .find(|m| m.key == key)
            .ok_or_else(|| ModelError::NotInConfig(key.to_owned()))
    }

    /// Loads model `key` from `bytes`, verified against the config's
    /// manifest (size and SHA-256) before any runtime sees a byte.
    ///
    /// # Errors
    /// [`ModelError`]: not in the config, or an integrity or runtime error.
    pub fn load_model(&self, key: &str, bytes: &[u8]) -> Result<Model, ModelError> {
        let manifest = self.model_manifest(key)?;
        self.apply_inference_policy();
        let runner = self.shared.inference.load(&manifest, bytes)?;
        self.shared
            .guard
            .note_active_model(runner.key(), runner.accelerator());
        Ok(Model {
            runner: Arc::new(runner),
        })
    }

    /// Like [`Client::load_model`], reading the bytes from `path`.
    ///
    /// # Errors
    /// As [`Client::load_model`], plus I/O errors.
    pub fn load_model_file(&self, key: &str, path: &Path) -> Result<Model, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| InferenceError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        self.load_model(key, &bytes)
    }

    /// Runs `model` on the best accelerator the flags, the device and its
    /// failure history allow, falling back down NPU → GPU → CPU, then to
    /// `fallback` (the app's path) when the `ai_fallback_to_cloud` flag
    /// allows it.
    ///
    /// # Errors
    /// [`InferenceError`] for inputs that do not match the model (checked
    /// before the runtime is called) or a busy pool.
    pub fn run_model(
        &self,
        model: &Model,
        inputs: &[Tensor],
        fallback: Option<&dyn AppFallback>,
    ) -> Result<ModelOutcome, InferenceError> {
        self.apply_inference_policy();
        // A marker on disk for the duration of the native run: if the
        // process dies inside it, the next start charges the crash to this
        // model and accelerator.
        let marker = self
            .shared
            .guard
            .begin_run(model.runner.key(), model.runner.accelerator());
        let outcome = model.runner.run(inputs);
        if let Some(m) = marker {
            let _ = m.finish();
        }
        match outcome? {
            RunOutcome::Completed(report) => Ok(ModelOutcome::Local(report)),
            RunOutcome::Unavailable(unavailable) => {
                let Some(app) = fallback.filter(|_| unavailable.cloud_fallback_allowed) else {
                    return Ok(ModelOutcome::Unavailable(unavailable));
                };
                let metrics = &self.shared.metrics;
                let labels = [(names::label::MODEL, model.runner.key()), ("to", "app")];
                metrics.counter(names::FALLBACKS, &labels).inc();
                match app.run(model.runner.key(), inputs) {
                    Ok(outputs) => Ok(ModelOutcome::AppFallback {
                        outputs,
                        reasons: unavailable.reasons,
                    }),
                    Err(e) => {
                        metrics.event(
                            EventKind::Error,
                            &[
                                ("error.kind", AttrValue::from("app_fallback_failed")),
                                ("model", AttrValue::from(model.runner.key())),
                                ("message", AttrValue::from(e.as_str())),
                            ],
                        );
                        let mut unavailable = unavailable;
                        unavailable.reasons.push(format!("app fallback: {e}"));
                        Ok(ModelOutcome::Unavailable(unavailable))
                    }
                }
            }
        }
    }

    /// The accelerator policy the flags give for the default context now.
    pub fn inference_policy(&self) -> AcceleratorPolicy {
        let defaults = AcceleratorPolicy::default();
        let Some(doc) = self.document() else {
            return defaults;
        };
        let ctx = self.context();
        let disables = self.shared.guard.disables.load_full();
        let overrides = self.shared.overrides.load_full();
        let e = Evaluator::new()
            .with_overrides(&overrides)
            .with_disables(&disables);
        let keys = &self.shared.config.policy_flag_keys;
        let flag = |key: &str, default: bool| e.bool_value(&doc, key, &ctx, default);
        AcceleratorPolicy {
            litert_enabled: flag(&keys.litert_enabled, defaults.litert_enabled),
            gpu_enabled: flag(&keys.litert_gpu_backend, defaults.gpu_enabled),
            npu_enabled: flag(&keys.litert_npu_backend, defaults.npu_enabled),
            adaptive_switching: flag(&keys.litert_adaptive_switching, defaults.adaptive_switching),
            fallback_to_cloud: flag(&keys.ai_fallback_to_cloud, defaults.fallback_to_cloud),
        }
    }

    fn apply_inference_policy(&self) {
        self.shared.inference.set_policy(self.inference_policy());
    }
}

/// Connects inference events to metrics and guardrails.
pub(crate) struct ClientObserver {
    pub(crate) metrics: Metrics,
    pub(crate) guard: Arc<super::guard::GuardHub>,
    pub(crate) events: Arc<super::events::EventHub>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl InferenceObserver for ClientObserver {
    fn on_load(&self, model: ModelRef<'_>, load: Duration) {
        let labels = [
            (names::label::MODEL, model.key),
            (names::label::VERSION, model.version),
            (names::label::ENGINE, model.engine.as_str()),
        ];
        self.metrics
            .histogram(names::MODEL_LOAD_MS, &labels)
            .record(ms(load));
    }

    fn on_compile(
        &self,
        model: ModelRef<'_>,
        accelerator: Accelerator,
        took: Duration,
        error: Option<&str>,
    ) {
        let labels = [
            (names::label::MODEL, model.key),
            (names::label::VERSION, model.version),
            (names::label::ENGINE, model.engine.as_str()),
            (names::label::ACCELERATOR, accelerator.as_str()),
            (
                names::label::OUTCOME,
                if error.is_some() { "error" } else { "ok" },
            ),
        ];
        self.metrics
            .histogram(names::MODEL_COMPILE_MS, &labels)
            .record(ms(took));
    }

    fn on_run(
        &self,
        model: ModelRef<'_>,
        accelerator: Option<Accelerator>,
        latency: Duration,
        status: RunStatus,
    ) {
        let accel = accelerator.map_or("none", Accelerator::as_str);
        let outcome = match status {
            RunStatus::Ok => "ok",
            RunStatus::Failed(kind) => kind,
        };
        let labels = [
            (names::label::MODEL, model.key),
            (names::label::VERSION, model.version),
            (names::label::ENGINE, model.engine.as_str()),
            (names::label::ACCELERATOR, accel),
            (names::label::OUTCOME, outcome),
        ];
        self.metrics.counter(names::INFERENCE_RUNS, &labels).inc();
        if status == RunStatus::Ok {
            self.metrics
                .histogram(names::INFERENCE_LATENCY_MS, &labels[..4])
                .record(ms(latency));
        }
        self.guard.observe(Observation::new(
            Subject::model(model.key, accelerator.map(Accelerator::as_str)),
            ObservationKind::Run {
                ok: status == RunStatus::Ok,
                latency_ms: ms(latency),
                fell_back: false,
            },
            now_ms(),
        ));
    }

    fn on_fallback(
        &self,
        model: ModelRef<'_>,
        from: Accelerator,
        to: Option<Accelerator>,
        error: &str,
    ) {
        self.events
            .emit(&super::events::ClientEvent::ModelFallback {
                model: model.key.to_owned(),
                from,
                to,
                error: error.to_owned(),
            });
        let to = to.map_or("none", Accelerator::as_str);
        self.metrics
            .counter(
                names::FALLBACKS,
                &[
                    (names::label::MODEL, model.key),
                    ("from", from.as_str()),
                    ("to", to),
                ],
            )
            .inc();
        self.metrics.event(
            EventKind::Fallback,
            &[
                ("model", AttrValue::from(model.key)),
                ("version", AttrValue::from(model.version)),
                ("from", AttrValue::from(from.as_str())),
                ("to", AttrValue::from(to)),
                ("error", AttrValue::from(error)),
            ],
        );
    }

    fn on_unavailable(&self, model: ModelRef<'_>, reasons: &[String]) {
        self.events
            .emit(&super::events::ClientEvent::ModelUnavailable {
                model: model.key.to_owned(),
                reasons: reasons.to_vec(),
            });
        self.metrics.event(
            EventKind::Fallback,
            &[
                ("model", AttrValue::from(model.key)),
                ("to", AttrValue::from("app")),
                ("reasons", AttrValue::from(reasons.join("; "))),
            ],
        );
    }
}
