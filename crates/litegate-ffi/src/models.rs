//! Models on [`LiteGateClient`]: load against the config's manifest, run
//! with accelerator fallback, and the app's own path ([`CloudFallback`])
//! when nothing local works.

use crate::client::LiteGateClient;
use crate::error::{guard, CallbackError, LiteGateError};
use litegate::client::{AppFallback, Model, ModelError, ModelOutcome};
use litegate::inference::{Accelerator, DType, InferenceError, Tensor, TensorSpec};
use std::path::Path;
use std::sync::Arc;

/// A tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TensorType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Bool (one byte).
    Bool,
    /// A type newer than these bindings; the bytes are passed through as
    /// raw bytes (`U8`) when sent back.
    Other,
}

/// A tensor: name, element type, shape and packed little-endian bytes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TensorData {
    /// The tensor's name (inputs are matched by position).
    pub name: String,
    /// Element type.
    pub dtype: TensorType,
    /// Dimensions.
    pub shape: Vec<i64>,
    /// Packed little-endian element bytes.
    pub data: Vec<u8>,
}

/// What a model expects or produces.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TensorInfo {
    /// Name.
    pub name: String,
    /// Element type.
    pub dtype: TensorType,
    /// Dimensions (-1 for a dynamic one).
    pub shape: Vec<i64>,
}

/// A hardware path that runs models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AcceleratorKind {
    /// Neural processing unit.
    Npu,
    /// GPU.
    Gpu,
    /// CPU.
    Cpu,
}

/// What a model run produced.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ModelRunResult {
    /// Ran on the device.
    Local {
        /// The accelerator that really ran.
        accelerator: AcceleratorKind,
        /// `litert` or `tflite`.
        engine: String,
        /// The runtime's version.
        runtime_version: String,
        /// Output tensors in model order.
        outputs: Vec<TensorData>,
        /// Time inside the runtime, microseconds.
        latency_us: u64,
        /// Accelerators tried before, with their errors (`gpu: ...`).
        fallbacks: Vec<String>,
    },
    /// Ran on the app's own path because nothing local worked.
    AppFallback {
        /// The app path's outputs.
        outputs: Vec<TensorData>,
        /// Why the local path was not used.
        reasons: Vec<String>,
    },
    /// Nothing worked; the app decides what the user sees.
    Unavailable {
        /// Every reason, in order.
        reasons: Vec<String>,
        /// Whether the `ai_fallback_to_cloud` flag allowed the app's path.
        cloud_fallback_allowed: bool,
    },
}

/// The app's own path for a model (a cloud endpoint, a heuristic), used
/// when no local accelerator can run it and the `ai_fallback_to_cloud`
/// flag allows it. Called on the thread that called `run_model`.
#[uniffi::export(with_foreign)]
pub trait CloudFallback: Send + Sync {
    /// Computes the outputs for `inputs`.
    ///
    /// # Errors
    /// Any failure; the run then reports `Unavailable` with the message.
    fn run(&self, model: String, inputs: Vec<TensorData>)
        -> Result<Vec<TensorData>, CallbackError>;
}

/// A model loaded and verified against the config's manifest.
#[derive(Debug, uniffi::Object)]
pub struct LiteGateModel {
    inner: Arc<Model>,
}

#[uniffi::export]
impl LiteGateModel {
    /// The model's key in the config.
    pub fn key(&self) -> String {
        self.inner.runner().key().to_owned()
    }

    /// The model's version from the manifest.
    pub fn version(&self) -> String {
        self.inner.runner().version().to_owned()
    }

    /// What the model expects.
    pub fn inputs(&self) -> Vec<TensorInfo> {
        self.inner
            .runner()
            .inputs()
            .iter()
            .map(tensor_info)
            .collect()
    }

    /// What the model produces.
    pub fn outputs(&self) -> Vec<TensorInfo> {
        self.inner
            .runner()
            .outputs()
            .iter()
            .map(tensor_info)
            .collect()
    }
}

#[uniffi::export]
impl LiteGateClient {
    /// Loads model `key` from `bytes`, verified (size, SHA-256) against the
    /// config's manifest before any runtime sees a byte.
    ///
    /// # Errors
    /// `Model`: not in the config, integrity mismatch, or runtime failure.
    pub fn load_model(
        &self,
        key: String,
        bytes: Vec<u8>,
    ) -> Result<Arc<LiteGateModel>, LiteGateError> {
        guard("load_model", || {
            let model = self
                .core()
                .load_model(&key, &bytes)
                .map_err(|e| model_error(&key, e))?;
            Ok(Arc::new(LiteGateModel {
                inner: Arc::new(model),
            }))
        })
    }

    /// Like `load_model`, reading the bytes from `path`.
    ///
    /// # Errors
    /// As `load_model`, plus I/O errors.
    pub fn load_model_file(
        &self,
        key: String,
        path: String,
    ) -> Result<Arc<LiteGateModel>, LiteGateError> {
        guard("load_model_file", || {
            let model = self
                .core()
                .load_model_file(&key, Path::new(&path))
                .map_err(|e| model_error(&key, e))?;
            Ok(Arc::new(LiteGateModel {
                inner: Arc::new(model),
            }))
        })
    }

    /// Runs `model` on the best accelerator the flags, the device and its
    /// failure history allow (NPU → GPU → CPU), then `fallback` when the
    /// `ai_fallback_to_cloud` flag allows it. Blocks for the run: call it
    /// off the main thread.
    ///
    /// # Errors
    /// `InvalidInput` for inputs that do not match the model, `Model` for a
    /// busy pool.
    #[uniffi::method(default(fallback = None))]
    pub fn run_model(
        &self,
        model: Arc<LiteGateModel>,
        inputs: Vec<TensorData>,
        fallback: Option<Arc<dyn CloudFallback>>,
    ) -> Result<ModelRunResult, LiteGateError> {
        guard("run_model", || {
            let inputs: Vec<Tensor> = inputs.into_iter().map(tensor_in).collect();
            let app = fallback.map(ForeignFallback);
            let outcome = self
                .core()
                .run_model(
                    &model.inner,
                    &inputs,
                    app.as_ref().map(|a| a as &dyn AppFallback),
                )
                .map_err(|e| inference_error(&model.key(), e))?;
            Ok(run_result(outcome))
        })
    }
}

/// Adapts the app's [`CloudFallback`] to the core's [`AppFallback`].
struct ForeignFallback(Arc<dyn CloudFallback>);

impl AppFallback for ForeignFallback {
    fn run(&self, model: &str, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        let inputs = inputs.iter().map(tensor_out).collect();
        match crate::error::catch_panic(|| self.0.run(model.to_owned(), inputs)) {
            Some(Ok(outputs)) => Ok(outputs.into_iter().map(tensor_in).collect()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the app's fallback panicked".to_owned()),
        }
    }
}

fn model_error(key: &str, e: ModelError) -> LiteGateError {
    match e {
        ModelError::Inference(e) => inference_error(key, e),
        ModelError::NotInConfig(_) => LiteGateError::Model {
            model: key.to_owned(),
            reason: "not in the config's `models` section (or no config is loaded)".to_owned(),
        },
        other => LiteGateError::Model {
            model: key.to_owned(),
            reason: other.to_string(),
        },
    }
}

fn inference_error(key: &str, e: InferenceError) -> LiteGateError {
    match e {
        InferenceError::InvalidInput(e) => LiteGateError::InvalidInput {
            model: key.to_owned(),
            reason: e.to_string(),
        },
        other => LiteGateError::Model {
            model: key.to_owned(),
            reason: other.to_string(),
        },
    }
}

fn dtype_out(d: DType) -> TensorType {
    match d {
        DType::F32 => TensorType::F32,
        DType::F16 => TensorType::F16,
        DType::I8 => TensorType::I8,
        DType::U8 => TensorType::U8,
        DType::I16 => TensorType::I16,
        DType::I32 => TensorType::I32,
        DType::I64 => TensorType::I64,
        DType::Bool => TensorType::Bool,
        _ => TensorType::Other,
    }
}

fn dtype_in(d: TensorType) -> DType {
    match d {
        TensorType::F32 => DType::F32,
        TensorType::F16 => DType::F16,
        TensorType::I8 => DType::I8,
        TensorType::U8 | TensorType::Other => DType::U8,
        TensorType::I16 => DType::I16,
        TensorType::I32 => DType::I32,
        TensorType::I64 => DType::I64,
        TensorType::Bool => DType::Bool,
    }
}

fn tensor_in(t: TensorData) -> Tensor {
    Tensor::from_bytes(t.name, dtype_in(t.dtype), t.shape, t.data)
}

fn tensor_out(t: &Tensor) -> TensorData {
    TensorData {
        name: t.name.clone(),
        dtype: dtype_out(t.dtype),
        shape: t.shape.clone(),
        data: t.data.clone(),
    }
}

fn tensor_info(s: &TensorSpec) -> TensorInfo {
    TensorInfo {
        name: s.name.clone(),
        dtype: dtype_out(s.dtype),
        shape: s.shape.clone(),
    }
}

fn accelerator(a: Accelerator) -> AcceleratorKind {
    match a {
        Accelerator::Npu => AcceleratorKind::Npu,
        Accelerator::Gpu => AcceleratorKind::Gpu,
        Accelerator::Cpu => AcceleratorKind::Cpu,
    }
}

fn run_result(outcome: ModelOutcome) -> ModelRunResult {
    match outcome {
        ModelOutcome::Local(report) => ModelRunResult::Local {
            accelerator: accelerator(report.accelerator),
            engine: report.engine.as_str().to_owned(),
            runtime_version: report.runtime_version,
            outputs: report.outputs.iter().map(tensor_out).collect(),
            latency_us: u64::try_from(report.latency.as_micros()).unwrap_or(u64::MAX),
            fallbacks: report
                .fallbacks
                .iter()
                .map(|f| format!("{}: {}", f.accelerator.as_str(), f.error))
                .collect(),
        },
        ModelOutcome::AppFallback { outputs, reasons } => ModelRunResult::AppFallback {
            outputs: outputs.iter().map(tensor_out).collect(),
            reasons,
        },
        ModelOutcome::Unavailable(u) => ModelRunResult::Unavailable {
            reasons: u.reasons,
            cloud_fallback_allowed: u.cloud_fallback_allowed,
        },
    }
}
